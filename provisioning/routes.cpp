#include "provisioning/routes.hpp"

#include "common/fingerprint.hpp"
#include "common/http_response.hpp"
#include "common/strings.hpp"
#include "provisioning/x509_text.hpp"

#include <openssl/crypto.h>
#include <nlohmann/json.hpp>

namespace zp::provisioning {
namespace {

using json = nlohmann::json;

api_response error(int status, std::string_view code, std::string_view message) {
  return {status, error_body(code, message)};
}

api_response ok(const json& body) { return {200, body.dump()}; }

template <typename T>
api_response answer(api_result<T> r) {
  if (auto* e = std::get_if<api_error>(&r)) return error(e->status, e->code, e->message);
  if constexpr (std::is_same_v<T, bool>) {
    return {204, ""};
  } else {
    return ok(std::get<T>(r));
  }
}

// Constant-time comparison: the time taken must not reveal how much of a guessed
// token matched.
bool token_matches(std::string_view presented, const std::string& token) {
  if (token.empty() || presented.size() != token.size()) return false;
  return CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

}  // namespace

std::optional<api_response> routes::authenticate(const http_request& req, const api_request_context& ctx,
                                                 bool identity_route) const {
  if (plane_.current() == control_plane::state::unprovisioned) {
    if (identity_route) return std::nullopt;  // PROTOCOL.md 4.2: no token needed
    std::string_view auth = req.header("authorization");
    constexpr std::string_view bearer = "Bearer ";
    if (auth.substr(0, bearer.size()) != bearer ||
        !token_matches(auth.substr(bearer.size()), plane_.bootstrap_token())) {
      return error(401, "unauthorized", "a valid \"Authorization: Bearer <bootstrap token>\" is required");
    }
    return std::nullopt;
  }
  // Provisioned: the handshake already required a trusted, unrevoked client
  // certificate. A certificate revoked while its keep-alive connection stayed open is
  // refused here, before any answer (PROTOCOL.md 4.2).
  if (ctx.client_cert == nullptr || plane_.is_revoked(cert_sha256_hex(ctx.client_cert))) {
    return api_response{0, ""};
  }
  return std::nullopt;
}

namespace {

// One row per route of PROTOCOL.md 4.2, and POST /v1/keys/rotate (README "Rotating
// keys"). `run` gets the path after `path` (for a prefix route) and, for a route with a
// body, the parsed JSON object.
struct route {
  std::string_view method;
  std::string_view path;
  bool prefix = false;             // path is a prefix ("/v1/sessions/<id>")
  bool needs_provisioned = false;  // 409 wrong_state before provisioning
  bool takes_body = false;
  bool read_only = false;  // observers may call it (PROTOCOL.md 4.5)
  api_response (*run)(control_plane& plane, std::string_view rest, const json& body, const audit_actor& who);
};

const json k_no_body;

constexpr route k_routes[] = {
    {"GET", "/v1/identity", false, false, false, true,
     [](control_plane& p, std::string_view, const json&, const audit_actor&) { return ok(p.identity_json()); }},
    {"POST", "/v1/csr", false, false, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor&) {
       auto csr = parse_csr(body);
       if (auto* e = std::get_if<field_error>(&csr))
         return error(400, "bad_request", str_cat(e->field, ": ", e->message));
       return answer(p.csr(std::get<csr_request>(csr)));
     }},
    {"POST", "/v1/provision", false, false, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor& who) {
       return answer(p.provision(body, who));
     }},
    {"GET", "/v1/status", false, true, false, true,
     [](control_plane& p, std::string_view, const json&, const audit_actor&) { return ok(p.status()); }},
    {"GET", "/v1/diagnostics", false, true, false, true,
     [](control_plane& p, std::string_view, const json&, const audit_actor&) { return ok(p.diagnostics()); }},
    {"GET", "/metrics", false, true, false, true,
     [](control_plane& p, std::string_view, const json&, const audit_actor&) {
       return api_response{200, p.metrics(), "text/plain; version=0.0.4; charset=utf-8"};
     }},
    {"GET", "/v1/sessions", false, true, false, true,
     [](control_plane& p, std::string_view, const json&, const audit_actor&) { return ok(p.sessions()); }},
    {"DELETE", "/v1/sessions/", true, true, false, false,
     [](control_plane& p, std::string_view id, const json&, const audit_actor& who) {
       return answer(p.kill(id, who));
     }},
    {"PUT", "/v1/certificates", false, true, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor& who) {
       return answer(p.rotate(body, who));
     }},
    {"POST", "/v1/keys/rotate", false, true, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor& who) {
       return answer(p.rotate_keys(body, who));
     }},
    {"PUT", "/v1/settings", false, true, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor& who) {
       return answer(p.update_settings(body, who));
     }},
    {"GET", "/v1/trust", false, true, false, true,
     [](control_plane& p, std::string_view, const json&, const audit_actor&) { return ok(p.trust_json()); }},
    {"PUT", "/v1/trust/cas", false, true, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor& who) {
       return answer(p.replace_cas(body, who));
     }},
    {"POST", "/v1/trust/revoke", false, true, true, false,
     [](control_plane& p, std::string_view, const json& body, const audit_actor& who) {
       return answer(p.revoke(body, who));
     }},
    {"POST", "/v1/deprovision", false, true, false, false,
     [](control_plane& p, std::string_view, const json&, const audit_actor& who) {
       if (p.current() == control_plane::state::draining) return error(409, "wrong_state", "the proxy is draining");
       return answer(p.deprovision(who));
     }},
};

bool matches(const route& r, std::string_view path) {
  return r.prefix ? path.size() >= r.path.size() && path.substr(0, r.path.size()) == r.path : path == r.path;
}

}  // namespace

api_response routes::handle(const http_request& req, const api_request_context& ctx) const {
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));  // no route takes a query string
  // Unknown paths are 404 before any authentication: the route list is public
  // (PROTOCOL.md 4.2), so answering 404 reveals nothing.
  const route* found = nullptr;
  for (const route& r : k_routes) {
    if (!matches(r, path)) continue;
    found = &r;
    if (r.method == req.method) break;
  }
  if (found == nullptr) return error(404, "not_found", "no such route");
  if (auto denied = authenticate(req, ctx, path == "/v1/identity")) return *denied;
  if (found->method != req.method) return error(405, "method_not_allowed", str_cat("use ", found->method));
  // PROTOCOL.md 4.5: an observer's certificate reads, and changes nothing.
  if (plane_.current() != control_plane::state::unprovisioned && !found->read_only &&
      !plane_.is_operator(ctx.client_cert, ctx.client_chain)) {
    return error(403, "forbidden", "an observer certificate may only use the read-only routes");
  }
  if (found->needs_provisioned && plane_.current() == control_plane::state::unprovisioned) {
    return error(409, "wrong_state", "the proxy is not provisioned");
  }
  const std::string_view rest = found->prefix ? path.substr(found->path.size()) : std::string_view();
  const audit_actor who{ctx.client_cert ? subject_of(ctx.client_cert) : std::string("bootstrap-token"),
                        ctx.client_cert ? cert_sha256_hex(ctx.client_cert) : std::string(), ctx.peer, ctx.client_cert,
                        ctx.client_chain};
  if (!found->takes_body) return found->run(plane_, rest, k_no_body, who);
  auto parsed = parse_json_object(req.body);
  if (auto* e = std::get_if<field_error>(&parsed))
    return error(400, "bad_request", str_cat(e->field, ": ", e->message));
  return found->run(plane_, rest, std::get<json>(parsed), who);
}

}  // namespace zp::provisioning
