#include "tighten/local_box_executor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "policy/profile_json.hpp"

namespace silk::tighten {
namespace {

std::atomic<unsigned> box_counter{0};

std::string DenialText(const compat::Denial& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s(%#llx, %#llx, %#llx, ...) pid %d -> %s", d.syscall.c_str(),
                (unsigned long long)d.args[0], (unsigned long long)d.args[1],
                (unsigned long long)d.args[2], int(d.pid), d.verdict.c_str());
  return buf;
}

}  // namespace

void SetWorkloadBoxLimits(compat::BoxSpec& spec) {
  if (geteuid() != 0) return;
  spec.pids_max = 512;
  spec.memory_max = 1ull << 30;
}

Result<BoxRun> RunWorkloadInBox(const tighten::Workload& w, int run,
                                const std::string& profile_path, const BoxRunOptions& run_options) {
  auto argv = SILK_TRY(tighten::ExpandCommand(w, run));
  compat::BoxSpec spec;
  spec.command = argv[0];
  spec.args.assign(argv.begin() + 1, argv.end());
  spec.env = tighten::RunEnvironment(w, run);
  spec.cwd = "/tmp";
  spec.profile = profile_path;
  spec.report_denials = run_options.report_denials;
  SetWorkloadBoxLimits(spec);
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return FailErrno("opening /dev/null for the workload's stdin");
  compat::RunOptions options;
  const unsigned n = ++box_counter;
  options.box_id = "learn" + std::to_string(getpid()) + "-" + std::to_string(n);
  // Sweep once per process: a sweep racing another box's start (parallel oracle runs)
  // has removed that box's fresh state directory.
  options.sweep_first = n == 1;
  options.timeout_ms = static_cast<uint64_t>(w.timeout_seconds * 1000);
  options.stdin_fd = null.get();
  options.stdout_fd = run_options.output_fd;
  options.stderr_fd = run_options.output_fd;
  auto outcome = SILK_TRY(compat::RunBox(spec, options));

  BoxRun r;
  r.exit_status = outcome.exit_status;
  r.timed_out = outcome.timed_out;
  r.exec_failure = outcome.exec_failure;
  r.ms = outcome.elapsed_ms;
  r.denials = outcome.denials.denials.size();
  r.denial_list = outcome.denials.denials;
  if (!outcome.denials.denials.empty())
    r.first_denial = DenialText(outcome.denials.denials.front());
  r.pass = !r.timed_out && r.exec_failure.empty() && r.exit_status == w.expect_exit;
  return r;
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
