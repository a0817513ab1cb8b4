/* Token buckets per source; see ratelimit.h. A linear scan of a 4096-entry table costs a few
 * microseconds, which is nothing next to the Argon2 verification every login pays anyway. */
#include "api/ratelimit.h"

#include "base/assert.h"

#include <stdio.h>
#include <string.h>

void blend_ratelimit_init(struct blend_ratelimit *rl, int per_minute)
{
    BLEND_ASSERT(per_minute > 0);
    memset(rl, 0, sizeof *rl);
    rl->per_minute = per_minute;
}

int blend_ratelimit_take(struct blend_ratelimit *rl, const char *source, int64_t now_ms)
{
    struct blend_ratelimit_entry *hit = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < BLEND_LOGIN_SOURCES_MAX; i++) {
        struct blend_ratelimit_entry *e = &rl->entries[i];
        if (e->source[0] == '\0') {
            if (!free_slot) {
                free_slot = e;
            }
            continue;
        }
        if (strncmp(e->source, source, sizeof e->source - 1) == 0) {
            hit = e;
            break;
        }
        if (!oldest || e->last_ms < oldest->last_ms) {
            oldest = e;
        }
    }
    if (!hit) {
        hit = free_slot ? free_slot : oldest;
        BLEND_ASSERT(hit);
        snprintf(hit->source, sizeof hit->source, "%s", source);
        hit->tokens = rl->per_minute;
        hit->last_ms = now_ms;
    }
    if (now_ms > hit->last_ms) {
        hit->tokens += (double)(now_ms - hit->last_ms) * rl->per_minute / 60000.0;
        if (hit->tokens > rl->per_minute) {
            hit->tokens = rl->per_minute;
        }
    }
    hit->last_ms = now_ms > hit->last_ms ? now_ms : hit->last_ms;
    if (hit->tokens < 1.0) {
        return 0;
    }
    hit->tokens -= 1.0;
    return 1;
}
