// vm run boots a staged copy of the image (vmm/run_dir.hpp): the kernel and initramfs are
// copied into the VM's run directory and the copy is verified, so QEMU (its own user)
// reads exactly what was verified, from a directory it can reach, whatever the image
// directory's mode; the copy goes with the run directory. And the TCG notice is shown
// once per verdict, not again when the verdict comes from the cache.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "base/file.hpp"
#include "base/subprocess.hpp"
#include "images/image.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/vmm/thinix_image.hpp"
#include "vmm/accel.hpp"
#include "vmm/connection.hpp"
#include "vmm/run_dir.hpp"
#include "vmm/vm_run.hpp"

namespace silk::vmm {
namespace {

using silk::testing::CliRun;

constexpr const char kTcgNotice[] = "KVM is not usable here";

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

std::string ShOut(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

void Overwrite(const std::string& path, long offset, char byte) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.put(byte);
}

// A private directory as `mktemp -d` makes it (0700, root's), holding a copy of the test
// image at <dir>/image.
class PrivateImage {
 public:
  PrivateImage() {
    char tmpl[] = "/tmp/silk-private-image-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~PrivateImage() {
    if (!dir_.empty()) Sh("rm -rf " + dir_);
  }
  // Copies `image` in; false if that failed.
  bool CopyFrom(const std::string& image) {
    return !dir_.empty() && Sh("cp -r " + image + " " + image_dir()) == 0;
  }
  const std::string& dir() const { return dir_; }
  std::string image_dir() const { return dir_ + "/image"; }

 private:
  std::string dir_;
};

class VmRunStagingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!KvmDeviceProblem().empty()) {
      auto fixed = FixKvmDevice();
      if (!fixed) std::cerr << "vm_run_staging_test: " << fixed.error().ToString() << "\n";
    }
    auto img = testing::ThinixImageForTests();
    if (!img) {
      setup_error_ = img.error().ToString();
      return;
    }
    image_ = *img;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << "no thinix image: " << setup_error_;
    char tmpl[] = "/tmp/silk-vmm-staging-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    // The run root is under it: QEMU, as its own user, must get through to the staged image.
    ASSERT_EQ(::chmod(tmp_.c_str(), 0711), 0);
    options_.image_dir = image_;
    options_.run_root = tmp_ + "/run";
    options_.accel_cache = tmp_ + "/accel.json";
    options_.accel = Accel::kTcg;
    options_.boot_timeout = std::chrono::seconds(120);
    options_.command_timeout = std::chrono::seconds(60);
    options_.name_prefix = "silk-test";
    options_.box_profile = "";
  }
  void TearDown() override { Sh("rm -rf " + tmp_); }

  bool RunRootEmpty() {
    return Sh("test -z \"$(ls -A " + options_.run_root + " 2>/dev/null)\"") == 0;
  }
  // A run directory of its own for staging tests that boot nothing.
  Result<VmRunDir> NewRunDir() { return VmRunDir::Create(options_.run_root, "silk-test-staging"); }

  static inline std::string image_;
  static inline std::string setup_error_;
  std::string tmp_;
  VmRunOptions options_;
};

TEST_F(VmRunStagingTest, TheRunDirHoldsTheBootedCopyOnlyWhileTheVmRuns) {
  std::string seen_dirs, kernel_xml, problem;
  bool looked = false;
  auto look = [&](std::string_view) {
    if (looked) return;
    looked = true;
    seen_dirs = ShOut("ls " + options_.run_root);
    std::string vm = seen_dirs.substr(0, seen_dirs.find('\n'));
    std::string staged = options_.run_root + "/" + vm + "/image";
    for (const char* f : {images::kKernelFile, images::kInitramfsFile}) {
      auto copy = ReadFile(staged + "/" + f);
      auto source = ReadFile(image_ + "/" + f);
      if (!copy || !source || *copy != *source) problem += std::string(f) + " not staged; ";
    }
    kernel_xml = ShOut("virsh -c qemu:///system dumpxml " + vm + " | grep -E '<(kernel|initrd)>'");
    if (kernel_xml.find("<kernel>" + staged + "/vmlinuz</kernel>") == std::string::npos ||
        kernel_xml.find("<initrd>" + staged + "/initramfs.img</initrd>") == std::string::npos)
      problem += "the domain does not boot the staged copy: " + kernel_xml;
  };
  AgentCommand cmd;
  cmd.argv = {"/bin/echo", "running"};
  auto r = RunInVm(options_, cmd, look, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 0);
  ASSERT_TRUE(looked) << "the command printed nothing";
  EXPECT_EQ(seen_dirs, r->domain + "\n") << "one run directory while the VM ran";
  EXPECT_TRUE(problem.empty()) << problem;
  EXPECT_TRUE(RunRootEmpty()) << "left behind: " << ShOut("find " + options_.run_root);
}

TEST_F(VmRunStagingTest, NothingIsLeftWhenTheStagedImageIsRefused) {
  PrivateImage source;
  ASSERT_TRUE(source.CopyFrom(image_));
  Overwrite(source.image_dir() + "/vmlinuz", 4096, '\x42');
  options_.image_dir = source.image_dir();
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDenied) << r.error().ToString();
  EXPECT_NE(r.error().ToString().find("kernel (vmlinuz)"), std::string::npos)
      << r.error().ToString();
  EXPECT_TRUE(RunRootEmpty()) << "left behind: " << ShOut("find " + options_.run_root);
}

TEST_F(VmRunStagingTest, ATamperedCopyIsRefusedNamingTheImage) {
  auto run_dir = NewRunDir();
  ASSERT_TRUE(run_dir) << run_dir.error().ToString();
  VmRunDir& dir = *run_dir;
  auto source = OpenImageSource(image_);
  ASSERT_TRUE(source) << source.error().ToString();
  auto staged = StageImage(dir, *source, "");
  ASSERT_TRUE(staged) << staged.error().ToString();
  EXPECT_EQ(staged->kernel_path, dir.staged_image_dir() + "/vmlinuz");
  EXPECT_EQ(staged->initramfs_path, dir.staged_image_dir() + "/initramfs.img");

  Overwrite(dir.staged_image_dir() + "/initramfs.img", 1000, '\x42');
  auto r = VerifyStagedImage(dir.staged_image_dir(), image_, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDenied);
  EXPECT_NE(r.error().ToString().find("initramfs"), std::string::npos) << r.error().ToString();
  EXPECT_EQ(r.error().ToString().find(dir.path()), std::string::npos)
      << "the error names the copy, not the image: " << r.error().ToString();
}

// The copy is what boots: changing the image directory after staging changes nothing.
TEST_F(VmRunStagingTest, TheImageChangedAfterStagingDoesNotReachTheCopy) {
  PrivateImage source;
  ASSERT_TRUE(source.CopyFrom(image_));
  auto run_dir = NewRunDir();
  ASSERT_TRUE(run_dir) << run_dir.error().ToString();
  VmRunDir& dir = *run_dir;
  auto opened = OpenImageSource(source.image_dir());
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto staged = StageImage(dir, *opened, "");
  ASSERT_TRUE(staged) << staged.error().ToString();
  Overwrite(source.image_dir() + "/vmlinuz", 4096, '\x42');
  EXPECT_FALSE(images::VerifyImage(source.image_dir()));
  auto again = VerifyStagedImage(dir.staged_image_dir(), source.image_dir(), "");
  EXPECT_TRUE(again) << again.error().ToString();
}

TEST_F(VmRunStagingTest, ARunRootQemuCannotReachIsNamedBeforeBooting) {
  if (::getpwnam("libvirt-qemu") == nullptr) GTEST_SKIP() << "no libvirt-qemu user here";
  PrivateImage private_dir;  // 0700: QEMU's user cannot get through
  ASSERT_FALSE(private_dir.dir().empty());
  options_.run_root = private_dir.dir() + "/run";
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput) << r.error().ToString();
  EXPECT_NE(r.error().message().find(private_dir.dir() + " does not let it through"),
            std::string::npos)
      << r.error().message();
  EXPECT_TRUE(RunRootEmpty()) << "left behind: " << ShOut("find " + options_.run_root);
}

TEST_F(VmRunStagingTest, LinksAndSpecialFilesAreNotCopied) {
  PrivateImage source;
  ASSERT_TRUE(source.CopyFrom(image_));
  const std::string kernel = source.image_dir() + "/vmlinuz";
  ASSERT_EQ(::rename(kernel.c_str(), (source.dir() + "/real-vmlinuz").c_str()), 0);
  ASSERT_EQ(::symlink((source.dir() + "/real-vmlinuz").c_str(), kernel.c_str()), 0);
  auto opened = OpenImageSource(source.image_dir());
  ASSERT_TRUE(opened) << opened.error().ToString();
  const std::string to = tmp_ + "/copy";
  ASSERT_EQ(::mkdir(to.c_str(), 0755), 0);
  auto linked = CopyImageFiles(*opened, to);
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(linked.error().message().find(kernel + " is a symbolic link"), std::string::npos)
      << linked.error().message();

  ASSERT_EQ(::unlink(kernel.c_str()), 0);
  ASSERT_EQ(::mkfifo(kernel.c_str(), 0644), 0);
  Sh("rm -rf " + to + " && mkdir " + to);
  auto fifo = CopyImageFiles(*opened, to);
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(fifo.error().message().find(kernel + " is not a regular file"), std::string::npos)
      << fifo.error().message();
}

TEST_F(VmRunStagingTest, AKeptRunDirKeepsItsConsoleLogNotTheImage) {
  std::string path;
  {
    auto run_dir = NewRunDir();
    ASSERT_TRUE(run_dir) << run_dir.error().ToString();
    VmRunDir& dir = *run_dir;
    path = dir.path();
    auto source = OpenImageSource(image_);
    ASSERT_TRUE(source) << source.error().ToString();
    ASSERT_TRUE(StageImage(dir, *source, ""));
    ASSERT_EQ(Sh("echo boot > " + dir.console_log()), 0);
    dir.Keep();
  }
  EXPECT_EQ(ShOut("ls -A " + path), "console.log\n");
}

// `silk vm run` as a user runs it: the image in a private directory.
class VmRunStagingCli : public VmRunStagingTest {
 protected:
  CliRun SilkVmRun(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"vm", "run"};
    all.insert(all.end(), args.begin(), args.end());
    return silk::testing::RunSilk(all);
  }
};

TEST_F(VmRunStagingCli, BootsAnImageInAPrivateDirectory) {
  PrivateImage source;
  ASSERT_TRUE(source.CopyFrom(image_));
  struct stat st;
  ASSERT_EQ(::stat(source.dir().c_str(), &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0700u) << "not a private directory";
  auto r = SilkVmRun({"--image", source.image_dir(), "--accel", "tcg", "--no-box", "--boot-timeout",
                      "120", "--", "/bin/echo", "staged"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "staged\n") << r.err;
  EXPECT_EQ(r.err.find("Permission denied"), std::string::npos) << r.err;
}

TEST_F(VmRunStagingCli, AnImageSilkCannotReadIsNamedWithWhatToDo) {
  if (::access("/usr/bin/setpriv", X_OK) != 0)
    GTEST_SKIP() << "no /usr/bin/setpriv to run silk as another user (util-linux)";
  PrivateImage source;
  ASSERT_TRUE(source.CopyFrom(image_));
  SpawnOptions o;
  o.argv = {"/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            std::string(SILK_BINARY_DIR) + "/cli/silk",
            "vm",
            "run",
            "--image",
            source.image_dir(),
            "--accel",
            "tcg",
            "--no-box",
            "--",
            "/bin/true"};
  auto r = RunAndCapture(o, kNoDeadline);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status.ShellStatus(), 125) << r->err;
  EXPECT_NE(r->err.find("cannot read the image directory " + source.image_dir()), std::string::npos)
      << r->err;
  EXPECT_NE(r->err.find("chmod"), std::string::npos) << "says what to do: " << r->err;
}

// The notice that KVM is not usable comes with a verdict made now; a run whose verdict
// comes from the cache is quiet. Uses the default cache, as a user's runs do.
TEST_F(VmRunStagingCli, TheTcgNoticeIsShownOncePerVerdict) {
  auto info = images::VerifyImage(image_);
  ASSERT_TRUE(info) << info.error().ToString();
  auto conn = Connection::Open();
  ASSERT_TRUE(conn) << conn.error().ToString();
  BootImage bi{info->kernel_path, info->initramfs_path, info->cmdline, info->kernel_sha256};
  const bool cached_before = CachedAccel(**conn, bi).has_value();
  std::vector<std::string> args = {"--image", image_, "--no-box", "--boot-timeout",
                                   "120",     "--",   "/bin/true"};

  auto first = SilkVmRun(args);
  ASSERT_EQ(first.status, 0) << first.err;
  auto verdict = CachedAccel(**conn, bi);
  ASSERT_TRUE(verdict) << "the first run cached no verdict: " << first.err;
  const bool noticed = first.err.find(kTcgNotice) != std::string::npos;
  if (cached_before)
    EXPECT_FALSE(noticed) << "a cached verdict was noticed again: " << first.err;
  else
    EXPECT_EQ(noticed, verdict->accel == Accel::kTcg) << first.err;

  auto second = SilkVmRun(args);
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.err.find(kTcgNotice), std::string::npos)
      << "the cached verdict was noticed again: " << second.err;
}

}  // namespace
}  // namespace silk::vmm
