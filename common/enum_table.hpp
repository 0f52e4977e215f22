#pragma once
// Tables with one row per value of an enum, each row naming its value in `id`: the one
// place where a value's names and properties are written (Envoy's stats habit). Rows are
// looked up by indexing with the value, so rows_match() checks at compile time that the
// table has a row for every value, in the enum's order:
//
//   static_assert(rows_match(k_counters, counter::count));

#include <cstddef>
#include <string_view>

namespace zp {

template <typename Row, std::size_t N, typename Enum>
constexpr bool rows_match(const Row (&rows)[N], Enum count) {
  if (N != static_cast<std::size_t>(count)) return false;
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(rows[i].id) != i) return false;
  }
  return true;
}

/// The simplest row: a value and its name (a label value, a JSON string).
template <typename Enum>
struct enum_name {
  Enum id;
  std::string_view name;
};

/// The row of `value` in a table rows_match() checked.
template <typename Row, std::size_t N, typename Enum>
constexpr const Row& row_of(const Row (&rows)[N], Enum value) {
  return rows[static_cast<std::size_t>(value)];
}

/// The name of `value` in a table of enum_name rows, or "unknown" for a value past the
/// rows (a corrupted or future value must not index out of the table).
template <typename Enum, std::size_t N>
constexpr std::string_view name_in(const enum_name<Enum> (&rows)[N], Enum value) {
  return static_cast<std::size_t>(value) < N ? rows[static_cast<std::size_t>(value)].name : "unknown";
}

}  // namespace zp
