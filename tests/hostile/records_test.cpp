// The record layer under attack (ARCHITECTURE.md "The record layer"): a paired peer that
// holds its session keys sends what a TLS 1.2 stack never would once its session is
// handed off. Each bad record closes both sides; the sender gets the matching fatal
// alert (RFC 5246 7.2), the other side a reset, never a clean end, and nothing of the
// bad record reaches it. A black box: the real daemon, its wire and its /metrics.

#include "tests/hostile/hostile.hpp"
#include "tests/support/raw_records.hpp"

#include <gtest/gtest.h>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using tls12::content_type;

paired_halves pair_up(provisioned_daemon& p, std::mt19937_64& rng) {
  return open_paired(p.endpoint_port(), p.endpoint_ctx(), p.module_server_port(), p.operator_ctx(), rng);
}

double record_layer_sessions(provisioned_daemon& p) { return p.metric("zoneproxy_sessions_record_layer_total"); }

// One well-formed record first, so the hand-off has happened and the relay works.
void prove_relay(raw_records& raw, tls_client& other) {
  ASSERT_TRUE(raw.send(raw.seal(content_type::application_data, "ok")));
  auto got = other.read_some(2);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "ok");
}

struct bad_record {
  const char* what;
  std::function<std::vector<std::uint8_t>(raw_records&)> make;
  int alert;  // the fatal alert the sender gets; 0: none
};

std::vector<bad_record> bad_records() {
  auto sealed_then = [](content_type t, std::string p, std::function<void(std::vector<std::uint8_t>&)> spoil) {
    return [t, p, spoil](raw_records& raw) {
      auto r = raw.seal(t, p);
      spoil(r);
      return r;
    };
  };
  auto nothing = [](std::vector<std::uint8_t>&) {};
  return {
      {"a flipped tag bit", sealed_then(content_type::application_data, "secret", [](auto& r) { r.back() ^= 1; }),
       SSL_AD_BAD_RECORD_MAC},
      {"a flipped ciphertext bit", sealed_then(content_type::application_data, "secret", [](auto& r) { r[14] ^= 1; }),
       SSL_AD_BAD_RECORD_MAC},
      {"a renegotiation (HelloRequest)", sealed_then(content_type::handshake, std::string("\0\0\0\0", 4), nothing),
       SSL_AD_UNEXPECTED_MESSAGE},
      {"a ChangeCipherSpec", sealed_then(content_type::change_cipher_spec, "\x01", nothing), SSL_AD_UNEXPECTED_MESSAGE},
      {"an unknown content type", sealed_then(static_cast<content_type>(99), "x", nothing), SSL_AD_UNEXPECTED_MESSAGE},
      {"an oversize record",
       [](raw_records&) {
         std::vector<std::uint8_t> r(5 + 0x4800, 0);
         r[0] = 23, r[1] = 3, r[2] = 3, r[3] = 0x48, r[4] = 0;
         return r;
       },
       SSL_AD_RECORD_OVERFLOW},
      {"a TLS 1.0 header", sealed_then(content_type::application_data, "x", [](auto& r) { r[2] = 1; }),
       SSL_AD_PROTOCOL_VERSION},
      {"a body too short for a tag", [](raw_records&) { return std::vector<std::uint8_t>{23, 3, 3, 0, 3, 1, 2, 3}; },
       SSL_AD_BAD_RECORD_MAC},
      {"an alert of three bytes", sealed_then(content_type::alert, std::string("\x01\x00\x00", 3), nothing),
       SSL_AD_DECODE_ERROR},
      {"a fatal alert of its own", sealed_then(content_type::alert, std::string("\x02\x28", 2), nothing), 0},
  };
}

TEST(Records, EveryBadRecordFromAnEndpointClosesBothSidesWithTheMatchingAlert) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  std::mt19937_64 rng{27};
  const double errors_before = p.metric("zoneproxy_sessions_ended_total{reason=\"error\"}");
  int n = 0;
  for (const bad_record& bad : bad_records()) {
    SCOPED_TRACE(bad.what);
    auto s = pair_up(p, rng);
    ASSERT_TRUE(s.e && s.m);
    ++n;
    ASSERT_TRUE(data_plane_fixture::eventually([&] { return record_layer_sessions(p) == n; }));
    auto raw = raw_records::take(*s.e);
    ASSERT_TRUE(raw);
    prove_relay(*raw, *s.m);
    ASSERT_TRUE(raw->send(bad.make(*raw)));
    auto answer = raw->read();
    if (bad.alert != 0) {
      ASSERT_TRUE(answer) << "no alert: " << raw->ended();
      EXPECT_EQ(answer->type, content_type::alert);
      EXPECT_EQ(answer->plaintext, std::string({'\x02', static_cast<char>(bad.alert)})) << "fatal, matching";
      EXPECT_FALSE(raw->read(5s)) << "then nothing more";
    } else {
      EXPECT_FALSE(answer) << "a peer's fatal alert is not answered";
    }
    std::string rest;
    EXPECT_FALSE(s.m->read_to_end(rest)) << "the Module Server must not see a clean end";
    EXPECT_EQ(rest, "") << "nothing of the bad record reaches the other side";
  }
  EXPECT_TRUE(data_plane_fixture::eventually(
      [&] { return p.metric("zoneproxy_sessions_ended_total{reason=\"error\"}") - errors_before >= n - 1; }));
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return p.metric("zoneproxy_sessions_active") == 0; }));
}

TEST(Records, ABadRecordFromTheModuleServerClosesBothSidesToo) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  std::mt19937_64 rng{28};
  auto s = pair_up(p, rng);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return record_layer_sessions(p) == 1; }));
  auto raw = raw_records::take(*s.m);
  ASSERT_TRUE(raw);
  prove_relay(*raw, *s.e);
  auto r = raw->seal(content_type::application_data, "tampered");
  r[20] ^= 0x40;
  ASSERT_TRUE(raw->send(r));
  auto answer = raw->read();
  ASSERT_TRUE(answer) << raw->ended();
  EXPECT_EQ(answer->plaintext, std::string({'\x02', static_cast<char>(SSL_AD_BAD_RECORD_MAC)}));
  std::string rest;
  EXPECT_FALSE(s.e->read_to_end(rest));
  EXPECT_EQ(rest, "");
}

}  // namespace
}  // namespace zp::test
