#include "vmm/domain_xml.hpp"

#include <sstream>

#include "base/strings.hpp"

namespace silk::vmm {

Result<std::string> DomainXml(const VmSpec& spec) {
  SILK_TRY(spec.Validate());
  auto e = [](std::string_view s) { return XmlEscape(s); };
  std::ostringstream x;
  x << "<domain type='" << (spec.accel == Accel::kKvm ? "kvm" : "qemu") << "'>\n"
    << "  <name>" << e(spec.name) << "</name>\n";
  if (!spec.uuid.empty()) x << "  <uuid>" << e(spec.uuid) << "</uuid>\n";
  x << "  <memory unit='MiB'>" << spec.memory_mib << "</memory>\n"
    << "  <vcpu>" << spec.vcpus << "</vcpu>\n"
    << "  <os>\n"
    << "    <type arch='x86_64' machine='" << e(spec.machine) << "'>hvm</type>\n"
    << "    <kernel>" << e(spec.kernel_path) << "</kernel>\n";
  if (!spec.initramfs_path.empty()) x << "    <initrd>" << e(spec.initramfs_path) << "</initrd>\n";
  if (!spec.cmdline.empty()) x << "    <cmdline>" << e(spec.cmdline) << "</cmdline>\n";
  x << "  </os>\n"
    << "  <features><acpi/></features>\n";
  x << "  <clock offset='utc'/>\n"
    << "  <on_poweroff>destroy</on_poweroff>\n"
    << "  <on_reboot>destroy</on_reboot>\n"
    << "  <on_crash>destroy</on_crash>\n"
    << "  <devices>\n"
    << "    <controller type='usb' model='none'/>\n";
  if (!spec.console_log.empty()) {
    x << "    <serial type='file'>\n"
      << "      <source path='" << e(spec.console_log) << "' append='off'/>\n"
      << "      <target port='0'/>\n"
      << "    </serial>\n";
  }
  if (!spec.control_socket.empty()) {
    x << "    <channel type='unix'>\n"
      << "      <source mode='bind' path='" << e(spec.control_socket) << "'/>\n"
      << "      <target type='virtio' name='" << e(spec.control_port) << "'/>\n"
      << "    </channel>\n";
  }
  for (const NicSpec& n : spec.nics) {
    x << "    <interface type='bridge'>\n"
      << "      <source bridge='" << e(n.bridge) << "'/>\n";
    if (!n.tap.empty()) x << "      <target dev='" << e(n.tap) << "'/>\n";
    if (!n.mac.empty()) x << "      <mac address='" << e(n.mac) << "'/>\n";
    // No vhost-net on these hosts: QEMU's own virtio-net backend.
    x << "      <model type='virtio'/>\n"
      << "      <driver name='qemu'/>\n"
      << "    </interface>\n";
  }
  for (size_t i = 0; i < spec.disks.size(); ++i) {
    const DiskSpec& d = spec.disks[i];
    x << "    <disk type='file' device='disk'>\n"
      << "      <driver name='qemu' type='" << e(d.format) << "'/>\n"
      << "      <source file='" << e(d.path) << "'/>\n"
      << "      <target dev='vd" << static_cast<char>('a' + i) << "' bus='virtio'/>\n";
    if (d.read_only) x << "      <readonly/>\n";
    x << "    </disk>\n";
  }
  if (spec.balloon) {
    x << "    <memballoon model='virtio'/>\n";
  } else {
    x << "    <memballoon model='none'/>\n";
  }
  x << "  </devices>\n"
    << "</domain>\n";
  return x.str();
}

}  // namespace silk::vmm
