/*
 * All heap allocation goes through these functions so tests can count live allocations (leak
 * checks) and make the Nth allocation fail (out-of-memory paths). Thread-safe.
 */
#ifndef BLEND_BASE_ALLOC_H
#define BLEND_BASE_ALLOC_H

#include <stddef.h>

void *blend_malloc(size_t size);
void *blend_calloc(size_t count, size_t size);
void *blend_realloc(void *ptr, size_t size);
void blend_free(void *ptr);
/* Returns an owned copy of s (NULL when s is NULL or memory is exhausted). */
char *blend_strdup(const char *s);
char *blend_strndup(const char *s, size_t n);

/* Allocations made and not yet freed through this module. */
long blend_alloc_live(void);
/* Make the nth allocation from now fail (1 = the next one); 0 disables. */
void blend_alloc_fail_nth(long nth);

#endif
