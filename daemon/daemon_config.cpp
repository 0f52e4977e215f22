#include "daemon/daemon_config.hpp"

#include "common/log.hpp"

#include <toml++/toml.h>
#include <asio/ip/address.hpp>
#include "common/strings.hpp"

#include <sstream>

namespace zp {

absl::Status set_bind(daemon_config& config, std::string_view value) {
  std::error_code ec;
  asio::ip::make_address(std::string(value), ec);
  if (ec) return absl::InvalidArgumentError(str_cat("bind: invalid value \"", value, "\" (expected an IP address)"));
  config.bind = std::string(value);
  return absl::OkStatus();
}

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
  if (!level.ok()) return level.status();
  config.log_level = *level;
  return absl::OkStatus();
}

absl::Status set_drain_timeout(daemon_config& config, std::int64_t seconds) {
  if (seconds < 0 || seconds > 3600) {
    return absl::InvalidArgumentError(str_cat("drain_timeout_s: invalid value \"", seconds, "\" (expected 0..3600)"));
  }
  config.drain_timeout = std::chrono::seconds(seconds);
  return absl::OkStatus();
}

absl::Status load_config_file(const std::filesystem::path& file, daemon_config& config) {
  auto prefixed = [&](const absl::Status& st) {
    return absl::InvalidArgumentError(str_cat("config ", file.string(), ": ", st.message()));
  };
  toml::table table;
  try {
    // toml++ reports syntax errors by exception; this is start-up, not the data path.
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return absl::InvalidArgumentError(
        str_cat("config ", file.string(), ":", where.line, ":", where.column, ": ", e.description()));
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
          str_cat(name, ": invalid value \"", shown.str(), "\" (expected ", expected, ")"));
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
    } else if (name == "provisioning_port") {
      auto v = node.value<std::int64_t>();
      st = node.is_integer() ? set_port(config, *v) : bad_type("an integer");
    } else if (name == "workers") {
      auto v = node.value<std::int64_t>();
      st = node.is_integer() ? set_workers(config, *v) : bad_type("an integer");
    } else if (name == "drain_timeout_s") {
      auto v = node.value<std::int64_t>();
      st = node.is_integer() ? set_drain_timeout(config, *v) : bad_type("an integer");
    } else if (name == "log_level") {
      auto v = node.value<std::string>();
      st = v ? set_log_level(config, *v) : bad_type("trace|debug|info|warn|error");
    } else {
      st = absl::InvalidArgumentError(str_cat("unknown key \"", name, "\""));
    }
    if (!st.ok()) return prefixed(st);
  }
  return absl::OkStatus();
}

}  // namespace zp
