/*
 * Business-hours calendars in the server: a calendar document from the store becomes the pure
 * engine's struct blend_calendar, and "now" in the calendar's time zone (src/tz) is evaluated
 * against it. Used where a contact meets a queue (closed-hours treatment) and by the live
 * queue figures. Documents are read from the store at each use: they change rarely and a read
 * is a few microseconds on the opening thread.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "tz/tz.h"

#include <stdio.h>
#include <string.h>

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* "HH:MM" -> minutes; -1 when absent or malformed (validation keeps stored values well formed). */
static int minutes(const json_t *v)
{
    const char *s = json_string_value(v);
    int hh, mm;
    if (!s || sscanf(s, "%2d:%2d", &hh, &mm) != 2) {
        return -1;
    }
    return hh * 60 + mm;
}

static int date_number(const json_t *v)
{
    const char *s = json_string_value(v);
    int y, m, d;
    if (!s || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3) {
        return -1;
    }
    return y * 10000 + m * 100 + d;
}

int blend__calendar_from_json(const json_t *doc, struct blend_calendar *out)
{
    memset(out, 0, sizeof *out);
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(doc, "hours"), i, h)
    {
        const char *day = json_string_value(json_object_get(h, "day"));
        int wd = -1;
        for (int k = 0; day && k < 7; k++) {
            if (strcmp(day, day_names[k]) == 0) {
                wd = k;
            }
        }
        int open = minutes(json_object_get(h, "open"));
        int close = minutes(json_object_get(h, "close"));
        if (wd < 0 || open < 0 || close < 0) {
            return BLEND_EINVAL;
        }
        if (out->spans_count == BLEND_CALENDAR_SPANS_MAX) {
            return BLEND_ELIMIT;
        }
        out->spans[out->spans_count++] = (struct blend_calendar_span){wd, open, close};
    }
    json_array_foreach(json_object_get(doc, "holidays"), i, h)
    {
        if (out->holidays_count == BLEND_CALENDAR_HOLIDAYS_MAX) {
            return BLEND_ELIMIT;
        }
        struct blend_calendar_holiday *hd = &out->holidays[out->holidays_count];
        hd->date = date_number(json_object_get(h, "date"));
        hd->open_min = minutes(json_object_get(h, "open"));
        hd->close_min = minutes(json_object_get(h, "close"));
        hd->closed = hd->open_min < 0 || hd->close_min < 0;
        const char *name = json_string_value(json_object_get(h, "name"));
        snprintf(hd->name, sizeof hd->name, "%s", name ? name : "");
        if (hd->date < 0) {
            return BLEND_EINVAL;
        }
        out->holidays_count++;
    }
    return 0;
}

int blend__calendar_now(struct blend_app *app, const char *name, int64_t wall_ms,
                        struct blend__open_state *out)
{
    json_t *doc;
    int rc = blend_store_find(app->store, &blend_res_calendars, "name", name, 0, &doc);
    if (rc) {
        return rc;
    }
    struct blend_calendar *cal = blend_malloc(sizeof *cal);
    struct blend_civil civil;
    const char *zone = json_string_value(json_object_get(doc, "time_zone"));
    rc = cal ? blend__calendar_from_json(doc, cal) : BLEND_ENOMEM;
    rc = rc ? rc : blend_tz_civil(zone ? zone : "", wall_ms, &civil);
    if (rc == 0) {
        const struct blend_calendar_holiday *h;
        memset(out, 0, sizeof *out);
        out->state = blend_calendar_state(cal, &civil, &h);
        snprintf(out->calendar, sizeof out->calendar, "%s", name);
        snprintf(out->holiday, sizeof out->holiday, "%s", h ? h->name : "");
        out->hour = civil.minute / 60;
    }
    blend_free(cal);
    json_decref(doc);
    return rc;
}

json_t *blend__open_state_json(const struct blend__open_state *s)
{
    return json_pack("{s:s, s:s, s:o}", "calendar", s->calendar, "state",
                     blend_calendar_state_name(s->state), "holiday",
                     s->holiday[0] ? json_string(s->holiday) : json_null());
}
