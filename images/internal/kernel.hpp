// Obtains the guest kernel: Debian's linux-image-cloud-amd64 through apt (cached under
// the kernel cache so later builds are offline), a given .deb, or a given vmlinuz.
#pragma once

#include <functional>
#include <string>

#include "base/result.hpp"
#include "images/internal/temp_dir.hpp"

namespace silk::images::internal {

struct KernelSource {
  std::string vmlinuz_path;
  std::string modules_dir;  // lib/modules/<version>; "" = no modules
  std::string version;      // from the bzImage header
  std::string source;       // the .deb file name, or "vmlinuz" (never a host path)
};

// Reads the kernel release from a bzImage's setup header (Documentation/arch/x86/
// boot.rst: "HdrS" at 0x202, kernel_version at 0x20e). Errors: kInvalidInput naming
// `origin` when it is not a bzImage (a missing or corrupt kernel).
Result<std::string> BzImageVersion(const std::string& data, const std::string& origin);

// Resolves the metapackage `meta` (e.g. linux-image-cloud-amd64) to the real
// linux-image-<version>-cloud-amd64 package and its candidate .deb file name, via
// apt-cache. Errors: kNotFound with how to fix it (apt-get update).
Result<std::pair<std::string, std::string>> ResolveKernelPackage(const std::string& meta);

// `spec`: "" = Debian's linux-image-cloud-amd64 (downloaded with apt-get download once,
// unpacked under `cache_dir`); a path ending in .deb = that package (unpacked into
// `scratch`); anything else = a vmlinuz, with `modules_dir` its modules ("" = none).
// `progress` gets one line per long step.
Result<KernelSource> ObtainKernel(const std::string& spec, const std::string& modules_dir,
                                  const std::string& cache_dir, const TempDir& scratch,
                                  const std::function<void(const std::string&)>& progress);

}  // namespace silk::images::internal
