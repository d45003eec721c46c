// silk::images: thinix VM images and their verification.
//
// A thinix image is a directory with exactly these files:
//   DIR/vmlinuz        the guest kernel (Debian's cloud kernel by default)
//   DIR/initramfs.img  compressed cpio newc: busybox, silk and its libraries, the kernel
//                      modules the guest needs, and thinix's /init
//   DIR/manifest.json  every component (kernel, initramfs, each file inside the
//                      initramfs) with its size and SHA-256, plus the default cmdline
//   DIR/manifest.sig   Ed25519 signature over the bytes of manifest.json (hex, one line)
//   DIR/signing.pub    the signer's Ed25519 public key (PEM, SubjectPublicKeyInfo)
//
// thinix's /init reads these kernel command-line parameters (appended by the booter to
// ImageInfo::cmdline):
//   silk.ip=ADDR/PFX     configure eth0 with this address (and bring it up)
//   silk.gw=ADDR         default route via ADDR (optional)
//   silk.agent=PORT      run `/bin/silk agent --port /dev/virtio-ports/PORT` (as a child
//                        of /init, which waits up to 10 s for the port to appear);
//                        when the agent exits, the guest powers off
//   silk.run="CMD"       run CMD with /bin/sh -c, print "thinix: exit N" on the
//                        console, power off (CMD cannot contain double quotes)
//   (none of the two)    a shell on the console; power off when it exits
// /init always powers the guest off (poweroff -f) at the end; it never hangs. Without
// ACPI (acpi=off, -machine microvm) a power-off would halt forever, so /init reboots
// (reboot -f) instead: boot such guests with QEMU -no-reboot / libvirt
// <on_reboot>destroy</on_reboot> (and reboot=t on the command line).
// Inside the guest: / is a tmpfs (/init moves itself off the kernel's rootfs with
// switch_root, so pivot_root works for compatibility boxes), /bin/silk (the building silk, debug
// info stripped), busybox applets in /bin, /sbin, /usr/bin, /usr/sbin, cgroup2 at /sys/fs/cgroup
// with every controller enabled in the root's subtree_control, /dev/virtio-ports/<name> links.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"

namespace silk::images {

// File names inside an image directory.
inline constexpr const char kKernelFile[] = "vmlinuz";
inline constexpr const char kInitramfsFile[] = "initramfs.img";
inline constexpr const char kManifestFile[] = "manifest.json";
inline constexpr const char kSignatureFile[] = "manifest.sig";
inline constexpr const char kPublicKeyFile[] = "signing.pub";

// Where `silk image build thinix` writes, and where booters look, by default.
inline constexpr const char kDefaultImageDir[] = "/var/lib/silk/images/thinix";

// The console thinix's /init and kernel write to.
inline constexpr const char kConsoleDevice[] = "ttyS0";
// The line /init prints before powering off after silk.run=CMD (followed by the status).
inline constexpr const char kExitMarker[] = "thinix: exit ";

// What a verified image holds. Paths are absolute.
struct ImageInfo {
  std::string dir;             // the image directory
  std::string name;            // "thinix"
  std::string kernel_path;     // DIR/vmlinuz
  std::string initramfs_path;  // DIR/initramfs.img
  std::string kernel_version;  // e.g. "6.1.0-56-cloud-amd64" ("" if unknown)
  std::string kernel_source;   // e.g. the .deb it came from, or "vmlinuz"
  std::string cmdline;         // default kernel command line, e.g. "console=ttyS0 panic=-1"
  std::string compression;     // initramfs compression: "zstd" or "gzip"
  uint64_t kernel_size = 0;
  uint64_t initramfs_size = 0;           // compressed, as on disk
  uint64_t initramfs_unpacked_size = 0;  // sum of the file sizes inside
  uint64_t file_count = 0;               // entries inside the initramfs (files, links, dirs)
  std::string kernel_sha256;             // hex
  std::string initramfs_sha256;          // hex
  std::string key_fingerprint;           // SHA-256 (hex) of the raw 32-byte public key
};

// Verifies the image in `dir`: the Ed25519 signature of manifest.json under the public
// key, then the SHA-256 of the kernel and of the initramfs against the manifest. The
// archive's SHA-256 covers every byte of every file inside it, so a matching archive
// means every listed file is as signed; when the archive differs, it is unpacked and
// each file's SHA-256 compared, to name the one that changed. `deep` unpacks and
// compares every file even when the archive matches (~0.5 s more for a 25 MiB image).
// `public_key_path` is a PEM public key to trust; if empty, DIR/signing.pub is used
// (that only proves integrity, not who signed it).
// Errors: kNotFound if a file of the layout is missing; kDenied if the signature does not
// verify or a component differs from the manifest (the message names the component,
// e.g. "initramfs file bin/busybox", with expected and actual SHA-256);
// kInvalidInput if the manifest is malformed (the field is named).
Result<ImageInfo> VerifyImage(const std::string& dir, const std::string& public_key_path = "",
                              bool deep = false);

}  // namespace silk::images
