#include "policy/filter_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.hpp"

namespace silk::policy {
namespace {

class FilterCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/silk-filter-cache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

Profile Small() {
  Profile p;
  p.default_action = Action::kErrno;
  p.architectures = {"SCMP_ARCH_X86_64"};
  SyscallRule r;
  r.names = {"read", "write", "exit_group"};
  p.syscalls.push_back(r);
  return p;
}

TEST_F(FilterCacheTest, MissThenHitThenRebuildsCorruptEntries) {
  FilterCache cache(dir_ + "/sub");
  bool hit = true;
  auto first = cache.Get(Small(), {}, &hit);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(hit);
  auto second = cache.Get(Small(), {}, &hit);
  ASSERT_TRUE(second);
  EXPECT_TRUE(hit);
  ASSERT_EQ(first->program.size(), second->program.size());
  EXPECT_EQ(0, memcmp(first->program.data(), second->program.data(),
                      first->program.size() * sizeof(sock_filter)));
  EXPECT_EQ(first->arches, second->arches);

  // Other options, other entry.
  EXPECT_NE(cache.EntryPath(Small(), {}), cache.EntryPath(Small(), {.notify_denials = true}));
  Profile other = Small();
  other.syscalls[0].names.push_back("getpid");
  EXPECT_NE(cache.EntryPath(Small(), {}), cache.EntryPath(other, {}));

  // Corrupt the entry: flipped byte, then truncation. Both are rebuilt.
  std::string path = cache.EntryPath(Small(), {});
  std::string data = ReadFile(path).value();
  data[data.size() / 2] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomic(path, data));
  auto third = cache.Get(Small(), {}, &hit);
  ASSERT_TRUE(third);
  EXPECT_FALSE(hit);
  EXPECT_EQ(third->program.size(), first->program.size());
  ASSERT_TRUE(WriteFileAtomic(path, data.substr(0, 20)));
  ASSERT_TRUE(cache.Get(Small(), {}, &hit));
  EXPECT_FALSE(hit);
  ASSERT_TRUE(cache.Get(Small(), {}, &hit));
  EXPECT_TRUE(hit);
}

TEST_F(FilterCacheTest, InputsKeyHitsWithoutMakingTheProfile) {
  FilterCache cache(dir_);
  int made = 0;
  auto make = [&made]() -> Result<Profile> {
    ++made;
    return Small();
  };
  bool hit = true;
  auto first = cache.GetByInputs("profile bytes A", {}, make, &hit);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(hit);
  EXPECT_EQ(made, 1);
  auto second = cache.GetByInputs("profile bytes A", {}, make, &hit);
  ASSERT_TRUE(second);
  EXPECT_TRUE(hit);
  EXPECT_EQ(made, 1);  // a hit does not make the resolved profile
  EXPECT_EQ(first->program.size(), second->program.size());

  // Other inputs or options, other entries; the resolved-profile key is another still.
  EXPECT_NE(cache.InputsEntryPath("profile bytes A", {}),
            cache.InputsEntryPath("profile bytes B", {}));
  EXPECT_NE(cache.InputsEntryPath("profile bytes A", {}),
            cache.InputsEntryPath("profile bytes A", {.notify_denials = true}));
  EXPECT_NE(cache.InputsEntryPath("profile bytes A", {}), cache.EntryPath(Small(), {}));
  ASSERT_TRUE(cache.GetByInputs("profile bytes B", {}, make, &hit));
  EXPECT_FALSE(hit);
  EXPECT_EQ(made, 2);

  // A corrupt entry is rebuilt; an error of make_resolved is returned.
  std::string path = cache.InputsEntryPath("profile bytes A", {});
  std::string data = ReadFile(path).value();
  data[data.size() / 2] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomic(path, data));
  ASSERT_TRUE(cache.GetByInputs("profile bytes A", {}, make, &hit));
  EXPECT_FALSE(hit);
  EXPECT_EQ(made, 3);
  auto failed = cache.GetByInputs("profile bytes C", {}, []() -> Result<Profile> {
    return Fail(ErrorCode::kInvalidInput, "bad profile");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kInvalidInput);
}

TEST_F(FilterCacheTest, UnwritableDirectoryStillCompiles) {
  FilterCache cache("/proc/silk-no-such-dir");
  bool hit = true;
  auto f = cache.Get(Small(), {}, &hit);
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_FALSE(hit);
}

}  // namespace
}  // namespace silk::policy
