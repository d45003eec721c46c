// The box's compiled filter from policy's on-disk cache, keyed on the profile's bytes and
// the resolve options (compat/internal/filter.hpp): a hit neither parses nor resolves,
// a changed byte or option is another entry, the effective policy is made only when asked.
#include "compat/internal/filter.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>

#include "base/file.hpp"
#include "compat/box_spec.hpp"
#include "policy/builtin.hpp"

namespace silk::compat::internal {
namespace {

class BoxFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/silk-box-filter-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    cache_ = dir_ + "/cache";
    profile_ = dir_ + "/p.json";
    text_ = std::string(*policy::BuiltinProfileText("gen0-sliver"));
    ASSERT_TRUE(WriteFileAtomic(profile_, text_));
    spec_.profile = profile_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  size_t Entries() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(cache_)) n += e.is_regular_file();
    return n;
  }
  static bool SameProgram(const BoxFilter& a, const BoxFilter& b) {
    return a.compiled.program.size() == b.compiled.program.size() &&
           std::memcmp(a.compiled.program.data(), b.compiled.program.data(),
                       a.compiled.program.size() * sizeof(sock_filter)) == 0;
  }

  std::string dir_, cache_, profile_, text_;
  BoxSpec spec_;
};

TEST_F(BoxFilterTest, AHitNeitherParsesNorResolves) {
  uint64_t parses = BoxProfileParses();
  auto first = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(BoxProfileParses(), parses + 1);  // a miss: parsed, resolved, compiled
  EXPECT_EQ(Entries(), 1u);

  parses = BoxProfileParses();
  auto second = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(BoxProfileParses(), parses);  // a hit: the bytes and one entry, no parse
  EXPECT_TRUE(SameProgram(**first, **second));

  // The same bytes under another name are the same filter.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/q.json", text_));
  BoxSpec other = spec_;
  other.profile = dir_ + "/q.json";
  ASSERT_TRUE(LoadBoxFilter(other, "", cache_));
  EXPECT_EQ(BoxProfileParses(), parses);
  EXPECT_EQ(Entries(), 1u);
}

TEST_F(BoxFilterTest, TheEffectivePolicyIsMadeOnlyWhenAskedFromTheKeyedBytes) {
  ASSERT_TRUE(LoadBoxFilter(spec_, "", cache_));
  auto hit = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(hit);
  // The file changes after the filter was loaded: the effective policy is still the one
  // of the bytes the filter was keyed on.
  ASSERT_TRUE(WriteFileAtomic(profile_, "{ not json"));
  uint64_t parses = BoxProfileParses();
  const auto* effective = (*hit)->Effective();
  ASSERT_NE(effective, nullptr);
  EXPECT_EQ(BoxProfileParses(), parses + 1);
  ASSERT_FALSE(effective->empty());
  EXPECT_EQ(effective->front().arch, "SCMP_ARCH_X86_64");
  EXPECT_EQ((*hit)->Effective(), effective);  // once
  EXPECT_EQ(BoxProfileParses(), parses + 1);
}

TEST_F(BoxFilterTest, AChangedByteOrOptionIsAnotherEntry) {
  auto first = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(first);
  // One byte more (whitespace: the same profile once parsed) is another key: a miss.
  ASSERT_TRUE(WriteFileAtomic(profile_, text_ + " "));
  uint64_t parses = BoxProfileParses();
  auto changed = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(BoxProfileParses(), parses + 1);
  EXPECT_EQ(Entries(), 2u);
  EXPECT_TRUE(SameProgram(**first, **changed));

  // A changed rule: another entry and another program.
  std::string denied = text_;
  size_t at = denied.find("\"getpid\",");
  ASSERT_NE(at, std::string::npos);
  denied.erase(at, 9);
  ASSERT_TRUE(WriteFileAtomic(profile_, denied));
  auto rule = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(rule) << rule.error().ToString();
  EXPECT_EQ(Entries(), 3u);
  EXPECT_FALSE(SameProgram(**first, **rule));

  // The options: report_denials, granted capabilities, raw sockets.
  ASSERT_TRUE(WriteFileAtomic(profile_, text_));
  BoxSpec notify = spec_;
  notify.report_denials = true;
  parses = BoxProfileParses();
  ASSERT_TRUE(LoadBoxFilter(notify, "", cache_));
  BoxSpec caps = spec_;
  caps.capabilities = {"CAP_SYS_CHROOT"};
  ASSERT_TRUE(LoadBoxFilter(caps, "", cache_));
  EXPECT_EQ(BoxProfileParses(), parses + 2);
  EXPECT_EQ(Entries(), 5u);

  // A corrupt entry is rebuilt, never used.
  for (const auto& e : std::filesystem::directory_iterator(cache_)) {
    std::string data = ReadFile(e.path()).value();
    data[data.size() / 2] ^= 0x5a;
    ASSERT_TRUE(WriteFileAtomic(e.path(), data));
  }
  parses = BoxProfileParses();
  auto rebuilt = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(BoxProfileParses(), parses + 1);
  EXPECT_TRUE(SameProgram(**first, **rebuilt));
}

TEST_F(BoxFilterTest, BuiltInProfilesAreKeyedOnTheirEmbeddedText) {
  spec_.profile = "gen0-sliver";
  ASSERT_TRUE(LoadBoxFilter(spec_, "", cache_));
  uint64_t parses = BoxProfileParses();
  auto hit = LoadBoxFilter(spec_, "", cache_);
  ASSERT_TRUE(hit);
  EXPECT_EQ(BoxProfileParses(), parses);
  // A file with the built-in's bytes is the same filter.
  spec_.profile = profile_;
  ASSERT_TRUE(LoadBoxFilter(spec_, "", cache_));
  EXPECT_EQ(BoxProfileParses(), parses);
  EXPECT_EQ(Entries(), 1u);
  // An unknown profile is named, as before.
  spec_.profile = "no-such-profile";
  auto missing = LoadBoxFilter(spec_, "", cache_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().ToString().find("no-such-profile"), std::string::npos);
}

}  // namespace
}  // namespace silk::compat::internal
