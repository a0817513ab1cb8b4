/*
 * Civil (wall-clock) time in some place: the date and time a person there reads on a clock.
 * Plain data passed between the time-zone adapter (src/tz, which knows the zone rules) and pure
 * rules that speak of days and hours (calendars, calling windows). No arithmetic lives here.
 */
#ifndef BLEND_BASE_CIVIL_H
#define BLEND_BASE_CIVIL_H

struct blend_civil {
    int year;       /* e.g. 2026 */
    int month;      /* 1..12 */
    int day;        /* 1..31 */
    int weekday;    /* 0 = Monday .. 6 = Sunday (ISO order) */
    int minute;     /* minutes since local midnight, 0..1439 */
    int second;     /* 0..59 (a leap second reads 59) */
    int utc_offset_s; /* local time minus UTC at that instant, daylight saving included */
};

#endif
