#include "images/internal/compress.hpp"

#include <zlib.h>
#include <zstd.h>

namespace silk::images::internal {
namespace {

// zstd -19 is the best ratio without the memory of --ultra; decompression speed in the
// guest does not depend on the level.
constexpr int kZstdLevel = 19;

Result<std::string> Gzip(const std::string& data) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper with a zeroed header (mtime 0, no name): deterministic.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return Fail(ErrorCode::kSystem, "zlib deflateInit2 failed");
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Fail(ErrorCode::kSystem, "zlib deflate failed");
  return out;
}

Result<std::string> Gunzip(const std::string& data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK)
    return Fail(ErrorCode::kSystem, "zlib inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return Fail(ErrorCode::kInvalidInput,
                "gzip data is corrupt or truncated (zlib error " + std::to_string(rc) + ")");
  return out;
}

Result<std::string> Zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), kZstdLevel);
  if (ZSTD_isError(n))
    return Fail(ErrorCode::kSystem, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> Unzstd(const std::string& data) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds) return Fail(ErrorCode::kSystem, "ZSTD_createDStream failed");
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t rc = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      return Fail(ErrorCode::kInvalidInput,
                  std::string("zstd data is corrupt: ") + ZSTD_getErrorName(rc));
    }
    out.append(buf.data(), ob.pos);
  }
  ZSTD_freeDStream(ds);
  if (rc != 0) return Fail(ErrorCode::kInvalidInput, "zstd data is truncated");
  return out;
}

}  // namespace

const char* CompressionName(Compression c) { return c == Compression::kGzip ? "gzip" : "zstd"; }

Result<Compression> ParseCompression(const std::string& name) {
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  return Fail(ErrorCode::kInvalidInput, "unknown compression '" + name + "' (use gzip or zstd)");
}

Result<std::string> Compress(const std::string& data, Compression c) {
  return c == Compression::kGzip ? Gzip(data) : Zstd(data);
}

Result<std::string> Decompress(const std::string& data) {
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
      static_cast<unsigned char>(data[1]) == 0x8b)
    return Gunzip(data);
  if (data.size() >= 4 && data.compare(0, 4, "\x28\xb5\x2f\xfd") == 0) return Unzstd(data);
  return Fail(ErrorCode::kInvalidInput, "neither gzip nor zstd data (unknown magic)");
}

}  // namespace silk::images::internal
