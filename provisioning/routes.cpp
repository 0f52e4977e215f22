#include "provisioning/routes.hpp"

#include "common/fingerprint.hpp"
#include "common/http_response.hpp"
#include "common/strings.hpp"

#include <openssl/crypto.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>

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

api_response routes::handle(const http_request& req, const api_request_context& ctx) const {
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));  // no route takes a query string
  const std::string& m = req.method;
  // Unknown paths are 404 before any authentication: the route list is public
  // (PROTOCOL.md 4.2), so answering 404 reveals nothing.
  static constexpr std::string_view k_routes[] = {
      "/v1/identity", "/v1/csr",          "/v1/provision", "/v1/status", "/v1/diagnostics",  "/metrics",
      "/v1/sessions", "/v1/certificates", "/v1/settings",  "/v1/trust",  "/v1/trust/revoke", "/v1/deprovision"};
  const bool known = std::find(std::begin(k_routes), std::end(k_routes), path) != std::end(k_routes) ||
                     path.rfind("/v1/sessions/", 0) == 0;
  if (!known) return error(404, "not_found", "no such route");
  if (auto denied = authenticate(req, ctx, path == "/v1/identity")) return *denied;

  auto body_json = [&]() -> std::variant<json, api_response> {
    auto parsed = parse_json_object(req.body);
    if (auto* e = std::get_if<field_error>(&parsed))
      return error(400, "bad_request", str_cat(e->field, ": ", e->message));
    return std::get<json>(std::move(parsed));
  };
  using state = control_plane::state;
  const bool provisioned = plane_.current() != state::unprovisioned;
  auto need_provisioned = [&]() -> std::optional<api_response> {
    if (provisioned) return std::nullopt;
    return error(409, "wrong_state", "the proxy is not provisioned");
  };
  auto method_is = [&](std::string_view want) -> std::optional<api_response> {
    if (m == want) return std::nullopt;
    return error(405, "method_not_allowed", str_cat("use ", want));
  };
#define ZP_REQUIRE(x) \
  if (auto r = (x)) return *r

  if (path == "/v1/identity") {
    ZP_REQUIRE(method_is("GET"));
    return ok(plane_.identity_json());
  }
  if (path == "/v1/csr") {
    ZP_REQUIRE(method_is("POST"));
    auto body = body_json();
    if (auto* r = std::get_if<api_response>(&body)) return *r;
    auto csr = parse_csr(std::get<json>(body));
    if (auto* e = std::get_if<field_error>(&csr)) return error(400, "bad_request", str_cat(e->field, ": ", e->message));
    return answer(plane_.csr(std::get<csr_request>(csr)));
  }
  if (path == "/v1/provision") {
    ZP_REQUIRE(method_is("POST"));
    auto body = body_json();
    if (auto* r = std::get_if<api_response>(&body)) return *r;
    return answer(plane_.provision(std::get<json>(body)));
  }
  if (path == "/v1/status") {
    ZP_REQUIRE(method_is("GET"));
    ZP_REQUIRE(need_provisioned());
    return ok(plane_.status());
  }
  if (path == "/v1/diagnostics") {
    ZP_REQUIRE(method_is("GET"));
    ZP_REQUIRE(need_provisioned());
    return ok(plane_.diagnostics());
  }
  if (path == "/metrics") {
    ZP_REQUIRE(method_is("GET"));
    ZP_REQUIRE(need_provisioned());
    return {200, plane_.metrics(), "text/plain; version=0.0.4; charset=utf-8"};
  }
  if (path == "/v1/sessions") {
    ZP_REQUIRE(method_is("GET"));
    ZP_REQUIRE(need_provisioned());
    return ok(plane_.sessions());
  }
  constexpr std::string_view sessions_prefix = "/v1/sessions/";
  if (path.substr(0, sessions_prefix.size()) == sessions_prefix) {
    ZP_REQUIRE(method_is("DELETE"));
    ZP_REQUIRE(need_provisioned());
    return answer(plane_.kill(path.substr(sessions_prefix.size())));
  }
  if (path == "/v1/certificates") {
    ZP_REQUIRE(method_is("PUT"));
    ZP_REQUIRE(need_provisioned());
    auto body = body_json();
    if (auto* r = std::get_if<api_response>(&body)) return *r;
    return answer(plane_.rotate(std::get<json>(body)));
  }
  if (path == "/v1/settings") {
    ZP_REQUIRE(method_is("PUT"));
    ZP_REQUIRE(need_provisioned());
    auto body = body_json();
    if (auto* r = std::get_if<api_response>(&body)) return *r;
    return answer(plane_.update_settings(std::get<json>(body)));
  }
  if (path == "/v1/trust") {
    ZP_REQUIRE(method_is("GET"));
    ZP_REQUIRE(need_provisioned());
    return ok(plane_.trust_json());
  }
  if (path == "/v1/trust/revoke") {
    ZP_REQUIRE(method_is("POST"));
    ZP_REQUIRE(need_provisioned());
    auto body = body_json();
    if (auto* r = std::get_if<api_response>(&body)) return *r;
    return answer(plane_.revoke(std::get<json>(body)));
  }
  if (path == "/v1/deprovision") {
    ZP_REQUIRE(method_is("POST"));
    ZP_REQUIRE(need_provisioned());
    if (plane_.current() == state::draining) return error(409, "wrong_state", "the proxy is draining");
    return answer(plane_.deprovision());
  }
#undef ZP_REQUIRE
  return error(404, "not_found", "no such route");
}

}  // namespace zp::provisioning
