#include "vmft/auth/Secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace vmft::auth {

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the secret file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read the secret file '" + path + "'");
  std::string secret = text.str();
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.size() < kMinSecretBytes) {
    throw std::runtime_error("the secret in '" + path + "' is " + std::to_string(secret.size()) +
                             " bytes long: it needs at least " + std::to_string(kMinSecretBytes) +
                             " (make one with: head -c 32 /dev/urandom | base64 > FILE)");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("the secret file '{}' is readable by others than its owner: chmod 600 it", path);
  }
  return secret;
}

Nonce make_nonce() {
  Nonce nonce;
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("OpenSSL's RAND_bytes has no randomness to give");
  }
  return nonce;
}

Mac hmac(std::string_view secret, std::initializer_list<std::span<const uint8_t>> parts) {
  if (secret.empty()) throw std::logic_error("hmac with an empty secret");
  // The one-shot HMAC() (the streaming HMAC_CTX calls are deprecated in OpenSSL 3); what is
  // MACed here is a handshake message, at most 64 KiB.
  std::vector<uint8_t> message;
  for (const auto part : parts) message.insert(message.end(), part.begin(), part.end());
  Mac mac{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), message.data(),
           message.size(), mac.data(), &length) == nullptr ||
      length != mac.size()) {
    throw std::runtime_error("OpenSSL cannot compute an HMAC-SHA256");
  }
  return mac;
}

bool mac_matches(std::span<const uint8_t> mac, const Mac& expected) {
  return mac.size() == expected.size() &&
         CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) == 0;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string from_hex(std::string_view text, size_t size) {
  if (text.size() != 2 * size) {
    throw std::invalid_argument("expected " + std::to_string(2 * size) + " hex digits, got " +
                                std::to_string(text.size()) + " characters");
  }
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    const int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) throw std::invalid_argument("not a hex digit");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace vmft::auth
