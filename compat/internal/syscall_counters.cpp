#include "compat/internal/syscall_counters.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::compat::internal {
namespace {

constexpr char kSysEnterId[] = "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id";
// Offset of `long id` in the raw_syscalls:sys_enter record (after the 8 bytes of common
// fields; its tracefs format file says "field:long id; offset:8; size:8").
constexpr int16_t kIdOffset = 8;
// Ancestor levels tried when the box's cgroup is seen through a cgroup namespace (its
// absolute depth is then unknown here, but not smaller than the depth we see).
constexpr int kNamespacedLevels = 8;

// Reads the tracepoint id in a forked child that, when tracefs is not mounted, mounts it
// in a mount namespace of its own (the host's mounts are never touched). The child runs
// raw system calls only: the caller may be multithreaded. Exit 0 with the id on the
// pipe; 2 with "<errno>" when tracefs cannot be mounted; 3 when the tracepoint is missing.
Result<int> ReadSysEnterTracepoint() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return FailErrno("pipe for the tracepoint id");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = fork();
  if (pid < 0) return FailErrno("fork for the tracepoint id");
  if (pid == 0) {
    int f = open(kSysEnterId, O_RDONLY | O_CLOEXEC);
    if (f < 0 && errno == ENOENT) {
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0) {
        char b[4] = {static_cast<char>(errno & 0x7f), 0, 0, 0};
        (void)!write(wr.get(), b, 1);
        _exit(2);
      }
      f = open(kSysEnterId, O_RDONLY | O_CLOEXEC);
    }
    if (f < 0) _exit(3);
    char buf[32];
    long n = read(f, buf, sizeof buf);
    if (n > 0) (void)!write(wr.get(), buf, static_cast<size_t>(n));
    _exit(n > 0 ? 0 : 3);
  }
  wr.Reset();
  char buf[32] = {};
  ssize_t n = 0;
  do n = read(rd.get(), buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (code == 2)
    return Fail(ErrorCode::kUnsupported, std::string("cannot mount tracefs for the tracepoint id: ") +
                                             strerror(n > 0 ? buf[0] : EPERM));
  if (code != 0 || n <= 0)
    return Fail(ErrorCode::kUnsupported,
                std::string("this kernel has no raw_syscalls:sys_enter tracepoint (") + kSysEnterId +
                    ")");
  return std::atoi(buf);
}

Result<int> SysEnterTracepoint() {
  static std::once_flag once;
  static Result<int> id = Fail(ErrorCode::kInternal, "");
  std::call_once(once, [] { id = ReadSysEnterTracepoint(); });
  return id;
}

long Bpf(int cmd, bpf_attr* attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// The counting program, for a box whose cgroup has id `cgroup_id` and lies at an
// absolute level in [level_lo, level_hi]:
//   for each level: if ancestor_cgroup_id(level) == cgroup_id goto count
//   return 0
//   count: nr = ctx->id; if nr >= kCountedSlots return 0
//          slot = map_lookup_elem(counters, &nr); if slot: *slot += 1 (per CPU)
//   return 0 (never a perf sample)
std::vector<bpf_insn> CountingProgram(int map_fd, uint64_t cgroup_id, int level_lo, int level_hi) {
  std::vector<bpf_insn> p;
  p.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0));  // r6 = ctx
  for (int level = level_lo; level <= level_hi; ++level) {
    p.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, level));
    p.push_back(Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_ancestor_cgroup_id));
    p.push_back(Insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, 0, 0, static_cast<int32_t>(cgroup_id)));
    p.push_back(Insn(0, 0, 0, 0, static_cast<int32_t>(cgroup_id >> 32)));
    // Jump to "count", fixed up below.
    p.push_back(Insn(BPF_JMP | BPF_JEQ | BPF_X, BPF_REG_0, BPF_REG_1, 0, 0));
  }
  const size_t not_ours = p.size();
  p.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
  p.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  const size_t count = p.size();
  for (size_t i = 0; i < not_ours; ++i)
    if (p[i].code == (BPF_JMP | BPF_JEQ | BPF_X))
      p[i].off = static_cast<int16_t>(count - i - 1);
  p.push_back(Insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_2, BPF_REG_6, kIdOffset, 0));
  const size_t range_check = p.size();
  p.push_back(Insn(BPF_JMP | BPF_JGE | BPF_K, BPF_REG_2, 0, 0, kCountedSlots));  // -> out
  p.push_back(Insn(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_2, -4, 0));    // key
  p.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0));
  p.push_back(Insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4));
  p.push_back(Insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd));
  p.push_back(Insn(0, 0, 0, 0, 0));
  p.push_back(Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
  const size_t null_check = p.size();
  p.push_back(Insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 0, 0));  // -> out
  p.push_back(Insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 0, 0));
  p.push_back(Insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1));
  p.push_back(Insn(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 0, 0));
  const size_t out = p.size();
  p.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
  p.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  p[range_check].off = static_cast<int16_t>(out - range_check - 1);
  p[null_check].off = static_cast<int16_t>(out - null_check - 1);
  return p;
}

// The cgroup's depth as seen here: ".." steps up to the cgroup2 root (id 1), or, in a
// cgroup namespace, to the namespace's root (then `exact` is false).
Result<int> CgroupLevel(int dir_fd, bool* exact) {
  UniqueFd cur(fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur) return FailErrno("duplicating the box's cgroup fd");
  for (int level = 0; level < 64; ++level) {
    struct stat here{}, up{};
    if (fstat(cur.get(), &here) != 0) return FailErrno("stat of the box's cgroup");
    if (here.st_ino == 1) {
      *exact = true;
      return level;
    }
    UniqueFd parent(openat(cur.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent || fstat(parent.get(), &up) != 0) return FailErrno("walking up the box's cgroup");
    if (up.st_ino == here.st_ino && up.st_dev == here.st_dev) {
      *exact = false;  // the root of what this mount shows
      return level;
    }
    cur = std::move(parent);
  }
  return Fail(ErrorCode::kUnsupported, "the box's cgroup is nested deeper than 64 levels");
}

// The number of possible CPUs ("0-3" in /sys/devices/system/cpu/possible -> 4).
size_t PossibleCpus() {
  auto text = ReadFile("/sys/devices/system/cpu/possible");
  size_t n = 0;
  if (text) {
    for (const auto& part : Split(Trim(*text), ',')) {
      size_t dash = part.find('-');
      n = std::max<size_t>(n, std::strtoul(part.c_str() + (dash == std::string::npos ? 0 : dash + 1),
                                           nullptr, 10) + 1);
    }
  }
  return std::max<size_t>(n, static_cast<size_t>(std::max(sysconf(_SC_NPROCESSORS_CONF), 1L)));
}

Error Unsupported(const std::string& what, int err) {
  return Error(ErrorCode::kUnsupported,
               what + " (counting syscalls in the kernel needs root: CAP_BPF and CAP_PERFMON)",
               err);
}

}  // namespace

Result<SyscallCounters> SyscallCounters::Open(int cgroup_dir_fd) {
  if (cgroup_dir_fd < 0)
    return Fail(ErrorCode::kUnsupported, "the box has no cgroup v2 directory to count in");
  const int tracepoint = SILK_TRY(SysEnterTracepoint());
  struct stat st{};
  if (fstat(cgroup_dir_fd, &st) != 0) return FailErrno("stat of the box's cgroup");
  bool exact = false;
  const int level = SILK_TRY(CgroupLevel(cgroup_dir_fd, &exact));

  SyscallCounters c;
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_PERCPU_ARRAY;
  attr.key_size = sizeof(uint32_t);
  attr.value_size = sizeof(uint64_t);
  attr.max_entries = kCountedSlots;
  strncpy(attr.map_name, "silk_counts", sizeof attr.map_name - 1);
  c.map_.Reset(static_cast<int>(Bpf(BPF_MAP_CREATE, &attr)));
  if (!c.map_) return Fail(Unsupported("creating the BPF counter array refused", errno));

  const auto insns =
      CountingProgram(c.map_.get(), st.st_ino, level, exact ? level : level + kNamespacedLevels);
  static const char kLicense[] = "GPL";
  char log[4096] = {};
  attr = {};
  attr.prog_type = BPF_PROG_TYPE_TRACEPOINT;
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.insns = reinterpret_cast<uint64_t>(insns.data());
  attr.license = reinterpret_cast<uint64_t>(kLicense);
  attr.log_buf = reinterpret_cast<uint64_t>(log);
  attr.log_size = sizeof log;
  attr.log_level = 1;
  strncpy(attr.prog_name, "silk_count", sizeof attr.prog_name - 1);
  c.prog_.Reset(static_cast<int>(Bpf(BPF_PROG_LOAD, &attr)));
  if (!c.prog_) {
    const int err = errno;
    if (err == EPERM || err == EACCES)
      return Fail(Unsupported("loading the BPF counting program refused", err));
    return Fail(Error(ErrorCode::kUnsupported,
                      "the kernel refused the BPF counting program: " + std::string(log), err));
  }

  perf_event_attr pa{};
  pa.size = sizeof pa;
  pa.type = PERF_TYPE_TRACEPOINT;
  pa.config = static_cast<uint64_t>(tracepoint);
  pa.sample_period = 1;
  pa.sample_type = PERF_SAMPLE_RAW;
  // This thread's own event: the program runs for the tracepoint on every task anyway,
  // and returns 0, so the event never records anything.
  c.event_.Reset(static_cast<int>(
      syscall(SYS_perf_event_open, &pa, 0, -1, -1, PERF_FLAG_FD_CLOEXEC)));
  if (!c.event_) return Fail(Unsupported("perf_event_open(raw_syscalls:sys_enter) refused", errno));
  return c;
}

Result<void> SyscallCounters::Enable() {
  if (ioctl(event_.get(), PERF_EVENT_IOC_SET_BPF, prog_.get()) != 0)
    return FailErrno("attaching the BPF counting program to raw_syscalls:sys_enter");
  return {};
}

Result<std::map<int, uint64_t>> SyscallCounters::Read(const std::vector<int>& nrs) const {
  // Per-CPU values come back for every possible CPU, each rounded up to 8 bytes.
  std::vector<uint64_t> values(PossibleCpus());
  std::map<int, uint64_t> totals;
  for (int nr : nrs) {
    if (nr < 0 || static_cast<uint32_t>(nr) >= kCountedSlots) continue;
    uint32_t key = static_cast<uint32_t>(nr);
    std::fill(values.begin(), values.end(), 0);
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_.get());
    attr.key = reinterpret_cast<uint64_t>(&key);
    attr.value = reinterpret_cast<uint64_t>(values.data());
    if (Bpf(BPF_MAP_LOOKUP_ELEM, &attr) != 0) return FailErrno("reading the syscall counters");
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    if (sum) totals[nr] = sum;
  }
  return totals;
}

}  // namespace silk::compat::internal
