#include "proxy/peer_chains.hpp"

namespace zp::proxy {

peer_chain::~peer_chain() {
  if (chain != nullptr) sk_X509_pop_free(chain, X509_free);
}

std::shared_ptr<const peer_chain> peer_chains::intern(const std::string& leaf_sha256, X509* leaf,
                                                      STACK_OF(X509) * chain) {
  auto& slot = by_sha256_[leaf_sha256];
  if (auto shared = slot.lock()) return shared;
  auto copy = std::make_unique<peer_chain>();
  if (leaf != nullptr && X509_up_ref(leaf) == 1) copy->leaf.reset(leaf);
  if (chain != nullptr) copy->chain = X509_chain_up_ref(chain);
  // The last session to let go erases the entry; the map outlives every session.
  std::shared_ptr<const peer_chain> shared(copy.release(), [this, leaf_sha256](const peer_chain* p) {
    auto it = by_sha256_.find(leaf_sha256);
    if (it != by_sha256_.end() && it->second.expired()) by_sha256_.erase(it);
    delete p;
  });
  slot = shared;
  return shared;
}

}  // namespace zp::proxy
