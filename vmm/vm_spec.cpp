#include "vmm/vm_spec.hpp"

#include <cctype>

namespace silk::vmm {

const char* AccelName(Accel accel) { return accel == Accel::kKvm ? "kvm" : "tcg"; }

Result<Accel> ParseAccel(const std::string& name) {
  if (name == "kvm") return Accel::kKvm;
  if (name == "tcg" || name == "qemu") return Accel::kTcg;
  return Fail(ErrorCode::kInvalidInput, "unknown accelerator '" + name + "': use 'kvm' or 'tcg'");
}

namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

Result<void> Bad(const std::string& field, const std::string& what) {
  return Fail(ErrorCode::kInvalidInput, "VM spec field '" + field + "': " + what);
}

bool IsAbsolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

bool IsMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2) {
      if (mac[i] != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(mac[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

Result<void> VmSpec::Validate() const {
  if (name.empty() || name.size() > 64)
    return Bad("name", "'" + name + "' must be 1 to 64 characters");
  for (char c : name)
    if (!IsNameChar(c))
      return Bad("name", "'" + name + "' may only hold letters, digits, '-', '_' and '.'");
  if (!uuid.empty() && !IsUuid(uuid))
    return Bad("uuid", "'" + uuid + "' is not a UUID like 6695eb01-f6a4-8304-79aa-97f2502e193f");
  if (!IsAbsolute(kernel_path))
    return Bad("kernel_path", "'" + kernel_path + "' must be an absolute path");
  if (!initramfs_path.empty() && !IsAbsolute(initramfs_path))
    return Bad("initramfs_path", "'" + initramfs_path + "' must be an absolute path");
  if (memory_mib < 64 || memory_mib > 1024 * 1024)
    return Bad("memory_mib", std::to_string(memory_mib) + " MiB is out of range 64..1048576");
  if (vcpus < 1 || vcpus > 64)
    return Bad("vcpus", std::to_string(vcpus) + " is out of range 1..64");
  if (machine.empty()) return Bad("machine", "must name a QEMU machine type, e.g. 'pc'");
  for (size_t i = 0; i < nics.size(); ++i) {
    const NicSpec& n = nics[i];
    std::string f = "nics[" + std::to_string(i) + "]";
    if (n.bridge.empty() || n.bridge.size() > 15)
      return Bad(f + ".bridge", "'" + n.bridge + "' must be a bridge name of 1 to 15 characters");
    if (n.tap.size() > 15) return Bad(f + ".tap", "'" + n.tap + "' is longer than 15 characters");
    if (n.tap.rfind("vnet", 0) == 0 || n.tap.rfind("vif", 0) == 0)
      return Bad(f + ".tap", "'" + n.tap + "': names starting 'vnet' or 'vif' are libvirt's own");
    for (char c : n.tap)
      if (!IsNameChar(c)) return Bad(f + ".tap", "'" + n.tap + "' holds a bad character");
    if (!n.mac.empty() && !IsMac(n.mac))
      return Bad(f + ".mac", "'" + n.mac + "' is not a MAC address like 52:54:00:12:34:56");
  }
  if (!console_log.empty() && !IsAbsolute(console_log))
    return Bad("console_log", "'" + console_log + "' must be an absolute path");
  if (!control_socket.empty()) {
    if (!IsAbsolute(control_socket))
      return Bad("control_socket", "'" + control_socket + "' must be an absolute path");
    if (control_socket.size() >= 108)
      return Bad("control_socket",
                 "'" + control_socket + "' is longer than a unix socket path may be (107)");
    if (control_port.empty()) return Bad("control_port", "must not be empty");
    for (char c : control_port)
      if (!IsNameChar(c))
        return Bad("control_port", "'" + control_port + "' holds a bad character");
  }
  for (size_t i = 0; i < disks.size(); ++i) {
    std::string f = "disks[" + std::to_string(i) + "]";
    if (!IsAbsolute(disks[i].path))
      return Bad(f + ".path", "'" + disks[i].path + "' must be absolute");
    if (disks[i].format != "raw" && disks[i].format != "qcow2")
      return Bad(f + ".format", "'" + disks[i].format + "': use 'raw' or 'qcow2'");
  }
  if (disks.size() > 20) return Bad("disks", "at most 20 disks");
  return {};
}

}  // namespace silk::vmm
