/*
 * Business-hours calendars: weekly spans, overnight spans, holidays closed all day or with
 * special hours, and the day-before arithmetic across month and year ends (checked against a
 * brute-force walk of minutes over whole weeks).
 */
#include "engine/calendar/calendar.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

enum { MON, TUE, WED, THU, FRI, SAT, SUN };

static struct blend_civil at(int y, int mo, int d, int weekday, int hh, int mm)
{
    struct blend_civil c = {.year = y, .month = mo, .day = d, .weekday = weekday,
                            .minute = hh * 60 + mm};
    return c;
}

static void add_span(struct blend_calendar *cal, int weekday, int open_min, int close_min)
{
    struct blend_calendar_span s = {weekday, open_min, close_min};
    cal->spans[cal->spans_count++] = s;
}

static void add_holiday(struct blend_calendar *cal, int32_t date, int closed, int open_min,
                        int close_min, const char *name)
{
    struct blend_calendar_holiday *h = &cal->holidays[cal->holidays_count++];
    h->date = date;
    h->closed = closed;
    h->open_min = open_min;
    h->close_min = close_min;
    snprintf(h->name, sizeof h->name, "%s", name);
}

static enum blend_calendar_state st(const struct blend_calendar *cal, struct blend_civil t)
{
    return blend_calendar_state(cal, &t, NULL);
}

static void office_hours(void **state)
{
    (void)state;
    static struct blend_calendar cal;
    memset(&cal, 0, sizeof cal);
    for (int d = MON; d <= FRI; d++) {
        add_span(&cal, d, 9 * 60, 18 * 60);
    }
    /* 2026-11-23 is a Monday. */
    assert_int_equal(st(&cal, at(2026, 11, 23, MON, 8, 59)), BLEND_CALENDAR_CLOSED);
    assert_int_equal(st(&cal, at(2026, 11, 23, MON, 9, 0)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 23, MON, 17, 59)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 23, MON, 18, 0)), BLEND_CALENDAR_CLOSED);
    assert_int_equal(st(&cal, at(2026, 11, 28, SAT, 12, 0)), BLEND_CALENDAR_CLOSED);
}

static void lunch_break_and_whole_day(void **state)
{
    (void)state;
    static struct blend_calendar cal;
    memset(&cal, 0, sizeof cal);
    add_span(&cal, TUE, 9 * 60, 12 * 60);
    add_span(&cal, TUE, 13 * 60, 18 * 60);
    add_span(&cal, SUN, 0, 1440);
    add_span(&cal, WED, 10 * 60, 10 * 60); /* empty: never open */
    assert_int_equal(st(&cal, at(2026, 11, 24, TUE, 12, 30)), BLEND_CALENDAR_CLOSED);
    assert_int_equal(st(&cal, at(2026, 11, 24, TUE, 13, 0)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 29, SUN, 0, 0)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 29, SUN, 23, 59)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 25, WED, 10, 0)), BLEND_CALENDAR_CLOSED);
}

static void overnight_span(void **state)
{
    (void)state;
    static struct blend_calendar cal;
    memset(&cal, 0, sizeof cal);
    add_span(&cal, SUN, 22 * 60, 6 * 60); /* Sunday 22:00 to Monday 06:00 */
    assert_int_equal(st(&cal, at(2026, 11, 29, SUN, 21, 59)), BLEND_CALENDAR_CLOSED);
    assert_int_equal(st(&cal, at(2026, 11, 29, SUN, 22, 0)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 30, MON, 5, 59)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2026, 11, 30, MON, 6, 0)), BLEND_CALENDAR_CLOSED);
    /* The tail does not leak into the Sunday morning itself. */
    assert_int_equal(st(&cal, at(2026, 11, 29, SUN, 3, 0)), BLEND_CALENDAR_CLOSED);
}

static void holidays(void **state)
{
    (void)state;
    static struct blend_calendar cal;
    memset(&cal, 0, sizeof cal);
    for (int d = MON; d <= SUN; d++) {
        add_span(&cal, d, 20 * 60, 4 * 60); /* every night 20:00-04:00 */
    }
    add_holiday(&cal, 20261225, 1, 0, 0, "Christmas Day");
    add_holiday(&cal, 20261231, 0, 10 * 60, 15 * 60, "New Year's Eve");
    add_holiday(&cal, 20270101, 1, 0, 0, "New Year's Day");
    const struct blend_calendar_holiday *h = NULL;
    struct blend_civil t = at(2026, 12, 25, FRI, 21, 0);
    assert_int_equal(blend_calendar_state(&cal, &t, &h), BLEND_CALENDAR_HOLIDAY);
    assert_non_null(h);
    assert_string_equal(h->name, "Christmas Day");
    /* The holiday replaces the early-morning tail of the 24th's night too. */
    assert_int_equal(st(&cal, at(2026, 12, 25, FRI, 2, 0)), BLEND_CALENDAR_HOLIDAY);
    /* The day after: the holiday had no night span, so no tail. */
    assert_int_equal(st(&cal, at(2026, 12, 26, SAT, 2, 0)), BLEND_CALENDAR_CLOSED);
    assert_int_equal(st(&cal, at(2026, 12, 26, SAT, 20, 0)), BLEND_CALENDAR_OPEN);
    /* Special hours. */
    t = at(2026, 12, 31, THU, 12, 0);
    assert_int_equal(blend_calendar_state(&cal, &t, &h), BLEND_CALENDAR_OPEN);
    assert_non_null(h);
    assert_int_equal(st(&cal, at(2026, 12, 31, THU, 21, 0)), BLEND_CALENDAR_HOLIDAY);
    assert_int_equal(st(&cal, at(2027, 1, 1, FRI, 1, 0)), BLEND_CALENDAR_HOLIDAY);
    t = at(2027, 1, 2, SAT, 1, 0);
    assert_int_equal(blend_calendar_state(&cal, &t, &h), BLEND_CALENDAR_CLOSED);
    assert_null(h);
}

static void holiday_overnight_special_hours(void **state)
{
    (void)state;
    static struct blend_calendar cal;
    memset(&cal, 0, sizeof cal);
    add_holiday(&cal, 20270228, 0, 23 * 60, 2 * 60, "late opening");
    /* Across the end of February in a common year: the day before 2027-03-01 is 02-28. */
    assert_int_equal(st(&cal, at(2027, 3, 1, MON, 1, 0)), BLEND_CALENDAR_OPEN);
    assert_int_equal(st(&cal, at(2027, 3, 1, MON, 2, 0)), BLEND_CALENDAR_CLOSED);
    /* In a leap year the day before 03-01 is 02-29: no tail from 02-28. */
    add_holiday(&cal, 20280228, 0, 23 * 60, 2 * 60, "late opening");
    assert_int_equal(st(&cal, at(2028, 3, 1, WED, 1, 0)), BLEND_CALENDAR_CLOSED);
    assert_int_equal(st(&cal, at(2028, 2, 29, TUE, 1, 0)), BLEND_CALENDAR_OPEN);
}

/* Brute force over a week: a minute is open exactly when some span, unrolled onto a linear
 * week of minutes, covers it. */
static void week_walk_matches_unrolled_spans(void **state)
{
    (void)state;
    static struct blend_calendar cal;
    static unsigned char open_at[7 * 1440];
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        memset(&cal, 0, sizeof cal);
        memset(open_at, 0, sizeof open_at);
        int n = 1 + round % 6;
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            int wd = (int)((seed >> 8) % 7);
            seed = seed * 1103515245u + 12345u;
            int o = (int)((seed >> 8) % 1441);
            seed = seed * 1103515245u + 12345u;
            int c = (int)((seed >> 8) % 1441);
            add_span(&cal, wd, o, c);
            if (o == c) {
                continue;
            }
            int end = c > o ? c : c + 1440;
            for (int m = o; m < end; m++) {
                open_at[(wd * 1440 + m) % (7 * 1440)] = 1;
            }
        }
        /* 2026-11-23 (Monday) .. 2026-11-29 (Sunday). */
        for (int m = 0; m < 7 * 1440; m++) {
            struct blend_civil t = at(2026, 11, 23 + m / 1440, m / 1440, (m % 1440) / 60,
                                      m % 60);
            enum blend_calendar_state want =
                open_at[m] ? BLEND_CALENDAR_OPEN : BLEND_CALENDAR_CLOSED;
            if (blend_calendar_state(&cal, &t, NULL) != want) {
                fail_msg("round %d minute %d: expected %s", round, m,
                         blend_calendar_state_name(want));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(office_hours),
        cmocka_unit_test(lunch_break_and_whole_day),
        cmocka_unit_test(overnight_span),
        cmocka_unit_test(holidays),
        cmocka_unit_test(holiday_overnight_special_hours),
        cmocka_unit_test(week_walk_matches_unrolled_spans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
