/* The torture guest, busy: bursts of work up to about 2.5 million instructions between its
   idles, so that its timer interrupts land mostly in the middle of work. The benchmark's
   failover catch-up measures how long a backup that trails it takes to catch up. */
#define TORTURE_BURST 524288
#include "torture.c"
