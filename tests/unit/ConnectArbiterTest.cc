// From --arbiter addresses to arbiter clients (parse_arbiter_address, connect_arbiter).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "vmft/arbiter/ArbiterClient.h"
#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/arbiter/EtcdArbiter.h"

namespace vmft::arbiter {
namespace {

using Kind = ArbiterAddress::Kind;

// The message parse_arbiter_address throws for `text`, or "" if it throws none.
std::string refusal(const std::string& text) {
  try {
    parse_arbiter_address(text);
    return "";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

TEST(ArbiterAddress, HostAndPortNameTheBuiltInArbiter) {
  const ArbiterAddress a = parse_arbiter_address("10.0.0.3:7000");
  EXPECT_EQ(a.kind, Kind::kBuiltIn);
  EXPECT_EQ(a.endpoints, std::vector<std::string>{"10.0.0.3:7000"});
  EXPECT_EQ(parse_arbiter_address("arbiter.example:7000").kind, Kind::kBuiltIn);
}

TEST(ArbiterAddress, EtcdSchemeListsTheMembersInOrder) {
  const ArbiterAddress a = parse_arbiter_address("etcd://10.0.0.1:2379,etcd-b:2379,10.0.0.3:2379");
  EXPECT_EQ(a.kind, Kind::kEtcd);
  EXPECT_EQ(a.endpoints,
            (std::vector<std::string>{"10.0.0.1:2379", "etcd-b:2379", "10.0.0.3:2379"}));
  EXPECT_EQ(parse_arbiter_address("etcd://127.0.0.1:2379").endpoints.size(), 1u);
}

TEST(ArbiterAddress, RefusalsNameTheProblem) {
  EXPECT_EQ(refusal("localhost"), "arbiter address 'localhost' must be HOST:PORT");
  EXPECT_EQ(refusal("127.0.0.1:0"),
            "arbiter address '127.0.0.1:0': the port must be a number from 1 to 65535");
  EXPECT_EQ(refusal("etcd://"),
            "arbiter address 'etcd://' lists no etcd endpoint (HOST:PORT for `vmft arbiter`, "
            "etcd://HOST:PORT[,HOST:PORT...] for etcd)");
  EXPECT_EQ(refusal("etcd://a:1,,b:2"),
            "arbiter address 'etcd://a:1,,b:2' has an empty etcd endpoint");
  EXPECT_EQ(refusal("etcd://a:1,"), "arbiter address 'etcd://a:1,' has an empty etcd endpoint");
  EXPECT_EQ(refusal("etcd://a:1,b"), "etcd endpoint 'b' must be HOST:PORT");
  EXPECT_EQ(refusal("etcd://a:99999"),
            "etcd endpoint 'a:99999': the port must be a number from 1 to 65535");
  EXPECT_EQ(refusal("https://a:2379"),
            "arbiter address 'https://a:2379': unknown scheme 'https://' (HOST:PORT for `vmft "
            "arbiter`, etcd://HOST:PORT[,HOST:PORT...] for etcd)");
}

TEST(ConnectArbiter, GivesTheClientTheAddressNames) {
  const auto built_in = connect_arbiter("127.0.0.1:7000");
  ASSERT_NE(dynamic_cast<ArbiterClient*>(built_in.get()), nullptr);
  EXPECT_EQ(dynamic_cast<ArbiterClient&>(*built_in).address(), "127.0.0.1:7000");
  const auto etcd = connect_arbiter("etcd://127.0.0.1:2379,127.0.0.1:2380");
  EXPECT_NE(dynamic_cast<EtcdArbiter*>(etcd.get()), nullptr);
  EXPECT_THROW(connect_arbiter("etcd://"), std::invalid_argument);
}

TEST(EtcdArbiterConstruction, RefusesNoEndpointsAndMalformedOnes) {
  EXPECT_THROW(EtcdArbiter(std::vector<std::string>{}), std::invalid_argument);
  EXPECT_THROW(EtcdArbiter({"127.0.0.1:2379", "nowhere"}), std::invalid_argument);
}

}  // namespace
}  // namespace vmft::arbiter
