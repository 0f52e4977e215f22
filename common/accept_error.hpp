#pragma once
// Why an accept failed (common/accept_loop.hpp): the reason label of its counter.

#include "common/enum_table.hpp"

#include <cstdint>
#include <string_view>

namespace zp {

enum class accept_error : std::uint8_t { fd_exhausted, no_buffers, other, count };
inline constexpr enum_name<accept_error> k_accept_errors[] = {
    {accept_error::fd_exhausted, "fd_exhausted"},
    {accept_error::no_buffers, "no_buffers"},
    {accept_error::other, "accept_failed"},
};
static_assert(rows_match(k_accept_errors, accept_error::count));
constexpr std::string_view accept_error_name(accept_error e) { return name_in(k_accept_errors, e); }

}  // namespace zp
