// Entry points of the silk subcommand groups; each lives in its own cli/<group>_cmd.cpp
// and is listed in TopCommands() in cli/main.cpp.
#pragma once

#include "cli/command.hpp"

namespace silk::cli {

}  // namespace silk::cli
