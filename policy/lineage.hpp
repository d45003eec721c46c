// Profile lineages: a directory of profiles forms a tree through silk.extends (by
// profile name). A parent that is not in the directory may be a built-in profile
// (builtin.hpp), so a generation-1 directory can extend "gen0-sliver".
//
// Loading checks the tree's shape only; whether each child is a subset of its parent is
// the algebra's question (algebra.hpp Subset), asked by CheckLineage below for `silk
// policy check`, and by RequireLineageHolds for `silk regress` and `silk policy import`
// before they trust a lineage.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "policy/algebra.hpp"
#include "policy/profile.hpp"
#include "policy/resolve.hpp"

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
// one per line): no *.json file at all ("empty lineage"), profiles that do not parse
// (file:line:column), two files with the same
// profile name (naming both), a parent that is neither in the directory nor built in
// (naming the file and the nearest names), and cycles (naming each file in the cycle).
// kNotFound if `dir` does not exist.
Result<Lineage> LoadLineage(const std::string& dir);

// One parent/child pair of a lineage and whether child ⊆ parent.
struct EdgeCheck {
  std::string child;
  std::string parent;
  std::string child_file;
  SubsetResult result;
};

// Decides child ⊆ parent for every edge (Edges() order), both resolved with `options`
// on every architecture the child covers. Errors: resolution errors, naming the file.
Result<std::vector<EdgeCheck>> CheckLineage(const Lineage& lineage, const ResolveOptions& options);

// Decides child ⊆ parent for one pair, resolved with `options`. Errors: resolution
// errors, naming `child_label` or `parent_label`.
Result<SubsetResult> SubsetOfResolved(const Profile& child, const std::string& child_label,
                                      const Profile& parent, const std::string& parent_label,
                                      const ResolveOptions& options);

// A profile that names a parent must be a subset of it. Errors (kDenied): every edge
// that does not hold, with every reason (architecture, syscall, rule, arguments), and
// what to do; resolution errors as CheckLineage.
Result<void> RequireLineageHolds(const Lineage& lineage, const ResolveOptions& options);

// The ResolveOptions of a compatibility box: the native architecture, no capabilities
// (boxes have none), the running kernel.
ResolveOptions BoxResolveOptions();

}  // namespace silk::policy
