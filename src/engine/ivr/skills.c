/*
 * The IVR "skills" variable (docs/flows.md): a comma-separated list of `name[:min]` that a flow
 * sets for the caller and that the host hands to routing as the interaction's own required
 * skills (docs/routing.md §Queues and eligibility). Pure: no allocation, no I/O; every walk is
 * bounded by the text's length, and the result by BLEND_IVR_SKILLS_MAX.
 */
#include "engine/ivr/ivr.h"

#include "base/assert.h"

#include <string.h>

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
}

/* Parses one item [p, end) (spaces trimmed by the caller) into *out. */
static int parse_item(const char *p, const char *end, struct blend_ivr_skill *out)
{
    const char *name_end = p;
    while (name_end < end && is_name_char(*name_end)) {
        name_end++;
    }
    size_t len = (size_t)(name_end - p);
    if (len == 0 || len >= sizeof out->name) {
        return BLEND_EINVAL;
    }
    int min = 1;
    if (name_end < end) {
        if (*name_end != ':' || name_end + 1 == end || end - (name_end + 1) > 2) {
            return BLEND_EINVAL;
        }
        min = 0;
        for (const char *d = name_end + 1; d < end; d++) {
            if (*d < '0' || *d > '9') {
                return BLEND_EINVAL;
            }
            min = min * 10 + (*d - '0');
        }
        if (min < 1 || min > 10) {
            return BLEND_EINVAL;
        }
    }
    memcpy(out->name, p, len);
    out->name[len] = '\0';
    out->min_proficiency = (uint8_t)min;
    return 0;
}

int blend_ivr_skills_parse(const char *text, struct blend_ivr_skill *out, size_t *count)
{
    BLEND_ASSERT(text && out && count);
    struct blend_ivr_skill got[BLEND_IVR_SKILLS_MAX];
    size_t n = 0;
    const char *p = text;
    while (is_space(*p)) {
        p++;
    }
    if (*p == '\0') {
        *count = 0;
        return 0;
    }
    for (;;) {
        const char *end = strchr(p, ',');
        const char *stop = end ? end : p + strlen(p);
        const char *a = p, *b = stop;
        while (a < b && is_space(*a)) {
            a++;
        }
        while (b > a && is_space(b[-1])) {
            b--;
        }
        if (n == BLEND_IVR_SKILLS_MAX || parse_item(a, b, &got[n]) != 0) {
            return BLEND_EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(got[i].name, got[n].name) == 0) {
                return BLEND_EINVAL; /* a skill twice */
            }
        }
        n++;
        if (!end) {
            break;
        }
        p = end + 1;
    }
    memcpy(out, got, n * sizeof got[0]);
    *count = n;
    return 0;
}
