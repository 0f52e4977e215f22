#pragma once
// Deferred deletion (Envoy's habit) for the objects a worker_shard owns: halves and
// sessions. An object counts its pending asynchronous operations; once it is closed and
// none is pending it asks the shard to delete it, posted, so never from inside its own
// call stack. Every completion handler goes through guard(), which is what makes a bare
// `this` in a handler safe: the object cannot be deleted while the handler is pending,
// and a handler that runs after close() only gives its count back.
//
// Single-threaded: only the owning worker touches the count.

#include "proxy/worker_shard.hpp"

#include <asio/post.hpp>

#include <utility>

namespace zp::proxy {

/// CRTP base; Derived has `bool closed() const` and is destroyed by
/// worker_shard::destroy(Derived*).
template <typename Derived>
class deferred_deletion {
 protected:
  /// `initially_pending` counts operations already in flight at construction (a session
  /// waits for the remote half's handoff).
  explicit deferred_deletion(worker_shard& shard, unsigned initially_pending = 0)
      : shard_(shard), pending_(initially_pending) {}

  /// Wraps a completion handler: counted while pending; after close() it only releases.
  template <typename F>
  auto guard(F f) {
    ++pending_;
    return [self = derived(), f = std::move(f)](auto&&... args) mutable {
      --self->pending_;
      if (self->closed()) return self->maybe_destroy();
      f(std::forward<decltype(args)>(args)...);
    };
  }
  /// An operation counted at construction (or by hand) completed.
  void operation_done() { --pending_; }
  /// Posts the deletion once closed with nothing pending; safe to call any number of times.
  void maybe_destroy() {
    if (!derived()->closed() || pending_ != 0 || destroy_posted_) return;
    destroy_posted_ = true;
    asio::post(shard_.io(), [&shard = shard_, self = derived()] { shard.destroy(self); });
  }

  worker_shard& shard_;

 private:
  Derived* derived() { return static_cast<Derived*>(this); }

  unsigned pending_;
  bool destroy_posted_ = false;
};

}  // namespace zp::proxy
