// The base64 codec of etcd's JSON gateway (arbiter/Base64.h).
#include <gtest/gtest.h>

#include <string>

#include "Base64.h"

namespace vmft::arbiter::detail {
namespace {

TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesWhatItEncodesForEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t length = 0; length <= all.size(); length += 37) {
    const std::string bytes = all.substr(all.size() - length);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << length;
  }
  EXPECT_EQ(base64_decode("dm1mdC9hcmJpdGVyL3A="), "vmft/arbiter/p");
}

TEST(Base64, RejectsAnythingButCanonicalPaddedBase64) {
  EXPECT_EQ(base64_decode("Zm9"), std::nullopt) << "length not a multiple of 4";
  EXPECT_EQ(base64_decode("Zm9v!A=="), std::nullopt) << "outside the alphabet";
  EXPECT_EQ(base64_decode("Zg=a"), std::nullopt) << "padding inside";
  EXPECT_EQ(base64_decode("Z==="), std::nullopt) << "too much padding";
  EXPECT_EQ(base64_decode("Zh=="), std::nullopt) << "stray bits under the padding";
  EXPECT_EQ(base64_decode("Zm9=Zm9v"), std::nullopt) << "padding before the end";
}

}  // namespace
}  // namespace vmft::arbiter::detail
