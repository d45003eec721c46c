// Deterministic initramfs compression: gzip (zlib, header mtime 0) or zstd (libzstd,
// single-threaded). Both are understood by Debian's cloud kernel (CONFIG_RD_GZIP,
// CONFIG_RD_ZSTD).
#pragma once

#include <string>

#include "base/result.hpp"

namespace silk::images::internal {

enum class Compression { kGzip, kZstd };

const char* CompressionName(Compression c);
// "gzip" or "zstd". Errors: kInvalidInput naming the accepted values.
Result<Compression> ParseCompression(const std::string& name);

// Same input, same library version, same level => same bytes.
Result<std::string> Compress(const std::string& data, Compression c);

// Detects gzip or zstd by its magic. Errors: kInvalidInput if neither or corrupt.
Result<std::string> Decompress(const std::string& data);

}  // namespace silk::images::internal
