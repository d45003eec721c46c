// The shape of every command on one named sliver (`silk box start NAME`, `silk vm stop
// NAME`, ...): a NAME positional, --state-dir and --json; the command adds its own
// options to `opts` and parses with `ParseArgs(usage, about, c.opts, c.pos, args, vm,
// c.out)`.
#pragma once

#include <string>
#include <string_view>

#include "cli/command.hpp"

namespace silk::cli {

struct SliverKind {
  const char* noun;          // "box", "VM"
  const char* default_root;  // for --state-dir's help
};
inline constexpr SliverKind kBoxSliver{"box", "/run/silk/boxes as root"};
inline constexpr SliverKind kVmSliver{"VM", "/run/silk/vms"};

class SliverCommand {
 public:
  SliverCommand(std::string_view prog, SliverKind kind)
      : out(prog),
        name_help_(std::string("the ") + kind.noun + "'s name"),
        root_help_(std::string("state root (default ") + kind.default_root + ")") {}

  po::options_description opts{"Options"};
  po::positional_options_description pos;
  std::string name, state_dir;
  Output out;

  // NAME (unless `with_name` is false), --state-dir, and --json described by `json_help`.
  void AddCommon(const char* json_help, bool with_name = true) {
    if (with_name) {
      opts.add_options()("name", po::value(&name)->required(), name_help_.c_str());
      pos.add("name", 1);
    }
    opts.add_options()("state-dir", po::value(&state_dir), root_help_.c_str());
    out.AddJsonFlag(opts, json_help);
  }

 private:
  std::string name_help_, root_help_;
};

}  // namespace silk::cli
