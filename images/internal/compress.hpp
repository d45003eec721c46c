// Deterministic initramfs compression: gzip (zlib, header mtime 0) or zstd (libzstd,
// single-threaded). Both are understood by Debian's cloud kernel (CONFIG_RD_GZIP,
// CONFIG_RD_ZSTD).
#pragma once

#include <string>

#include "base/result.hpp"

namespace silk::images::internal {

enum class Compression { kGzip, kZstd };

// Default levels: zstd 9 compresses thinix's ~70 MiB archive in ~4 s on this machine;
// zstd 19 saves ~15% more but takes ~100 s. gzip 9: larger and slower than zstd 9.
inline constexpr int kDefaultZstdLevel = 9;
inline constexpr int kDefaultGzipLevel = 9;

struct CompressionSpec {
  Compression kind = Compression::kZstd;
  int level = kDefaultZstdLevel;
};

const char* CompressionName(Compression c);
// "gzip", "zstd", "gzip:LEVEL" (1-9) or "zstd:LEVEL" (1-19). Errors: kInvalidInput
// naming the accepted values.
Result<CompressionSpec> ParseCompression(const std::string& name);

// Same input, same library version, same level => same bytes.
Result<std::string> Compress(const std::string& data, Compression c);
Result<std::string> Compress(const std::string& data, CompressionSpec spec);

// Detects gzip or zstd by its magic. Errors: kInvalidInput if neither or corrupt.
Result<std::string> Decompress(const std::string& data);

}  // namespace silk::images::internal
