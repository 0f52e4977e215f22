// zoneproxy-service-check.exe: the real service host and notifier around a stand-in for
// the daemon, to try the SCM integration on Windows without the data plane:
//
//   zoneproxy-service-check service install      (elevated; registers "zoneproxy")
//   sc start zoneproxy / sc stop zoneproxy       (RUNNING, then STOP_PENDING for 3 s)
//   zoneproxy-service-check service uninstall
//
// With ZONEPROXY_CHECK_FAIL=1 in the service's environment the stand-in exits with code
// 3 after 5 s, to watch the recovery actions restart it.
#include "common/platform/windows/win32_text.hpp"
#include "daemon/service_notifier.hpp"
#include "daemon/windows/service_host.hpp"

#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Manual-reset: set once by request_stop (the SCM's control thread), read by run.
HANDLE g_stop = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);

int run_stand_in(const zp::windows::service_options& options) {
  auto notifier = zp::make_service_notifier();
  notifier->status("event=listening note=\"stand-in daemon\" state_dir=\"" + options.state_dir + "\"");
  notifier->ready();
  const char* fail = std::getenv("ZONEPROXY_CHECK_FAIL");
  const DWORD wait_ms = fail != nullptr && std::string(fail) == "1" ? 5'000 : INFINITE;
  if (::WaitForSingleObject(g_stop, wait_ms) == WAIT_TIMEOUT) {
    notifier->status("event=stand_in_failing exit_code=3");
    return 3;
  }
  notifier->stopping();
  ::Sleep(3'000);  // a drain long enough to see STOP_PENDING with moving checkpoints
  return 0;
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.push_back(zp::windows::narrow(argv[i]));
  if (args.empty() || args[0] != "service") {
    std::fputs("usage: zoneproxy-service-check service install|uninstall|run\n", stderr);
    return 2;
  }
  args.erase(args.begin());
  zp::windows::hosted_program program{run_stand_in, [] { ::SetEvent(g_stop); }};
  return zp::windows::service_main(args, program);
}
