// Full thinix builds with Debian's cloud kernel (apt-get download once, then the cache
// in /var/cache/silk/kernels) and the real silk binary: module closure, byte-identical
// rebuilds, and a boot under plain QEMU TCG that runs a command and powers off.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>

#include "base/subprocess.hpp"
#include "images/build.hpp"
#include "images/image.hpp"
#include "images/internal/compress.hpp"
#include "images/internal/cpio.hpp"
#include "images/internal/kernel.hpp"
#include "tests/images/image_fixture.hpp"

namespace silk::images {
namespace {

using testing::Slurp;

// The silk binary to pack: $SILK if set (as in ci/demo), else this build's.
const std::string kSilk = getenv("SILK") ? getenv("SILK") : SILK_BINARY_DIR "/cli/silk";

class ImagesThinixBuild : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::access(kSilk.c_str(), X_OK) != 0) return;
    tmp_ = new internal::TempDir(testing::MakeTempDir());
    BuildOptions o;
    o.out_dir = tmp_->path() + "/a";
    o.silk_binary = kSilk;
    o.key_path = tmp_->path() + "/key.pem";
    auto t0 = std::chrono::steady_clock::now();
    auto info = BuildThinix(o);
    build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!info) {
      error_ = info.error().ToString();
      return;
    }
    info_ = new ImageInfo(*info);
  }
  static void TearDownTestSuite() {
    delete info_;
    delete tmp_;
    info_ = nullptr;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (::access(kSilk.c_str(), X_OK) != 0)
      GTEST_SKIP() << kSilk << " is not built (build the silk target first)";
    ASSERT_TRUE(info_) << error_;
  }

  static internal::TempDir* tmp_;
  static ImageInfo* info_;
  static std::string error_;
  static double build_seconds_;
};
internal::TempDir* ImagesThinixBuild::tmp_ = nullptr;
ImageInfo* ImagesThinixBuild::info_ = nullptr;
std::string ImagesThinixBuild::error_;
double ImagesThinixBuild::build_seconds_ = 0;

TEST_F(ImagesThinixBuild, HasTheCloudKernelAndTheModuleClosure) {
  EXPECT_NE(info_->kernel_version.find("cloud-amd64"), std::string::npos);
  EXPECT_EQ(info_->kernel_source.substr(0, 12), "linux-image-");
  EXPECT_EQ(info_->compression, "zstd");
  std::cout << "build took " << build_seconds_ << " s; initramfs " << info_->initramfs_size
            << " bytes compressed, " << info_->initramfs_unpacked_size << " unpacked\n";
  auto raw = internal::Decompress(Slurp(info_->initramfs_path));
  ASSERT_TRUE(raw);
  auto entries = internal::ParseCpio(*raw);
  ASSERT_TRUE(entries);
  std::string modules_list, modules_dep;
  for (const auto& e : *entries) {
    if (e.path == "etc/thinix/modules") modules_list = e.data;
    if (e.path.size() > 11 && e.path.substr(e.path.size() - 11) == "modules.dep")
      modules_dep = e.data;
  }
  // Each wanted module and its dependencies, dependencies first.
  for (const char* m : {"virtio_pci.ko", "virtio_net.ko", "virtio_console.ko", "virtio_blk.ko",
                        "bridge.ko", "veth.ko", "overlay.ko", "sch_htb.ko", "sch_netem.ko",
                        "/virtio.ko", "virtio_ring.ko", "net_failover.ko", "/stp.ko", "/llc.ko"})
    EXPECT_NE(modules_list.find(m), std::string::npos) << m;
  EXPECT_LT(modules_list.find("virtio_ring.ko"), modules_list.find("virtio_net.ko"));
  EXPECT_LT(modules_list.find("/llc.ko"), modules_list.find("bridge.ko"));
  EXPECT_NE(
      modules_dep.find("kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko"),
      std::string::npos)
      << modules_dep;
}

// silk's shared-library closure is inside (the guest runs the same binary: agent, box,
// policy), and libvirt's is not: silk loads libvirt at first use (vmm/), and the guest
// never drives VMs, which keeps libxml2/ICU/GnuTLS (~54 MiB) out of every thinix.
TEST_F(ImagesThinixBuild, CarriesSilksLibrariesButNotLibvirt) {
  auto raw = internal::Decompress(Slurp(info_->initramfs_path));
  ASSERT_TRUE(raw);
  auto entries = internal::ParseCpio(*raw);
  ASSERT_TRUE(entries);
  std::set<std::string> files;
  for (const auto& e : *entries) files.insert(e.path);
  for (const char* lib : {"lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libstdc++.so.6",
                          "lib/x86_64-linux-gnu/libseccomp.so.2"})
    EXPECT_TRUE(files.count(lib)) << lib << " (silk needs it in the guest)";
  for (const auto& f : files) {
    EXPECT_EQ(f.find("libvirt"), std::string::npos) << f;
    EXPECT_EQ(f.find("libicudata"), std::string::npos) << f;
    EXPECT_EQ(f.find("libxml2"), std::string::npos) << f;
  }
}

TEST_F(ImagesThinixBuild, RebuildIsByteIdentical) {
  BuildOptions o;
  o.out_dir = tmp_->path() + "/b";
  o.silk_binary = kSilk;
  o.key_path = tmp_->path() + "/key.pem";
  auto second = BuildThinix(o);
  ASSERT_TRUE(second) << second.error().ToString();
  for (const char* f : {"vmlinuz", "initramfs.img", "manifest.json", "manifest.sig", "signing.pub"})
    EXPECT_EQ(Slurp(info_->dir + "/" + f), Slurp(o.out_dir + "/" + f)) << f;
}

TEST_F(ImagesThinixBuild, KernelFromAGivenDebOrVmlinuzWithModules) {
  auto package = internal::ResolveKernelPackage("linux-image-cloud-amd64");
  ASSERT_TRUE(package) << package.error().ToString();
  std::string deb = std::string(kDefaultKernelCache) + "/" + package->second;
  std::string unpacked = deb.substr(0, deb.size() - 4);
  BuildOptions o;
  o.silk_binary = "/bin/true";  // small: this test is about the kernel inputs
  o.key_path = tmp_->path() + "/key.pem";
  o.out_dir = tmp_->path() + "/from-deb";
  o.kernel = deb;
  auto from_deb = BuildThinix(o);
  ASSERT_TRUE(from_deb) << from_deb.error().ToString();
  EXPECT_EQ(from_deb->kernel_sha256, info_->kernel_sha256);
  EXPECT_EQ(from_deb->kernel_source, package->second);

  o.out_dir = tmp_->path() + "/from-vmlinuz";
  o.kernel = unpacked + "/boot/vmlinuz-" + info_->kernel_version;
  o.modules_dir = unpacked + "/lib/modules/" + info_->kernel_version;
  auto from_vmlinuz = BuildThinix(o);
  ASSERT_TRUE(from_vmlinuz) << from_vmlinuz.error().ToString();
  EXPECT_EQ(from_vmlinuz->kernel_source, "vmlinuz");
  EXPECT_EQ(from_vmlinuz->kernel_sha256, info_->kernel_sha256);
  // Same modules, busybox and /init: only bin/silk and its libraries differ.
  EXPECT_EQ(from_vmlinuz->initramfs_sha256, from_deb->initramfs_sha256);
}

// Boots the image with plain QEMU (TCG, direct kernel boot) and returns the console.
std::string Boot(const ImageInfo& info, const std::string& extra_cmdline, const std::string& log,
                 int timeout_s, bool* exited, const std::vector<std::string>& devices = {}) {
  std::string append = info.cmdline + " " + extra_cmdline;
  std::vector<std::string> argv = {"qemu-system-x86_64",
                                   "-accel",
                                   "tcg",
                                   "-m",
                                   "256",
                                   "-nodefaults",
                                   "-no-user-config",
                                   "-display",
                                   "none",
                                   "-no-reboot",
                                   "-serial",
                                   "file:" + log,
                                   "-kernel",
                                   info.kernel_path,
                                   "-initrd",
                                   info.initramfs_path,
                                   "-append",
                                   append};
  argv.insert(argv.end(), devices.begin(), devices.end());
  SpawnOptions o;
  o.argv = argv;
  auto qemu = ChildProcess::Spawn(o);
  if (!qemu) {
    *exited = false;
    return "cannot start qemu-system-x86_64: " + qemu.error().ToString();
  }
  // At most timeout_s for QEMU to exit; the ChildProcess kills and reaps it otherwise.
  *exited = static_cast<bool>(
      qemu->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s)));
  return Slurp(log);
}

TEST_F(ImagesThinixBuild, BootsUnderTcgRunsTrueAndPowersOff) {
  if (::access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
    GTEST_SKIP() << "qemu-system-x86_64 is not installed (ci/setup installs qemu-system-x86)";
  bool exited = false;
  auto t0 = std::chrono::steady_clock::now();
  std::string console = Boot(*info_, "silk.run=/bin/true", tmp_->path() + "/true.log", 60, &exited);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(exited) << "QEMU did not power off within 60 s; console:\n" << console;
  EXPECT_NE(console.find("thinix: exit 0"), std::string::npos) << console;
  std::cout << "TCG boot to power-off: " << secs << " s\n";
}

TEST_F(ImagesThinixBuild, WithoutAcpiTheGuestStillEnds) {
  // acpi=off turns power-off into a halt; /init reboots instead, -no-reboot ends QEMU.
  if (::access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
    GTEST_SKIP() << "qemu-system-x86_64 is not installed (ci/setup installs qemu-system-x86)";
  bool exited = false;
  std::string console = Boot(*info_, "acpi=off reboot=t silk.run=\"exit 3\"",
                             tmp_->path() + "/noacpi.log", 60, &exited);
  EXPECT_TRUE(exited) << "QEMU still running after 60 s; console:\n" << console;
  EXPECT_NE(console.find("thinix: exit 3"), std::string::npos) << console;
}

TEST_F(ImagesThinixBuild, GuestHasModulesCgroupsNetworkAndARunnableSilk) {
  if (::access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
    GTEST_SKIP() << "qemu-system-x86_64 is not installed (ci/setup installs qemu-system-x86)";
  std::string check =
      "silk.ip=10.0.2.15/24 silk.run=\"/bin/silk --version; "
      "cat /sys/fs/cgroup/cgroup.subtree_control; grep -c . /proc/modules; "
      "ip -o addr show dev eth0; ls -l /dev/virtio-ports/; grep '^tmpfs / ' /proc/mounts; exit 7\"";
  bool exited = false;
  // A NIC so that virtio_net has a device (user networking restricted to the guest: no
  // traffic leaves it), and a named virtio-serial port.
  std::string console =
      Boot(*info_, check, tmp_->path() + "/check.log", 60, &exited,
           {"-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0", "-device",
            "virtio-serial-pci", "-chardev", "null,id=c0", "-device",
            "virtserialport,chardev=c0,name=org.silk.test"});
  EXPECT_TRUE(exited) << console;
  EXPECT_NE(console.find("silk " SILK_VERSION), std::string::npos) << console;
  EXPECT_NE(console.find("memory"), std::string::npos) << console;
  EXPECT_NE(console.find("pids"), std::string::npos) << console;
  EXPECT_EQ(console.find("insmod"), std::string::npos) << console;
  EXPECT_NE(console.find("inet 10.0.2.15/24"), std::string::npos) << console;
  EXPECT_NE(console.find("org.silk.test -> ../vport"), std::string::npos) << console;
  // / is a tmpfs, not the kernel's rootfs, so boxes in the guest can pivot_root.
  EXPECT_NE(console.find("tmpfs / tmpfs"), std::string::npos) << console;
  EXPECT_NE(console.find("thinix: exit 7"), std::string::npos) << console;
}

}  // namespace
}  // namespace silk::images
