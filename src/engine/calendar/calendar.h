/*
 * Business-hours calendars, evaluated purely: given a calendar (weekly opening spans and dated
 * holidays, all in the calendar's own civil time) and a civil time in that calendar's zone,
 * say whether it is open. The zone conversion happens before (src/tz); nothing here reads a
 * clock. The rules (docs/calendars.md):
 *   - A span is open from `open_min` (inclusive) to `close_min` (exclusive) on its weekday.
 *     A span whose close is before its open runs overnight: it closes at `close_min` on the
 *     next day. A span whose open equals its close is never open.
 *   - A holiday replaces the hours of its own date entirely, including the early-morning part
 *     of an overnight span that began the day before: closed all day, or open only within its
 *     own special span (which may itself run overnight into the next date, unless that date is
 *     a holiday too).
 *   - Several spans on one day are allowed (a lunch break is two spans).
 */
#ifndef BLEND_ENGINE_CALENDAR_CALENDAR_H
#define BLEND_ENGINE_CALENDAR_CALENDAR_H

#include "base/civil.h"

#include <stddef.h>
#include <stdint.h>

#define BLEND_CALENDAR_SPANS_MAX 64     /* weekly spans of one calendar */
#define BLEND_CALENDAR_HOLIDAYS_MAX 512 /* holidays of one calendar */
#define BLEND_CALENDAR_NAME_BYTES 64    /* holiday name, NUL included */

struct blend_calendar_span {
    int weekday;   /* 0 = Monday .. 6 = Sunday */
    int open_min;  /* 0..1440 */
    int close_min; /* 0..1440 */
};

struct blend_calendar_holiday {
    int32_t date;  /* YYYYMMDD */
    int closed;    /* 1: closed all day; 0: open within open_min..close_min */
    int open_min;
    int close_min;
    char name[BLEND_CALENDAR_NAME_BYTES];
};

struct blend_calendar {
    size_t spans_count;
    struct blend_calendar_span spans[BLEND_CALENDAR_SPANS_MAX];
    size_t holidays_count; /* any order */
    struct blend_calendar_holiday holidays[BLEND_CALENDAR_HOLIDAYS_MAX];
};

enum blend_calendar_state {
    BLEND_CALENDAR_OPEN = 1,
    BLEND_CALENDAR_CLOSED,  /* outside the weekly hours */
    BLEND_CALENDAR_HOLIDAY, /* a holiday's date, outside its special hours if any */
};

/* The state at civil time `t`; when `holiday` is not NULL it receives the holiday in force on
 * t's date (or NULL). */
enum blend_calendar_state blend_calendar_state(const struct blend_calendar *cal,
                                               const struct blend_civil *t,
                                               const struct blend_calendar_holiday **holiday);

const char *blend_calendar_state_name(enum blend_calendar_state s);

#endif
