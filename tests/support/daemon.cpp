#include "tests/support/daemon.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace zp::test {

namespace fs = std::filesystem;

const fs::path& test_pki() {
  static temp_dir* dir = [] {
    auto* d = new temp_dir();  // lives for the whole test binary
    auto r = run({"/bin/bash", (source_dir() / "certs/make-pki.sh").string(), (d->path() / "pki").string()});
    if (r.status != 0) throw std::runtime_error("make-pki.sh failed: " + r.output);
    return d;
  }();
  static const fs::path pki = dir->path() / "pki";
  return pki;
}

std::vector<std::string> daemon_command() {
  std::vector<std::string> words;
  if (const char* command = std::getenv("ZP_TEST_DAEMON"); command != nullptr && *command != '\0') {
    std::istringstream in(command);
    for (std::string w; in >> w;) words.push_back(w);
  }
  if (words.empty()) words.push_back((bin_dir() / "zoneproxy").string());
  return words;
}

bool daemon_is_windows() {
  const std::string last = daemon_command().back();
  return last.size() > 4 && last.compare(last.size() - 4, 4, ".exe") == 0;
}

std::string daemon_path(std::string_view path) {
  std::string out(path);
  if (!daemon_is_windows()) return out;
  std::replace(out.begin(), out.end(), '/', '\\');
  return out.starts_with('\\') ? "Z:" + out : out;
}

daemon::daemon(std::vector<std::string> extra_args, fs::path state_dir, std::vector<std::string> env,
               std::vector<std::string> launcher)
    : state_dir_(state_dir.empty() ? dir_.path() / "state" : std::move(state_dir)) {
  std::vector<std::string> argv = std::move(launcher);
  const std::vector<std::string> command = daemon_command();
  argv.insert(argv.end(), command.begin(), command.end());
  argv.insert(argv.end(), {"run", "--state-dir", state_dir_.string(), "--bind", "127.0.0.1", "--provisioning-port", "0",
                           "--workers", "2"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<process>(argv, dir_.path() / "daemon.log", std::move(env));
}

bool daemon::wait_ready() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    port_ = listening_port(proc_->output(), "provisioning");
    if (port_ != 0) return true;
    if (!proc_->running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void daemon::request_stop() { proc_->signal(daemon_is_windows() ? SIGINT : SIGTERM); }

std::optional<int> daemon::stop() {
  request_stop();
  return proc_->wait(std::chrono::seconds(40));
}

std::uint16_t listening_port(const std::string& log, const std::string& listener) {
  // No std::regex: GCC 12 warns inside it under sanitizers (-Werror).
  const std::string key = "event=listening listener=" + listener + " addr=";
  const auto at = log.find(key);
  if (at == std::string::npos) return 0;
  const auto colon = log.find(':', at + key.size());
  if (colon == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::atoi(log.c_str() + colon + 1));
}

}  // namespace zp::test
