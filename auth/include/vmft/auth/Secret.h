#pragma once
// The pre-shared secret that the logging channel and the built-in arbiter authenticate peers
// with (--secret-file): challenge-response with HMAC-SHA256 from OpenSSL's libcrypto, so the
// secret itself never travels. docs/channel-protocol.md and docs/arbiter-protocol.md say which
// bytes each side MACs.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace vmft::auth {

/// A challenge's nonce: 32 random bytes, so that no two challenges repeat and a recorded
/// answer is worth nothing.
inline constexpr size_t kNonceBytes = 32;
/// HMAC-SHA256's output.
inline constexpr size_t kMacBytes = 32;
/// A shorter secret could be guessed from one recorded exchange by trying them all; 16 bytes
/// of base64 still carry 96 bits.
inline constexpr size_t kMinSecretBytes = 16;

using Nonce = std::array<uint8_t, kNonceBytes>;
using Mac = std::array<uint8_t, kMacBytes>;

/// Reads a secret file: all of it, one trailing newline (LF or CRLF) stripped. Throws
/// std::runtime_error naming the file if it cannot be read or the secret is shorter than
/// kMinSecretBytes. Warns (spdlog) if group or others may read it.
std::string read_secret_file(const std::string& path);

/// A fresh nonce from OpenSSL's RAND_bytes. Throws std::runtime_error if it has no entropy.
Nonce make_nonce();

/// HMAC-SHA256 keyed with `secret` over the concatenation of `parts`. `secret` must not be
/// empty.
Mac hmac(std::string_view secret, std::initializer_list<std::span<const uint8_t>> parts);

/// Whether `mac` equals `expected`, in time that does not depend on where they differ
/// (CRYPTO_memcmp). False if `mac` has another length.
bool mac_matches(std::span<const uint8_t> mac, const Mac& expected);

/// The bytes of a string, for hmac().
inline std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

/// Lower-case hex, and back: from_hex throws std::invalid_argument unless `text` is exactly
/// `size` bytes of hex.
std::string to_hex(std::span<const uint8_t> bytes);
std::string from_hex(std::string_view text, size_t size);

}  // namespace vmft::auth
