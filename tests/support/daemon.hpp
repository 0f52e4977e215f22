#pragma once
// A real `zoneproxy run` process on loopback with a fresh state dir and port 0, plus
// the test PKI made by certs/make-pki.sh.

#include "tests/support/process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace zp::test {

/// The test PKI (certs/make-pki.sh), made once per test binary.
const std::filesystem::path& test_pki();

class daemon {
 public:
  /// Starts the daemon with `state_dir` (created under a temp dir when empty), through
  /// `launcher` when given (e.g. {"/usr/bin/prlimit", "--nofile=400:400", "--"}).
  explicit daemon(std::vector<std::string> extra_args = {}, std::filesystem::path state_dir = {},
                  std::vector<std::string> env = {}, std::vector<std::string> launcher = {});

  /// True once the control API logged its listening address (or false on timeout/exit).
  bool wait_ready();
  std::uint16_t provisioning_port() const { return port_; }
  const std::filesystem::path& state_dir() const { return state_dir_; }
  process& proc() { return *proc_; }
  /// SIGTERM and wait; the exit status.
  std::optional<int> stop();

 private:
  temp_dir dir_;
  std::filesystem::path state_dir_;
  std::unique_ptr<process> proc_;
  std::uint16_t port_ = 0;
};

/// Parses the port of `event=listening listener=<name> addr=IP:PORT` from a log.
std::uint16_t listening_port(const std::string& log, const std::string& listener);

}  // namespace zp::test
