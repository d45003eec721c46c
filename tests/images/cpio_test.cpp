// The cpio newc writer: round trip through the reader, determinism, layout details the
// kernel relies on, and malformed archives.
#include "images/internal/cpio.hpp"

#include <gtest/gtest.h>

namespace silk::images::internal {
namespace {

TEST(ImagesCpio, RoundTripParsesBackWhatWasWritten) {
  CpioWriter w;
  ASSERT_TRUE(w.AddFile("bin/busybox",
                        std::string("\x7f"
                                    "ELF\0binary",
                                    11),
                        0755));
  ASSERT_TRUE(w.AddSymlink("bin/sh", "/bin/busybox"));
  ASSERT_TRUE(w.AddCharDevice("dev/console", 0600, 5, 1));
  ASSERT_TRUE(w.AddDirectory("tmp", 01777));
  ASSERT_TRUE(w.AddFile("init", "#!/bin/sh\n", 0755));
  ASSERT_TRUE(w.AddFile("empty", "", 0644));
  auto parsed = ParseCpio(w.Finish());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  std::vector<std::string> paths;
  for (const auto& e : *parsed) paths.push_back(e.path);
  // Sorted, with the implicit parents before their children.
  EXPECT_EQ(paths, (std::vector<std::string>{"bin", "bin/busybox", "bin/sh", "dev", "dev/console",
                                             "empty", "init", "tmp"}));
  const auto& busybox = (*parsed)[1];
  EXPECT_EQ(busybox.type, CpioType::kFile);
  EXPECT_EQ(busybox.mode, 0755u);
  EXPECT_EQ(busybox.data, std::string("\x7f"
                                      "ELF\0binary",
                                      11));
  EXPECT_EQ((*parsed)[2].type, CpioType::kSymlink);
  EXPECT_EQ((*parsed)[2].data, "/bin/busybox");
  EXPECT_EQ((*parsed)[4].type, CpioType::kCharDevice);
  EXPECT_EQ((*parsed)[4].rdev_major, 5u);
  EXPECT_EQ((*parsed)[4].rdev_minor, 1u);
  EXPECT_EQ((*parsed)[5].data, "");
  EXPECT_EQ((*parsed)[7].mode, 01777u);
  EXPECT_EQ((*parsed)[0].type, CpioType::kDirectory);
  EXPECT_EQ((*parsed)[0].mode, 0755u);
}

TEST(ImagesCpio, SameEntriesInAnyOrderGiveTheSameBytes) {
  CpioWriter a, b;
  ASSERT_TRUE(a.AddFile("z", "1", 0644));
  ASSERT_TRUE(a.AddFile("a/b", "2", 0644));
  ASSERT_TRUE(b.AddFile("a/b", "2", 0644));
  ASSERT_TRUE(b.AddFile("z", "1", 0644));
  EXPECT_EQ(a.Finish(), b.Finish());
}

TEST(ImagesCpio, HeaderHasZeroMtimeOwnersAndFourByteAlignment) {
  CpioWriter w;
  ASSERT_TRUE(w.AddFile("abc", "hello", 0644));
  std::string a = w.Finish();
  ASSERT_EQ(a.compare(0, 6, "070701"), 0);
  // Fields: ino mode uid gid nlink mtime filesize ...
  EXPECT_EQ(a.substr(6 + 8 * 2, 8), "00000000");  // uid
  EXPECT_EQ(a.substr(6 + 8 * 3, 8), "00000000");  // gid
  EXPECT_EQ(a.substr(6 + 8 * 5, 8), "00000000");  // mtime
  EXPECT_EQ(a.substr(6 + 8 * 6, 8), "00000005");  // filesize
  EXPECT_EQ(a.substr(6 + 8 * 1, 8), "000081A4");  // S_IFREG | 0644
  EXPECT_EQ(a.size() % 4, 0u);
  // 110-byte header + "abc\0" = 114 -> padded to 116; data at 116.
  EXPECT_EQ(a.substr(116, 5), "hello");
  EXPECT_NE(a.find("TRAILER!!!"), std::string::npos);
}

TEST(ImagesCpio, RejectsBadPaths) {
  CpioWriter w;
  EXPECT_FALSE(w.AddFile("", "x", 0644));
  EXPECT_FALSE(w.AddFile("/abs", "x", 0644));
  EXPECT_FALSE(w.AddFile("a/../b", "x", 0644));
  EXPECT_FALSE(w.AddFile("dir/", "x", 0644));
  ASSERT_TRUE(w.AddFile("f", "x", 0644));
  auto r = w.AddFile("f/child", "x", 0644);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a directory"), std::string::npos);
}

TEST(ImagesCpio, ParseRejectsMalformedArchivesNamingTheOffset) {
  CpioWriter w;
  ASSERT_TRUE(w.AddFile("file", std::string(100, 'x'), 0644));
  std::string good = w.Finish();
  auto no_trailer = ParseCpio(good.substr(0, good.size() - 124));
  ASSERT_FALSE(no_trailer);
  EXPECT_EQ(no_trailer.error().code(), ErrorCode::kInvalidInput);
  auto truncated = ParseCpio(good.substr(0, 150));
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message().find("truncated"), std::string::npos);
  std::string bad_magic = good;
  bad_magic[0] = '1';
  auto r = ParseCpio(bad_magic);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("byte offset 0"), std::string::npos);
  std::string bad_hex = good;
  bad_hex[20] = 'g';
  EXPECT_FALSE(ParseCpio(bad_hex));
}

}  // namespace
}  // namespace silk::images::internal
