// silk::vmm: run one command in a fresh thinix VM (what `silk vm run` does).
//
// Stages the image (copies its kernel and initramfs into the VM's run directory and
// verifies the copy, run_dir.hpp: QEMU boots exactly what was verified, whatever the image
// directory's mode), picks the accelerator (accel.hpp; a new TCG verdict is noticed once,
// a cached one is quiet), boots a transient domain whose /init starts `silk agent` on the control
// channel, waits for the agent, runs the command (inside a compatibility box in the guest when a
// profile is given), streams its output, powers the guest off and acts on the lifecycle event.
// Nothing is left behind on any path: the domain guard destroys the domain, the run
// directory (control socket, console log, staged image) is removed, libvirt removes the
// taps.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/image.hpp"
#include "vmm/agent_client.hpp"
#include "vmm/vm_spec.hpp"

namespace silk::vmm {

struct VmRunOptions {
  std::string uri = "qemu:///system";
  std::string image_dir = images::kDefaultImageDir;
  std::string public_key;  // PEM key to trust; "" = the image's own signing.pub
  uint64_t memory_mib = 256;
  unsigned vcpus = 1;
  // Run the command as `silk box run --profile P -- CMD` in the guest (a compatibility
  // box under API profile P); "" runs it directly in the guest.
  std::string box_profile = "gen0-sliver";
  std::chrono::milliseconds boot_timeout{60000};      // until the agent answers
  std::chrono::milliseconds command_timeout{600000};  // the command itself
  std::chrono::milliseconds shutdown_timeout{15000};  // power-off to lifecycle event
  std::optional<Accel> accel;                         // forced; otherwise ChooseAccel()
  std::string accel_cache;                            // "" = kDefaultAccelCache
  std::string run_root;                               // "" = kDefaultRunRoot
  std::vector<std::string> bridges;                   // one NIC per bridge (taps named per VM)
  std::string extra_cmdline;  // appended to the image's (e.g. "silk.ip=10.0.0.2/24")
  bool keep_console = false;  // keep the run directory with console.log
  std::string name_prefix = "silk";
};

// Seconds since RunInVm was called, at each step.
struct VmRunTimings {
  double verified = 0;  // image verified, accelerator chosen
  double created = 0;   // virDomainCreateXML returned
  double ready = 0;     // the agent answered
  double command = 0;   // the command's exit status arrived
  double ended = 0;     // the guest's shutdown/stopped lifecycle event arrived
};

struct VmRunResult {
  // The command's status (128+N if killed by signal N); 127 when it was not found in the
  // guest and 126 when it was found but not executable (exec_failure says why).
  int exit_status = 0;
  std::string exec_failure;
  std::string domain;
  Accel accel = Accel::kTcg;
  std::string accel_reason;
  bool accel_probed = false;  // the probe ran now (not from the cache)
  VmRunTimings timings;
  std::string console_log;    // path, if kept
  uint64_t host_rss_kib = 0;  // QEMU's RSS when the guest was ready
};

// Errors (each with what to do): the image is missing, unreadable by silk or tampered
// (OpenImageSource's and StageImage's errors, naming the image directory), libvirtd unreachable
// (how to start it), not enough host memory, the domain cannot start (libvirt's message), the guest
// not up within boot_timeout (with the tail of its console), the agent could not start the command
// for another reason than the command itself, command_timeout. Each error keeps the cause's code,
// errno and context. A command that runs and fails, or is not found or not executable in the guest,
// is not an error: its status is in exit_status (127/126 with exec_failure).
Result<VmRunResult> RunInVm(const VmRunOptions& options, const AgentCommand& command,
                            const OutputSink& out, const OutputSink& err);

}  // namespace silk::vmm
