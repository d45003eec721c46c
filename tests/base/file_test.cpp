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

}  // namespace
}  // namespace silk
