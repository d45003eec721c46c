// `silk box run`'s exit codes, through the real binary (podman's classes, as `silk vm
// run`): the command's status passes through, 126 not executable and 127 not found in the
// box, 125 for every failure of silk itself (usage, a bad spec, a bad flag value), 0 for
// --help.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/common/silk_cli.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using silk::testing::CliRun;

CliRun SilkBoxRun(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"box", "run"};
  all.insert(all.end(), args.begin(), args.end());
  return silk::testing::RunSilk(all);
}

class BoxRunCli : public testing::RootBoxTest {
 protected:
  std::vector<std::string> State() { return {"--state-dir", state_.path()}; }
  std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
};

TEST_F(BoxRunCli, SilksOwnFailuresAre125) {
  auto bad_flag = SilkBoxRun({"--no-such-flag", "--", "/bin/true"});
  EXPECT_EQ(bad_flag.status, 125) << bad_flag.err;
  auto no_command = SilkBoxRun({"--memory", "64M"});
  EXPECT_EQ(no_command.status, 125) << no_command.err;
  auto bad_value = SilkBoxRun({"--userns", "sometimes", "--", "/bin/true"});
  EXPECT_EQ(bad_value.status, 125) << bad_value.err;
  EXPECT_NE(bad_value.err.find("--userns"), std::string::npos) << bad_value.err;

  const std::string spec = state_.path() + ".bad.json";  // beside the state root
  std::ofstream(spec) << R"({"command": "true", "memroy_max": "1G"})";
  auto bad_spec = SilkBoxRun(With(State(), {"--spec", spec}));
  ::unlink(spec.c_str());
  EXPECT_EQ(bad_spec.status, 125) << bad_spec.err;
  EXPECT_NE(bad_spec.err.find("memroy_max"), std::string::npos)
      << "the message names the field: " << bad_spec.err;

  auto help = SilkBoxRun({"--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* code : {"125", "126", "127"})
    EXPECT_NE(help.out.find(code), std::string::npos) << "--help documents " << code;
}

TEST_F(BoxRunCli, TheCommandsStatusAndTheShellsClassesPassThrough) {
  auto seven = SilkBoxRun(With(State(), {"--", "/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(seven.status, 7) << seven.err;
  auto missing = SilkBoxRun(With(State(), {"--", "/no/such/command"}));
  EXPECT_EQ(missing.status, 127) << missing.err;
  // /etc/hostname exists in the default root but is not executable.
  auto not_exec = SilkBoxRun(With(State(), {"--", "/etc/hostname"}));
  EXPECT_EQ(not_exec.status, 126) << not_exec.err;
  // The command is the box's init, which its own SIGKILL cannot end; --timeout's can.
  auto killed = SilkBoxRun(With(State(), {"--timeout", "1", "--", "/bin/sleep", "30"}));
  EXPECT_EQ(killed.status, 128 + 9) << killed.err;
}

}  // namespace
}  // namespace silk::compat
