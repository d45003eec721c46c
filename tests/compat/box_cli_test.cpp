// `silk box run`'s exit codes, through the real binary (podman's classes, as `silk vm
// run`): the command's status passes through, 126 not executable and 127 not found in the
// box, 125 for every failure of silk itself (usage, a bad spec, a bad flag value), 0 for
// --help.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

// --uid without --gid never leaves the command in group root (issue 12): the user's
// primary group from the box's /etc/passwd (the host's in the default view), else the uid.
TEST_F(BoxRunCli, AUidAloneIsNotInGroupRoot) {
  auto nobody = SilkBoxRun(With(State(), {"--uid", "65534", "--", "/usr/bin/id", "-g"}));
  EXPECT_EQ(nobody.status, 0) << nobody.err;
  auto pw = getpwuid(65534);
  EXPECT_EQ(nobody.out, std::to_string(pw && pw->pw_gid != 0 ? pw->pw_gid : 65534) + "\n");
  auto unnamed = SilkBoxRun(With(State(), {"--uid", "4242", "--", "/usr/bin/id", "-g"}));
  EXPECT_EQ(unnamed.status, 0) << unnamed.err;
  EXPECT_NE(unnamed.out, "0\n");
  if (getpwuid(4242) == nullptr) {
    EXPECT_EQ(unnamed.out, "4242\n");
  }
  auto given =
      SilkBoxRun(With(State(), {"--uid", "4242", "--gid", "7", "--", "/usr/bin/id", "-g"}));
  EXPECT_EQ(given.out, "7\n") << given.err;
}

// A command the kernel killed for memory is named as such (issue 12): on stderr with the
// limit, and in the outcome document.
TEST_F(BoxRunCli, AnOomKillIsReportedWithTheLimit) {
  const std::string file = state_.path() + ".oom.json";  // beside the state root
  // tail keeps the current line, and /dev/zero never ends one.
  auto r = SilkBoxRun(
      With(State(), {"--memory", "32M", "--outcome", file, "--", "/usr/bin/tail", "/dev/zero"}));
  EXPECT_EQ(r.status, 128 + 9) << r.err;
  EXPECT_NE(r.err.find("killed for memory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory limit 32 MiB"), std::string::npos) << r.err;
  std::stringstream text;
  text << std::ifstream(file).rdbuf();
  ::unlink(file.c_str());
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << text.str();
  EXPECT_EQ(doc.value("oom_killed", false), true) << text.str();
  EXPECT_GE(doc.value("oom_kills", 0), 1) << text.str();

  auto fine = SilkBoxRun(With(State(), {"--memory", "32M", "--", "/bin/true"}));
  EXPECT_EQ(fine.status, 0) << fine.err;
  EXPECT_EQ(fine.err.find("for memory"), std::string::npos) << fine.err;
}

// The outcome never shares stdout with the command (issue 12): --json is refused with
// where to look instead; --outcome FILE and --outcome-fd N get one JSON document, the
// error object when silk itself fails; stdout is exactly the command's.
TEST_F(BoxRunCli, TheOutcomeNeverMixesWithTheCommandsStdout) {
  auto json = SilkBoxRun(With(State(), {"--json", "--", "/bin/echo", "hi"}));
  EXPECT_EQ(json.status, 125);
  EXPECT_NE(json.err.find("--outcome"), std::string::npos) << json.err;
  EXPECT_EQ(json.out, "");

  const std::string file = state_.path() + ".outcome.json";  // beside the state root
  auto ok =
      SilkBoxRun(With(State(), {"--outcome", file, "--", "/bin/sh", "-c", "echo hi; exit 3"}));
  EXPECT_EQ(ok.status, 3) << ok.err;
  EXPECT_EQ(ok.out, "hi\n") << "stdout is the command's, and only the command's";
  std::stringstream text;
  text << std::ifstream(file).rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << text.str();
  EXPECT_EQ(doc.value("exit_status", -1), 3) << text.str();

  auto bad = SilkBoxRun(With(State(), {"--outcome", file, "--memory", "12Q", "--", "/bin/true"}));
  EXPECT_EQ(bad.status, 125);
  text.str("");
  text << std::ifstream(file).rdbuf();
  doc = nlohmann::json::parse(text.str(), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << text.str();
  EXPECT_EQ(doc["error"].value("code", ""), "invalid_input") << text.str();
  EXPECT_NE(doc["error"].value("message", "").find("--memory"), std::string::npos) << text.str();
  ::unlink(file.c_str());

  // A descriptor: the caller's fd 3, never the box's (the box sees only its pipes).
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c",
            "exec 3>\"$1.fd\"; \"$0\" box run --state-dir \"$1\" --outcome-fd 3 -- "
            "/bin/sh -c 'test -e /proc/self/fd/3 && echo leaked; echo inside'",
            std::string(SILK_BINARY_DIR) + "/cli/silk", state_.path()};
  auto r = RunAndCapture(o, std::chrono::steady_clock::now() + std::chrono::minutes(2));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status.ShellStatus(), 0) << r->err;
  EXPECT_EQ(r->out, "inside\n") << "the outcome fd entered the box or mixed with stdout";
  text.str("");
  text << std::ifstream(state_.path() + ".fd").rdbuf();
  doc = nlohmann::json::parse(text.str(), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << text.str();
  EXPECT_EQ(doc.value("exit_status", -1), 0) << text.str();
  ::unlink((state_.path() + ".fd").c_str());
}

}  // namespace
}  // namespace silk::compat
