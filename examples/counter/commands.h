/* The commands the counter serves: PING ECHO GET SET INCR INCRBY DECR DECRBY DEL EXISTS QUIT,
   with Redis's replies and error messages. */
#ifndef COUNTER_COMMANDS_H
#define COUNTER_COMMANDS_H

#include "reply.h"
#include "resp.h"

enum command_outcome {
  COMMAND_CONTINUE,
  COMMAND_CLOSE, /* the client asked to be disconnected once the reply is out (QUIT) */
};

/* Runs one request (argc >= 1) against the store and appends its reply to out. */
enum command_outcome command_execute(const struct resp_request *request, struct reply *out);

#endif
