#include "images/internal/manifest.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "images/internal/crypto.hpp"

namespace silk::images::internal {
namespace {

using Json = nlohmann::json;

std::string ModeString(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

// Reads fields of one JSON object, rejecting unknown keys.
class Fields {
 public:
  Fields(const Json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  Result<void> CheckObject(const std::set<std::string>& allowed) const {
    if (!obj_.is_object()) return Fail(ErrorCode::kInvalidInput, where_ + ": must be an object");
    for (const auto& [key, value] : obj_.items()) {
      if (!allowed.count(key))
        return Fail(ErrorCode::kInvalidInput, where_ + "." + key + ": unknown field");
    }
    return {};
  }
  Result<std::string> String(const std::string& key, bool required = true) const {
    auto it = obj_.find(key);
    if (it == obj_.end()) {
      if (!required) return std::string();
      return Fail(ErrorCode::kInvalidInput, where_ + "." + key + ": missing");
    }
    if (!it->is_string())
      return Fail(ErrorCode::kInvalidInput, where_ + "." + key + ": must be a string");
    return it->get<std::string>();
  }
  Result<uint64_t> Uint(const std::string& key, bool required = true) const {
    auto it = obj_.find(key);
    if (it == obj_.end()) {
      if (!required) return uint64_t{0};
      return Fail(ErrorCode::kInvalidInput, where_ + "." + key + ": missing");
    }
    if (!it->is_number_unsigned())
      return Fail(ErrorCode::kInvalidInput,
                  where_ + "." + key + ": must be a non-negative integer");
    return it->get<uint64_t>();
  }
  Result<std::string> Sha256(const std::string& key) const {
    std::string s = SILK_TRY(String(key));
    if (s.size() != 64 || !HexDecode(s))
      return Fail(ErrorCode::kInvalidInput, where_ + "." + key + ": must be 64 hex digits");
    return s;
  }

 private:
  const Json& obj_;
  std::string where_;
};

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
  Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Fail(ErrorCode::kInvalidInput, "manifest.json: not valid JSON");
  Manifest m;
  Fields top(root, "manifest");
  SILK_TRY(top.CheckObject({"format", "name", "cmdline", "kernel", "initramfs"}));
  std::string format = SILK_TRY(top.String("format"));
  if (format != kManifestFormat)
    return Fail(ErrorCode::kInvalidInput, "manifest.format: '" + format + "' is not " +
                                              kManifestFormat + " (rebuild the image)");
  m.name = SILK_TRY(top.String("name"));
  m.cmdline = SILK_TRY(top.String("cmdline"));

  if (!root.contains("kernel")) return Fail(ErrorCode::kInvalidInput, "manifest.kernel: missing");
  Fields k(root["kernel"], "manifest.kernel");
  SILK_TRY(k.CheckObject({"file", "version", "source", "size", "sha256"}));
  if (SILK_TRY(k.String("file")) != "vmlinuz")
    return Fail(ErrorCode::kInvalidInput, "manifest.kernel.file: must be vmlinuz");
  m.kernel.version = SILK_TRY(k.String("version"));
  m.kernel.source = SILK_TRY(k.String("source"));
  m.kernel.size = SILK_TRY(k.Uint("size"));
  m.kernel.sha256 = SILK_TRY(k.Sha256("sha256"));

  if (!root.contains("initramfs"))
    return Fail(ErrorCode::kInvalidInput, "manifest.initramfs: missing");
  const Json& ij = root["initramfs"];
  Fields i(ij, "manifest.initramfs");
  SILK_TRY(i.CheckObject({"file", "compression", "size", "unpacked_size", "sha256", "files"}));
  if (SILK_TRY(i.String("file")) != "initramfs.img")
    return Fail(ErrorCode::kInvalidInput, "manifest.initramfs.file: must be initramfs.img");
  m.initramfs.compression = SILK_TRY(i.String("compression"));
  m.initramfs.size = SILK_TRY(i.Uint("size"));
  m.initramfs.unpacked_size = SILK_TRY(i.Uint("unpacked_size"));
  m.initramfs.sha256 = SILK_TRY(i.Sha256("sha256"));
  if (!ij.contains("files") || !ij["files"].is_array())
    return Fail(ErrorCode::kInvalidInput, "manifest.initramfs.files: must be an array");
  size_t n = 0;
  for (const auto& fj : ij["files"]) {
    Fields f(fj, "manifest.initramfs.files[" + std::to_string(n++) + "]");
    SILK_TRY(f.CheckObject({"path", "type", "mode", "size", "sha256", "target", "rdev"}));
    ManifestFile mf;
    mf.path = SILK_TRY(f.String("path"));
    mf.type = SILK_TRY(f.String("type"));
    std::string mode = SILK_TRY(f.String("mode"));
    char* end = nullptr;
    mf.mode = static_cast<uint32_t>(std::strtoul(mode.c_str(), &end, 8));
    if (mode.empty() || *end != '\0' || mf.mode > 07777)
      return Fail(ErrorCode::kInvalidInput, "manifest.initramfs.files[" + std::to_string(n - 1) +
                                                "].mode: '" + mode + "' is not an octal mode");
    if (mf.type == "file") {
      mf.size = SILK_TRY(f.Uint("size"));
      mf.sha256 = SILK_TRY(f.Sha256("sha256"));
    } else if (mf.type == "symlink") {
      mf.target = SILK_TRY(f.String("target"));
    } else if (mf.type == "chardev") {
      mf.rdev = SILK_TRY(f.String("rdev"));
    } else if (mf.type != "dir") {
      return Fail(ErrorCode::kInvalidInput, "manifest.initramfs.files[" + std::to_string(n - 1) +
                                                "].type: '" + mf.type +
                                                "' is not file/dir/symlink/chardev");
    }
    m.initramfs.files.push_back(std::move(mf));
  }
  return m;
}

}  // namespace silk::images::internal
