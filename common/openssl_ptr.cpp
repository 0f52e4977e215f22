#include "common/openssl_ptr.hpp"

#include <openssl/err.h>

namespace zp {

std::string openssl_error_string() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace zp
