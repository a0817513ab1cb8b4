/*
 * Benchmark of the IVR engine's sessions (src/engine/ivr): node visits and events per second
 * through a menu-heavy flow, with an injected clock (the engine reads none).
 *
 * The flow (built here with the engine's API, 40 nodes, validated before use) is a loop that
 * waits for the caller at every menu: a welcome play, a set and a calendar branch, then four
 * levels of menus; each of a menu's two options runs a chain of set -> branch -> set before the
 * next level's menu; after the fourth level a play, a collect of four digits ended by '#', a
 * branch on them, a set, a closing play and a set lead back to the first menu. Key 0 (never pressed
 * here) goes to a queue, exhausted retries to a hangup, so every node is reachable and validation
 * passes.
 *
 * A session's script for one turn of the loop is 16 events: PLAYED then a digit at each of the
 * four menus, PLAYED for the play before the collect, PLAYED and five keys for the collect,
 * PLAYED for the closing play; they visit 22 nodes. Digits depend on the session and the turn
 * (both menu options and both branch arms are taken), so the workload is deterministic. The
 * first turn of every session is checked (node visits counted, session still live) before any
 * measurement, so a change in the engine that breaks the loop fails the bench instead of
 * measuring something else.
 *
 * Lines printed (each measured for at least MEASURE_S seconds of CLOCK_MONOTONIC around whole
 * rounds, never around single steps, so the clock's cost stays out of the figure):
 *   ivr.engine sessions=N steps_per_s=… events_per_s=… ns_per_event=… ns_per_step=…
 *     median_of_B_blocks_events_per_s=…   (N = 10,000 sessions fed round-robin, then 1)
 *   ivr.session create_start_destroy_per_s=… ns_per_create_start_destroy=…
 *     live_sessions=10000 create_start_per_s=… ns_per_create_start=…
 *     (create + START (the welcome play) + destroy on one slot in a loop; then create + START
 *     of 10,000 sessions kept live, the first touch of their memory included)
 *   ivr.ratio events_1/events_10000=…
 * Every allocation goes through blend_malloc; the bench checks blend_alloc_live() == 0 at the
 * end (sessions and flow freed).
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "engine/ivr/ivr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEVELS 4
#define MANY 10000
#define MEASURE_S 1.0
#define BLOCKS_MAX 64
#define EVENTS_PER_TURN 16
#define STEPS_PER_TURN 22
#define NODES_EXPECTED 40

/* One session under load: where it is in its script. */
struct sess {
    struct blend_ivr_session *s;
    uint32_t turn;
    uint32_t at; /* index of the next event of the turn, 0..EVENTS_PER_TURN-1 */
    uint32_t id;
};

static struct blend_ivr_effects fx;
static int64_t now_ms;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_engine_ivr: %s failed: %s\n", what, blend_strerror(rc));
    exit(1);
}

static struct blend_ivr_node *add(struct blend_ivr_flow *f, const char *name,
                                  enum blend_ivr_node_type type)
{
    struct blend_ivr_node *n = NULL;
    int rc = blend_ivr_flow_add(f, name, type, &n);
    if (rc != 0) {
        die(name, rc);
    }
    return n;
}

static void target(struct blend_ivr_target *t, const char *name)
{
    snprintf(t->name, sizeof t->name, "%s", name);
}

static void assign(struct blend_ivr_node *n, const char *var, const char *value)
{
    BLEND_ASSERT(n->sets_count < BLEND_IVR_SETS_MAX);
    snprintf(n->sets[n->sets_count].var, sizeof n->sets[0].var, "%s", var);
    snprintf(n->sets[n->sets_count].value, sizeof n->sets[0].value, "%s", value);
    n->sets_count++;
}

static void option(struct blend_ivr_node *n, char key, const char *to)
{
    BLEND_ASSERT(n->options_count < BLEND_IVR_OPTIONS_MAX);
    n->options[n->options_count].key = key;
    target(&n->options[n->options_count].target, to);
    n->options_count++;
}

static void when(struct blend_ivr_node *n, const char *var, enum blend_ivr_op op, const char *value,
                 const char *to)
{
    BLEND_ASSERT(n->cases_count < BLEND_IVR_CASES_MAX);
    struct blend_ivr_case *c = &n->cases[n->cases_count++];
    snprintf(c->var, sizeof c->var, "%s", var);
    c->op = op;
    snprintf(c->value, sizeof c->value, "%s", value);
    target(&c->next, to);
}

/* Level l's menu "m<l>" and, for options 1 and 2, the chain s<l><k>a -> b<l><k> -> s<l><k>b ->
 * the next menu (or "confirm" after the last level). */
static void add_level(struct blend_ivr_flow *f, int l)
{
    char name[32], a[32], b[32], c[32], next[32];
    snprintf(name, sizeof name, "m%d", l);
    struct blend_ivr_node *m = add(f, name, BLEND_IVR_MENU);
    snprintf(m->text, sizeof m->text, "Level %d. For one press 1, for two press 2, agent 0.", l);
    m->timeout_s = 5;
    m->retries = 2;
    target(&m->invalid, name);
    target(&m->timeout, name);
    target(&m->exhausted, "bye");
    option(m, '0', "agent");
    if (l + 1 < LEVELS) {
        snprintf(next, sizeof next, "m%d", l + 1);
    } else {
        snprintf(next, sizeof next, "confirm");
    }
    for (int k = 1; k <= 2; k++) {
        snprintf(a, sizeof a, "s%d%da", l, k);
        snprintf(b, sizeof b, "b%d%d", l, k);
        snprintf(c, sizeof c, "s%d%db", l, k);
        option(m, (char)('0' + k), a);
        char var[16], val[16];
        snprintf(var, sizeof var, "l%d", l);
        snprintf(val, sizeof val, "%d", k);
        struct blend_ivr_node *n = add(f, a, BLEND_IVR_SET);
        assign(n, var, val);
        assign(n, "depth", val);
        target(&n->next, b);
        n = add(f, b, BLEND_IVR_BRANCH);
        when(n, var, BLEND_IVR_EQ, "9", next); /* never true: the case is still evaluated */
        when(n, "depth", BLEND_IVR_GT, "0", c);
        target(&n->else_, c);
        n = add(f, c, BLEND_IVR_SET);
        assign(n, "last", name);
        target(&n->next, next);
    }
}

static struct blend_ivr_flow *build_flow(void)
{
    struct blend_ivr_flow *f = NULL;
    int rc = blend_ivr_flow_create(&f);
    if (rc != 0) {
        die("flow create", rc);
    }
    snprintf(f->name, sizeof f->name, "bench");
    snprintf(f->language, sizeof f->language, "en");
    f->version = 1;
    target(&f->start, "welcome");
    struct blend_ivr_node *n = add(f, "welcome", BLEND_IVR_PLAY);
    snprintf(n->text, sizeof n->text, "Welcome to the bench line.");
    target(&n->next, "init");
    n = add(f, "init", BLEND_IVR_SET);
    assign(n, "depth", "0");
    assign(n, "priority", "3");
    target(&n->next, "hours");
    n = add(f, "hours", BLEND_IVR_BRANCH);
    struct blend_ivr_case *open = &n->cases[n->cases_count++];
    open->calendar = BLEND_IVR_CAL_OPEN;
    target(&open->next, "m0");
    target(&n->else_, "m0");
    for (int l = 0; l < LEVELS; l++) {
        add_level(f, l);
    }
    n = add(f, "confirm", BLEND_IVR_PLAY);
    snprintf(n->text, sizeof n->text, "Now your four digit code.");
    target(&n->next, "code");
    n = add(f, "code", BLEND_IVR_COLLECT);
    snprintf(n->text, sizeof n->text, "Enter the code, then hash.");
    snprintf(n->var, sizeof n->var, "code");
    n->digits_min = 4;
    n->digits_max = 8;
    n->terminator = '#';
    n->timeout_s = 5;
    n->validate = BLEND_IVR_VALIDATE_DIGITS;
    target(&n->next, "check");
    target(&n->invalid, "code");
    target(&n->timeout, "code");
    n = add(f, "check", BLEND_IVR_BRANCH);
    when(n, "code", BLEND_IVR_PREFIX, "12", "gold");
    target(&n->else_, "plain");
    n = add(f, "gold", BLEND_IVR_SET);
    assign(n, "tier", "gold");
    target(&n->next, "thanks");
    n = add(f, "plain", BLEND_IVR_SET);
    assign(n, "tier", "plain");
    target(&n->next, "thanks");
    n = add(f, "thanks", BLEND_IVR_PLAY);
    snprintf(n->text, sizeof n->text, "Thank you. Back to the first menu.");
    target(&n->next, "again");
    n = add(f, "again", BLEND_IVR_SET);
    assign(n, "looped", "yes");
    target(&n->next, "m0");
    n = add(f, "agent", BLEND_IVR_QUEUE);
    snprintf(n->queue, sizeof n->queue, "bench");
    n->announce_every_s = 30;
    n = add(f, "bye", BLEND_IVR_HANGUP);
    (void)n;
    blend_ivr_flow_link(f);
    struct blend_ivr_errors *errs = blend_calloc(1, sizeof *errs);
    if (errs == NULL) {
        die("errors alloc", BLEND_ENOMEM);
    }
    rc = blend_ivr_validate(f, errs);
    if (rc != 0 || f->nodes_count != NODES_EXPECTED) {
        for (size_t i = 0; i < errs->count; i++) {
            fprintf(stderr, "bench_engine_ivr: node %s: %s\n", errs->items[i].node,
                    errs->items[i].message);
        }
        fprintf(stderr, "bench_engine_ivr: flow invalid (%zu nodes)\n", f->nodes_count);
        exit(1);
    }
    blend_free(errs);
    return f;
}

/* The event at position `at` of a session's turn (see the file comment). */
static void script(const struct sess *x, struct blend_ivr_event *ev)
{
    static const char *const codes[2] = {"1234#", "5678#"};
    uint32_t at = x->at;
    memset(ev, 0, sizeof *ev);
    ev->now_ms = now_ms;
    if (at < 2 * LEVELS) {
        if (at % 2 == 0) {
            ev->kind = BLEND_IVR_EV_PLAYED;
        } else {
            ev->kind = BLEND_IVR_EV_DIGIT;
            ev->digit = (char)('1' + ((x->id + x->turn + at / 2) & 1));
        }
    } else if (at == 2 * LEVELS || at == 2 * LEVELS + 1 || at == EVENTS_PER_TURN - 1) {
        ev->kind = BLEND_IVR_EV_PLAYED; /* confirm, the collect's prompt, thanks */
    } else {
        ev->kind = BLEND_IVR_EV_DIGIT;
        ev->digit = codes[(x->id + x->turn) & 1][at - (2 * LEVELS + 2)];
    }
}

static size_t steps_of(const struct blend_ivr_effects *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->count; i++) {
        n += e->items[i].kind == BLEND_IVR_FX_STEP;
    }
    return n;
}

/* Feeds the session its next event; returns the node visits it made. */
static size_t feed(struct sess *x)
{
    struct blend_ivr_event ev;
    script(x, &ev);
    int rc = blend_ivr_session_step(x->s, &ev, &fx);
    if (rc != 0) {
        die("session step", rc);
    }
    if (++x->at == EVENTS_PER_TURN) {
        x->at = 0;
        x->turn++;
    }
    return steps_of(&fx);
}

static void start(struct sess *x, const struct blend_ivr_flow *f, uint32_t id)
{
    memset(x, 0, sizeof *x);
    x->id = id;
    int rc = blend_ivr_session_create(f, &x->s);
    if (rc != 0) {
        die("session create", rc);
    }
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .now_ms = now_ms};
    rc = blend_ivr_session_step(x->s, &ev, &fx);
    if (rc != 0) {
        die("session start", rc);
    }
}

/* Starts the session and ends its welcome: it then waits at the first menu's prompt, where
 * every turn of its script begins. */
static void start_at_menu(struct sess *x, const struct blend_ivr_flow *f, uint32_t id)
{
    start(x, f, id);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_PLAYED, .now_ms = now_ms};
    int rc = blend_ivr_session_step(x->s, &ev, &fx);
    if (rc != 0 || steps_of(&fx) != 3) {
        die("welcome played", rc ? rc : BLEND_ESTATE);
    }
}

/* Runs every session's first turn and checks it: the node visits the flow's loop makes. */
static void first_turn(struct sess *xs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t steps = 0;
        for (int e = 0; e < EVENTS_PER_TURN; e++) {
            steps += feed(&xs[i]);
        }
        if (steps != STEPS_PER_TURN || blend_ivr_session_is_ended(xs[i].s) || xs[i].at != 0) {
            fprintf(stderr,
                    "bench_engine_ivr: session %zu: %zu node visits in a turn, want %d "
                    "(ended: %d)\n",
                    i, steps, STEPS_PER_TURN, blend_ivr_session_is_ended(xs[i].s));
            exit(1);
        }
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct figures {
    double events_per_s, steps_per_s, median_events_per_s;
    int blocks;
};

/* Feeds the n sessions round-robin, one event each per round, for at least MEASURE_S seconds;
 * the clock is read once per `rounds_per_block` rounds. */
static struct figures measure(struct sess *xs, size_t n, uint64_t rounds_per_block)
{
    double block_rate[BLOCKS_MAX];
    int blocks = 0;
    uint64_t events = 0, steps = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < MEASURE_S || blocks < 8) {
        uint64_t block_events = 0;
        double tb = t;
        for (uint64_t r = 0; r < rounds_per_block; r++) {
            now_ms += 20;
            for (size_t i = 0; i < n; i++) {
                steps += feed(&xs[i]);
            }
            block_events += n;
        }
        t = now_s();
        events += block_events;
        if (blocks < BLOCKS_MAX) {
            block_rate[blocks++] = (double)block_events / (t - tb);
        }
    }
    struct figures fig = {(double)events / (t - t0), (double)steps / (t - t0), 0, blocks};
    qsort(block_rate, (size_t)blocks, sizeof block_rate[0], cmp_d);
    fig.median_events_per_s = block_rate[blocks / 2];
    return fig;
}

static struct figures run_sessions(const struct blend_ivr_flow *f, size_t n)
{
    struct sess *xs = blend_calloc(n, sizeof *xs);
    if (xs == NULL) {
        die("sessions alloc", BLEND_ENOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        start_at_menu(&xs[i], f, (uint32_t)i);
    }
    first_turn(xs, n);
    /* A block is about 0.1 s at ten million events per second: enough to read the clock
     * rarely, short enough for a median over many blocks. */
    uint64_t per_block = n >= 1000 ? 100 : 1000000 / n;
    struct figures fig = measure(xs, n, per_block);
    for (size_t i = 0; i < n; i++) {
        if (blend_ivr_session_is_ended(xs[i].s)) {
            fprintf(stderr, "bench_engine_ivr: session %zu ended under load\n", i);
            exit(1);
        }
        blend_ivr_session_destroy(xs[i].s);
    }
    blend_free(xs);
    printf("ivr.engine sessions=%zu steps_per_s=%.0f events_per_s=%.0f ns_per_event=%.1f "
           "ns_per_step=%.1f median_of_%d_blocks_events_per_s=%.0f\n",
           n, fig.steps_per_s, fig.events_per_s, 1e9 / fig.events_per_s, 1e9 / fig.steps_per_s,
           fig.blocks, fig.median_events_per_s);
    fflush(stdout);
    return fig;
}

/* Session lifecycle, two ways: create + START + destroy on one slot in a loop (memory stays
 * hot); then rounds of MANY sessions created and started while the earlier ones of the round
 * stay live (timed: create + START, with the first touch of each session's memory), destroyed
 * at the end of the round (not timed). The clock is read once per 10,000 sessions. */
static void run_create(const struct blend_ivr_flow *f)
{
    uint64_t cycles = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < MEASURE_S) {
        for (int i = 0; i < 10000; i++) {
            struct sess x;
            start(&x, f, (uint32_t)i);
            blend_ivr_session_destroy(x.s);
        }
        cycles += 10000;
        t = now_s();
    }
    double cd = (double)cycles / (t - t0);
    struct sess *xs = blend_calloc(MANY, sizeof *xs);
    if (xs == NULL) {
        die("sessions alloc", BLEND_ENOMEM);
    }
    uint64_t created = 0;
    double timed_s = 0;
    while (timed_s < MEASURE_S) {
        double ts = now_s();
        for (size_t i = 0; i < MANY; i++) {
            start(&xs[i], f, (uint32_t)i);
        }
        timed_s += now_s() - ts;
        created += MANY;
        for (size_t i = 0; i < MANY; i++) {
            blend_ivr_session_destroy(xs[i].s);
        }
    }
    blend_free(xs);
    printf("ivr.session create_start_destroy_per_s=%.0f ns_per_create_start_destroy=%.1f "
           "live_sessions=%d create_start_per_s=%.0f ns_per_create_start=%.1f\n",
           cd, 1e9 / cd, MANY, (double)created / timed_s, 1e9 * timed_s / (double)created);
    fflush(stdout);
}

int main(void)
{
    now_ms = 1000;
    struct blend_ivr_flow *f = build_flow();
    struct figures many = run_sessions(f, MANY);
    struct figures one = run_sessions(f, 1);
    run_create(f);
    printf("ivr.ratio events_1/events_%d=%.2f median_1/median_%d=%.2f\n", MANY,
           one.events_per_s / many.events_per_s, MANY,
           one.median_events_per_s / many.median_events_per_s);
    blend_ivr_flow_destroy(f);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "bench_engine_ivr: %ld allocations leaked\n", blend_alloc_live());
        return 1;
    }
    return 0;
}
