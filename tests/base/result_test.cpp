#include "base/result.hpp"

#include <gtest/gtest.h>

namespace silk {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Fail(ErrorCode::kInvalidInput, std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  int h = SILK_TRY(WithContext(Half(x), "first half"));
  return SILK_TRY(Half(h));
}

Result<void> Check(int x) {
  SILK_TRY(Half(x));
  return {};
}

TEST(Result, TryPropagatesValuesAndErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(r.error().ToString(), "3 is odd");
  auto r2 = Quarter(5);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().ToString(), "first half: 5 is odd");
  EXPECT_TRUE(Check(2));
  EXPECT_FALSE(Check(3));
}

TEST(Result, ErrnoIsRendered) {
  Error e(ErrorCode::kSystem, "open x", ENOENT);
  e.Wrap("loading profile");
  EXPECT_EQ(e.ToString(), "loading profile: open x: No such file or directory");
}

}  // namespace
}  // namespace silk
