// `silk vm run|list` and `silk vmm doctor`: thinix VMs through libvirt (vmm/); the named
// VMs' verbs are in cli/vm_life_cmd.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "cli/commands.hpp"
#include "cli/outcome.hpp"
#include "vmm/connection.hpp"
#include "vmm/doctor.hpp"
#include "vmm/domain.hpp"
#include "vmm/vm_run.hpp"

namespace silk::cli {
namespace {

using json = nlohmann::json;

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

int Run(const Args& all_args) {
  auto [args, command] = SplitAtDoubleDash(all_args);
  vmm::VmRunOptions o;
  po::options_description opts("Options");
  double timeout_s = 600, boot_timeout_s = 60;
  std::string accel;
  opts.add_options()("image", po::value<std::string>(&o.image_dir)->default_value(o.image_dir),
                     "thinix image directory (verified before boot)")(
      "key", po::value<std::string>(&o.public_key), "PEM public key the image must be signed with")(
      "mem", po::value<uint64_t>(&o.memory_mib)->default_value(o.memory_mib),
      "guest memory in MiB")("cpus", po::value<unsigned>(&o.vcpus)->default_value(o.vcpus),
                             "guest vCPUs")(
      "profile", po::value<std::string>(&o.box_profile)->default_value(o.box_profile),
      "run CMD in a compatibility box in the guest under this API profile "
      "(`silk box run --profile P -- CMD`)")(
      "no-box", "run CMD directly in the guest, not in a compatibility box")(
      "timeout", po::value<double>(&timeout_s)->default_value(timeout_s), "seconds CMD may run")(
      "boot-timeout", po::value<double>(&boot_timeout_s)->default_value(boot_timeout_s),
      "seconds until the guest's agent must answer")("accel", po::value<std::string>(&accel),
                                                     "kvm or tcg (default: probe once and cache)")(
      "uri", po::value<std::string>(&o.uri)->default_value(o.uri), "libvirt connection URI")(
      "bridge", po::value<std::vector<std::string>>(&o.bridges)->composing(),
      "add a NIC on this host bridge (repeatable)")(
      "cmdline", po::value<std::string>(&o.extra_cmdline),
      "appended to the kernel command line (e.g. silk.ip=10.0.0.2/24)")(
      "keep-console", "keep the run directory with the guest's console.log")(
      "timings", "print where the time went (stderr)");
  OutcomeSink outcome_sink("silk vm run");
  outcome_sink.AddFlags(opts);
  po::variables_map vm;
  // podman's exit classes: silk's own failures (usage included) are 125, so that they
  // cannot be mistaken for the status of CMD.
  if (auto rc = ParseArgs("silk vm run [options] -- CMD [ARGS...]",
                          "Boots a thinix VM, runs CMD in it, streams its output, shuts the VM\n"
                          "down and exits with CMD's status (128+N when killed by signal N).\n"
                          "silk's stdin is CMD's, forwarded over the control channel as box run\n"
                          "forwards it (end of file closes CMD's stdin; CMD need not read it:\n"
                          "the run ends when CMD does; `< /dev/null` gives it nothing).\n"
                          "Exit codes of its own, as podman run: 125 when silk fails (bad\n"
                          "options, image, libvirtd, memory, boot, timeout), 126 when CMD is\n"
                          "found in the guest but cannot be executed, 127 when it is not found\n"
                          "(in a box, `silk box run` in the guest gives the same codes).",
                          opts, {}, args, vm))
    return *rc == kExitOk ? kExitOk : kExitSilkFailed;
  auto usage = [&outcome_sink](std::string_view message) {
    UsageError("silk vm run", message);
    if (outcome_sink.wanted()) (void)outcome_sink.Write(ErrorJson("usage", message, ""));
    return kExitSilkFailed;
  };
  auto failed = [&outcome_sink](const Error& error) { return outcome_sink.Fail(error); };
  if (auto r = outcome_sink.Check(vm); !r) return failed(r.error());
  if (command.empty()) return usage("no command: put it after '--'");
  if (!accel.empty()) {
    auto a = vmm::ParseAccel(accel);
    if (!a) return usage(a.error().ToString());
    o.accel = *a;
  }
  if (timeout_s <= 0 || boot_timeout_s <= 0)
    return usage("--timeout and --boot-timeout must be positive");
  o.command_timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  o.boot_timeout = std::chrono::milliseconds(static_cast<long>(boot_timeout_s * 1000));
  o.keep_console = vm.count("keep-console") > 0;
  if (vm.count("no-box")) o.box_profile.clear();

  vmm::AgentCommand cmd;
  cmd.argv = command;
  if (::fcntl(STDIN_FILENO, F_GETFD) != -1) cmd.stdin_fd = STDIN_FILENO;  // else: /dev/null
  auto r = vmm::RunInVm(
      o, cmd, [](std::string_view d) { WriteAll(1, d); },
      [](std::string_view d) { WriteAll(2, d); });
  if (!r) return failed(r.error());
  if (!r->exec_failure.empty())
    std::cerr << "silk: vm " << r->domain << ": " << r->exec_failure << "\n";
  const auto& t = r->timings;
  if (vm.count("timings")) {
    std::cerr << "silk: vm " << r->domain << " (" << vmm::AccelName(r->accel)
              << "): verified+accel " << Secs(t.verified) << ", created " << Secs(t.created)
              << ", agent ready " << Secs(t.ready) << ", command done " << Secs(t.command)
              << ", guest ended " << Secs(t.ended) << "; QEMU RSS " << r->host_rss_kib / 1024
              << " MiB\n";
  }
  if (!r->console_log.empty()) std::cerr << "silk: console log kept: " << r->console_log << "\n";
  if (outcome_sink.wanted()) {
    nlohmann::ordered_json j = {{"domain", r->domain},
                                {"exit_status", r->exit_status},
                                {"accel", vmm::AccelName(r->accel)},
                                {"accel_reason", r->accel_reason},
                                {"accel_probed", r->accel_probed},
                                {"host_rss_kib", r->host_rss_kib},
                                {"timings",
                                 {{"verified", t.verified},
                                  {"created", t.created},
                                  {"ready", t.ready},
                                  {"command", t.command},
                                  {"ended", t.ended}}}};
    if (!r->console_log.empty()) j["console_log"] = r->console_log;
    if (!r->exec_failure.empty()) j["exec_failure"] = r->exec_failure;
    if (auto w = outcome_sink.Write(j); !w) ReportError(w.error());
  }
  return r->exit_status;
}

int List(const Args& args) {
  po::options_description opts("Options");
  std::string uri = vmm::kDefaultUri, state_dir;
  Output out("silk vm list");
  opts.add_options()("uri", po::value<std::string>(&uri)->default_value(uri),
                     "libvirt connection URI (with --domains)")(
      "domains", "list libvirt's domains of silk (named silk-*) instead of the named VMs")(
      "all", "list every libvirt domain, not only silk's (implies --domains)")(
      "state-dir", po::value(&state_dir), "state root of the named VMs (default /run/silk/vms)");
  out.AddJsonFlag(opts, "print JSON");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm list [options]",
                          "Lists the named VMs (`silk vm create`): status, size, accelerator;\n"
                          "with --domains, libvirt's domains: state, vCPUs, memory, CPU time.",
                          opts, {}, args, vm, out))
    return *rc;
  if (!vm.count("domains") && !vm.count("all")) return PrintNamedVms(state_dir, out);
  auto conn = vmm::Connection::Open(uri);
  if (!conn) return ReportError(conn.error());
  auto doms = vmm::ListDomains(**conn);
  if (!doms) return ReportError(doms.error());
  bool all = vm.count("all") > 0;
  json arr = json::array();
  std::vector<vmm::DomainInfo> shown;
  for (const auto& d : *doms)
    if (all || d.name.rfind("silk-", 0) == 0) shown.push_back(d);
  if (out.json()) {
    for (const auto& d : shown)
      arr.push_back({{"name", d.name},
                     {"state", d.state},
                     {"id", d.id},
                     {"persistent", d.persistent},
                     {"vcpus", d.vcpus},
                     {"memory_kib", d.memory_kib},
                     {"cpu_time_ns", d.cpu_time_ns},
                     {"host_rss_kib", d.host_rss_kib}});
    std::cout << arr.dump(2) << "\n";
    return kExitOk;
  }
  if (shown.empty()) {
    std::cout << "no " << (all ? "" : "silk ") << "VMs on " << uri << "\n";
    return kExitOk;
  }
  std::printf("%-28s %-9s %5s %9s %10s %9s\n", "NAME", "STATE", "VCPUS", "MEM MiB", "CPU s",
              "RSS MiB");
  for (const auto& d : shown)
    std::printf("%-28s %-9s %5u %9llu %10.2f %9llu\n", d.name.c_str(), d.state.c_str(), d.vcpus,
                static_cast<unsigned long long>(d.memory_kib / 1024), d.cpu_time_ns / 1e9,
                static_cast<unsigned long long>(d.host_rss_kib / 1024));
  return kExitOk;
}

int Doctor(const Args& args) {
  po::options_description opts("Options");
  vmm::DoctorOptions o;
  o.image_dir = images::kDefaultImageDir;
  opts.add_options()("uri", po::value<std::string>(&o.uri)->default_value(o.uri),
                     "libvirt connection URI")(
      "image", po::value<std::string>(&o.image_dir)->default_value(o.image_dir),
      "thinix image to check")(
      "probe", "boot the image under KVM now if no verdict is cached (a few seconds)")(
      "fix", "apply the fixes silk knows (/dev/kvm group and mode, as udev would)")("json",
                                                                                    "print JSON");
  po::variables_map vm;
  if (auto rc =
          ParseArgs("silk vmm doctor [options]",
                    "Checks what thinix VMs need on this host (libvirtd, virtlogd, QEMU, TCG, "
                    "KVM, taps, bridges, the image) and says how to fix what is missing.",
                    opts, {}, args, vm))
    return *rc;
  o.probe = vm.count("probe") > 0;
  o.fix = vm.count("fix") > 0;
  auto checks = vmm::RunDoctor(o);
  bool failed = false;
  for (const auto& c : checks) failed |= c.status == "fail";
  if (vm.count("json")) {
    json arr = json::array();
    for (const auto& c : checks)
      arr.push_back(
          {{"check", c.name}, {"status", c.status}, {"detail", c.detail}, {"fix", c.fix}});
    std::cout << json{{"ok", !failed}, {"checks", arr}}.dump(2) << "\n";
  } else {
    for (const auto& c : checks) {
      std::printf("%-5s %-9s %s\n",
                  c.status == "ok"     ? "ok"
                  : c.status == "warn" ? "WARN"
                                       : "FAIL",
                  c.name.c_str(), c.detail.c_str());
      if (!c.fix.empty()) std::printf("      %-9s fix: %s\n", "", c.fix.c_str());
    }
    std::printf("%s\n", failed ? "thinix VMs cannot run here yet (see FAIL above)"
                               : "thinix VMs can run here");
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

int VmMain(const Args& args) {
  static const std::vector<Command> commands = [] {
    std::vector<Command> all = {
        {"run", "boot a thinix VM, run a command in it, shut it down", Run},
        {"list", "list the named VMs (--domains: libvirt's domains)", List},
    };
    for (const Command& c : VmLifecycleCommands()) all.push_back(c);
    return all;
  }();
  return Dispatch("silk vm", "thinix VMs through libvirt.", commands, args);
}

int VmmMain(const Args& args) {
  static const std::vector<Command> commands = {
      {"doctor", "check this host for what thinix VMs need, and how to fix it", Doctor},
  };
  return Dispatch("silk vmm", "The hypervisor manager (libvirt, QEMU, KVM/TCG).", commands, args);
}

}  // namespace silk::cli
