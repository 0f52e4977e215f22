// check_hello(): every hello error of PROTOCOL.md 3.4 that the head alone decides.

#include "proxy/hello.hpp"

#include <gtest/gtest.h>

namespace zp::proxy {
namespace {

const std::string k_id = "0123456789abcdef0123456789abcdef";

std::variant<session_id, hello_error> judge(const std::string& head) {
  auto p = make_hello_parser();
  p.feed(head);
  EXPECT_NE(p.current(), http_request_parser::state::need_more) << head;
  return check_hello(p);
}

int status_of(const std::string& head) {
  auto v = judge(head);
  return std::holds_alternative<hello_error>(v) ? std::get<hello_error>(v).status() : 101;
}

const std::string k_upgrade = "Connection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n";

TEST(Hello, AValidHelloYieldsTheId) {
  auto v = judge("GET /v1/rendezvous/" + k_id + " HTTP/1.1\r\nHost: x\r\n" + k_upgrade);
  ASSERT_TRUE(std::holds_alternative<session_id>(v));
  EXPECT_EQ(std::get<session_id>(v).prefix(), "01234567");
}

TEST(Hello, EachErrorRow) {
  EXPECT_EQ(status_of("GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /v1/rendezvous/" + k_id + " HTTP/1.0\r\n" + k_upgrade), 400);
  EXPECT_EQ(status_of("GET /v1/rendezvous/" + k_id + "0 HTTP/1.1\r\n" + k_upgrade), 400);
  EXPECT_EQ(status_of("GET /v1/rendezvous/0123456789ABCDEF0123456789abcdef HTTP/1.1\r\n" + k_upgrade), 400);
  EXPECT_EQ(status_of("GET /v1/rendezvous/" + k_id + "?x=1 HTTP/1.1\r\n" + k_upgrade), 400);
  EXPECT_EQ(status_of("GET /v1/other/" + k_id + " HTTP/1.1\r\n" + k_upgrade), 404);
  EXPECT_EQ(status_of("GET /v1/rendezvous HTTP/1.1\r\n" + k_upgrade), 404);
  EXPECT_EQ(status_of("POST /v1/rendezvous/" + k_id + " HTTP/1.1\r\n" + k_upgrade), 405);
  EXPECT_EQ(status_of("GET /v1/rendezvous/" + k_id + " HTTP/1.1\r\nUpgrade: zoneproxy/1\r\n\r\n"), 426);
  EXPECT_EQ(status_of("GET /v1/rendezvous/" + k_id + " HTTP/1.1\r\nConnection: upgrade\r\n\r\n"), 426);
  EXPECT_EQ(
      status_of("GET /v1/rendezvous/" + k_id + " HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: zoneproxy/10\r\n\r\n"),
      426);
}

}  // namespace
}  // namespace zp::proxy

namespace zp::proxy {
namespace {

// k_reject_reasons: a reason the client is answered for has a 3.4 status and code; one
// closed without a response has neither.
TEST(RejectReasons, AnsweredReasonsHaveAStatusAndACode) {
  for (const reject_reason_def& r : k_reject_reasons) {
    EXPECT_EQ(r.status == 0, r.code.empty()) << r.name;
    if (r.status != 0) {
      EXPECT_TRUE(r.status >= 400 && r.status < 600) << r.name;
    }
  }
  EXPECT_EQ(k_draining.status(), 503);
  EXPECT_EQ(k_draining.code(), "unavailable") << "PROTOCOL.md 3.5: draining answers as unavailable";
  EXPECT_EQ(reject_reason_name(k_draining.reason), "draining");
}

}  // namespace
}  // namespace zp::proxy
