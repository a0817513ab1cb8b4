/*
 * `blend erlang`: staffing arithmetic on the command line. Either evaluates a given number of
 * agents (--agents) or finds the least number meeting a service-level target (--sl), with
 * Erlang C, or Erlang A when a mean patience is given. Pure adapter: it parses and checks the
 * arguments (naming the one at fault), calls engine/wfm/erlang and prints a table or one JSON
 * object. Exit codes: 0 success, 1 no staffing within the limit meets the target, 2 usage.
 */
#include "cli/cli.h"

#include "engine/wfm/erlang.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt {
    OPT_CALLS,
    OPT_INTERVAL,
    OPT_AHT,
    OPT_TARGET,
    OPT_SL,
    OPT_AGENTS,
    OPT_PATIENCE,
    OPT_MAX_ABANDON,
    OPT_COUNT
};

/* Accepted range of each option's value: [min, max], or (min, max] when is_min_open. */
static const struct {
    const char *name;
    double min;
    double max;
    int is_min_open;
    int is_integer;
    const char *range;
} opts[OPT_COUNT] = {
    [OPT_CALLS] = {"--calls", 0, HUGE_VAL, 0, 0, "a number >= 0"},
    [OPT_INTERVAL] = {"--interval-s", 0, HUGE_VAL, 1, 0, "a number of seconds > 0"},
    [OPT_AHT] = {"--aht-s", 0, HUGE_VAL, 1, 0, "a number of seconds > 0"},
    [OPT_TARGET] = {"--target-s", 0, HUGE_VAL, 0, 0, "a number of seconds >= 0"},
    [OPT_SL] = {"--sl", 0, 1, 0, 0, "a fraction from 0 to 1"},
    [OPT_AGENTS] = {"--agents", 1, BLEND_ERLANG_AGENTS_MAX, 0, 1, "an integer from 1 to 100000"},
    [OPT_PATIENCE] = {"--patience-s", 0, HUGE_VAL, 0, 0, "a number of seconds >= 0"},
    [OPT_MAX_ABANDON] = {"--max-abandon", 0, 1, 0, 0, "a fraction from 0 to 1"},
};

struct args {
    double value[OPT_COUNT];
    int has[OPT_COUNT];
    int is_json;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: blend erlang --calls N --interval-s S --aht-s H --target-s T\n"
                 "                    (--sl FRACTION | --agents N)\n"
                 "                    [--patience-s P [--max-abandon FRACTION]] [--json]\n");
}

static int parse_value(enum opt o, const char *text, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    int is_ok = text[0] != '\0' && text[0] != ' ' && *end == '\0' && isfinite(v) &&
                v <= opts[o].max && (opts[o].is_min_open ? v > opts[o].min : v >= opts[o].min) &&
                (!opts[o].is_integer || v == floor(v));
    if (!is_ok) {
        fprintf(stderr, "blend erlang: %s: expected %s, got '%s'\n", opts[o].name, opts[o].range,
                text);
        return 2;
    }
    *out = v;
    return 0;
}

/* One "--name value" or "--name=value" at argv[*i]; advances *i past what it used. */
static int parse_option(int argc, char **argv, int *i, struct args *a)
{
    const char *arg = argv[*i];
    for (int o = 0; o < OPT_COUNT; o++) {
        size_t len = strlen(opts[o].name);
        if (strncmp(arg, opts[o].name, len) != 0 || (arg[len] != '\0' && arg[len] != '=')) {
            continue;
        }
        const char *text = arg[len] == '=' ? arg + len + 1 : NULL;
        if (!text && *i + 1 >= argc) {
            fprintf(stderr, "blend erlang: %s: missing value\n", opts[o].name);
            return 2;
        }
        if (!text) {
            text = argv[++*i];
        }
        if (a->has[o]) {
            fprintf(stderr, "blend erlang: %s: given twice\n", opts[o].name);
            return 2;
        }
        a->has[o] = 1;
        return parse_value((enum opt)o, text, &a->value[o]);
    }
    fprintf(stderr, "blend erlang: unexpected argument '%s'\n", arg);
    return 2;
}

static int check_combination(const struct args *a)
{
    static const enum opt required[] = {OPT_CALLS, OPT_INTERVAL, OPT_AHT, OPT_TARGET};
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
        if (!a->has[required[k]]) {
            fprintf(stderr, "blend erlang: %s: missing\n", opts[required[k]].name);
            return 2;
        }
    }
    if (a->has[OPT_SL] == a->has[OPT_AGENTS]) {
        fprintf(stderr, "blend erlang: --sl / --agents: give exactly one of them\n");
        return 2;
    }
    if (a->has[OPT_MAX_ABANDON] && !(a->has[OPT_PATIENCE] && a->value[OPT_PATIENCE] > 0)) {
        fprintf(stderr, "blend erlang: --max-abandon: needs --patience-s > 0 (Erlang A)\n");
        return 2;
    }
    if (a->has[OPT_MAX_ABANDON] && a->has[OPT_AGENTS]) {
        fprintf(stderr, "blend erlang: --max-abandon: applies to --sl only\n");
        return 2;
    }
    double patience = a->value[OPT_PATIENCE], ratio = patience / a->value[OPT_AHT];
    if (patience > 0 &&
        !(ratio >= BLEND_ERLANG_PATIENCE_RATIO_MIN && ratio <= BLEND_ERLANG_PATIENCE_RATIO_MAX)) {
        fprintf(stderr, "blend erlang: --patience-s: must lie between %g and %g times --aht-s\n",
                BLEND_ERLANG_PATIENCE_RATIO_MIN, BLEND_ERLANG_PATIENCE_RATIO_MAX);
        return 2;
    }
    double traffic = a->value[OPT_CALLS] * a->value[OPT_AHT] / a->value[OPT_INTERVAL];
    double threshold = a->value[OPT_TARGET] / a->value[OPT_AHT];
    if (!(traffic <= BLEND_ERLANG_TRAFFIC_MAX) || !isfinite(threshold)) {
        fprintf(stderr,
                "blend erlang: --calls / --interval-s / --aht-s: traffic must stay below "
                "%g Erlangs and --target-s / --aht-s finite\n",
                BLEND_ERLANG_TRAFFIC_MAX);
        return 2;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            a->is_json = 1;
            continue;
        }
        int rc = parse_option(argc, argv, &i, a);
        if (rc) {
            usage(stderr);
            return rc;
        }
    }
    int rc = check_combination(a);
    if (rc) {
        usage(stderr);
    }
    return rc;
}

static int print_json(const struct blend_erlang_result *r)
{
    json_t *o = json_object();
    int rc = o ? 0 : -1;
    rc |= json_object_set_new(o, "traffic_erlangs", json_real(r->traffic_erlangs));
    rc |= json_object_set_new(o, "agents", json_integer(r->agents));
    rc |= json_object_set_new(o, "p_wait", json_real(r->p_wait));
    /* Unbounded wait (Erlang C with agents <= traffic) has no JSON number: null. */
    rc |= json_object_set_new(o, "asa_s", isfinite(r->asa_s) ? json_real(r->asa_s) : json_null());
    rc |= json_object_set_new(o, "service_level", json_real(r->service_level));
    rc |= json_object_set_new(o, "occupancy", json_real(r->occupancy));
    rc |= json_object_set_new(o, "p_abandon", json_real(r->p_abandon));
    if (rc == 0) {
        rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
    }
    json_decref(o);
    if (rc) {
        fprintf(stderr, "blend erlang: out of memory\n");
        return 1;
    }
    printf("\n");
    return 0;
}

static void print_table(const struct args *a, const struct blend_erlang_result *r)
{
    int is_erlang_a = a->value[OPT_PATIENCE] > 0;
    printf("model          Erlang %s\n", is_erlang_a ? "A" : "C");
    printf("traffic        %.4f Erlangs\n", r->traffic_erlangs);
    printf("agents         %d\n", r->agents);
    printf("p(wait)        %.4f\n", r->p_wait);
    if (isfinite(r->asa_s)) {
        printf("asa            %.2f s\n", r->asa_s);
    } else {
        printf("asa            unbounded (agents <= traffic)\n");
    }
    printf("service level  %.4f (answered within %g s)\n", r->service_level, a->value[OPT_TARGET]);
    printf("occupancy      %.4f\n", r->occupancy);
    if (is_erlang_a) {
        printf("p(abandon)     %.4f\n", r->p_abandon);
    }
}

int blend_cmd_erlang(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        return rc;
    }
    struct blend_erlang_input in = {.calls = a.value[OPT_CALLS],
                                    .interval_s = a.value[OPT_INTERVAL],
                                    .aht_s = a.value[OPT_AHT],
                                    .target_s = a.value[OPT_TARGET],
                                    .patience_s = a.value[OPT_PATIENCE]};
    struct blend_erlang_result r;
    if (a.has[OPT_AGENTS]) {
        rc = blend_erlang_eval(&in, (int)a.value[OPT_AGENTS], &r);
    } else {
        double max_abandon = a.has[OPT_MAX_ABANDON] ? a.value[OPT_MAX_ABANDON] : -1.0;
        rc = blend_erlang_required(&in, a.value[OPT_SL], max_abandon, BLEND_ERLANG_AGENTS_MAX, &r);
    }
    if (rc == BLEND_ELIMIT) {
        fprintf(stderr, "blend erlang: no staffing up to %d agents meets the target\n",
                BLEND_ERLANG_AGENTS_MAX);
        return 1;
    }
    if (rc == BLEND_EINVAL) {
        fprintf(stderr, "blend erlang: the arguments are out of range\n");
        return 2;
    }
    if (rc) {
        fprintf(stderr, "blend erlang: %s\n", blend_strerror(rc));
        return 1;
    }
    if (a.is_json) {
        return print_json(&r);
    }
    print_table(&a, &r);
    return 0;
}
