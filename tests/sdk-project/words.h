#ifndef WORDS_H
#define WORDS_H
#include <stddef.h>

/* The words of `text` (split at spaces), each a malloc'd copy; *count is set to how many. The
   array and every word are the caller's to free. */
char **split_words(const char *text, size_t *count);
void sort_words(char **words, size_t count);

#endif
