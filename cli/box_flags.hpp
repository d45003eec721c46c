// The flags that make a box spec, shared by `silk box run` and `silk box create`: one
// table, one order of application (--spec first, then each flag over it), one validator.
#pragma once

#include <string>
#include <vector>

#include "cli/command.hpp"
#include "compat/box_spec.hpp"

namespace silk::cli {

class BoxSpecFlags {
 public:
  // Adds --spec, --profile, --rootfs, the limits, --disk, --net, ids, env, cwd, tty, init,
  // --nest and --report-denials to `opts`.
  void Add(po::options_description& opts);
  // The spec: --spec's file (if given), each flag given over it, `command` (after --)
  // over its command; validated (compat::Validate). Errors name the flag or the file's
  // field.
  Result<compat::BoxSpec> Build(const po::variables_map& vm, const Args& command) const;
  // --report-denials's value: "-" for the terminal, else a file.
  const std::string& report() const { return report_; }
  // --profile-dir: where profile names are also looked up (not a spec field).
  const std::string& profile_dir() const { return profile_dir_; }
  // --volume-dir: where --disk images go (not a spec field; empty: the default).
  const std::string& volume_dir() const { return volume_dir_; }

 private:
  std::string spec_file_, profile_, rootfs_, memory_, pids_, cpu_weight_, io_weight_, net_,
      hostname_, report_, scratch_, userns_, uid_, gid_, cwd_, profile_dir_, disk_, volume_dir_;
  std::vector<std::string> caps_, env_;
  bool raw_ = false, tty_ = false, no_init_ = false, nest_ = false;
};

// A number option of at most `max`; the error names the option.
Result<uint64_t> NumberFlag(const std::string& option, const std::string& value, uint64_t max);

}  // namespace silk::cli
