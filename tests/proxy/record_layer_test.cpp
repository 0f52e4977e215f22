// The relay after the hand-off (ARCHITECTURE.md "The record layer"): once a session's
// 101s and early data are through, both connections leave OpenSSL for the record layer
// (common/tls12_records.hpp) and bytes keep flowing unchanged, for all four suites,
// from 0 bytes to 64 MiB, with records cut anywhere by TCP, and PROTOCOL.md 3.5's ends.

#include "common/tls_policy.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/raw_records.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

paired_halves open_session(data_plane_fixture& f, std::mt19937_64& rng, std::string_view early = {},
                           SSL_CTX* endpoint_ctx = nullptr) {
  return open_paired(f.endpoint_port(), endpoint_ctx ? endpoint_ctx : f.endpoint_ctx(), f.module_server_port(),
                     f.module_server_ctx(), rng, early);
}

std::string payload(std::size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class RecordLayer : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_F(RecordLayer, APairedSessionLeavesOpensslAfterIts101sAndRelaysBothWays) {
  data_plane_fixture f;
  auto s = open_session(f, rng_);
  ASSERT_TRUE(s.e->write_all("first"));
  EXPECT_EQ(read_exactly(*s.m, 5), "first");
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == 1; }));
  const std::string up = payload(3 << 20, rng_), down = payload((2 << 20) + 12345, rng_);
  auto r = exchange(*s.e, *s.m, up, down);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.b_received_sha256, sha256_hex(up));
  EXPECT_EQ(r.a_received_sha256, sha256_hex(down));
  EXPECT_EQ(f.total(proxy::counter::bytes_endpoint_to_module_server), up.size() + 5);
  EXPECT_EQ(f.total(proxy::counter::bytes_module_server_to_endpoint), down.size());
}

TEST_F(RecordLayer, EarlyDataGoesThroughOpensslFirstThenTheRecordLayerCarriesTheRest) {
  data_plane_fixture f;
  const std::string early = payload(30000, rng_);  // two records behind the hello
  auto s = open_session(f, rng_, early);
  EXPECT_EQ(read_exactly(*s.m, early.size()), early);
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == 1; }));
  ASSERT_TRUE(s.m->write_all("after"));
  EXPECT_EQ(read_exactly(*s.e, 5), "after");
  // The early data counts as relayed, as the bytes after it do.
  EXPECT_TRUE(data_plane_fixture::eventually([&] {
    return f.total(proxy::counter::bytes_endpoint_to_module_server) == early.size() &&
           f.total(proxy::counter::bytes_module_server_to_endpoint) == 5;
  })) << f.total(proxy::counter::bytes_endpoint_to_module_server)
      << " " << f.total(proxy::counter::bytes_module_server_to_endpoint);
}

// 0 bytes to 64 MiB each way, for each suite the endpoint may choose.
class RecordLayerSuites : public ::testing::TestWithParam<const char*> {};

TEST_P(RecordLayerSuites, PayloadsFromNothingToSixtyFourMebibytesArriveUnchanged) {
  std::mt19937_64 rng{std::random_device{}()};
  data_plane_fixture f;
  auto ctx = make_client_ctx(nullptr, {});
  ASSERT_TRUE(ctx.ok());
  ASSERT_EQ(SSL_CTX_set_cipher_list(ctx->get(), GetParam()), 1);
  ASSERT_EQ(SSL_CTX_set_cipher_list(f.module_server_ctx(), GetParam()), 1);
  std::size_t sessions = 0;
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{16383}, std::size_t{16384}, std::size_t{16385},
                           std::size_t{1} << 20, std::size_t{64} << 20}) {
    auto s = open_session(f, rng, {}, ctx->get());
    ASSERT_STREQ(SSL_get_cipher_name(s.e->ssl()), GetParam());
    ASSERT_STREQ(SSL_get_cipher_name(s.m->ssl()), GetParam());
    ++sessions;
    ASSERT_TRUE(
        data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == sessions; }));
    const std::string up = payload(size, rng), down = payload(size / 2, rng);
    auto r = exchange(*s.e, *s.m, up, down, std::chrono::seconds(300));
    ASSERT_TRUE(r.ok) << size << " bytes: " << r.error;
    EXPECT_EQ(r.b_received, up.size());
    EXPECT_EQ(r.b_received_sha256, sha256_hex(up)) << size;
    EXPECT_EQ(r.a_received_sha256, sha256_hex(down)) << size;
  }
}

INSTANTIATE_TEST_SUITE_P(FourSuites, RecordLayerSuites, ::testing::ValuesIn(k_each_suite),
                         [](const auto& info) { return suite_test_name(info.param); });

TEST_F(RecordLayer, RecordsCutAtEveryOffsetByTcpArriveWhole) {
  data_plane_fixture f;
  auto s = open_session(f, rng_);
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == 1; }));
  auto raw = raw_records::take(*s.e);
  ASSERT_TRUE(raw);
  int one = 1;
  ::setsockopt(s.e->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Each record goes in two sends cut at a different offset, header included; a pause
  // between the two makes the proxy's reads see the cut.
  const std::string text = payload(300, rng_);
  const std::size_t record_size = text.size() + tls12::k_overhead;
  std::string expected;
  for (std::size_t cut = 1; cut < record_size; ++cut) {
    auto r = raw->seal(tls12::content_type::application_data, text);
    ASSERT_TRUE(raw->send({r.begin(), r.begin() + static_cast<std::ptrdiff_t>(cut)}));
    std::this_thread::sleep_for(200us);
    ASSERT_TRUE(raw->send({r.begin() + static_cast<std::ptrdiff_t>(cut), r.end()}));
    expected += text;
  }
  EXPECT_EQ(read_exactly(*s.m, expected.size()), expected);
  // Several records in one send, and a record cut across two of them.
  std::vector<std::uint8_t> batch;
  for (int i = 0; i < 5; ++i) {
    auto r = raw->seal(tls12::content_type::application_data, "batch");
    batch.insert(batch.end(), r.begin(), r.end());
  }
  ASSERT_TRUE(raw->send({batch.begin(), batch.begin() + 50}));
  std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(raw->send({batch.begin() + 50, batch.end()}));
  EXPECT_EQ(read_exactly(*s.m, 25), "batchbatchbatchbatchbatch");
}

TEST_F(RecordLayer, TheProxysRecordsCarryItsSequenceAndItsCloseNotifyEndsTheStream) {
  data_plane_fixture f;
  auto s = open_session(f, rng_);
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == 1; }));
  auto raw = raw_records::take(*s.e);
  ASSERT_TRUE(raw);
  ASSERT_TRUE(s.m->write_all("to the endpoint"));
  auto got = raw->read();
  ASSERT_TRUE(got) << raw->ended();
  EXPECT_EQ(got->type, tls12::content_type::application_data);
  EXPECT_EQ(got->plaintext, "to the endpoint");
  s.m->shutdown_write();
  auto end = raw->read();
  ASSERT_TRUE(end) << raw->ended();
  EXPECT_EQ(end->type, tls12::content_type::alert);
  EXPECT_EQ(end->plaintext, std::string("\x01\x00", 2)) << "a warning close_notify";
  EXPECT_FALSE(raw->read()) << "then the FIN";
  EXPECT_EQ(raw->ended(), "eof");
  // The other direction is still open (PROTOCOL.md 3.5 half-close).
  ASSERT_TRUE(raw->send(raw->seal(tls12::content_type::application_data, "late")));
  EXPECT_EQ(read_exactly(*s.m, 4), "late");
  ASSERT_TRUE(raw->send(raw->seal(tls12::content_type::alert, std::string("\x01\x00", 2))));
  std::string rest;
  EXPECT_TRUE(s.m->read_to_end(rest)) << s.m->error();
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.plane().live_sessions() == 0; }));
}

// RFC 6066 4: a maximum fragment length both sides negotiated is the record layer's
// limit too; negotiated on one side only, the session stays with OpenSSL (which splits).
TEST_F(RecordLayer, AMaximumFragmentLengthOnBothSidesBoundsEveryRecordEachWay) {
  data_plane_fixture f;
  auto ctx = make_client_ctx(nullptr, {});
  ASSERT_TRUE(ctx.ok());
  ASSERT_EQ(SSL_CTX_set_tlsext_max_fragment_length(ctx->get(), TLSEXT_max_fragment_length_512), 1);
  ASSERT_EQ(SSL_CTX_set_tlsext_max_fragment_length(f.module_server_ctx(), TLSEXT_max_fragment_length_512), 1);
  {
    auto s = open_session(f, rng_, {}, ctx->get());
    ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == 1; }));
    const std::string up = payload(100000, rng_), down = payload(70001, rng_);
    auto r = exchange(*s.e, *s.m, up, down);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.b_received_sha256, sha256_hex(up));
    EXPECT_EQ(r.a_received_sha256, sha256_hex(down));
  }
  auto s = open_session(f, rng_, {}, ctx->get());
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.total(proxy::counter::sessions_record_layer) == 2; }));
  auto raw = raw_records::take(*s.e);
  ASSERT_TRUE(raw);
  const std::string down = payload(5000, rng_);
  ASSERT_TRUE(s.m->write_all(down));
  std::string got;
  while (got.size() < down.size()) {
    auto rec = raw->read();
    ASSERT_TRUE(rec) << raw->ended();
    EXPECT_LE(rec->plaintext.size(), 512U);
    got += rec->plaintext;
  }
  EXPECT_EQ(got, down);
  // A record one byte over the negotiated length: record_overflow, and the session ends.
  ASSERT_TRUE(raw->send(raw->seal(tls12::content_type::application_data, payload(513, rng_))));
  auto alert = raw->read();
  ASSERT_TRUE(alert) << raw->ended();
  EXPECT_EQ(alert->type, tls12::content_type::alert);
  EXPECT_EQ(alert->plaintext, std::string("\x02\x16", 2)) << "a fatal record_overflow";
  std::string rest;
  EXPECT_FALSE(s.m->read_to_end(rest)) << "the Module Server's side is reset";
}

TEST_F(RecordLayer, AMaximumFragmentLengthOnOneSideOnlyKeepsTheSessionWithOpenssl) {
  data_plane_fixture f;
  auto ctx = make_client_ctx(nullptr, {});
  ASSERT_TRUE(ctx.ok());
  ASSERT_EQ(SSL_CTX_set_tlsext_max_fragment_length(ctx->get(), TLSEXT_max_fragment_length_1024), 1);
  auto s = open_session(f, rng_, {}, ctx->get());
  const std::string up = payload(100000, rng_), down = payload(70001, rng_);
  auto r = exchange(*s.e, *s.m, up, down);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.b_received_sha256, sha256_hex(up));
  EXPECT_EQ(r.a_received_sha256, sha256_hex(down));
  EXPECT_EQ(f.total(proxy::counter::sessions_record_layer), 0U);
}

}  // namespace
}  // namespace zp::test
