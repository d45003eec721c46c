#include "images/internal/elf.hpp"

#include <elf.h>

#include <cstring>

#include "base/strings.hpp"

namespace silk::images::internal {
namespace {

template <typename T>
bool ReadAt(const std::string& data, uint64_t off, T* out) {
  if (off > data.size() || data.size() - off < sizeof(T)) return false;
  std::memcpy(out, data.data() + off, sizeof(T));
  return true;
}

Result<Elf64_Ehdr> Header(const std::string& data, const std::string& origin) {
  Elf64_Ehdr eh;
  if (!ReadAt(data, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return Fail(ErrorCode::kInvalidInput, origin + ": not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return Fail(ErrorCode::kInvalidInput, origin + ": not a 64-bit little-endian ELF file");
  return eh;
}

std::string CString(const std::string& data, uint64_t off) {
  if (off >= data.size()) return "";
  return std::string(data.c_str() + off, strnlen(data.c_str() + off, data.size() - off));
}

}  // namespace

Result<ElfDeps> ReadElfDeps(const std::string& data, const std::string& origin) {
  Elf64_Ehdr eh = SILK_TRY(Header(data, origin));
  auto bad = [&](const std::string& what) {
    return Fail(ErrorCode::kInvalidInput, origin + ": corrupt ELF (" + what + ")");
  };
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    if (!ReadAt(data, eh.e_phoff + i * sizeof(Elf64_Phdr), &phdrs[i])) return bad("program header");
  }
  ElfDeps deps;
  const Elf64_Phdr* dynamic = nullptr;
  for (const auto& ph : phdrs) {
    if (ph.p_type == PT_INTERP) deps.interp = CString(data, ph.p_offset);
    if (ph.p_type == PT_DYNAMIC) dynamic = &ph;
  }
  if (!dynamic) return deps;
  // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOADs.
  auto to_offset = [&](uint64_t vaddr) -> int64_t {
    for (const auto& ph : phdrs) {
      if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
        return static_cast<int64_t>(vaddr - ph.p_vaddr + ph.p_offset);
    }
    return -1;
  };
  std::vector<uint64_t> needed, runpath, rpath;
  uint64_t strtab = 0;
  for (uint64_t off = dynamic->p_offset; off < dynamic->p_offset + dynamic->p_filesz;
       off += sizeof(Elf64_Dyn)) {
    Elf64_Dyn d;
    if (!ReadAt(data, off, &d)) return bad("dynamic section");
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_NEEDED) needed.push_back(d.d_un.d_val);
    if (d.d_tag == DT_RUNPATH) runpath.push_back(d.d_un.d_val);
    if (d.d_tag == DT_RPATH) rpath.push_back(d.d_un.d_val);
    if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
  }
  int64_t str_off = to_offset(strtab);
  if (str_off < 0) return bad("DT_STRTAB outside the file");
  for (uint64_t n : needed)
    deps.needed.push_back(CString(data, static_cast<uint64_t>(str_off) + n));
  for (uint64_t n : runpath.empty() ? rpath : runpath) {
    for (const auto& dir : Split(CString(data, static_cast<uint64_t>(str_off) + n), ':'))
      if (!dir.empty()) deps.runpath.push_back(dir);
  }
  return deps;
}

Result<std::vector<std::string>> ReadModinfo(const std::string& data, const std::string& origin) {
  Elf64_Ehdr eh = SILK_TRY(Header(data, origin));
  Elf64_Shdr names;
  if (!ReadAt(data, eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr), &names))
    return Fail(ErrorCode::kInvalidInput, origin + ": corrupt ELF (section headers)");
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!ReadAt(data, eh.e_shoff + i * sizeof(Elf64_Shdr), &sh))
      return Fail(ErrorCode::kInvalidInput, origin + ": corrupt ELF (section header)");
    if (CString(data, names.sh_offset + sh.sh_name) != ".modinfo") continue;
    if (sh.sh_offset > data.size() || data.size() - sh.sh_offset < sh.sh_size)
      return Fail(ErrorCode::kInvalidInput, origin + ": corrupt ELF (.modinfo outside the file)");
    std::vector<std::string> out;
    for (const auto& s : Split(std::string_view(data).substr(sh.sh_offset, sh.sh_size), '\0'))
      if (!s.empty()) out.push_back(s);
    return out;
  }
  return Fail(ErrorCode::kInvalidInput, origin + ": no .modinfo section (not a kernel module)");
}

}  // namespace silk::images::internal
