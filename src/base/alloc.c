/*
 * Counting allocator over libc malloc. Counters are atomics so the writer thread and the main
 * loop can allocate concurrently.
 */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long live;
static atomic_long fail_countdown;

static int should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1)) {
            return n == 1;
        }
    }
    return 0;
}

void *blend_malloc(size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    void *p = malloc(size ? size : 1);
    if (p) {
        atomic_fetch_add(&live, 1);
    }
    return p;
}

void *blend_calloc(size_t count, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p) {
        atomic_fetch_add(&live, 1);
    }
    return p;
}

void *blend_realloc(void *ptr, size_t size)
{
    if (!ptr) {
        return blend_malloc(size);
    }
    if (should_fail()) {
        return NULL;
    }
    return realloc(ptr, size ? size : 1);
}

void blend_free(void *ptr)
{
    if (ptr) {
        atomic_fetch_sub(&live, 1);
        free(ptr);
    }
}

char *blend_strndup(const char *s, size_t n)
{
    if (!s) {
        return NULL;
    }
    size_t len = strnlen(s, n);
    char *d = blend_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *blend_strdup(const char *s)
{
    return s ? blend_strndup(s, strlen(s)) : NULL;
}

long blend_alloc_live(void)
{
    return atomic_load(&live);
}

void blend_alloc_fail_nth(long nth)
{
    atomic_store(&fail_countdown, nth < 0 ? 0 : nth);
}
