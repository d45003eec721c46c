// The escape battery, file system and validation part (issue 9): values that mean
// something special to the kernel refused before anything touches the system, host
// mounts read-only all the way down, one scratch budget, a default pids limit and an
// audit login uid the box cannot change. Each attempt here worked before the fix.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "box_test_util.hpp"

namespace silk::compat {
namespace {

using testing::ProbeSpec;
using testing::RootBoxTest;
using testing::RunCaptured;
using testing::TestRootfs;

// A tmpfs mounted on the host at `dir` (created), unmounted and removed on destruction.
class HostTmpfs {
 public:
  explicit HostTmpfs(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    mounted_ = mount("silk-escape-fs", dir_.c_str(), "tmpfs", 0, "size=1m,mode=0777") == 0;
  }
  ~HostTmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    rmdir(dir_.c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// The mount options (field 6) of the line of mountinfo `text` mounted at `point`.
std::vector<std::string> MountOptions(const std::string& text, const std::string& point) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto f = Split(line, ' ');
    if (f.size() > 5 && f[4] == point) return Split(f[5], ',');
  }
  return {};
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Prints the box's /proc/self/mountinfo with shell builtins only (the test rootfs has
// busybox sh but no applet links).
std::vector<std::string> kPrintMountinfo = {
    "-c", "while read -r l; do echo \"$l\"; done < /proc/self/mountinfo"};

class BoxEscapeFs : public RootBoxTest {
 protected:
  BoxSpec Shell(std::vector<std::string> args) {
    BoxSpec s = ProbeSpec(root_, std::move(args));
    s.command = "/bin/sh";
    return s;
  }
};

// Escape 3: (uid_t)-1 means "unchanged" to setresuid(2); the box ran as root.
TEST_F(BoxEscapeFs, UidMinusOneIsRefusedBeforeTheBoxStarts) {
  for (bool gid : {false, true}) {
    BoxSpec s = ProbeSpec(root_, {"status", "Uid:"});
    (gid ? s.gid : s.uid) = 4294967295u;
    auto c = RunCaptured(s, opts_);
    ASSERT_FALSE(c.outcome) << "the box ran: " << c.out;
    EXPECT_EQ(c.outcome.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(c.outcome.error().message().find(gid ? "gid" : "uid"), std::string::npos)
        << c.outcome.error().ToString();
  }
}

// A stranger's rootfs chooses what its etc/passwd is, and `--uid` alone reads it for the
// box's group (DefaultBoxGid). A FIFO or device node there must never be opened (opening
// a device can act: a watchdog arms on open); a link must not lead to the host's file.
// inotify's IN_OPEN sees every real open (an O_PATH handle is not one).
TEST_F(BoxEscapeFs, AHostileRootfsPasswdIsNeverOpenedUnlessRegular) {
  const std::string etc = root_.path() + "/etc";
  ASSERT_TRUE(std::filesystem::create_directories(etc) || std::filesystem::exists(etc));
  const std::string passwd = etc + "/passwd";
  std::filesystem::remove(passwd);
  ASSERT_EQ(mkfifo(passwd.c_str(), 0644), 0);
  UniqueFd in(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_TRUE(in);
  ASSERT_GE(inotify_add_watch(in.get(), passwd.c_str(), IN_OPEN), 0);
  EXPECT_EQ(DefaultBoxGid(1000, root_.path()), 1000u);
  char buf[4096];
  EXPECT_LT(read(in.get(), buf, sizeof buf), 0) << "the FIFO was opened";
  std::filesystem::remove(passwd);
  // A device node (as /dev/null's) in the rootfs: not opened either.
  ASSERT_EQ(mknod(passwd.c_str(), S_IFCHR | 0644, makedev(1, 3)), 0);
  UniqueFd in2(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_GE(inotify_add_watch(in2.get(), passwd.c_str(), IN_OPEN), 0);
  EXPECT_EQ(DefaultBoxGid(1000, root_.path()), 1000u);
  EXPECT_LT(read(in2.get(), buf, sizeof buf), 0) << "the device node was opened";
  std::filesystem::remove(passwd);
  // An absolute link to the host's passwd resolves inside the rootfs (nothing there).
  ASSERT_EQ(symlink("/etc/passwd", passwd.c_str()), 0);
  EXPECT_EQ(DefaultBoxGid(65534, root_.path()), 65534u);
  std::filesystem::remove(passwd);
}

// `--box-id ../../x` created a cgroup outside silk/ before failing.
TEST_F(BoxEscapeFs, BoxIdWithDotDotIsRefusedAndCreatesNothing) {
  const std::string name = "silk-bid-escape-" + std::to_string(getpid());
  for (const std::string& id : {"../../" + name, "../" + name, "a/../../" + name}) {
    RunOptions o = opts_;
    o.box_id = id;
    auto c = RunCaptured(ProbeSpec(root_, {"status", "Uid:"}), o);
    ASSERT_FALSE(c.outcome) << id << ": the box ran";
    EXPECT_EQ(c.outcome.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(c.outcome.error().message().find("box id"), std::string::npos)
        << c.outcome.error().ToString();
  }
  // Nothing named after it anywhere the box id is joined to: the cgroup hierarchies
  // (v1 controllers and v2, with and without silk/) and the state root's ancestors.
  std::vector<std::string> places = {"/", "/tmp", "/sys/fs/cgroup", state_.path()};
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    places.push_back(e.path());
    places.push_back(e.path().string() + "/silk");
  }
  for (const auto& p : places)
    EXPECT_FALSE(std::filesystem::exists(p + "/" + name, ec)) << p << "/" << name;
}

// Escape 5b: "DIR/../../../../" was accepted as the host's `/`.
TEST_F(BoxEscapeFs, RootfsResolvingToTheHostRootIsRefused) {
  BoxSpec s = ProbeSpec(root_, {"status", "Uid:"});
  s.command = "/bin/true";
  s.rootfs = root_.path() + "/../../../../";
  auto c = RunCaptured(s, opts_);
  ASSERT_FALSE(c.outcome) << "the box ran with the host's / as its root";
  EXPECT_NE(c.outcome.error().message().find("rootfs"), std::string::npos)
      << c.outcome.error().ToString();
}

// Escape 5a: a mount inside the rootfs stayed rw, suid and dev; the box wrote to the host.
TEST_F(BoxEscapeFs, MountInsideTheRootfsIsReadOnlyNosuidNodev) {
  HostTmpfs data(root_.path() + "/data");
  ASSERT_TRUE(data.mounted()) << strerror(errno);
  auto w = RunCaptured(ProbeSpec(root_, {"write", "/data/pwned", "from the box"}), opts_);
  ASSERT_TRUE(w.outcome) << w.outcome.error().ToString();
  EXPECT_NE(w.outcome->exit_status, 0) << w.out;
  EXPECT_NE(w.out.find("Read-only file system"), std::string::npos) << w.out;
  EXPECT_FALSE(std::filesystem::exists(data.dir() + "/pwned"));

  auto m = RunCaptured(Shell(kPrintMountinfo), opts_);
  ASSERT_TRUE(m.outcome) << m.outcome.error().ToString();
  auto opts = MountOptions(m.out, "/data");
  ASSERT_FALSE(opts.empty()) << m.out;
  EXPECT_TRUE(Has(opts, "ro") && Has(opts, "nosuid") && Has(opts, "nodev")) << m.out;
  // silk's own writable mounts are on top of the read-only tree, not under it.
  EXPECT_TRUE(Has(MountOptions(m.out, "/scratch"), "rw")) << m.out;
}

// The default view bound /usr, /etc ... recursively but remounted only the top read-only.
TEST_F(BoxEscapeFs, MountInsideADefaultViewHostDirIsReadOnly) {
  HostTmpfs sub("/etc/silk-escape-fs-" + std::to_string(getpid()));
  ASSERT_TRUE(sub.mounted()) << strerror(errno);
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c",
            "echo pwned > " + sub.dir() + "/f; grep ' " + sub.dir() + " ' /proc/self/mountinfo"};
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(sub.dir() + "/f")) << "the box wrote to the host's /etc";
  auto opts = MountOptions(c.out, sub.dir());
  ASSERT_FALSE(opts.empty()) << c.out;
  EXPECT_TRUE(Has(opts, "ro") && Has(opts, "nosuid") && Has(opts, "nodev")) << c.out;
}

// --scratch N gave /tmp, /scratch and /dev/shm N each (3N of host memory).
TEST_F(BoxEscapeFs, TmpScratchAndShmShareOneBudget) {
  BoxSpec s = Shell({"-c", "probe fill /tmp/a; probe fill /scratch/b; probe fill /dev/shm/c"});
  s.scratch_size = 8 << 20;
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  std::vector<uint64_t> wrote;
  for (const auto& line : Split(c.out, '\n'))
    if (line.rfind("wrote ", 0) == 0) wrote.push_back(std::stoull(line.substr(6)));
  ASSERT_EQ(wrote.size(), 3u) << c.out;
  EXPECT_GT(wrote[0], 7u << 20) << c.out;  // /tmp takes (nearly) the whole budget
  EXPECT_LT(wrote[1], 1u << 20) << c.out;  // then /scratch is full ...
  EXPECT_LT(wrote[2], 1u << 20) << c.out;  // ... and /dev/shm too
  EXPECT_NE(c.out.find("No space left on device"), std::string::npos) << c.out;
}

TEST_F(BoxEscapeFs, ScratchLargerThanTheHostIsRefused) {
  BoxSpec s = ProbeSpec(root_, {"status", "Uid:"});
  s.scratch_size = 100ull << 40;
  auto c = RunCaptured(s, opts_);
  ASSERT_FALSE(c.outcome) << "a 100T scratch was accepted";
  EXPECT_NE(c.outcome.error().message().find("scratch_size"), std::string::npos)
      << c.outcome.error().ToString();
}

// 3000 forks succeeded without --pids.
TEST_F(BoxEscapeFs, DefaultPidsLimitHolds) {
  BoxSpec s = ProbeSpec(root_, {"forks", "2000"});
  ASSERT_EQ(s.pids_max, kDefaultPidsMax);
  RunOptions o = opts_;
  o.timeout_ms = 60000;
  auto c = RunCaptured(s, o);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 1) << c.out;
  ASSERT_EQ(c.out.rfind("forked ", 0), 0u) << c.out;
  EXPECT_LE(std::stoul(c.out.substr(7)), kDefaultPidsMax) << c.out;
}

// /proc/self/loginuid: any task may set it while unset; the box must not (it would
// choose the identity the host's audit log records for it).
TEST_F(BoxEscapeFs, AuditLoginUidCannotBeChanged) {
  auto c = RunCaptured(ProbeSpec(root_, {"write", "/proc/self/loginuid", "12345"}), opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_NE(c.outcome->exit_status, 0) << c.out;
}

// Escape 1: the caller's stdin was installed in the box, and a directory there gave the
// host's filesystem through /proc/self/fd/0/../... A directory is not a stream: refused
// before anything starts.
TEST_F(BoxEscapeFs, DirectoryOnStdinIsRefused) {
  UniqueFd dir(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  RunOptions o = opts_;
  o.stdin_fd = dir.get();
  auto r = RunBox(ProbeSpec(root_, {"open", "/proc/self/fd/0/../etc/hostname", "r"}), o);
  ASSERT_FALSE(r) << "a box ran with a directory on stdin";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("directory"), std::string::npos) << r.error().message();
}

// Escape 2: a read-only stdin file was reopened for writing through /proc/self/fd/0 (as
// host root). Now the box's stdin, stdout and stderr are pipes of the supervisor: the
// magic links lead to them, never to the caller's files.
TEST_F(BoxEscapeFs, CallersFilesNeverEnterTheBox) {
  const std::string file = state_.path() + "-stdin";
  {
    UniqueFd w(open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(w);
    ASSERT_EQ(write(w.get(), "orig\n", 5), 5);
  }
  UniqueFd ro(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(ro);
  RunOptions o = opts_;
  o.stdin_fd = ro.get();
  BoxSpec s = Shell({"-c",
                     "echo PWNED > /proc/self/fd/0; echo PWNED > /proc/self/fd/1; "
                     "read -r line; echo \"read:$line\""});
  auto c = RunCaptured(s, o);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  std::string content;
  {
    UniqueFd r(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    char buf[64];
    ssize_t n = read(r.get(), buf, sizeof buf);
    if (n > 0) content.assign(buf, static_cast<size_t>(n));
  }
  unlink(file.c_str());
  EXPECT_EQ(content, "orig\n") << "the box wrote the caller's read-only stdin file";
  // The relay still carries the data both ways.
  EXPECT_NE(c.out.find("read:orig"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace silk::compat
