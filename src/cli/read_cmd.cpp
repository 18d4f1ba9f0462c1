// `oess read`: one reader grades a manifest's images in the browser, blinded (reading/session.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "oess/core/error.h"
#include "oess/data/manifest.h"
#include "oess/reading/session.h"

namespace oess::cli {
namespace {

struct ReadArgs {
  std::string manifest, reader, out, host = "127.0.0.1";
  int port = 8765;
  uint64_t seed = 0;
};

void run_read(const ReadArgs& a) {
  if (a.port < 0 || a.port > 65535)
    throw UsageError(fmt::format("--port {}: 0 (any free port) to 65535", a.port));
  data::ManifestColumns cols;
  cols.label = "none";  // the manifest's own grades are not needed, and never shown
  reading::Session s(data::read_manifest(a.manifest, /*check_files=*/true, cols), a.reader, a.out, a.seed);
  reading::serve(s, a.host, a.port, [&](int port) {
    fmt::print(
        "oess read: {} images for reader {} ({} graded before); open http://{}:{}/\n"
        "  every grade is written to {} at once; stop with Ctrl-C and start again to go on\n",
        s.total(), s.reader(), s.graded(), a.host, port, s.out_file());
    std::fflush(stdout);
  });
}

}  // namespace

void add_read_command(CLI::App& app) {
  auto a = std::make_shared<ReadArgs>();
  auto* sub = app.add_subcommand("read",
                                 "Grade a manifest's images in the browser, one at a time and blinded, "
                                 "as one reader of a reader study");
  sub->add_option("manifest", a->manifest, "the manifest (path column; its grades are never shown)")
      ->required();
  sub->add_option("--reader", a->reader, "your name as a reader: the column `oess agreement` will show")
      ->required();
  sub->add_option("--out", a->out,
                  "the grades file (path,reader,grade), written at every grade; an existing one "
                  "of this reader is resumed")
      ->required();
  sub->add_option("--port", a->port, "the local port (0: any free one, printed)")->capture_default_str();
  sub->add_option("--host", a->host, "the address to listen on (keep 127.0.0.1: the page has no login)")
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "the order's seed (with the reader's name: each reader their own order)")
      ->capture_default_str();
  sub->footer("Keys: 0-3 grade and move on; left arrow back; right arrow forward. docs/readers.md.");
  sub->callback([a] { run_read(*a); });
}

}  // namespace oess::cli
