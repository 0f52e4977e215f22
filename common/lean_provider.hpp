#pragma once
// The OpenSSL provider the daemon runs on: OpenSSL's own default provider, seen through
// a filter that hides the key types and decoders the proxy never uses.
//
// Why: on OpenSSL 3.0 every certificate parsed (a client certificate from the wire, the
// peer certificate inside every session ticket issued or opened) decodes its public key
// through OSSL_DECODER_CTX_new_for_pkey, which walks every key manager and decoder the
// library context offers, allocating as it goes (3.0 has no decoder cache). With all 18
// key managers and 40 decoders of the default provider, that walk was the largest single
// cost of a handshake burst (bench/RESULTS.md, issue 24); with the 4 key managers and
// the decoders for EC and RSA keys it costs half as much.
//
// Nothing else changes: every algorithm that is offered is the default provider's own
// implementation, unmodified; every other operation (digests, ciphers, signatures, key
// exchange, KDFs, MACs, random, encoders, stores) passes through whole. What is hidden:
// DH, DSA, Ed25519/Ed448, X448, SM2 and the MAC/KDF key types, and decoders from MSBLOB
// and PVK: none of them can appear in the four suites, the three groups, the signature
// algorithms of common/tls_policy.hpp, or the PEM keys and certificates the proxy
// writes and reads.

#include <absl/status/status.h>

namespace zp {

/// Loads the filtered provider into this process's default library context. Call it
/// once, before anything else uses OpenSSL: if the default provider is already active
/// there (something used OpenSSL first), nothing changes and the Status says so.
absl::Status use_lean_default_provider();

}  // namespace zp
