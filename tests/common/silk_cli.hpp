// Runs the built `silk` binary as a user would, for the CLI tests of every module: its
// shell-style status (128+N for signal N) and what it printed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/subprocess.hpp"

namespace silk::testing {

struct CliRun {
  int status = -1;  // -1: silk could not be run (err says why)
  std::string out, err;
};

// `silk ARGS...` from this build tree, killed after `limit`.
inline CliRun RunSilk(const std::vector<std::string>& args,
                      std::chrono::seconds limit = std::chrono::minutes(5)) {
  SpawnOptions o;
  o.argv = {std::string(SILK_BINARY_DIR) + "/cli/silk"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  auto r = RunAndCapture(o, std::chrono::steady_clock::now() + limit);
  CliRun out;
  if (!r) {
    out.err = r.error().ToString();
    return out;
  }
  out.status = r->status.ShellStatus();
  out.out = r->out;
  out.err = r->err;
  return out;
}

}  // namespace silk::testing
