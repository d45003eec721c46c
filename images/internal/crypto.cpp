#include "images/internal/crypto.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "base/file.hpp"

namespace silk::images::internal {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// Creates `dir` with `mode` and any missing parents with 0755 (parents stay traversable:
// libvirt's QEMU, running as another user, reads images under the same /var/lib/silk).
Result<void> MakeDirs(const std::string& dir, mode_t mode) {
  std::string cur;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (cur.empty()) continue;
    mode_t m = pos == std::string::npos ? mode : 0755;
    if (::mkdir(cur.c_str(), m) == 0) {
      if (::chmod(cur.c_str(), m) != 0) return FailErrno("cannot chmod " + cur);  // umask
    } else if (errno != EEXIST) {
      return FailErrno("cannot create directory " + cur);
    }
  }
  return {};
}

}  // namespace

void PkeyFree::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return Fail(ErrorCode::kInvalidInput, "hex string has odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return Fail(ErrorCode::kInvalidInput, "not a hex digit at offset " + std::to_string(i));
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

Result<Pkey> LoadOrCreatePrivateKey(const std::string& path, bool create) {
  auto pem = ReadFile(path);
  if (!pem && pem.error().code() == ErrorCode::kNotFound && create) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) SILK_TRY(MakeDirs(path.substr(0, slash), 0700));
    EVP_PKEY* raw = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    bool ok = ctx && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_keygen(ctx, &raw) > 0;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) return Fail(ErrorCode::kSystem, "Ed25519 key generation failed: " + OpensslError());
    Pkey key(raw);
    Bio bio(BIO_new(BIO_s_mem()));
    if (!PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
      return Fail(ErrorCode::kSystem, "cannot encode the new key: " + OpensslError());
    SILK_TRY(WithContext(WriteFileAtomic(path, BioContents(bio.get()), 0600),
                         "writing the new image signing key"));
    return key;
  }
  if (!pem) return Fail(std::move(pem).error().Wrap("reading the image signing key"));
  Bio bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key)
    return Fail(ErrorCode::kInvalidInput,
                path + ": not a PEM private key (" + OpensslError() +
                    "); create one with: openssl genpkey -algorithm ed25519 -out " + path);
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return Fail(ErrorCode::kInvalidInput, path + ": the signing key must be Ed25519");
  return key;
}

Result<Pkey> ParsePublicKey(const std::string& pem, const std::string& origin) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key)
    return Fail(ErrorCode::kInvalidInput,
                origin + ": not a PEM public key (" + OpensslError() + ")");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return Fail(ErrorCode::kInvalidInput, origin + ": not an Ed25519 public key");
  return key;
}

Result<std::string> PublicKeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PUBKEY(bio.get(), key))
    return Fail(ErrorCode::kSystem, "cannot encode public key: " + OpensslError());
  return BioContents(bio.get());
}

Result<std::string> KeyFingerprint(EVP_PKEY* key) {
  unsigned char raw[64];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) <= 0)
    return Fail(ErrorCode::kSystem, "cannot read raw public key: " + OpensslError());
  return Sha256Hex(std::string_view(reinterpret_cast<char*>(raw), len));
}

Result<std::string> Sign(EVP_PKEY* key, std::string_view message) {
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) <= 0 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()) <= 0)
    return Fail(ErrorCode::kSystem, "Ed25519 sign init failed: " + OpensslError());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg,
                     message.size()) <= 0)
    return Fail(ErrorCode::kSystem, "Ed25519 sign failed: " + OpensslError());
  sig.resize(len);
  return sig;
}

Result<void> Verify(EVP_PKEY* key, std::string_view message, std::string_view signature) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) <= 0)
    return Fail(ErrorCode::kSystem, "Ed25519 verify init failed: " + OpensslError());
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  if (rc != 1) return Fail(ErrorCode::kDenied, "the signature does not match the manifest");
  return {};
}

}  // namespace silk::images::internal
