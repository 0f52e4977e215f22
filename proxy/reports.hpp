#pragma once
// What the data plane reports about its connections, as plain values for the control
// plane: /v1/sessions rows and the recent errors of /v1/diagnostics.

#include "proxy/session_id.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace zp::proxy {

/// One session or waiting half as /v1/sessions shows it (id prefix only: the id is a
/// bearer secret).
struct session_info {
  std::string id_prefix;
  std::string state;         // "live" or "waiting"
  std::string waiting_role;  // for a waiting half: "endpoint" or "module_server"
  std::string endpoint_address, module_server_address;
  std::uint64_t bytes_endpoint_to_module_server = 0, bytes_module_server_to_endpoint = 0;
  double age_s = 0;
  unsigned worker = 0;
};

/// A recent error for /v1/diagnostics.
struct error_record {
  std::chrono::system_clock::time_point time;
  role listener;
  std::string peer;
  std::string reason;
};

}  // namespace zp::proxy
