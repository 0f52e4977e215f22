#include "common/tls_error.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <asio/error.hpp>

#include <cctype>

namespace zp {
namespace {

class tls_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    // The reason strings of libssl, which a process that only parsed records may not
    // have loaded yet.
    static const bool loaded = OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, nullptr) == 1;
    (void)loaded;
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(value));
    return reason ? reason : "TLS protocol error";
  }
};

}  // namespace

const std::error_category& tls_category() {
  static const tls_category_impl category;
  return category;
}

std::error_code take_tls_error() {
  unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return {static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR)), tls_category()};
  // Drop the function/flags bits so equal reasons compare equal.
  return {static_cast<int>(ERR_PACK(ERR_GET_LIB(err), 0, ERR_GET_REASON(err))), tls_category()};
}

std::string tls_reason_name(const std::error_code& ec) {
  if (ec == asio::error::eof) return "eof";
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) return "reset";
  if (ec == asio::error::timed_out || ec == std::errc::timed_out) return "timeout";
  if (ec == asio::error::operation_aborted) return "aborted";
  if (ec.category() != tls_category()) return "io_error";
  std::string out;
  for (char c : ec.message()) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  }
  return out;
}

}  // namespace zp
