#pragma once
// A real `zoneproxy run` process on loopback with a fresh state dir and port 0, plus
// the test PKI made by certs/make-pki.sh.

#include "tests/support/process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zp::test {

/// The test PKI (certs/make-pki.sh), made once per test binary.
const std::filesystem::path& test_pki();

/// The daemon under test: the words of $ZP_TEST_DAEMON (e.g. "/usr/lib/wine/wine64
/// build-windows/bin/zoneproxy.exe"), or build/bin/zoneproxy when it is unset. One variable,
/// so the same black-box tests run against the Linux and the Windows daemon.
std::vector<std::string> daemon_command();
/// Whether the daemon under test is the Windows one (its command names a .exe).
bool daemon_is_windows();
/// A path as the daemon under test spells it in its messages: unchanged for Linux; for
/// zoneproxy.exe under Wine, "/tmp/x/y" is "Z:\tmp\x\y" (and "a/b" is "a\b").
std::string daemon_path(std::string_view path);

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
  /// The stop request: SIGTERM (for the Windows daemon under Wine, SIGINT: Wine turns it
  /// into the console's Ctrl-C event, the Windows stop request). Does not wait.
  void request_stop();
  /// request_stop() and wait; the exit status.
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
