#pragma once
// Incremental HTTP/1.1 request parser over libhttp-parser, with our bounds on top.
// Used for the rendezvous hello (head only: what follows the blank line is early data
// that belongs to the session) and for the control API (head + body, keep-alive).
//
// Bounds: the head must end, with CRLF CRLF, within `max_head` bytes counted from the
// first byte fed, empty lines before the request line included (RFC 9112 2.2 lets a
// server skip them; it does not make them free). A head is complete only when
// libhttp-parser also saw the end of its headers at exactly that CRLF CRLF: otherwise
// (bare CRs or LFs, a terminator inside garbage) it is malformed, never "complete for us,
// still going for the parser", which once let bytes past the bound reach the body stage.
// A body longer than `max_body` fails before it is buffered; its framing (chunk lines,
// trailers) is bounded by `max_head` on top of that.

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zp {

/// A parsed request. Header names are lowercased; values are trimmed.
struct http_request {
  std::string method;
  std::string target;
  unsigned version_major = 0;
  unsigned version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;

  /// The first value of a header (lowercase name), or empty.
  std::string_view header(std::string_view lower_name) const;
  /// True when a comma-separated header contains `token` (case-insensitive).
  bool header_has_token(std::string_view lower_name, std::string_view token) const;
};

class http_request_parser {
 public:
  enum class state { need_more, complete, failed };
  enum class error { none, malformed, head_too_large, body_too_large };

  http_request_parser(std::size_t max_head, std::size_t max_body, bool head_only);
  http_request_parser(const http_request_parser&) = delete;
  http_request_parser& operator=(const http_request_parser&) = delete;

  /// Consumes bytes; returns how many were consumed. Bytes after a complete request
  /// are not consumed (the next request, or early data).
  std::size_t feed(std::string_view data);
  state current() const { return state_; }
  error failure() const { return error_; }
  /// libhttp-parser's description of a malformed input, for the error message.
  std::string_view failure_detail() const { return detail_; }
  const http_request& request() const { return request_; }
  http_request& request() { return request_; }
  /// Starts over for the next request on a keep-alive connection.
  void reset();

 private:
  static int on_url(http_parser* p, const char* at, std::size_t len);
  static int on_header_field(http_parser* p, const char* at, std::size_t len);
  static int on_header_value(http_parser* p, const char* at, std::size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, std::size_t len);
  static int on_message_complete(http_parser* p);

  std::size_t fail(error e, std::string_view detail, std::size_t consumed);
  std::size_t feed_head(std::string_view data);
  std::size_t feed_body(std::string_view data);

  const std::size_t max_head_;
  const std::size_t max_body_;
  const bool head_only_;
  http_parser parser_{};
  http_parser_settings settings_{};
  std::string head_;               // bytes of the head seen so far (bounded by max_head_)
  std::size_t leading_empty_ = 0;  // CR/LF bytes before the request line, part of head_
  std::size_t body_bytes_ = 0;     // raw bytes fed after the head (body and its framing)
  bool head_done_ = false;
  bool headers_complete_ = false;  // libhttp-parser reached on_headers_complete
  bool in_value_ = false;
  state state_ = state::need_more;
  error error_ = error::none;
  std::string detail_;
  http_request request_;
};

}  // namespace zp
