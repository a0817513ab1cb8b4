/*
 * `blend erlang` through its entry point with argv arrays, standard output and error captured
 * in temporary files: the JSON object's exact keys and values, the table, and the exit codes
 * with messages naming the argument at fault.
 */
#include "base/alloc.h"
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define CAPTURE_BYTES 8192

struct run {
    int rc;
    char out[CAPTURE_BYTES];
    char err[CAPTURE_BYTES];
};

static void slurp(FILE *f, char *buf)
{
    rewind(f);
    size_t n = fread(buf, 1, CAPTURE_BYTES - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs `blend erlang ARGS...` (NULL-terminated) with stdout and stderr captured. */
static struct run run_erlang(const char *first, ...)
{
    static struct run r;
    char *argv[32];
    int argc = 0;
    argv[argc++] = "erlang";
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        assert_true(argc < 31);
        argv[argc++] = (char *)s;
    }
    va_end(ap);
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    assert_true(saved_out >= 0 && saved_err >= 0);
    assert_true(dup2(fileno(out), STDOUT_FILENO) >= 0 && dup2(fileno(err), STDERR_FILENO) >= 0);
    r.rc = blend_cmd_erlang(argc, argv);
    fflush(stdout);
    fflush(stderr);
    assert_true(dup2(saved_out, STDOUT_FILENO) >= 0 && dup2(saved_err, STDERR_FILENO) >= 0);
    close(saved_out);
    close(saved_err);
    slurp(out, r.out);
    slurp(err, r.err);
    return r;
}

static double number(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void json_worked_example(void **state)
{
    (void)state;
    struct run r = run_erlang("--calls", "100", "--interval-s", "1800", "--aht-s", "180",
                              "--target-s", "20", "--sl", "0.8", "--json", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    /* Exactly one JSON object on one line. */
    assert_non_null(strchr(r.out, '\n'));
    assert_string_equal(strchr(r.out, '\n'), "\n");
    json_error_t jerr;
    json_t *o = json_loads(r.out, 0, &jerr);
    assert_non_null(o);
    assert_true(json_is_object(o));
    static const char *keys[] = {"traffic_erlangs", "agents",    "p_wait",   "asa_s",
                                 "service_level",   "occupancy", "p_abandon"};
    assert_int_equal(json_object_size(o), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_non_null(json_object_get(o, keys[i]));
    }
    assert_true(json_is_integer(json_object_get(o, "agents")));
    assert_int_equal(json_integer_value(json_object_get(o, "agents")), 14);
    assert_true(fabs(number(o, "traffic_erlangs") - 10.0) < 1e-9);
    assert_true(fabs(number(o, "p_wait") - 0.1741) < 5e-5);
    assert_true(fabs(number(o, "service_level") - 0.8884) < 5e-5);
    assert_true(fabs(number(o, "occupancy") - 0.7143) < 5e-5);
    assert_true(number(o, "p_abandon") == 0.0);
    assert_true(fabs(number(o, "asa_s") - 7.8359) < 1e-3);
    json_decref(o);
}

static void json_erlang_a_and_unstable(void **state)
{
    (void)state;
    struct run r = run_erlang("--calls=100", "--interval-s=1800", "--aht-s=180", "--target-s=20",
                              "--sl=0.8", "--patience-s=120", "--max-abandon=0.01", "--json", NULL);
    assert_int_equal(r.rc, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    assert_true(number(o, "p_abandon") > 0 && number(o, "p_abandon") <= 0.01);
    assert_true(number(o, "service_level") >= 0.8);
    assert_true(number(o, "agents") > 10);
    json_decref(o);

    /* Erlang C at N = A: the wait is unbounded, asa_s is null. */
    r = run_erlang("--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--target-s", "20",
                   "--agents", "10", "--json", NULL);
    assert_int_equal(r.rc, 0);
    o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "asa_s")));
    assert_true(number(o, "p_wait") == 1.0 && number(o, "service_level") == 0.0);
    json_decref(o);
}

static void table_output(void **state)
{
    (void)state;
    struct run r = run_erlang("--calls", "100", "--interval-s", "1800", "--aht-s", "180",
                              "--target-s", "20", "--agents", "14", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "agents         14\n"));
    assert_non_null(strstr(r.out, "p(wait)        0.1741\n"));
    assert_non_null(strstr(r.out, "service level  0.8884"));
    assert_non_null(strstr(r.out, "occupancy      0.7143\n"));
    r = run_erlang("--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: blend erlang"));
}

static void usage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[8];
        const char *names;
    } cases[] = {
        {{"--interval-s", "1800", "--aht-s", "180", "--target-s", "20", "--sl", "0.8"}, "--calls"},
        {{"--calls", "100", "--aht-s", "180", "--target-s", "20", "--sl", "0.8"}, "--interval-s"},
        {{"--calls", "100", "--interval-s", "1800", "--target-s", "20", "--sl", "0.8"}, "--aht-s"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--sl", "0.8"}, "--target-s"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--target-s", "20"}, "--sl"},
        {{"--calls", "-1", "--interval-s", "1800", "--aht-s", "180", "--target-s", "20"},
         "--calls"},
        {{"--calls", "100", "--interval-s", "0", "--aht-s", "180", "--target-s", "20"},
         "--interval-s"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "nan", "--target-s", "20"},
         "--aht-s"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--target-s", "20x"},
         "--target-s"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--sl", "1.5"}, "--sl"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--agents", "2.5"},
         "--agents"},
        {{"--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--agents", "0"}, "--agents"},
        {{"--calls", "100", "--calls", "100"}, "--calls"},
        {{"--calls"}, "--calls"},
        {{"--bogus", "1"}, "--bogus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *a = cases[i].args;
        struct run r = run_erlang(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL);
        assert_int_equal(r.rc, 2);
        assert_string_equal(r.out, "");
        if (!strstr(r.err, cases[i].names)) {
            fail_msg("case %zu: '%s' does not name %s", i, r.err, cases[i].names);
        }
    }
    const char *base[] = {"--calls", "100", "--interval-s", "1800",
                          "--aht-s", "180", "--target-s",   "20"};
#define BASE base[0], base[1], base[2], base[3], base[4], base[5], base[6], base[7]
    struct run r = run_erlang(BASE, "--sl", "0.8", "--agents", "12", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "--agents"));
    r = run_erlang(BASE, "--sl", "0.8", "--max-abandon", "0.05", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "--max-abandon"));
    r = run_erlang(BASE, "--sl", "0.8", "--patience-s", "1e15", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "--patience-s"));
    r = run_erlang(BASE, "--sl", "0.8", "--patience-s", "60", "--max-abandon", "-0.1", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "--max-abandon"));
#undef BASE
}

static void target_out_of_reach(void **state)
{
    (void)state;
    struct run r = run_erlang("--calls", "2000000", "--interval-s", "1800", "--aht-s", "180",
                              "--target-s", "20", "--sl", "0.8", "--json", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "no staffing"));
    /* N must exceed A = 100,000 Erlangs, past the agents limit. */
    r = run_erlang("--calls", "1000000", "--interval-s", "1800", "--aht-s", "180", "--target-s",
                   "20", "--sl", "0.5", "--patience-s", "30", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "no staffing"));
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_worked_example), cmocka_unit_test(json_erlang_a_and_unstable),
        cmocka_unit_test(table_output),        cmocka_unit_test(usage_errors),
        cmocka_unit_test(target_out_of_reach),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocation(s) live\n", blend_alloc_live());
        return 1;
    }
    return failed;
}
