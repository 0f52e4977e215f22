#include "common/terminal.hpp"

#include <unistd.h>

namespace zp {

bool is_terminal(std::FILE* stream) { return ::isatty(::fileno(stream)) != 0; }

}  // namespace zp
