#include "policy/filter_cache.hpp"

#include <seccomp.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "base/file.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

constexpr char kMagic[8] = {'S', 'I', 'L', 'K', 'B', 'P', 'F', '1'};

uint64_t Fnv1a(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

void Put(std::string& out, const void* data, size_t n) {
  out.append(static_cast<const char*>(data), n);
}
void PutU64(std::string& out, uint64_t v) { Put(out, &v, 8); }
void PutString(std::string& out, const std::string& s) {
  PutU64(out, s.size());
  out += s;
}

// Reads from an entry; every read is bounds-checked.
struct Reader {
  std::string_view data;
  size_t pos = 0;
  bool U64(uint64_t& v) {
    if (data.size() - pos < 8) return false;
    std::memcpy(&v, data.data() + pos, 8);
    pos += 8;
    return true;
  }
  bool String(std::string& s) {
    uint64_t n;
    if (!U64(n) || data.size() - pos < n) return false;
    s.assign(data.data() + pos, n);
    pos += n;
    return true;
  }
};

std::string Serialize(const CompiledFilter& f, const std::string& key_text) {
  std::string out(kMagic, sizeof(kMagic));
  PutString(out, key_text);
  PutU64(out, f.has_notify ? 1 : 0);
  PutU64(out, f.arches.size());
  for (const auto& a : f.arches) PutString(out, a);
  PutU64(out, f.program.size());
  Put(out, f.program.data(), f.program.size() * sizeof(sock_filter));
  PutString(out, f.pfc);
  PutU64(out, Fnv1a(out));
  return out;
}

std::optional<CompiledFilter> Deserialize(std::string_view data, const std::string& key_text) {
  if (data.size() < sizeof(kMagic) + 8 || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0)
    return std::nullopt;
  uint64_t sum;
  std::memcpy(&sum, data.data() + data.size() - 8, 8);
  if (sum != Fnv1a(data.substr(0, data.size() - 8))) return std::nullopt;
  Reader r{data.substr(0, data.size() - 8), sizeof(kMagic)};
  std::string key;
  uint64_t notify, narches, ninstr;
  if (!r.String(key) || key != key_text || !r.U64(notify) || !r.U64(narches) || narches > 64)
    return std::nullopt;
  CompiledFilter f;
  f.has_notify = notify != 0;
  f.arches.resize(narches);
  for (auto& a : f.arches)
    if (!r.String(a)) return std::nullopt;
  if (!r.U64(ninstr) || ninstr > BPF_MAXINSNS ||
      (r.data.size() - r.pos) / sizeof(sock_filter) < ninstr)
    return std::nullopt;
  f.program.resize(ninstr);
  std::memcpy(f.program.data(), r.data.data() + r.pos, ninstr * sizeof(sock_filter));
  r.pos += ninstr * sizeof(sock_filter);
  if (!r.String(f.pfc) || r.pos != r.data.size() || f.program.empty()) return std::nullopt;
  return f;
}

std::string KeyHeader(const CompileOptions& o) {
  std::ostringstream s;
  const scmp_version* v = seccomp_version();
  s << "silk " SILK_VERSION " libseccomp " << v->major << "." << v->minor << "." << v->micro
    << " native " << ArchName(NativeArch()) << " compiler 2\n";
  s << "options optimize=" << o.optimize << " notify=" << o.notify_denials
    << " badarch=" << static_cast<int>(o.bad_arch.action) << "/" << o.bad_arch.errno_ret
    << " pfc=" << o.pfc << "\n";
  return s.str();
}

}  // namespace

std::string FilterCacheKeyText(const Profile& p, const CompileOptions& o) {
  std::ostringstream s;
  s << KeyHeader(o);
  s << "default " << ActionName(p.default_action) << " " << p.default_errno_ret.value_or(~0u)
    << "\n";
  for (const auto& a : p.architectures) s << "arch " << a << "\n";
  for (const auto& m : p.arch_map) {
    s << "archmap " << m.architecture;
    for (const auto& sub : m.sub_architectures) s << " " << sub;
    s << "\n";
  }
  for (const auto& f : p.flags) s << "flag " << f << "\n";
  s << "horizon " << p.meta.horizon << " clone3 " << static_cast<int>(p.meta.clone3) << "\n";
  for (const auto& r : p.syscalls) {
    s << "rule " << ActionName(r.action) << " " << r.errno_ret.value_or(~0u) << " names";
    for (const auto& n : r.names) s << " " << n;
    for (const auto& c : r.args)
      s << " arg" << c.index << " " << ArgOpName(c.op) << " " << c.value << " " << c.value_two;
    auto filter = [&](const char* what, const RuleFilter& f) {
      if (f.empty()) return;
      s << " " << what << " caps";
      for (const auto& c : f.caps) s << " " << c;
      s << " arches";
      for (const auto& a : f.arches) s << " " << a;
      s << " minkernel " << f.min_kernel;
    };
    filter("includes", r.includes);
    filter("excludes", r.excludes);
    s << "\n";
  }
  return s.str();
}

std::string FilterCacheInputsKeyText(std::string_view inputs, const CompileOptions& options) {
  std::string s = KeyHeader(options);
  s += "inputs\n";
  s += inputs;
  return s;
}

std::string FilterCache::PathFor(const std::string& key_text) const {
  char name[32];
  snprintf(name, sizeof(name), "%016llx.bpf", static_cast<unsigned long long>(Fnv1a(key_text)));
  return dir_ + "/" + name;
}

std::string FilterCache::EntryPath(const Profile& resolved, const CompileOptions& options) const {
  return PathFor(FilterCacheKeyText(resolved, options));
}

std::string FilterCache::InputsEntryPath(std::string_view inputs,
                                         const CompileOptions& options) const {
  return PathFor(FilterCacheInputsKeyText(inputs, options));
}

Result<CompiledFilter> FilterCache::Lookup(const std::string& key,
                                           const std::function<Result<CompiledFilter>()>& make,
                                           bool* hit) const {
  std::string path = PathFor(key);
  if (auto data = ReadFile(path)) {
    if (auto f = Deserialize(*data, key)) {
      if (hit) *hit = true;
      return *f;
    }
  }
  if (hit) *hit = false;
  CompiledFilter f = SILK_TRY(make());
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (!ec) (void)WriteFileAtomic(path, Serialize(f, key), 0644);
  return f;
}

Result<CompiledFilter> FilterCache::Get(const Profile& resolved, const CompileOptions& options,
                                        bool* hit) const {
  return Lookup(
      FilterCacheKeyText(resolved, options), [&]() { return CompileProfile(resolved, options); },
      hit);
}

Result<CompiledFilter> FilterCache::GetByInputs(
    std::string_view inputs, const CompileOptions& options,
    const std::function<Result<Profile>()>& make_resolved, bool* hit) const {
  return Lookup(
      FilterCacheInputsKeyText(inputs, options),
      [&]() -> Result<CompiledFilter> {
        Profile resolved = SILK_TRY(make_resolved());
        return CompileProfile(resolved, options);
      },
      hit);
}

}  // namespace silk::policy
