/*
 * Capped dynamic byte buffer (in the manner of curl's dynbuf): it grows as needed up to a
 * maximum fixed at init, and refuses with BLEND_ELIMIT beyond it. The content is always
 * NUL-terminated so text can be read in place.
 */
#ifndef BLEND_BASE_BUF_H
#define BLEND_BASE_BUF_H

#include "base/error.h"

#include <stdarg.h>
#include <stddef.h>

struct blend_buf {
    char *data;      /* owned; NULL until the first append */
    size_t len;      /* bytes used, excluding the terminating NUL */
    size_t cap;      /* bytes allocated */
    size_t len_max;  /* most bytes the buffer may ever hold */
};

void blend_buf_init(struct blend_buf *b, size_t len_max);
void blend_buf_deinit(struct blend_buf *b);
void blend_buf_reset(struct blend_buf *b);
BLEND_MUST_USE int blend_buf_append(struct blend_buf *b, const void *data, size_t len);
BLEND_MUST_USE int blend_buf_appends(struct blend_buf *b, const char *s);
BLEND_MUST_USE int blend_buf_printf(struct blend_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the content to the caller (owned, free with blend_free) and resets the buffer. */
char *blend_buf_take(struct blend_buf *b);
/* blend_buf_printf with a va_list. */
BLEND_MUST_USE int blend_buf_vprintf(struct blend_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
