// The silk CLI's shared plumbing: subcommand tables, option parsing with useful
// --help and usage errors, and the one place errors are reported.
//
// Exit codes (every subcommand): 0 ok, 1 failure, 2 usage error.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace silk::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Arguments after the subcommand's own name ("silk policy show x" -> {"x"}).
using Args = std::vector<std::string>;

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(const Args& args);
};

// Runs the command named by args[0] from `commands`, or prints the table for
// --help / no arguments. `prog` is e.g. "silk policy".
int Dispatch(std::string_view prog, std::string_view about, const std::vector<Command>& commands,
             const Args& args);

// Parses `args` against `options` (+ positionals). Adds --help itself.
// Returns an exit code when the caller should stop: 0 after printing help, 2 after a
// usage error (printed with the usage line). Returns nullopt when parsing succeeded.
std::optional<int> ParseArgs(std::string_view usage, std::string_view about,
                             po::options_description options,
                             const po::positional_options_description& positional, const Args& args,
                             po::variables_map& vm);

// Splits "opts -- cmd args" at the first "--". The part after is empty if there is no "--".
std::pair<Args, Args> SplitAtDoubleDash(const Args& args);

// Prints "silk: error: <error>" to stderr once and returns the exit code for it
// (2 for invalid input given on the command line when `usage` is true, else 1).
int ReportError(const Error& error, bool usage = false);

// Prints a usage error ("silk: <msg>\nTry '<prog> --help'.") and returns 2.
int UsageError(std::string_view prog, std::string_view message);

}  // namespace silk::cli
