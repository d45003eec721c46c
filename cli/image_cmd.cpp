// `silk image`: build, verify and show thinix VM images (images/).
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "cli/commands.hpp"
#include "images/build.hpp"
#include "images/image.hpp"

namespace silk::cli {
namespace {

nlohmann::json InfoJson(const images::ImageInfo& i) {
  return {{"dir", i.dir},
          {"name", i.name},
          {"kernel", i.kernel_path},
          {"initramfs", i.initramfs_path},
          {"kernel_version", i.kernel_version},
          {"kernel_source", i.kernel_source},
          {"cmdline", i.cmdline},
          {"compression", i.compression},
          {"kernel_size", i.kernel_size},
          {"initramfs_size", i.initramfs_size},
          {"initramfs_unpacked_size", i.initramfs_unpacked_size},
          {"file_count", i.file_count},
          {"kernel_sha256", i.kernel_sha256},
          {"initramfs_sha256", i.initramfs_sha256},
          {"key_fingerprint", i.key_fingerprint},
          {"verified", true}};
}

std::string MiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

void PrintInfo(const images::ImageInfo& i) {
  std::cout << "image        " << i.dir << " (" << i.name << ")\n"
            << "kernel       " << i.kernel_version << "  " << MiB(i.kernel_size) << "  from "
            << i.kernel_source << "\n"
            << "initramfs    " << MiB(i.initramfs_size) << " " << i.compression << " ("
            << MiB(i.initramfs_unpacked_size) << " unpacked, " << i.file_count << " entries)\n"
            << "cmdline      " << i.cmdline << "\n"
            << "kernel sha   " << i.kernel_sha256 << "\n"
            << "initrd sha   " << i.initramfs_sha256 << "\n"
            << "signed by    " << i.key_fingerprint << " (Ed25519, signature and every "
            << "component verified)\n";
}

int Build(const Args& args) {
  Output out("silk image build");
  po::options_description opts("Options");
  std::string name;
  images::BuildOptions o;
  std::string key;
  opts.add_options()("kernel", po::value<std::string>(&o.kernel),
                     "a linux-image .deb or a vmlinuz (default: Debian's "
                     "linux-image-cloud-amd64 via apt, cached in /var/cache/silk/kernels)")(
      "modules", po::value<std::string>(&o.modules_dir),
      "with a vmlinuz: its lib/modules/<release> directory (else no modules)")(
      "out", po::value<std::string>(&o.out_dir)->default_value(o.out_dir), "image directory")(
      "silk", po::value<std::string>(&o.silk_binary),
      "silk binary to put in the image (default: this one)")(
      "key", po::value<std::string>(&key),
      "Ed25519 PEM private key to sign with (default: /var/lib/silk/keys/image-signing.pem, "
      "created on first use)")(
      "compression", po::value<std::string>(&o.compression)->default_value(o.compression),
      "initramfs compression: zstd (level 9), gzip (level 9), or zstd:N / gzip:N")(
      "no-strip", "keep silk's debug info");
  out.AddJsonFlag(opts, "print the result as JSON on stdout (an error as an error object)");
  out.AddQuietFlag(opts);
  po::options_description hidden;
  hidden.add_options()("name", po::value<std::string>(&name));
  opts.add(hidden);
  po::positional_options_description pos;
  pos.add("name", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk image build thinix [options]",
                          "Builds a signed, reproducible thinix image: a kernel and an initramfs "
                          "with busybox, silk and the kernel modules the guest needs.",
                          opts, pos, args, vm, out))
    return *rc;
  if (name != "thinix")
    return out.Usage(name.empty() ? "which image? (only 'thinix')"
                                  : "unknown image '" + name + "' (only 'thinix')",
                     "NAME");
  if (!key.empty()) {
    o.key_path = key;
    o.create_key = false;
  }
  o.strip_silk = !vm.count("no-strip");
  const bool quiet = out.quiet();
  o.progress = [quiet](const std::string& line) {
    if (!quiet) LogNotice("image: " + line);
  };
  auto info = images::BuildThinix(o);
  if (!info)
    return out.Fail(info.error(),
                    info.error().code() == ErrorCode::kInvalidInput ? kExitUsage : kExitFailure);
  if (out.json()) {
    std::cout << InfoJson(*info).dump(2) << "\n";
  } else {
    PrintInfo(*info);
  }
  return kExitOk;
}

int VerifyOrShow(const Args& args, bool show) {
  Output out(show ? "silk image show" : "silk image verify");
  po::options_description opts("Options");
  std::string dir, key;
  opts.add_options()("key", po::value<std::string>(&key),
                     "PEM public key to trust (default: DIR/signing.pub, which only proves "
                     "integrity)")("deep",
                                   "also unpack the initramfs and check every file's SHA-256");
  out.AddJsonFlag(opts,
                  "print the result as JSON on stdout (a failed verification as an "
                  "error object)");
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::string>(&dir)->required());
  opts.add(hidden);
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  std::string usage =
      show ? "silk image show DIR [--json]" : "silk image verify DIR [--key PUB] [--json]";
  if (auto rc = ParseArgs(usage,
                          show ? "Shows a thinix image (after verifying it)."
                               : "Verifies a thinix image: the manifest's Ed25519 signature and "
                                 "the SHA-256 of every component. Exits 1 naming what failed.",
                          opts, pos, args, vm, out))
    return *rc;
  auto info = images::VerifyImage(dir, key, vm.count("deep") > 0);
  if (!info) return out.Fail(info.error(), kExitFailure, "DIR");
  if (out.json()) {
    std::cout << InfoJson(*info).dump(2) << "\n";
  } else if (show) {
    PrintInfo(*info);
  } else {
    std::cout << "ok: " << info->dir << " verified: Ed25519 signature, kernel and initramfs "
              << "SHA-256 (" << info->file_count << " initramfs entries"
              << (vm.count("deep") ? ", each checked" : ", covered by the archive hash") << ")\n";
  }
  return kExitOk;
}

}  // namespace

int ImageMain(const Args& args) {
  static const std::vector<Command> commands = {
      {"build", "build a signed thinix image", Build},
      {"verify", "verify an image's signature and component hashes",
       [](const Args& a) { return VerifyOrShow(a, false); }},
      {"show", "show a (verified) image", [](const Args& a) { return VerifyOrShow(a, true); }},
  };
  return Dispatch("silk image", "thinix VM images: build, verify, show.", commands, args);
}

}  // namespace silk::cli
