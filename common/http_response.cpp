#include "common/http_response.hpp"

#include <nlohmann/json.hpp>
#include "common/strings.hpp"

namespace zp {

std::string_view http_reason(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

std::string error_body(std::string_view code, std::string_view message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

std::string http_response(int status, std::string_view json_body, bool keep_alive) {
  std::string out = str_cat("HTTP/1.1 ", status, " ", http_reason(status), "\r\n");
  if (status != 204) {
    str_append(out, "Content-Type: application/json\r\nContent-Length: ", json_body.size(), "\r\n");
  }
  str_append(out, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n",
             "Cache-Control: no-store\r\n\r\n");
  if (status != 204) str_append(out, json_body);
  return out;
}

std::string http_error_response(int status, std::string_view code, std::string_view message, bool keep_alive) {
  return http_response(status, error_body(code, message), keep_alive);
}

}  // namespace zp
