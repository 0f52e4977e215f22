#pragma once
// The provisioning states of PROTOCOL.md 4 (`state` in every JSON answer, the state label
// of zoneproxy_provisioning_state): one row each, the only place they are named.

#include "common/enum_table.hpp"

#include <cstdint>
#include <string_view>

namespace zp::provisioning {

enum class provisioning_state : std::uint8_t { unprovisioned, provisioned, draining, count };

inline constexpr enum_name<provisioning_state> k_provisioning_states[] = {
    {provisioning_state::unprovisioned, "unprovisioned"},
    {provisioning_state::provisioned, "provisioned"},
    {provisioning_state::draining, "draining"},
};
static_assert(rows_match(k_provisioning_states, provisioning_state::count));

constexpr std::string_view state_name(provisioning_state s) { return name_in(k_provisioning_states, s); }

}  // namespace zp::provisioning
