// Validation of the control API's JSON bodies (PROTOCOL.md 4.2), field by field.

#include "provisioning/provision_request.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zp::provisioning {
namespace {

using json = nlohmann::json;

std::string field_of(const validated<proxy::session_settings>& v) {
  return std::holds_alternative<field_error>(v) ? std::get<field_error>(v).field : "";
}

TEST(ProvisionRequest, SettingsSubsetKeepsOtherFields) {
  proxy::session_settings current;
  current.max_sessions = 5;
  auto v = parse_settings(json{{"pair_timeout_s", 3}}, "settings", current);
  ASSERT_TRUE(std::holds_alternative<proxy::session_settings>(v));
  EXPECT_EQ(std::get<proxy::session_settings>(v).pair_timeout.count(), 3);
  EXPECT_EQ(std::get<proxy::session_settings>(v).max_sessions, 5u);
}

TEST(ProvisionRequest, SettingsErrorsNameTheField) {
  proxy::session_settings s;
  EXPECT_EQ(field_of(parse_settings(json{{"pair_timeout_s", 0}}, "settings", s)), "settings.pair_timeout_s");
  EXPECT_EQ(field_of(parse_settings(json{{"idle_timeout_s", -5}}, "settings", s)), "settings.idle_timeout_s");
  EXPECT_EQ(field_of(parse_settings(json{{"hello_timeout_s", 1.5}}, "settings", s)), "settings.hello_timeout_s");
  EXPECT_EQ(field_of(parse_settings(json{{"max_pending", 2000000}}, "settings", s)), "settings.max_pending");
  EXPECT_EQ(field_of(parse_settings(json{{"nope", 1}}, "settings", s)), "settings.nope");
  EXPECT_EQ(field_of(parse_settings(json::array(), "settings", s)), "settings");
  // 0 means "never" for the idle timeout only.
  EXPECT_EQ(field_of(parse_settings(json{{"idle_timeout_s", 0}}, "settings", s)), "");
}

// Defaults that outlive a 350-second NAT timeout; within what Linux accepts; shown back.
TEST(ProvisionRequest, TcpKeepaliveSettingsDefaultBoundAndRoundTrip) {
  proxy::session_settings s;
  const json shown = settings_to_json(s);
  EXPECT_EQ(shown["tcp_keepalive_idle_s"], 300);
  EXPECT_EQ(shown["tcp_keepalive_interval_s"], 30);
  EXPECT_EQ(shown["tcp_keepalive_count"], 4);
  auto v = parse_settings(json{{"tcp_keepalive_idle_s", 120}, {"tcp_keepalive_count", 6}}, "settings", s);
  ASSERT_TRUE(std::holds_alternative<proxy::session_settings>(v));
  const auto& k = std::get<proxy::session_settings>(v).keepalive;
  EXPECT_EQ(k.idle.count(), 120);
  EXPECT_EQ(k.interval.count(), 30) << "left out: kept";
  EXPECT_EQ(k.count, 6u);
  EXPECT_EQ(field_of(parse_settings(json{{"tcp_keepalive_idle_s", 0}}, "settings", s)),
            "settings.tcp_keepalive_idle_s");
  EXPECT_EQ(field_of(parse_settings(json{{"tcp_keepalive_interval_s", 32768}}, "settings", s)),
            "settings.tcp_keepalive_interval_s");
  EXPECT_EQ(field_of(parse_settings(json{{"tcp_keepalive_count", 128}}, "settings", s)),
            "settings.tcp_keepalive_count");
}

TEST(ProvisionRequest, JsonBodyMustBeAnObject) {
  EXPECT_TRUE(std::holds_alternative<field_error>(parse_json_object("[1]")));
  EXPECT_TRUE(std::holds_alternative<field_error>(parse_json_object("{\"a\":")));
  EXPECT_TRUE(std::holds_alternative<json>(parse_json_object("{}")));
}

TEST(ProvisionRequest, FingerprintIsSixtyFourHexCharactersLowercased) {
  auto ok = parse_fingerprint(json{{"fingerprint", std::string(64, 'A')}});
  ASSERT_TRUE(std::holds_alternative<std::string>(ok));
  EXPECT_EQ(std::get<std::string>(ok), std::string(64, 'a'));
  EXPECT_TRUE(std::holds_alternative<field_error>(parse_fingerprint(json{{"fingerprint", "abc"}})));
  EXPECT_TRUE(std::holds_alternative<field_error>(parse_fingerprint(json{{"fingerprint", std::string(64, 'g')}})));
}

TEST(ProvisionRequest, CsrNamesBadListEntries) {
  auto bad = parse_csr(json{{"common_name", "x"}, {"dns_names", {"ok.example", "bad name"}}});
  ASSERT_TRUE(std::holds_alternative<field_error>(bad));
  EXPECT_EQ(std::get<field_error>(bad).field, "dns_names[1]");
  EXPECT_TRUE(std::holds_alternative<field_error>(parse_csr(json{{"dns_names", json::array()}})));
}

}  // namespace
}  // namespace zp::provisioning
