// A box's volume (`--disk SIZE`, BoxSpec::disk_max, compat/internal/volume.hpp) with real
// loop devices and ext4: the box sees its quota at /data, writable and owned by its
// user, over a read-only root; writing past it gets ENOSPC while the host holds at most
// the image; a named box keeps its data after it ends, until `box delete`; and after
// delete, a SIGKILLed supervisor plus delete, or a SIGKILLed `box run` plus the sweep, no
// image, loop device or mount is left. Bad quotas are refused naming --disk, with
// nothing made.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "compat/box_lifecycle.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using silk::testing::CliRun;

// The regular files in `dir`.
std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file()) files.push_back(e.path().string());
  return files;
}

// Loop devices ("/dev/loopN") whose backing file lies in `dir`, from sysfs.
std::vector<std::string> LoopsBackedFrom(const std::string& dir) {
  std::vector<std::string> loops;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/block", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("loop", 0) != 0) continue;
    auto backing = ReadFile(e.path().string() + "/loop/backing_file");
    if (backing && backing->rfind(dir + "/", 0) == 0) loops.push_back("/dev/" + name);
  }
  return loops;
}

// Whether this mount namespace has a mount whose source is `dev`.
bool Mounted(const std::string& dev) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return false;
  for (const auto& line : Split(*info, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto f = Split(line.substr(dash + 3), ' ');
    if (f.size() > 1 && f[1] == dev) return true;
  }
  return false;
}

// Waits (at most 10 s: a loop device detaches itself once its last mount is released,
// which the kernel finishes asynchronously after the box's namespace dies) until no loop
// device is backed by a file in `dir`.
bool NoLoopsBackedFrom(const std::string& dir) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!LoopsBackedFrom(dir).empty()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class BoxVolumeTest : public testing::RootBoxTest {
 protected:
  void SetUp() override {
    RootBoxTest::SetUp();
    if (IsSkipped()) return;
    char tmpl[] = "/var/tmp/silk-volumes-XXXXXX";  // on disk, as the default
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    volumes_ = tmpl;
    opts_.volume_root = volumes_;
  }
  void TearDown() override {
    if (!volumes_.empty()) {
      EXPECT_TRUE(NoLoopsBackedFrom(volumes_)) << "a loop device is left";
      EXPECT_TRUE(FilesIn(volumes_).empty()) << "an image is left in " << volumes_;
      std::error_code ec;
      std::filesystem::remove_all(volumes_, ec);
    }
    RootBoxTest::TearDown();
  }
  // `silk box VERB --state-dir S ARGS...`; run and create get --volume-dir too.
  CliRun Silk(std::vector<std::string> args) {
    args.insert(args.begin() + 2, {"--state-dir", state_.path()});
    if (args[1] == "run" || args[1] == "create")
      args.insert(args.begin() + 2, {"--volume-dir", volumes_});
    return silk::testing::RunSilk(args, std::chrono::minutes(2));
  }
  Result<BoxRecord> WaitUntil(const std::string& name, BoxStatus status) {
    return WaitForBox(
        state_.path(), name, [status](const BoxRecord& r) { return r.status == status; },
        std::chrono::seconds(30));
  }
  std::string volumes_;
};

TEST_F(BoxVolumeTest, TheBoxSeesItsQuotaAtDataWritableOverAReadOnlyRoot) {
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c",
            "df -k /data | tail -n 1; stat -c %u:%g /data; touch /data/x && echo writable; "
            "touch /x 2>/dev/null || echo root-read-only"};
  s.disk_max = 32u << 20;
  auto c = testing::RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 0) << c.out;
  auto lines = Split(c.out, '\n');
  ASSERT_GE(lines.size(), 4u) << c.out;
  std::vector<std::string> df;
  for (const auto& w : Split(lines[0], ' '))
    if (!w.empty()) df.push_back(w);
  ASSERT_GE(df.size(), 2u) << c.out;
  const uint64_t kib = std::strtoull(df[1].c_str(), nullptr, 10);
  EXPECT_GT(kib, 24u * 1024) << "most of the quota is the box's: " << c.out;
  EXPECT_LE(kib, 32u * 1024) << c.out;
  EXPECT_EQ(lines[1], "0:0") << "box root owns /data";
  EXPECT_EQ(lines[2], "writable");
  EXPECT_EQ(lines[3], "root-read-only");
  // A transient box's volume goes with it (TearDown: no image, no loop device).

  // Another user owns its own volume.
  s.uid = 1000;
  s.gid = 1000;
  s.args = {"-c", "stat -c %u:%g /data; echo hi > /data/mine && cat /data/mine"};
  auto u = testing::RunCaptured(s, opts_);
  ASSERT_TRUE(u.outcome) << u.outcome.error().ToString();
  EXPECT_EQ(u.out, "1000:1000\nhi\n");
}

// The host never shows the volume: it is mounted only in the box's mount namespace.
TEST_F(BoxVolumeTest, TheVolumeIsNeverInTheHostsMountTable) {
  BoxSpec s;
  s.command = "/bin/true";
  s.disk_max = 16u << 20;
  std::vector<std::string> loops;
  bool mounted_on_host = true;
  RunOptions o = opts_;
  o.on_running = [&](const BoxRecord&) {
    loops = LoopsBackedFrom(volumes_);
    mounted_on_host = false;
    for (const auto& l : loops) mounted_on_host |= Mounted(l);
  };
  auto r = RunBox(s, o);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(loops.size(), 1u) << "one loop device while the box ran";
  EXPECT_FALSE(mounted_on_host);
}

// A named box: what it writes stays in its image after it ended, writing past the quota
// got ENOSPC, the host holds at most the image's size, and delete removes it all.
TEST_F(BoxVolumeTest, ANamedBoxKeepsItsDataUntilDeleteAndStopsAtItsQuota) {
  auto created = Silk({"box", "create", "--start", "--disk", "32M", "keep", "--", "/bin/sh", "-c",
                       "echo kept > /data/note; dd if=/dev/zero of=/data/fill bs=1M 2>&1; "
                       "echo dd=$?; wc -c < /data/fill; sync"});
  ASSERT_EQ(created.status, 0) << created.err;
  auto ended = WaitUntil("keep", BoxStatus::kExited);
  ASSERT_TRUE(ended) << ended.error().ToString();
  auto log = ReadFile(ended->log).value_or("");
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  EXPECT_NE(log.find("dd=1"), std::string::npos) << log;
  auto lines = Split(Trim(log), '\n');
  const uint64_t filled = std::strtoull(lines.back().c_str(), nullptr, 10);
  // ext4's journal (4 MiB here) and inode tables take the rest.
  EXPECT_GE(filled, uint64_t{20} << 20) << "most of the quota is the box's: " << log;
  EXPECT_LE(filled, uint64_t{32} << 20) << log;

  auto images = FilesIn(volumes_);
  ASSERT_EQ(images.size(), 1u) << "a named box keeps its image";
  struct stat st;
  ASSERT_EQ(stat(images[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 32 << 20);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{32} << 20)
      << "the host holds at most the quota";
  EXPECT_TRUE(NoLoopsBackedFrom(volumes_)) << "an ended box holds no loop device";
  SpawnOptions o;
  o.argv = {"debugfs", "-R", "cat /note", images[0]};
  auto note = RunAndCapture(o);
  ASSERT_TRUE(note) << note.error().ToString();
  EXPECT_EQ(note->out, "kept\n") << note->err;

  auto deleted = Silk({"box", "delete", "keep"});
  ASSERT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_TRUE(FilesIn(volumes_).empty());
}

// SIGKILL of a named box's supervisor: the box dies with it and its volume's mount and
// loop device with the box; delete removes the image.
TEST_F(BoxVolumeTest, ALostBoxsVolumeGoesWithDelete) {
  ASSERT_EQ(Silk({"box", "create", "--start", "--disk", "16M", "lost", "--", "/bin/sleep", "1000"})
                .status,
            0);
  auto record = ReadBox(state_.path(), "lost");
  ASSERT_TRUE(record) << record.error().ToString();
  auto loops = LoopsBackedFrom(volumes_);
  ASSERT_EQ(loops.size(), 1u);
  EXPECT_FALSE(Mounted(loops[0]));
  ASSERT_EQ(FilesIn(volumes_).size(), 1u);
  ASSERT_EQ(kill(record->supervisor_pid, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil("lost", BoxStatus::kLost));
  auto deleted = Silk({"box", "delete", "lost"});
  ASSERT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_TRUE(FilesIn(volumes_).empty()) << "delete removes a lost box's image";
  EXPECT_TRUE(NoLoopsBackedFrom(volumes_));
  EXPECT_FALSE(Mounted(loops[0]));
}

// SIGKILL of `silk box run --disk` (the supervisor of a transient box): the next sweep
// removes the image its state recorded.
TEST_F(BoxVolumeTest, TheSweepRemovesTheImageOfAKilledBoxRun) {
  SpawnOptions o;
  o.argv = {std::string(SILK_BINARY_DIR) + "/cli/silk",
            "box",
            "run",
            "--state-dir",
            state_.path(),
            "--volume-dir",
            volumes_,
            "--disk",
            "16M",
            "--",
            "/bin/sleep",
            "1000"};
  o.out = Stdio::Null();
  o.err = Stdio::Null();
  auto cli = ChildProcess::Spawn(o);
  ASSERT_TRUE(cli) << cli.error().ToString();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (LoopsBackedFrom(volumes_).empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(LoopsBackedFrom(volumes_).size(), 1u) << "the box never got its volume";
  (void)cli->Kill();
  ASSERT_EQ(FilesIn(volumes_).size(), 1u) << "the image outlives a SIGKILLed supervisor";
  auto sweep = Silk({"box", "sweep"});
  ASSERT_EQ(sweep.status, 0) << sweep.err;
  EXPECT_TRUE(FilesIn(volumes_).empty()) << "the sweep removes the recorded image";
}

TEST_F(BoxVolumeTest, BoxRunDfShowsTheSize) {
  auto r = Silk({"box", "run", "--disk", "32M", "--", "sh", "-c", "df -h /data"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("/data"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("M "), std::string::npos) << r.out;
}

TEST_F(BoxVolumeTest, BadQuotasAreRefusedNamingTheFlagWithNothingMade) {
  auto small = Silk({"box", "run", "--disk", "8M", "--", "/bin/true"});
  EXPECT_EQ(small.status, 125);
  EXPECT_NE(small.err.find("--disk"), std::string::npos) << small.err;
  EXPECT_NE(small.err.find("16M"), std::string::npos) << small.err;

  struct statvfs fs;
  ASSERT_EQ(statvfs(volumes_.c_str(), &fs), 0);
  const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const std::string too_big = std::to_string(free + (uint64_t{1} << 30));
  auto big = Silk({"box", "run", "--disk", too_big, "--", "/bin/true"});
  EXPECT_EQ(big.status, 125);
  EXPECT_NE(big.err.find("--disk"), std::string::npos) << big.err;
  EXPECT_NE(big.err.find("free space"), std::string::npos) << big.err;
  EXPECT_NE(big.err.find(too_big), std::string::npos) << "names the quota: " << big.err;
  auto named = Silk({"box", "create", "--disk", too_big, "big", "--", "/bin/true"});
  EXPECT_EQ(named.status, 1);
  EXPECT_NE(named.err.find("free space"), std::string::npos) << named.err;
  EXPECT_FALSE(ReadBox(state_.path(), "big")) << "no box was made";

  // A root fs must bring its mount point.
  BoxSpec s = testing::ProbeSpec(root_, {"caps"});
  s.disk_max = 16u << 20;
  auto r = RunBox(s, opts_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().ToString().find("no directory /data"), std::string::npos)
      << r.error().ToString();
  // TearDown: no image, no loop device, no state.
}

// With the mount point there, a busybox root fs gets its volume too.
TEST_F(BoxVolumeTest, ARootfsWithDataGetsTheVolume) {
  if (access((root_.path() + "/bin/busybox").c_str(), X_OK) != 0)
    GTEST_SKIP() << "no /bin/busybox on this host for the test root fs";
  std::filesystem::create_directories(root_.path() + "/data");
  BoxSpec s;
  s.rootfs = root_.path();
  s.command = "/bin/sh";
  s.args = {"-c", "busybox dd if=/dev/zero of=/data/f bs=1M 2>&1"};
  s.disk_max = 16u << 20;
  auto c = testing::RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_NE(c.out.find("No space left on device"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace silk::compat
