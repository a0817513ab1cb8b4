/*
 * Fuzz target for the bootstrap config parser and the host:port splitter. Beyond not crashing,
 * it checks the parser's promises: a failure leaves the config untouched and explains itself
 * with a message naming the file; a success yields values within their option's bounds, and the
 * formatted result parses back to the same config (a fixpoint), unless formatting made a line
 * longer than the line limit. The host:port splitter must round-trip what it accepts.
 */
#include "base/assert.h"
#include "base/error.h"
#include "config/config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FORMAT_BYTES (16 * BLEND_CONFIG_URL_BYTES_MAX)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fmt_before[FORMAT_BYTES];
static char fmt_after[FORMAT_BYTES];
static char fmt_again[FORMAT_BYTES];

static int has_long_line(const char *s)
{
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (n > BLEND_CONFIG_LINE_BYTES_MAX) {
            return 1;
        }
        s += n + (nl ? 1 : 0);
    }
    return 0;
}

static void check_bounds(const struct blend_config *c)
{
    for (size_t i = 0; i < blend_config_options_count(); i++) {
        const struct blend_config_option *o = blend_config_option_at(i);
        const char *field = (const char *)c + o->offset;
        int v;
        switch (o->type) {
        case BLEND_CONFIG_TYPE_STRING:
        case BLEND_CONFIG_TYPE_HOSTPORT:
            BLEND_ASSERT(strnlen(field, o->size) < o->size);
            BLEND_ASSERT(o->is_empty_ok || field[0] != '\0');
            break;
        case BLEND_CONFIG_TYPE_INT:
            memcpy(&v, field, sizeof v);
            BLEND_ASSERT(v >= o->min && v <= o->max);
            break;
        case BLEND_CONFIG_TYPE_ENUM:
            memcpy(&v, field, sizeof v);
            BLEND_ASSERT(v >= 0);
            for (int k = 0; k <= v; k++) {
                BLEND_ASSERT(o->names[k] != NULL);
            }
            break;
        }
    }
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
    struct blend_config c;
    char err[256];
    blend_config_defaults(&c);
    BLEND_ASSERT(blend_config_format(&c, fmt_before, sizeof fmt_before) == 0);
    err[0] = '\0';
    int rc = blend_config_parse(&c, "fuzz.conf", (const char *)data, size, err, sizeof err);
    BLEND_ASSERT(blend_config_format(&c, fmt_after, sizeof fmt_after) == 0);
    if (rc != 0) {
        BLEND_ASSERT(rc == BLEND_EINVAL || rc == BLEND_EPARSE || rc == BLEND_ELIMIT);
        BLEND_ASSERT(strncmp(err, "fuzz.conf", 9) == 0);
        BLEND_ASSERT(strcmp(fmt_before, fmt_after) == 0);
        return;
    }
    check_bounds(&c);
    struct blend_config back;
    blend_config_defaults(&back);
    rc = blend_config_parse(&back, "fmt.conf", fmt_after, strlen(fmt_after), err, sizeof err);
    if (rc != 0) {
        BLEND_ASSERT(rc == BLEND_ELIMIT && has_long_line(fmt_after));
        return;
    }
    BLEND_ASSERT(blend_config_format(&back, fmt_again, sizeof fmt_again) == 0);
    BLEND_ASSERT(strcmp(fmt_after, fmt_again) == 0);
}

static void fuzz_hostport(const uint8_t *data, size_t size)
{
    char s[BLEND_CONFIG_HOSTPORT_BYTES_MAX + 16];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    char host[BLEND_CONFIG_HOST_BYTES_MAX];
    int port = 0;
    if (blend_config_split_hostport(s, host, sizeof host, &port) != 0) {
        return;
    }
    BLEND_ASSERT(port >= 1 && port <= 65535);
    char again[BLEND_CONFIG_HOSTPORT_BYTES_MAX];
    snprintf(again, sizeof again, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    char host2[BLEND_CONFIG_HOST_BYTES_MAX];
    int port2 = 0;
    BLEND_ASSERT(blend_config_split_hostport(again, host2, sizeof host2, &port2) == 0);
    BLEND_ASSERT(strcmp(host, host2) == 0 && port == port2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse(data, size);
    fuzz_hostport(data, size);
    return 0;
}
