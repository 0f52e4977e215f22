#include "tests/support/raw_records.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace zp::test {

std::optional<raw_records> raw_records::take(tls_client& c) {
  auto keys = export_tls12_keys(c.ssl());
  if (!keys.ok()) return std::nullopt;
  auto rx = tls12::record_cipher::make(keys->rx, false);
  auto tx = tls12::record_cipher::make(keys->tx, true);
  if (!rx.ok() || !tx.ok()) return std::nullopt;
  return raw_records(c.fd(), std::move(*rx), std::move(*tx));
}

std::vector<std::uint8_t> raw_records::seal(tls12::content_type type, std::string_view plaintext) {
  std::vector<std::uint8_t> r(plaintext.size() + tls12::k_overhead);
  std::copy(plaintext.begin(), plaintext.end(), r.begin() + tls12::k_header + tls12::k_explicit_nonce);
  if (tx_.seal(type, r.data(), plaintext.size())) r.clear();
  return r;
}

bool raw_records::send(const std::vector<std::uint8_t>& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 1000);
      continue;
    }
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<raw_records::record> raw_records::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    tls12::record_header h;
    if (tls12::parse_header(in_, tls12::k_max_plaintext, h)) {
      ended_ = "bad record";
      return std::nullopt;
    }
    if (h.size != 0 && h.size <= in_.size()) {
      if (rx_.open(in_.data(), h.size)) {
        ended_ = "bad record";
        return std::nullopt;
      }
      record r{h.type,
               std::string(reinterpret_cast<const char*>(in_.data()) + tls12::k_header + tls12::k_explicit_nonce,
                           h.size - tls12::k_overhead)};
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(h.size));
      return r;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ended_ = "timeout";
      return std::nullopt;
    }
    std::uint8_t buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      ended_ = n == 0 ? "eof" : errno == ECONNRESET ? "reset" : "error";
      return std::nullopt;
    }
    in_.insert(in_.end(), buf, buf + n);
  }
}

}  // namespace zp::test
