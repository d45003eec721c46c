// The built-in profiles' JSON texts, generated at build time from policy/profiles/*.json
// by builtin_embed.cmake into the build tree. Private to builtin.cpp.
#pragma once

#include <cstddef>

namespace silk::policy::internal {

struct BuiltinProfileText {
  const char* name;  // file name without ".json"
  const char* text;
  size_t size;
};
extern const BuiltinProfileText kBuiltinProfileTexts[];
extern const size_t kBuiltinProfileCount;

}  // namespace silk::policy::internal
