// The rendezvous key (PROTOCOL.md 3.1) and the two roles that meet under it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace zp::proxy {

/// A 128-bit session id; a bearer secret, so only prefix() may ever be logged.
struct session_id {
  std::uint64_t hi = 0, lo = 0;  // hi holds the first 16 hex characters

  /// Parses exactly 32 lowercase hex characters ([0-9a-f]{32}); anything else is nullopt.
  static std::optional<session_id> parse(std::string_view hex);

  /// The first 8 hex characters: the most of the id that may appear in logs or reports.
  std::string prefix() const;

  /// Ids are equal when all 128 bits are.
  friend bool operator==(const session_id&, const session_id&) = default;

  /// Lets absl containers (the benchmark baselines) hash an id; the table uses its own salt.
  template <typename H>
  friend H AbslHashValue(H h, const session_id& id) {
    return H::combine(std::move(h), id.hi, id.lo);
  }
};

/// Which side of a session a connection is (PROTOCOL.md 1: endpoint or Module Server port).
enum class role : std::uint8_t { endpoint = 0, module_server = 1 };

inline constexpr std::size_t k_roles = 2;
/// "endpoint" or "module_server": how logs, metrics labels and JSON name a role (and its port).
constexpr std::string_view role_name(role r) { return r == role::endpoint ? "endpoint" : "module_server"; }

/// The role a half pairs with.
inline role opposite(role r) { return r == role::endpoint ? role::module_server : role::endpoint; }

}  // namespace zp::proxy
