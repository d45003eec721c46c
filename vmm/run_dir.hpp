// silk::vmm: per-VM names and run directories.
//
// Every VM silk starts gets a name no other VM on the host has (prefix + random hex) and
// its own directory, <root>/<name>/, holding the control socket and the console log, so
// that several VMs at once never share a socket, a log or a tap name. The directory is
// removed with everything in it when the VmRunDir is destroyed (unless kept).
#pragma once

#include <string>

#include "base/result.hpp"

namespace silk::vmm {

inline constexpr const char kDefaultRunRoot[] = "/run/silk/vm";

// "<prefix>-<12 random hex digits>". Errors: kSystem if getrandom fails.
Result<std::string> UniqueVmName(const std::string& prefix = "silk");
// A tap name unique with the VM's name: "sk" + the name's last 10 hex digits + index
// (<= 15 characters, never libvirt's reserved "vnet").
std::string TapName(const std::string& vm_name, unsigned index);

class VmRunDir {
 public:
  // Creates <root>/<name>/ (mode 0711 on the way so that QEMU, running as its own user,
  // can reach the socket libvirt hands it). Errors: kSystem naming the path.
  static Result<VmRunDir> Create(const std::string& root, const std::string& name);
  VmRunDir(VmRunDir&& o) noexcept : path_(std::move(o.path_)), keep_(o.keep_) { o.path_.clear(); }
  VmRunDir& operator=(VmRunDir&&) = delete;
  ~VmRunDir();

  const std::string& path() const { return path_; }
  std::string control_socket() const { return path_ + "/control.sock"; }
  std::string console_log() const { return path_ + "/console.log"; }
  // Leave the directory in place (e.g. to keep the console log).
  void Keep() { keep_ = true; }

 private:
  explicit VmRunDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool keep_ = false;
};

// The last `lines` lines of a console log, with terminal escape sequences and carriage
// returns removed. Empty if the file is missing or empty.
std::string ConsoleTail(const std::string& path, size_t lines = 15);

}  // namespace silk::vmm
