#pragma once
// A test client's own TLS 1.2 records after its handshake: its keys taken from its
// OpenSSL connection (common/tls12_keys.hpp), records sealed and sent on its socket as
// they are (well-formed or not), and the proxy's records read and opened. For testing
// the proxy's record layer from outside, byte by byte.

#include "common/tls12_records.hpp"
#include "tests/support/tls_client.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zp::test {

class raw_records {
 public:
  /// Takes `c`'s keys; `c` must not read or write through OpenSSL afterwards.
  static std::optional<raw_records> take(tls_client& c);

  /// One record of `type` sealed with the next sequence number (not sent).
  std::vector<std::uint8_t> seal(tls12::content_type type, std::string_view plaintext);
  /// Sends bytes as they are; false on a socket error.
  bool send(const std::vector<std::uint8_t>& bytes);
  /// A record from the proxy: its type and plaintext; nullopt at the end of the stream,
  /// an error, a bad record or the timeout (then `ended()` says which).
  struct record {
    tls12::content_type type;
    std::string plaintext;
  };
  std::optional<record> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Why the last read() gave nothing: "eof", "reset", "timeout", "bad record".
  const std::string& ended() const { return ended_; }

 private:
  raw_records(int fd, tls12::record_cipher rx, tls12::record_cipher tx)
      : fd_(fd), rx_(std::move(rx)), tx_(std::move(tx)) {}
  int fd_;
  tls12::record_cipher rx_, tx_;
  std::vector<std::uint8_t> in_;
  std::string ended_;
};

}  // namespace zp::test
