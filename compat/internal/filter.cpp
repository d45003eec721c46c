#include "compat/internal/filter.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <unistd.h>
#include <cerrno>
#include <map>
#include <mutex>

#include "compat/box.hpp"
#include "compat/box_spec.hpp"
#include "policy/builtin.hpp"
#include "policy/filter_cache.hpp"
#include "policy/resolve.hpp"

namespace silk::compat::internal {
namespace {

Result<policy::Profile> Load(const std::string& name, const std::string& profile_dir) {
  auto p = policy::LoadProfile(name);
  if (p || p.error().code() != ErrorCode::kNotFound || profile_dir.empty() ||
      name.find('/') != std::string::npos)
    return p;
  std::string path = profile_dir + "/" + name + ".json";
  if (access(path.c_str(), F_OK) == 0) return policy::LoadProfile(path);
  return p;
}

void AddRawSocketMediation(policy::Profile& p) {
  policy::SyscallRule packet;
  packet.names = {"socket"};
  packet.action = policy::Action::kNotify;
  packet.args = {policy::ArgCondition{0, AF_PACKET, 0, policy::ArgOp::kEqualTo}};
  packet.comment = "silk box: packet sockets are decided by the supervisor";
  p.syscalls.push_back(packet);
}

// The kernel keyring is not namespaced: a box whose uid 0 is the host's uid 0 would
// share root's user keyring. Docker's default profile denies these three for that
// reason; the box denies them whatever its profile says (a tightening, so the filter
// stays a subset of the profile).
void AddKeyringDenial(policy::Profile& p) {
  policy::SyscallRule keys;
  keys.names = {"keyctl", "add_key", "request_key"};
  keys.action = policy::Action::kErrno;
  keys.errno_ret = EPERM;
  keys.comment = "silk box: the kernel keyring is not namespaced";
  p.syscalls.push_back(keys);
}

}  // namespace

Result<BoxFilter> Build(const BoxSpec& spec, const std::string& profile_dir) {
  BoxFilter f;
  policy::Profile profile = SILK_TRY(
      WithContext(Load(spec.profile, profile_dir), "loading profile '" + spec.profile + "'"));
  f.profile_name = profile.meta.name.empty() ? spec.profile : profile.meta.name;
  policy::ResolveOptions ro;
  ro.caps = spec.capabilities;
  policy::Profile resolved = SILK_TRY(policy::Resolve(profile, ro));
  AddRawSocketMediation(resolved);
  AddKeyringDenial(resolved);
  f.effective = SILK_TRY(policy::MakeEffectiveAll(resolved));
  policy::CompileOptions co;
  co.notify_denials = spec.report_denials;
  // policy's on-disk cache: a hit reads one small file instead of compiling and
  // verifying the filter again.
  policy::FilterCache cache(geteuid() == 0 ? std::string(policy::kDefaultFilterCacheDir)
                                           : DefaultStateRoot() + "/../filters");
  f.compiled =
      SILK_TRY(WithContext(cache.Get(resolved, co), "compiling profile '" + spec.profile + "'"));
  return f;
}

Result<std::shared_ptr<const BoxFilter>> PrepareFilter(const BoxSpec& spec,
                                                       const std::string& profile_dir) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const BoxFilter>> cache;
  std::string key = spec.profile + "\n" + profile_dir + "\n" + (spec.report_denials ? "1" : "0");
  for (const auto& c : spec.capabilities) key += "\n" + c;
  struct stat st;
  if (stat(spec.profile.c_str(), &st) == 0)
    key += "\n" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
           ":" + std::to_string(st.st_size);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  auto built = std::make_shared<const BoxFilter>(SILK_TRY(Build(spec, profile_dir)));
  std::lock_guard<std::mutex> lock(mu);
  cache[key] = built;
  return built;
}

Result<std::shared_ptr<const BoxFilter>> PrepareLearningPolicy(const BoxSpec& spec,
                                                               const std::string& profile_dir) {
  auto f = std::make_shared<BoxFilter>();
  policy::Profile profile = SILK_TRY(
      WithContext(Load(spec.profile, profile_dir), "loading profile '" + spec.profile + "'"));
  f->profile_name = profile.meta.name.empty() ? spec.profile : profile.meta.name;
  policy::ResolveOptions ro;
  ro.caps = spec.capabilities;
  policy::Profile resolved = SILK_TRY(policy::Resolve(profile, ro));
  AddRawSocketMediation(resolved);
  AddKeyringDenial(resolved);
  f->effective = SILK_TRY(policy::MakeEffectiveAll(resolved));
  return std::shared_ptr<const BoxFilter>(std::move(f));
}

}  // namespace silk::compat::internal
