#include "common/http_request_parser.hpp"

#include "common/strings.hpp"

#include <algorithm>

namespace zp {

std::string_view http_request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

bool http_request::header_has_token(std::string_view lower_name, std::string_view token) const {
  // A header may legally appear several times; each occurrence is a list.
  for (const auto& [name, value] : headers) {
    if (name != lower_name) continue;
    std::string_view rest = value;
    while (true) {
      const auto comma = rest.find(',');
      if (iequals(trim_ascii(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

http_request_parser::http_request_parser(std::size_t max_head, std::size_t max_body, bool head_only)
    : max_head_(max_head), max_body_(max_body), head_only_(head_only) {
  http_parser_settings_init(&settings_);
  settings_.on_url = on_url;
  settings_.on_header_field = on_header_field;
  settings_.on_header_value = on_header_value;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_body = on_body;
  settings_.on_message_complete = on_message_complete;
  reset();
}

void http_request_parser::reset() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  head_.clear();
  leading_empty_ = 0;
  body_bytes_ = 0;
  head_done_ = false;
  headers_complete_ = false;
  in_value_ = false;
  state_ = state::need_more;
  error_ = error::none;
  detail_.clear();
  request_ = http_request{};
}

std::size_t http_request_parser::fail(error e, std::string_view detail, std::size_t consumed) {
  state_ = state::failed;
  error_ = e;
  detail_ = std::string(detail);
  return consumed;
}

std::size_t http_request_parser::feed(std::string_view data) {
  if (state_ != state::need_more) return 0;
  std::size_t used = 0;
  if (!head_done_) {
    used = feed_head(data);
    if (state_ != state::need_more || !head_done_) return used;
  }
  return used + feed_body(data.substr(used));
}

std::size_t http_request_parser::feed_head(std::string_view data) {
  // Find the end of the head ourselves: it bounds the head strictly and requires the
  // CRLF CRLF terminator (libhttp-parser alone would also accept bare LFs).
  const std::size_t before = head_.size();
  const std::size_t take = std::min(data.size(), max_head_ - before);
  head_.append(data.substr(0, take));
  // Empty lines before the request line are skipped by the parser, so a CRLF CRLF among
  // them ends nothing: the terminator is searched only after them (they still count).
  if (leading_empty_ == before) {
    while (leading_empty_ < head_.size() && (head_[leading_empty_] == '\r' || head_[leading_empty_] == '\n')) {
      ++leading_empty_;
    }
  }
  const std::size_t search_from = std::max(before >= 3 ? before - 3 : 0, leading_empty_);
  const std::size_t end = leading_empty_ == head_.size() ? std::string::npos : head_.find("\r\n\r\n", search_from);
  if (end == std::string::npos) {
    if (head_.size() >= max_head_) return fail(error::head_too_large, "request head too large", take);
    return take;
  }
  const std::size_t head_len = end + 4;
  head_.resize(head_len);
  const std::size_t used = head_len - before;
  // Lines end with CRLF only (RFC 9112 2.2 allows a server to refuse bare LFs): then the
  // parser cannot see the end of the headers anywhere but at our terminator.
  for (std::size_t i = leading_empty_ + 1; i < head_len; ++i) {
    if (head_[i] == '\n' && head_[i - 1] != '\r') return fail(error::malformed, "bare LF in request head", used);
  }
  const std::size_t parsed = http_parser_execute(&parser_, &settings_, head_.data(), head_.size());
  const auto err = HTTP_PARSER_ERRNO(&parser_);
  if (state_ == state::failed) return used;
  if (err != HPE_OK && err != HPE_PAUSED) return fail(error::malformed, http_errno_description(err), used);
  // The parser must have ended the headers at our terminator: not before it (a bare-LF
  // blank line, after which head_ would hold body or early data) and not never.
  if (!headers_complete_) return fail(error::malformed, "request head does not end with its headers", used);
  if (head_only_ && parsed + 1 != head_.size()) return fail(error::malformed, "headers end before CRLF CRLF", used);
  if (!head_only_ && parsed != head_.size() && err != HPE_PAUSED) {
    return fail(error::malformed, "trailing bytes in head", used);
  }
  head_done_ = true;
  return used;
}

std::size_t http_request_parser::feed_body(std::string_view data) {
  if (state_ != state::need_more || data.empty()) return 0;
  const std::size_t parsed = http_parser_execute(&parser_, &settings_, data.data(), data.size());
  const auto err = HTTP_PARSER_ERRNO(&parser_);
  if (state_ == state::failed) return parsed;
  if (err != HPE_OK && err != HPE_PAUSED) return fail(error::malformed, http_errno_description(err), parsed);
  // on_body bounds the payload; this bounds what frames it (chunk-size lines, trailers).
  body_bytes_ += parsed;
  if (state_ == state::need_more && body_bytes_ > max_body_ + max_head_) {
    return fail(error::body_too_large, "request body framing too large", parsed);
  }
  return parsed;
}

int http_request_parser::on_url(http_parser* p, const char* at, std::size_t len) {
  auto* self = static_cast<http_request_parser*>(p->data);
  self->request_.target.append(at, len);
  return 0;
}

int http_request_parser::on_header_field(http_parser* p, const char* at, std::size_t len) {
  auto* self = static_cast<http_request_parser*>(p->data);
  if (self->in_value_ || self->request_.headers.empty()) self->request_.headers.emplace_back();
  self->in_value_ = false;
  self->request_.headers.back().first.append(at, len);
  return 0;
}

int http_request_parser::on_header_value(http_parser* p, const char* at, std::size_t len) {
  auto* self = static_cast<http_request_parser*>(p->data);
  self->in_value_ = true;
  self->request_.headers.back().second.append(at, len);
  return 0;
}

int http_request_parser::on_headers_complete(http_parser* p) {
  auto* self = static_cast<http_request_parser*>(p->data);
  self->headers_complete_ = true;
  auto& req = self->request_;
  req.method = http_method_str(static_cast<http_method>(p->method));
  req.version_major = p->http_major;
  req.version_minor = p->http_minor;
  req.keep_alive = http_should_keep_alive(p) != 0;
  for (auto& [name, value] : req.headers) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    value = std::string(trim_ascii(value));
  }
  if (self->head_only_) {
    // The rest of the stream is not ours to interpret (early data).
    self->state_ = state::complete;
    http_parser_pause(p, 1);
    return 1;  // skip body
  }
  // content_length is ULLONG_MAX when absent; chunked bodies are checked in on_body.
  if (p->content_length != ULLONG_MAX && p->content_length > self->max_body_) {
    self->fail(error::body_too_large, "request body too large", 0);
    return -1;
  }
  return 0;
}

int http_request_parser::on_body(http_parser* p, const char* at, std::size_t len) {
  auto* self = static_cast<http_request_parser*>(p->data);
  if (self->request_.body.size() + len > self->max_body_) {
    self->fail(error::body_too_large, "request body too large", 0);
    return -1;
  }
  self->request_.body.append(at, len);
  return 0;
}

int http_request_parser::on_message_complete(http_parser* p) {
  auto* self = static_cast<http_request_parser*>(p->data);
  self->state_ = state::complete;
  // Pause so bytes of a pipelined next request are left unconsumed.
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace zp
