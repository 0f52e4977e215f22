#include "tests/support/tls_client.hpp"

#include "common/tls12_keys.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <stdexcept>

namespace zp::test {

namespace {

// Binds `fd` to `source` (port 0) so a connection comes from that loopback address.
bool bind_source(int fd, const char* source) {
  if (source == nullptr) return true;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  return ::inet_pton(AF_INET, source, &from.sin_addr) == 1 &&
         ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

int raw_connect(std::uint16_t port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(port);
  if (fd < 0 || !bind_source(fd, source.c_str()) ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

bool closed_within(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
  }
}

tls_client::tls_client(std::uint16_t port, SSL_CTX* ctx, std::chrono::milliseconds timeout, const char* source) {
  // A server that closes while we write (e.g. after a 413) must fail the write, not
  // kill the test binary.
  static const bool sigpipe_ignored = (std::signal(SIGPIPE, SIG_IGN), true);
  (void)sigpipe_ignored;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr = loopback(port);
  if (!bind_source(fd_, source) || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return;
  }
  ssl_.reset(SSL_new(ctx));
  if (ssl_) count_records(ssl_.get());  // so a test can take the keys and write records itself
  SSL_set_fd(ssl_.get(), fd_);
  SSL_set_connect_state(ssl_.get());
}

tls_client::~tls_client() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void tls_client::record_error(int ret) {
  int err = SSL_get_error(ssl_.get(), ret);
  unsigned long code = ERR_peek_last_error();
  if (code != 0) {
    error_reason_ = ERR_GET_REASON(code);
    const char* reason = ERR_reason_error_string(code);
    error_ = reason ? reason : "unknown";
  } else if (err == SSL_ERROR_SYSCALL) {
    error_ = errno != 0 ? std::strerror(errno) : "unexpected eof";
  } else if (err == SSL_ERROR_ZERO_RETURN) {
    error_ = "closed";
  } else {
    error_ = "ssl error " + std::to_string(err);
  }
  ERR_clear_error();
}

bool tls_client::handshake() {
  if (fd_ < 0) return false;
  ERR_clear_error();
  int ret = SSL_connect(ssl_.get());
  if (ret == 1) return true;
  record_error(ret);
  return false;
}

bool tls_client::write_all(std::string_view data) {
  while (!data.empty()) {
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
    if (ret != 1) {
      record_error(ret);
      return false;
    }
    data.remove_prefix(n);
  }
  return true;
}

std::optional<std::string> tls_client::read_some(std::size_t max) {
  if (!buffered_.empty()) {
    std::string out = buffered_.substr(0, max);
    buffered_.erase(0, out.size());
    return out;
  }
  std::string out(max, '\0');
  ERR_clear_error();
  std::size_t n = 0;
  int ret = SSL_read_ex(ssl_.get(), out.data(), out.size(), &n);
  if (ret == 1) {
    out.resize(n);
    return out;
  }
  record_error(ret);
  if (SSL_get_error(ssl_.get(), ret) == SSL_ERROR_ZERO_RETURN) return std::string{};
  return std::nullopt;
}

bool tls_client::read_to_end(std::string& out) {
  while (true) {
    auto chunk = read_some();
    if (!chunk) return false;
    if (chunk->empty()) return true;
    out += *chunk;
  }
}

std::optional<http_reply> tls_client::read_http_response() {
  std::string data = std::move(buffered_);
  buffered_.clear();
  std::size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    auto chunk = read_some();
    if (!chunk || chunk->empty()) return std::nullopt;
    data += *chunk;
  }
  http_reply reply;
  std::string head = data.substr(0, head_end);
  std::string rest = data.substr(head_end + 4);
  std::size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
  reply.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      reply.headers[name] = value;
    }
    pos = end + 2;
  }
  std::size_t length = 0;
  if (auto it = reply.headers.find("content-length"); it != reply.headers.end()) length = std::stoul(it->second);
  while (rest.size() < length) {
    auto chunk = read_some();
    if (!chunk || chunk->empty()) return std::nullopt;
    rest += *chunk;
  }
  reply.body = rest.substr(0, length);
  buffered_ = rest.substr(length);
  return reply;
}

std::optional<http_reply> tls_client::request(std::string_view method, std::string_view target, std::string_view body,
                                              std::string_view extra_headers) {
  std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n";
  req += extra_headers;
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  if (!write_all(req)) return std::nullopt;
  return read_http_response();
}

void tls_client::shutdown_write() {
  SSL_shutdown(ssl_.get());
  ::shutdown(fd_, SHUT_WR);
}

void tls_client::reset() {
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ssl_.reset();
  ::close(fd_);
  fd_ = -1;
}

std::string tls_client::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
  return c ? SSL_CIPHER_get_name(c) : "";
}

ssl_ctx_ptr make_raw_client_ctx(int version, const char* ciphers) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  // Security level 0 so the client really offers old versions and weak suites; the
  // test is whether the *server* refuses them.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  if (version == TLS1_3_VERSION) {
    SSL_CTX_set_ciphersuites(ctx.get(), ciphers);
  } else {
    SSL_CTX_set_cipher_list(ctx.get(), ciphers);
  }
  return ctx;
}

}  // namespace zp::test
