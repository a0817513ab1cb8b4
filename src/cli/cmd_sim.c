/*
 * `blend sim replay FILE.jsonl [--check]`: replays a scenario on the routing engine and prints
 * one JSON line per engine output event, then a stats line (docs/sim.md). Parse errors and
 * refused actions are printed as FILE:LINE: message on stderr and make the exit status 1.
 *
 * `blend sim run MODEL.json --seed N [--events FILE] [--json] [--check]`: stochastic traffic
 * through the engine (docs/sim-run.md); model errors are printed as FILE: $.path: message.
 */
#include "cli/cli.h"

#include "base/alloc.h"
#include "sim/dial.h"
#include "sim/run.h"
#include "sim/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <stdio.h>
#include <string.h>

static void write_line(const char *line, size_t len, void *arg)
{
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
}

static void write_refusal(const char *message, void *arg)
{
    fprintf(stderr, "%s\n", message);
}

/* Reads the whole file, at most BLEND_SIM_FILE_BYTES_MAX bytes. Returns 1 after printing why. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "blend sim: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 64 * 1024, n = 0;
    char *data = blend_malloc(cap);
    while (data) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap || cap > BLEND_SIM_FILE_BYTES_MAX) {
            break;
        }
        char *grown = blend_realloc(data, cap * 2);
        if (!grown) {
            blend_free(data);
            data = NULL;
        }
        data = grown;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!data || failed || n > BLEND_SIM_FILE_BYTES_MAX) {
        fprintf(stderr, "blend sim: cannot read %s (%s)\n", path,
                !data    ? "out of memory"
                : failed ? "read error"
                         : "file too large");
        blend_free(data);
        return 1;
    }
    *out = data;
    *len = n;
    return 0;
}

/* Prints a parser's FILE:LINE or FILE: $.path errors. */
static void print_errors(int rc, const struct blend_sim_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++) {
        fprintf(stderr, "%s\n", errs->items[i]);
    }
    if (rc == BLEND_ENOMEM) {
        fprintf(stderr, "blend sim: out of memory\n");
    }
}

static int replay(const char *path, int is_checked)
{
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, &text, &len)) {
        return 1;
    }
    struct blend_sim_scenario *s = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_scenario_parse(text, len, path, &s, &errs);
    blend_free(text);
    if (rc) {
        print_errors(rc, &errs);
        return 1;
    }
    struct blend_sim_replay_opts opts = {
        .file = path, .write = write_line, .refuse = write_refusal, .is_checked = is_checked};
    struct blend_sim_replay_result res;
    rc = blend_sim_replay(s, &blend_sim_engine_fast, &opts, &res);
    blend_sim_scenario_destroy(s);
    fflush(stdout);
    if (rc) {
        fprintf(stderr, "blend sim: %s: %s\n", path, blend_strerror(rc));
        return 1;
    }
    return res.refused ? 1 : 0;
}

#define SIM_USAGE                                                                                  \
    "usage: blend sim replay [--check] SCENARIO.jsonl\n"                                           \
    "       blend sim run MODEL.json --seed N [--events FILE] [--json] [--check]\n"

static void write_file_line(const char *line, size_t len, void *arg)
{
    fwrite(line, 1, len, arg);
    fputc('\n', arg);
}

/* An outbound model: each of its modes run on the same seed, one line (or one JSON) out. */
static int run_dial_model(const char *path, const char *text, size_t len, uint64_t seed,
                          int is_json)
{
    struct blend_sim_dial_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_dial_model_parse(text, len, path, &m, &errs);
    if (rc) {
        print_errors(rc, &errs);
        return 1;
    }
    struct blend_sim_dial_figures figs[4];
    size_t n = 0;
    for (int mode = BLEND_DIAL_PREVIEW; !rc && mode <= BLEND_DIAL_PREDICTIVE; mode++) {
        if (m->modes & (1u << mode)) {
            rc = blend_sim_dial_run(m, seed, (enum blend_dial_mode)mode, &figs[n++]);
        }
    }
    rc = rc ? rc : blend_sim_dial_format(m, figs, n, is_json, write_line, NULL);
    blend_sim_dial_model_destroy(m);
    fflush(stdout);
    if (rc) {
        fprintf(stderr, "blend sim run: %s: %s\n", path, blend_strerror(rc));
        return 1;
    }
    return 0;
}

static int run_model(const char *path, uint64_t seed, const char *events, int is_json,
                     int is_checked)
{
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, &text, &len)) {
        return 1;
    }
    if (blend_sim_dial_is_model(text, len)) {
        if (events || is_checked) {
            blend_free(text);
            fprintf(stderr, "blend sim run: --events and --check apply to inbound models only\n");
            return 2;
        }
        int code = run_dial_model(path, text, len, seed, is_json);
        blend_free(text);
        return code;
    }
    struct blend_sim_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_model_parse(text, len, path, &m, &errs);
    blend_free(text);
    if (rc) {
        print_errors(rc, &errs);
        return 1;
    }
    FILE *ef = events ? fopen(events, "wb") : NULL;
    if (events && !ef) {
        fprintf(stderr, "blend sim run: cannot open %s\n", events);
        blend_sim_model_destroy(m);
        return 1;
    }
    struct blend_sim_run_opts opts = {
        .seed = seed, .events = ef ? write_file_line : NULL, .arg = ef, .is_checked = is_checked};
    struct blend_sim_run_result *r = NULL;
    rc = blend_sim_run(m, &opts, &r);
    rc = rc ? rc : blend_sim_run_format(m, r, is_json, write_line, NULL);
    int failed = ef && (fflush(ef) != 0 || ferror(ef));
    if (ef) {
        failed |= fclose(ef) != 0;
    }
    blend_sim_run_result_destroy(r);
    blend_sim_model_destroy(m);
    fflush(stdout);
    if (rc || failed) {
        fprintf(stderr, "blend sim run: %s: %s\n", rc ? path : events,
                rc ? blend_strerror(rc) : "write error");
        return 1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *file = NULL, *events = NULL;
    int is_json = 0, is_checked = 0, has_seed = 0;
    uint64_t seed = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            is_json = 1;
        } else if (strcmp(argv[i], "--check") == 0) {
            is_checked = 1;
        } else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            events = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno || !end || *end || argv[i][0] == '\0' || argv[i][0] == '-') {
                fprintf(stderr, "blend sim run: --seed takes an integer 0..2^64-1\n");
                return 2;
            }
            has_seed = 1;
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            fprintf(stderr, "blend sim run: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file || !has_seed) {
        fprintf(stderr, SIM_USAGE);
        return 2;
    }
    return run_model(file, seed, events, is_json, is_checked);
}

int blend_cmd_sim(int argc, char **argv)
{
    const char *file = NULL;
    int is_checked = 0;
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return cmd_run(argc, argv);
    }
    if (argc < 2 || strcmp(argv[1], "replay") != 0) {
        fprintf(stderr, SIM_USAGE);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            is_checked = 1;
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            fprintf(stderr, "blend sim replay: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, SIM_USAGE);
        return 2;
    }
    return replay(file, is_checked);
}
