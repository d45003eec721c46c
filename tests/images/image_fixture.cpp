#include "tests/images/image_fixture.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "base/file.hpp"

namespace silk::images::testing {

internal::TempDir MakeTempDir() {
  auto dir = internal::TempDir::Create("/tmp/silk-images-test-");
  if (!dir) ADD_FAILURE() << dir.error().ToString();
  return std::move(*dir);
}

void WriteFakeKernel(const std::string& path, const std::string& release) {
  std::string data(0x400, '\0');
  std::memcpy(data.data() + 0x202, "HdrS", 4);
  uint16_t ptr = 0x100;  // kernel_version is relative to 0x200
  std::memcpy(data.data() + 0x20e, &ptr, 2);
  std::string version = release + " (test@silk) #1 SMP";
  std::memcpy(data.data() + 0x300, version.c_str(), version.size() + 1);
  Spit(path, data);
}

BuildOptions HermeticOptions(const std::string& dir) {
  BuildOptions o;
  o.out_dir = dir + "/image";
  o.kernel = dir + "/vmlinuz-fake";
  WriteFakeKernel(o.kernel, "6.1.0-test");
  o.silk_binary = "/bin/true";
  o.key_path = dir + "/key.pem";
  o.compression = "gzip";
  o.kernel_cache_dir = dir + "/cache";
  return o;
}

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  EXPECT_TRUE(r) << r.error().ToString();
  return r ? *r : std::string();
}

void Spit(const std::string& path, const std::string& data) {
  auto r = WriteFileAtomic(path, data);
  ASSERT_TRUE(r) << r.error().ToString();
}

}  // namespace silk::images::testing
