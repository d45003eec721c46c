#include "images/internal/compress.hpp"

#include <zlib.h>
#include <zstd.h>

namespace silk::images::internal {
namespace {

Result<std::string> Gzip(const std::string& data, int level) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper with a zeroed header (mtime 0, no name): deterministic.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
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

Result<std::string> Zstd(const std::string& data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
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

Result<CompressionSpec> ParseCompression(const std::string& name) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidInput,
                "unknown compression '" + name + "' (use gzip, zstd, gzip:1..9 or zstd:1..19)");
  };
  std::string kind = name.substr(0, name.find(':'));
  CompressionSpec spec;
  if (kind == "gzip") {
    spec = {Compression::kGzip, kDefaultGzipLevel};
  } else if (kind == "zstd") {
    spec = {Compression::kZstd, kDefaultZstdLevel};
  } else {
    return bad();
  }
  if (kind.size() < name.size()) {
    std::string level = name.substr(kind.size() + 1);
    int max = spec.kind == Compression::kGzip ? 9 : 19;
    if (level.empty() || level.size() > 2 ||
        level.find_first_not_of("0123456789") != std::string::npos)
      return bad();
    spec.level = std::stoi(level);
    if (spec.level < 1 || spec.level > max) return bad();
  }
  return spec;
}

Result<std::string> Compress(const std::string& data, CompressionSpec spec) {
  return spec.kind == Compression::kGzip ? Gzip(data, spec.level) : Zstd(data, spec.level);
}

Result<std::string> Compress(const std::string& data, Compression c) {
  return Compress(data, c == Compression::kGzip ? CompressionSpec{c, kDefaultGzipLevel}
                                                : CompressionSpec{c, kDefaultZstdLevel});
}

Result<std::string> Decompress(const std::string& data) {
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
      static_cast<unsigned char>(data[1]) == 0x8b)
    return Gunzip(data);
  if (data.size() >= 4 && data.compare(0, 4, "\x28\xb5\x2f\xfd") == 0) return Unzstd(data);
  return Fail(ErrorCode::kInvalidInput, "neither gzip nor zstd data (unknown magic)");
}

}  // namespace silk::images::internal
