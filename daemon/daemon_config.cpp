#include "daemon/daemon_config.hpp"

#include "common/atomic_file.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "provisioning/metrics_listener.hpp"

#include <toml++/toml.h>
#include <asio/ip/address.hpp>

#include <sstream>

namespace zp {
namespace {

// A key or value from the file, fit for a one-line error: control and non-ASCII bytes
// become \xNN (a quoted TOML key may hold a newline).
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// An integer node's value. Only for nodes that are integers: toml++'s value<int64_t>()
// also converts floats, with undefined behaviour for ones out of range (found by fuzzing).
std::int64_t integer_of(const toml::node& node) { return node.as_integer()->get(); }

}  // namespace

absl::Status set_bind(daemon_config& config, std::string_view value) {
  std::error_code ec;
  asio::ip::make_address(std::string(value), ec);
  if (ec) {
    return absl::InvalidArgumentError(
        str_cat("bind: invalid value \"", printable(value), "\" (expected an IP address)"));
  }
  config.bind = std::string(value);
  return absl::OkStatus();
}

std::string_view bind_key(listener_port port) {
  switch (port) {
    case listener_port::endpoint:
      return "endpoint_bind";
    case listener_port::module_server:
      return "module_server_bind";
    case listener_port::provisioning:
      break;
  }
  return "provisioning_bind";
}

namespace {

// The member holding one listener's own address.
std::string daemon_config::*own_bind(listener_port port) {
  switch (port) {
    case listener_port::endpoint:
      return &daemon_config::endpoint_bind;
    case listener_port::module_server:
      return &daemon_config::module_server_bind;
    case listener_port::provisioning:
      break;
  }
  return &daemon_config::provisioning_bind;
}

}  // namespace

absl::Status set_bind(daemon_config& config, listener_port port, std::string_view value) {
  std::error_code ec;
  asio::ip::make_address(std::string(value), ec);
  if (ec) {
    return absl::InvalidArgumentError(
        str_cat(bind_key(port), ": invalid value \"", printable(value), "\" (expected an IP address)"));
  }
  config.*own_bind(port) = std::string(value);
  return absl::OkStatus();
}

const std::string& bind_address(const daemon_config& config, listener_port port) {
  const std::string& own = config.*own_bind(port);
  return own.empty() ? config.bind : own;
}

std::vector<std::string_view> changed_keys(const daemon_config& before, const daemon_config& after) {
  std::vector<std::string_view> out;
  auto check = [&](std::string_view key, bool differs) {
    if (differs) out.push_back(key);
  };
  check("state_dir", before.state_dir != after.state_dir);
  check("bind", before.bind != after.bind);
  for (auto port : {listener_port::endpoint, listener_port::module_server, listener_port::provisioning}) {
    check(bind_key(port), bind_address(before, port) != bind_address(after, port));
  }
  check("provisioning_port", before.provisioning_port != after.provisioning_port);
  check("workers", before.workers != after.workers);
  check("log_level", before.log_level != after.log_level);
  check("session_log", before.session_log != after.session_log);
  check("drain_timeout_s", before.drain_timeout != after.drain_timeout);
  check("session_ticket_period_s", before.session_ticket_period != after.session_ticket_period);
  check("metrics_listen", before.metrics_listen != after.metrics_listen);
  check("metrics_listen_public", before.metrics_listen_public != after.metrics_listen_public);
  check("record_layer", before.record_layer != after.record_layer);
  return out;
}

bool applies_live(std::string_view key) { return key == "log_level" || key == "session_log" || key == "record_layer"; }

absl::Status set_port(daemon_config& config, std::int64_t value) {
  if (value < 0 || value > 65535) {
    return absl::InvalidArgumentError(str_cat("provisioning_port: invalid value \"", value, "\" (expected 0..65535)"));
  }
  config.provisioning_port = static_cast<std::uint16_t>(value);
  return absl::OkStatus();
}

absl::Status set_workers(daemon_config& config, std::int64_t value) {
  if (value < 1 || value > k_max_workers) {
    return absl::InvalidArgumentError(
        str_cat("workers: invalid value \"", value, "\" (expected 1..", k_max_workers, ")"));
  }
  config.workers = static_cast<unsigned>(value);
  return absl::OkStatus();
}

absl::Status set_log_level(daemon_config& config, std::string_view value) {
  auto level = log::parse_level(value);
  if (!level.ok()) {
    // The value as given, made printable: the error must stay one line.
    return absl::InvalidArgumentError(
        str_cat("log_level: invalid value \"", printable(value), "\" (expected trace|debug|info|warn|error)"));
  }
  config.log_level = *level;
  return absl::OkStatus();
}

absl::Status set_session_log(daemon_config& config, std::string_view value) {
  auto mode = proxy::parse_session_log_mode(value);
  if (!mode) {
    return absl::InvalidArgumentError(
        str_cat("session_log: invalid value \"", printable(value), "\" (expected all|ends|off)"));
  }
  config.session_log = *mode;
  return absl::OkStatus();
}

absl::Status set_drain_timeout(daemon_config& config, std::int64_t seconds) {
  if (seconds < 0 || seconds > 3600) {
    return absl::InvalidArgumentError(str_cat("drain_timeout_s: invalid value \"", seconds, "\" (expected 0..3600)"));
  }
  config.drain_timeout = std::chrono::seconds(seconds);
  return absl::OkStatus();
}

absl::Status set_session_ticket_period(daemon_config& config, std::int64_t seconds) {
  if (seconds < 1 || seconds > 3600) {
    return absl::InvalidArgumentError(
        str_cat("session_ticket_period_s: invalid value \"", seconds, "\" (expected 1..3600)"));
  }
  config.session_ticket_period = std::chrono::seconds(seconds);
  return absl::OkStatus();
}

absl::Status set_metrics_listen(daemon_config& config, std::string_view value) {
  // The form only: whether the address may be used depends on metrics_listen_public,
  // which may come later (metrics_endpoint() decides once everything is read).
  daemon_config probe;
  probe.metrics_listen = std::string(value);
  probe.metrics_listen_public = true;
  if (auto ep = metrics_endpoint(probe); !ep.ok()) return ep.status();
  config.metrics_listen = probe.metrics_listen;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::pair<std::string, std::uint16_t>>> metrics_endpoint(const daemon_config& config) {
  if (config.metrics_listen.empty()) return std::nullopt;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        str_cat("metrics_listen: invalid value \"", printable(config.metrics_listen), "\" (", why, ")"));
  };
  const std::string& v = config.metrics_listen;
  const auto colon = v.rfind(':');
  if (colon == std::string::npos) return bad("expected ADDR:PORT");
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return bad("expected ADDR:PORT with an IP address");
  const std::string port_text = v.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port_text) > 65535) {
    return bad("expected a port 0..65535");
  }
  if (!config.metrics_listen_public && !provisioning::is_local_or_private(address)) {
    return bad("not a loopback or private address; set metrics_listen_public = true to serve metrics there");
  }
  return std::make_pair(address.to_string(), static_cast<std::uint16_t>(std::stoul(port_text)));
}

absl::Status load_config_file(const std::filesystem::path& file, daemon_config& config) {
  auto text = read_file(file, 1 << 20);
  if (!text.ok()) return absl::InvalidArgumentError(str_cat("config ", file.string(), ": ", text.status().message()));
  return parse_config_text(*text, file.string(), config);
}

absl::Status parse_config_text(std::string_view text, std::string_view name_for_errors, daemon_config& config) {
  auto prefixed = [&](const absl::Status& st) {
    return absl::InvalidArgumentError(str_cat("config ", printable(name_for_errors), ": ", st.message()));
  };
  toml::table table;
  try {
    // toml++ reports syntax errors by exception; this is start-up, not the data path.
    table = toml::parse(text, name_for_errors);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return absl::InvalidArgumentError(str_cat("config ", printable(name_for_errors), ":", where.line, ":", where.column,
                                              ": ", printable(e.description())));
  }
  for (const auto& entry : table) {
    // Named references, not a structured binding: clang 14 cannot capture those.
    const toml::key& key = entry.first;
    const toml::node& node = entry.second;
    const std::string_view name = key.str();
    absl::Status st;
    auto bad_type = [&](std::string_view expected) {
      std::ostringstream shown;
      if (auto text = node.value<std::string>()) {
        shown << *text;
      } else {
        node.visit([&](const auto& v) { shown << v; });
      }
      return absl::InvalidArgumentError(
          str_cat(printable(name), ": invalid value \"", printable(shown.str()), "\" (expected ", expected, ")"));
    };
    if (name == "state_dir") {
      auto v = node.value<std::string>();
      if (!v || v->empty())
        st = bad_type("a directory path");
      else
        config.state_dir = *v;
    } else if (name == "bind") {
      auto v = node.value<std::string>();
      st = v ? set_bind(config, *v) : bad_type("an IP address string");
    } else if (name == "endpoint_bind" || name == "module_server_bind" || name == "provisioning_bind") {
      const auto port = name == "endpoint_bind"        ? listener_port::endpoint
                        : name == "module_server_bind" ? listener_port::module_server
                                                       : listener_port::provisioning;
      auto v = node.value<std::string>();
      st = v ? set_bind(config, port, *v) : bad_type("an IP address string");
    } else if (name == "provisioning_port") {
      st = node.is_integer() ? set_port(config, integer_of(node)) : bad_type("an integer");
    } else if (name == "workers") {
      st = node.is_integer() ? set_workers(config, integer_of(node)) : bad_type("an integer");
    } else if (name == "drain_timeout_s") {
      st = node.is_integer() ? set_drain_timeout(config, integer_of(node)) : bad_type("an integer");
    } else if (name == "session_ticket_period_s") {
      st = node.is_integer() ? set_session_ticket_period(config, integer_of(node)) : bad_type("an integer");
    } else if (name == "metrics_listen") {
      auto v = node.value<std::string>();
      st = v ? set_metrics_listen(config, *v) : bad_type("an ADDR:PORT string");
    } else if (name == "metrics_listen_public" || name == "record_layer") {
      auto v = node.value<bool>();
      if (v) {
        (name == "record_layer" ? config.record_layer : config.metrics_listen_public) = *v;
      } else {
        st = bad_type("true or false");
      }
    } else if (name == "log_level") {
      auto v = node.value<std::string>();
      st = v ? set_log_level(config, *v) : bad_type("trace|debug|info|warn|error");
    } else if (name == "session_log") {
      auto v = node.value<std::string>();
      st = v ? set_session_log(config, *v) : bad_type("all|ends|off");
    } else {
      st = absl::InvalidArgumentError(str_cat("unknown key \"", printable(name), "\""));
    }
    if (!st.ok()) return prefixed(st);
  }
  return absl::OkStatus();
}

}  // namespace zp
