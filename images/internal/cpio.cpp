#include "images/internal/cpio.hpp"

#include <sys/stat.h>

#include <cstdio>

#include "base/strings.hpp"

namespace silk::images::internal {
namespace {

constexpr char kMagic[] = "070701";
constexpr size_t kHeaderSize = 110;
constexpr char kTrailer[] = "TRAILER!!!";

void Pad4(std::string& out) {
  while (out.size() % 4) out += '\0';
}

void AppendHeader(std::string& out, uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t filesize,
                  uint32_t rmaj, uint32_t rmin, const std::string& name) {
  char hdr[kHeaderSize + 1];
  std::snprintf(hdr, sizeof hdr, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", kMagic,
                ino, mode, 0u, 0u, nlink, 0u, filesize, 0u, 0u, rmaj, rmin,
                static_cast<uint32_t>(name.size() + 1), 0u);
  out.append(hdr, kHeaderSize);
  out += name;
  out += '\0';
  Pad4(out);
}

uint32_t TypeBits(CpioType type) {
  switch (type) {
    case CpioType::kDirectory:
      return S_IFDIR;
    case CpioType::kFile:
      return S_IFREG;
    case CpioType::kSymlink:
      return S_IFLNK;
    case CpioType::kCharDevice:
      return S_IFCHR;
  }
  return 0;
}

Result<uint32_t> HexField(const std::string& a, size_t off) {
  uint32_t v = 0;
  for (size_t i = off; i < off + 8; ++i) {
    char c = a[i];
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0)
      return Fail(ErrorCode::kInvalidInput,
                  "cpio: non-hex header field at byte offset " + std::to_string(off));
    v = v << 4 | static_cast<uint32_t>(d);
  }
  return v;
}

}  // namespace

const char* CpioTypeName(CpioType type) {
  switch (type) {
    case CpioType::kDirectory:
      return "dir";
    case CpioType::kFile:
      return "file";
    case CpioType::kSymlink:
      return "symlink";
    case CpioType::kCharDevice:
      return "chardev";
  }
  return "?";
}

Result<void> CpioWriter::Add(CpioEntry entry) {
  const std::string& p = entry.path;
  if (p.empty() || p.front() == '/' || p.back() == '/')
    return Fail(ErrorCode::kInvalidInput,
                "cpio: bad path '" + p + "' (must be relative, no trailing /)");
  auto parts = Split(p, '/');
  std::string parent;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i] == "." || parts[i] == "..")
      return Fail(ErrorCode::kInvalidInput, "cpio: bad path component in '" + p + "'");
    if (i + 1 == parts.size()) break;
    parent += (parent.empty() ? "" : "/") + parts[i];
    auto it = entries_.find(parent);
    if (it == entries_.end()) {
      entries_[parent] = CpioEntry{parent, CpioType::kDirectory, 0755, {}, 0, 0};
    } else if (it->second.type != CpioType::kDirectory) {
      return Fail(ErrorCode::kInvalidInput,
                  "cpio: '" + p + "' is inside '" + parent + "', which is not a directory");
    }
  }
  entry.mode &= 07777;
  entries_[p] = std::move(entry);
  return {};
}

Result<void> CpioWriter::AddDirectory(const std::string& path, uint32_t mode) {
  return Add(CpioEntry{path, CpioType::kDirectory, mode, {}, 0, 0});
}
Result<void> CpioWriter::AddFile(const std::string& path, std::string data, uint32_t mode) {
  return Add(CpioEntry{path, CpioType::kFile, mode, std::move(data), 0, 0});
}
Result<void> CpioWriter::AddSymlink(const std::string& path, const std::string& target) {
  if (target.empty())
    return Fail(ErrorCode::kInvalidInput, "cpio: empty symlink target for " + path);
  return Add(CpioEntry{path, CpioType::kSymlink, 0777, target, 0, 0});
}
Result<void> CpioWriter::AddCharDevice(const std::string& path, uint32_t mode, uint32_t major,
                                       uint32_t minor) {
  return Add(CpioEntry{path, CpioType::kCharDevice, mode, {}, major, minor});
}

std::vector<const CpioEntry*> CpioWriter::Entries() const {
  std::vector<const CpioEntry*> out;
  for (const auto& [path, e] : entries_) out.push_back(&e);
  return out;
}

std::string CpioWriter::Finish() const {
  std::string out;
  uint32_t ino = 1;
  for (const auto& [path, e] : entries_) {
    bool has_data = e.type == CpioType::kFile || e.type == CpioType::kSymlink;
    uint32_t size = has_data ? static_cast<uint32_t>(e.data.size()) : 0;
    AppendHeader(out, ino++, TypeBits(e.type) | e.mode, e.type == CpioType::kDirectory ? 2 : 1,
                 size, e.rdev_major, e.rdev_minor, path);
    if (has_data) {
      out += e.data;
      Pad4(out);
    }
  }
  AppendHeader(out, 0, 0, 1, 0, 0, 0, kTrailer);
  return out;
}

Result<std::vector<CpioEntry>> ParseCpio(const std::string& a) {
  std::vector<CpioEntry> out;
  size_t off = 0;
  auto bad = [&](const std::string& what) {
    return Fail(ErrorCode::kInvalidInput,
                "cpio: " + what + " at byte offset " + std::to_string(off));
  };
  for (;;) {
    if (off + kHeaderSize > a.size()) return bad("truncated header (no TRAILER!!!)");
    if (a.compare(off, 6, kMagic) != 0) return bad("bad magic (want newc 070701)");
    uint32_t f[13];
    for (int i = 0; i < 13; ++i) f[i] = SILK_TRY(HexField(a, off + 6 + 8 * static_cast<size_t>(i)));
    uint32_t mode = f[1], filesize = f[6], rmaj = f[9], rmin = f[10], namesize = f[11];
    size_t name_off = off + kHeaderSize;
    if (namesize == 0 || name_off + namesize > a.size()) return bad("truncated name");
    std::string name = a.substr(name_off, namesize - 1);
    size_t data_off = (name_off + namesize + 3) & ~size_t{3};
    if (name == kTrailer) break;
    if (data_off + filesize > a.size()) return bad("truncated body of '" + name + "'");
    CpioEntry e;
    e.path = name;
    e.mode = mode & 07777;
    switch (mode & S_IFMT) {
      case S_IFDIR:
        e.type = CpioType::kDirectory;
        break;
      case S_IFREG:
        e.type = CpioType::kFile;
        break;
      case S_IFLNK:
        e.type = CpioType::kSymlink;
        break;
      case S_IFCHR:
        e.type = CpioType::kCharDevice;
        break;
      default:
        return bad("unsupported file type in mode " + std::to_string(mode) + " of '" + name + "'");
    }
    e.data = a.substr(data_off, filesize);
    e.rdev_major = rmaj;
    e.rdev_minor = rmin;
    out.push_back(std::move(e));
    off = (data_off + filesize + 3) & ~size_t{3};
  }
  return out;
}

}  // namespace silk::images::internal
