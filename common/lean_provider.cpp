#include "common/lean_provider.hpp"

#include "common/openssl_ptr.hpp"
#include "common/strings.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <string_view>
#include <vector>

namespace zp {
namespace {

constexpr const char* k_name = "zoneproxy-lean";

// The real default provider, in a library context of its own (its algorithms fetch
// what they need there, from the whole provider), and the filtered tables. Built once
// by init(); the provider lives as long as the process.
struct lean_state {
  OSSL_LIB_CTX* inner = nullptr;
  OSSL_PROVIDER* real = nullptr;
  OSSL_PROVIDER* lean = nullptr;  // our handle in the default context, held for the process
  std::vector<OSSL_ALGORITHM> keymgmt, decoders;
};

lean_state& state() {
  static lean_state s;
  return s;
}

std::string_view first_name(const char* names) {
  std::string_view all(names);
  return all.substr(0, all.find(':'));
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> set) {
  for (auto s : set) {
    if (name == s) return true;
  }
  return false;
}

// Key types of the four suites, the three groups and the signature algorithms.
bool keep_keymgmt(const OSSL_ALGORITHM& a) {
  return is_one_of(first_name(a.algorithm_names), {"EC", "RSA", "RSA-PSS", "X25519"});
}

// DER to those key types (SubjectPublicKeyInfo, PrivateKeyInfo, type-specific), the
// SubjectPublicKeyInfo-to-type step, and PEM to DER (the proxy's files are PEM).
bool keep_decoder(const OSSL_ALGORITHM& a) {
  const std::string_view name = first_name(a.algorithm_names);
  const std::string_view props = a.property_definition != nullptr ? a.property_definition : "";
  if (props.find("input=der") != std::string_view::npos) return is_one_of(name, {"EC", "RSA", "RSA-PSS", "DER"});
  return name == "DER" && props.find("input=pem") != std::string_view::npos;
}

std::vector<OSSL_ALGORITHM> filtered(int operation, bool (*keep)(const OSSL_ALGORITHM&)) {
  std::vector<OSSL_ALGORITHM> out;
  int no_cache = 0;
  const OSSL_ALGORITHM* all = OSSL_PROVIDER_query_operation(state().real, operation, &no_cache);
  for (const OSSL_ALGORITHM* a = all; a != nullptr && a->algorithm_names != nullptr; ++a) {
    if (keep(*a)) out.push_back(*a);
  }
  if (all != nullptr) OSSL_PROVIDER_unquery_operation(state().real, operation, all);
  out.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
  return out;
}

const OSSL_ALGORITHM* query(void*, int operation, int* no_cache) {
  if (operation == OSSL_OP_KEYMGMT) {
    *no_cache = 0;
    return state().keymgmt.data();
  }
  if (operation == OSSL_OP_DECODER) {
    *no_cache = 0;
    return state().decoders.data();
  }
  return OSSL_PROVIDER_query_operation(state().real, operation, no_cache);
}

void unquery(void*, int operation, const OSSL_ALGORITHM* algorithms) {
  if (operation == OSSL_OP_KEYMGMT || operation == OSSL_OP_DECODER) return;  // ours, kept
  OSSL_PROVIDER_unquery_operation(state().real, operation, algorithms);
}

const OSSL_PARAM* gettable_params(void*) { return OSSL_PROVIDER_gettable_params(state().real); }
int get_params(void*, OSSL_PARAM params[]) { return OSSL_PROVIDER_get_params(state().real, params); }
// TLS-GROUP and TLS-SIGALG capabilities: libssl learns the groups from them.
int get_capabilities(void*, const char* capability, OSSL_CALLBACK* cb, void* arg) {
  return OSSL_PROVIDER_get_capabilities(state().real, capability, cb, arg);
}

// void (*)(void) is the generic dispatch type, and the one cast GCC does not warn about.
template <typename F>
void (*generic(F* f))() {
  return reinterpret_cast<void (*)()>(f);
}

const OSSL_DISPATCH k_dispatch[] = {{OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, generic(gettable_params)},
                                    {OSSL_FUNC_PROVIDER_GET_PARAMS, generic(get_params)},
                                    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, generic(query)},
                                    {OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, generic(unquery)},
                                    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, generic(get_capabilities)},
                                    {0, nullptr}};

int init(const OSSL_CORE_HANDLE*, const OSSL_DISPATCH*, const OSSL_DISPATCH** out, void** provctx) {
  lean_state& s = state();
  s.inner = OSSL_LIB_CTX_new();
  if (s.inner == nullptr) return 0;
  s.real = OSSL_PROVIDER_load(s.inner, "default");
  if (s.real == nullptr) {
    OSSL_LIB_CTX_free(s.inner);
    s.inner = nullptr;
    return 0;
  }
  s.keymgmt = filtered(OSSL_OP_KEYMGMT, keep_keymgmt);
  s.decoders = filtered(OSSL_OP_DECODER, keep_decoder);
  // The default provider's algorithms expect its own provider context.
  *provctx = OSSL_PROVIDER_get0_provider_ctx(s.real);
  *out = k_dispatch;
  return 1;
}

}  // namespace

absl::Status use_lean_default_provider() {
  ERR_clear_error();
  OSSL_PROVIDER* lean = nullptr;
  if (OSSL_PROVIDER_add_builtin(nullptr, k_name, init) != 1 ||
      (lean = OSSL_PROVIDER_load(nullptr, k_name)) == nullptr) {
    return absl::InternalError(str_cat("cannot load the lean OpenSSL provider: ", openssl_error_string()));
  }
  // Asking whether "default" is available would activate it (the fallback); listing
  // the active providers after ours is loaded does not.
  bool default_active = false;
  OSSL_PROVIDER_do_all(
      nullptr,
      [](OSSL_PROVIDER* p, void* found) {
        if (std::string_view(OSSL_PROVIDER_get0_name(p)) == "default") *static_cast<bool*>(found) = true;
        return 1;
      },
      &default_active);
  if (default_active) {
    OSSL_PROVIDER_unload(lean);
    return absl::FailedPreconditionError("OpenSSL's default provider was already in use; the lean one is not loaded");
  }
  state().lean = lean;
  return absl::OkStatus();
}

}  // namespace zp
