// silk::vmm: thinix VMs through libvirt. This file: the plain description of one VM.
//
// A VmSpec says what to boot (kernel, initramfs, command line), how big (memory,
// vCPUs), how it is wired (NICs on named host bridges through taps, a serial console
// written to a log file, a virtio-serial control channel bound to a unix socket, an
// optional disk) and on which accelerator. It holds no handles; Validate() checks it
// and names the field that is wrong. DomainXml() (domain_xml.hpp) turns it into
// libvirt domain XML.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::vmm {

// kKvm: hardware virtualization (libvirt domain type 'kvm'); kTcg: QEMU's emulator
// (domain type 'qemu'). See accel.hpp for how silk picks one.
enum class Accel { kKvm, kTcg };
const char* AccelName(Accel accel);
Result<Accel> ParseAccel(const std::string& name);

// Whether `s` is a UUID in its textual form (8-4-4-4-12 hex digits).
bool IsUuid(const std::string& s);

// One NIC: a tap device libvirt creates and attaches to an existing host bridge.
struct NicSpec {
  std::string bridge;  // host bridge name, must exist when the domain starts
  std::string tap;     // tap name (<= 15 chars, not "vnet*"/"vif*"); "" lets libvirt pick
  std::string mac;     // "52:54:00:xx:xx:xx"; "" lets libvirt pick
};

// An optional virtio disk backed by a host file.
struct DiskSpec {
  std::string path;
  std::string format = "raw";  // "raw" or "qcow2"
  bool read_only = false;
};

struct VmSpec {
  std::string name;  // unique per host: [A-Za-z0-9_.-], 1..64 chars
  // The domain's UUID ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case hex); "" lets
  // libvirt pick one. A caller that records the domain before it exists names it here.
  std::string uuid;
  std::string kernel_path;
  std::string initramfs_path;
  std::string cmdline;
  uint64_t memory_mib = 256;
  unsigned vcpus = 1;
  Accel accel = Accel::kTcg;
  std::string machine = "pc";  // QEMU machine type
  std::vector<NicSpec> nics;
  // Where the serial console (ttyS0) is written; "" for no console.
  std::string console_log;
  // The host unix socket the virtio-serial control port is bound to (QEMU listens
  // there), and the port's name inside the guest (/dev/virtio-ports/<name>); "" for
  // no control channel.
  std::string control_socket;
  std::string control_port = "silk.control";
  std::vector<DiskSpec> disks;
  bool balloon = false;  // a virtio memballoon; off by default (it costs boot time)

  // Checks every field; the error (kInvalidInput) names the field, the bad value and
  // the accepted form. Does not touch the file system.
  Result<void> Validate() const;
};

}  // namespace silk::vmm
