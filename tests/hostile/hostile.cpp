#include "tests/hostile/hostile.hpp"

#include "common/tls_policy.hpp"

#include <unistd.h>

#include <cstdio>
#include <sstream>

namespace zp::test {

namespace {

std::vector<std::string> with_short_drain(std::vector<std::string> args) {
  args.insert(args.begin(), {"--drain-timeout", "1"});
  return args;
}

}  // namespace

provisioned_daemon::provisioned_daemon(std::vector<std::string> settings, std::vector<std::string> launcher,
                                       std::vector<std::string> env, std::filesystem::path state_dir,
                                       std::vector<std::string> daemon_args)
    : d_(std::make_unique<daemon>(with_short_drain(std::move(daemon_args)), std::move(state_dir), std::move(env),
                                  std::move(launcher))),
      ms_(module_server_ctx()) {
  auto ep = make_client_ctx(nullptr, {});
  if (ep.ok()) ep_ = std::move(*ep);
  if (!d_->wait_ready()) {
    // Why, for whichever test asserts ok(): a start that failed or never finished.
    std::fprintf(stderr, "provisioned_daemon: the daemon did not come up; its output:\n%s\n",
                 d_->proc().output().c_str());
    return;
  }
  std::vector<std::string> extra;
  for (const auto& s : settings) extra.insert(extra.end(), {"--set", s});
  ports_ = provision(*d_, extra);
}

std::optional<http_reply> provisioned_daemon::call(const std::string& method, const std::string& path,
                                                   const std::string& body) {
  return api_call(api_port(), ms_.get(), method, path, body);
}

nlohmann::json provisioned_daemon::json_of(const std::string& method, const std::string& path,
                                           const std::string& body) {
  auto r = call(method, path, body);
  return r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
}

double provisioned_daemon::metric(const std::string& sample) {
  auto r = call("GET", "/metrics");
  return r ? metric_sample(r->body, sample) : -1;
}

unique_fd::~unique_fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string host(int n) { return "127.0.0." + std::to_string(n); }

}  // namespace zp::test
