// Profile lineages: a directory of profiles forms a tree through silk.extends (by
// profile name). A parent that is not in the directory may be a built-in profile
// (builtin.hpp), so a generation-1 directory can extend "gen0-sliver".
//
// Loading checks the tree's shape only; whether each child is a subset of its parent is
// the algebra's question (algebra.hpp Subset), asked by `silk policy check`.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

struct LineageNode {
  std::string name;  // silk.name, or the file name without ".json" when unset
  std::string file;  // the file it came from; "<builtin:NAME>" for a built-in parent
  Profile profile;
  std::string parent;                 // "" for a root
  std::vector<std::string> children;  // sorted
};

struct Lineage {
  std::map<std::string, LineageNode> nodes;  // by name
  std::vector<std::string> roots;            // sorted

  // (child, parent) pairs, parents before their children (breadth-first from roots).
  std::vector<std::pair<std::string, std::string>> Edges() const;
};

// Loads every *.json file in `dir` (not recursive). Errors (kInvalidInput, every problem
// one per line): profiles that do not parse (file:line:column), two files with the same
// profile name (naming both), a parent that is neither in the directory nor built in
// (naming the file and the nearest names), and cycles (naming each file in the cycle).
// kNotFound if `dir` does not exist.
Result<Lineage> LoadLineage(const std::string& dir);

}  // namespace silk::policy
