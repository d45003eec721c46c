// The kernel modules thinix needs, with their dependency closure read from each
// module's .modinfo "depends=" (the .deb ships no modules.dep: depmod writes it at
// install time), skipping modules built into the kernel (modules.builtin).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::images::internal {

// What the guest's features need: virtio devices, the console/control channel,
// bridges/veth for slivers, overlayfs for box root filesystems, tc qdiscs for links.
const std::vector<std::string>& GuestModules();

struct ModuleSet {
  // Paths relative to the modules directory ("kernel/drivers/virtio/virtio.ko") in an
  // order where every module comes after its dependencies.
  std::vector<std::string> load_order;
  std::vector<std::string> builtin;  // wanted modules that are built in (nothing to load)
  std::string modules_dep;           // modules.dep text for the selected modules
};

// `modules_dir` is lib/modules/<version> of the kernel. Errors: kNotFound naming a
// wanted (or depended-on) module that is neither a .ko nor built in; kUnsupported for
// compressed modules (.ko.xz/.ko.zst).
Result<ModuleSet> ResolveModules(const std::string& modules_dir,
                                 const std::vector<std::string>& wanted);

}  // namespace silk::images::internal
