#include "base/file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

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

}  // namespace
}  // namespace silk
