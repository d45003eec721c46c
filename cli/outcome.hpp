// Where `silk box run` and `silk vm run` write their outcome as JSON. Their stdout is the
// command's own, so the outcome never goes there (it could not be parsed apart from the
// command's output): it goes to a file (--outcome FILE, written whole) or to a descriptor
// the caller opened (--outcome-fd N, as bwrap's --json-status-fd). On silk's own failure
// (exit 125) the same place gets {"error": {"code", "message", "field"}}, so a script
// reading it always gets one JSON document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "cli/command.hpp"

namespace silk::cli {

class OutcomeSink {
 public:
  explicit OutcomeSink(std::string_view prog) : prog_(prog) {}
  // Adds --outcome FILE and --outcome-fd N, and a --json that explains where the outcome
  // went instead (it used to share stdout with the command).
  void AddFlags(po::options_description& options);
  // Checks the flags after parsing: one destination at most; an --outcome-fd that is
  // open for writing and not 0, 1 or 2. Errors (kInvalidInput) name the flag.
  Result<void> Check(const po::variables_map& vm);
  bool wanted() const { return !file_.empty() || fd_ >= 0; }
  // Writes `outcome` (indented, one document, newline-terminated).
  Result<void> Write(const nlohmann::ordered_json& outcome) const;
  // Reports `error` (stderr, and the error object to the outcome when one is wanted);
  // returns kExitSilkFailed.
  int Fail(const Error& error, std::string_view field = "") const;

 private:
  std::string prog_;
  std::string file_;
  int fd_ = -1;
  bool json_ = false;
};

}  // namespace silk::cli
