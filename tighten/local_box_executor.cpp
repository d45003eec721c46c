#include "tighten/local_box_executor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "compat/box.hpp"
#include "compat/runtime_syscalls.hpp"
#include "policy/profile_json.hpp"
#include "tighten/syscall_recorder.hpp"

namespace silk::tighten {
namespace {

std::atomic<unsigned> box_counter{0};

// How the box ended (a compat::RunOutcome or the recorder's RecordOutcome), and whether
// that is what `w` expects.
template <typename BoxOutcome>
WorkloadOutcome Ended(const Workload& w, const BoxOutcome& box) {
  WorkloadOutcome o;
  o.exit_status = box.exit_status;
  o.term_signal = box.term_signal;
  o.timed_out = box.timed_out;
  o.exec_failure = box.exec_failure;
  o.ms = box.elapsed_ms;
  o.pass = !o.timed_out && o.exec_failure.empty() && o.exit_status == w.expect_exit;
  return o;
}

// A learning run: the recorder's box, with the profile as the parent.
Result<WorkloadOutcome> Learn(const Workload& w, int run, const policy::Profile& parent,
                              const ExecuteOptions& options, int output_fd) {
  RecordSpec spec;
  spec.argv = SILK_TRY(ExpandCommand(w, run));
  spec.env = RunEnvironment(w, run);
  spec.timeout_seconds = w.timeout_seconds;
  spec.capabilities = options.capabilities;
  spec.stdout_fd = output_fd;
  spec.stderr_fd = output_fd;
  spec.count_in_kernel = options.count_in_kernel;
  auto rec = SILK_TRY(RecordSyscalls(spec, parent));
  WorkloadOutcome o = Ended(w, rec);
  o.counted_syscalls = rec.counted_syscalls;
  o.counting_unavailable = rec.counting_unavailable;
  o.observations = std::move(rec.observations);
  return o;
}

Result<WorkloadOutcome> RunInBox(const Workload& w, int run, const std::string& profile_ref,
                                 const ExecuteOptions& execute, int output_fd) {
  auto argv = SILK_TRY(ExpandCommand(w, run));
  compat::BoxSpec spec;
  spec.command = argv[0];
  spec.args.assign(argv.begin() + 1, argv.end());
  spec.env = RunEnvironment(w, run);
  spec.cwd = "/tmp";
  spec.profile = profile_ref;
  spec.capabilities = execute.capabilities;
  spec.report_denials = execute.report_denials;
  SetWorkloadBoxLimits(spec);
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return FailErrno("opening /dev/null for the workload's stdin");
  compat::RunOptions options;
  const unsigned n = ++box_counter;
  options.box_id = "learn" + std::to_string(getpid()) + "-" + std::to_string(n);
  options.timeout_ms = static_cast<uint64_t>(w.timeout_seconds * 1000);
  options.stdin_fd = null.get();
  options.stdout_fd = output_fd;
  options.stderr_fd = output_fd;
  auto outcome = SILK_TRY(compat::RunBox(spec, options));

  WorkloadOutcome o = Ended(w, outcome);
  for (const auto& d : outcome.denials.denials)
    o.denials.push_back({d.syscall, d.nr, d.args, d.pid, d.count, d.verdict});
  if (!o.denials.empty()) o.first_denial = DenialToString(o.denials.front());
  return o;
}

}  // namespace

void SetWorkloadBoxLimits(compat::BoxSpec& spec) {
  if (geteuid() != 0) return;
  spec.pids_max = 512;
  spec.memory_max = 1ull << 30;
}

Result<WorkloadOutcome> RunWorkloadInBox(const Workload& w, int run, const std::string& profile_ref,
                                         const BoxRunOptions& options) {
  return RunInBox(w, run, profile_ref, {.report_denials = options.report_denials},
                  options.output_fd);
}

Result<WorkloadOutcome> LocalBoxExecutor::Execute(const Workload& workload, int run,
                                                  const policy::Profile& profile,
                                                  const ExecuteOptions& options) {
  if (options.learn) return Learn(workload, run, profile, options, output_fd_);
  auto file = SILK_TRY(TempProfileFile::Create(profile));
  return RunInBox(workload, run, file.path(), options, output_fd_);
}

std::vector<std::string> LocalBoxExecutor::RuntimeSyscalls() const {
  return compat::kBoxRuntimeSyscalls;
}

Result<UniqueFd> OpenWorkloadLog(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("opening " + path + " for the workloads' output");
  return fd;
}

Result<TempProfileFile> TempProfileFile::Create(const policy::Profile& profile) {
  char tmpl[] = "/tmp/silk-candidate-XXXXXX.json";
  int fd = mkstemps(tmpl, 5);
  if (fd < 0) return FailErrno("creating a temporary profile file in /tmp");
  close(fd);
  TempProfileFile f(tmpl);
  SILK_TRY(WriteFileAtomic(f.path(), policy::WriteProfile(profile)));
  return f;
}

TempProfileFile::~TempProfileFile() {
  if (!path_.empty()) unlink(path_.c_str());
}

}  // namespace silk::tighten
