#include "common/terminal.hpp"

#include <io.h>

namespace zp {

bool is_terminal(std::FILE* stream) { return ::_isatty(::_fileno(stream)) != 0; }

}  // namespace zp
