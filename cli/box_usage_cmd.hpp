// `silk box stats NAME [--json]` and `silk box update NAME [--memory SIZE] [--pids N]
// [--cpu-weight N] [--io-weight N] [--egress RATE] [--json]`: a named box's usage and
// live changes of its limits (compat/box_usage.hpp, compat/box_update.hpp). Listed in
// the table of box_life_cmd.cpp.
#pragma once

#include "cli/command.hpp"

namespace silk::cli {

int BoxStats(const Args& args);
int BoxUpdate(const Args& args);

}  // namespace silk::cli
