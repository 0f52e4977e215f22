// The TLS 1.2 AES-GCM record layer (common/tls12_records.hpp) and the key export it
// starts from (common/tls12_keys.hpp):
// - known answers: the TLS 1.2 PRF test vectors, and exchanges recorded with GnuTLS
//   (tests/common/data/record-tls12-vectors.py) opened and re-sealed byte for byte;
// - real OpenSSL peers on loopback, for all four suites: keys exported mid-connection
//   from a tls_socket, records from OpenSSL opened and ours read back by OpenSSL;
// - every malformed record, alert and limit, with the alert that answers it.

#include "common/tls12_records.hpp"
#include "common/tls12_keys.hpp"
#include "common/tls_error.hpp"
#include "common/tls_policy.hpp"
#include "common/tls_socket.hpp"
#include "provisioning/key_factory.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/tls_pair.hpp"

#include <gtest/gtest.h>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace zp {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using bytes = std::vector<std::uint8_t>;

bytes from_hex(std::string_view hex) {
  bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string_view text(const bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string to_hex(std::span<const std::uint8_t> b) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t c : b) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

template <typename T>
T must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return std::move(*v);
}

// ---- Known answers ----------------------------------------------------------------

// The TLS 1.2 PRF vectors circulated on the IETF TLS list (secret, seed, "test label").
TEST(Tls12Prf, MatchesTheKnownSha256AndSha384Outputs) {
  bytes out(100);
  ASSERT_TRUE(tls12_prf(EVP_sha256(), text(from_hex("9bbe436ba940f017b17652849a71db35")), "test label",
                        text(from_hex("a0ba9f936cda311827a6f796ffd5198c")), out)
                  .ok());
  EXPECT_EQ(to_hex(out),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa0"
            "22f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701873"
            "47b66");
  bytes out384(148);
  ASSERT_TRUE(tls12_prf(EVP_sha384(), text(from_hex("b80b733d6ceefcdc71566ea48e5567df")), "test label",
                        text(from_hex("cd665cf6a8447dd6ff8b27555edb7465")), out384)
                  .ok());
  EXPECT_EQ(to_hex(out384),
            "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0"
            "e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
            "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e099070"
            "3d73e56f");
}

struct recorded_exchange {
  tls12_traffic_keys server_view, client_view;
  std::vector<bytes> client_records, server_records;  // [0]: each side's Finished
  std::vector<bytes> messages;
};

recorded_exchange load_recorded(const std::string& name) {
  std::ifstream in(std::string(ZP_TEST_DATA_DIR) + "/tls12_gnutls_" + name + ".json");
  const auto j = nlohmann::json::parse(in);
  recorded_exchange x;
  const bytes master = from_hex(j["master_secret"].get<std::string>());
  const bytes client_random = from_hex(j["client_random"].get<std::string>());
  const bytes server_random = from_hex(j["server_random"].get<std::string>());
  const bool aes256 = j["suite"].get<std::string>().find("AES256") != std::string::npos;
  const tls12_secrets secrets{aes256 ? k_tls_cipher_aes_gcm_256 : k_tls_cipher_aes_gcm_128,
                              aes256 ? EVP_sha384() : EVP_sha256(), text(master), text(client_random),
                              text(server_random)};
  x.server_view = must(derive_tls12_keys(secrets, /*server=*/true));
  x.client_view = must(derive_tls12_keys(secrets, /*server=*/false));
  for (const auto& r : j["client_records"]) x.client_records.push_back(from_hex(r.get<std::string>()));
  for (const auto& r : j["server_records"]) x.server_records.push_back(from_hex(r.get<std::string>()));
  for (const auto& m : j["messages"]) x.messages.push_back(from_hex(m.get<std::string>()));
  return x;
}

std::string plaintext_of(const bytes& opened) {
  return std::string(reinterpret_cast<const char*>(opened.data()) + tls12::k_header + tls12::k_explicit_nonce,
                     opened.size() - tls12::k_overhead);
}

class RecordedExchange : public ::testing::TestWithParam<const char*> {};

// Both sides' records open with keys derived from the master secret, and the server's
// (GnuTLS: explicit nonce = sequence number, as ours) come out of our sealer identical.
TEST_P(RecordedExchange, OpensBothSidesAndSealsTheServersRecordsByteForByte) {
  recorded_exchange x = load_recorded(GetParam());
  ASSERT_EQ(x.client_records.size(), x.messages.size() + 1);
  ASSERT_EQ(x.server_records.size(), x.messages.size() + 1);
  auto from_client = must(tls12::record_cipher::make(x.server_view.rx, /*seal=*/false));
  auto from_server = must(tls12::record_cipher::make(x.client_view.rx, /*seal=*/false));
  auto server_sealer = must(tls12::record_cipher::make(x.server_view.tx, /*seal=*/true));
  for (std::size_t i = 0; i < x.client_records.size(); ++i) {
    bytes c = x.client_records[i];
    bytes s = x.server_records[i];
    ASSERT_FALSE(from_client.open(c.data(), c.size())) << "client record " << i;
    ASSERT_FALSE(from_server.open(s.data(), s.size())) << "server record " << i;
    if (i == 0) {
      EXPECT_EQ(plaintext_of(c).substr(0, 4), std::string("\x14\x00\x00\x0c", 4)) << "a Finished message";
    } else {
      EXPECT_EQ(plaintext_of(c), std::string(text(x.messages[i - 1])));
      EXPECT_EQ(plaintext_of(s), plaintext_of(c)) << "the echo";
    }
    bytes resealed = s;  // plaintext in place
    ASSERT_FALSE(server_sealer.seal(static_cast<tls12::content_type>(x.server_records[i][0]), resealed.data(),
                                    resealed.size() - tls12::k_overhead));
    EXPECT_EQ(to_hex(resealed), to_hex(x.server_records[i])) << "server record " << i;
  }
}

// The relay's own step: the client's application records, opened and sealed for the
// server's direction in one pass, are what the server sent.
TEST_P(RecordedExchange, ResealTurnsTheClientsRecordsIntoTheServersEcho) {
  recorded_exchange x = load_recorded(GetParam());
  x.server_view.rx.set_sequence(1);  // after the Finished
  x.server_view.tx.set_sequence(1);
  auto from = must(tls12::record_cipher::make(x.server_view.rx, false));
  auto to = must(tls12::record_cipher::make(x.server_view.tx, true));
  bytes run, expected;
  for (std::size_t i = 1; i < x.client_records.size(); ++i) {
    run.insert(run.end(), x.client_records[i].begin(), x.client_records[i].end());
    expected.insert(expected.end(), x.server_records[i].begin(), x.server_records[i].end());
  }
  tls12::reseal_result r = tls12::reseal(run, from, to, tls12::k_max_plaintext);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_FALSE(r.close_notify);
  EXPECT_EQ(r.ready, run.size());
  std::size_t total = 0;
  for (const auto& m : x.messages) total += m.size();
  EXPECT_EQ(r.plaintext, total);
  EXPECT_EQ(to_hex(run), to_hex(expected));
}

INSTANTIATE_TEST_SUITE_P(Gnutls, RecordedExchange, ::testing::Values("aes128", "aes256"));

// ---- Malformed records, alerts, limits ------------------------------------------------

// A sealer and an opener of one direction with made-up keys.
struct direction_pair {
  tls12::record_cipher sealer, opener;
  static direction_pair make(std::uint16_t cipher, std::uint64_t seq = 0) {
    tls12_crypto_info info;
    info.cipher_type = cipher;
    for (std::size_t i = 0; i < info.key.size(); ++i) info.key[i] = static_cast<std::uint8_t>(i * 7 + 1);
    info.salt = {1, 2, 3, 4};
    info.set_sequence(seq);
    return {must(tls12::record_cipher::make(info, true)), must(tls12::record_cipher::make(info, false))};
  }
};

bytes sealed(tls12::record_cipher& sealer, tls12::content_type type, std::string_view plaintext) {
  bytes r(plaintext.size() + tls12::k_overhead);
  std::copy(plaintext.begin(), plaintext.end(), r.begin() + tls12::k_header + tls12::k_explicit_nonce);
  EXPECT_FALSE(sealer.seal(type, r.data(), plaintext.size()));
  return r;
}

// One direction through the relay step: records sealed by a sender, opened by the relay
// and sealed for the receiver.
struct relay_step {
  direction_pair in = direction_pair::make(k_tls_cipher_aes_gcm_128);
  direction_pair out = direction_pair::make(k_tls_cipher_aes_gcm_256);
  tls12::reseal_result run(bytes& b, std::size_t max_plaintext = tls12::k_max_plaintext) {
    return tls12::reseal(b, in.opener, out.sealer, max_plaintext);
  }
};

TEST(Tls12Records, ABadTagIsBadRecordMac) {
  relay_step s;
  bytes b = sealed(s.in.sealer, tls12::content_type::application_data, "payload");
  b.back() ^= 1;
  auto r = s.run(b);
  EXPECT_EQ(r.ready, 0u);
  EXPECT_EQ(tls12::alert_for(r.ec), SSL_AD_BAD_RECORD_MAC) << r.ec.message();
}

TEST(Tls12Records, AFlippedCiphertextOrHeaderByteIsBadRecordMac) {
  for (std::size_t at : {std::size_t{0} /* type in the AAD */, std::size_t{7} /* nonce */, std::size_t{14}}) {
    relay_step s;
    bytes b = sealed(s.in.sealer, tls12::content_type::application_data, "payload");
    b[at] ^= at == 0 ? 0x02 : 0x01;  // 23 -> 21: still a type we read, so the tag must catch it
    auto r = s.run(b);
    EXPECT_EQ(tls12::alert_for(r.ec), SSL_AD_BAD_RECORD_MAC) << "byte " << at << ": " << r.ec.message();
  }
}

TEST(Tls12Records, ARecordFromTheWrongSequenceNumberIsBadRecordMac) {
  relay_step s;
  bytes first = sealed(s.in.sealer, tls12::content_type::application_data, "one");
  bytes second = sealed(s.in.sealer, tls12::content_type::application_data, "two");
  auto r = s.run(second);  // a replay or a dropped record: the AAD's sequence differs
  EXPECT_EQ(tls12::alert_for(r.ec), SSL_AD_BAD_RECORD_MAC);
}

TEST(Tls12Records, AnOversizeRecordIsRecordOverflowBeforeAnyDecryption) {
  relay_step s;
  bytes b(tls12::k_max_record + 1);
  b[0] = 23, b[1] = 3, b[2] = 3;
  b[3] = static_cast<std::uint8_t>((b.size() - 5) >> 8), b[4] = static_cast<std::uint8_t>(b.size() - 5);
  auto r = s.run(b);
  EXPECT_EQ(tls12::alert_for(r.ec), SSL_AD_RECORD_OVERFLOW);
  // A negotiated maximum fragment length lowers the bound.
  relay_step small;
  bytes c = sealed(small.in.sealer, tls12::content_type::application_data, std::string(600, 'x'));
  EXPECT_EQ(tls12::alert_for(small.run(c, 512).ec), SSL_AD_RECORD_OVERFLOW);
  // The header alone decides: 5 bytes of a huge record are already refused.
  bytes header(b.begin(), b.begin() + 5);
  EXPECT_EQ(tls12::alert_for(s.run(header).ec), SSL_AD_RECORD_OVERFLOW);
}

TEST(Tls12Records, ABodyTooShortForANonceAndATagIsBadRecordMac) {
  relay_step s;
  bytes b = {23, 3, 3, 0, 23};
  b.resize(5 + 23);
  EXPECT_EQ(tls12::alert_for(s.run(b).ec), SSL_AD_BAD_RECORD_MAC);
}

TEST(Tls12Records, AnotherVersionIsProtocolVersion) {
  relay_step s;
  bytes b = sealed(s.in.sealer, tls12::content_type::application_data, "payload");
  b[2] = 1;  // TLS 1.0
  EXPECT_EQ(tls12::alert_for(s.run(b).ec), SSL_AD_PROTOCOL_VERSION);
}

TEST(Tls12Records, HandshakeChangeCipherSpecAndUnknownTypesAreUnexpectedMessage) {
  for (auto type : {tls12::content_type::handshake, tls12::content_type::change_cipher_spec,
                    static_cast<tls12::content_type>(24), static_cast<tls12::content_type>(99)}) {
    relay_step s;
    bytes b = sealed(s.in.sealer, type, "\x01\x00\x00\x00");  // a HelloRequest, say
    auto r = s.run(b);
    EXPECT_EQ(r.ready, 0u);
    EXPECT_EQ(tls12::alert_for(r.ec), SSL_AD_UNEXPECTED_MESSAGE) << static_cast<int>(type);
  }
}

TEST(Tls12Records, CloseNotifyEndsTheRunAfterTheRecordsBeforeIt) {
  relay_step s;
  bytes b = sealed(s.in.sealer, tls12::content_type::application_data, "last words");
  const std::size_t first = b.size();
  bytes alert = sealed(s.in.sealer, tls12::content_type::alert, std::string("\x01\x00", 2));
  bytes after = sealed(s.in.sealer, tls12::content_type::application_data, "ignored");
  b.insert(b.end(), alert.begin(), alert.end());
  b.insert(b.end(), after.begin(), after.end());
  auto r = s.run(b);
  EXPECT_FALSE(r.ec);
  EXPECT_TRUE(r.close_notify);
  EXPECT_EQ(r.ready, first);
  EXPECT_EQ(r.plaintext, 10u);
  bytes out(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(first));
  ASSERT_FALSE(s.out.opener.open(out.data(), out.size()));
  EXPECT_EQ(plaintext_of(out), "last words");
}

TEST(Tls12Records, AnyOtherAlertEndsTheRunNamedAndUnanswered) {
  relay_step s;
  bytes b = sealed(s.in.sealer, tls12::content_type::alert, std::string("\x02\x28", 2));  // handshake_failure
  auto r = s.run(b);
  EXPECT_EQ(r.ec, tls12::received_alert(SSL_AD_HANDSHAKE_FAILURE));
  EXPECT_EQ(tls12::alert_for(r.ec), 0) << "a peer's fatal alert gets no answer";
  EXPECT_NE(tls_reason_name(r.ec).find("handshake_failure"), std::string::npos) << tls_reason_name(r.ec);
  relay_step warning;
  bytes w = sealed(warning.in.sealer, tls12::content_type::alert, std::string("\x01\x5a", 2));  // user_canceled
  EXPECT_EQ(warning.run(w).ec, tls12::received_alert(90));
}

TEST(Tls12Records, AnAlertOfTheWrongLengthIsDecodeError) {
  relay_step s;
  bytes b = sealed(s.in.sealer, tls12::content_type::alert, std::string("\x01\x00\x00", 3));
  EXPECT_EQ(tls12::alert_for(s.run(b).ec), SSL_AD_DECODE_ERROR);
}

TEST(Tls12Records, SequenceNumbersStopLongBeforeTheyWrap) {
  auto d = direction_pair::make(k_tls_cipher_aes_gcm_128, tls12::k_last_sequence - 1);
  bytes last = sealed(d.sealer, tls12::content_type::application_data, "last");
  ASSERT_FALSE(d.opener.open(last.data(), last.size()));
  bytes r(tls12::k_overhead + 4);
  const auto refused = d.sealer.seal(tls12::content_type::application_data, r.data(), 4);
  EXPECT_TRUE(refused);
  EXPECT_EQ(tls12::alert_for(refused), SSL_AD_INTERNAL_ERROR);
  bytes more = last;
  EXPECT_TRUE(d.opener.open(more.data(), more.size()));
}

TEST(Tls12Records, EveryRecordSentCarriesItsSequenceNumberAsTheExplicitNonce) {
  // RFC 5288 3: the explicit nonce must never repeat under one key. OpenSSL's TLS mode
  // counts it for us from the sequence number it was given; across a carry in any byte,
  // and from a sequence number that is not 0, it must stay exactly ours.
  for (const std::uint64_t start : {std::uint64_t{0}, std::uint64_t{0xfe}, std::uint64_t{0x01'00ff'ffff'fffe}}) {
    auto d = direction_pair::make(k_tls_cipher_aes_gcm_256, start);
    for (std::uint64_t seq = start; seq < start + 4; ++seq) {
      bytes r = sealed(d.sealer, tls12::content_type::application_data, "x");
      std::uint64_t nonce = 0;
      for (std::size_t i = 0; i < tls12::k_explicit_nonce; ++i) nonce = (nonce << 8) | r[tls12::k_header + i];
      EXPECT_EQ(nonce, seq);
      EXPECT_FALSE(d.opener.open(r.data(), r.size())) << "sequence " << seq;
    }
  }
}

TEST(Tls12Records, EveryPrefixOfARunResealsItsWholeRecordsAndWaitsForTheRest) {
  // Three records (0, 1 and 300 bytes of plaintext) cut at every offset: whole records
  // are ready and identical to the uncut run's, the rest waits; no error on the way.
  std::vector<std::size_t> ends;
  bytes run;
  {
    relay_step s;
    const std::string long_one(300, 'b');
    for (std::string_view p : {std::string_view(), std::string_view("a"), std::string_view(long_one)}) {
      bytes r = sealed(s.in.sealer, tls12::content_type::application_data, p);
      run.insert(run.end(), r.begin(), r.end());
      ends.push_back(run.size());
    }
  }
  bytes whole = run;  // resealed uncut (every relay_step has the same keys)
  ASSERT_EQ(relay_step().run(whole).ready, run.size());
  for (std::size_t cut = 0; cut <= run.size(); ++cut) {
    relay_step s;
    bytes prefix(run.begin(), run.begin() + static_cast<std::ptrdiff_t>(cut));
    auto r = s.run(prefix);
    ASSERT_FALSE(r.ec) << "cut at " << cut << ": " << r.ec.message();
    std::size_t expect = 0;
    for (std::size_t e : ends) expect = e <= cut ? e : expect;
    ASSERT_EQ(r.ready, expect) << "cut at " << cut;
    ASSERT_TRUE(std::equal(prefix.begin(), prefix.begin() + static_cast<std::ptrdiff_t>(r.ready), whole.begin()))
        << "cut at " << cut;
  }
}

// ---- Real OpenSSL peers on loopback -------------------------------------------------

struct suite_case {
  const char* name;
  provisioning::key_type key;
};

class OpensslPeer : public ::testing::TestWithParam<suite_case> {
 protected:
  void SetUp() override {
    pair_.connect(test::self_signed(GetParam().key), GetParam().name);
    ASSERT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(server_->ssl())), GetParam().name);
  }

  // Runs the loop until `done()`, which may read: it is called once per turn.
  template <typename Done>
  void run_until(Done done) {
    test::run_until(io_, done);
  }

  // Through OpenSSL on both ends: `data` from `from` arrives whole at `to`.
  void through_openssl(tls_socket& from, tls_socket& to, const std::string& data) {
    std::error_code wec = asio::error::would_block;
    from.async_write(asio::buffer(data), [&](std::error_code ec, std::size_t) { wec = ec; });
    std::string got;
    std::vector<char> buf(65536);
    run_until([&] {
      auto r = to.try_read(buf.data(), buf.size());
      got.append(buf.data(), r.bytes);
      return wec != asio::error::would_block && got.size() >= data.size();
    });
    ASSERT_FALSE(wec);
    ASSERT_EQ(got, data);
  }

  // Raw bytes from the server's socket until `done(bytes)`.
  bytes read_raw_until(const std::function<bool(const bytes&)>& done) {
    bytes got;
    std::uint8_t buf[65536];
    run_until([&] {
      std::error_code ec;
      const std::size_t n = server_->socket().read_some(asio::buffer(buf), ec);
      if (!ec) got.insert(got.end(), buf, buf + n);
      return done(got);
    });
    return got;
  }

  void write_raw(const bytes& b) {
    std::size_t off = 0;
    run_until([&] {
      std::error_code ec;
      off += server_->socket().write_some(asio::buffer(b.data() + off, b.size() - off), ec);
      return off == b.size();
    });
  }

  // Reads through the client's OpenSSL until `n` bytes or its end of stream.
  std::string client_reads(std::size_t n, bool* ended = nullptr) {
    std::string got;
    std::vector<char> buf(65536);
    run_until([&] {
      auto r = client_->try_read(buf.data(), buf.size());
      got.append(buf.data(), r.bytes);
      if (r.ec == asio::error::eof && ended) *ended = true;
      return got.size() >= n || r.ec;
    });
    return got;
  }

  test::tls_pair pair_;
  asio::io_context& io_ = pair_.io;
  std::optional<tls_socket>& client_ = pair_.client;
  std::optional<tls_socket>& server_ = pair_.server;
};

// Opens the whole records at the start of `b`: their plaintext, and in `consumed` their size.
std::string open_all(bytes& b, tls12::record_cipher& opener, std::size_t* consumed) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    tls12::record_header h;
    EXPECT_FALSE(tls12::parse_header(std::span<const std::uint8_t>(b).subspan(at), tls12::k_max_plaintext, h));
    if (h.size == 0 || at + h.size > b.size()) break;
    EXPECT_EQ(h.type, tls12::content_type::application_data);
    EXPECT_FALSE(opener.open(b.data() + at, h.size));
    out.append(reinterpret_cast<const char*>(b.data()) + at + 13, h.size - tls12::k_overhead);
    at += h.size;
  }
  *consumed = at;
  return out;
}

TEST_P(OpensslPeer, KeysExportedMidConnectionOpenOpensslsRecordsAndSealOnesItReads) {
  // Some records each way through OpenSSL first, so the sequence numbers are not 0 or 1.
  through_openssl(*client_, *server_, "before the switch");
  through_openssl(*server_, *client_, std::string(40000, 's'));
  through_openssl(*client_, *server_, std::string(20000, 'c'));
  auto keys = export_tls12_keys(server_->ssl());
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->rx.sequence(), 1u + 1u + 2u) << "Finished, one record, then 20000 bytes in two";
  EXPECT_EQ(keys->tx.sequence(), 1u + 3u) << "Finished, then 40000 bytes in three records";
  EXPECT_EQ(keys->rx.cipher_type, std::string(GetParam().name).find("AES256") != std::string::npos
                                      ? k_tls_cipher_aes_gcm_256
                                      : k_tls_cipher_aes_gcm_128);
  auto opener = must(tls12::record_cipher::make(keys->rx, false));
  auto sealer = must(tls12::record_cipher::make(keys->tx, true));

  // OpenSSL's records, every size from 0 to more than a record, opened by us.
  for (std::size_t size : {std::size_t{1}, std::size_t{100}, std::size_t{16384}, std::size_t{70000}}) {
    std::string sent(size, static_cast<char>('a' + size % 26));
    std::error_code wec = asio::error::would_block;
    client_->async_write(asio::buffer(sent), [&](std::error_code ec, std::size_t) { wec = ec; });
    std::string got;
    bytes pending;
    std::uint8_t buf[65536];
    run_until([&] {
      std::error_code ec;
      const std::size_t n = server_->socket().read_some(asio::buffer(buf), ec);
      if (!ec) pending.insert(pending.end(), buf, buf + n);
      std::size_t used = 0;
      got += open_all(pending, opener, &used);
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
      return got.size() >= size && wec != asio::error::would_block;
    });
    EXPECT_EQ(got, sent) << size << " bytes";
  }

  // Our records, read by OpenSSL: an empty one, small ones, a full one.
  std::string expect;
  bytes out;
  for (std::size_t size : {std::size_t{0}, std::size_t{5}, std::size_t{16384}, std::size_t{777}}) {
    const std::string p(size, static_cast<char>('A' + size % 26));
    bytes r = sealed(sealer, tls12::content_type::application_data, p);
    out.insert(out.end(), r.begin(), r.end());
    expect += p;
  }
  write_raw(out);
  EXPECT_EQ(client_reads(expect.size()), expect);

  // Our close_notify is an end of stream to OpenSSL.
  std::array<std::uint8_t, tls12::k_overhead + 2> alert{};
  ASSERT_FALSE(tls12::seal_alert(sealer, SSL3_AL_WARNING, SSL_AD_CLOSE_NOTIFY, alert));
  write_raw(bytes(alert.begin(), alert.end()));
  bool ended = false;
  client_reads(1, &ended);
  EXPECT_TRUE(ended);
  EXPECT_EQ(SSL_get_shutdown(client_->ssl()) & SSL_RECEIVED_SHUTDOWN, SSL_RECEIVED_SHUTDOWN);
}

TEST_P(OpensslPeer, OpensslsCloseNotifyEndsTheRun) {
  auto keys = must(export_tls12_keys(server_->ssl()));  // right after the handshake
  auto opener = must(tls12::record_cipher::make(keys.rx, false));
  auto next = must(tls12::record_cipher::make(keys.tx, true));
  client_->async_shutdown([](std::error_code, std::size_t) {});
  bytes got = read_raw_until([](const bytes& b) { return b.size() >= tls12::k_overhead + 2; });
  auto r = tls12::reseal(got, opener, next, tls12::k_max_plaintext);
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.close_notify);
  EXPECT_EQ(r.ready, 0u);
}

TEST_P(OpensslPeer, ExportRefusesWhileOpensslHoldsReceivedBytes) {
  std::string data(3000, 'x');
  std::error_code wec = asio::error::would_block;
  client_->async_write(asio::buffer(data), [&](std::error_code ec, std::size_t) { wec = ec; });
  run_until([&] { return wec != asio::error::would_block; });
  ASSERT_FALSE(wec);
  char one = 0;
  run_until([&] { return server_->try_read(&one, 1).bytes == 1; });
  ASSERT_EQ(one, 'x');
  auto keys = export_tls12_keys(server_->ssl());
  EXPECT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("holds received bytes"), std::string::npos) << keys.status();
  std::vector<char> rest(data.size());
  std::size_t got = 1;
  run_until([&] {
    got += server_->try_read(rest.data(), rest.size()).bytes;
    return got >= data.size();
  });
  ASSERT_EQ(got, data.size());
  EXPECT_TRUE(export_tls12_keys(server_->ssl()).ok()) << "all read: nothing left inside";
}

INSTANTIATE_TEST_SUITE_P(FourSuites, OpensslPeer,
                         ::testing::Values(suite_case{"ECDHE-ECDSA-AES128-GCM-SHA256", provisioning::key_type::ecdsa},
                                           suite_case{"ECDHE-ECDSA-AES256-GCM-SHA384", provisioning::key_type::ecdsa},
                                           suite_case{"ECDHE-RSA-AES128-GCM-SHA256", provisioning::key_type::rsa},
                                           suite_case{"ECDHE-RSA-AES256-GCM-SHA384", provisioning::key_type::rsa}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           std::erase(n, '-');
                           return n;
                         });

}  // namespace
}  // namespace zp
