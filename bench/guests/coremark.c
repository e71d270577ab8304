/* A CPU-bound benchmark kernel in the spirit of CoreMark (our own code, not CoreMark's):
   each iteration runs CRC-16 and CRC-32 over a buffer, a 32x32 integer matrix multiply,
   a linked-list build + merge sort + search, and a number-parsing state machine over a
   string, and folds every result into one checksum.

   It touches no device but the console, and only after the loop, so its instruction stream
   is fully deterministic: the same checksum and instruction count on bare Unicorn and under
   vmft. The expected checksum doubles as a self-check of the emulator (exit code 1 if not). */
#include "vmft.h"

/* About 1.45e9 guest instructions: 3.5-4.5 s under bare Unicorn on the development machine
   (an AMD EPYC vCPU), long enough that start-up cost is noise, short enough to run 6 times. */
#ifndef COREMARK_ITERATIONS
#define COREMARK_ITERATIONS 3000
#endif
/* The checksum for the default iteration count, recorded on the first run and matched by the
   same source compiled natively for x86-64 (at -O0 and -O2). */
#define COREMARK_DEFAULT_ITERATIONS 3000
#define COREMARK_EXPECTED_CHECKSUM 13233363368750801468ULL

#define CRC_BUF_SIZE 1024
#define MATRIX_N 32
#define LIST_NODES 256
#define LIST_SEARCHES 32
#define TEXT_TOKENS 96

/* ---- deterministic pseudo-random numbers (xorshift64) ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed) { rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL; }

static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

/* ---- CRCs, bit by bit, as a table-free loop of shifts and branches ---- */

static uint8_t crc_buf[CRC_BUF_SIZE];

static uint16_t crc16_ccitt(const uint8_t *data, size_t len, uint16_t crc) {
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)(data[i] << 8);
    for (int bit = 0; bit < 8; bit++) {
      crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
  }
  return crc;
}

static uint32_t crc32_ieee(const uint8_t *data, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; bit++) {
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

static uint64_t run_crc(uint32_t iteration) {
  for (size_t i = 0; i < CRC_BUF_SIZE; i += 8) {
    uint64_t r = rng_next();
    for (int b = 0; b < 8; b++) crc_buf[i + b] = (uint8_t)(r >> (8 * b));
  }
  uint16_t c16 = crc16_ccitt(crc_buf, CRC_BUF_SIZE, (uint16_t)iteration);
  uint32_t c32 = crc32_ieee(crc_buf, CRC_BUF_SIZE, iteration);
  return ((uint64_t)c16 << 32) ^ c32;
}

/* ---- integer matrix multiply ---- */

static int32_t mat_a[MATRIX_N][MATRIX_N];
static int32_t mat_b[MATRIX_N][MATRIX_N];
static int32_t mat_c[MATRIX_N][MATRIX_N];

static void matrix_init(void) {
  for (int i = 0; i < MATRIX_N; i++) {
    for (int j = 0; j < MATRIX_N; j++) {
      mat_a[i][j] = (int32_t)(rng_next() % 2001) - 1000;
      mat_b[i][j] = (int32_t)(rng_next() % 2001) - 1000;
    }
  }
}

static uint64_t run_matrix(uint32_t iteration) {
  /* Perturb one row of A so every iteration multiplies a different matrix. */
  int row = (int)(iteration % MATRIX_N);
  for (int j = 0; j < MATRIX_N; j++) mat_a[row][j] = (int32_t)(rng_next() % 2001) - 1000;

  for (int i = 0; i < MATRIX_N; i++) {
    for (int j = 0; j < MATRIX_N; j++) {
      int32_t sum = 0;
      for (int k = 0; k < MATRIX_N; k++) sum += mat_a[i][k] * mat_b[k][j];
      mat_c[i][j] = sum;
    }
  }
  uint64_t h = 0;
  for (int i = 0; i < MATRIX_N; i++) {
    for (int j = 0; j < MATRIX_N; j++) h = h * 31 + (uint32_t)mat_c[i][j];
  }
  return h;
}

/* ---- linked list: build, merge sort, search ---- */

struct list_node {
  struct list_node *next;
  uint32_t key;
  uint32_t index;
};

static struct list_node list_pool[LIST_NODES];

static struct list_node *list_build(void) {
  struct list_node *head = 0;
  for (uint32_t i = 0; i < LIST_NODES; i++) {
    list_pool[i].key = (uint32_t)(rng_next() % 100000);
    list_pool[i].index = i;
    list_pool[i].next = head;
    head = &list_pool[i];
  }
  return head;
}

static struct list_node *list_merge(struct list_node *a, struct list_node *b) {
  struct list_node dummy;
  struct list_node *tail = &dummy;
  while (a && b) {
    /* Ties keep list order (a first), so the sort is stable and the result deterministic. */
    if (a->key <= b->key) {
      tail->next = a;
      a = a->next;
    } else {
      tail->next = b;
      b = b->next;
    }
    tail = tail->next;
  }
  tail->next = a ? a : b;
  return dummy.next;
}

static struct list_node *list_sort(struct list_node *head) {
  if (!head || !head->next) return head;
  struct list_node *slow = head, *fast = head->next;
  while (fast && fast->next) {
    slow = slow->next;
    fast = fast->next->next;
  }
  struct list_node *second = slow->next;
  slow->next = 0;
  return list_merge(list_sort(head), list_sort(second));
}

/* Returns the position of the first node with `key`, or -1. */
static int32_t list_find(const struct list_node *head, uint32_t key) {
  for (int32_t pos = 0; head; head = head->next, pos++) {
    if (head->key == key) return pos;
    if (head->key > key) return -1; /* the list is sorted */
  }
  return -1;
}

static uint64_t run_list(void) {
  struct list_node *head = list_sort(list_build());
  uint64_t h = 0;
  uint32_t previous = 0;
  uint32_t position = 0;
  for (const struct list_node *n = head; n; n = n->next, position++) {
    if (n->key < previous) h ^= 0xbad0bad0bad0ULL; /* an unsorted list poisons the checksum */
    previous = n->key;
    h = h * 33 + (n->index ^ position);
  }
  for (int s = 0; s < LIST_SEARCHES; s++) {
    /* Half the probes hit a present key, half a random (usually absent) one. */
    uint32_t key =
        (s & 1) ? list_pool[rng_next() % LIST_NODES].key : (uint32_t)(rng_next() % 100000);
    h = h * 7 + (uint64_t)(int64_t)list_find(head, key);
  }
  return h;
}

/* ---- state machine: classify the tokens of a string as numbers ---- */

enum token_kind { TOKEN_INT, TOKEN_FLOAT, TOKEN_SCIENTIFIC, TOKEN_HEX, TOKEN_INVALID, TOKEN_KINDS };

enum scan_state {
  SCAN_START,
  SCAN_SIGN,
  SCAN_ZERO,
  SCAN_INT,
  SCAN_HEX_PREFIX,
  SCAN_HEX,
  SCAN_DOT,
  SCAN_FRACTION,
  SCAN_EXP,
  SCAN_EXP_SIGN,
  SCAN_EXPONENT,
  SCAN_INVALID
};

static char text[TEXT_TOKENS * 12 + 1];

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

static enum scan_state scan_step(enum scan_state s, char c) {
  switch (s) {
    case SCAN_START:
      if (c == '+' || c == '-') return SCAN_SIGN;
      if (c == '0') return SCAN_ZERO;
      if (is_digit(c)) return SCAN_INT;
      if (c == '.') return SCAN_DOT;
      return SCAN_INVALID;
    case SCAN_SIGN:
      if (c == '0') return SCAN_ZERO;
      if (is_digit(c)) return SCAN_INT;
      if (c == '.') return SCAN_DOT;
      return SCAN_INVALID;
    case SCAN_ZERO:
      if (c == 'x') return SCAN_HEX_PREFIX;
      /* fall through */
    case SCAN_INT:
      if (is_digit(c)) return SCAN_INT;
      if (c == '.') return SCAN_FRACTION;
      if (c == 'e') return SCAN_EXP;
      return SCAN_INVALID;
    case SCAN_HEX_PREFIX:
    case SCAN_HEX:
      return is_hex_digit(c) ? SCAN_HEX : SCAN_INVALID;
    case SCAN_DOT:
      return is_digit(c) ? SCAN_FRACTION : SCAN_INVALID;
    case SCAN_FRACTION:
      if (is_digit(c)) return SCAN_FRACTION;
      if (c == 'e') return SCAN_EXP;
      return SCAN_INVALID;
    case SCAN_EXP:
      if (c == '+' || c == '-') return SCAN_EXP_SIGN;
      /* fall through */
    case SCAN_EXP_SIGN:
    case SCAN_EXPONENT:
      return is_digit(c) ? SCAN_EXPONENT : SCAN_INVALID;
    case SCAN_INVALID:
      return SCAN_INVALID;
  }
  return SCAN_INVALID;
}

static enum token_kind scan_result(enum scan_state s) {
  switch (s) {
    case SCAN_ZERO:
    case SCAN_INT:
      return TOKEN_INT;
    case SCAN_FRACTION:
      return TOKEN_FLOAT;
    case SCAN_EXPONENT:
      return TOKEN_SCIENTIFIC;
    case SCAN_HEX:
      return TOKEN_HEX;
    default:
      return TOKEN_INVALID;
  }
}

/* Fills `text` with comma-separated tokens drawn from a small alphabet that makes every
   token kind likely. */
static void text_build(void) {
  static const char alphabet[] = "0123456789012345.e+-x0af7";
  size_t at = 0;
  for (int t = 0; t < TEXT_TOKENS; t++) {
    uint64_t r = rng_next();
    int len = 1 + (int)(r % 10);
    r >>= 4;
    for (int i = 0; i < len; i++, r >>= 5) text[at++] = alphabet[(r & 31) % (sizeof alphabet - 1)];
    text[at++] = ',';
  }
  text[at] = '\0';
}

static uint64_t run_state_machine(void) {
  text_build();
  uint32_t counts[TOKEN_KINDS] = {0};
  uint64_t transitions = 0;
  enum scan_state s = SCAN_START;
  for (const char *p = text; *p; p++) {
    if (*p == ',') {
      counts[scan_result(s)]++;
      s = SCAN_START;
      continue;
    }
    enum scan_state next = scan_step(s, *p);
    transitions = transitions * 13 + (uint64_t)next;
    s = next;
  }
  uint64_t h = transitions;
  for (int k = 0; k < TOKEN_KINDS; k++) h = h * 97 + counts[k];
  return h;
}

/* ---- driver ---- */

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

static void print_line(const char *label, uint64_t value) {
  vmft_puts(label);
  vmft_print_u64(value);
  vmft_puts("\n");
}

int main(void) {
  rng_seed(0x2545f4914f6cdd1dULL);
  matrix_init();
  uint64_t checksum = 0;
  for (uint32_t it = 0; it < COREMARK_ITERATIONS; it++) {
    checksum = mix(checksum, run_crc(it));
    checksum = mix(checksum, run_matrix(it));
    checksum = mix(checksum, run_list());
    checksum = mix(checksum, run_state_machine());
  }

  print_line("coremark iterations ", COREMARK_ITERATIONS);
  print_line("coremark checksum ", checksum);
  if (COREMARK_ITERATIONS == COREMARK_DEFAULT_ITERATIONS &&
      checksum != COREMARK_EXPECTED_CHECKSUM) {
    print_line("coremark MISMATCH: expected checksum ", COREMARK_EXPECTED_CHECKSUM);
    return 1;
  }
  return 0;
}
