// The thinix image the libvirt tests boot: $SILK_TEST_IMAGE if set, else one built once
// into the build tree (Debian's cloud kernel from the kernel cache, the silk binary of
// this build, gzip for a quick build) and reused while it verifies and is newer than
// the silk binary.
#pragma once

#include <string>

#include "base/result.hpp"

namespace silk::vmm::testing {

Result<std::string> ThinixImageForTests();

}  // namespace silk::vmm::testing
