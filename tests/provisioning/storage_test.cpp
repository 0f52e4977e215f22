// PROTOCOL.md 4.3 (1.2): a change the state directory cannot take (no space left, a
// read-only file system) is 503 storage_unavailable naming the file and the reason,
// changes nothing in memory or on disk, and the same request succeeds once the cause is
// gone; the proxy keeps serving meanwhile. A first start there exits 2 with one line
// naming the file. The state directory is a small tmpfs of the test's own, so mounting
// needs root (CI has it); without it the tests skip, saying so.

#include "tests/support/control_client.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace zp::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* k_size = "size=2m";

// A tmpfs of 2 MiB mounted on a fresh directory, unmounted with the object.
class small_tmpfs {
 public:
  small_tmpfs() : at_(dir_.path() / "mnt") {
    fs::create_directories(at_);
    if (::mount("zoneproxy-test", at_.c_str(), "tmpfs", 0, k_size) != 0) error_ = std::strerror(errno);
  }
  ~small_tmpfs() {
    if (error_.empty()) ::umount2(at_.c_str(), MNT_DETACH);
  }
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;

  // Empty when mounted, else why not.
  const std::string& error() const { return error_; }
  const fs::path& path() const { return at_; }

  // Writes zeros until the file system is full; the filler file is what to remove.
  fs::path fill() const {
    const fs::path filler = at_ / "filler";
    std::FILE* f = std::fopen(filler.c_str(), "wb");
    if (f == nullptr) return filler;
    static const char zeros[64 * 1024] = {};
    while (std::fwrite(zeros, 1, sizeof zeros, f) == sizeof zeros) {
    }
    std::fclose(f);
    // tmpfs fills in pages: also take the last partial one.
    if ((f = std::fopen((at_ / "filler2").c_str(), "wb")) != nullptr) {
      while (std::fwrite(zeros, 1, 1, f) == 1 && std::fflush(f) == 0) {
      }
      std::fclose(f);
    }
    return filler;
  }
  void unfill() const {
    fs::remove(at_ / "filler");
    fs::remove(at_ / "filler2");
  }
  bool set_read_only(bool ro) const {
    return ::mount(nullptr, at_.c_str(), nullptr, MS_REMOUNT | (ro ? MS_RDONLY : 0), k_size) == 0;
  }

 private:
  temp_dir dir_;
  fs::path at_;
  std::string error_;
};

#define SKIP_WITHOUT(fsys)                                                            \
  if (daemon_is_windows()) GTEST_SKIP() << "a tmpfs state directory is a Linux test"; \
  if (!(fsys).error().empty()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << (fsys).error()

// The settings in force, as GET /v1/diagnostics shows them.
json settings_of(std::uint16_t port, SSL_CTX* ctx) {
  auto r = api_call(port, ctx, "GET", "/v1/diagnostics");
  return r && r->status == 200 ? json::parse(r->body, nullptr, false)["config"]["settings"] : json();
}

double write_failures(std::uint16_t port) {
  auto r = api_call(port, module_server_ctx().get(), "GET", "/metrics");
  if (!r) return -1;
  const std::string name = "zoneproxy_state_write_failures_total ";
  const auto at = r->body.find("\n" + name);
  return at == std::string::npos ? -1 : std::stod(r->body.substr(at + 1 + name.size()));
}

void expect_storage_unavailable(const std::optional<http_reply>& r, const std::string& file,
                                const std::string& reason) {
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503) << r->body;
  const json error = json::parse(r->body, nullptr, false)["error"];
  ASSERT_TRUE(error.is_object()) << r->body;
  EXPECT_EQ(error.value("code", ""), "storage_unavailable") << r->body;
  const std::string message = error.value("message", "");
  EXPECT_NE(message.find(file), std::string::npos) << "the message names the file: " << r->body;
  EXPECT_NE(message.find(reason), std::string::npos) << "and the reason: " << r->body;
}

TEST(Storage, AFullDiskRefusesAChangeWith503ChangesNothingAndTheSameChangeSucceedsOnceThereIsRoom) {
  small_tmpfs disk;
  SKIP_WITHOUT(disk);
  const fs::path state = disk.path() / "state";
  daemon d({}, state);
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  const auto ports = provision(d);
  ASSERT_TRUE(ports);
  auto ms = module_server_ctx();
  const std::string before = read_text(state / "provisioned.json");
  const json settings_before = settings_of(d.provisioning_port(), ms.get());
  ASSERT_EQ(settings_before.value("pair_timeout_s", 0), 30);

  disk.fill();
  const std::string change = R"({"pair_timeout_s": 17})";
  expect_storage_unavailable(api_call(d.provisioning_port(), ms.get(), "PUT", "/v1/settings", change),
                             daemon_path((state / "provisioned.json").string()), "No space left on device");
  EXPECT_EQ(read_text(state / "provisioned.json"), before) << "nothing changed on disk";
  EXPECT_EQ(settings_of(d.provisioning_port(), ms.get()), settings_before) << "nor in memory";
  // Still serving: status answers, and a session pairs and relays.
  auto status = api_call(d.provisioning_port(), ms.get(), "GET", "/v1/status");
  ASSERT_TRUE(status && status->status == 200);
  std::mt19937_64 rng{7};
  const std::string sid = random_session_id(rng);
  auto ep_ctx = anonymous_ctx();
  auto e = open_half(ports->first, ep_ctx.get(), sid);
  auto m = open_half(ports->second, ms.get(), sid);
  ASSERT_TRUE(e && m);
  ASSERT_TRUE(read_101(*e) && read_101(*m));
  EXPECT_TRUE(exchange(*e, *m, "while the disk is full", "still relayed").ok);
  EXPECT_GE(write_failures(d.provisioning_port()), 1) << "counted for the alert";

  disk.unfill();
  auto again = api_call(d.provisioning_port(), ms.get(), "PUT", "/v1/settings", change);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body, nullptr, false)["settings"].value("pair_timeout_s", 0), 17);
  EXPECT_EQ(settings_of(d.provisioning_port(), ms.get()).value("pair_timeout_s", 0), 17);
  EXPECT_NE(read_text(state / "provisioned.json"), before);
  EXPECT_EQ(d.stop(), 0);
}

TEST(Storage, AReadOnlyStateDirectoryRefusesARevocationWith503AndItHoldsOnceWritable) {
  small_tmpfs disk;
  SKIP_WITHOUT(disk);
  const fs::path state = disk.path() / "state";
  daemon d({}, state);
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  ASSERT_TRUE(provision(d));
  auto ms = module_server_ctx();
  const std::string trust_before = read_text(state / "trust.json");
  const std::string revoke = json{{"fingerprint", pki_cert_sha256("ms-client2")}}.dump();

  ASSERT_TRUE(disk.set_read_only(true)) << std::strerror(errno);
  expect_storage_unavailable(api_call(d.provisioning_port(), ms.get(), "POST", "/v1/trust/revoke", revoke),
                             daemon_path((state / "trust.json").string()), "Read-only file system");
  EXPECT_EQ(read_text(state / "trust.json"), trust_before);
  auto ms2 = module_server_ctx("ms-client2");
  auto still = api_call(d.provisioning_port(), ms2.get(), "GET", "/v1/status");
  ASSERT_TRUE(still.has_value()) << "a refused revocation revokes nothing";
  EXPECT_EQ(still->status, 200);

  ASSERT_TRUE(disk.set_read_only(false)) << std::strerror(errno);
  auto again = api_call(d.provisioning_port(), ms.get(), "POST", "/v1/trust/revoke", revoke);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_FALSE(api_call(d.provisioning_port(), ms2.get(), "GET", "/v1/status").has_value());
  EXPECT_EQ(d.stop(), 0);
}

// The first line of the output that says "error", and how many lines do.
std::pair<std::string, int> error_lines(const std::string& out) {
  std::pair<std::string, int> r;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.find("error") == std::string::npos) continue;
    if (r.second++ == 0) r.first = line;
  }
  return r;
}

TEST(Storage, AFirstStartOnAFullStateDirectoryExits2NamingTheFile) {
  small_tmpfs disk;
  SKIP_WITHOUT(disk);
  const fs::path state = disk.path() / "state";
  fs::create_directories(state);
  fs::permissions(state, fs::perms::owner_all);
  disk.fill();
  daemon d({}, state);
  EXPECT_EQ(d.proc().wait(), 2) << d.proc().output();
  const auto [line, count] = error_lines(d.proc().output());
  EXPECT_EQ(count, 1) << d.proc().output();
  EXPECT_NE(line.find(state.string()), std::string::npos) << line;
  EXPECT_NE(line.find("No space left on device"), std::string::npos) << line;
}

TEST(Storage, AFirstStartOnAReadOnlyStateDirectoryExits2NamingTheFile) {
  small_tmpfs disk;
  SKIP_WITHOUT(disk);
  const fs::path state = disk.path() / "state";
  fs::create_directories(state);
  fs::permissions(state, fs::perms::owner_all);
  ASSERT_TRUE(disk.set_read_only(true)) << std::strerror(errno);
  daemon d({}, state);
  EXPECT_EQ(d.proc().wait(), 2) << d.proc().output();
  const auto [line, count] = error_lines(d.proc().output());
  EXPECT_EQ(count, 1) << d.proc().output();
  EXPECT_NE(line.find(state.string()), std::string::npos) << line;
  EXPECT_NE(line.find("Read-only file system"), std::string::npos) << line;
}

}  // namespace
}  // namespace zp::test
