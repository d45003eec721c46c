// Helpers shared by p1's policy tests: comparing effective policies, temp dirs.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "policy/effective.hpp"
#include "policy/profile_json.hpp"

namespace silk::policy::testing {

// A canonical text of an effective policy (rules of each syscall sorted), so two
// policies compare equal exactly when they decide every syscall the same way.
inline std::string EffectiveText(const EffectivePolicy& ep) {
  std::string out = ep.arch + " default " + VerdictToString(ep.default_verdict) + "\n";
  for (const auto& [nr, sp] : ep.syscalls) {
    std::vector<std::string> rules;
    for (const auto& r : sp.rules) {
      std::string s = VerdictToString(r.verdict);
      for (const auto& a : r.args)
        s += " " + std::to_string(a.index) + ":" + ArgOpName(a.op) + ":" + std::to_string(a.value) +
             ":" + std::to_string(a.value_two);
      rules.push_back(s);
    }
    std::sort(rules.begin(), rules.end());
    out += std::to_string(nr) + " " + sp.name;
    for (const auto& r : rules) out += " [" + r + "]";
    out += "\n";
  }
  return out;
}

// A temporary directory removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/silk-policy-test-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// First diagnostic of `text`, "" if it is valid.
inline std::string FirstProblem(const std::string& text) {
  ProfileCheck c = CheckProfileText(text, "t.json");
  return c.diagnostics.empty() ? "" : c.diagnostics[0].ToString();
}

}  // namespace silk::policy::testing
