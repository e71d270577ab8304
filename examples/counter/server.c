/* The request loop shared by TCP and UDP. */
#include "server.h"

#include "commands.h"
#include "resp.h"

_Static_assert(SERVER_MAX_REQUEST / 2 <= RESP_MAX_ARGS,
               "a request that fits the buffer must never have too many arguments");
_Static_assert(2 * SERVER_MAX_REQUEST <= REPLY_BUFFER_SIZE,
               "the reply to any request (at most an ECHO of all of it) must fit one send");

/* Parsed requests point into the caller's buffer; only one is alive at a time. Static
   because its argument vector is too large for the stack. */
static struct resp_request request;

struct serve_result server_execute(char *buf, size_t len, struct reply *out) {
  struct serve_result result = {0, 0};
  while (result.consumed < len) {
    struct resp_parse_result parse =
        resp_parse(buf + result.consumed, len - result.consumed, SERVER_MAX_REQUEST, &request);
    if (parse.status == RESP_INCOMPLETE) break;
    if (parse.status != RESP_REQUEST) {
      /* The stream cannot be resynchronised after bad framing: Redis closes it too. */
      reply_error(out, parse.status == RESP_TOO_BIG ? SERVER_ERR_TOO_BIG : parse.error);
      result.close = 1;
      break;
    }
    result.consumed += parse.consumed;
    if (request.argc == 0) continue; /* an empty request gets no reply */
    if (command_execute(&request, out) == COMMAND_CLOSE) {
      result.close = 1;
      break;
    }
  }
  return result;
}
