#pragma once

#include <cstdint>

namespace vmft::integration {

/// A port of 127.0.0.1 that was free a moment ago for a socket of `socket_type` (SOCK_STREAM
/// or SOCK_DGRAM), for addresses that must be fixed in advance, like the client-facing ones a
/// backup binds when it takes over. It lies below the kernel's ephemeral range when there is
/// room, so that no socket bound to port 0 and no outgoing connection (of this test or one
/// running beside it) can take it once its owner has died; only another test that picks
/// ports this way might, which the random choice makes rare.
uint16_t unused_port(int socket_type);

}  // namespace vmft::integration
