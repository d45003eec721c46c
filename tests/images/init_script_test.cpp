#include "images/internal/init_script.hpp"

#include <gtest/gtest.h>

#include "base/file.hpp"

namespace silk::images::internal {
namespace {

TEST(ImagesInitScript, IsInitShByteForByte) {
  auto file = ReadFile(std::string(SILK_SOURCE_DIR) + "/images/thinix/init.sh");
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(InitScript(), *file);
  EXPECT_EQ(InitScript().rfind("#!/bin/sh\n", 0), 0u);
  EXPECT_NE(InitScript().find("\nfinish\n"), std::string::npos);
}

}  // namespace
}  // namespace silk::images::internal
