/* TCP clients: one slot per open connection, with its unfinished input. */
#ifndef COUNTER_CLIENTS_H
#define COUNTER_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

/* At least 64 concurrent clients are promised; 256 slots leave room for bursts of short-lived
   connections whose TCP_CLOSE is still queued behind other events. A build may give fewer
   (the simulation's guest). */
#ifndef CLIENTS_MAX
#define CLIENTS_MAX 256
#endif

/* Allocates the clients' input buffers; returns 0 if RAM is too small. Call once, first. */
int clients_init(void);

/* Handles for the NIC's TCP events. Events for connections without a slot are ignored. */
void clients_open(uint32_t conn);
void clients_receive(uint32_t conn, const char *data, size_t len);
void clients_peer_closed(uint32_t conn);

#endif
