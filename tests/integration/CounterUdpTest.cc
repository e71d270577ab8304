// The counter example guest over UDP: whole requests per datagram, replies to the sender.
#include <gtest/gtest.h>

#include <string>

#include "CounterServerTest.h"
#include "NetClients.h"
#include "RespText.h"

namespace vmft::integration {
namespace {

TEST_F(CounterServer, AnswersAnInlineCommandInADatagram) {
  UdpClient client;
  client.send_to(server().udp_port(), "INCR visits");  // no newline needed in a datagram
  EXPECT_EQ(client.receive(kReplyTimeout), ":1\r\n");
  client.send_to(server().udp_port(), "incr visits\r\n");
  EXPECT_EQ(client.receive(kReplyTimeout), ":2\r\n");
}

TEST_F(CounterServer, AnswersARespCommandInADatagram) {
  UdpClient client;
  client.send_to(server().udp_port(), resp_request({"SET", "k", "from udp"}));
  EXPECT_EQ(client.receive(kReplyTimeout), "+OK\r\n");
  client.send_to(server().udp_port(), resp_request({"GET", "k"}));
  EXPECT_EQ(client.receive(kReplyTimeout), resp_bulk("from udp"));
}

TEST_F(CounterServer, SharesOneStoreBetweenUdpAndTcp) {
  UdpClient client;
  client.send_to(server().udp_port(), "INCRBY total 5");
  ASSERT_EQ(client.receive(kReplyTimeout), ":5\r\n");
  EXPECT_EQ(redis_cli("INCRBY total 2"), "(integer) 7\n");
  client.send_to(server().udp_port(), "GET total");
  EXPECT_EQ(client.receive(kReplyTimeout), resp_bulk("7"));
}

TEST_F(CounterServer, AnswersAMalformedDatagramWithAProtocolErrorAndServesTheNext) {
  UdpClient client;
  client.send_to(server().udp_port(), "*x\r\n");
  EXPECT_EQ(client.receive(kReplyTimeout), "-ERR Protocol error: invalid multibulk length\r\n");
  client.send_to(server().udp_port(), "*2\r\n$4\r\nECHO\r\n$10\r\ncut");
  EXPECT_EQ(client.receive(kReplyTimeout),
            "-ERR Protocol error: incomplete request in datagram\r\n");
  client.send_to(server().udp_port(), "PING");
  EXPECT_EQ(client.receive(kReplyTimeout), "+PONG\r\n");
}

}  // namespace
}  // namespace vmft::integration
