// Named VMs that live (vmm/vm_lifecycle.hpp), the same verbs as named boxes:
//   silk vm create NAME [options]      boot a VM that runs until stopped
//   silk vm exec NAME [options] -- CMD run a command in it through its agent
//   silk vm stop NAME [--timeout S] | delete NAME [--force]
//   silk vm list | state NAME | stats NAME   (--json each)
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "cli/commands.hpp"
#include "cli/sliver_command.hpp"
#include "vmm/vm_lifecycle.hpp"

namespace silk::cli {
namespace {

using ojson = nlohmann::ordered_json;

ojson RecordJson(const vmm::VmRecord& r) { return ojson::parse(vmm::VmRecordToJson(r)); }

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

void PrintRecord(const vmm::VmRecord& r) {
  std::cout << "name:        " << r.name << "\n"
            << "status:      " << vmm::VmStatusName(r.status) << "\n"
            << "domain:      " << r.domain << (r.uuid.empty() ? "" : " (" + r.uuid + ")") << "\n";
  if (!r.accel.empty())
    std::cout << "size:        " << r.vcpus << " vCPU, " << r.memory_mib << " MiB, " << r.accel
              << "\n";
  if (!r.disk.empty())
    std::cout << "disk:        " << r.disk << " (" << FormatSize(r.disk_bytes) << ")\n";
  for (size_t i = 0; i < r.bridges.size(); ++i)
    std::cout << "nic:         " << (i < r.taps.size() ? r.taps[i] : "?") << " on " << r.bridges[i]
              << "\n";
  std::cout << "exec into:   "
            << (r.box_profile.empty() ? "the guest" : "a box under profile " + r.box_profile)
            << "\n";
  if (!r.created_at.empty()) std::cout << "created:     " << r.created_at << "\n";
  if (!r.started_at.empty()) std::cout << "started:     " << r.started_at << "\n";
  if (!r.stopped_at.empty()) std::cout << "stopped:     " << r.stopped_at << "\n";
  if (!r.error.empty()) std::cout << "note:        " << r.error << "\n";
  std::cout << "run dir:     " << r.run_dir << "\n";
  if (!r.console_log.empty()) std::cout << "console:     " << r.console_log << "\n";
}

int VmCreate(const Args& args) {
  SliverCommand c("silk vm create", kVmSliver);
  vmm::VmCreateOptions o;
  std::string accel, disk;
  double boot_timeout_s = 60;
  c.AddCommon("print the VM's record as JSON");
  c.opts.add_options()("image", po::value(&o.image_dir)->default_value(o.image_dir),
                       "thinix image directory (staged and verified before boot)")(
      "key", po::value(&o.public_key), "PEM public key the image must be signed with")(
      "mem", po::value(&o.memory_mib)->default_value(o.memory_mib), "guest memory in MiB")(
      "cpus", po::value(&o.vcpus)->default_value(o.vcpus), "guest vCPUs")(
      "disk", po::value(&disk), "a virtio disk of this size (/dev/vda): 64M, 2G, ...")(
      "bridge", po::value(&o.bridges)->composing(), "add a NIC on this host bridge (repeatable)")(
      "cmdline", po::value(&o.extra_cmdline),
      "appended to the kernel command line (e.g. silk.ip=10.0.0.2/24)")(
      "profile", po::value(&o.box_profile)->default_value(o.box_profile),
      "execs run in a compatibility box in the guest under this API profile")(
      "no-box", "execs run directly in the guest")("accel", po::value(&accel),
                                                   "kvm or tcg (default: probe once and cache)")(
      "boot-timeout", po::value(&boot_timeout_s)->default_value(boot_timeout_s),
      "seconds until the guest's agent must answer")("uri", po::value(&o.uri)->default_value(o.uri),
                                                     "libvirt connection URI");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm create NAME [options]",
                          "Boots a thinix VM named NAME and returns once its agent answered. The\n"
                          "VM runs until `silk vm stop NAME` (a transient libvirt domain that\n"
                          "outlives this command; its record under the state root). Prints the\n"
                          "name, or the VM's record with --json.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  if (auto v = vmm::ValidateVmName(c.name); !v) return c.out.Fail(v.error(), kExitUsage, "NAME");
  if (!accel.empty()) {
    auto a = vmm::ParseAccel(accel);
    if (!a) return c.out.Fail(a.error(), kExitUsage, "--accel");
    o.accel = *a;
  }
  if (!disk.empty()) {
    auto size = ParseSize(disk);
    if (!size) return c.out.Fail(size.error(), kExitUsage, "--disk");
    o.disk_bytes = *size;
  }
  if (boot_timeout_s <= 0) return c.out.Usage("--boot-timeout must be positive", "--boot-timeout");
  o.boot_timeout = Seconds(boot_timeout_s);
  if (vm.count("no-box")) o.box_profile.clear();
  o.name = c.name;
  o.state_root = c.state_dir;
  auto r = vmm::CreateVm(o);
  if (!r) return c.out.Fail(r.error());
  if (c.out.json())
    c.out.Json(RecordJson(*r));
  else
    std::cout << r->name << "\n";
  return kExitOk;
}

int VmExec(const Args& all) {
  auto [args, command] = SplitAtDoubleDash(all);
  po::options_description opts("Options");
  po::positional_options_description pos;
  std::string name, state_dir, cwd;
  std::vector<std::string> env;
  double timeout_s = 600;
  opts.add_options()("name", po::value(&name)->required(), "the VM's name")(
      "env", po::value(&env)->composing(), "NAME=VALUE for the command (repeatable)")(
      "cwd", po::value(&cwd), "working directory of the command (default /)")(
      "no-box", "run CMD directly in the guest, not in the VM's compatibility box")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s),
      "seconds CMD may run (and wait for another exec's session)")(
      "state-dir", po::value(&state_dir), "state root (default /run/silk/vms)");
  pos.add("name", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm exec NAME [options] -- CMD [ARGS...]",
                          "Runs CMD in the running VM NAME through its agent (in the VM's\n"
                          "compatibility box unless --no-box or the VM was created with\n"
                          "--no-box), streams its output and exits with its status. stdin is\n"
                          "forwarded as by `silk vm run`. The agent serves one exec at a time:\n"
                          "a second exec of the same VM waits for the first (it says so).\n"
                          "Exit codes of its own, as `silk vm run`: 125 when silk fails, 126\n"
                          "when CMD cannot be executed, 127 when it is not found.",
                          opts, pos, args, vm))
    return *rc == kExitOk ? kExitOk : kExitSilkFailed;
  if (command.empty())
    return UsageError("silk vm exec", "no command: put it after '--'"), kExitSilkFailed;
  if (timeout_s <= 0)
    return UsageError("silk vm exec", "--timeout must be positive"), kExitSilkFailed;
  vmm::AgentCommand cmd;
  cmd.argv = command;
  cmd.cwd = cwd;
  for (const std::string& kv : env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return UsageError("silk vm exec", "--env '" + kv + "': use NAME=VALUE"), kExitSilkFailed;
    cmd.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (::fcntl(STDIN_FILENO, F_GETFD) != -1) cmd.stdin_fd = STDIN_FILENO;
  vmm::VmExecOptions o;
  o.timeout = Seconds(timeout_s);
  o.no_box = vm.count("no-box") > 0;
  o.on_wait = [](const std::string& m) { std::cerr << "silk: " << m << "\n"; };
  auto r = vmm::ExecInVm(
      state_dir, name, cmd, o, [](std::string_view d) { WriteAll(1, d); },
      [](std::string_view d) { WriteAll(2, d); });
  if (!r) {
    ReportError(r.error());
    return kExitSilkFailed;
  }
  if (!r->exec_failure.empty()) std::cerr << "silk: vm " << name << ": " << r->exec_failure << "\n";
  return r->exit_status;
}

int VmStop(const Args& args) {
  SliverCommand c("silk vm stop", kVmSliver);
  double timeout_s = 30;
  c.AddCommon("print the VM's record as JSON");
  c.opts.add_options()("timeout", po::value(&timeout_s)->default_value(timeout_s),
                       "seconds the guest gets to power off before its domain is destroyed");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm stop NAME [options]",
                          "Stops the VM: its agent powers the guest off (ACPI's power button\n"
                          "while an exec holds the agent), and the domain is destroyed if it\n"
                          "has not ended after --timeout seconds. The run directory and the\n"
                          "disk stay until `silk vm delete`.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  if (timeout_s < 0) return c.out.Usage("--timeout must not be negative", "--timeout");
  auto r = vmm::StopVm(c.state_dir, c.name, Seconds(timeout_s));
  if (!r) return c.out.Fail(r.error());
  if (c.out.json()) {
    c.out.Json(RecordJson(*r));
  } else {
    std::cout << c.name << " " << vmm::VmStatusName(r->status) << "\n";
    if (!r->error.empty()) std::cerr << "silk: vm " << c.name << ": " << r->error << "\n";
  }
  return kExitOk;
}

int VmDelete(const Args& args) {
  SliverCommand c("silk vm delete", kVmSliver);
  bool force = false;
  c.AddCommon("print {\"deleted\": NAME}");
  c.opts.add_options()("force,f", po::bool_switch(&force), "destroy a running VM first");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm delete NAME [options]",
                          "Removes a stopped or lost VM: its domain if one is left, its run\n"
                          "directory with the staged image, console, socket, disk and record;\n"
                          "--force destroys a running one first.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  if (auto r = vmm::DeleteVm(c.state_dir, c.name, force); !r) return c.out.Fail(r.error());
  if (c.out.json()) c.out.Json({{"deleted", c.name}});
  return kExitOk;
}

int VmState(const Args& args) {
  SliverCommand c("silk vm state", kVmSliver);
  c.AddCommon("print the VM's record as JSON");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm state NAME [options]",
                          "Shows the VM's record: status (created, running, stopped, or lost\n"
                          "when its domain is gone), domain and UUID, size, disk, times, and\n"
                          "where its run directory and console are.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  auto r = vmm::ReadVm(c.state_dir, c.name);
  if (!r) return c.out.Fail(r.error());
  if (c.out.json())
    c.out.Json(RecordJson(*r));
  else
    PrintRecord(*r);
  return kExitOk;
}

int VmStats(const Args& args) {
  SliverCommand c("silk vm stats", kVmSliver);
  c.AddCommon("print the statistics as JSON");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk vm stats NAME [options]",
                          "libvirt's statistics of the running VM: CPU time, memory (QEMU's\n"
                          "RSS), and per disk and NIC the bytes and requests or packets.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  auto s = vmm::VmStatsOf(c.state_dir, c.name);
  if (!s) return c.out.Fail(s.error());
  if (c.out.json()) {
    ojson net = ojson::array(), block = ojson::array(), raw = ojson::object();
    for (const auto& n : s->net)
      net.push_back({{"name", n.name},
                     {"rx_bytes", n.rx_bytes},
                     {"rx_packets", n.rx_packets},
                     {"tx_bytes", n.tx_bytes},
                     {"tx_packets", n.tx_packets}});
    for (const auto& b : s->block)
      block.push_back({{"name", b.name},
                       {"path", b.path},
                       {"rd_bytes", b.rd_bytes},
                       {"wr_bytes", b.wr_bytes},
                       {"rd_reqs", b.rd_reqs},
                       {"wr_reqs", b.wr_reqs},
                       {"capacity", b.capacity},
                       {"allocation", b.allocation}});
    for (const auto& [k, v] : s->numbers) raw[k] = v;
    for (const auto& [k, v] : s->strings) raw[k] = v;
    c.out.Json({{"name", s->name},
                {"domain", s->domain},
                {"state", s->state},
                {"cpu_time_ns", s->cpu_time_ns},
                {"cpu_user_ns", s->cpu_user_ns},
                {"cpu_system_ns", s->cpu_system_ns},
                {"vcpus", s->vcpus},
                {"memory_kib", s->memory_kib},
                {"max_memory_kib", s->max_memory_kib},
                {"rss_kib", s->rss_kib},
                {"net", net},
                {"block", block},
                {"libvirt", raw}});
    return kExitOk;
  }
  std::printf("%s (%s): %s, %u vCPU, CPU %.2f s, memory %llu MiB, RSS %llu MiB\n", s->name.c_str(),
              s->domain.c_str(), s->state.c_str(), s->vcpus, s->cpu_time_ns / 1e9,
              static_cast<unsigned long long>(s->memory_kib / 1024),
              static_cast<unsigned long long>(s->rss_kib / 1024));
  for (const auto& b : s->block)
    std::printf("disk %s: read %llu bytes (%llu reqs), written %llu bytes (%llu reqs), size %s\n",
                b.name.c_str(), static_cast<unsigned long long>(b.rd_bytes),
                static_cast<unsigned long long>(b.rd_reqs),
                static_cast<unsigned long long>(b.wr_bytes),
                static_cast<unsigned long long>(b.wr_reqs), FormatSize(b.capacity).c_str());
  for (const auto& n : s->net)
    std::printf(
        "nic %s: rx %llu bytes (%llu packets), tx %llu bytes (%llu packets)\n", n.name.c_str(),
        static_cast<unsigned long long>(n.rx_bytes), static_cast<unsigned long long>(n.rx_packets),
        static_cast<unsigned long long>(n.tx_bytes), static_cast<unsigned long long>(n.tx_packets));
  return kExitOk;
}

}  // namespace

int PrintNamedVms(const std::string& state_dir, const Output& out) {
  auto vms = vmm::ListVms(state_dir);
  if (!vms) return out.Fail(vms.error());
  if (out.json()) {
    auto j = ojson::array();
    for (const auto& r : *vms) j.push_back(RecordJson(r));
    out.Json(j);
    return kExitOk;
  }
  std::printf("%-28s %-8s %5s %8s %-4s %s\n", "NAME", "STATUS", "VCPUS", "MEM MiB", "ACCEL",
              "CREATED");
  for (const auto& r : *vms)
    std::printf("%-28s %-8s %5u %8llu %-4s %s\n", r.name.c_str(), vmm::VmStatusName(r.status),
                r.vcpus, static_cast<unsigned long long>(r.memory_mib),
                r.accel.empty() ? "-" : r.accel.c_str(), r.created_at.c_str());
  return kExitOk;
}

const std::vector<Command>& VmLifecycleCommands() {
  static const std::vector<Command> commands = {
      {"create", "boot a named VM that runs until stopped", VmCreate},
      {"exec", "run a command in a named VM through its agent", VmExec},
      {"stop", "power a named VM off (destroy it after a timeout)", VmStop},
      {"delete", "remove a named VM: domain, run directory, disk (--force: a running one)",
       VmDelete},
      {"state", "show a named VM's record (--json)", VmState},
      {"stats", "libvirt's statistics of a running named VM (--json)", VmStats},
  };
  return commands;
}

}  // namespace silk::cli
