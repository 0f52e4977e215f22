// The request-head parser shared by the rendezvous hello and the control API.

#include "common/http_request_parser.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace zp {
namespace {

constexpr std::size_t k_head = 8192;

TEST(HttpRequestParser, ParsesAHelloAndLeavesEarlyDataUnconsumed) {
  http_request_parser p(k_head, 0, /*head_only=*/true);
  std::string in =
      "GET /v1/rendezvous/0123 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n"
      "UPGRADE: zoneproxy/1\r\n\r\nearly bytes";
  std::size_t used = p.feed(in);
  ASSERT_EQ(p.current(), http_request_parser::state::complete);
  EXPECT_EQ(in.substr(used), "early bytes");
  const auto& r = p.request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/v1/rendezvous/0123");
  EXPECT_EQ(r.version_major, 1u);
  EXPECT_EQ(r.version_minor, 1u);
  EXPECT_TRUE(r.header_has_token("connection", "upgrade"));
  EXPECT_TRUE(r.header_has_token("upgrade", "zoneproxy/1"));
  EXPECT_FALSE(r.header_has_token("upgrade", "zoneproxy/2"));
}

TEST(HttpRequestParser, AcceptsTheHeadOneByteAtATime) {
  http_request_parser p(k_head, 0, true);
  std::string in = "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
  std::size_t i = 0;
  while (p.current() == http_request_parser::state::need_more && i < in.size()) {
    i += p.feed(std::string_view(in).substr(i, 1));
  }
  ASSERT_EQ(p.current(), http_request_parser::state::complete);
  EXPECT_EQ(in.substr(i), "rest");
  EXPECT_EQ(p.request().header("host"), "x");
}

TEST(HttpRequestParser, HeadOfExactlyTheLimitIsAcceptedOneMoreByteIsNot) {
  std::string prefix = "GET / HTTP/1.1\r\nX: ";
  std::string exact = prefix + std::string(k_head - prefix.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), k_head);
  http_request_parser ok(k_head, 0, true);
  ok.feed(exact);
  EXPECT_EQ(ok.current(), http_request_parser::state::complete);

  std::string over = prefix + std::string(k_head - prefix.size() - 3, 'a') + "\r\n\r\n";
  http_request_parser bad(k_head, 0, true);
  bad.feed(over);
  EXPECT_EQ(bad.current(), http_request_parser::state::failed);
  EXPECT_EQ(bad.failure(), http_request_parser::error::head_too_large);
}

TEST(HttpRequestParser, GarbageIsMalformed) {
  using namespace std::string_literals;
  for (const std::string& in : {"\x16\x03\x01\x02\x00\r\n\r\n"s, "GET\r\n\r\n"s, "GET / HTTP/1.1\r\nNo colon\r\n\r\n"s,
                                "GET / FTP/1.0\r\n\r\n"s}) {
    http_request_parser p(k_head, 0, true);
    p.feed(in);
    EXPECT_EQ(p.current(), http_request_parser::state::failed) << in;
    EXPECT_EQ(p.failure(), http_request_parser::error::malformed) << in;
  }
}

TEST(HttpRequestParser, ReportsTheVersionSoCallersCanRefuseHttp10) {
  http_request_parser p(k_head, 0, true);
  p.feed("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p.current(), http_request_parser::state::complete);
  EXPECT_EQ(p.request().version_minor, 0u);
}

TEST(HttpRequestParser, ReadsABodyAndStopsAtThePipelinedNextRequest) {
  http_request_parser p(k_head, 1024, false);
  std::string in = "POST /v1/csr HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
  std::size_t used = p.feed(in);
  ASSERT_EQ(p.current(), http_request_parser::state::complete);
  EXPECT_EQ(p.request().body, "hello");
  EXPECT_TRUE(p.request().keep_alive);
  EXPECT_EQ(in.substr(used), "GET / HTTP/1.1\r\n\r\n");
  p.reset();
  p.feed(in.substr(used));
  EXPECT_EQ(p.current(), http_request_parser::state::complete);
  EXPECT_EQ(p.request().method, "GET");
}

TEST(HttpRequestParser, DeclaredBodyOverTheLimitFailsBeforeItArrives) {
  http_request_parser p(k_head, 1024, false);
  p.feed("PUT /x HTTP/1.1\r\nContent-Length: 1025\r\n\r\n");
  EXPECT_EQ(p.current(), http_request_parser::state::failed);
  EXPECT_EQ(p.failure(), http_request_parser::error::body_too_large);
}

TEST(HttpRequestParser, ChunkedBodyOverTheLimitFails) {
  http_request_parser p(k_head, 8, false);
  p.feed("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  EXPECT_EQ(p.current(), http_request_parser::state::failed);
  EXPECT_EQ(p.failure(), http_request_parser::error::body_too_large);
}

// Feeds `in` in pieces of `chunk` bytes, as TLS records would deliver it; returns the
// bytes consumed when the parser decided (or ran out of input).
std::size_t feed_in_chunks(http_request_parser& p, std::string_view in, std::size_t chunk) {
  std::size_t offset = 0;
  while (offset < in.size() && p.current() == http_request_parser::state::need_more) {
    offset += p.feed(in.substr(offset, chunk));
  }
  return offset;
}

std::string corpus_file(const std::string& name) {
  std::ifstream f(std::string(ZP_FUZZ_CORPUS_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// ../shared/regressions/hello-head-bound.bin, found by the CI fuzzer: after its first byte
// (the harness's chunk size), empty lines whose CRLF CRLF made the head "complete" while
// libhttp-parser still waited for a request line, so the rest escaped the 8192-byte bound.
TEST(HttpRequestParser, FuzzFoundHeadWithoutBlankLineFailsWithinTheBoundInAnyChunking) {
  const std::string input = corpus_file("hello/regression-hello-head-bound");
  ASSERT_EQ(input.size(), 8400u);
  const std::string_view stream = std::string_view(input).substr(1);
  for (std::size_t chunk = 1; chunk <= 64; ++chunk) {
    http_request_parser p(k_head, 0, true);
    const std::size_t used = feed_in_chunks(p, stream, chunk);
    ASSERT_EQ(p.current(), http_request_parser::state::failed) << "chunk " << chunk;
    EXPECT_LE(used, k_head) << "chunk " << chunk;
  }
}

TEST(HttpRequestParser, EmptyLinesBeforeTheRequestLineAreSkippedButCountAgainstTheBound) {
  http_request_parser ok(k_head, 0, true);
  std::string in = "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nearly";
  const std::size_t used = ok.feed(in);
  ASSERT_EQ(ok.current(), http_request_parser::state::complete);
  EXPECT_EQ(in.substr(used), "early");
  EXPECT_EQ(ok.request().target, "/");

  for (std::size_t chunk : {1u, 2u, 7u, 4096u}) {
    http_request_parser p(k_head, 0, true);
    std::string flood;
    for (int i = 0; i < 20000; ++i) flood += "\r\n";
    const std::size_t taken = feed_in_chunks(p, flood, chunk);
    ASSERT_EQ(p.current(), http_request_parser::state::failed) << "chunk " << chunk;
    EXPECT_EQ(p.failure(), http_request_parser::error::head_too_large);
    EXPECT_LE(taken, k_head);
  }
}

TEST(HttpRequestParser, BareLineFeedsAreMalformedEvenWhenACrlfCrlfFollows) {
  for (std::string in : {"GET / HTTP/1.1\nHost: x\n\nearly\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\n\r\n\r\n"}) {
    http_request_parser p(k_head, 0, true);
    p.feed(in);
    EXPECT_EQ(p.current(), http_request_parser::state::failed) << in;
    EXPECT_EQ(p.failure(), http_request_parser::error::malformed) << in;
  }
  http_request_parser body(k_head, 1024, false);
  body.feed("POST / HTTP/1.1\nContent-Length: 3\n\nabc\r\n\r\n");
  EXPECT_EQ(body.current(), http_request_parser::state::failed);
}

TEST(HttpRequestParser, EndlessChunkFramingFailsOnceItOutgrowsBodyAndHeadBounds) {
  http_request_parser p(k_head, 16, false);
  p.feed("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n");
  ASSERT_EQ(p.current(), http_request_parser::state::need_more);
  // Trailer lines after the last chunk carry no body bytes but must still end.
  std::string trailers;
  while (trailers.size() < 2 * k_head) trailers += "X-T: v\r\n";
  feed_in_chunks(p, trailers, 100);
  EXPECT_EQ(p.current(), http_request_parser::state::failed);
  EXPECT_EQ(p.failure(), http_request_parser::error::body_too_large);
}

}  // namespace
}  // namespace zp
