// `silk box exec NAME [--env K=V]... [--cwd DIR] -- CMD [ARGS...]` (cli/box_exec_cmd.cpp).
#pragma once

#include "cli/command.hpp"

namespace silk::cli {

int BoxExec(const Args& args);

}  // namespace silk::cli
