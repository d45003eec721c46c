#include "vmm/internal/libvirt_api.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace silk::vmm::internal {

namespace {

// Where a loaded library lives on disk, for messages ("" if dlinfo cannot say).
std::string LoadedPath(void* handle) {
  link_map* map = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr || map->l_name == nullptr)
    return "";
  return map->l_name;
}

}  // namespace

Result<LibvirtApi> LoadLibvirtFrom(const std::string& soname) {
  void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Fail(ErrorCode::kUnsupported,
                "libvirt is not installed in this image/host (cannot load " + soname + ": " +
                    (why != nullptr ? why : "unknown dlopen error") +
                    "): install libvirt0 (apt-get install libvirt0) to run VMs from here; "
                    "inside a thinix guest, drive VMs from the host instead");
  }
  LibvirtApi api;
  std::string missing;
#define SILK_LIBVIRT_RESOLVE(fn)                          \
  {                                                       \
    void* sym = ::dlsym(handle, #fn);                     \
    if (sym == nullptr && missing.empty()) missing = #fn; \
    api.fn = reinterpret_cast<decltype(api.fn)>(sym);     \
  }
  SILK_LIBVIRT_FUNCTIONS(SILK_LIBVIRT_RESOLVE)
#undef SILK_LIBVIRT_RESOLVE
  if (!missing.empty()) {
    std::string path = LoadedPath(handle);
    ::dlclose(handle);
    return Fail(ErrorCode::kUnsupported,
                soname + (path.empty() ? "" : " (" + path + ")") + " has no " + missing +
                    ": it is not libvirt, or too old a libvirt for silk; install a current "
                    "libvirt0 (apt-get install libvirt0)");
  }
  // Deliberately never dlclose()d: libvirt keeps threads and global state.
  return api;
}

Result<const LibvirtApi*> LoadLibvirt() {
  static std::once_flag once;
  static Result<LibvirtApi>* loaded = nullptr;  // leaked: valid until exit, after statics die
  std::call_once(once, [] { loaded = new Result<LibvirtApi>(LoadLibvirtFrom(kLibvirtSoname)); });
  if (!*loaded) return Fail(loaded->error());
  return &loaded->value();
}

const LibvirtApi& Libvirt() {
  auto api = LoadLibvirt();
  if (!api) {
    std::fprintf(stderr, "silk: internal error: libvirt used before it was loaded: %s\n",
                 api.error().message().c_str());
    std::abort();
  }
  return **api;
}

}  // namespace silk::vmm::internal
