// Hermetic image builds (a synthetic kernel, /bin/true as the silk binary, a temporary
// key) and VerifyImage: every component's tampering is refused and named.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>

#include "images/build.hpp"
#include "images/image.hpp"
#include "images/internal/compress.hpp"
#include "images/internal/cpio.hpp"
#include "images/internal/crypto.hpp"
#include "tests/images/image_fixture.hpp"

namespace silk::images {
namespace {

using testing::Slurp;
using testing::Spit;

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

class ImagesVerify : public ::testing::Test {
 protected:
  // One hermetic build for the suite; each test gets a copy (same key, same bytes).
  static void SetUpTestSuite() {
    shared_ = new internal::TempDir(testing::MakeTempDir());
    auto info = BuildThinix(testing::HermeticOptions(shared_->path()));
    if (!info) shared_error_ = info.error().ToString();
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(shared_error_.empty()) << shared_error_;
    options_ = testing::HermeticOptions(tmp_.path());
    ASSERT_EQ(::mkdir(options_.out_dir.c_str(), 0755), 0);
    Spit(options_.key_path, Slurp(shared_->path() + "/key.pem"));
    for (const char* f :
         {"vmlinuz", "initramfs.img", "manifest.json", "manifest.sig", "signing.pub"})
      Spit(options_.out_dir + "/" + f, Slurp(shared_->path() + "/image/" + f));
    image_ = options_.out_dir;
    auto info = VerifyImage(image_);
    ASSERT_TRUE(info) << info.error().ToString();
    info_ = *info;
  }

  // Rewrites initramfs.img after `edit` changed its entries (same compression).
  void RepackInitramfs(const std::function<void(std::vector<internal::CpioEntry>&)>& edit) {
    auto raw = internal::Decompress(Slurp(image_ + "/initramfs.img"));
    ASSERT_TRUE(raw);
    auto entries = internal::ParseCpio(*raw);
    ASSERT_TRUE(entries);
    edit(*entries);
    internal::CpioWriter w;
    for (const auto& e : *entries) {
      switch (e.type) {
        case internal::CpioType::kDirectory:
          ASSERT_TRUE(w.AddDirectory(e.path, e.mode));
          break;
        case internal::CpioType::kFile:
          ASSERT_TRUE(w.AddFile(e.path, e.data, e.mode));
          break;
        case internal::CpioType::kSymlink:
          ASSERT_TRUE(w.AddSymlink(e.path, e.data));
          break;
        case internal::CpioType::kCharDevice:
          ASSERT_TRUE(w.AddCharDevice(e.path, e.mode, e.rdev_major, e.rdev_minor));
          break;
      }
    }
    Spit(image_ + "/initramfs.img", *internal::Compress(w.Finish(), internal::Compression::kGzip));
  }

  void ExpectRefused(const std::string& component_text) {
    auto r = VerifyImage(image_);
    ASSERT_FALSE(r) << "tampered image verified";
    EXPECT_EQ(r.error().code(), ErrorCode::kDenied) << r.error().ToString();
    EXPECT_NE(r.error().ToString().find(component_text), std::string::npos) << r.error().ToString();
  }

  static internal::TempDir* shared_;
  static std::string shared_error_;
  internal::TempDir tmp_ = testing::MakeTempDir();
  BuildOptions options_;
  ImageInfo info_;
  std::string image_;
};

internal::TempDir* ImagesVerify::shared_ = nullptr;
std::string ImagesVerify::shared_error_;

TEST_F(ImagesVerify, BuildProducesTheLayoutAndVerifies) {
  EXPECT_EQ(ListDir(image_), (std::vector<std::string>{"initramfs.img", "manifest.json",
                                                       "manifest.sig", "signing.pub", "vmlinuz"}));
  EXPECT_EQ(info_.kernel_version, "6.1.0-test");
  EXPECT_EQ(info_.compression, "gzip");
  EXPECT_EQ(info_.cmdline, "console=ttyS0 panic=-1 quiet");
  EXPECT_GT(info_.file_count, 250u);  // busybox applet links, libraries, skeleton
  auto again = VerifyImage(image_);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->initramfs_sha256, info_.initramfs_sha256);
  // Nothing left next to the image.
  EXPECT_EQ(ListDir(tmp_.path()), (std::vector<std::string>{"image", "key.pem", "vmlinuz-fake"}));
}

TEST_F(ImagesVerify, InitramfsHoldsInitBusyboxSilkAndItsLibraries) {
  auto raw = internal::Decompress(Slurp(image_ + "/initramfs.img"));
  ASSERT_TRUE(raw);
  auto entries = internal::ParseCpio(*raw);
  ASSERT_TRUE(entries);
  std::map<std::string, internal::CpioEntry> by_path;
  for (auto& e : *entries) by_path[e.path] = e;
  for (const char* p : {"init", "bin/busybox", "bin/silk", "lib/x86_64-linux-gnu/libc.so.6",
                        "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "etc/thinix/modules"})
    EXPECT_EQ(by_path.count(p), 1u) << p;
  EXPECT_EQ(by_path["bin/sh"].data, "/bin/busybox");
  EXPECT_EQ(by_path["lib64/ld-linux-x86-64.so.2"].data,
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  EXPECT_EQ(by_path["dev/console"].type, internal::CpioType::kCharDevice);
  EXPECT_EQ(by_path["init"].mode, 0755u);
  EXPECT_EQ(by_path["etc/thinix/modules"].data, "");  // a vmlinuz without --modules
  EXPECT_EQ(by_path["bin/silk"].data.substr(0, 4),
            "\x7f"
            "ELF");
  // No host paths leak into the manifest.
  std::string manifest = Slurp(image_ + "/manifest.json");
  EXPECT_EQ(manifest.find(tmp_.path()), std::string::npos);
  EXPECT_EQ(manifest.find("/bin/true"), std::string::npos);
}

TEST_F(ImagesVerify, SameInputsGiveByteIdenticalImages) {
  BuildOptions second = options_;
  second.out_dir = tmp_.path() + "/image2";
  ASSERT_TRUE(BuildThinix(second));
  for (const char* f : {"vmlinuz", "initramfs.img", "manifest.json", "manifest.sig", "signing.pub"})
    EXPECT_EQ(Slurp(image_ + "/" + f), Slurp(second.out_dir + "/" + f)) << f;
}

TEST_F(ImagesVerify, RebuildReplacesTheImageAtomically) {
  options_.compression = "zstd";
  auto info = BuildThinix(options_);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->compression, "zstd");
  EXPECT_EQ(ListDir(tmp_.path()), (std::vector<std::string>{"image", "key.pem", "vmlinuz-fake"}));
}

TEST_F(ImagesVerify, TamperedKernelIsRefused) {
  std::string k = Slurp(image_ + "/vmlinuz");
  k[k.size() / 2] ^= 1;
  Spit(image_ + "/vmlinuz", k);
  ExpectRefused("component kernel (vmlinuz) changed");
}

TEST_F(ImagesVerify, ChangedFileInsideInitramfsIsNamed) {
  RepackInitramfs([](auto& entries) {
    for (auto& e : entries)
      if (e.path == "bin/busybox") e.data[1000] ^= 1;
  });
  ExpectRefused("component initramfs file bin/busybox changed");
}

TEST_F(ImagesVerify, ChangedInitScriptIsNamed) {
  RepackInitramfs([](auto& entries) {
    for (auto& e : entries)
      if (e.path == "init") e.data += "echo pwned\n";
  });
  ExpectRefused("component initramfs file init changed: size");
}

TEST_F(ImagesVerify, AddedAndRemovedFilesAreNamed) {
  RepackInitramfs([](auto& entries) {
    entries.push_back({"bin/backdoor", internal::CpioType::kFile, 0755, "x", 0, 0});
  });
  ExpectRefused(
      "component initramfs file bin/backdoor changed: it is in initramfs.img but not in the "
      "manifest");
  RepackInitramfs([](auto& entries) {
    std::erase_if(entries,
                  [](const auto& e) { return e.path == "bin/backdoor" || e.path == "bin/silk"; });
  });
  ExpectRefused("component initramfs file bin/silk changed: it is missing");
}

TEST_F(ImagesVerify, CorruptInitramfsIsRefused) {
  std::string img = Slurp(image_ + "/initramfs.img");
  img.resize(img.size() - 100);
  Spit(image_ + "/initramfs.img", img);
  ExpectRefused("component initramfs (initramfs.img) changed");
}

TEST_F(ImagesVerify, EditedManifestIsRefused) {
  std::string m = Slurp(image_ + "/manifest.json");
  m.replace(m.find("panic=-1"), 8, "panic=10");
  Spit(image_ + "/manifest.json", m);
  ExpectRefused("component manifest (manifest.json) or its signature changed");
}

TEST_F(ImagesVerify, ResignedWithAnotherKeyIsRefusedUnderTheTrustedKey) {
  // An attacker rebuilds with their own key (and ships their signing.pub): only a
  // caller that pins the trusted key notices.
  std::string trusted_pub = tmp_.path() + "/trusted.pub";
  Spit(trusted_pub, Slurp(image_ + "/signing.pub"));
  BuildOptions evil = options_;
  evil.key_path = tmp_.path() + "/evil.pem";
  ASSERT_TRUE(BuildThinix(evil));
  EXPECT_TRUE(VerifyImage(image_));  // self-consistent
  auto r = VerifyImage(image_, trusted_pub);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDenied);
  EXPECT_NE(r.error().ToString().find("does not verify under " + trusted_pub), std::string::npos);
}

TEST_F(ImagesVerify, DeepCheckComparesEveryFileEvenWhenTheArchiveMatches) {
  // A signer's manifest whose file list disagrees with its own archive: the archive
  // hash matches, so only the deep check (which unpacks) can see it.
  std::string m = Slurp(image_ + "/manifest.json");
  auto raw = internal::Decompress(Slurp(image_ + "/initramfs.img"));
  ASSERT_TRUE(raw);
  auto entries = internal::ParseCpio(*raw);
  ASSERT_TRUE(entries);
  for (const auto& e : *entries) {
    if (e.path != "init") continue;
    std::string sha = internal::Sha256Hex(e.data);
    m.replace(m.find(sha), sha.size(), std::string(64, '0'));
  }
  Spit(image_ + "/manifest.json", m);
  auto key = internal::LoadOrCreatePrivateKey(options_.key_path, false);
  ASSERT_TRUE(key);
  Spit(image_ + "/manifest.sig", internal::HexEncode(*internal::Sign(key->get(), m)) + "\n");
  EXPECT_TRUE(VerifyImage(image_));
  auto deep = VerifyImage(image_, "", /*deep=*/true);
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message().find("component initramfs file init changed"), std::string::npos)
      << deep.error().ToString();
}

TEST_F(ImagesVerify, MissingComponentIsNotFound) {
  ASSERT_EQ(::unlink((image_ + "/manifest.sig").c_str()), 0);
  auto r = VerifyImage(image_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("manifest.sig"), std::string::npos);
  auto none = VerifyImage(tmp_.path() + "/nope");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

class ImagesBadInput : public ::testing::Test {
 protected:
  void ExpectFailsCleanly(const BuildOptions& o, ErrorCode code, const std::string& text) {
    auto r = BuildThinix(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), code) << r.error().ToString();
    EXPECT_NE(r.error().ToString().find(text), std::string::npos) << r.error().ToString();
    // Nothing left behind: no image, no OUT.tmp-* staging directory.
    for (const auto& name : ListDir(tmp_.path()))
      EXPECT_TRUE(name != "image" && name.find(".tmp-") == std::string::npos) << name;
  }
  internal::TempDir tmp_ = testing::MakeTempDir();
  BuildOptions options_ = testing::HermeticOptions(tmp_.path());
};

TEST_F(ImagesBadInput, MissingKernel) {
  options_.kernel = tmp_.path() + "/no-such-vmlinuz";
  ExpectFailsCleanly(options_, ErrorCode::kNotFound, "no-such-vmlinuz");
}

TEST_F(ImagesBadInput, CorruptKernel) {
  Spit(options_.kernel, std::string(8192, '\x55'));
  ExpectFailsCleanly(options_, ErrorCode::kInvalidInput, "not a Linux bzImage");
}

TEST_F(ImagesBadInput, CorruptDeb) {
  options_.kernel = tmp_.path() + "/linux-image-broken.deb";
  Spit(options_.kernel, "!<arch>\ngarbage");
  ExpectFailsCleanly(options_, ErrorCode::kInvalidInput, "missing or corrupt .deb");
}

TEST_F(ImagesBadInput, ModulesOfAnotherRelease) {
  std::string mods = tmp_.path() + "/6.1.0-other";
  ASSERT_EQ(::mkdir(mods.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((mods + "/kernel").c_str(), 0755), 0);
  options_.modules_dir = mods;
  ExpectFailsCleanly(options_, ErrorCode::kInvalidInput, "is for kernel 6.1.0-other");
}

TEST_F(ImagesBadInput, MissingSilkBinaryAndKey) {
  options_.silk_binary = tmp_.path() + "/no-silk";
  ExpectFailsCleanly(options_, ErrorCode::kNotFound, "no-silk");
  options_ = testing::HermeticOptions(tmp_.path());
  options_.key_path = tmp_.path() + "/absent.pem";
  options_.create_key = false;
  ExpectFailsCleanly(options_, ErrorCode::kNotFound, "absent.pem");
}

TEST_F(ImagesBadInput, OutputDirectoryThatIsNotAnImageIsNotReplaced) {
  std::string out = tmp_.path() + "/data";
  ASSERT_EQ(::mkdir(out.c_str(), 0755), 0);
  Spit(out + "/precious", "keep me");
  options_.out_dir = out;
  auto r = BuildThinix(options_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is not a thinix image"), std::string::npos);
  EXPECT_EQ(Slurp(out + "/precious"), "keep me");
}

}  // namespace
}  // namespace silk::images
