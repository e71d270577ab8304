// The pre-shared secret: its file, HMAC-SHA256, and the MACs of the channel's handshake and
// the arbiter's AUTH.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "Messages.h"
#include "Protocol.h"
#include "vmft/auth/Secret.h"

namespace vmft::testing {
namespace {

namespace fs = std::filesystem;

class SecretFile : public ::testing::Test {
 protected:
  ~SecretFile() override { fs::remove_all(dir_); }
  std::string write(const std::string& text) {
    const fs::path path = dir_ / "secret";
    std::ofstream(path, std::ios::binary) << text;
    ::chmod(path.c_str(), 0600);
    return path.string();
  }
  fs::path dir_ = [] {
    std::string t = (fs::temp_directory_path() / "vmft-secret-XXXXXX").string();
    return fs::path(::mkdtemp(t.data()));
  }();
};

TEST_F(SecretFile, IsReadWholeWithoutItsTrailingNewline) {
  EXPECT_EQ(auth::read_secret_file(write("0123456789abcdef xyz\n")), "0123456789abcdef xyz");
  EXPECT_EQ(auth::read_secret_file(write("0123456789abcdef\r\n")), "0123456789abcdef");
}

TEST_F(SecretFile, ShorterThan16BytesIsRefused) {
  try {
    auth::read_secret_file(write("short\n"));
    FAIL() << "a 5-byte secret was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is 5 bytes long: it needs at least 16"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SecretFile, AMissingFileIsNamed) {
  try {
    auth::read_secret_file((dir_ / "none").string());
    FAIL() << "a missing file was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read the secret file"), std::string::npos);
  }
}

// RFC 4231, test case 2.
TEST(Hmac, MatchesTheRfc4231Vector) {
  const std::string data = "what do ya want for nothing?";
  EXPECT_EQ(auth::to_hex(auth::hmac(
                "Jefe", {auth::bytes_of(data.substr(0, 10)), auth::bytes_of(data.substr(10))})),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hmac, MatchesOnlyTheSameMacOfTheSameLength) {
  const auth::Mac mac = auth::hmac("k", {auth::bytes_of("x")});
  EXPECT_TRUE(auth::mac_matches(mac, mac));
  auth::Mac other = mac;
  other[31] ^= 1;
  EXPECT_FALSE(auth::mac_matches(other, mac));
  EXPECT_FALSE(auth::mac_matches(std::span(mac).first(31), mac));
}

TEST(Hmac, HexRoundTripsAndRefusesOtherText) {
  const auth::Nonce nonce = auth::make_nonce();
  const std::string bytes = auth::from_hex(auth::to_hex(nonce), nonce.size());
  EXPECT_TRUE(auth::mac_matches(auth::bytes_of(bytes), nonce));
  EXPECT_THROW(auth::from_hex("zz", 1), std::invalid_argument);
  EXPECT_THROW(auth::from_hex("abc", 1), std::invalid_argument);
}

TEST(Hmac, NoncesDiffer) { EXPECT_NE(auth::make_nonce(), auth::make_nonce()); }

TEST(ChannelProof, ChangesWithTheHelloTheNoncesAndTheSecret) {
  const auth::Nonce a = auth::make_nonce(), b = auth::make_nonce();
  const std::vector<uint8_t> hello{1, 2, 3}, tampered{1, 2, 4};
  const auth::Mac mac = channel::detail::backup_proof("secret", a, b, hello);
  EXPECT_EQ(mac, channel::detail::backup_proof("secret", a, b, hello));
  EXPECT_NE(mac, channel::detail::backup_proof("secret", a, b, tampered));
  EXPECT_NE(mac, channel::detail::backup_proof("secret", b, a, hello));
  EXPECT_NE(mac, channel::detail::backup_proof("secreT", a, b, hello));
  EXPECT_NE(channel::detail::primary_proof("secret", b),
            channel::detail::primary_proof("secreT", b));
}

TEST(ChannelProof, DecodesOnlyANonceAndAMac) {
  channel::detail::Proof proof{auth::make_nonce(), {}};
  proof.mac[0] = 9;
  std::vector<uint8_t> payload = channel::detail::encode_proof(proof);
  const auto decoded = channel::detail::decode_proof(payload);
  EXPECT_EQ(decoded.nonce, proof.nonce);
  EXPECT_EQ(decoded.mac, proof.mac);
  payload.pop_back();
  EXPECT_THROW(channel::detail::decode_proof(payload), logchannel::LogError);
  payload.push_back(0);
  payload.push_back(0);
  EXPECT_THROW(channel::detail::decode_proof(payload), logchannel::LogError);
}

TEST(ArbiterAuth, ParsesTheChallengeAndTheAuthItAsks) {
  const auth::Nonce server = auth::make_nonce(), client = auth::make_nonce();
  EXPECT_EQ(arbiter::detail::parse_challenge(arbiter::detail::format_challenge(server)), server);
  EXPECT_THROW(arbiter::detail::parse_challenge("STATE 0 none -"), arbiter::ArbiterUnavailable);
  const auth::Mac mac = arbiter::detail::client_proof("secret", server);
  const auto request =
      arbiter::detail::parse_auth_request(arbiter::detail::format_auth_request(mac, client));
  EXPECT_TRUE(auth::mac_matches(auth::bytes_of(request.mac), mac));
  EXPECT_EQ(request.nonce, client);
  EXPECT_THROW(arbiter::detail::parse_auth_request("AUTH 00"), std::invalid_argument);
  EXPECT_NE(arbiter::detail::client_proof("secret", server),
            arbiter::detail::server_proof("secret", server));
}

}  // namespace
}  // namespace vmft::testing
