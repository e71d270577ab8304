#include "words.h"

#include <stdlib.h>
#include <string.h>

char **split_words(const char *text, size_t *count) {
  char *copy = strdup(text);
  size_t n = 0, room = 4;
  char **words = malloc(room * sizeof *words);
  for (char *w = strtok(copy, " "); w; w = strtok(NULL, " ")) {
    if (n == room) words = realloc(words, (room *= 2) * sizeof *words);
    words[n++] = strdup(w);
  }
  free(copy);
  *count = n;
  return words;
}

static int compare(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void sort_words(char **words, size_t count) { qsort(words, count, sizeof *words, compare); }
