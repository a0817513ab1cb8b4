/*
 * Login rate limiting per source address: a token bucket per address (capacity and refill per
 * minute from limits.h), in a fixed table of BLEND_LOGIN_SOURCES_MAX entries; when the table is
 * full the least recently seen entry is reused. Pure: time is an argument.
 */
#ifndef BLEND_API_RATELIMIT_H
#define BLEND_API_RATELIMIT_H

#include "base/limits.h"

#include <stdint.h>

struct blend_ratelimit_entry {
    char source[64]; /* "" = free */
    double tokens;
    int64_t last_ms;
};

struct blend_ratelimit {
    struct blend_ratelimit_entry entries[BLEND_LOGIN_SOURCES_MAX];
    double per_minute;
};

void blend_ratelimit_init(struct blend_ratelimit *rl, int per_minute);
/* Takes one token for `source` at time now_ms; returns 1 when allowed, 0 when over the rate. */
int blend_ratelimit_take(struct blend_ratelimit *rl, const char *source, int64_t now_ms);

#endif
