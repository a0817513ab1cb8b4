/*
 * Keeps the documentation true to the option table: docs/configuration.md has one table row per
 * option with its environment name and default (and no row for an option that does not exist),
 * and examples/blend.conf lists every option, in table order, commented out with its default and
 * its environment variable, below its help sentence from the table; the example parses as is
 * and with every option uncommented, giving the defaults both times. The files are found from this source file's path.
 */
#include "base/alloc.h"
#include "base/error.h"
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define TEXT_BYTES (BLEND_CONFIG_FILE_BYTES_MAX + 1)

static char text[TEXT_BYTES];
static char uncommented[TEXT_BYTES];
static char fmt_a[16 * BLEND_CONFIG_URL_BYTES_MAX];
static char fmt_b[16 * BLEND_CONFIG_URL_BYTES_MAX];

/* Reads the repository file rel (e.g. "docs/configuration.md") into text; returns its length. */
static size_t read_repo_file(const char *rel)
{
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/config/");
    assert_non_null(tail);
    char path[1024];
    snprintf(path, sizeof path, "%.*s%s", (int)(tail - self), self, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail_msg("cannot open %s", path);
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    assert_int_equal(ferror(f), 0);
    assert_true(feof(f));
    fclose(f);
    text[n] = '\0';
    return n;
}

static void assert_same_config(const struct blend_config *a, const struct blend_config *b)
{
    assert_int_equal(blend_config_format(a, fmt_a, sizeof fmt_a), 0);
    assert_int_equal(blend_config_format(b, fmt_b, sizeof fmt_b), 0);
    assert_string_equal(fmt_a, fmt_b);
}

static void docs_list_every_option(void **state)
{
    read_repo_file("docs/configuration.md");
    size_t count = blend_config_options_count();
    for (size_t i = 0; i < count; i++) {
        const struct blend_config_option *o = blend_config_option_at(i);
        char env[BLEND_CONFIG_ENV_NAME_BYTES_MAX];
        assert_int_equal(blend_config_env_name(o, env, sizeof env), 0);
        char row[256];
        snprintf(row, sizeof row, "\n| `%s.%s` | `%s` | `%s` | ", o->section, o->key, env,
                 o->default_text[0] ? o->default_text : "\"\"");
        if (!strstr(text, row)) {
            fail_msg("docs/configuration.md lacks the row starting %s", row + 1);
        }
    }
    /* Rows of the options table (they start with "| `"): as many as options, no stale ones. */
    size_t rows = 0;
    for (const char *p = text; (p = strstr(p, "\n| `")) != NULL; p++) {
        rows++;
    }
    assert_int_equal(rows, count);
}

static void example_lists_every_option_with_its_default(void **state)
{
    size_t len = read_repo_file("examples/blend.conf");
    struct blend_config d;
    struct blend_config c;
    blend_config_defaults(&d);
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(blend_config_parse(&c, "blend.conf", text, len, err, sizeof err), 0);
    assert_same_config(&c, &d);

    /* Uncomment every "# key = value  # BLEND_..." line; they must come in table order. */
    size_t count = blend_config_options_count();
    size_t next = 0;
    size_t n = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t linelen = nl ? (size_t)(nl - p) + 1 : strlen(p);
        const char *copy = p;
        if (next < count) {
            const struct blend_config_option *o = blend_config_option_at(next);
            char prefix[128];
            char env[BLEND_CONFIG_ENV_NAME_BYTES_MAX];
            snprintf(prefix, sizeof prefix, "# %s = ", o->key);
            assert_int_equal(blend_config_env_name(o, env, sizeof env), 0);
            if (strncmp(p, prefix, strlen(prefix)) == 0) {
                /* The option's help sentence comments it, above its line. */
                char help[256];
                snprintf(help, sizeof help, "# %s\n", o->help);
                const char *h = strstr(text, help);
                if (!h || h > p) {
                    fail_msg("examples/blend.conf lacks \"%s\" above %s", help, prefix);
                }
                char tag[96];
                snprintf(tag, sizeof tag, "# %s\n", env);
                assert_true(strstr(p, tag) != NULL && strstr(p, tag) < p + linelen);
                copy += 2;
                linelen -= 2;
                next++;
            }
        }
        memcpy(uncommented + n, copy, linelen);
        n += linelen;
        p = copy + linelen;
    }
    uncommented[n] = '\0';
    if (next != count) {
        fail_msg("examples/blend.conf lacks option %s.%s (or lists it out of order)",
                 blend_config_option_at(next)->section, blend_config_option_at(next)->key);
    }
    blend_config_defaults(&c);
    strcpy(c.data_dir, "changed, so parsing must set it back");
    assert_int_equal(blend_config_parse(&c, "blend.conf", uncommented, n, err, sizeof err), 0);
    assert_same_config(&c, &d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docs_list_every_option),
        cmocka_unit_test(example_lists_every_option_with_its_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
