#pragma once
// Whether a standard stream is a terminal (a prompt may be asked, a screen cleared).

#include <cstdio>

namespace zp {

/// True if `stream` (stdin, stdout or stderr) is attached to a terminal or console.
bool is_terminal(std::FILE* stream);

}  // namespace zp
