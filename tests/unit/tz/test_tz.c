/*
 * Time zones through ICU: known and unknown names, standard and daylight-saving offsets, the
 * weekday, and the instants on both sides of a daylight-saving change.
 */
#include "tz/tz.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* 2026-11-22T15:20:00Z */
#define T0_MS 1795360800000LL

static void names(void **state)
{
    (void)state;
    assert_true(blend_tz_valid("Asia/Seoul"));
    assert_true(blend_tz_valid("America/New_York"));
    assert_true(blend_tz_valid("UTC"));
    assert_false(blend_tz_valid("Asia/Atlantis"));
    assert_false(blend_tz_valid(""));
    assert_false(blend_tz_valid(NULL));
    struct blend_civil c;
    assert_int_equal(blend_tz_civil("Mars/Olympus", T0_MS, &c), BLEND_EINVAL);
}

static void seoul(void **state)
{
    (void)state;
    struct blend_civil c;
    assert_int_equal(blend_tz_civil("Asia/Seoul", T0_MS, &c), 0);
    /* 00:20 on Monday 2026-11-23 in Seoul (UTC+9, no daylight saving). */
    assert_int_equal(c.year, 2026);
    assert_int_equal(c.month, 11);
    assert_int_equal(c.day, 23);
    assert_int_equal(c.weekday, 0);
    assert_int_equal(c.minute, 20);
    assert_int_equal(c.utc_offset_s, 9 * 3600);
}

static void new_york_daylight_saving(void **state)
{
    (void)state;
    struct blend_civil c;
    /* 2026-03-08: clocks go from 02:00 EST to 03:00 EDT, i.e. at 07:00Z. */
    int64_t change_ms = 1772953200000LL;
    assert_int_equal(blend_tz_civil("America/New_York", change_ms - 60000, &c), 0);
    assert_int_equal(c.minute, 60 + 59);
    assert_int_equal(c.utc_offset_s, -5 * 3600);
    assert_int_equal(c.weekday, 6); /* Sunday */
    assert_int_equal(blend_tz_civil("America/New_York", change_ms, &c), 0);
    assert_int_equal(c.minute, 3 * 60);
    assert_int_equal(c.utc_offset_s, -4 * 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(seoul),
        cmocka_unit_test(new_york_daylight_saving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
