/* Sorts words with malloc and qsort, does some floating point, sleeps, reads the clocks and the
   entropy device, and exits 0: ordinary C on the vmft SDK. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmft.h"
#include "words.h"

static const char *greeting = "unset";
__attribute__((constructor)) static void set_greeting(void) { greeting = "constructed"; }

int main(void) {
  printf("greeting %s\n", greeting);

  size_t count;
  char **words = split_words("pear fig apple quince banana date", &count);
  sort_words(words, count);
  printf("sorted");
  for (size_t i = 0; i < count; i++) {
    printf(" %s", words[i]);
    free(words[i]);
  }
  printf("\n");
  free(words);

  printf("sqrt2 %.6f\n", sqrt(2.0));

  const uint64_t start = vmft_clock_mono_ns();
  vmft_sleep_ns(2000000);
  printf("slept %s\n", vmft_clock_mono_ns() - start >= 2000000 ? "2 ms" : "too little");

  /* Nondeterministic inputs, which a replay and a backup read back as logged. */
  printf("wall clock after 2020: %s\n",
         vmft_clock_wall_ns() / 1000000000ULL > 1577836800ULL ? "yes" : "no");
  printf("entropy %016llx\n", (unsigned long long)vmft_entropy());
  return 0;
}
