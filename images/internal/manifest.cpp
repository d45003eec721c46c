#include "images/internal/manifest.hpp"

#include <nlohmann/json.hpp>

#include "base/json_object.hpp"
#include "images/internal/crypto.hpp"

namespace silk::images::internal {
namespace {

using Json = nlohmann::json;

std::string ModeString(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

// A SHA-256 in hex: 64 hex digits.
void ReadSha256(JsonObjectReader& r, std::string_view key, std::string& out) {
  if (!r.String(key, out, JsonNeed::kRequired)) return;
  if (out.size() != 64 || !HexDecode(out))
    r.Problem(key, "expected 64 hex digits (a SHA-256), found " + QuoteWord(out));
}

// A "file" member that must name `expected`.
void ReadFileName(JsonObjectReader& r, const std::string& expected) {
  std::string file;
  if (r.String("file", file, JsonNeed::kRequired) && file != expected)
    r.Problem("file", "expected \"" + expected + "\", found " + QuoteWord(file));
}

void ReadKernel(JsonObjectReader& top, Manifest& m) {
  auto k = top.Object("kernel", "kernel", JsonNeed::kRequired);
  if (!k) return;
  ReadFileName(*k, "vmlinuz");
  k->String("version", m.kernel.version, JsonNeed::kRequired);
  k->String("source", m.kernel.source, JsonNeed::kRequired);
  k->Uint("size", m.kernel.size, UINT64_MAX, JsonNeed::kRequired);
  ReadSha256(*k, "sha256", m.kernel.sha256);
  k->Finish();
}

void ReadFileEntry(const Json& value, const std::string& pointer, JsonProblems& problems,
                   ManifestFile& mf) {
  JsonObjectReader f(value, pointer, "initramfs file", problems);
  f.String("path", mf.path, JsonNeed::kRequired);
  f.String("type", mf.type, JsonNeed::kRequired);
  std::string mode;
  if (f.String("mode", mode, JsonNeed::kRequired)) {
    char* end = nullptr;
    mf.mode = static_cast<uint32_t>(std::strtoul(mode.c_str(), &end, 8));
    if (mode.empty() || *end != '\0' || mf.mode > 07777)
      f.Problem("mode", QuoteWord(mode) + " is not an octal mode (0000..7777)");
  }
  if (mf.type == "file") {
    f.Uint("size", mf.size, UINT64_MAX, JsonNeed::kRequired);
    ReadSha256(f, "sha256", mf.sha256);
  } else if (mf.type == "symlink") {
    f.String("target", mf.target, JsonNeed::kRequired);
  } else if (mf.type == "chardev") {
    f.String("rdev", mf.rdev, JsonNeed::kRequired);
  } else if (mf.type != "dir" && f.ok()) {
    f.Problem("type", QuoteWord(mf.type) + " is not file, dir, symlink or chardev");
  }
  f.Finish();
}

void ReadInitramfs(JsonObjectReader& top, Manifest& m) {
  auto i = top.Object("initramfs", "initramfs", JsonNeed::kRequired);
  if (!i) return;
  ReadFileName(*i, "initramfs.img");
  i->String("compression", m.initramfs.compression, JsonNeed::kRequired);
  i->Uint("size", m.initramfs.size, UINT64_MAX, JsonNeed::kRequired);
  i->Uint("unpacked_size", m.initramfs.unpacked_size, UINT64_MAX, JsonNeed::kRequired);
  ReadSha256(*i, "sha256", m.initramfs.sha256);
  if (const Json* files = i->Array("files", "initramfs files", JsonNeed::kRequired)) {
    m.initramfs.files.resize(files->size());
    for (size_t n = 0; n < files->size(); ++n)
      ReadFileEntry((*files)[n], JsonPointerChild(i->Child("files"), n), i->problems(),
                    m.initramfs.files[n]);
  }
  i->Finish();
}

}  // namespace

ManifestFile DescribeEntry(const CpioEntry& e) {
  ManifestFile f;
  f.path = e.path;
  f.type = CpioTypeName(e.type);
  f.mode = e.mode;
  if (e.type == CpioType::kFile) {
    f.size = e.data.size();
    f.sha256 = Sha256Hex(e.data);
  } else if (e.type == CpioType::kSymlink) {
    f.target = e.data;
  } else if (e.type == CpioType::kCharDevice) {
    f.rdev = std::to_string(e.rdev_major) + ":" + std::to_string(e.rdev_minor);
  }
  return f;
}

std::string ManifestToJson(const Manifest& m) {
  Json files = Json::array();
  for (const auto& f : m.initramfs.files) {
    Json j = {{"path", f.path}, {"type", f.type}, {"mode", ModeString(f.mode)}};
    if (f.type == "file") {
      j["size"] = f.size;
      j["sha256"] = f.sha256;
    } else if (f.type == "symlink") {
      j["target"] = f.target;
    } else if (f.type == "chardev") {
      j["rdev"] = f.rdev;
    }
    files.push_back(std::move(j));
  }
  Json root = {
      {"format", kManifestFormat},
      {"name", m.name},
      {"cmdline", m.cmdline},
      {"kernel",
       {{"file", "vmlinuz"},
        {"version", m.kernel.version},
        {"source", m.kernel.source},
        {"size", m.kernel.size},
        {"sha256", m.kernel.sha256}}},
      {"initramfs",
       {{"file", "initramfs.img"},
        {"compression", m.initramfs.compression},
        {"size", m.initramfs.size},
        {"unpacked_size", m.initramfs.unpacked_size},
        {"sha256", m.initramfs.sha256},
        {"files", files}}},
  };
  return root.dump(2) + "\n";
}

Result<Manifest> ParseManifest(const std::string& text) {
  const std::string source = "manifest.json";
  Json root = SILK_TRY(ParseStrictJson(text, source, {.what = "a manifest", .needed_depth = 4}));
  Manifest m;
  JsonProblems problems;
  JsonObjectReader top(root, "", "manifest", problems);
  std::string format;
  if (top.String("format", format, JsonNeed::kRequired) && format != kManifestFormat)
    top.Problem("format",
                QuoteWord(format) + " is not " + kManifestFormat + " (rebuild the image)");
  top.String("name", m.name, JsonNeed::kRequired);
  top.String("cmdline", m.cmdline, JsonNeed::kRequired);
  ReadKernel(top, m);
  ReadInitramfs(top, m);
  top.Finish();
  SILK_TRY(problems.Check(source));
  return m;
}

}  // namespace silk::images::internal
