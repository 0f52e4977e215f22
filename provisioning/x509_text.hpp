#pragma once
// How the control plane writes certificates and times for people: subjects in OpenSSL's
// one-line form, expiry as Unix time, timestamps as ISO 8601 UTC.

#include "common/fingerprint.hpp"

#include <openssl/x509.h>

#include <ctime>
#include <string>

namespace zp::provisioning {

using zp::subject_of;  // common/fingerprint.hpp
/// notAfter as Unix time.
std::time_t not_after(X509* cert);
/// "2026-12-01T03:34:41Z".
std::string iso8601(std::time_t t);

}  // namespace zp::provisioning
