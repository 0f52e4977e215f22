#pragma once
// The Module Server certificate chains of one worker's sessions after the hand-off to
// the record layer, one parsed copy per distinct certificate.
//
// A session that freed its SSL* still has to answer a CA replacement (PROTOCOL.md 4.2:
// sessions whose certificate no longer chains are closed), which needs the leaf and the
// chain the Module Server presented. Every session of one Module Server presents the same
// certificate, so the worker keeps one copy per leaf fingerprint, shared by its sessions
// and freed with the last of them.
//
// Owner: the worker_shard; single-threaded (only its worker touches it). It outlives its
// sessions, whose references erase their entry when the last one goes.

#include "common/openssl_ptr.hpp"

#include <absl/container/flat_hash_map.h>

#include <memory>
#include <string>

namespace zp::proxy {

/// A Module Server's leaf and the chain it sent (owned).
struct peer_chain {
  x509_ptr leaf;
  STACK_OF(X509) * chain = nullptr;
  peer_chain() = default;
  peer_chain(const peer_chain&) = delete;
  peer_chain& operator=(const peer_chain&) = delete;
  ~peer_chain();
};

class peer_chains {
 public:
  /// The shared copy for the certificate whose SHA-256 is `leaf_sha256`, made from
  /// `leaf` and `chain` (references taken) if this worker has none.
  std::shared_ptr<const peer_chain> intern(const std::string& leaf_sha256, X509* leaf, STACK_OF(X509) * chain);
  /// Distinct certificates held now.
  std::size_t size() const { return by_sha256_.size(); }

 private:
  absl::flat_hash_map<std::string, std::weak_ptr<const peer_chain>> by_sha256_;
};

}  // namespace zp::proxy
