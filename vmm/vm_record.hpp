// silk::vmm: a named VM's record: what `silk vm state` shows and what `silk vm create`
// writes to <state root>/<name>/vm.json at each step of the VM's life (created while it
// boots, running once its agent said hello, stopped). A record whose domain is gone while
// it says created or running reads as lost (vm_lifecycle.hpp decides; the file keeps what
// was written).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::vmm {

enum class VmStatus {
  kCreated,  // booting: `silk vm create` has not seen the agent yet
  kRunning,  // the agent said hello; the domain runs until `silk vm stop`
  kStopped,  // `silk vm stop` ended it (the run directory and disk stay until delete)
  kLost,     // its domain is gone (or its create died) without a stop: delete reclaims
};
const char* VmStatusName(VmStatus status);

struct VmRecord {
  std::string name;
  VmStatus status = VmStatus::kLost;
  std::string domain;  // libvirt's domain name ("silk-vm-<name>")
  std::string uuid;    // the domain's UUID, chosen before it is created (write-ahead)
  std::string uri;     // the libvirt connection the domain lives on
  std::string created_at, started_at, stopped_at;  // RFC 3339, UTC; empty until then
  std::string image_dir;                           // the image it was staged from
  uint64_t memory_mib = 0;
  unsigned vcpus = 0;
  std::string accel;  // "kvm" or "tcg"
  // Run `silk vm exec` commands in a compatibility box under this profile in the guest
  // ("" runs them directly in the guest).
  std::string box_profile;
  uint64_t disk_bytes = 0;  // the virtio disk's size (0: none)
  std::vector<std::string> bridges, taps;
  std::string run_dir;         // the VM's run directory (its state directory)
  std::string control_socket;  // the agent channel's unix socket (QEMU listens there)
  std::string console_log;
  std::string disk;   // the disk's file, if any
  std::string error;  // why the create failed, or what stop had to force
};

// The name rules: 1..48 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit,
// no "..". Errors: kInvalidInput naming the name and the rules.
Result<void> ValidateVmName(const std::string& name);
// The libvirt domain a named VM runs as.
std::string VmDomainName(const std::string& name);

// The record file's JSON (also `silk vm state --json`).
std::string VmRecordToJson(const VmRecord& record);
// Reads a record back (strictly: unknown fields are refused). Errors: kInvalidInput
// naming `source` and the field.
Result<VmRecord> ParseVmRecord(const std::string& json, const std::string& source);

// A fresh random UUID (version 4), lower-case. Errors: kSystem if getrandom fails.
Result<std::string> NewUuid();
// Now as RFC 3339 in UTC ("2026-12-05T23:10:00Z").
std::string VmTimestamp();

}  // namespace silk::vmm
