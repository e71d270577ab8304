// Command-line value parsing for vmft's flags.
#include <gtest/gtest.h>

#include "LiveOptions.h"
#include "Options.h"
#include "vmft/host/Addresses.h"

namespace vmft::cli {
namespace {

TEST(ParseSize, AcceptsBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64M"), 64ULL << 20);
  EXPECT_EQ(parse_size("64MiB"), 64ULL << 20);
  EXPECT_EQ(parse_size("16MB"), 16ULL << 20);
  EXPECT_EQ(parse_size("1G"), 1ULL << 30);
  EXPECT_EQ(parse_size("512k"), 512ULL << 10);
}

TEST(ParseSize, RefusesUnknownUnitNamingIt) {
  try {
    parse_size("64X");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "size '64X' has an unknown unit (use K, M or G)");
  }
}

TEST(ParseSize, RefusesNonNumbers) {
  EXPECT_THROW(parse_size("M"), std::invalid_argument);
  EXPECT_THROW(parse_size(""), std::invalid_argument);
  EXPECT_THROW(parse_size("-1M"), std::invalid_argument);
}

TEST(ParseSize, RefusesOverflow) {
  EXPECT_THROW(parse_size("99999999999999G"), std::invalid_argument);
}

TEST(ParseEndpoint, AcceptsIpv4AndLocalhost) {
  const auto ep = parse_endpoint("127.0.0.1:6380");
  EXPECT_EQ(ep.ip, 0x7f000001u);
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(parse_endpoint("localhost:0").ip, 0x7f000001u);
  EXPECT_EQ(host::format_endpoint(parse_endpoint("10.1.2.3:9")), "10.1.2.3:9");
}

TEST(ParseEndpoint, RefusesMissingPort) {
  EXPECT_THROW(parse_endpoint("127.0.0.1"), std::invalid_argument);
}

TEST(ParseEndpoint, RefusesPortAbove65535) {
  EXPECT_THROW(parse_endpoint("127.0.0.1:65536"), std::invalid_argument);
}

TEST(ParseEndpoint, RefusesHostNamesAndIpv6) {
  EXPECT_THROW(parse_endpoint("example.org:80"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint("[::1]:80"), std::invalid_argument);
}

// The host's limits on TCP clients (--max-connections, --max-unread-bytes, --idle-timeout).
TEST(NetLimits, DefaultsAreTheDocumentedOnes) {
  const devices::NetLimits limits = net_limits(LiveOptions{});
  EXPECT_EQ(limits.max_connections, 1024u);
  EXPECT_EQ(limits.max_unread_bytes, 16u << 20);
  EXPECT_EQ(limits.idle_timeout.count(), 0);
}

TEST(NetLimits, TakesSizesWithUnitsAndFractionsOfSeconds) {
  LiveOptions options;
  options.max_connections = 7;
  options.max_unread_bytes = "64K";
  options.idle_timeout = 1.5;
  const devices::NetLimits limits = net_limits(options);
  EXPECT_EQ(limits.max_connections, 7u);
  EXPECT_EQ(limits.max_unread_bytes, 64u << 10);
  EXPECT_EQ(limits.idle_timeout.count(), 1500);
}

TEST(NetLimits, RefusesValuesOutOfRangeNamingTheFlag) {
  const auto error = [](LiveOptions options) -> std::string {
    try {
      net_limits(options);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  LiveOptions small_buffer;
  small_buffer.max_unread_bytes = "1K";
  EXPECT_EQ(error(small_buffer), "--max-unread-bytes must be from 64K to 4G, not 1K");
  LiveOptions no_connections;
  no_connections.max_connections = 0;
  EXPECT_EQ(error(no_connections), "--max-connections must be from 1 to 1000000");
  LiveOptions instant;
  instant.idle_timeout = 0.0001;
  EXPECT_EQ(error(instant), "--idle-timeout must be 0 (never) or at least 0.001 seconds");
  LiveOptions negative;
  negative.idle_timeout = -1;
  EXPECT_NE(error(negative).find("--idle-timeout must be from 0 to"), std::string::npos);
}

std::string frame_nic_error(const LiveOptions& options) {
  try {
    frame_nic(options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(FrameNicOptions, TakeTheGuestsAddressAndMakeItsMacFromIt) {
  LiveOptions options;
  options.tap = "tap0";
  options.guest_ip = "198.18.0.10/24";
  options.gateway = "198.18.0.1";
  const auto f = frame_nic(options);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->ip, 0xc612000au);
  EXPECT_EQ(f->prefix_len, 24);
  EXPECT_EQ(f->gateway, 0xc6120001u);
  EXPECT_EQ(f->mtu, 1500u);
  EXPECT_EQ(host::format_mac(f->mac), "02:00:c6:12:00:0a");
  options.guest_mac = "52:54:00:AB:cd:01";
  EXPECT_EQ(host::format_mac(frame_nic(options)->mac), "52:54:00:ab:cd:01");
  EXPECT_EQ(frame_nic(LiveOptions{}), std::nullopt);
}

TEST(FrameNicOptions, RefuseFlagsThatDoNotGoTogetherOrBadValues) {
  LiveOptions options;
  options.guest_ip = "198.18.0.10/24";
  EXPECT_EQ(frame_nic_error(options), "--guest-ip needs --tap");
  options.tap = "tap0";
  options.udp = "127.0.0.1:0";
  EXPECT_EQ(frame_nic_error(options),
            "--tap gives the guest a frame NIC, which replaces --udp and --tcp: use one or the "
            "other");
  options.udp.clear();
  options.guest_ip = "198.18.0.10";
  EXPECT_EQ(frame_nic_error(options), "--tap needs --guest-ip ADDR/PREFIX, e.g. 198.18.0.10/24");
  options.guest_ip = "198.18.0.10/33";
  EXPECT_EQ(frame_nic_error(options), "--guest-ip '198.18.0.10/33': a prefix length from 1 to 32");
  options.guest_ip = "198.18.0.10/24";
  options.gateway = "198.18.1.1";
  EXPECT_EQ(frame_nic_error(options),
            "--gateway 198.18.1.1 is not another address of 198.18.0.10/24's subnet");
  options.gateway.clear();
  options.guest_mac = "01:00:5e:00:00:01";
  EXPECT_EQ(frame_nic_error(options),
            "--guest-mac '01:00:5e:00:00:01' is a multicast address (its first byte is odd)");
  options.guest_mac = "02:00:00:00:00";
  EXPECT_EQ(frame_nic_error(options),
            "--guest-mac '02:00:00:00:00' is not a MAC address like 02:00:c6:12:00:0a");
  options.guest_mac.clear();
  options.mtu = 67;
  EXPECT_EQ(frame_nic_error(options), "--mtu 67: from 68 to 9000");
}

}  // namespace
}  // namespace vmft::cli
