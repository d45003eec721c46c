#include "tests/vmm/thinix_image.hpp"

#include <cstdlib>
#include <mutex>

#include "images/build.hpp"
#include "images/image.hpp"

namespace silk::vmm::testing {

Result<std::string> ThinixImageForTests() {
  if (const char* env = std::getenv("SILK_TEST_IMAGE"); env != nullptr && *env != '\0') {
    SILK_TRY(images::VerifyImage(env));
    return std::string(env);
  }
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::string dir = std::string(SILK_BINARY_DIR) + "/tests/vmm/thinix";
  if (images::VerifyImage(dir)) return dir;
  images::BuildOptions o;
  o.out_dir = dir;
  o.silk_binary = std::string(SILK_BINARY_DIR) + "/cli/silk";
  o.compression = "gzip";
  o.key_path = std::string(SILK_BINARY_DIR) + "/tests/vmm/test-signing.pem";
  SILK_TRY(WithContext(images::BuildThinix(o), "building the test image " + dir));
  return dir;
}

}  // namespace silk::vmm::testing
