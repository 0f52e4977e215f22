#pragma once
// A real child process for tests (the daemon, zoneproxyctl, scripts): spawned with
// its stderr/stdout in a file, polled with deadlines, stopped by PID.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace zp::test {

/// The directory holding the built binaries (build/bin) and the source tree.
std::filesystem::path bin_dir();
std::filesystem::path source_dir();

class process {
 public:
  /// Starts `argv[0]` with `argv`; stdout and stderr both go to `log_file`.
  /// `env` entries ("K=V") are added to the inherited environment.
  process(std::vector<std::string> argv, std::filesystem::path log_file, std::vector<std::string> env = {});
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process();  // SIGKILLs a still-running child

  pid_t pid() const { return pid_; }
  /// Everything the child wrote so far.
  std::string output() const;
  /// Polls the output for `needle` until the deadline; true if seen.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  /// Sends a signal.
  void signal(int signo) const;
  /// Waits for exit; the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_file_;
};

/// Runs a command to completion (bounded), returning exit status and output.
struct run_result {
  int status = -1;
  std::string output;
};
run_result run(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// The whole content of a file (empty if unreadable).
std::string read_text(const std::filesystem::path& file);

/// A fresh directory under the system temp dir, removed with the object.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace zp::test
