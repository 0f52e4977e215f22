#pragma once
// The keys that seal TLS 1.2 session tickets (PROTOCOL.md 2, RFC 5077): held in this
// process's memory only, never written anywhere, so a restart forgets every ticket. One
// ring serves every server context of the process (all ports, every worker, every
// context generation), so a session resumes wherever its client lands.
//
// A key seals new tickets for one period and opens them for two: a ticket is never
// resumable once its key is two periods old, whatever the traffic in between (rotation
// happens on use, checked against the clock every time). A ticket opened with the
// previous key is renewed.

#include "common/openssl_ptr.hpp"

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace zp {

class ticket_key_ring {
 public:
  using clock = std::chrono::steady_clock;
  /// The contract's ceiling: a new key at least every hour.
  static constexpr std::chrono::seconds k_max_period{3600};

  /// `period` is clamped to 1 s .. k_max_period; `now` is the clock (tests pass their own).
  static absl::StatusOr<std::shared_ptr<ticket_key_ring>> create(std::chrono::seconds period,
                                                                 std::function<clock::time_point()> now = clock::now);
  ~ticket_key_ring();
  ticket_key_ring(const ticket_key_ring&) = delete;
  ticket_key_ring& operator=(const ticket_key_ring&) = delete;

  std::chrono::seconds period() const { return period_; }

  /// Installs the ring as `ctx`'s ticket key callback; `ctx` keeps the ring alive.
  static void attach(const std::shared_ptr<ticket_key_ring>& ring, SSL_CTX* ctx);

 private:
  ticket_key_ring(std::chrono::seconds period, std::function<clock::time_point()> now, EVP_CIPHER* aes_256_cbc);

  struct key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> aes, hmac;
    clock::time_point made;
  };
  enum class found { none, current, previous };

  // SSL_CTX_set_tlsext_ticket_key_evp_cb's callback.
  static int callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                      int enc);
  int seal(unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
  int open(const unsigned char* key_name, const unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
  // The key to seal with now, rotating first when the current one has served a period.
  std::optional<key> sealing_key();
  found opening_key(const unsigned char* name, key& out);
  void rotate_if_due(clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::chrono::seconds period_;
  const std::function<clock::time_point()> now_;
  EVP_CIPHER* aes_256_cbc_;  // fetched once: a handshake does not look it up again
  absl::Mutex mu_;
  std::optional<key> current_ ABSL_GUARDED_BY(mu_);
  std::optional<key> previous_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zp
