/*
 * Every scenario under tests/sim/scenarios (NAME.jsonl) is replayed on both engines (the reference
 * model and the fast engine, each checked against its invariants after every step) and the
 * output must equal the hand-written *.expected file byte for byte. The expected files were
 * reasoned out from docs/routing.md, not generated; a difference names the scenario, the engine
 * and the first differing line. The output is what `blend sim replay` prints on standard output,
 * with each refusal by the engine inserted at its place as the line the command prints on
 * standard error ("NAME.jsonl:LINE: the engine refused ..."): a scenario expects a refusal by
 * listing it, and any refusal it does not list is a difference. A refused configuration stops the
 * run (nothing else is printed). BLEND_SIM_ACTUAL=1 writes NAME.ENGINE.actual beside each
 * scenario for inspection.
 */
#include "ref_engine.h"

#include "base/alloc.h"

#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SCENARIO_DIR "tests/sim/scenarios"

struct out {
    char *data;
    size_t len, cap;
};

static void out_write(const char *line, size_t len, void *arg)
{
    struct out *o = arg;
    while (o->len + len + 2 > o->cap) {
        o->cap = o->cap ? o->cap * 2 : 4096;
        o->data = realloc(o->data, o->cap);
        assert_non_null(o->data);
    }
    memcpy(o->data + o->len, line, len);
    o->len += len;
    o->data[o->len++] = '\n';
    o->data[o->len] = '\0';
}

static void out_refuse(const char *message, void *arg)
{
    out_write(message, strlen(message), arg);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void report_diff(const char *name, const char *engine, const char *want, const char *got)
{
    int line = 1;
    while (*want && *want == *got) {
        line += *want == '\n';
        want++;
        got++;
    }
    while (line > 1 && want[-1] != '\n') {
        want--;
        got--;
    }
    fprintf(stderr,
            "%s (%s): first difference at output line %d\n  expected: %.*s\n  actual:   %.*s\n",
            name, engine, line, (int)strcspn(want, "\n"), want, (int)strcspn(got, "\n"), got);
}

/* Replays one scenario on one engine; returns 1 when the output matches. */
static int replay_matches(const char *name, const struct blend_sim_engine *eng)
{
    char path[512];
    size_t len = 0, want_len = 0;
    snprintf(path, sizeof path, "%s/%s.jsonl", SCENARIO_DIR, name);
    char *text = slurp(path, &len);
    assert_non_null(text);
    snprintf(path, sizeof path, "%s/%s.expected", SCENARIO_DIR, name);
    char *want = slurp(path, &want_len);
    if (!want) {
        fprintf(stderr, "%s: no expected file\n", name);
        free(text);
        return 0;
    }
    struct blend_sim_scenario *s = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_scenario_parse(text, len, name, &s, &errs);
    for (size_t i = 0; rc && i < errs.count; i++) {
        fprintf(stderr, "%s\n", errs.items[i]);
    }
    assert_int_equal(rc, 0);
    struct out o = {0};
    char file[300];
    snprintf(file, sizeof file, "%s.jsonl", name);
    struct blend_sim_replay_opts opts = {
        .file = file, .write = out_write, .refuse = out_refuse, .arg = &o, .is_checked = 1};
    struct blend_sim_replay_result res;
    rc = blend_sim_replay(s, eng, &opts, &res);
    blend_sim_scenario_destroy(s);
    /* A refused configuration ends the replay with the engine's error, reported as a refusal
     * (in the output, compared below). */
    assert_true(rc == 0 || (rc == BLEND_EINVAL && o.data != NULL));
    if (getenv("BLEND_SIM_ACTUAL")) {
        snprintf(path, sizeof path, "%s/%s.%s.actual", SCENARIO_DIR, name, eng->name);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(o.data, 1, o.len, f);
        fclose(f);
    }
    int ok = o.data && strcmp(want, o.data) == 0;
    if (!ok) {
        report_diff(name, eng->name, want, o.data ? o.data : "");
    }
    free(o.data);
    free(text);
    free(want);
    return ok;
}

static void run_all(const struct blend_sim_engine *eng)
{
    DIR *dir = opendir(SCENARIO_DIR);
    assert_non_null(dir);
    int count = 0, failed = 0;
    for (struct dirent *de; (de = readdir(dir));) {
        size_t n = strlen(de->d_name);
        if (n > 6 && strcmp(de->d_name + n - 6, ".jsonl") == 0) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(n - 6), de->d_name);
            count++;
            failed += !replay_matches(name, eng);
        }
    }
    closedir(dir);
    fprintf(stderr, "%s: %d scenarios, %d differ\n", eng->name, count, failed);
    assert_true(count >= 12);
    assert_int_equal(failed, 0);
    assert_int_equal(blend_alloc_live(), 0);
}

static void test_reference(void **state)
{
    run_all(&blend_sim_engine_ref);
}

static void test_fast(void **state)
{
    run_all(&blend_sim_engine_fast);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
