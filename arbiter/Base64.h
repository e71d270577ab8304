#pragma once
// Standard base64 (RFC 4648, with padding), as etcd's JSON gateway carries keys and values.

#include <optional>
#include <string>
#include <string_view>

namespace vmft::arbiter::detail {

std::string base64_encode(std::string_view bytes);
/// nullopt unless `text` is canonical padded base64 (a length that is a multiple of 4, only
/// the alphabet, '=' only as padding, no stray bits in the last character).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace vmft::arbiter::detail
