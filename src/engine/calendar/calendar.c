/*
 * Evaluation of business-hours calendars (rules in calendar.h and docs/calendars.md). Pure:
 * the only arithmetic on dates is finding the day before a date, done with the days-from-civil
 * conversion of the proleptic Gregorian calendar.
 */
#include "engine/calendar/calendar.h"

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date (YYYYMMDD) of a day number since 1970-01-01. */
static int32_t civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    return (int32_t)(y * 10000 + m * 100 + d);
}

static const struct blend_calendar_holiday *holiday_on(const struct blend_calendar *cal,
                                                       int32_t date)
{
    for (size_t i = 0; i < cal->holidays_count; i++) {
        if (cal->holidays[i].date == date) {
            return &cal->holidays[i];
        }
    }
    return NULL;
}

/* Whether a span [open, close) read on its own day covers `minute` of that day (same_day) or
 * of the following day (!same_day, the overnight part). */
static int span_covers(int open_min, int close_min, int minute, int same_day)
{
    if (open_min == close_min) {
        return 0;
    }
    if (same_day) {
        return close_min > open_min ? minute >= open_min && minute < close_min
                                    : minute >= open_min;
    }
    return close_min < open_min && minute < close_min;
}

enum blend_calendar_state blend_calendar_state(const struct blend_calendar *cal,
                                               const struct blend_civil *t,
                                               const struct blend_calendar_holiday **holiday)
{
    int32_t today = (int32_t)(t->year * 10000 + t->month * 100 + t->day);
    int32_t yesterday = civil_from_days(days_from_civil(t->year, t->month, t->day) - 1);
    int prev_weekday = (t->weekday + 6) % 7;
    const struct blend_calendar_holiday *h = holiday_on(cal, today);
    const struct blend_calendar_holiday *hy = holiday_on(cal, yesterday);
    if (holiday) {
        *holiday = h;
    }
    if (h) {
        if (!h->closed && span_covers(h->open_min, h->close_min, t->minute, 1)) {
            return BLEND_CALENDAR_OPEN;
        }
        return BLEND_CALENDAR_HOLIDAY;
    }
    /* The overnight tail of yesterday: the holiday's own span if yesterday was one. */
    if (hy) {
        if (!hy->closed && span_covers(hy->open_min, hy->close_min, t->minute, 0)) {
            return BLEND_CALENDAR_OPEN;
        }
    } else {
        for (size_t i = 0; i < cal->spans_count; i++) {
            const struct blend_calendar_span *s = &cal->spans[i];
            if (s->weekday == prev_weekday &&
                span_covers(s->open_min, s->close_min, t->minute, 0)) {
                return BLEND_CALENDAR_OPEN;
            }
        }
    }
    for (size_t i = 0; i < cal->spans_count; i++) {
        const struct blend_calendar_span *s = &cal->spans[i];
        if (s->weekday == t->weekday && span_covers(s->open_min, s->close_min, t->minute, 1)) {
            return BLEND_CALENDAR_OPEN;
        }
    }
    return BLEND_CALENDAR_CLOSED;
}

const char *blend_calendar_state_name(enum blend_calendar_state s)
{
    switch (s) {
    case BLEND_CALENDAR_OPEN:
        return "open";
    case BLEND_CALENDAR_CLOSED:
        return "closed";
    case BLEND_CALENDAR_HOLIDAY:
        return "holiday";
    }
    return "closed";
}
