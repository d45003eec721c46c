#include "compat/box_usage.hpp"

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "compat/box_exec.hpp"
#include "compat/box_lifecycle.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/state.hpp"
#include "compat/internal/volume.hpp"

namespace silk::compat {
namespace {

nlohmann::ordered_json OrNull(const std::optional<uint64_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// A network interface name as the kernel takes it: 1..15 bytes, no '/', not . or ..
bool InterfaceName(const std::string& n) {
  return !n.empty() && n.size() <= 15 && n != "." && n != ".." &&
         n.find_first_of("/ \t\n") == std::string::npos;
}

std::optional<BoxNetworkUsage> NetworkUsage(const std::string& state_dir) {
  auto text = ReadRegularFile(state_dir + "/veth", 64);
  if (!text) return std::nullopt;
  BoxNetworkUsage n;
  n.host_interface = Trim(*text);
  if (!InterfaceName(n.host_interface)) return std::nullopt;
  const std::string stats = "/sys/class/net/" + n.host_interface + "/statistics/";
  auto counter = [&](const char* file) -> std::optional<uint64_t> {
    auto t = ReadFile(stats + file);
    if (!t) return std::nullopt;
    auto v = ParseUint(Trim(*t));
    if (!v) return std::nullopt;
    return *v;
  };
  // The host end's rx is what the box sent.
  auto host_rx = counter("rx_bytes"), host_tx = counter("tx_bytes");
  auto host_rx_packets = counter("rx_packets"), host_tx_packets = counter("tx_packets");
  if (!host_rx || !host_tx || !host_rx_packets || !host_tx_packets) return std::nullopt;
  n.tx_bytes = *host_rx;
  n.rx_bytes = *host_tx;
  n.tx_packets = *host_rx_packets;
  n.rx_packets = *host_tx_packets;
  return n;
}

Error Ended(const BoxRecord& r) {
  return Error(ErrorCode::kInvalidInput,
               "box " + r.name + " has exited (status " + std::to_string(r.exit_status) +
                   "): its cgroups and veth are gone, there is no usage to read");
}

}  // namespace

Result<BoxUsage> ReadBoxUsage(const std::string& state_root, const std::string& name) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (r.status == BoxStatus::kExited) return Fail(Ended(r));
  BoxUsage u;
  u.name = r.name;
  u.status = r.status;
  internal::CgroupUsage c = SILK_TRY(internal::ReadCgroupsUsage(r.cgroups));
  u.cpu_usec = c.cpu_usec;
  u.memory_current = c.memory_current;
  u.memory_peak = c.memory_peak;
  u.memory_max = c.memory_max;
  u.pids_current = c.pids_current;
  u.pids_max = c.pids_max;
  u.network = NetworkUsage(r.state_dir);
  // The supervisor of a running box counts its denials (its execs' too); a created box
  // has denied nothing yet.
  if (r.status == BoxStatus::kRunning) {
    if (auto q = QuerySupervisor(state_root, name)) u.denied_syscalls = q->denied_syscalls;
  }
  if (const std::string image = internal::RecordedVolumeImage(r.state_dir); !image.empty()) {
    if (auto v = internal::ReadVolumeUsage(image)) {
      u.disk_used = v->used;
      u.disk_max = v->quota;
    }
  }
  // It may have ended while we read (its cgroups went): say so rather than show holes.
  BoxRecord after = SILK_TRY(ReadBox(state_root, name));
  if (after.status == BoxStatus::kExited) return Fail(Ended(after));
  u.status = after.status;
  return u;
}

std::string BoxUsageToJson(const BoxUsage& u) {
  nlohmann::ordered_json j;
  j["name"] = u.name;
  j["status"] = BoxStatusName(u.status);
  j["cpu"] = {{"usage_usec", OrNull(u.cpu_usec)}};
  j["memory"] = {{"current", OrNull(u.memory_current)},
                 {"peak", OrNull(u.memory_peak)},
                 {"max", OrNull(u.memory_max)}};
  j["pids"] = {{"current", OrNull(u.pids_current)}, {"max", OrNull(u.pids_max)}};
  if (u.network) {
    const auto& n = *u.network;
    j["network"] = {{"host_interface", n.host_interface},
                    {"point_of_view", "box"},
                    {"rx_bytes", n.rx_bytes},
                    {"tx_bytes", n.tx_bytes},
                    {"rx_packets", n.rx_packets},
                    {"tx_packets", n.tx_packets}};
  } else {
    j["network"] = nullptr;
  }
  j["denied_syscalls"] = u.denied_syscalls;
  j["disk"] = {{"used", u.disk_used}, {"max", u.disk_max}};
  return j.dump(2) + "\n";
}

}  // namespace silk::compat
