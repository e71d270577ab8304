#pragma once
// What a client of a fault-tolerant counter guest may check: one command's reply, a key's
// value, and that the INCRs its clients were acknowledged all survived.
#include <cstdint>
#include <string>
#include <vector>

#include "IncrLoad.h"
#include "NetClients.h"

namespace vmft::integration {

/// One inline counter command on a connection, and the first line of its reply.
std::string counter_command(TcpClient& client, const std::string& command);

/// The key's value, read on a new connection; -1 if the reply was not a number.
long long counter_value(uint16_t tcp_port, const std::string& key);

/// No INCR that a client was answered is lost, given the value the key ended at: every reply
/// is a number, each client's values rise, no value was handed out twice, and the key is at
/// least the highest value and the number of INCRs answered. Fails the current test if not.
void expect_no_acknowledged_incr_lost(const std::vector<IncrClientRecord>& clients,
                                      long long final_value);

}  // namespace vmft::integration
