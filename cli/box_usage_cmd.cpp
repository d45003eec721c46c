#include "cli/box_usage_cmd.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "cli/box_flags.hpp"
#include "cli/sliver_command.hpp"
#include "compat/box_update.hpp"
#include "compat/box_usage.hpp"

namespace silk::cli {
namespace {

// "30.2 MiB": usage for people (FormatSize is exact, which usage seldom is).
std::string Approx(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return std::to_string(bytes) + " bytes";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string Known(const std::optional<uint64_t>& v, std::string (*show)(uint64_t)) {
  return v ? show(*v) : "unknown";
}

std::string LimitText(const std::optional<uint64_t>& v, std::string (*show)(uint64_t)) {
  if (!v) return "unknown";
  return *v == 0 ? "none" : show(*v);
}

std::string Count(uint64_t n) { return std::to_string(n); }

void PrintUsage(const compat::BoxUsage& u) {
  std::cout << "name:     " << u.name << "\n"
            << "status:   " << compat::BoxStatusName(u.status) << "\n";
  if (u.cpu_usec) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(*u.cpu_usec) / 1e6);
    std::cout << "cpu:      " << buf << "\n";
  } else {
    std::cout << "cpu:      unknown\n";
  }
  std::cout << "memory:   " << Known(u.memory_current, Approx) << " (peak "
            << Known(u.memory_peak, Approx) << ", limit " << LimitText(u.memory_max, Approx)
            << ")\n"
            << "pids:     " << Known(u.pids_current, Count) << " (limit "
            << LimitText(u.pids_max, Count) << ")\n";
  if (u.network) {
    const auto& n = *u.network;
    std::cout << "network:  received " << Approx(n.rx_bytes) << " in " << n.rx_packets
              << " packets, sent " << Approx(n.tx_bytes) << " in " << n.tx_packets
              << " packets (as the box sees it; host end " << n.host_interface << ")\n";
  } else {
    std::cout << "network:  none\n";
  }
  if (u.disk_max)
    std::cout << "disk:     " << Approx(u.disk_used) << " of " << Approx(u.disk_max) << "\n";
  else
    std::cout << "disk:     no volume\n";
  std::cout << "denied:   " << u.denied_syscalls << " syscalls\n";
}

std::string Rate(uint64_t v) { return FormatSize(v) + "/s"; }

std::string ShowLimit(const std::string& limit, uint64_t v) {
  if (v == 0) return "none";
  if (limit == "memory_max") return FormatSize(v);
  if (limit == "egress_rate") return Rate(v);
  return std::to_string(v);
}

}  // namespace

int BoxStats(const Args& args) {
  SliverCommand box("silk box stats", kBoxSliver);
  auto& out = box.out;
  auto& opts = box.opts;
  auto& pos = box.pos;
  box.AddCommon("print the usage as JSON");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box stats NAME [options]",
                          "Shows what a created or running box uses: CPU time, memory (current,\n"
                          "peak, limit), tasks, and its network traffic as the box sees it\n"
                          "(received/sent on its veth), read from its cgroups and veth.",
                          opts, pos, args, vm, out))
    return *rc;
  auto usage = compat::ReadBoxUsage(box.state_dir, box.name);
  if (!usage) return out.Fail(usage.error());
  if (out.json())
    out.Json(nlohmann::ordered_json::parse(compat::BoxUsageToJson(*usage)));
  else
    PrintUsage(*usage);
  return kExitOk;
}

int BoxUpdate(const Args& args) {
  SliverCommand box("silk box update", kBoxSliver);
  auto& out = box.out;
  auto& opts = box.opts;
  auto& pos = box.pos;
  std::string memory, pids, cpu_weight, io_weight, egress;
  box.AddCommon("print what changed as JSON");
  opts.add_options()("memory", po::value(&memory), "memory limit, e.g. 256M (swap off)")(
      "pids", po::value(&pids), "tasks the box may have, 1..4194304")(
      "cpu-weight", po::value(&cpu_weight), "proportional CPU weight 1..10000")(
      "io-weight", po::value(&io_weight), "proportional I/O weight 1..10000")(
      "egress", po::value(&egress), "bytes per second the box may send, e.g. 1M");
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk box update NAME [--memory SIZE] [--pids N] [--cpu-weight N] [--io-weight N] "
          "[--egress RATE] [options]",
          "Changes the limits of a created or running box while it runs, and says what\n"
          "changed (old -> new). A memory limit below what the box uses now is refused.\n"
          "`silk box state NAME --json` shows the limits as they stand.",
          opts, pos, args, vm, out))
    return *rc;
  compat::BoxLimitsUpdate u;
  // Each a limit: 0 would mean "none" at create, which update does not take.
  auto positive = [&](const char* flag, uint64_t v) -> std::optional<int> {
    if (v != 0) return std::nullopt;
    return out.Fail(Error(ErrorCode::kInvalidInput,
                          std::string(flag) + ": 0 is not a limit; give a value above 0"),
                    kExitUsage, flag);
  };
  if (vm.count("memory")) {
    auto v = WithContext(ParseSize(memory), "--memory");
    if (!v) return out.Fail(v.error(), kExitUsage, "--memory");
    if (auto rc = positive("--memory", *v)) return *rc;
    u.memory_max = *v;
  }
  if (vm.count("pids")) {
    auto v = NumberFlag("--pids", pids, uint64_t{1} << 22);
    if (!v) return out.Fail(v.error(), kExitUsage, "--pids");
    if (auto rc = positive("--pids", *v)) return *rc;
    u.pids_max = *v;
  }
  if (vm.count("cpu-weight")) {
    auto v = NumberFlag("--cpu-weight", cpu_weight, 10000);
    if (!v) return out.Fail(v.error(), kExitUsage, "--cpu-weight");
    if (auto rc = positive("--cpu-weight", *v)) return *rc;
    u.cpu_weight = static_cast<uint32_t>(*v);
  }
  if (vm.count("io-weight")) {
    auto v = NumberFlag("--io-weight", io_weight, 10000);
    if (!v) return out.Fail(v.error(), kExitUsage, "--io-weight");
    if (auto rc = positive("--io-weight", *v)) return *rc;
    u.io_weight = static_cast<uint32_t>(*v);
  }
  if (vm.count("egress")) {
    auto v = WithContext(ParseSize(egress), "--egress");
    if (!v) return out.Fail(v.error(), kExitUsage, "--egress");
    if (auto rc = positive("--egress", *v)) return *rc;
    u.egress_rate = *v;
  }
  if (u.empty())
    return out.Usage(
        "nothing to update: give --memory, --pids, --cpu-weight, --io-weight or --egress");
  auto report = compat::UpdateBox(box.state_dir, box.name, u);
  if (!report) return out.Fail(report.error());
  if (out.json()) {
    out.Json(nlohmann::ordered_json::parse(compat::UpdateReportToJson(*report)));
    return kExitOk;
  }
  if (report->changes.empty()) std::cout << box.name << ": unchanged (already so)\n";
  for (const auto& c : report->changes)
    std::cout << c.limit << ": " << ShowLimit(c.limit, c.old_value) << " -> "
              << ShowLimit(c.limit, c.new_value) << "\n";
  return kExitOk;
}

}  // namespace silk::cli
