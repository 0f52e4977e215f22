#include "provisioning/ctl/cli.hpp"

#include "common/atomic_file.hpp"
#include "common/strings.hpp"
#include "provisioning/ctl/human.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace zp::ctl {

using json = nlohmann::json;

int fail(std::string_view what, int code) {
  std::fprintf(stderr, "zoneproxyctl: %.*s\n", static_cast<int>(what.size()), what.data());
  return code;
}

std::string read_or_die(const std::string& path, const char* what) {
  auto text = read_file(path);
  if (!text.ok()) {
    std::exit(fail(str_cat(what, ": ", text.status().message()), k_usage));
  }
  return *text;
}

int unreachable(const globals& g, const absl::Status& why) {
  return fail(str_cat("cannot reach the proxy at ", g.proxy, ": ", why.message()), k_unreachable);
}

std::optional<json> call(const globals& g, api_client& client, int& exit_code, const std::string& method,
                         const std::string& path, const json& body) {
  auto r = client.call(method, path, body.is_null() ? std::string() : body.dump());
  if (!r.ok()) {
    exit_code = unreachable(g, r.status());
    return std::nullopt;
  }
  if (r->status >= 300) {
    auto j = json::parse(r->body, nullptr, false);
    std::string msg = !j.is_discarded() && j.contains("error")
                          ? str_cat(j["error"].value("code", "?"), ": ", j["error"].value("message", ""))
                          : r->body;
    if (g.json_out) std::cout << r->body << "\n";
    exit_code = fail(str_cat("the proxy refused (", r->status, ") ", msg), k_refused);
    return std::nullopt;
  }
  exit_code = k_ok;
  if (r->body.empty()) return json::object();
  auto j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json(r->body) : j;
}

namespace {

// A value as an operator reads it: "_s" keys are durations, byte counts get units.
std::string human_value(std::string_view key, const json& v) {
  if (v.is_number() && !v.is_boolean()) {
    const auto ends_with = [&](std::string_view tail) {
      return key.size() >= tail.size() && key.substr(key.size() - tail.size()) == tail;
    };
    if (ends_with("_s")) return human_duration(v.get<double>());
    if (key.find("bytes") != std::string_view::npos) return human_bytes(v.get<double>());
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Prints a JSON object as "key: value" lines, nested objects indented.
void print_tree(const json& j, int indent) {
  for (const auto& [k, v] : j.items()) {
    std::string pad(static_cast<std::size_t>(indent), ' ');
    if (v.is_object()) {
      std::cout << pad << k << ":\n";
      print_tree(v, indent + 2);
    } else if (v.is_array() && !v.empty() && v.front().is_object()) {
      std::cout << pad << k << ":\n";
      for (const auto& item : v) {
        std::cout << pad << "  -\n";
        print_tree(item, indent + 4);
      }
    } else {
      std::cout << pad << k << ": " << human_value(k, v) << "\n";
    }
  }
}

}  // namespace

void print_sessions(const json& j) {
  std::printf("%-10s %-8s %-16s %-16s %11s %11s %8s\n", "ID", "STATE", "ENDPOINT", "MODULE SERVER", "E->M", "M->E",
              "AGE");
  for (const auto& s : j["sessions"]) {
    auto str = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string("-"); };
    std::printf("%-10s %-8s %-16s %-16s %11s %11s %8s\n", str(s["id_prefix"]).c_str(), str(s["state"]).c_str(),
                str(s["endpoint_address"]).c_str(), str(s["module_server_address"]).c_str(),
                human_bytes(s.value("bytes_endpoint_to_module_server", 0.0)).c_str(),
                human_bytes(s.value("bytes_module_server_to_endpoint", 0.0)).c_str(),
                human_duration(s.value("age_s", 0.0)).c_str());
  }
}

int show(const globals& g, const std::optional<json>& out, int rc) {
  if (!out) return rc;
  if (g.json_out) {
    std::cout << out->dump(2) << "\n";
  } else {
    print_tree(*out, 0);
  }
  return rc;
}

}  // namespace zp::ctl
