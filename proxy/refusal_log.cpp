#include "proxy/refusal_log.hpp"

#include <spdlog/spdlog.h>

namespace zp::proxy {

refusal_log::refusal_log(asio::io_context& io, std::chrono::seconds interval) : interval_(interval), timer_(io) {}

void refusal_log::add(role listener, const asio::ip::address& source, std::string_view reason) {
  key k{listener, source.to_string(), reason};
  if (auto it = counts_.find(k); it != counts_.end()) {
    ++it->second;
  } else {
    if (counts_.size() >= k_max_keys) std::get<1>(k) = "other";
    ++counts_[std::move(k)];
  }
  if (armed_) return;
  // Armed only while there is something to write: an idle worker never wakes for it.
  armed_ = true;
  timer_.expires_after(interval_);
  timer_.async_wait([this](std::error_code ec) {
    if (ec) return;  // flush() cancelled it (the data plane stops); `this` may be gone
    on_interval();
  });
}

void refusal_log::on_interval() {
  armed_ = false;
  for (const auto& [k, n] : counts_) {
    const auto& [listener, peer, reason] = k;
    spdlog::info("event=refused listener={} peer={} reason={} count={} interval_s={}", role_name(listener), peer,
                 reason, n, interval_.count());
  }
  counts_.clear();
}

void refusal_log::flush() {
  timer_.cancel();
  on_interval();
}

}  // namespace zp::proxy
