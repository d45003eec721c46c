// silk::vmm: VmSpec -> libvirt domain XML.
//
// The domain is trimmed to what a thinix guest uses: direct kernel boot, ACPI (for
// power-off), a serial console into a log file, a virtio-serial control channel,
// virtio NICs and disks. No USB controller, no graphics or video, no memballoon unless
// asked, and every guest-side exit (power-off, reboot, crash) ends the domain, so a
// transient domain never outlives its guest.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "vmm/vm_spec.hpp"

namespace silk::vmm {

// Validates `spec` and renders it. Errors: kInvalidInput from VmSpec::Validate().
Result<std::string> DomainXml(const VmSpec& spec);

}  // namespace silk::vmm
