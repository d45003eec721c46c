// `silk vm run`'s exit codes, through the real binary (podman's classes): the command's
// status passes through, 127 not found and 126 not executable in the guest, 125 for
// every failure of silk itself (usage, a missing image, more memory than the host has),
// 0 for --help.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace silk::vmm
