#include "compat/internal/filter.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>

#include "compat/box.hpp"
#include "compat/box_spec.hpp"
#include "compat/internal/nest.hpp"
#include "policy/builtin.hpp"
#include "policy/filter_cache.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"

namespace silk::compat::internal {
namespace {

std::atomic<uint64_t> profile_parses{0};

// Finds the profile as policy::LoadProfile does, then in profile_dir as NAME.json.
Result<policy::ProfileSource> ReadSource(const std::string& name, const std::string& profile_dir) {
  auto p = policy::ReadProfileSource(name);
  if (p || p.error().code() != ErrorCode::kNotFound || profile_dir.empty() ||
      name.find('/') != std::string::npos)
    return p;
  std::string path = profile_dir + "/" + name + ".json";
  if (access(path.c_str(), F_OK) == 0) return policy::ReadProfileSource(path);
  return p;
}

Result<policy::Profile> Load(const std::string& name, const std::string& profile_dir) {
  policy::ProfileSource source = SILK_TRY(ReadSource(name, profile_dir));
  ++profile_parses;
  return policy::ParseProfile(source.text, source.file);
}

// A listener-free filter (BoxFilter::listener_free) decides packet sockets itself, as the
// supervisor would: the profile's verdict with the spec's raw_sockets grant, EPERM
// without it.
void AddStaticPacketDenial(policy::Profile& p) {
  policy::SyscallRule packet;
  packet.names = {"socket"};
  packet.action = policy::Action::kErrno;
  packet.errno_ret = EPERM;
  packet.args = {policy::ArgCondition{0, AF_PACKET, 0, policy::ArgOp::kEqualTo}};
  packet.comment = "silk box: packet sockets are not granted (no supervisor listener)";
  p.syscalls.push_back(packet);
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

// The capabilities the profile is resolved for: the box's. A nest-ready box holds every
// one, in its own user namespace (gen0-node allows setns and sethostname for
// CAP_SYS_ADMIN, as podman-default does).
std::vector<std::string> BoxCapabilities(const BoxSpec& spec) {
  if (!spec.nest) return spec.capabilities;
  const auto& all = policy::KnownCapabilities();
  return std::vector<std::string>(all.begin(), all.end());
}

// Everything a box's resolved profile is made from.
struct BoxProfileInputs {
  std::string name;  // as the spec gives it, for messages
  policy::ProfileSource source;
  policy::ResolveOptions resolve;
  bool listener = true;  // AddRawSocketMediation, else AddStaticPacketDenial unless raw
  bool raw_sockets = false;

  // The cache's inputs text. Bump "box-rules" when the rules added below change.
  std::string Text() const {
    std::string t = "box-rules 1 listener " + std::to_string(listener) + " raw " +
                    std::to_string(raw_sockets) + "\narch native kernel " +
                    std::to_string(resolve.kernel->major) + "." +
                    std::to_string(resolve.kernel->minor) + "\ncaps";
    for (const auto& c : resolve.caps) t += " " + c;
    t += "\nprofile " + std::to_string(source.text.size()) + "\n";
    t += source.text;
    return t;
  }

  Result<policy::Profile> Resolved() const {
    ++profile_parses;
    policy::Profile profile = SILK_TRY(WithContext(policy::ParseProfile(source.text, source.file),
                                                   "loading profile '" + name + "'"));
    policy::Profile resolved = SILK_TRY(policy::Resolve(profile, resolve));
    if (listener)
      AddRawSocketMediation(resolved);
    else if (!raw_sockets)
      AddStaticPacketDenial(resolved);
    AddKeyringDenial(resolved);
    return resolved;
  }
};

Result<BoxProfileInputs> InputsFor(const BoxSpec& spec, const std::string& profile_dir,
                                   const std::string& no_listener) {
  BoxProfileInputs in;
  in.name = spec.profile;
  in.source = SILK_TRY(
      WithContext(ReadSource(spec.profile, profile_dir), "loading profile '" + spec.profile + "'"));
  in.resolve.caps = BoxCapabilities(spec);
  in.resolve.kernel = policy::RunningKernel();
  in.listener = no_listener.empty();
  in.raw_sockets = spec.raw_sockets;
  return in;
}

policy::CompileOptions CompileOptionsFor(const BoxSpec& spec, const std::string& no_listener) {
  policy::CompileOptions co;
  co.notify_denials = spec.report_denials && no_listener.empty();
  return co;
}

std::string DefaultFilterCacheDir() {
  return geteuid() == 0 ? std::string(policy::kDefaultFilterCacheDir)
                        : DefaultStateRoot() + "/../filters";
}

Result<std::shared_ptr<const BoxFilter>> LoadFilterFor(const BoxSpec& spec,
                                                       const BoxProfileInputs& in,
                                                       const std::string& no_listener,
                                                       const std::string& inputs,
                                                       const std::string& cache_dir) {
  auto f = std::make_shared<BoxFilter>();
  f->no_listener = no_listener;
  // policy's on-disk cache: a hit reads one small file instead of parsing, resolving,
  // compiling and verifying the profile again.
  policy::FilterCache cache(cache_dir);
  f->compiled = SILK_TRY(WithContext(cache.GetByInputs(inputs, CompileOptionsFor(spec, no_listener),
                                                       [&in]() { return in.Resolved(); }),
                                     "compiling profile '" + spec.profile + "'"));
  f->effective->make = [in]() -> Result<std::vector<policy::EffectivePolicy>> {
    policy::Profile resolved = SILK_TRY(in.Resolved());
    return policy::MakeEffectiveAll(resolved);
  };
  return std::shared_ptr<const BoxFilter>(std::move(f));
}

}  // namespace

const std::vector<policy::EffectivePolicy>* BoxFilter::Effective() const {
  LazyEffective& e = *effective;
  std::call_once(e.once, [&e] {
    if (!e.make) return;
    if (auto v = e.make()) {
      e.value = std::move(*v);
      e.made = true;
    }
    e.make = nullptr;  // the profile's bytes are not needed any more
  });
  return e.made ? &e.value : nullptr;
}

uint64_t BoxProfileParses() { return profile_parses.load(); }

// Why the box's filter can have no listener, or empty when it can.
std::string NoListenerReason(const BoxSpec& spec) {
  if (!SeccompListenerAvailable())
    return "silk runs in a box whose filter has a seccomp listener, and the kernel allows one "
           "per filter chain (EBUSY); the box's parent reports what it denies itself";
  if (spec.nest && !spec.report_denials)
    return "a nest-ready box's filter has no listener, so that the boxes made in it can have "
           "theirs";
  return "";
}

Result<std::shared_ptr<const BoxFilter>> LoadBoxFilter(const BoxSpec& spec,
                                                       const std::string& profile_dir,
                                                       const std::string& cache_dir) {
  const std::string no_listener = NoListenerReason(spec);
  BoxProfileInputs in = SILK_TRY(InputsFor(spec, profile_dir, no_listener));
  return LoadFilterFor(spec, in, no_listener, in.Text(), cache_dir);
}

Result<std::shared_ptr<const BoxFilter>> PrepareFilter(const BoxSpec& spec,
                                                       const std::string& profile_dir) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const BoxFilter>> cache;
  const std::string no_listener = NoListenerReason(spec);
  BoxProfileInputs in = SILK_TRY(InputsFor(spec, profile_dir, no_listener));
  const std::string inputs = in.Text();
  const std::string key = inputs + "\nnotify " + std::to_string(spec.report_denials);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  auto built = SILK_TRY(LoadFilterFor(spec, in, no_listener, inputs, DefaultFilterCacheDir()));
  std::lock_guard<std::mutex> lock(mu);
  cache[key] = built;
  return built;
}

Result<std::shared_ptr<const BoxFilter>> PrepareLearningPolicy(const BoxSpec& spec,
                                                               const std::string& profile_dir) {
  auto f = std::make_shared<BoxFilter>();
  policy::Profile profile = SILK_TRY(
      WithContext(Load(spec.profile, profile_dir), "loading profile '" + spec.profile + "'"));
  policy::ResolveOptions ro;
  ro.caps = BoxCapabilities(spec);
  policy::Profile resolved = SILK_TRY(policy::Resolve(profile, ro));
  AddRawSocketMediation(resolved);
  AddKeyringDenial(resolved);
  std::vector<policy::EffectivePolicy> effective = SILK_TRY(policy::MakeEffectiveAll(resolved));
  f->effective->make = [&effective]() -> Result<std::vector<policy::EffectivePolicy>> {
    return std::move(effective);
  };
  (void)f->Effective();  // made now, as the learning supervisor needs it from the start
  return std::shared_ptr<const BoxFilter>(std::move(f));
}

}  // namespace silk::compat::internal
