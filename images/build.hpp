// Building thinix images: `silk image build thinix`.
//
// The image holds the guest kernel and an initramfs with static busybox, the silk binary
// and its shared-library closure, the kernel modules the guest needs (with their
// dependency closure) and /init. The build is reproducible: the same inputs give
// byte-identical files (sorted cpio entries, zero mtimes and owners, deterministic
// compression, deterministic Ed25519 signatures).
#pragma once

#include <functional>
#include <string>

#include "base/result.hpp"
#include "images/image.hpp"

namespace silk::images {

inline constexpr const char kDefaultKeyPath[] = "/var/lib/silk/keys/image-signing.pem";
inline constexpr const char kDefaultKernelCache[] = "/var/cache/silk/kernels";

struct BuildOptions {
  std::string out_dir = kDefaultImageDir;
  // "" = Debian's linux-image-cloud-amd64 via apt (cached); a path ending in .deb = that
  // linux-image package; any other path = a bzImage vmlinuz.
  std::string kernel;
  std::string modules_dir;  // with a vmlinuz: its lib/modules/<release>
  std::string silk_binary = "/proc/self/exe";
  bool strip_silk = true;                  // drop debug info (strip --strip-debug)
  std::string key_path = kDefaultKeyPath;  // Ed25519 PEM private key
  bool create_key = true;                  // generate key_path (0600) if it does not exist
  std::string busybox = "/bin/busybox";    // Debian's busybox-static
  std::string compression = "zstd";        // or "gzip"
  std::string kernel_cache_dir = kDefaultKernelCache;
  // Called with one line per long step ("kernel: downloading ...").
  std::function<void(const std::string&)> progress = [](const std::string&) {};
};

// Builds the image into options.out_dir atomically (written to OUT.tmp-XXXXXX, then
// renamed; an existing image is replaced, nothing is left behind on failure) and
// returns what VerifyImage returns for it. Errors: kNotFound for a missing kernel,
// busybox, silk binary, library or module (named); kInvalidInput for a corrupt kernel
// or .deb; kSystem for I/O and tool failures.
Result<ImageInfo> BuildThinix(const BuildOptions& options);

}  // namespace silk::images
