// silk::vmm: named VMs that live (the box verbs, for thinix VMs): `silk vm create` boots
// a VM and returns once its agent said hello; the domain runs until `silk vm stop`, and
// `silk vm exec` reaches its agent again and again over the control channel.
//
// Transient domains, not persistent definitions: a named VM is a transient libvirt domain
// (created without VIR_DOMAIN_START_AUTODESTROY, so it outlives the CLI that created it)
// plus silk's own record under the state root, as named boxes are. libvirt then holds
// nothing to clean up after a host reboot or a lost QEMU: the domain is simply gone, and
// its record reads as lost; a persistent definition would survive as a stale domain that
// claims a name and points at a run directory on /run that no longer exists. Everything
// a VM needs lives in its run directory, <state root>/<name>/ (kDefaultVmStateRoot):
//   vm.json        the record (vm_record.hpp), replaced whole at each step
//   lock           flock'd by create (while it boots), stop and delete
//   exec.lock      flock'd by the one exec that holds the agent session
//   control.sock   the agent channel (QEMU listens: libvirt's unix channel, mode='bind')
//   console.log    the guest's serial console
//   image/         the staged image the VM boots (run_dir.hpp)
//   disk.raw       the --disk volume, a sparse raw file (virtio, /dev/vda in the guest)
//
// One session at a time: the agent serves one host connection at a time (QEMU's chardev
// accepts the next connection once the previous one closed), so execs of one VM are
// serialised by exec.lock: a second exec waits for the first (its caller is told) up to
// its timeout. Execs of different VMs run at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/image.hpp"
#include "vmm/agent_client.hpp"
#include "vmm/connection.hpp"
#include "vmm/vm_record.hpp"
#include "vmm/vm_spec.hpp"

namespace silk::vmm {

inline constexpr const char kDefaultVmStateRoot[] = "/run/silk/vms";

struct VmCreateOptions {
  std::string name;        // ValidateVmName's rules
  std::string state_root;  // "" = kDefaultVmStateRoot
  std::string uri = kDefaultUri;
  std::string image_dir = images::kDefaultImageDir;
  std::string public_key;  // PEM key to trust; "" = the image's own signing.pub
  uint64_t memory_mib = 256;
  unsigned vcpus = 1;
  uint64_t disk_bytes = 0;  // a virtio disk of this size; 0 = none
  std::vector<std::string> bridges;
  std::string extra_cmdline;
  // Execs run as `silk box run --profile P` in the guest; "" runs them directly.
  std::string box_profile = "gen0-sliver";
  std::optional<Accel> accel;  // forced; otherwise ChooseAccel()
  std::string accel_cache;     // "" = kDefaultAccelCache
  std::chrono::milliseconds boot_timeout{60000};
};

// Boots the named VM and returns its record (running) once the agent said hello. The name
// is claimed atomically (its run directory), the record written before the domain is
// created (with the domain's name and UUID), and on any failure nothing is left: no
// domain, no run directory. Errors: kInvalidInput for a bad name or a name that exists
// (nothing is changed), a --disk below 1 MiB; RunInVm's errors for the image, libvirtd,
// the accelerator and the boot (with the console's tail).
Result<VmRecord> CreateVm(const VmCreateOptions& options);

// The record of `name` with its status as it is now: created while a create holds it,
// running while its domain (by UUID) is active, stopped, else lost. Errors: kNotFound ("no
// VM named ..."), kInvalidInput (a bad name, a corrupt record), libvirt's when the record's
// connection cannot be opened.
Result<VmRecord> ReadVm(const std::string& state_root, const std::string& name);
// Every named VM, by name, each as ReadVm.
Result<std::vector<VmRecord>> ListVms(const std::string& state_root);

struct VmExecOptions {
  std::chrono::milliseconds timeout{600000};         // the command, and the wait for the session
  std::chrono::milliseconds connect_timeout{30000};  // until the agent answers
  bool no_box = false;  // run directly in the guest even if the VM has a box profile
  // Called once when another exec holds the agent session and this one waits for it.
  std::function<void(const std::string& message)> on_wait;
};

struct VmExecResult {
  int exit_status = 0;       // 128+N for signal N; 127 not found, 126 not executable
  std::string exec_failure;  // why the command could not start (127/126)
};

// Runs `command` in the running VM `name` through its agent (in the VM's compatibility
// box unless no_box; env and cwd then go to `silk box run`), streaming its output and
// forwarding command.stdin_fd as `silk vm run` does. Errors: kNotFound; kInvalidInput
// when the VM is not running (created, stopped, lost: the message says which and what to
// do); kTimeout waiting for the session or for the command; the agent's errors.
Result<VmExecResult> ExecInVm(const std::string& state_root, const std::string& name,
                              const AgentCommand& command, const VmExecOptions& options,
                              const OutputSink& out, const OutputSink& err);

// Stops the VM: the agent powers the guest off (ACPI's power button when an exec holds the
// session), and the domain is destroyed if it has not ended within `timeout`. The record
// then says stopped (with `error` saying it was forced). Stopping a stopped VM is not an
// error; a lost one is recorded stopped (a domain its dead create left is destroyed).
// Errors: kNotFound; kInvalidInput while another silk creates, stops or deletes it.
Result<VmRecord> StopVm(const std::string& state_root, const std::string& name,
                        std::chrono::milliseconds timeout);

// Removes the VM: its domain (a running VM needs `force`), run directory, staged image,
// disk, sockets and record. Errors: kNotFound (also for a second delete); kInvalidInput for
// a running VM without force, or while another silk creates, stops or deletes it.
Result<void> DeleteVm(const std::string& state_root, const std::string& name, bool force);

// libvirt's statistics of a running VM's domain (virDomainListGetStats: state, CPU,
// balloon, vCPUs, interfaces, block devices).
struct VmNetStats {
  std::string name;
  uint64_t rx_bytes = 0, rx_packets = 0, tx_bytes = 0, tx_packets = 0;
};
struct VmBlockStats {
  std::string name, path;
  uint64_t rd_bytes = 0, wr_bytes = 0, rd_reqs = 0, wr_reqs = 0, capacity = 0, allocation = 0;
};
struct VmStats {
  std::string name, domain, state;
  uint64_t cpu_time_ns = 0, cpu_user_ns = 0, cpu_system_ns = 0;
  uint64_t memory_kib = 0, max_memory_kib = 0, rss_kib = 0;
  unsigned vcpus = 0;
  std::vector<VmNetStats> net;
  std::vector<VmBlockStats> block;
  // Every statistic libvirt gave, by its name ("cpu.time", "block.0.rd.bytes", ...).
  std::map<std::string, uint64_t> numbers;
  std::map<std::string, std::string> strings;
};
// Errors: kNotFound; kInvalidInput when the VM is not running; libvirt's.
Result<VmStats> VmStatsOf(const std::string& state_root, const std::string& name);

// The status of `record` on `conn`: a created or running record whose domain (by UUID,
// by name before it has one) is gone or inactive is lost; others as recorded. Errors:
// libvirt's (never "absent" for a failed lookup).
Result<VmStatus> LiveStatus(Connection& conn, const VmRecord& record);

}  // namespace silk::vmm
