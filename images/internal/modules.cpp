#include "images/internal/modules.hpp"

#include <ftw.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "images/internal/elf.hpp"

namespace silk::images::internal {
namespace {

// Module names use '_' and '-' interchangeably (kmod's modname normalisation).
std::string Normalize(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string ModuleName(const std::string& path) {
  std::string base = path.substr(path.rfind('/') + 1);
  return Normalize(base.substr(0, base.find(".ko")));
}

// nftw has no user pointer; the walk is single-threaded and short-lived.
thread_local std::vector<std::string>* g_found = nullptr;

int Collect(const char* path, const struct stat*, int type, struct FTW*) {
  std::string p = path;
  if (type == FTW_F && p.find(".ko") != std::string::npos) g_found->push_back(p);
  return 0;
}

}  // namespace

const std::vector<std::string>& GuestModules() {
  static const std::vector<std::string> modules = {
      "virtio_pci", "virtio_net", "virtio_console", "virtio_blk", "bridge", "veth",
      "overlay",    "sch_htb",    "sch_netem",      "sch_tbf",    "tun",
  };
  return modules;
}

Result<ModuleSet> ResolveModules(const std::string& modules_dir,
                                 const std::vector<std::string>& wanted) {
  std::set<std::string> builtin;
  auto builtin_text = ReadFile(modules_dir + "/modules.builtin");
  if (builtin_text) {
    for (const auto& line : Split(*builtin_text, '\n'))
      if (!line.empty()) builtin.insert(ModuleName(line));
  }
  std::vector<std::string> files;
  g_found = &files;
  int rc = ::nftw((modules_dir + "/kernel").c_str(), Collect, 16, FTW_PHYS);
  g_found = nullptr;
  if (rc != 0) return FailErrno("cannot list kernel modules under " + modules_dir + "/kernel");
  std::map<std::string, std::string> by_name;  // name -> path relative to modules_dir
  for (const auto& f : files) by_name[ModuleName(f)] = f.substr(modules_dir.size() + 1);

  ModuleSet set;
  std::map<std::string, std::vector<std::string>> deps;  // selected name -> its deps
  std::vector<std::string> todo;
  for (const auto& w : wanted) todo.push_back(Normalize(w));
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    if (deps.count(name)) continue;
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      if (builtin.count(name)) {
        if (std::find(set.builtin.begin(), set.builtin.end(), name) == set.builtin.end())
          set.builtin.push_back(name);
        continue;
      }
      return Fail(ErrorCode::kNotFound, "kernel module " + name + " is neither in " + modules_dir +
                                            "/kernel nor built into the kernel");
    }
    const std::string& rel = it->second;
    if (rel.size() < 3 || rel.compare(rel.size() - 3, 3, ".ko") != 0)
      return Fail(ErrorCode::kUnsupported,
                  modules_dir + "/" + rel + ": compressed modules are not supported (need .ko)");
    std::string data = SILK_TRY(ReadFile(modules_dir + "/" + rel));
    std::vector<std::string>& d = deps[name];
    for (const auto& kv : SILK_TRY(ReadModinfo(data, modules_dir + "/" + rel))) {
      if (kv.rfind("depends=", 0) != 0) continue;
      for (const auto& dep : Split(kv.substr(8), ','))
        if (!dep.empty()) d.push_back(Normalize(dep));
    }
    std::sort(d.begin(), d.end());
    for (const auto& dep : d) todo.push_back(dep);
  }
  std::sort(set.builtin.begin(), set.builtin.end());

  // Depth-first post-order over sorted names: deterministic, dependencies first.
  std::set<std::string> done;
  std::vector<std::string> order;
  auto visit = [&](auto&& self, const std::string& name) -> void {
    if (done.count(name) || !deps.count(name)) return;
    done.insert(name);
    for (const auto& dep : deps[name]) self(self, dep);
    order.push_back(name);
  };
  for (const auto& [name, _] : deps) visit(visit, name);
  for (const auto& name : order) {
    set.load_order.push_back(by_name[name]);
    std::string line = by_name[name] + ":";
    // modules.dep lists the full closure in depmod's order: reverse load order, so
    // loading from the end of the line to the start satisfies every dependency.
    std::set<std::string> closure_names;
    auto collect = [&](auto&& self, const std::string& n) -> void {
      for (const auto& dep : deps[n])
        if (deps.count(dep) && closure_names.insert(dep).second) self(self, dep);
    };
    collect(collect, name);
    std::vector<std::string> closure;
    for (auto it = order.rbegin(); it != order.rend(); ++it)
      if (closure_names.count(*it)) closure.push_back(by_name[*it]);
    for (const auto& c : closure) line += " " + c;
    set.modules_dep += line + "\n";
  }
  return set;
}

}  // namespace silk::images::internal
