#include "policy/builtin.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "policy/internal/json_builtin_data.hpp"
#include "policy/profile_json.hpp"

namespace silk::policy {

std::vector<std::string> BuiltinProfileNames() {
  std::vector<std::string> names;
  for (size_t i = 0; i < internal::kBuiltinProfileCount; ++i)
    names.emplace_back(internal::kBuiltinProfileTexts[i].name);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string_view> BuiltinProfileText(std::string_view name) {
  for (size_t i = 0; i < internal::kBuiltinProfileCount; ++i) {
    const auto& b = internal::kBuiltinProfileTexts[i];
    if (name == b.name) return std::string_view(b.text, b.size);
  }
  return std::nullopt;
}

Result<Profile> BuiltinProfile(std::string_view name) {
  auto text = BuiltinProfileText(name);
  if (!text) {
    return Fail(ErrorCode::kNotFound,
                "no built-in profile '" + std::string(name) + "'" +
                    DidYouMean(name, BuiltinProfileNames()) +
                    " (built-in profiles: " + Join(BuiltinProfileNames(), ", ") + ")");
  }
  return ParseProfile(*text, "<builtin:" + std::string(name) + ">");
}

Result<ProfileSource> ReadProfileSource(const std::string& path_or_name) {
  constexpr std::string_view kPrefix = "builtin:";
  auto builtin = [](std::string_view name) -> Result<ProfileSource> {
    auto text = BuiltinProfileText(name);
    if (!text) return Fail(BuiltinProfile(name).error());  // kNotFound with the nearest names
    return ProfileSource{std::string(*text), "<builtin:" + std::string(name) + ">"};
  };
  if (path_or_name.rfind(kPrefix, 0) == 0) return builtin(path_or_name.substr(kPrefix.size()));
  struct stat st {};
  bool looks_like_path =
      path_or_name.find('/') != std::string::npos ||
      (path_or_name.size() > 5 && path_or_name.compare(path_or_name.size() - 5, 5, ".json") == 0);
  if (looks_like_path || ::stat(path_or_name.c_str(), &st) == 0 ||
      !BuiltinProfileText(path_or_name)) {
    auto text = ReadRegularFile(path_or_name, kMaxProfileBytes);
    if (!text && text.error().code() == ErrorCode::kNotFound && !looks_like_path)
      return Fail(ErrorCode::kNotFound,
                  "no profile file '" + path_or_name + "' and no built-in profile by that name" +
                      " (built-in profiles: " + Join(BuiltinProfileNames(), ", ") + ")");
    if (!text) return Fail(std::move(text.error()));
    return ProfileSource{std::move(*text), path_or_name};
  }
  return builtin(path_or_name);
}

Result<Profile> LoadProfile(const std::string& path_or_name) {
  ProfileSource source = SILK_TRY(ReadProfileSource(path_or_name));
  return ParseProfile(source.text, source.file);
}

}  // namespace silk::policy
