#include "policy/lineage.hpp"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <set>

#include "base/strings.hpp"
#include "policy/builtin.hpp"
#include "policy/effective.hpp"
#include "policy/profile_json.hpp"

namespace silk::policy {

std::vector<std::pair<std::string, std::string>> Lineage::Edges() const {
  std::vector<std::pair<std::string, std::string>> edges;
  std::deque<std::string> queue(roots.begin(), roots.end());
  while (!queue.empty()) {
    const LineageNode& node = nodes.at(queue.front());
    queue.pop_front();
    for (const auto& child : node.children) {
      edges.emplace_back(child, node.name);
      queue.push_back(child);
    }
  }
  return edges;
}

Result<Lineage> LoadLineage(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Fail(Error(ErrorCode::kNotFound, dir + ": no such directory", ENOENT));
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json" && it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) return FailErrno("cannot list " + dir, ec.value());
  if (files.empty())
    return Fail(ErrorCode::kInvalidInput,
                "empty lineage: " + dir +
                    " holds no *.json profile; put each generation's profile there (silk "
                    "policy import --extends PARENT --out " +
                    dir + "/NAME.json)");
  std::sort(files.begin(), files.end());

  Lineage lineage;
  std::vector<std::string> errors;
  for (const auto& path : files) {
    auto profile = ReadProfileFile(path.string());
    if (!profile) {
      errors.push_back(profile.error().ToString());
      continue;
    }
    LineageNode node;
    node.name = profile->meta.name.empty() ? path.stem().string() : profile->meta.name;
    node.file = path.string();
    node.parent = profile->meta.extends;
    node.profile = std::move(*profile);
    auto [it, inserted] = lineage.nodes.emplace(node.name, node);
    if (!inserted)
      errors.push_back(node.file + ": profile name '" + node.name + "' is also used by " +
                       it->second.file + "; give each profile in a directory its own silk.name");
  }

  // Parents outside the directory may be built-in profiles.
  std::vector<std::string> names;
  for (const auto& [name, node] : lineage.nodes) names.push_back(name);
  std::vector<std::string> candidates = names;
  for (const auto& b : BuiltinProfileNames()) candidates.push_back(b);
  for (const auto& name : names) {
    const std::string parent = lineage.nodes.at(name).parent;
    if (parent.empty() || lineage.nodes.count(parent)) continue;
    auto builtin = BuiltinProfile(parent);
    if (builtin) {
      LineageNode node;
      node.name = parent;
      node.file = "<builtin:" + parent + ">";
      node.parent = builtin->meta.extends;
      node.profile = std::move(*builtin);
      lineage.nodes.emplace(parent, std::move(node));
      // A built-in's own parent is built in too (or it is a root).
      std::string up = lineage.nodes.at(parent).parent;
      while (!up.empty() && !lineage.nodes.count(up)) {
        auto b = BuiltinProfile(up);
        if (!b) break;
        LineageNode n;
        n.name = up;
        n.file = "<builtin:" + up + ">";
        n.parent = b->meta.extends;
        n.profile = std::move(*b);
        std::string next = n.parent;
        lineage.nodes.emplace(up, std::move(n));
        up = next;
      }
      continue;
    }
    errors.push_back(lineage.nodes.at(name).file + ": silk.extends names '" + parent +
                     "', but no profile in " + dir + " and no built-in profile has that name" +
                     DidYouMean(parent, candidates));
  }

  // Cycles: follow parents from each node; a walk that returns to a visited node of the
  // same walk is a cycle. Each cycle is reported once.
  std::set<std::string> in_cycle;
  for (const auto& [start, unused] : lineage.nodes) {
    std::vector<std::string> path;
    std::string cur = start;
    while (!cur.empty() && lineage.nodes.count(cur) && !in_cycle.count(cur)) {
      auto seen = std::find(path.begin(), path.end(), cur);
      if (seen != path.end()) {
        std::string text;
        for (auto it = seen; it != path.end(); ++it) {
          in_cycle.insert(*it);
          text += *it + " (" + lineage.nodes.at(*it).file + ") extends ";
        }
        text += cur;
        errors.push_back("cycle in silk.extends: " + text +
                         "; a lineage must be a tree, so one of these needs another parent");
        break;
      }
      path.push_back(cur);
      cur = lineage.nodes.at(cur).parent;
    }
  }

  if (!errors.empty())
    return Fail(ErrorCode::kInvalidInput,
                Join(errors, "\n") + (errors.size() > 1 ? "\n(" + std::to_string(errors.size()) +
                                                              " errors in " + dir + ")"
                                                        : ""));

  for (auto& [name, node] : lineage.nodes) {
    if (node.parent.empty()) {
      lineage.roots.push_back(name);
    } else {
      lineage.nodes.at(node.parent).children.push_back(name);
    }
  }
  for (auto& [name, node] : lineage.nodes) std::sort(node.children.begin(), node.children.end());
  return lineage;
}

Result<SubsetResult> SubsetOfResolved(const Profile& child, const std::string& child_label,
                                      const Profile& parent, const std::string& parent_label,
                                      const ResolveOptions& options) {
  auto effective = [&](const Profile& p,
                       const std::string& label) -> Result<std::vector<EffectivePolicy>> {
    Profile resolved = SILK_TRY(WithContext(Resolve(p, options), "resolving " + label));
    return WithContext(MakeEffectiveAll(resolved), label);
  };
  auto c = SILK_TRY(effective(child, child_label));
  auto p = SILK_TRY(effective(parent, parent_label));
  return Subset(c, p);
}

Result<std::vector<EdgeCheck>> CheckLineage(const Lineage& lineage, const ResolveOptions& options) {
  std::vector<EdgeCheck> out;
  for (const auto& [child, parent] : lineage.Edges()) {
    const LineageNode& c = lineage.nodes.at(child);
    const LineageNode& p = lineage.nodes.at(parent);
    auto result = SubsetOfResolved(c.profile, child, p.profile, parent, options);
    if (!result) return Fail(std::move(result.error()).Wrap(c.file));
    out.push_back({child, parent, c.file, std::move(*result)});
  }
  return out;
}

Result<void> RequireLineageHolds(const Lineage& lineage, const ResolveOptions& options) {
  auto checks = SILK_TRY(CheckLineage(lineage, options));
  std::string msg;
  size_t broken = 0;
  for (const auto& e : checks) {
    if (e.result.subset) continue;
    ++broken;
    msg += (msg.empty() ? "" : "\n") + e.child_file + ": profile '" + e.child + "' names parent '" +
           e.parent + "' but is not a subset of it: " + std::to_string(e.result.violations.size()) +
           (e.result.violations.size() == 1 ? " reason" : " reasons");
    for (const auto& v : e.result.violations) msg += "\n  " + v.text;
  }
  if (broken == 0) return {};
  return Fail(ErrorCode::kDenied,
              "broken lineage (" + std::to_string(broken) + " of " + std::to_string(checks.size()) +
                  " child/parent pairs do not hold):\n" + msg +
                  "\nremove what the parent does not allow (silk policy subset CHILD PARENT "
                  "lists it), or name another parent");
}

ResolveOptions BoxResolveOptions() { return ResolveOptions{}; }

}  // namespace silk::policy
