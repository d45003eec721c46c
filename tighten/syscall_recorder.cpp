#include "tighten/syscall_recorder.hpp"

#include <unistd.h>

#include <atomic>
#include <map>
#include <unordered_map>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "compat/box.hpp"
#include "policy/syscalls.hpp"
#include "tighten/local_box_executor.hpp"

namespace silk::tighten {
namespace {

constexpr uint32_t kX32Bit = 0x40000000u;
std::atomic<unsigned> record_counter{0};

// The innermost pid of /proc/<tid>/status's NSpid line (the tid inside the box), or 0.
pid_t BoxTid(pid_t host_tid) {
  auto status = ReadFile("/proc/" + std::to_string(host_tid) + "/status");
  if (!status) return 0;
  for (const auto& line : Split(*status, '\n')) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    size_t last = line.find_last_of(" \t");
    if (last == std::string::npos) return 0;
    return static_cast<pid_t>(std::atoi(line.c_str() + last + 1));
  }
  return 0;
}

// Turns the box's syscall events into Observations; names cached per architecture.
class Recorder : public compat::SyscallObserver {
 public:
  void OnSyscall(const compat::SyscallEvent& e) override {
    policy::ArchToken token = e.arch;
    if (e.arch == policy::NativeArch() && (static_cast<uint32_t>(e.nr) & kX32Bit)) {
      if (auto x32 = policy::ParseArch("x32")) token = *x32;
    }
    Arch& arch = ArchFor(token);
    const std::string& name = Name(arch, e.nr);
    obs_.pids.insert(e.pid);
    switch (e.verdict.action) {
      case policy::Action::kAllow:
      case policy::Action::kLog:
        obs_.AddAllowed(arch.name, e.nr, name, e.args);
        break;
      default:
        obs_.AddDenied(arch.name, e.nr, name, e.args, e.pid, e.verdict);
        // The thread waits for the answer, so its /proc entry is still there.
        if (!box_tids_.count(e.pid)) box_tids_[e.pid] = BoxTid(e.pid);
        break;
    }
  }
  std::optional<std::vector<unsigned>> CountedArguments(int nr) const override {
    auto name = policy::SyscallName(nr, policy::NativeArch());
    if (!name) return std::nullopt;
    return tighten::KeyArgIndices(*name);
  }
  void OnCounted(int nr, uint64_t count) override {
    Arch& arch = ArchFor(policy::NativeArch());
    obs_.AddCounted(arch.name, nr, Name(arch, nr), count);
  }
  void OnCountedArguments(int nr, const std::vector<uint64_t>& values, bool complete) override {
    Arch& arch = ArchFor(policy::NativeArch());
    obs_.AddCountedArguments(arch.name, nr, Name(arch, nr), values, complete);
  }
  tighten::Observations TakeObservations() { return std::move(obs_); }
  std::map<pid_t, pid_t> TakeBoxTids() { return std::move(box_tids_); }

 private:
  struct Arch {
    std::string name;
    policy::ArchToken token = 0;
    std::unordered_map<int, std::string> names;
  };
  Arch& ArchFor(policy::ArchToken token) {
    auto it = arches_.find(token);
    if (it != arches_.end()) return it->second;
    Arch& a = arches_[token];
    a.token = token;
    const char* name = policy::ArchName(token);
    a.name = name ? name : "arch_" + std::to_string(token);
    return a;
  }
  static const std::string& Name(Arch& a, int nr) {
    auto it = a.names.find(nr);
    if (it != a.names.end()) return it->second;
    auto name = policy::SyscallName(nr, a.token);
    return a.names[nr] = name ? *name : "syscall_" + std::to_string(nr);
  }

  std::map<policy::ArchToken, Arch> arches_;
  tighten::Observations obs_;
  std::map<pid_t, pid_t> box_tids_;
};

}  // namespace

Result<RecordOutcome> RecordSyscalls(const RecordSpec& spec, const policy::Profile& parent) {
  if (spec.argv.empty()) return Fail(ErrorCode::kInvalidInput, "learn: no command given");
  auto profile = SILK_TRY(TempProfileFile::Create(parent));

  compat::BoxSpec box;
  box.command = spec.argv[0];
  box.args.assign(spec.argv.begin() + 1, spec.argv.end());
  box.env = spec.env;
  if (box.env.empty()) box.env = {"HOME=/tmp", "LANG=C.UTF-8"};
  box.cwd = spec.cwd;
  box.capabilities = spec.capabilities;
  box.profile = profile.path();
  SetWorkloadBoxLimits(box);  // the boxes the learned profile is meant for

  Recorder recorder;
  compat::RunOptions options;
  const unsigned n = ++record_counter;
  options.box_id = "rec" + std::to_string(getpid()) + "-" + std::to_string(n);
  options.timeout_ms = static_cast<uint64_t>(spec.timeout_seconds * 1000);
  options.stdin_fd = spec.stdin_fd;
  options.stdout_fd = spec.stdout_fd;
  options.stderr_fd = spec.stderr_fd;
  options.observer = &recorder;
  options.count_in_kernel = spec.count_in_kernel;
  auto outcome = SILK_TRY(WithContext(compat::RunBox(box, options), "learn: running the box"));

  RecordOutcome out;
  out.exit_status = outcome.exit_status;
  out.term_signal = outcome.term_signal;
  out.timed_out = outcome.timed_out;
  out.exec_failure = outcome.exec_failure;
  out.elapsed_ms = outcome.elapsed_ms;
  out.counted_syscalls = outcome.counted_syscalls;
  out.counting_unavailable = outcome.counting_unavailable;
  out.observations = recorder.TakeObservations();
  out.box_tids = recorder.TakeBoxTids();
  return out;
}

}  // namespace silk::tighten
