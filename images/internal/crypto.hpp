// SHA-256 and Ed25519 signing keys for thinix manifests, through OpenSSL's EVP API.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace silk::images::internal {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

std::string HexEncode(std::string_view bytes);
// Errors: kInvalidInput if `hex` has odd length or a non-hex character.
Result<std::string> HexDecode(std::string_view hex);

struct PkeyFree {
  void operator()(EVP_PKEY* p) const;
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Loads the Ed25519 private key (PEM, PKCS#8) at `path`; if `create` and the file does
// not exist, generates a new key and writes it there with mode 0600 (creating the
// directory with 0700). Errors: kNotFound if missing and !create; kInvalidInput if the
// file is not an Ed25519 PEM private key; kSystem on I/O failures.
Result<Pkey> LoadOrCreatePrivateKey(const std::string& path, bool create);

// Parses a PEM public key (SubjectPublicKeyInfo). `origin` names it in errors.
// Errors: kInvalidInput if it is not an Ed25519 public key.
Result<Pkey> ParsePublicKey(const std::string& pem, const std::string& origin);

// The PEM SubjectPublicKeyInfo of `key` (private or public).
Result<std::string> PublicKeyPem(EVP_PKEY* key);

// SHA-256 (hex) of the raw 32-byte public key.
Result<std::string> KeyFingerprint(EVP_PKEY* key);

// The 64-byte Ed25519 signature of `message` (deterministic, RFC 8032).
Result<std::string> Sign(EVP_PKEY* key, std::string_view message);

// Errors: kDenied if `signature` is not a valid signature of `message` under `key`.
Result<void> Verify(EVP_PKEY* key, std::string_view message, std::string_view signature);

}  // namespace silk::images::internal
