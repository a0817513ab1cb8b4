/*
 * Time zones: from an instant (Unix time) to the civil time in a named IANA zone
 * ("Asia/Seoul"), with the zone rules of ICU (libicu, which carries its own copy of the time
 * zone database). The only place in Blend that knows zone rules; pure modules receive
 * struct blend_civil. Thread-safe: every call opens its own ICU calendar.
 */
#ifndef BLEND_TZ_TZ_H
#define BLEND_TZ_TZ_H

#include "base/civil.h"
#include "base/error.h"

#include <stdint.h>

/* 1 when `zone` names a time zone ICU knows (IANA names and "UTC"), else 0. */
int blend_tz_valid(const char *zone);

/* The civil time in `zone` at `unix_ms` (milliseconds since 1970-01-01T00:00:00Z).
 * BLEND_EINVAL for an unknown zone. */
BLEND_MUST_USE int blend_tz_civil(const char *zone, int64_t unix_ms, struct blend_civil *out);

#endif
