// Ed25519 keys and signatures, SHA-256, compression and the manifest format.
#include "images/internal/crypto.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "images/internal/compress.hpp"
#include "images/internal/manifest.hpp"
#include "tests/images/image_fixture.hpp"

namespace silk::images::internal {
namespace {

TEST(ImagesCrypto, Sha256OfKnownInput) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ImagesCrypto, HexRoundTripAndErrors) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*HexDecode("00ff10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(HexDecode("abc"));
  EXPECT_FALSE(HexDecode("zz"));
}

TEST(ImagesCrypto, KeyIsCreatedOnceWithMode0600AndReloaded) {
  auto dir = testing::MakeTempDir();
  std::string path = dir.path() + "/keys/sub/signing.pem";
  auto missing = LoadOrCreatePrivateKey(path, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto key = LoadOrCreatePrivateKey(path, true);
  ASSERT_TRUE(key) << key.error().ToString();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The key's directory is private; new parents stay traversable (QEMU, running as
  // another user, reads images next to the keys).
  ASSERT_EQ(::stat((dir.path() + "/keys/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir.path() + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  auto again = LoadOrCreatePrivateKey(path, true);
  ASSERT_TRUE(again);
  EXPECT_EQ(*KeyFingerprint(key->get()), *KeyFingerprint(again->get()));
}

TEST(ImagesCrypto, SignVerifyAndRefuseChangedMessageOrOtherKey) {
  auto dir = testing::MakeTempDir();
  auto key = LoadOrCreatePrivateKey(dir.path() + "/a.pem", true);
  auto other = LoadOrCreatePrivateKey(dir.path() + "/b.pem", true);
  ASSERT_TRUE(key && other);
  auto sig = Sign(key->get(), "manifest bytes");
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_EQ(*sig, *Sign(key->get(), "manifest bytes"));  // Ed25519 is deterministic
  auto pub = ParsePublicKey(*PublicKeyPem(key->get()), "test");
  ASSERT_TRUE(pub) << pub.error().ToString();
  EXPECT_TRUE(Verify(pub->get(), "manifest bytes", *sig));
  auto changed = Verify(pub->get(), "manifest bytez", *sig);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code(), ErrorCode::kDenied);
  EXPECT_FALSE(Verify(other->get(), "manifest bytes", *sig));
}

TEST(ImagesCrypto, RejectsNonEd25519AndGarbageKeys) {
  auto dir = testing::MakeTempDir();
  testing::Spit(dir.path() + "/junk.pem", "not a key\n");
  auto r = LoadOrCreatePrivateKey(dir.path() + "/junk.pem", true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("junk.pem"), std::string::npos);
  EXPECT_FALSE(ParsePublicKey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "x"));
}

TEST(ImagesCompress, BothFormatsRoundTripDeterministically) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += std::to_string(i * 7919 % 1000);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    auto a = Compress(data, c);
    auto b = Compress(data, c);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b) << CompressionName(c);
    EXPECT_LT(a->size(), data.size());
    auto back = Decompress(*a);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, data);
    auto truncated = Decompress(a->substr(0, a->size() / 2));
    EXPECT_FALSE(truncated) << CompressionName(c);
  }
  EXPECT_FALSE(Decompress("plain text"));
  EXPECT_FALSE(ParseCompression("xz"));
}

TEST(ImagesManifest, RoundTripsAndRejectsUnknownOrBadFields) {
  Manifest m;
  m.cmdline = "console=ttyS0";
  m.kernel = {"6.1.0-test", "vmlinuz", std::string(64, 'a'), 10};
  m.initramfs.compression = "gzip";
  m.initramfs.sha256 = std::string(64, 'b');
  m.initramfs.size = 5;
  m.initramfs.files.push_back({"bin/x", "file", 0755, 3, std::string(64, 'c'), "", ""});
  m.initramfs.files.push_back({"bin/y", "symlink", 0777, 0, "", "x", ""});
  std::string json = ManifestToJson(m);
  auto back = ParseManifest(json);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(ManifestToJson(*back), json);

  std::string unknown = json;
  unknown.insert(unknown.find("\"name\""), "\"extra\": 1,\n  ");
  auto r = ParseManifest(unknown);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("manifest.json: extra: unknown field 'extra' in manifest"),
            std::string::npos);

  std::string bad_sha = json;
  bad_sha.replace(bad_sha.find(std::string(64, 'c')), 64, "xyz");
  auto r2 = ParseManifest(bad_sha);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("files[0].sha256"), std::string::npos);
  EXPECT_FALSE(ParseManifest("{"));
}

}  // namespace
}  // namespace silk::images::internal
