#include "base/strings.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace silk {
namespace {

TEST(Strings, ParseSize) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("64K"), 64u << 10);
  EXPECT_EQ(*ParseSize("256M"), 256u << 20);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1g"), 1ull << 30);
  EXPECT_FALSE(ParseSize(""));
  EXPECT_FALSE(ParseSize("12Q"));
  EXPECT_FALSE(ParseSize("M"));
  EXPECT_FALSE(ParseSize("99999999999999999999T"));
  EXPECT_NE(ParseSize("12Q").error().message().find("12Q"), std::string::npos);
}

TEST(Strings, SplitJoinTrim) {
  EXPECT_EQ(Split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(Trim("  x y \n"), "x y");
}

TEST(Strings, NearestWords) {
  std::vector<std::string> words = {"open", "openat", "openat2", "close", "read", "clone3"};
  auto near = NearestWords("opne", words);
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near[0], "open");
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_TRUE(NearestWords("zzzzzzzz", words).empty());
}

// The bounded search finds exactly what a full edit-distance search finds.
TEST(Strings, NearestWordsMatchesTheFullSearch) {
  std::vector<std::string> words = {"open",   "openat", "openat2", "close",    "read",
                                    "clone3", "write",  "writev",  "pread64",  "x",
                                    "",       "socket", "bind",    "mprotect", "madvise",
                                    "getpid", "kill",   "tkill",   "tgkill",   "rt_sigaction"};
  for (const auto& w :
       std::vector<std::string>{"opne", "wirte", "rt_sigactoin", "prctl", "clone", "kil", "a", "",
                                "sockett", "mpotect", "getppid", "tgkil", "readv"}) {
    size_t max_dist = std::max<size_t>(2, w.size() / 3);
    std::vector<std::pair<size_t, std::string>> scored;
    for (const auto& c : words) {
      size_t d = EditDistance(w, c);
      bool prefix = c.size() > w.size() && c.compare(0, w.size(), w) == 0;
      if (d <= max_dist || prefix) scored.emplace_back(prefix ? std::min(d, max_dist) : d, c);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::string> want;
    for (size_t i = 0; i < scored.size() && want.size() < 3; ++i) want.push_back(scored[i].second);
    EXPECT_EQ(NearestWords(w, words), want) << w;
  }
}

// A hostile name (a 1 MiB "syscall") gets no suggestion and costs nothing.
TEST(Strings, NearestWordsSkipsHugeWords) {
  std::vector<std::string> words = {"open", "read"};
  EXPECT_TRUE(NearestWords(std::string(1 << 20, 'o'), words).empty());
  EXPECT_TRUE(NearestWords(std::string(kMaxSuggestedWordLength + 1, 'o'), words).empty());
  EXPECT_EQ(DidYouMean("opne", words), "; did you mean 'open'?");
}

TEST(Strings, XmlEscape) {
  EXPECT_EQ(XmlEscape("a<b & 'c' \"d\">"), "a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;");
  EXPECT_EQ(XmlEscape(std::string("x\x01y\tz\n", 6)), "x y\tz\n");
  EXPECT_EQ(XmlEscape("plain"), "plain");
}

}  // namespace
}  // namespace silk

namespace silk {
namespace {

TEST(FormatSize, WholeUnitsElseBytes) {
  EXPECT_EQ(FormatSize(64ull << 20), "64 MiB");
  EXPECT_EQ(FormatSize(2ull << 30), "2 GiB");
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(4095), "4095 bytes");
  EXPECT_EQ(FormatSize(0), "0 bytes");
  EXPECT_EQ(*ParseSize("256M"), 256ull << 20);
  EXPECT_EQ(FormatSize(*ParseSize("256M")), "256 MiB");
}

}  // namespace
}  // namespace silk
