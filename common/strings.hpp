#pragma once
// String building that accepts std::string_view. Debian's Abseil is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW=0), so absl::StrCat and friends
// do not take std::string_view; fmt does.

#include <absl/status/status.h>
#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>

/// Lets fmt (and so str_cat and spdlog) print absl::string_view, e.g. Status::message().
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

namespace zp {

/// Concatenates the fmt "{}" rendering of each argument.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::string out;
  (fmt::format_to(std::back_inserter(out), "{}", args), ...);
  return out;
}

/// Appends the fmt "{}" rendering of each argument.
template <typename... Args>
void str_append(std::string& out, const Args&... args) {
  (fmt::format_to(std::back_inserter(out), "{}", args), ...);
}

/// `s` without leading and trailing spaces and tabs (HTTP OWS) or CR/LF.
inline std::string_view trim_ascii(std::string_view s) {
  constexpr std::string_view ws = " \t\r\n";
  const auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

/// ASCII case-insensitive equality.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// An absl::Status message as std::string.
inline std::string message_of(const absl::Status& status) {
  return std::string(status.message().data(), status.message().size());
}

}  // namespace zp
