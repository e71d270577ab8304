// Command-line value parsing for vmft's flags.
#include <gtest/gtest.h>

#include "Options.h"

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
  EXPECT_EQ(format_endpoint(parse_endpoint("10.1.2.3:9")), "10.1.2.3:9");
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

}  // namespace
}  // namespace vmft::cli
