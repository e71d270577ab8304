/* Request parsing; follows Redis's processMultibulkBuffer and processInlineBuffer, so that
   clients see the same replies and errors as from a real Redis. */
#include "resp.h"

#include "vmft.h"

static struct resp_parse_result incomplete(void) {
  return (struct resp_parse_result){RESP_INCOMPLETE, 0, 0};
}

static struct resp_parse_result parsed(size_t consumed) {
  return (struct resp_parse_result){RESP_REQUEST, consumed, 0};
}

static struct resp_parse_result failed(const char *error) {
  return (struct resp_parse_result){RESP_ERROR, 0, error};
}

static struct resp_parse_result too_big(void) {
  return (struct resp_parse_result){RESP_TOO_BIG, 0, 0};
}

/* The fewest bytes one argument of a RESP request takes: "$0\r\n\r\n". */
#define MIN_BULK_BYTES 6

int resp_parse_int64(const char *s, size_t len, int64_t *value) {
  /* 20 characters hold every int64 ("-9223372036854775808"); longer input is out of range. */
  if (len == 0 || len > 20) return 0;
  if (len == 1 && s[0] == '0') {
    *value = 0;
    return 1;
  }
  size_t i = 0;
  int negative = s[0] == '-';
  if (negative) i++;
  if (i == len || s[i] < '1' || s[i] > '9') return 0; /* no sign alone, no leading zero */
  uint64_t magnitude = 0;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    unsigned digit = (unsigned)(s[i] - '0');
    if (magnitude > (UINT64_MAX - digit) / 10) return 0;
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    if (magnitude > (uint64_t)INT64_MAX + 1) return 0;
    *value = (int64_t)(0 - magnitude);
  } else {
    if (magnitude > (uint64_t)INT64_MAX) return 0;
    *value = (int64_t)magnitude;
  }
  return 1;
}

/* ---- RESP arrays: "*<count>\r\n" then <count> times "$<len>\r\n<len bytes>\r\n" ---- */

/* Finds the CR that ends the header line starting at buf[pos]. Like Redis, requires one
   more byte after it (the LF, which is not checked) before the line counts as complete. */
static int find_header_end(const char *buf, size_t pos, size_t len, size_t *cr) {
  for (size_t i = pos; i + 1 < len; i++) {
    if (buf[i] == '\r') {
      *cr = i;
      return 1;
    }
  }
  return 0;
}

static struct resp_parse_result parse_array(char *buf, size_t len, size_t max_request,
                                            struct resp_request *request) {
  static char expected_dollar[] = "ERR Protocol error: expected '$', got ' '";
  size_t cr;
  if (!find_header_end(buf, 1, len, &cr)) return incomplete();
  int64_t count;
  if (!resp_parse_int64(buf + 1, cr - 1, &count)) {
    return failed("ERR Protocol error: invalid multibulk length");
  }
  if (count > RESP_MAX_ARGS || (count > 0 && (uint64_t)count > max_request / MIN_BULK_BYTES)) {
    return too_big();
  }
  size_t pos = cr + 2;
  request->argc = 0;
  if (count <= 0) return parsed(pos); /* Redis ignores empty arrays */
  while (request->argc < (size_t)count) {
    if (pos == len) return incomplete();
    if (buf[pos] != '$') {
      /* Redis turns CR and LF in error messages into spaces, to keep the reply one line. */
      char got = buf[pos] == '\r' || buf[pos] == '\n' ? ' ' : buf[pos];
      expected_dollar[sizeof expected_dollar - 3] = got;
      return failed(expected_dollar);
    }
    if (!find_header_end(buf, pos + 1, len, &cr)) return incomplete();
    int64_t bulk_len;
    if (!resp_parse_int64(buf + pos + 1, cr - pos - 1, &bulk_len) || bulk_len < 0) {
      return failed("ERR Protocol error: invalid bulk length");
    }
    if ((uint64_t)bulk_len > max_request) return too_big();
    pos = cr + 2;
    /* The two bytes after the data (CR LF) are skipped unchecked, as Redis does. */
    if (len - pos < (size_t)bulk_len + 2) return incomplete();
    request->argv[request->argc++] = (struct resp_arg){buf + pos, (size_t)bulk_len};
    pos += (size_t)bulk_len + 2;
  }
  return parsed(pos);
}

/* ---- inline requests: one line of words, split as Redis's sdssplitargs splits it ---- */

static int is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static char unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
  }
}

enum quoting { UNQUOTED, DOUBLE_QUOTED, SINGLE_QUOTED };

/* Reads one word starting at line[*pos] (not a space). Quotes are removed and escapes in
   double quotes decoded, writing the result over the word itself: the output never gets
   ahead of the input. Sets *pos past the word and *out_end past its decoded bytes.
   Returns 0 for unbalanced quotes, or a closing quote not followed by a space. */
static int read_word(char *line, size_t len, size_t *pos, size_t *out_end) {
  size_t p = *pos, w = *pos;
  enum quoting quoting = UNQUOTED;
  for (;;) {
    if (p == len) {
      if (quoting != UNQUOTED) return 0;
      break;
    }
    char c = line[p];
    if (quoting == UNQUOTED) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') break;
      if (c == '"') {
        quoting = DOUBLE_QUOTED;
      } else if (c == '\'') {
        quoting = SINGLE_QUOTED;
      } else {
        line[w++] = c;
      }
      p++;
    } else if (c == (quoting == DOUBLE_QUOTED ? '"' : '\'')) {
      if (p + 1 < len && !is_space(line[p + 1])) return 0;
      p++;
      break;
    } else if (quoting == DOUBLE_QUOTED && c == '\\' && p + 3 < len && line[p + 1] == 'x' &&
               hex_value(line[p + 2]) >= 0 && hex_value(line[p + 3]) >= 0) {
      line[w++] = (char)(hex_value(line[p + 2]) * 16 + hex_value(line[p + 3]));
      p += 4;
    } else if (quoting == DOUBLE_QUOTED && c == '\\' && p + 1 < len) {
      line[w++] = unescape(line[p + 1]);
      p += 2;
    } else if (quoting == SINGLE_QUOTED && c == '\\' && p + 1 < len && line[p + 1] == '\'') {
      line[w++] = '\'';
      p += 2;
    } else {
      line[w++] = c;
      p++;
    }
  }
  *pos = p;
  *out_end = w;
  return 1;
}

static const char *split_words(char *line, size_t len, struct resp_request *request) {
  size_t p = 0;
  request->argc = 0;
  for (;;) {
    while (p < len && is_space(line[p])) p++;
    if (p == len) return 0;
    if (request->argc == RESP_MAX_ARGS) return "ERR Protocol error: too many arguments";
    size_t start = p, end;
    if (!read_word(line, len, &p, &end)) return "ERR Protocol error: unbalanced quotes in request";
    request->argv[request->argc++] = (struct resp_arg){line + start, end - start};
  }
}

static struct resp_parse_result parse_inline(char *buf, size_t len, struct resp_request *request) {
  size_t newline = 0;
  while (newline < len && buf[newline] != '\n') newline++;
  if (newline == len) return incomplete();
  size_t line_len = newline > 0 && buf[newline - 1] == '\r' ? newline - 1 : newline;
  const char *error = split_words(buf, line_len, request);
  if (error) return failed(error);
  return parsed(newline + 1);
}

struct resp_parse_result resp_parse(char *buf, size_t len, size_t max_request,
                                    struct resp_request *request) {
  if (len == 0) return incomplete();
  if (buf[0] == '*') return parse_array(buf, len, max_request, request);
  return parse_inline(buf, len, request);
}
