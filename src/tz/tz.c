/*
 * Time zones through ICU's C calendar API (ucal). Unknown zone names make ICU fall back to
 * GMT silently, so validity is checked first with ucal_getCanonicalTimeZoneID, which reports
 * whether the name is a system zone.
 */
#include "tz/tz.h"

#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define TZ_NAME_MAX 64

static int to_uchars(const char *zone, UChar *out, int32_t cap, int32_t *len)
{
    size_t n = strlen(zone);
    if (n == 0 || n >= (size_t)cap) {
        return BLEND_EINVAL;
    }
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(out, cap, len, zone, (int32_t)n, &st);
    return U_SUCCESS(st) ? 0 : BLEND_EINVAL;
}

int blend_tz_valid(const char *zone)
{
    UChar id[TZ_NAME_MAX], canon[TZ_NAME_MAX];
    int32_t len;
    if (!zone || to_uchars(zone, id, TZ_NAME_MAX, &len) != 0) {
        return 0;
    }
    UErrorCode st = U_ZERO_ERROR;
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(id, len, canon, TZ_NAME_MAX, &system, &st);
    return U_SUCCESS(st) && system;
}

int blend_tz_civil(const char *zone, int64_t unix_ms, struct blend_civil *out)
{
    UChar id[TZ_NAME_MAX];
    int32_t len;
    if (!blend_tz_valid(zone) || to_uchars(zone, id, TZ_NAME_MAX, &len) != 0) {
        return BLEND_EINVAL;
    }
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, len, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        return BLEND_EINVAL;
    }
    ucal_setMillis(cal, (UDate)unix_ms, &st);
    struct blend_civil c;
    c.year = ucal_get(cal, UCAL_YEAR, &st);
    if (ucal_get(cal, UCAL_ERA, &st) == 0) {
        c.year = 1 - c.year; /* years before 1 CE, astronomical numbering */
    }
    c.month = ucal_get(cal, UCAL_MONTH, &st) + 1;
    c.day = ucal_get(cal, UCAL_DATE, &st);
    int dow = ucal_get(cal, UCAL_DAY_OF_WEEK, &st); /* 1 = Sunday .. 7 = Saturday */
    c.weekday = (dow + 5) % 7;
    c.minute = ucal_get(cal, UCAL_HOUR_OF_DAY, &st) * 60 + ucal_get(cal, UCAL_MINUTE, &st);
    c.second = ucal_get(cal, UCAL_SECOND, &st);
    c.utc_offset_s =
        (ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st)) / 1000;
    ucal_close(cal);
    if (U_FAILURE(st)) {
        return BLEND_EINVAL;
    }
    *out = c;
    return 0;
}
