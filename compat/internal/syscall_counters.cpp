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

#include <algorithm>
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
    return Fail(ErrorCode::kUnsupported,
                std::string("cannot mount tracefs for the tracepoint id: ") +
                    strerror(n > 0 ? buf[0] : EPERM));
  if (code != 0 || n <= 0)
    return Fail(
        ErrorCode::kUnsupported,
        std::string("this kernel has no raw_syscalls:sys_enter tracepoint (") + kSysEnterId + ")");
  return std::atoi(buf);
}

Result<int> SysEnterTracepoint() {
  static std::once_flag once;
  static Result<int> id = Fail(ErrorCode::kInternal, "");
  std::call_once(once, [] { id = ReadSysEnterTracepoint(); });
  return id;
}

long Bpf(int cmd, bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// Just enough of an assembler for the counting program: instructions, forward labels.
class Asm {
 public:
  void Op(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    p_.push_back(Insn(code, dst, src, off, imm));
  }
  void Mov(uint8_t dst, int32_t imm) { Op(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  void MovReg(uint8_t dst, uint8_t src) { Op(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void LoadImm64(uint8_t dst, uint8_t pseudo, uint64_t v) {
    Op(BPF_LD | BPF_DW | BPF_IMM, dst, pseudo, 0, static_cast<int32_t>(v));
    Op(0, 0, 0, 0, static_cast<int32_t>(v >> 32));
  }
  void StackPtr(uint8_t dst, int16_t off) {
    MovReg(dst, BPF_REG_10);
    Op(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, off);
  }
  void Call(int32_t helper) { Op(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void Exit0() {
    Mov(BPF_REG_0, 0);
    Op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  int NewLabel() {
    at_.push_back(-1);
    return static_cast<int>(at_.size()) - 1;
  }
  void Bind(int label) { at_[static_cast<size_t>(label)] = static_cast<int>(p_.size()); }
  // A jump to `label`: `op` is BPF_JA, or BPF_Jxx with BPF_K (imm) or BPF_X (src).
  void Jump(uint8_t op, uint8_t dst, uint8_t src, int32_t imm, int label) {
    fixups_.push_back({p_.size(), label});
    Op(BPF_JMP | op, dst, src, 0, imm);
  }
  std::vector<bpf_insn> Finish() {
    for (const auto& [pos, label] : fixups_)
      p_[pos].off =
          static_cast<int16_t>(at_[static_cast<size_t>(label)] - static_cast<int>(pos) - 1);
    return std::move(p_);
  }

 private:
  std::vector<bpf_insn> p_;
  std::vector<int> at_;
  std::vector<std::pair<size_t, int>> fixups_;
};

// Offset of argument register i in the raw_syscalls:sys_enter record ("unsigned long
// args[6]; offset:16").
int16_t ArgOffset(unsigned i) { return static_cast<int16_t>(kIdOffset + 8 + 8 * i); }

// The counting program, for a box whose cgroup has id `cgroup_id` and lies at an
// absolute level in [level_lo, level_hi]:
//   if no ancestor_cgroup_id(level) == cgroup_id: return 0
//   nr = ctx->id; if nr >= kCountedSlots: return 0
//   counts[nr] += 1                                    (per-CPU array)
//   if nr is keyed: key = {nr, args[i], args[j]}
//     keys[key] += 1 (atomic), or insert 1 if absent   (hash; a full table drops it)
//   return 0                                           (never a perf sample)
// Stack: fp-40 u32 array key; fp-32 {u32 nr, u32 0, u64 a, u64 b} hash key; fp-8 value 1.
std::vector<bpf_insn> CountingProgram(int counts_fd, int keys_fd, uint64_t cgroup_id, int level_lo,
                                      int level_hi, const std::vector<KeyedSyscall>& keyed) {
  Asm a;
  const int ours = a.NewLabel(), keyed_l = a.NewLabel(), hash = a.NewLabel(), insert = a.NewLabel(),
            out = a.NewLabel();
  a.MovReg(BPF_REG_6, BPF_REG_1);  // r6 = ctx
  for (int level = level_lo; level <= level_hi; ++level) {
    a.Mov(BPF_REG_1, level);
    a.Call(BPF_FUNC_get_current_ancestor_cgroup_id);
    a.LoadImm64(BPF_REG_1, 0, cgroup_id);
    a.Jump(BPF_JEQ | BPF_X, BPF_REG_0, BPF_REG_1, 0, ours);
  }
  a.Exit0();
  a.Bind(ours);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_7, BPF_REG_6, kIdOffset, 0);  // r7 = nr
  a.Jump(BPF_JGE | BPF_K, BPF_REG_7, 0, kCountedSlots, out);
  a.Op(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_7, -40, 0);
  a.LoadImm64(BPF_REG_1, BPF_PSEUDO_MAP_FD, static_cast<uint64_t>(counts_fd));
  a.StackPtr(BPF_REG_2, -40);
  a.Call(BPF_FUNC_map_lookup_elem);
  a.Jump(BPF_JEQ | BPF_K, BPF_REG_0, 0, 0, keyed_l);
  a.Op(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 0, 0);
  a.Op(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1);
  a.Op(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 0, 0);
  a.Bind(keyed_l);
  for (const auto& k : keyed) {
    const int next = a.NewLabel();
    a.Jump(BPF_JNE | BPF_K, BPF_REG_7, 0, k.nr, next);
    for (size_t slot = 0; slot < 2; ++slot) {
      if (slot < k.args.size())
        a.Op(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_6, ArgOffset(k.args[slot]), 0);
      else
        a.Mov(BPF_REG_1, 0);
      a.Op(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, static_cast<int16_t>(-24 + 8 * slot),
           0);
    }
    a.Jump(BPF_JA, 0, 0, 0, hash);
    a.Bind(next);
  }
  if (!keyed.empty()) {  // else the table code would be unreachable, which the verifier refuses
    a.Jump(BPF_JA, 0, 0, 0, out);
    a.Bind(hash);
    a.Op(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_7, -32, 0);
    a.Op(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -28, 0);
    a.LoadImm64(BPF_REG_1, BPF_PSEUDO_MAP_FD, static_cast<uint64_t>(keys_fd));
    a.StackPtr(BPF_REG_2, -32);
    a.Call(BPF_FUNC_map_lookup_elem);
    a.Jump(BPF_JEQ | BPF_K, BPF_REG_0, 0, 0, insert);
    a.Mov(BPF_REG_1, 1);
    a.Op(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD);
    a.Jump(BPF_JA, 0, 0, 0, out);
    a.Bind(insert);
    a.Op(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 1);
    a.LoadImm64(BPF_REG_1, BPF_PSEUDO_MAP_FD, static_cast<uint64_t>(keys_fd));
    a.StackPtr(BPF_REG_2, -32);
    a.StackPtr(BPF_REG_3, -8);
    a.Mov(BPF_REG_4, BPF_NOEXIST);
    a.Call(BPF_FUNC_map_update_elem);
  }
  a.Bind(out);
  a.Exit0();
  return a.Finish();
}

// The cgroup's depth as seen here: ".." steps up to the cgroup2 root (id 1), or, in a
// cgroup namespace, to the namespace's root (then `exact` is false).
Result<int> CgroupLevel(int dir_fd, bool* exact) {
  UniqueFd cur(fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur) return FailErrno("duplicating the box's cgroup fd");
  for (int level = 0; level < 64; ++level) {
    struct stat here {
    }, up{};
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
      n = std::max<size_t>(
          n,
          std::strtoul(part.c_str() + (dash == std::string::npos ? 0 : dash + 1), nullptr, 10) + 1);
    }
  }
  return std::max<size_t>(n, static_cast<size_t>(std::max(sysconf(_SC_NPROCESSORS_CONF), 1L)));
}

Error Unsupported(const std::string& what, int err) {
  return Error(ErrorCode::kUnsupported,
               what + " (counting syscalls in the kernel needs root: CAP_BPF and CAP_PERFMON)",
               err);
}

// Key of the hash table (the program's fp-32 layout).
struct HashKey {
  uint32_t nr;
  uint32_t pad;
  uint64_t values[2];
};

Result<UniqueFd> CreateMap(bpf_map_type type, uint32_t key_size, uint32_t max_entries,
                           const char* name) {
  bpf_attr attr{};
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = sizeof(uint64_t);
  attr.max_entries = max_entries;
  strncpy(attr.map_name, name, sizeof attr.map_name - 1);
  UniqueFd fd(static_cast<int>(Bpf(BPF_MAP_CREATE, &attr)));
  if (!fd)
    return Fail(Unsupported(std::string("creating the BPF table ") + name + " refused", errno));
  return fd;
}

}  // namespace

Result<SyscallCounters> SyscallCounters::Open(int cgroup_dir_fd,
                                              const std::vector<KeyedSyscall>& keyed) {
  if (cgroup_dir_fd < 0)
    return Fail(ErrorCode::kUnsupported,
                "the box has no cgroup v2 directory to count in (boxes get one as root, or "
                "where a cgroup is delegated to the user)");
  SyscallCounters c;
  for (const auto& k : keyed) {
    if (k.args.size() > 2 ||
        std::any_of(k.args.begin(), k.args.end(), [](unsigned i) { return i > 5; }))
      return Fail(ErrorCode::kInvalidInput,
                  "syscall " + std::to_string(k.nr) + ": at most two key arguments, indices 0-5");
    c.arity_[k.nr] = k.args.size();
  }
  const int tracepoint = SILK_TRY(SysEnterTracepoint());
  struct stat st {};
  if (fstat(cgroup_dir_fd, &st) != 0) return FailErrno("stat of the box's cgroup");
  bool exact = false;
  const int level = SILK_TRY(CgroupLevel(cgroup_dir_fd, &exact));

  c.map_ = SILK_TRY(
      CreateMap(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t), kCountedSlots, "silk_counts"));
  c.keys_ = SILK_TRY(CreateMap(BPF_MAP_TYPE_HASH, sizeof(HashKey), kKeySlots, "silk_keys"));
  const auto insns = CountingProgram(c.map_.get(), c.keys_.get(), st.st_ino, level,
                                     exact ? level : level + kNamespacedLevels, keyed);
  static const char kLicense[] = "GPL";
  std::vector<char> log(1 << 16);
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_TRACEPOINT;
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.insns = reinterpret_cast<uint64_t>(insns.data());
  attr.license = reinterpret_cast<uint64_t>(kLicense);
  attr.log_buf = reinterpret_cast<uint64_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  attr.log_level = 1;
  strncpy(attr.prog_name, "silk_count", sizeof attr.prog_name - 1);
  c.prog_.Reset(static_cast<int>(Bpf(BPF_PROG_LOAD, &attr)));
  if (!c.prog_) {
    const int err = errno;
    if (err == EPERM || err == EACCES)
      return Fail(Unsupported("loading the BPF counting program refused", err));
    // The verifier's verdict is the log's first line ("unreachable insn 21").
    std::string text(log.data());
    text = text.substr(0, text.find('\n'));
    return Fail(Error(ErrorCode::kUnsupported,
                      "the kernel refused the BPF counting program (" + text + ")", err));
  }

  perf_event_attr pa{};
  pa.size = sizeof pa;
  pa.type = PERF_TYPE_TRACEPOINT;
  pa.config = static_cast<uint64_t>(tracepoint);
  pa.sample_period = 1;
  pa.sample_type = PERF_SAMPLE_RAW;
  // This thread's own event: the program runs for the tracepoint on every task anyway,
  // and returns 0, so the event never records anything.
  c.event_.Reset(
      static_cast<int>(syscall(SYS_perf_event_open, &pa, 0, -1, -1, PERF_FLAG_FD_CLOEXEC)));
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

Result<std::vector<KeyTuple>> SyscallCounters::ReadKeys(bool* complete) const {
  std::vector<KeyTuple> out;
  HashKey key{}, next{};
  bool first = true;
  size_t entries = 0;
  for (;;) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(keys_.get());
    attr.key = first ? 0 : reinterpret_cast<uint64_t>(&key);
    attr.next_key = reinterpret_cast<uint64_t>(&next);
    if (Bpf(BPF_MAP_GET_NEXT_KEY, &attr) != 0) {
      if (errno == ENOENT) break;
      return FailErrno("reading the key-argument table");
    }
    first = false;
    key = next;
    ++entries;
    auto it = arity_.find(static_cast<int>(key.nr));
    if (it == arity_.end()) continue;
    out.push_back(
        {static_cast<int>(key.nr), std::vector<uint64_t>(key.values, key.values + it->second)});
  }
  *complete = entries < kKeySlots;
  return out;
}

}  // namespace silk::compat::internal
