/*
 * Route patterns: "/api/v1/agents/{id}" is a list of '/'-separated segments, each a literal
 * or a {name} parameter matching one non-empty path segment. Matching is a single left-to-right
 * walk over both strings: no allocation, no backtracking, no recursion.
 */
#include "api/http_private.h"

#include "base/assert.h"

#include <string.h>

static int is_param_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int blend__http_route_validate(const char *pattern)
{
    if (!pattern || pattern[0] != '/') {
        return BLEND_EINVAL;
    }
    if (strcmp(pattern, "/") == 0) {
        return 0;
    }
    size_t params = 0;
    const char *p = pattern;
    while (*p == '/') {
        const char *seg = p + 1;
        size_t len = strcspn(seg, "/");
        if (len == 0) {
            return BLEND_EINVAL; /* empty segment or trailing slash */
        }
        if (seg[0] == '{') {
            if (len < 3 || seg[len - 1] != '}') {
                return BLEND_EINVAL;
            }
            for (size_t i = 1; i + 1 < len; i++) {
                if (!is_param_char(seg[i])) {
                    return BLEND_EINVAL;
                }
            }
            if (++params > BLEND_ROUTE_PARAMS_MAX) {
                return BLEND_EINVAL;
            }
        } else if (memchr(seg, '{', len) || memchr(seg, '}', len)) {
            return BLEND_EINVAL;
        }
        p = seg + len;
    }
    return *p == '\0' ? 0 : BLEND_EINVAL;
}

int blend__http_route_match(const char *pattern, const char *path, struct blend__http_param *params,
                            size_t *params_count)
{
    BLEND_ASSERT(pattern && path && params && params_count);
    size_t n = 0;
    const char *p = pattern;
    const char *s = path;
    if (strcmp(pattern, "/") == 0) {
        *params_count = 0;
        return strcmp(path, "/") == 0;
    }
    while (*p == '/' && *s == '/') {
        const char *pseg = p + 1;
        const char *sseg = s + 1;
        size_t plen = strcspn(pseg, "/");
        size_t slen = strcspn(sseg, "/");
        if (slen == 0) {
            return 0;
        }
        if (pseg[0] == '{') {
            BLEND_ASSERT(n < BLEND_ROUTE_PARAMS_MAX);
            params[n].name = pseg + 1;
            params[n].name_len = plen - 2;
            params[n].value = sseg;
            params[n].value_len = slen;
            n++;
        } else if (plen != slen || memcmp(pseg, sseg, plen) != 0) {
            return 0;
        }
        p = pseg + plen;
        s = sseg + slen;
    }
    if (*p != '\0' || *s != '\0') {
        return 0;
    }
    *params_count = n;
    return 1;
}
