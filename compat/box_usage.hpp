// The usage of a named box (`silk box stats`; what the node manager reports): CPU time,
// memory, tasks and network traffic, read from the kernel by whoever asks (the box's
// cgroups and the host end of its veth), not through its supervisor. Each number comes
// from cgroup v2 where the box's controller is there and from its v1 hierarchy otherwise
// (compat/internal/cgroup.hpp); the CPU time from cgroup v2's core cpu.stat whenever the
// box has a v2 cgroup (it counts without the cpu controller), else v1's cpuacct.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "compat/box_record.hpp"

namespace silk::compat {

// Traffic on the box's veth, from the box's point of view: rx is what the box received,
// tx what it sent. (The host end of the pair counts the other way round: its rx is what
// the box sent; these are swapped.)
struct BoxNetworkUsage {
  std::string host_interface;  // the host end, as in <state dir>/veth
  uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
};

struct BoxUsage {
  std::string name;
  BoxStatus status = BoxStatus::kLost;
  // nullopt: no cgroup of the box serves it (an unprivileged box without that limit, a
  // kernel without memory.peak).
  std::optional<uint64_t> cpu_usec;  // CPU time of every process of the box, ever
  std::optional<uint64_t> memory_current, memory_peak;
  std::optional<uint64_t> memory_max;  // bytes, 0 = no limit
  std::optional<uint64_t> pids_current;
  std::optional<uint64_t> pids_max;        // 0 = no limit
  std::optional<BoxNetworkUsage> network;  // nullopt: the box has no veth
  // Denied syscalls of the box and its execs, as its supervisor counts them (a running
  // box; 0 otherwise).
  uint64_t denied_syscalls = 0;
  // The --disk volume (0: none): its quota and what the host holds for it (file system
  // metadata included).
  uint64_t disk_used = 0, disk_max = 0;
};

// The usage of the named box `name` under `state_root` (empty: DefaultStateRoot()), a
// created, running or lost one (a lost box's cgroups may still hold processes).
// Errors: kNotFound (no such box), kInvalidInput (a bad name; a box that has exited:
// its cgroups and veth are gone), kSystem.
Result<BoxUsage> ReadBoxUsage(const std::string& state_root, const std::string& name);

// `silk box stats --json`: {"name", "status", "cpu": {"usage_usec"}, "memory": {"current",
// "peak", "max"}, "pids": {"current", "max"}, "network": {"host_interface",
// "point_of_view": "box", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets"} | null,
// "denied_syscalls", "disk": {"used", "max"}}; what is unknown is null.
std::string BoxUsageToJson(const BoxUsage& usage);

}  // namespace silk::compat
