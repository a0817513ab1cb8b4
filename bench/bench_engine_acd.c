/*
 * Benchmark of the fast ACD engine (and of the reference model at 100 agents when it is
 * linked). For each size (100, 1,000 and 10,000 agents; 200 skills; 500 queues; ten waiting
 * contacts per agent built up first) it measures, with CLOCK_MONOTONIC around blend_acd_step:
 *  (a) agent freed -> offer decided: a connected contact ends, the agent takes the best-ranked
 *      waiting contact it is eligible for (then accepts it, not measured);
 *  (b) contact arrived -> offer decided: half to a busy queue (it waits: the decision is "no
 *      eligible available agent"), half to a queue served by ready agents (it is offered).
 * Prints one line per size, then the ratios between sizes. A second pass ("acd_own20") repeats
 * the fast engine's run with ~20% of the contacts carrying one own required skill
 * (docs/routing.md §Queues and eligibility): in the 500 queues a skill the queue does not ask for
 * (held by most of the queue's agents: 1 + (q + 25) % 200), in queue 501 the queue's own skill
 * at a random minimum 1..5. Each size also prints the median
 * rate over BLOCKS consecutive blocks of rounds (the same measured steps, cut in blocks): on a
 * shared machine a burst of other work slows a few blocks, which moves the overall rate but not
 * the median.
 */
#include "base/alloc.h"
#include "engine/acd/acd.h"

#if __has_include("ref_acd.h")
#include "ref_acd.h"
#define HAVE_REF 1
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKILLS 200
#define QUEUES 500
#define ROUNDS 20000
#define BLOCKS 20

struct eng {
    void *h;
    int (*step)(void *, const struct blend_acd_event *, struct blend_acd_effects *);
};

static int step_fast(void *h, const struct blend_acd_event *ev, struct blend_acd_effects *fx)
{
    return blend_acd_step(h, ev, fx);
}

#ifdef HAVE_REF
static int step_ref(void *h, const struct blend_acd_event *ev, struct blend_acd_effects *fx)
{
    return blend_acdref_step(h, ev, fx);
}
#endif

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* Percentage of arriving contacts that carry one own skill (0 in the main pass). */
static int own_pct;

/* Gives an arrival in queue q its own skill, for own_pct% of them. */
static void maybe_own(struct blend_acd_event *ev)
{
    if (own_pct == 0 || (int)(rnd() % 100) >= own_pct) {
        return;
    }
    int64_t q = ev->u.arrive.queue;
    ev->u.arrive.skills_count = 1;
    ev->u.arrive.skills[0].skill = (uint16_t)(q <= QUEUES ? 1 + (q + 25) % SKILLS : SKILLS + 1);
    ev->u.arrive.skills[0].min_proficiency = (uint8_t)(1 + rnd() % 5);
}

static struct blend_acd_effect items[BLEND_ACD_EFFECTS_MAX];
static struct blend_acd_effects fx = {items, BLEND_ACD_EFFECTS_MAX, 0};
static int64_t now_ms;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void must(struct eng *e, struct blend_acd_event *ev)
{
    ev->now_ms = now_ms;
    int rc = e->step(e->h, ev, &fx);
    if (rc != 0) {
        fprintf(stderr, "bench: step type %d failed: %d\n", ev->type, rc);
        exit(1);
    }
}

/* Returns the agent the step offered `contact` to, or 0. */
static int64_t offered(int64_t contact)
{
    for (size_t i = 0; i < fx.count; i++) {
        if (fx.items[i].type == BLEND_ACD_FX_OFFER && fx.items[i].contact == contact) {
            return fx.items[i].agent;
        }
    }
    return 0;
}

/* The contact offered by the step (any), or 0. */
static int64_t offered_contact(int64_t *agent)
{
    for (size_t i = 0; i < fx.count; i++) {
        if (fx.items[i].type == BLEND_ACD_FX_OFFER) {
            *agent = fx.items[i].agent;
            return fx.items[i].contact;
        }
    }
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_d);
    return v[(size_t)(p * (double)(n - 1))];
}

static void setup(struct eng *e, int agents, int64_t *next_contact)
{
    struct blend_acd_event ev;
    for (int q = 1; q <= QUEUES + 1; q++) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_QUEUE_SET;
        struct blend_acd_queue_config *c = &ev.u.queue;
        c->id = q;
        c->channels = 1u << BLEND_CH_VOICE;
        c->skills_count = 1;
        c->skills[0].skill = (uint16_t)(q <= QUEUES ? 1 + q % SKILLS : SKILLS + 1);
        c->skills[0].min_proficiency = (uint8_t)(1 + q % 3);
        c->strategy = (enum blend_acd_strategy)(q % 5); /* the five ranked strategies */
        c->acceleration_per_min = q % 7;
        c->offer_timeout_ms = 3600 * 1000;
        must(e, &ev);
    }
    /* Nine in ten agents serve the 500 queues; one in ten only serves queue 501. */
    for (int a = 1; a <= agents; a++) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_AGENT_SET;
        struct blend_acd_agent_config *c = &ev.u.agent;
        c->id = a;
        c->capacity[BLEND_CH_VOICE] = 1;
        c->voice_exclusive = 1;
        if (a % 10 == 0) {
            c->skills_count = 1;
            c->skills[0].skill = SKILLS + 1;
            c->skills[0].proficiency = 5;
        } else {
            c->skills_count = 8;
            for (int i = 0; i < 8; i++) {
                c->skills[i].skill = (uint16_t)(1 + (a * 8 + i * 25) % SKILLS);
                c->skills[i].proficiency = (uint8_t)(1 + rnd() % 10);
            }
        }
        must(e, &ev);
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_AGENT_LOGIN;
        ev.u.id = a;
        must(e, &ev);
    }
    for (int64_t i = 0; i < (int64_t)agents * 10; i++) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_CONTACT_ARRIVE;
        ev.u.arrive.contact = ++*next_contact;
        ev.u.arrive.queue = 1 + (int64_t)(rnd() % QUEUES);
        ev.u.arrive.channel = BLEND_CH_VOICE;
        ev.u.arrive.priority = (int32_t)(rnd() % 3);
        maybe_own(&ev);
        now_ms += 1;
        must(e, &ev);
    }
}

struct result {
    double rate, freed_p99, arrive_p99;
};

/* Runs the measurement and prints one line. */
static struct result run(const char *name, struct eng *e, int agents, int rounds)
{
    int64_t next_contact = 0;
    now_ms = 1000;
    setup(e, agents, &next_contact);
    /* Make every agent ready: the main agents take waiting contacts, accept them. */
    int64_t *busy = blend_calloc((size_t)agents + 1, sizeof *busy); /* agent -> connected contact */
    struct blend_acd_event ev;
    for (int a = 1; a <= agents; a++) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_AGENT_READY;
        ev.u.id = a;
        now_ms += 1;
        must(e, &ev);
        int64_t agent = 0, c = offered_contact(&agent);
        if (c) {
            memset(&ev, 0, sizeof ev);
            ev.type = BLEND_ACD_EV_OFFER_ACCEPT;
            ev.u.contact.contact = c;
            ev.u.contact.agent = agent;
            must(e, &ev);
            busy[agent] = c;
        }
    }
    double *freed = blend_calloc((size_t)rounds, sizeof *freed);
    double *arrive = blend_calloc((size_t)rounds, sizeof *arrive);
    size_t nf = 0, na = 0;
    double total = 0;
    double block_total[BLOCKS] = {0};
    int block_steps[BLOCKS] = {0};
    int block_len = rounds / BLOCKS > 0 ? rounds / BLOCKS : 1;
    for (int r = 0; r < rounds; r++) {
        /* (a) a busy agent ends its contact and takes the next one. */
        int a = 1 + (int)(rnd() % (uint64_t)agents);
        for (int tries = 0; !busy[a] && tries < agents; tries++) {
            a = a % agents + 1;
        }
        if (busy[a]) {
            memset(&ev, 0, sizeof ev);
            ev.type = BLEND_ACD_EV_CONTACT_END;
            ev.u.contact.contact = busy[a];
            now_ms += 10;
            ev.now_ms = now_ms;
            double t0 = now_us();
            int rc = e->step(e->h, &ev, &fx);
            double dt = now_us() - t0;
            if (rc != 0) {
                exit(1);
            }
            freed[nf++] = dt;
            total += dt;
            if (r / block_len < BLOCKS) {
                block_total[r / block_len] += dt;
                block_steps[r / block_len]++;
            }
            busy[a] = 0;
            int64_t agent = 0, c = offered_contact(&agent);
            if (c) {
                memset(&ev, 0, sizeof ev);
                ev.type = BLEND_ACD_EV_OFFER_ACCEPT;
                ev.u.contact.contact = c;
                ev.u.contact.agent = agent;
                must(e, &ev);
                busy[agent] = c;
            }
        }
        /* (b) a contact arrives: to a busy queue (waits), or to queue 501 (offered). */
        int to_idle = r % 2;
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_CONTACT_ARRIVE;
        ev.u.arrive.contact = ++next_contact;
        ev.u.arrive.queue = to_idle ? QUEUES + 1 : 1 + (int64_t)(rnd() % QUEUES);
        ev.u.arrive.channel = BLEND_CH_VOICE;
        maybe_own(&ev);
        now_ms += 10;
        ev.now_ms = now_ms;
        double t0 = now_us();
        int rc = e->step(e->h, &ev, &fx);
        double dt = now_us() - t0;
        if (rc != 0) {
            exit(1);
        }
        arrive[na++] = dt;
        total += dt;
        if (r / block_len < BLOCKS) {
            block_total[r / block_len] += dt;
            block_steps[r / block_len]++;
        }
        int64_t agent = offered(next_contact);
        if (agent) {
            /* Served at once: accept and end it right away (not measured). */
            memset(&ev, 0, sizeof ev);
            ev.type = BLEND_ACD_EV_OFFER_ACCEPT;
            ev.u.contact.contact = next_contact;
            ev.u.contact.agent = agent;
            must(e, &ev);
            memset(&ev, 0, sizeof ev);
            ev.type = BLEND_ACD_EV_CONTACT_END;
            ev.u.contact.contact = next_contact;
            must(e, &ev);
        }
    }
    double n = (double)(nf + na);
    double block_rate[BLOCKS];
    int blocks = 0;
    for (int b = 0; b < BLOCKS && block_total[b] > 0; b++) {
        block_rate[blocks++] = (double)block_steps[b] / (block_total[b] / 1e6);
    }
    struct result res = {n / (total / 1e6), pct(freed, nf, 0.99), pct(arrive, na, 0.99)};
    printf("%s.agents=%d waiting=%d decisions/s=%.0f freed_p50_us=%.2f freed_p99_us=%.2f "
           "arrive_p50_us=%.2f arrive_p99_us=%.2f\n",
           name, agents, agents * 10, n / (total / 1e6), pct(freed, nf, 0.5), pct(freed, nf, 0.99),
           pct(arrive, na, 0.5), pct(arrive, na, 0.99));
    if (blocks > 0) {
        printf("%s.agents=%d median_of_%d_blocks decisions/s=%.0f\n", name, agents, blocks,
               pct(block_rate, (size_t)blocks, 0.5));
    }
    fflush(stdout);
    blend_free(freed);
    blend_free(arrive);
    blend_free(busy);
    return res;
}

int main(void)
{
    int sizes[] = {100, 1000, 10000};
    struct result res[3] = {{0}};
    /* BENCH_ACD_SIZE=N measures that size only (100, 1000 or 10000), without the reference:
     * short runs to alternate with another build (A/B) on a busy machine. */
    const char *only = getenv("BENCH_ACD_SIZE");
    for (int i = 0; i < 3; i++) {
        if (only && atoi(only) != sizes[i]) {
            continue;
        }
        struct blend_acd_limits lim = {(size_t)sizes[i], QUEUES + 1,
                                       (size_t)sizes[i] * 10 + 2 * ROUNDS + 16, 1024};
        struct blend_acd *acd = NULL;
        if (blend_acd_create(&lim, &acd) != 0) {
            fprintf(stderr, "bench: create failed\n");
            return 1;
        }
        struct eng e = {acd, step_fast};
        rs = 88172645463325252ull;
        res[i] = run("acd", &e, sizes[i], ROUNDS);
        blend_acd_destroy(acd);
    }
    if (!only) {
        printf("acd.ratio rate_100/rate_1000=%.2f rate_100/rate_10000=%.2f "
               "freed_p99_10000/100=%.2f arrive_p99_10000/100=%.2f\n",
               res[0].rate / res[1].rate, res[0].rate / res[2].rate,
               res[2].freed_p99 / res[0].freed_p99, res[2].arrive_p99 / res[0].arrive_p99);
    }
    own_pct = getenv("BENCH_ACD_NO_OWN") ? 0 : 20;
    for (int i = 0; own_pct > 0 && i < 3; i++) {
        if (only && atoi(only) != sizes[i]) {
            continue;
        }
        struct blend_acd_limits lim = {(size_t)sizes[i], QUEUES + 1,
                                       (size_t)sizes[i] * 10 + 2 * ROUNDS + 16, 1024};
        struct blend_acd *acd = NULL;
        if (blend_acd_create(&lim, &acd) != 0) {
            fprintf(stderr, "bench: create failed\n");
            return 1;
        }
        struct eng e = {acd, step_fast};
        rs = 88172645463325252ull;
        struct result r = run("acd_own20", &e, sizes[i], ROUNDS);
        if (res[i].rate > 0) {
            printf("acd.ratio own20/plain agents=%d decisions=%.2f\n", sizes[i],
                   r.rate / res[i].rate);
        }
        blend_acd_destroy(acd);
    }
    own_pct = 0;
#ifdef HAVE_REF
    if (!only) {
        struct blend_acd_limits lim = {100, QUEUES + 1, 100 * 10 + 2 * 2000 + 16, 1024};
        struct blend_acdref *ref = NULL;
        if (blend_acdref_create(&lim, &ref) == 0) {
            struct eng e = {ref, step_ref};
            rs = 88172645463325252ull;
            struct result r = run("acdref", &e, 100, 2000);
            printf("acd.ratio fast_100/ref_100 decisions=%.1f\n", res[0].rate / r.rate);
            blend_acdref_destroy(ref);
        }
    }
#endif
    return 0;
}
