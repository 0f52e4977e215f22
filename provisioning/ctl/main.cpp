// zoneproxyctl: the operator's and Module Server's side of the control API.
// This skeleton fixes the command-line shape; the commands land with provisioning.

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"zoneproxyctl: talk to a zoneproxy's control API (port 17488)", "zoneproxyctl"};
  app.set_version_flag("--version", std::string("zoneproxyctl ") + ZONEPROXY_VERSION);
  app.require_subcommand(1);
  app.add_subcommand("identity", "Show the proxy's state and identity fingerprints");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::fprintf(stderr, "zoneproxyctl: %s: not implemented yet\n", app.get_subcommands().front()->get_name().c_str());
  return 2;
}
