#include "provisioning/routes.hpp"

#include "common/http_response.hpp"

#include <nlohmann/json.hpp>

namespace zp::provisioning {
namespace {

api_response error(int status, std::string_view code, std::string_view message) {
  return {status, error_body(code, message)};
}

}  // namespace

api_response routes::handle(const http_request& req, const api_request_context&) const {
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));  // no route takes a query string
  if (path == "/v1/identity") {
    if (req.method != "GET") return error(405, "method_not_allowed", "use GET");
    return identity();
  }
  return error(404, "not_found", "no such route");
}

api_response routes::identity() const {
  nlohmann::json body = {
      {"state", context_.state},
      {"version", ZONEPROXY_VERSION},
      {"fingerprints", {{"rsa", context_.rsa_spki_sha256}, {"ecdsa", context_.ecdsa_spki_sha256}}},
  };
  return {200, body.dump()};
}

}  // namespace zp::provisioning
