#include "provisioning/x509_text.hpp"

#include <openssl/crypto.h>

#include <chrono>

namespace zp::provisioning {

std::time_t not_after(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  // UTC fields to a time_t without timegm(), which Windows lacks.
  using namespace std::chrono;
  const sys_days day = year{tm.tm_year + 1900} / (tm.tm_mon + 1) / tm.tm_mday;
  return system_clock::to_time_t(day + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec});
}

std::string iso8601(std::time_t t) {
  char buf[32];
  std::tm tm{};
  OPENSSL_gmtime(&t, &tm);  // gmtime_r on POSIX, gmtime_s on Windows
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace zp::provisioning
