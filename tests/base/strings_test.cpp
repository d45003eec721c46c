#include "base/strings.hpp"

#include <gtest/gtest.h>

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

TEST(Strings, XmlEscape) {
  EXPECT_EQ(XmlEscape("a<b & 'c' \"d\">"), "a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;");
  EXPECT_EQ(XmlEscape(std::string("x\x01y\tz\n", 6)), "x y\tz\n");
  EXPECT_EQ(XmlEscape("plain"), "plain");
}

}  // namespace
}  // namespace silk
