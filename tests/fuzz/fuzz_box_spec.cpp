// libFuzzer target: the box spec parser (the node manager's `silk box run --spec`
// input). Properties checked on every input:
//  - ParseBoxSpec never crashes (depth, duplicate keys, huge values, special ids), and
//    rejects with a kInvalidInput error whose message is bounded in size;
//  - an accepted spec passed Validate(): its uid/gid are never (uid_t)-1 and its box
//    view never has the host's `/` as root;
//  - an accepted spec writes to JSON that parses back to an equal spec;
//  - ValidateBoxId never crashes and accepts only ids without '/' or "..".
#include <cstdint>
#include <cstdlib>
#include <string>

#include "compat/box_spec.hpp"

using namespace silk::compat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = ParseBoxSpec(text, "fuzz.json");
  if (!spec) {
    if (spec.error().code() != silk::ErrorCode::kInvalidInput) std::abort();
    if (spec.error().ToString().size() > 4096) std::abort();
  } else {
    if (spec->uid == UINT32_MAX || spec->gid == UINT32_MAX) std::abort();
    if (spec->rootfs == "/") std::abort();
    auto again = ParseBoxSpec(BoxSpecToJson(*spec), "written.json");
    if (!again || !(*again == *spec)) std::abort();
  }
  if (size <= 128 && ValidateBoxId(text)) {
    if (text.find('/') != std::string::npos || text.find("..") != std::string::npos) std::abort();
  }
  return 0;
}
