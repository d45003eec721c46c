#include "images/internal/kernel.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "images/internal/run.hpp"

namespace silk::images::internal {
namespace {

constexpr char kMetaPackage[] = "linux-image-cloud-amd64";

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

Result<void> MakeDirs(const std::string& dir) {
  std::string cur;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return FailErrno("cannot create directory " + cur);
  }
  return {};
}

// The single entry of `dir` (lib/modules has one directory per kernel release).
Result<std::string> OnlyEntry(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return FailErrno("cannot open " + dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
  }
  ::closedir(d);
  if (names.size() != 1)
    return Fail(ErrorCode::kInvalidInput, dir + ": expected exactly one kernel release, found " +
                                              std::to_string(names.size()));
  return names[0];
}

// From an unpacked linux-image .deb at `root`.
Result<KernelSource> FromUnpackedDeb(const std::string& root, const std::string& deb_name) {
  std::string release = SILK_TRY(
      WithContext(OnlyEntry(root + "/lib/modules"), deb_name + " is not a linux-image package"));
  KernelSource k;
  k.vmlinuz_path = root + "/boot/vmlinuz-" + release;
  k.modules_dir = root + "/lib/modules/" + release;
  k.source = deb_name;
  std::string data = SILK_TRY(WithContext(ReadFile(k.vmlinuz_path), deb_name + " has no kernel"));
  k.version = SILK_TRY(BzImageVersion(data, deb_name + ":boot/vmlinuz-" + release));
  return k;
}

Result<void> Unpack(const std::string& deb, const std::string& into) {
  auto r = Run({"dpkg-deb", "-x", deb, into}, "dpkg");
  if (!r)
    return Fail(
        Error(ErrorCode::kInvalidInput,
              "cannot unpack " + deb + " (missing or corrupt .deb): " + r.error().message()));
  return {};
}

}  // namespace

Result<std::string> BzImageVersion(const std::string& data, const std::string& origin) {
  if (data.size() < 0x210 || data.compare(0x202, 4, "HdrS") != 0)
    return Fail(
        ErrorCode::kInvalidInput,
        origin + ": not a Linux bzImage kernel (no HdrS setup header); corrupt or wrong file");
  uint16_t ptr = 0;
  std::memcpy(&ptr, data.data() + 0x20e, 2);
  size_t off = 0x200 + static_cast<size_t>(ptr);
  if (ptr == 0 || off >= data.size()) return std::string();
  std::string s(data.c_str() + off,
                strnlen(data.c_str() + off, std::min<size_t>(256, data.size() - off)));
  return s.substr(0, s.find(' '));
}

Result<std::pair<std::string, std::string>> ResolveKernelPackage(const std::string& meta) {
  auto show = [](const std::string& pkg) -> Result<std::string> {
    auto r = Run({"apt-cache", "show", "--no-all-versions", pkg}, "apt");
    if (!r || Trim(r->out).empty())
      return Fail(ErrorCode::kNotFound, "apt does not know package " + pkg +
                                            " (run `apt-get update`, or give --kernel PATH)");
    return r->out;
  };
  std::string meta_info = SILK_TRY(show(meta));
  std::string real;
  for (const auto& line : Split(meta_info, '\n')) {
    if (line.rfind("Depends:", 0) != 0) continue;
    for (auto dep : Split(line.substr(8), ',')) {
      dep = Trim(dep);
      dep = dep.substr(0, dep.find(' '));
      if (dep.rfind("linux-image-", 0) == 0) real = dep;
    }
  }
  if (real.empty())
    return Fail(ErrorCode::kNotFound, meta + " does not depend on a linux-image-* package");
  std::string info = SILK_TRY(show(real));
  std::string filename;
  for (const auto& line : Split(info, '\n')) {
    if (line.rfind("Filename:", 0) == 0) filename = Trim(line.substr(9));
  }
  if (filename.empty())
    return Fail(ErrorCode::kNotFound, "apt-cache show " + real + ": no Filename");
  return std::make_pair(real, filename.substr(filename.rfind('/') + 1));
}

Result<KernelSource> ObtainKernel(const std::string& spec, const std::string& modules_dir,
                                  const std::string& cache_dir, const TempDir& scratch,
                                  const std::function<void(const std::string&)>& progress) {
  if (spec.empty()) {
    auto [package, deb_name] = SILK_TRY(ResolveKernelPackage(kMetaPackage));
    std::string stem = deb_name.substr(0, deb_name.size() - 4);
    std::string unpacked = cache_dir + "/" + stem;
    if (Exists(unpacked + "/.complete")) {
      progress("kernel: " + deb_name + " (cached in " + cache_dir + ")");
      return FromUnpackedDeb(unpacked, deb_name);
    }
    SILK_TRY(MakeDirs(cache_dir));
    std::string deb = cache_dir + "/" + deb_name;
    if (!Exists(deb)) {
      progress("kernel: downloading " + package + " with apt-get download");
      TempDir dl = SILK_TRY(TempDir::Create(cache_dir + "/.download-"));
      SILK_TRY(WithContext(Run({"apt-get", "download", "-q", package}, "apt", dl.path()),
                           "downloading the kernel"));
      if (::rename((dl.path() + "/" + deb_name).c_str(), deb.c_str()) != 0)
        return FailErrno("apt-get download did not produce " + deb_name + " in " + dl.path());
    }
    progress("kernel: unpacking " + deb_name);
    TempDir tmp = SILK_TRY(TempDir::Create(unpacked + ".tmp-"));
    SILK_TRY(Unpack(deb, tmp.path()));
    SILK_TRY(FromUnpackedDeb(tmp.path(), deb_name));  // validate before caching
    SILK_TRY(WriteFileAtomic(tmp.path() + "/.complete", deb_name + "\n"));
    if (::rename(tmp.path().c_str(), unpacked.c_str()) == 0) {
      tmp.Release();
    } else if (!Exists(unpacked + "/.complete")) {  // else: a concurrent build won the race
      return FailErrno("cannot move the unpacked kernel to " + unpacked);
    }
    return FromUnpackedDeb(unpacked, deb_name);
  }
  if (spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".deb") == 0) {
    if (!Exists(spec)) return Fail(ErrorCode::kNotFound, "--kernel " + spec + ": no such file");
    progress("kernel: unpacking " + spec);
    std::string into = scratch.path() + "/kernel-deb";
    if (::mkdir(into.c_str(), 0755) != 0) return FailErrno("cannot create " + into);
    SILK_TRY(Unpack(spec, into));
    return FromUnpackedDeb(into, spec.substr(spec.rfind('/') + 1));
  }
  KernelSource k;
  k.vmlinuz_path = spec;
  k.source = "vmlinuz";
  std::string data = SILK_TRY(WithContext(ReadFile(spec), "--kernel"));
  k.version = SILK_TRY(BzImageVersion(data, spec));
  if (!modules_dir.empty()) {
    if (!Exists(modules_dir + "/kernel"))
      return Fail(ErrorCode::kNotFound, "--modules " + modules_dir +
                                            ": not a lib/modules/<release> directory (no kernel/)");
    k.modules_dir = modules_dir;
  }
  return k;
}

}  // namespace silk::images::internal
