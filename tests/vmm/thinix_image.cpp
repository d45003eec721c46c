#include "tests/vmm/thinix_image.hpp"

#include <sys/stat.h>

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
  std::string silk = std::string(SILK_BINARY_DIR) + "/cli/silk";
  struct stat image_st, silk_st;
  bool fresh = ::stat((dir + "/manifest.json").c_str(), &image_st) == 0 &&
               ::stat(silk.c_str(), &silk_st) == 0 && silk_st.st_mtime <= image_st.st_mtime;
  if (fresh && images::VerifyImage(dir)) return dir;
  images::BuildOptions o;
  o.out_dir = dir;
  o.silk_binary = silk;
  o.compression = "gzip";
  o.key_path = std::string(SILK_BINARY_DIR) + "/tests/vmm/test-signing.pem";
  SILK_TRY(WithContext(images::BuildThinix(o), "building the test image " + dir));
  return dir;
}

}  // namespace silk::vmm::testing
