// The silk CLI's shared plumbing: subcommand tables, option parsing with useful
// --help and usage errors, and the one place errors are reported.
//
// Exit codes (every subcommand): 0 ok, 1 failure, 2 usage error; `box run` and `vm run`
// pass their command's status through and use 125/126/127 (below) for their own. The comparisons
// (policy diff, subset, check) use diff(1)/cmp(1)'s classes instead: 0 equal/subset,
// 1 different/not a subset, 2 trouble (usage, a missing file, a bad profile).
#pragma once

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace silk::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitTrouble = 2;  // diff(1)/cmp(1): the question could not be answered

// Commands that run a workload and pass its status through (`silk box run`, `silk vm
// run`) use podman's classes instead, so that a script can tell "the workload failed"
// from "silk could not start it": the command's own status (128+N when killed by signal
// N), or one of these.
inline constexpr int kExitSilkFailed = 125;       // silk itself failed (usage, setup, boot ...)
inline constexpr int kExitCannotExecute = 126;    // the command was found but cannot be executed
inline constexpr int kExitCommandNotFound = 127;  // the command was not found

// Arguments after the subcommand's own name ("silk policy show x" -> {"x"}).
using Args = std::vector<std::string>;

struct Command {
  std::string_view name;
  std::string_view summary;  // empty: an internal command, not listed or suggested
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

// How one command reports, set from its --json and -q/--quiet flags.
//   json:  stdout carries exactly one JSON document, on success and on failure; a
//          failure is {"error": {"code", "message", "field"}} (code: "usage",
//          "invalid_input", "not_found", "system", "unsupported", "denied", "timeout",
//          "internal"; field: the option or argument at fault, or null). The text of a
//          failure still goes to stderr, for the person watching.
//   quiet: notices ("wrote FILE", progress) are dropped; otherwise they go to stderr,
//          never stdout. `silk -q CMD` sets it for every command.
class Output {
 public:
  explicit Output(std::string_view prog) : prog_(prog) {}

  // Adds --json (with `help`) and -q/--quiet to `options`, bound to this Output.
  void AddJsonFlag(po::options_description& options, const char* help);
  void AddQuietFlag(po::options_description& options);

  bool json() const { return json_; }
  bool quiet() const;
  std::string_view prog() const { return prog_; }

  // Reports `error` once (JSON object on stdout with --json; "silk: error: ..." on
  // stderr always) and returns `exit_code`. `field` names the option or argument at
  // fault ("--suite", "CHILD"); empty for none.
  int Fail(const Error& error, int exit_code = kExitFailure, std::string_view field = "") const;
  // A usage error: as UsageError() below (with --json also the error object, code
  // "usage"); returns kExitUsage.
  int Usage(std::string_view message, std::string_view field = "") const;
  // Where notices go: std::cerr, or a stream that drops them when quiet.
  std::ostream& Notice() const;
  // Prints `j` (indented) and a newline on stdout.
  void Json(const nlohmann::ordered_json& j) const;

 private:
  std::string prog_;
  bool json_ = false;
  bool quiet_ = false;
};

// ParseArgs for a command with an Output: a usage error is reported through `out`
// (as JSON when --json is among `args`, as it would have been parsed).
std::optional<int> ParseArgs(std::string_view usage, std::string_view about,
                             po::options_description options,
                             const po::positional_options_description& positional, const Args& args,
                             po::variables_map& vm, const Output& out);

// The JSON spelling of an ErrorCode ("invalid_input", "not_found", ...).
std::string_view JsonCode(ErrorCode code);

// The JSON error object: {"error": {"code": ..., "message": ..., "field": ... | null}}.
nlohmann::ordered_json ErrorJson(std::string_view code, std::string_view message,
                                 std::string_view field);

// Prints "silk: error: <error>" to stderr once and returns the exit code for it
// (2 for invalid input given on the command line when `usage` is true, else 1).
int ReportError(const Error& error, bool usage = false);

// Prints a usage error ("silk: <msg>\nTry '<prog> --help'.") and returns 2.
int UsageError(std::string_view prog, std::string_view message);

}  // namespace silk::cli
