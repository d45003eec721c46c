#include "vmm/vm_run.hpp"

#include "base/log.hpp"
#include "base/subprocess.hpp"
#include "images/image.hpp"
#include "vmm/accel.hpp"
#include "vmm/connection.hpp"
#include "vmm/domain.hpp"
#include "vmm/internal/libvirt_api.hpp"
#include "vmm/run_dir.hpp"

namespace silk::vmm {

using internal::Libvirt;

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string WithConsole(const std::string& msg, const std::string& console_log) {
  std::string tail = ConsoleTail(console_log, 15);
  if (tail.empty()) return msg + " (the guest console is empty)";
  return msg + "; last lines of the guest console:\n" + tail;
}

// `cause` said again with `message`: its code, errno and context stay.
Error Restate(const Error& cause, std::string message) {
  Error e(cause.code(), std::move(message), cause.sys_errno());
  for (auto it = cause.context().rbegin(); it != cause.context().rend(); ++it) e.Wrap(*it);
  return e;
}

// Free host memory in MiB as libvirt sees it (works for remote hosts too); 0 if unknown.
uint64_t FreeHostMib(Connection& conn) {
  unsigned long long free_bytes = Libvirt().virNodeGetFreeMemory(conn.get());
  if (free_bytes == 0) Libvirt().virResetLastError();
  // Page cache counts as available: read MemAvailable for local hosts.
  if (conn.uri().find(":///") != std::string::npos) {
    FILE* f = std::fopen("/proc/meminfo", "re");
    if (f != nullptr) {
      char line[256];
      unsigned long long kib = 0;
      while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
      std::fclose(f);
      if (kib > 0) return kib / 1024;
    }
  }
  return free_bytes / (1024 * 1024);
}

// The notice when a verdict made now sends VMs to TCG; a cached verdict is not repeated.
std::string TcgNotice(const AccelVerdict& v, const std::string& cache_path) {
  return "KVM is not usable here (" + v.reason + "); using TCG, which is slower. " +
         (v.cached ? "Verdict cached in " + cache_path
                   : std::string("Verdict not cached: the next VM checks again"));
}

// The accelerator for this VM: forced, or ChooseAccel's verdict on the staged image.
Result<void> PickAccel(const VmRunOptions& options, Connection& conn,
                       const images::ImageInfo& image, VmRunResult& result) {
  if (options.accel) {
    result.accel = *options.accel;
    result.accel_reason = "forced";
    return {};
  }
  AccelOptions ao;
  if (!options.accel_cache.empty()) ao.cache_path = options.accel_cache;
  ao.run_root = options.run_root;
  BootImage bi{image.kernel_path, image.initramfs_path, image.cmdline, image.kernel_sha256};
  AccelVerdict v = SILK_TRY(ChooseAccel(conn, bi, ao));
  result.accel = v.accel;
  result.accel_reason = v.reason;
  result.accel_probed = !v.from_cache;
  if (!v.from_cache && v.accel == Accel::kTcg) LogNotice(TcgNotice(v, ao.cache_path));
  return {};
}

}  // namespace

Result<VmRunResult> RunInVm(const VmRunOptions& options, const AgentCommand& command,
                            const OutputSink& out, const OutputSink& err) {
  auto start = Clock::now();
  if (command.argv.empty())
    return Fail(ErrorCode::kInvalidInput, "no command given to run in the VM");
  const std::string refusing = "refusing to boot image " + options.image_dir;
  ImageSource source = SILK_TRY(WithContext(OpenImageSource(options.image_dir), refusing));

  VmRunResult result;
  std::string name = SILK_TRY(UniqueVmName(options.name_prefix));
  result.domain = name;
  VmRunDir dir = SILK_TRY(
      VmRunDir::Create(options.run_root.empty() ? kDefaultRunRoot : options.run_root, name));
  if (options.keep_console) {
    dir.Keep();
    result.console_log = dir.console_log();
  }
  // QEMU boots this copy: what it reads is what was verified (and readable by its user).
  images::ImageInfo image =
      SILK_TRY(WithContext(StageImage(dir, source, options.public_key), refusing));

  std::unique_ptr<Connection> conn = SILK_TRY(Connection::Open(options.uri));
  if (conn->uri().find(":///") != std::string::npos) {
    std::string problem = KvmDeviceProblem();
    if (!problem.empty()) LogWarning(problem + "; fix it with `silk vmm doctor --fix`");
  }

  uint64_t free_mib = FreeHostMib(*conn);
  if (free_mib != 0 && options.memory_mib + 64 > free_mib)
    return Fail(ErrorCode::kInvalidInput, "the VM asks for " + std::to_string(options.memory_mib) +
                                              " MiB but the host has only " +
                                              std::to_string(free_mib) +
                                              " MiB available; lower --mem or free memory");

  SILK_TRY(PickAccel(options, *conn, image, result));
  result.timings.verified = Since(start);

  VmSpec spec;
  spec.name = name;
  spec.kernel_path = image.kernel_path;
  spec.initramfs_path = image.initramfs_path;
  spec.memory_mib = options.memory_mib;
  spec.vcpus = options.vcpus;
  spec.accel = result.accel;
  spec.console_log = dir.console_log();
  spec.control_socket = dir.control_socket();
  spec.cmdline = image.cmdline + " silk.agent=" + spec.control_port;
  if (!options.extra_cmdline.empty()) spec.cmdline += " " + options.extra_cmdline;
  for (size_t i = 0; i < options.bridges.size(); ++i)
    spec.nics.push_back(NicSpec{options.bridges[i], TapName(name, static_cast<unsigned>(i)), ""});

  TransientDomain dom = SILK_TRY(TransientDomain::Create(*conn, spec));
  result.timings.created = Since(start);

  auto agent = ConnectAgent(spec.control_socket, Clock::now() + options.boot_timeout,
                            [&dom] { return !dom.ended(); });
  if (!agent) {
    std::string why =
        agent.error().code() == ErrorCode::kTimeout
            ? "the guest did not come up within " +
                  std::to_string(options.boot_timeout.count() / 1000) +
                  " s (raise --boot-timeout, or check the image)"
            : "the guest ended before its agent answered (" + agent.error().message() + ")";
    Error e = Restate(agent.error(), WithConsole("VM " + name + ": " + why, spec.console_log));
    (void)dom.Destroy();
    return Fail(std::move(e));
  }
  result.timings.ready = Since(start);
  if (auto info = dom.Info()) result.host_rss_kib = info->host_rss_kib;

  AgentCommand cmd = command;
  if (!options.box_profile.empty()) {
    cmd.argv = {"silk", "box", "run", "--profile", options.box_profile, "--"};
    cmd.argv.insert(cmd.argv.end(), command.argv.begin(), command.argv.end());
  }
  auto status = agent->Run(cmd, out, err, Clock::now() + options.command_timeout);
  if (!status) {
    if (auto shell = ShellStatusForSpawnError(status.error())) {
      // Not found (127) or not executable (126) in the guest: the command's outcome, as
      // a shell would give it, not a failure of silk. The guest still powers off below.
      result.exit_status = *shell;
      result.exec_failure = status.error().message();
    } else {
      Error e = Restate(status.error(), WithConsole("VM " + name + ": " + status.error().message(),
                                                    spec.console_log));
      (void)dom.Destroy();
      return Fail(std::move(e));
    }
  } else {
    result.exit_status = *status;
  }
  result.timings.command = Since(start);

  // Power off through the agent and act on the lifecycle event: libvirt may take seconds
  // more to reap QEMU, and the domain is auto-destroyed and transient, so it goes away.
  if (agent->PowerOff()) {
    if (!dom.WaitEnded(Clock::now() + options.shutdown_timeout)) SILK_TRY(dom.Destroy());
  } else {
    SILK_TRY(dom.Destroy());
  }
  result.timings.ended = Since(start);
  return result;
}

}  // namespace silk::vmm
