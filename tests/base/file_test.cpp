#include "base/file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace silk {
namespace {

TEST(File, AtomicWriteThenRead) {
  char dir[] = "/tmp/silk-file-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "hello"));
  EXPECT_EQ(*ReadFile(path), "hello");
  ASSERT_TRUE(WriteFileAtomic(path, "world", 0600));
  EXPECT_EQ(*ReadFile(path), "world");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Only the file itself, no temporaries.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  auto missing = ReadFile(std::string(dir) + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(WriteFileAtomic(std::string(dir) + "/no/such/dir/f", "x"));
  std::filesystem::remove_all(dir);
}

// `--out /dev/null` once turned the host's /dev/null into a regular file (rename over
// it); special files are written in place. A fifo stands in for the device here.
TEST(File, AtomicWriteToASpecialFileWritesInPlace) {
  char dir[] = "/tmp/silk-file-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string fifo = std::string(dir) + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(WriteFileAtomic(fifo, "through"));
  char buf[16] = {};
  EXPECT_EQ(read(reader, buf, sizeof buf), 7);
  EXPECT_STREQ(buf, "through");
  close(reader);
  struct stat st;
  ASSERT_EQ(stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  auto on_dir = WriteFileAtomic(dir, "x");
  ASSERT_FALSE(on_dir);
  EXPECT_NE(on_dir.error().message().find("is a directory"), std::string::npos);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  std::filesystem::remove_all(dir);
}

// User input is read from regular files only, and never more than the limit: a FIFO
// fails at once instead of blocking in open(), /dev/zero fails instead of filling memory.
TEST(File, ReadRegularFileRefusesSpecialFiles) {
  char dir[] = "/tmp/silk-file-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string fifo = std::string(dir) + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = ReadRegularFile(fifo);
  ASSERT_FALSE(from_fifo);
  EXPECT_EQ(from_fifo.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(from_fifo.error().message(), fifo + " is a FIFO; expected a regular file");
  for (const char* dev : {"/dev/zero", "/dev/urandom", "/dev/null"}) {
    auto r = ReadRegularFile(dev);
    ASSERT_FALSE(r) << dev;
    EXPECT_EQ(r.error().message(),
              std::string(dev) + " is a character device; expected a regular file");
  }
  auto from_dir = ReadRegularFile(dir);
  ASSERT_FALSE(from_dir);
  EXPECT_NE(from_dir.error().message().find("is a directory"), std::string::npos);
  auto missing = ReadRegularFile(std::string(dir) + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(File, ReadRegularFileStopsAtTheLimit) {
  char dir[] = "/tmp/silk-file-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, std::string(4096, 'x')));
  EXPECT_EQ(ReadRegularFile(path, 4096)->size(), 4096u);
  auto big = ReadRegularFile(path, 4095);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(big.error().message().find(path + " is larger than 4095 bytes"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(path, std::string((2 << 20) + 1, 'x')));
  auto mib = ReadRegularFile(path, 2 << 20);
  ASSERT_FALSE(mib);
  EXPECT_NE(mib.error().message().find("is larger than 2 MiB"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(path, ""));
  EXPECT_EQ(*ReadRegularFile(path), "");
  std::filesystem::remove_all(dir);
}

// /proc files are regular files whose size is 0 until read; the reader must not trust
// st_size.
TEST(File, ReadRegularFileReadsProcFiles) {
  auto status = ReadRegularFile("/proc/self/status");
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_NE(status->find("Pid:"), std::string::npos);
}

}  // namespace
}  // namespace silk
