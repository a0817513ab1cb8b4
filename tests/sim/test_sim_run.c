/*
 * `blend sim run` (src/sim/run.c): the generator against its published reference vectors, the
 * model parser's JSON-path errors, determinism (same seed, same bytes; other seed, other
 * bytes), shift and answer-delay behaviour read back from the effect stream, and the engine
 * against queueing theory: M/M/c against Erlang C and M/M/c+M against Erlang A.
 *
 * Method of the queueing checks: REPS independent replications (seeds 1..REPS), each a run of
 * WARMUP_S + MEASURE_S seconds whose figures cover only the MEASURE_S after the warm-up. Each
 * replication gives one estimate; their mean m and sample standard deviation s give the 99%
 * confidence interval m +- t * s / sqrt(n) with t = 2.861 (Student, 19 degrees of freedom), and
 * the Erlang value must lie inside it. The interval must also be narrow (a bound per figure),
 * so the check can fail: a wrong engine cannot pass by being noisy. The measured figures are
 * printed (docs/sim-run.md quotes them).
 */
#include "sim/run.h"

#include "base/alloc.h"
#include "engine/wfm/erlang.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define REPS 20
#define T_99_19 2.861 /* Student t, two-sided 99%, 19 degrees of freedom */
#define WARMUP_S 3600
#define MEASURE_S 172800
#define AHT_S 180.0
#define TARGET_S 20

/* ---- Helpers ----------------------------------------------------------------------------------
 */

struct capture {
    char *text;
    size_t len, cap;
};

static void capture_write(const char *line, size_t len, void *arg)
{
    struct capture *c = arg;
    if (c->len + len + 2 > c->cap) {
        size_t cap = (c->len + len + 2) * 2;
        char *t = realloc(c->text, cap);
        assert_non_null(t);
        c->text = t;
        c->cap = cap;
    }
    memcpy(c->text + c->len, line, len);
    c->len += len;
    c->text[c->len++] = '\n';
    c->text[c->len] = '\0';
}

static struct blend_sim_model *model_ok(const char *text)
{
    struct blend_sim_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_model_parse(text, strlen(text), "m.json", &m, &errs);
    if (rc) {
        fprintf(stderr, "%s\n", errs.count ? errs.items[0] : "?");
    }
    assert_int_equal(rc, 0);
    return m;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* ---- PRNG -------------------------------------------------------------------------------------
 */

/* xoshiro256** from state {1, 2, 3, 4}: the vectors of the reference implementation (as
 * published with Vigna's C code and reproduced by the C++ and Rust ports). */
static void test_xoshiro_vectors(void **state)
{
    (void)state;
    static const uint64_t expect[] = {11520ull,
                                      0ull,
                                      1509978240ull,
                                      1215971899390074240ull,
                                      1216172134540287360ull,
                                      607988272756665600ull,
                                      16172922978634559625ull,
                                      8476171486693032832ull,
                                      10595114339597558777ull,
                                      2904607092377533576ull};
    struct blend_sim_rng r = {{1, 2, 3, 4}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_true(blend_sim_rng_next(&r) == expect[i]);
    }
}

/* splitmix64 from seed 1234567: the vectors of Java's SplittableRandom test. */
static void test_splitmix_vectors(void **state)
{
    (void)state;
    static const uint64_t expect[] = {6457827717110365317ull, 3203168211198807973ull,
                                      9817491932198370423ull, 4593380528125082431ull,
                                      16408922859458223821ull};
    uint64_t s = 1234567;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_true(blend_sim_splitmix64(&s) == expect[i]);
    }
}

/* The samplers' means and spread over many draws (loose: 1% of the mean). */
static void test_samplers(void **state)
{
    (void)state;
    struct blend_sim_rng r;
    blend_sim_rng_seed(&r, 7);
    double se = 0, sl = 0, sl2 = 0, umin = 1, umax = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = blend_sim_rng_uniform(&r);
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        se += blend_sim_rng_exponential(&r, 180);
        double x = blend_sim_rng_lognormal(&r, 240, 120);
        sl += x;
        sl2 += x * x;
    }
    assert_true(umin >= 0 && umin < 1e-3 && umax < 1 && umax > 0.999);
    assert_true(fabs(se / n - 180) < 1.8);
    double mean = sl / n, sd = sqrt(sl2 / n - mean * mean);
    assert_true(fabs(mean - 240) < 2.4);
    assert_true(fabs(sd - 120) < 3);
}

/* ---- Model errors -----------------------------------------------------------------------------
 */

#define Q_OK "\"arrivals_per_hour\":10,\"handle\":{\"dist\":\"exponential\",\"mean_s\":60}"

static void expect_error(const char *text, const char *want)
{
    struct blend_sim_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_model_parse(text, strlen(text), "m.json", &m, &errs);
    assert_int_equal(rc, BLEND_EPARSE);
    assert_null(m);
    assert_true(errs.count >= 1);
    if (!strstr(errs.items[0], want)) {
        fprintf(stderr, "want \"%s\" in \"%s\"\n", want, errs.items[0]);
        fail();
    }
    assert_true(strncmp(errs.items[0], "m.json: $", 9) == 0);
}

static void test_model_errors(void **state)
{
    (void)state;
    expect_error("{", "m.json: $: bad JSON");
    expect_error("[]", "$: a model must be a JSON object");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"q\"," Q_OK "}],\"agents\":[],\"x\":1}",
                 "$: unknown field \"x\"");
    expect_error("{\"duration_s\":-1,\"queues\":[],\"agents\":[]}", "$: \"duration_s\" must be");
    expect_error("{\"duration_s\":3600,\"warmup_s\":3600,\"queues\":[{\"id\":\"q\"," Q_OK
                 "}],\"agents\":[]}",
                 "$: need duration_s");
    expect_error("{\"duration_s\":3600,\"queues\":[],\"agents\":[]}", "$.queues: must be");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"q\",\"handle\":{\"dist\":"
                 "\"exponential\",\"mean_s\":60}}],\"agents\":[]}",
                 "$.queues[0]: missing \"arrivals_per_hour\"");
    expect_error("{\"duration_s\":3600,\"interval_s\":1800,\"queues\":[{\"id\":\"q\","
                 "\"arrivals_per_hour\":[1],\"handle\":{\"dist\":\"exponential\",\"mean_s\":6}}],"
                 "\"agents\":[]}",
                 "$.queues[0].arrivals_per_hour: must hold one rate per interval (2), not 1");
    expect_error("{\"duration_s\":3600,\"interval_s\":1800,\"queues\":[{\"id\":\"q\","
                 "\"arrivals_per_hour\":[1,-2],\"handle\":{\"dist\":\"exponential\","
                 "\"mean_s\":6}}],\"agents\":[]}",
                 "$.queues[0].arrivals_per_hour[1]: must be a number");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"q\",\"arrivals_per_hour\":1,"
                 "\"handle\":{\"dist\":\"lognormal\",\"mean_s\":6}}],\"agents\":[]}",
                 "$.queues[0].handle: missing \"sd_s\"");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"q\"," Q_OK
                 ",\"patience\":{\"dist\":\"lognormal\",\"mean_s\":6}}],\"agents\":[]}",
                 "$.queues[0].patience: \"dist\" must be \"exponential\" or \"none\"");
    /* Fields shared with scenarios: checked by the scenario parser, located by path. */
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "},{\"id\":\"b\"," Q_OK
                 ",\"strategy\":\"fastest\"}],\"agents\":[]}",
                 "$.queues[1]: unknown strategy \"fastest\"");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK
                 ",\"overflow\":{\"queue\":\"nowhere\"},\"max_wait_s\":9}],\"agents\":[]}",
                 "$.queues[0]: a queue is named");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "},{\"id\":\"a\"," Q_OK
                 "}],\"agents\":[]}",
                 "$.queues[1].id: queue \"a\" defined twice");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "}],\"agents\":["
                 "{\"id\":\"x\"},{\"id\":\"y\",\"count\":2,\"capacity\":{\"fax\":1}}]}",
                 "$.agents[1]: unknown channel \"fax\"");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "}],\"agents\":["
                 "{\"id\":\"x-2\"},{\"id\":\"x\",\"count\":2}]}",
                 "$.agents[1].id: agent \"x-2\" defined twice");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "}],\"agents\":["
                 "{\"id\":\"x\",\"count\":2.5}]}",
                 "$.agents[0]: \"count\" must be an integer");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "}],\"agents\":["
                 "{\"id\":\"x\",\"shifts\":[{\"start_s\":0,\"end_s\":100},{\"start_s\":50,"
                 "\"end_s\":200}]}]}",
                 "$.agents[0].shifts[1]: shifts must have");
    expect_error("{\"duration_s\":3600,\"queues\":[{\"id\":\"a\"," Q_OK "}],\"agents\":["
                 "{\"id\":\"x\",\"shifts\":[{\"start_s\":0}]}]}",
                 "$.agents[0].shifts[0]: missing \"end_s\"");
    assert_int_equal(blend_alloc_live(), 0);
}

/* ---- Determinism and the effect stream ------------------------------------------------------- */

static void run_capture(const struct blend_sim_model *m, uint64_t seed, struct capture *events,
                        struct capture *figures)
{
    struct blend_sim_run_opts opts = {
        .seed = seed, .events = capture_write, .arg = events, .is_checked = 1};
    struct blend_sim_run_result *r = NULL;
    assert_int_equal(blend_sim_run(m, &opts, &r), 0);
    assert_int_equal(blend_sim_run_format(m, r, 1, capture_write, figures), 0);
    assert_int_equal(blend_sim_run_format(m, r, 0, capture_write, figures), 0);
    blend_sim_run_result_destroy(r);
}

static void test_determinism(void **state)
{
    (void)state;
    struct blend_sim_model *m = model_ok(read_text("tests/sim/models/example.json"));
    struct capture e1 = {0}, f1 = {0}, e2 = {0}, f2 = {0}, e3 = {0}, f3 = {0};
    run_capture(m, 42, &e1, &f1);
    run_capture(m, 42, &e2, &f2);
    run_capture(m, 43, &e3, &f3);
    assert_true(e1.len > 1000 && f1.len > 100);
    assert_true(e1.len == e2.len && memcmp(e1.text, e2.text, e1.len) == 0);
    assert_true(f1.len == f2.len && memcmp(f1.text, f2.text, f1.len) == 0);
    assert_true(e1.len != e3.len || memcmp(e1.text, e3.text, e1.len) != 0);
    assert_true(f1.len != f3.len || memcmp(f1.text, f3.text, f1.len) != 0);
    /* The JSON figures are one valid object. */
    char *nl = strchr(f1.text, '\n');
    json_t *o = json_loadb(f1.text, (size_t)(nl - f1.text), 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "queues")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "agents")), 11);
    json_decref(o);
    free(e1.text), free(f1.text), free(e2.text), free(f2.text), free(e3.text), free(f3.text);
    blend_sim_model_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Shifts and the answer delay, read back from the effect stream: no offer to an agent outside
 * its shifts (log-out comes once it is idle), every wait at least the answer delay, and every
 * line valid JSON in the replay format. */
static void test_shifts_and_delay(void **state)
{
    (void)state;
    struct blend_sim_model *m = model_ok(
        "{\"duration_s\":7200,\"answer_delay_s\":3,\"in_system_max\":200,\"queues\":[{\"id\":\"q\","
        "\"arrivals_per_hour\":100,\"handle\":{\"dist\":\"exponential\",\"mean_s\":120},"
        "\"wrapup_s\":5,\"patience\":{\"dist\":\"exponential\",\"mean_s\":100}}],"
        "\"agents\":[{\"id\":\"early\",\"shifts\":[{\"start_s\":0,\"end_s\":3600}]},"
        "{\"id\":\"late\",\"shifts\":[{\"start_s\":1800,\"end_s\":7200}]},{\"id\":\"all\"}]}");
    struct capture ev = {0}, fig = {0};
    run_capture(m, 5, &ev, &fig);
    double early_out = -1, late_in = -1;
    int offers_early = 0, connects = 0, abandons = 0;
    for (char *line = ev.text; line && *line;) {
        char *nl = strchr(line, '\n');
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, NULL);
        assert_non_null(o);
        double at = json_number_value(json_object_get(o, "at"));
        const char *event = json_string_value(json_object_get(o, "event"));
        const char *agent = json_string_value(json_object_get(o, "agent"));
        const char *st = json_string_value(json_object_get(o, "state"));
        int is_early = agent && strcmp(agent, "early") == 0;
        if (is_early && st && strcmp(st, "logged_out") == 0) {
            early_out = at;
        }
        if (agent && strcmp(agent, "late") == 0 && st && late_in < 0) {
            late_in = at;
        }
        if (strcmp(event, "offer") == 0) {
            assert_true(!is_early || early_out < 0); /* never after its log-out */
            assert_true(!is_early || at < 3600);     /* never after its shift's end */
            offers_early += is_early;
        }
        if (strcmp(event, "connected") == 0) {
            assert_true(json_number_value(json_object_get(o, "wait_s")) >= 3);
            connects++;
        }
        abandons += strcmp(event, "abandoned") == 0;
        json_decref(o);
        line = nl + 1;
    }
    assert_true(early_out >= 3600 && early_out < 3600 + 1800);
    assert_true(late_in == 1800);
    assert_true(offers_early > 10 && connects > 100 && abandons > 0);
    free(ev.text), free(fig.text);
    blend_sim_model_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

/* ---- Queueing theory ---------------------------------------------------------------------------
 */

struct ci {
    double mean, half;
};

static struct ci ci_of(const double *x, int n)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        sum += x[i];
    }
    double mean = sum / n;
    for (int i = 0; i < n; i++) {
        sq += (x[i] - mean) * (x[i] - mean);
    }
    return (struct ci){mean, T_99_19 * sqrt(sq / (n - 1)) / sqrt((double)n)};
}

/* A one-queue model: `agents` identical agents, Poisson arrivals of traffic A (Erlangs) with
 * exponential handle time AHT_S, patience exponential with mean patience_s (0: none). */
static struct blend_sim_model *mmc_model(double traffic, int agents, double patience_s)
{
    char text[1024], patience[128] = "";
    if (patience_s > 0) {
        snprintf(patience, sizeof patience,
                 ",\"patience\":{\"dist\":\"exponential\",\"mean_s\":%g}", patience_s);
    }
    snprintf(text, sizeof text,
             "{\"duration_s\":%d,\"warmup_s\":%d,\"in_system_max\":2000,\"interval_s\":%d,"
             "\"queues\":[{\"id\":\"q\","
             "\"sla\":{\"within_s\":%d},\"short_abandon_s\":0,\"arrivals_per_hour\":%.17g,"
             "\"handle\":{\"dist\":\"exponential\",\"mean_s\":%g}%s}],"
             "\"agents\":[{\"id\":\"a\",\"count\":%d,\"capacity\":{\"voice\":1}}]}",
             WARMUP_S + MEASURE_S, WARMUP_S, WARMUP_S + MEASURE_S, TARGET_S,
             traffic * 3600.0 / AHT_S, AHT_S, patience, agents);
    return model_ok(text);
}

struct measured {
    struct ci sl, asa, abandon, occupancy;
    double calls;
};

static struct measured replicate(const struct blend_sim_model *m)
{
    double sl[REPS], asa[REPS], ab[REPS], occ[REPS], calls = 0;
    for (int i = 0; i < REPS; i++) {
        struct blend_sim_run_opts opts = {.seed = (uint64_t)i + 1};
        struct blend_sim_run_result *r = NULL;
        assert_int_equal(blend_sim_run(m, &opts, &r), 0);
        const struct blend_stats_queue_figures *f = &r->queues[0].stats.window;
        assert_true(f->answered > 0 && r->queues[0].blocked == 0);
        sl[i] = f->service_level;
        asa[i] = f->asa_ms / 1000.0;
        ab[i] = f->abandon_rate;
        occ[i] = r->queues[0].occupancy;
        calls += (double)(f->answered + f->abandoned);
        blend_sim_run_result_destroy(r);
    }
    return (struct measured){ci_of(sl, REPS), ci_of(asa, REPS), ci_of(ab, REPS), ci_of(occ, REPS),
                             calls};
}

static void expect_inside(const char *what, struct ci c, double theory, double half_max)
{
    fprintf(stderr, "  %-14s measured %.4f +- %.4f (99%%), theory %.4f%s\n", what, c.mean, c.half,
            theory, fabs(c.mean - theory) <= c.half ? "" : "  OUTSIDE");
    assert_true(fabs(c.mean - theory) <= c.half);
    assert_true(c.half <= half_max); /* narrow enough to mean something */
}

static void check_erlang_c(double traffic, int agents)
{
    struct blend_sim_model *m = mmc_model(traffic, agents, 0);
    struct measured x = replicate(m);
    struct blend_erlang_input in = {.calls = traffic * 3600.0 / AHT_S,
                                    .interval_s = 3600,
                                    .aht_s = AHT_S,
                                    .target_s = TARGET_S};
    struct blend_erlang_result e;
    assert_int_equal(blend_erlang_eval(&in, agents, &e), 0);
    fprintf(stderr, "M/M/c A=%g c=%d (%d x %d s, %.0f calls):\n", traffic, agents, REPS, MEASURE_S,
            x.calls);
    expect_inside("service level", x.sl, e.service_level, 0.04);
    expect_inside("ASA (s)", x.asa, e.asa_s, 0.2 * e.asa_s);
    expect_inside("occupancy", x.occupancy, e.occupancy, 0.02);
    assert_true(x.abandon.mean == 0);
    blend_sim_model_destroy(m);
}

static void test_erlang_c_8_10(void **state)
{
    (void)state;
    check_erlang_c(8, 10);
    assert_int_equal(blend_alloc_live(), 0);
}

static void test_erlang_c_20_23(void **state)
{
    (void)state;
    check_erlang_c(20, 23);
    assert_int_equal(blend_alloc_live(), 0);
}

static void check_erlang_a(double traffic, int agents, double patience_s)
{
    struct blend_sim_model *m = mmc_model(traffic, agents, patience_s);
    struct measured x = replicate(m);
    struct blend_erlang_input in = {.calls = traffic * 3600.0 / AHT_S,
                                    .interval_s = 3600,
                                    .aht_s = AHT_S,
                                    .target_s = TARGET_S,
                                    .patience_s = patience_s};
    struct blend_erlang_result e;
    assert_int_equal(blend_erlang_eval(&in, agents, &e), 0);
    fprintf(stderr, "M/M/c+M A=%g c=%d patience %g s (%d x %d s, %.0f calls):\n", traffic, agents,
            patience_s, REPS, MEASURE_S, x.calls);
    expect_inside("service level", x.sl, e.service_level, 0.04);
    expect_inside("P(abandon)", x.abandon, e.p_abandon, 0.02);
    blend_sim_model_destroy(m);
}

/* Overloaded without patience (A = c) the queue would grow without bound; patience keeps it
 * stable, and a fifth of the calls or so abandon. */
static void test_erlang_a_10_10(void **state)
{
    (void)state;
    check_erlang_a(10, 10, 120);
    assert_int_equal(blend_alloc_live(), 0);
}

static void test_erlang_a_8_9(void **state)
{
    (void)state;
    check_erlang_a(8, 9, 300);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xoshiro_vectors), cmocka_unit_test(test_splitmix_vectors),
        cmocka_unit_test(test_samplers),        cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_determinism),     cmocka_unit_test(test_shifts_and_delay),
        cmocka_unit_test(test_erlang_c_8_10),   cmocka_unit_test(test_erlang_c_20_23),
        cmocka_unit_test(test_erlang_a_10_10),  cmocka_unit_test(test_erlang_a_8_9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
