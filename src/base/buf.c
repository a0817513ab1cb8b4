/* Capped dynamic buffer; see buf.h. Growth doubles, so appends are amortised O(1). */
#include "base/buf.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <stdio.h>
#include <string.h>

void blend_buf_init(struct blend_buf *b, size_t len_max)
{
    BLEND_ASSERT(b);
    BLEND_ASSERT(len_max > 0);
    memset(b, 0, sizeof *b);
    b->len_max = len_max;
}

void blend_buf_deinit(struct blend_buf *b)
{
    blend_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void blend_buf_reset(struct blend_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

static int reserve(struct blend_buf *b, size_t extra)
{
    if (extra > b->len_max || b->len > b->len_max - extra) {
        return BLEND_ELIMIT;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    if (cap > b->len_max + 1) {
        cap = b->len_max + 1;
    }
    char *p = blend_realloc(b->data, cap);
    if (!p) {
        return BLEND_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int blend_buf_append(struct blend_buf *b, const void *data, size_t len)
{
    int rc = reserve(b, len);
    if (rc) {
        return rc;
    }
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int blend_buf_appends(struct blend_buf *b, const char *s)
{
    return blend_buf_append(b, s, strlen(s));
}

int blend_buf_vprintf(struct blend_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = n < 0 ? BLEND_EINVAL : reserve(b, (size_t)n);
    if (rc == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int blend_buf_printf(struct blend_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = blend_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *blend_buf_take(struct blend_buf *b)
{
    char *d = b->data;
    if (!d) {
        d = blend_malloc(1);
        if (d) {
            d[0] = '\0';
        }
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
