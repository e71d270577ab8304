/* The guest SDK's memcpy, memmove and memset (guest/sdk/string.c), under names of their own so
   that the host's stay the host's. */
#define VMFT_STRING_NAME(name) vmft_test_##name
#include "../../guest/sdk/string.c"
