// `silk vm run`'s exit codes, through the real binary (podman's classes): the command's
// status passes through, 127 not found and 126 not executable in the guest, 125 for
// every failure of silk itself (usage, a missing image, more memory than the host has),
// 0 for --help.
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/common/silk_cli.hpp"
#include "tests/vmm/thinix_image.hpp"

namespace silk::vmm {
namespace {

using silk::testing::CliRun;

CliRun SilkVmRun(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"vm", "run"};
  all.insert(all.end(), args.begin(), args.end());
  return silk::testing::RunSilk(all);
}

TEST(VmRunCli, SilksOwnFailuresAre125) {
  auto bad_flag = SilkVmRun({"--no-such-flag", "--", "/bin/true"});
  EXPECT_EQ(bad_flag.status, 125) << bad_flag.err;
  auto no_command = SilkVmRun({"--no-box"});
  EXPECT_EQ(no_command.status, 125) << no_command.err;
  auto bad_accel = SilkVmRun({"--accel", "warp", "--", "/bin/true"});
  EXPECT_EQ(bad_accel.status, 125) << bad_accel.err;
  auto no_image = SilkVmRun({"--image", "/nonexistent/silk-image", "--", "/bin/true"});
  EXPECT_EQ(no_image.status, 125) << no_image.err;
  EXPECT_NE(no_image.err.find("/nonexistent/silk-image"), std::string::npos) << no_image.err;
  // stdout is the command's: the outcome goes to --outcome/--outcome-fd, never there.
  auto json = SilkVmRun({"--json", "--", "/bin/true"});
  EXPECT_EQ(json.status, 125) << json.err;
  EXPECT_NE(json.err.find("--outcome"), std::string::npos) << json.err;
  auto help = SilkVmRun({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("125"), std::string::npos) << "--help documents the exit codes";
  EXPECT_NE(help.out.find("127"), std::string::npos) << help.out;
}

class VmRunCliBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    auto img = testing::ThinixImageForTests();
    ASSERT_TRUE(img) << "no thinix image: " << img.error().ToString();
    image_ = *img;
  }
  CliRun Run(std::vector<std::string> extra, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"--image",  image_,           "--accel", "tcg",
                                     "--no-box", "--boot-timeout", "120"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    return SilkVmRun(args);
  }
  // Run() with silk's stdin a pipe holding `input`, closed after it unless `keep_open`.
  CliRun RunWithStdin(const std::string& input, bool keep_open,
                      const std::vector<std::string>& extra,
                      const std::vector<std::string>& command) {
    SpawnOptions o;
    o.argv = {std::string(SILK_BINARY_DIR) + "/cli/silk",
              "vm",
              "run",
              "--image",
              image_,
              "--accel",
              "tcg",
              "--boot-timeout",
              "120"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.argv.push_back("--");
    o.argv.insert(o.argv.end(), command.begin(), command.end());
    o.in = Stdio::Pipe();
    o.out = Stdio::Pipe();
    o.err = Stdio::Pipe();
    CliRun r;
    auto child = ChildProcess::Spawn(o);
    if (!child) {
      r.err = child.error().ToString();
      return r;
    }
    if (!input.empty() && ::write(child->stdin_pipe().get(), input.data(), input.size()) !=
                              static_cast<ssize_t>(input.size()))
      r.err = "short write to silk's stdin; ";
    if (!keep_open) child->stdin_pipe().Reset();
    auto c = child->Capture(std::chrono::steady_clock::now() + std::chrono::minutes(5));
    if (!c) {
      r.err += c.error().ToString();
      return r;
    }
    r.status = c->status.ShellStatus();
    r.out = c->out;
    r.err += c->err;
    return r;
  }
  std::string image_;
};

TEST_F(VmRunCliBoot, MoreMemoryThanTheHostIs125NotAUsageError) {
  auto r = Run({"--mem", "1048576"}, {"/bin/true"});
  EXPECT_EQ(r.status, 125) << r.err;
  EXPECT_NE(r.err.find("--mem"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Try '"), std::string::npos) << "not a usage error: " << r.err;
}

TEST_F(VmRunCliBoot, TheCommandsStatusPassesThroughAnd127WhenNotFound) {
  auto seven = Run({}, {"/bin/sh", "-c", "echo out; exit 7"});
  EXPECT_EQ(seven.status, 7) << seven.err;
  EXPECT_NE(seven.out.find("out\n"), std::string::npos) << seven.out;
  auto missing = Run({}, {"/no/such/tool"});
  EXPECT_EQ(missing.status, 127) << missing.err;
  EXPECT_NE(missing.err.find("/no/such/tool"), std::string::npos) << missing.err;
}

// `printf 'x\ny\n' | silk vm run -- cat`: stdin reaches the command in the guest, directly
// and through the box in the guest, and its end closes the command's stdin.
TEST_F(VmRunCliBoot, StdinIsForwardedToTheCommand) {
  auto direct = RunWithStdin("x\ny\n", false, {"--no-box"}, {"cat"});
  EXPECT_EQ(direct.status, 0) << direct.err;
  EXPECT_EQ(direct.out, "x\ny\n") << direct.err;
  auto boxed = RunWithStdin("x\ny\n", false, {}, {"cat"});
  EXPECT_EQ(boxed.status, 0) << boxed.err;
  EXPECT_EQ(boxed.out, "x\ny\n") << boxed.err;
}

// A command that does not read stdin ends the run although silk's stdin never ends (the
// pipe stays open): --timeout 60 would kill a run that waits for it (125).
TEST_F(VmRunCliBoot, ACommandIgnoringStdinIsNotHeldByAStdinThatNeverEnds) {
  auto start = std::chrono::steady_clock::now();
  auto r = RunWithStdin("never read\n", true, {"--no-box", "--timeout", "60"}, {"/bin/true"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_LT(took, std::chrono::seconds(60)) << r.err;
}

}  // namespace
}  // namespace silk::vmm
