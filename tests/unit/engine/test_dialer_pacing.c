/*
 * Outbound pacing tests: the simple modes by their definitions; predictive against an
 * independent binomial computation in long double (free agents only: the supply is a
 * constant), its estimators (answer rate following a change, ring and handle times read as
 * survival curves), the rolling window's feedback, limits, and a seeded simulation of a
 * campaign (agents, calls ringing, people answering, machines, no answers) in which predictive
 * keeps the drop rate within the target on every seed, also when the answer rate jumps, and
 * gives agents more talk time than progressive.
 */
#include "engine/dialer/pacing.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static struct blend_pacer pacer; /* large: kept off the stack */

/* The drop ratio the pacer aims at with the default target of 3%. */
#define AIM (0.03 * BLEND_PACER_AIM)

static void start(enum blend_dial_mode mode)
{
    struct blend_pacer_params pp;
    blend_pacer_params_default(&pp);
    pp.mode = mode;
    assert_int_equal(blend_pacer_init(&pacer, &pp), 0);
}

static int decide(int free_agents, int ringing, const int64_t *ringing_ms, int busy,
                  const int64_t *busy_ms, int records)
{
    struct blend_pacer_view v = {.free_agents = free_agents,
                                 .busy_count = busy,
                                 .busy_elapsed_ms = busy_ms,
                                 .ringing_count = ringing,
                                 .ringing_elapsed_ms = ringing_ms,
                                 .records_left = records};
    struct blend_pacer_decision d;
    assert_int_equal(blend_pacer_decide(&pacer, 0, &v, &d), 0);
    return d.dial;
}

static void params_checked(void **state)
{
    (void)state;
    struct blend_pacer_params pp;
    blend_pacer_params_default(&pp);
    assert_int_equal(blend_pacer_init(&pacer, &pp), 0);
    struct blend_pacer_params bad[8];
    for (int i = 0; i < 8; i++) {
        bad[i] = pp;
    }
    bad[0].abandon_target = 0;
    bad[1].abandon_target = 0.5;
    bad[2].power_ratio = 0.5;
    bad[3].max_lines_per_agent = 9;
    bad[4].prior_answer = 1.0;
    bad[5].prior_answer_ms = 0;
    bad[6].window_ms = 10;
    bad[7].mode = (enum blend_dial_mode)7;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(blend_pacer_init(&pacer, &bad[i]), BLEND_EINVAL);
    }
    start(BLEND_DIAL_PREDICTIVE);
    struct blend_pacer_view v = {.free_agents = -1};
    struct blend_pacer_decision d = {.dial = 77};
    assert_int_equal(blend_pacer_decide(&pacer, 0, &v, &d), BLEND_EINVAL);
    v = (struct blend_pacer_view){.free_agents = 1, .ringing_count = 2};
    assert_int_equal(blend_pacer_decide(&pacer, 0, &v, &d), BLEND_EINVAL); /* no array */
    v = (struct blend_pacer_view){.free_agents = BLEND_PACER_AGENTS_MAX + 1};
    assert_int_equal(blend_pacer_decide(&pacer, 0, &v, &d), BLEND_EINVAL);
    assert_int_equal(d.dial, 77); /* untouched on failure */
}

static void simple_modes(void **state)
{
    (void)state;
    int64_t ring[4] = {0, 0, 0, 0};
    start(BLEND_DIAL_PREVIEW);
    assert_int_equal(decide(10, 0, NULL, 0, NULL, 100), 0);
    start(BLEND_DIAL_PROGRESSIVE);
    assert_int_equal(decide(5, 2, ring, 0, NULL, 100), 3);
    assert_int_equal(decide(1, 3, ring, 0, NULL, 100), 0);
    assert_int_equal(decide(5, 0, NULL, 0, NULL, 1), 1); /* the records left cap it */
    assert_int_equal(decide(0, 0, NULL, 4, ring, 100), 0);
    start(BLEND_DIAL_POWER); /* ratio 2 */
    assert_int_equal(decide(3, 1, ring, 0, NULL, 100), 5);
    assert_int_equal(decide(1, 4, ring, 0, NULL, 100), 0);
    start(BLEND_DIAL_PREDICTIVE);
    assert_int_equal(decide(0, 0, NULL, 0, NULL, 100), 0); /* nobody staffed */
    assert_int_equal(decide(10, 0, NULL, 0, NULL, 0), 0);  /* nothing to dial */
}

/* P(Binomial(n, p) >= k), summed in long double from the probability mass function. */
static long double binom_tail(int n, long double p, int k)
{
    long double sum = 0;
    for (int j = k; j <= n; j++) {
        long double lc = lgammal(n + 1) - lgammal(j + 1) - lgammal(n - j + 1);
        sum += expl(lc + j * logl(p) + (n - j) * log1pl(-p));
    }
    return sum;
}

static void predictive_against_binomial(void **state)
{
    (void)state;
    start(BLEND_DIAL_PREDICTIVE);
    for (int free_agents = 1; free_agents <= 60; free_agents += 7) {
        struct blend_pacer_view v = {.free_agents = free_agents, .records_left = 100000};
        struct blend_pacer_decision d;
        assert_int_equal(blend_pacer_decide(&pacer, 0, &v, &d), 0);
        long double p = d.p_answer, t = d.target_used;
        /* Paced on the prior plus one standard error of ten pseudo-attempts. */
        assert_true(fabs(d.p_answer - (0.3 + sqrt(0.3 * 0.7 / 10))) < 1e-12);
        assert_true(fabs(d.target_used - AIM) < 1e-12);
        int limit = 3 * free_agents;
        /* The n-th call goes when the n-1 before it leave a free agent with probability
         * 1 - target at least; the next one would not (or the line limit stops it). */
        assert_true(d.dial >= 1 && d.dial <= limit);
        assert_true(binom_tail(d.dial - 1, p, free_agents) <= t + 1e-9);
        if (d.dial < limit) {
            assert_true(binom_tail(d.dial, p, free_agents) > t - 1e-9);
        }
        double agents, lives, drops;
        assert_int_equal(blend_pacer_risk(&pacer, &v, d.dial, &agents, &lives, &drops), 0);
        assert_true(fabs(lives - d.dial * d.p_answer) < 1e-9 && fabs(agents - free_agents) < 1e-9);
        assert_true(fabs(drops - d.drops_expected) < 1e-12);
        /* E[max(0, D - k)] from the binomial directly. */
        long double e = 0;
        for (int j = free_agents + 1; j <= d.dial; j++) {
            e += (j - free_agents) * (binom_tail(d.dial, p, j) - binom_tail(d.dial, p, j + 1));
        }
        assert_true(fabsl(e - drops) < 1e-9);
    }
}

static void answer_rate_follows(void **state)
{
    (void)state;
    start(BLEND_DIAL_PREDICTIVE);
    assert_true(fabs(blend_pacer_p_answer(&pacer) - 0.3) < 1e-12);
    for (int i = 0; i < 600; i++) {
        blend_pacer_attempt(&pacer, i * 1000, i % 5 < 3 ? BLEND_DIAL_HUMAN : BLEND_DIAL_NO_ANSWER,
                            10000);
    }
    assert_true(fabs(blend_pacer_p_answer(&pacer) - 0.6) < 0.03);
    int more = decide(10, 0, NULL, 0, NULL, 1000);
    for (int i = 0; i < 600; i++) {
        blend_pacer_attempt(&pacer, i * 1000, i % 10 == 0 ? BLEND_DIAL_HUMAN : BLEND_DIAL_BUSY,
                            2000);
    }
    assert_true(fabs(blend_pacer_p_answer(&pacer) - 0.1) < 0.03);
    /* Fewer answers: more calls per free agent (up to the line limit). */
    assert_true(decide(10, 0, NULL, 0, NULL, 1000) > more);
    assert_int_equal(decide(10, 0, NULL, 0, NULL, 1000), 30);
}

static void ring_and_handle_times(void **state)
{
    (void)state;
    start(BLEND_DIAL_PREDICTIVE);
    /* People answer after 5-15 s; unanswered calls are given up at 25 s; contacts last 100 s. */
    for (int i = 0; i < 400; i++) {
        blend_pacer_attempt(&pacer, i, i % 2 ? BLEND_DIAL_HUMAN : BLEND_DIAL_NO_ANSWER,
                            i % 2 ? 5000 + (i * 37 % 10000) : 25000);
        blend_pacer_handled(&pacer, 100000);
    }
    int64_t fresh[10], old[10], started[10], ending[10];
    for (int i = 0; i < 10; i++) {
        fresh[i] = 0;
        old[i] = 20000;
        started[i] = 10000;
        ending[i] = 95000;
    }
    /* Calls ringing 20 s will hardly be answered: nearly as if none were ringing. */
    int none = decide(10, 0, NULL, 0, NULL, 1000);
    int with_old = decide(10, 10, old, 0, NULL, 1000);
    int with_fresh = decide(10, 10, fresh, 0, NULL, 1000);
    assert_true(with_fresh < with_old && with_old <= none && with_old >= none - 3);
    /* Busy agents near the end of a contact count as agents; those who just began do not. */
    assert_int_equal(decide(0, 0, NULL, 10, started, 1000), 0);
    assert_true(decide(0, 0, NULL, 10, ending, 1000) >= 10);
}

static void window_feedback(void **state)
{
    (void)state;
    start(BLEND_DIAL_PREDICTIVE);
    struct blend_pacer_view v = {.free_agents = 20, .records_left = 1000};
    struct blend_pacer_decision d0, d1, d2;
    int64_t day = (int64_t)24 * 3600 * 1000, now = 40 * day;
    assert_int_equal(blend_pacer_decide(&pacer, now, &v, &d0), 0);
    for (int i = 0; i < 1000; i++) {
        blend_pacer_live(&pacer, now - day + i, i % 10 == 0); /* 10% dropped */
    }
    assert_int_equal(blend_pacer_decide(&pacer, now, &v, &d1), 0);
    assert_true(fabs(d1.window_rate - 0.1) < 1e-12);
    assert_true(fabs(d1.target_used - 0.25 * AIM) < 1e-12);
    assert_true(d1.dial < d0.dial);
    /* 31 days later those drops are out of the window. */
    assert_int_equal(blend_pacer_decide(&pacer, now + 31 * day, &v, &d2), 0);
    assert_true(d2.window_rate == 0 && fabs(d2.target_used - AIM) < 1e-12);
    /* A clean record never lets the pacer risk more than its aim. */
    for (int i = 0; i < 1000; i++) {
        blend_pacer_live(&pacer, now + 31 * day, 0);
    }
    assert_int_equal(blend_pacer_decide(&pacer, now + 31 * day, &v, &d2), 0);
    assert_true(fabs(d2.target_used - AIM) < 1e-12);
    assert_true(d2.dial == d0.dial);
}

/* --- A seeded campaign ----------------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static double uniform(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) / 9007199254740992.0;
}

#define SIM_AGENTS 50
#define SIM_CALLS 4096

struct sim_call {
    int64_t dialled_ms, ends_ms;
    enum blend_dial_outcome outcome;
};

struct sim_result {
    double talk_s, drops, lives, dials;
};

/* Runs `hours` of a campaign with 1-s decisions. People answer with probability `p_first` for
 * the first half and `p_then` after (a sudden change); machines answer 15% of the rest. */
static struct sim_result campaign(enum blend_dial_mode mode, uint64_t seed, double p_first,
                                  double p_then, double hours)
{
    struct blend_pacer_params pp;
    blend_pacer_params_default(&pp);
    pp.mode = mode;
    assert_int_equal(blend_pacer_init(&pacer, &pp), 0);
    struct rng r = {.s = seed * 2654435761u + 1};
    int64_t busy_until[SIM_AGENTS] = {0}, busy_since[SIM_AGENTS] = {0};
    static struct sim_call calls[SIM_CALLS];
    int ncalls = 0;
    struct sim_result res = {0};
    int64_t end = (int64_t)(hours * 3600 * 1000);
    for (int64_t now = 0; now < end; now += 1000) {
        double p_human = now < end / 2 ? p_first : p_then;
        /* Calls whose ringing ended by now. */
        for (int i = 0; i < ncalls;) {
            struct sim_call *c = &calls[i];
            if (c->ends_ms > now) {
                i++;
                continue;
            }
            blend_pacer_attempt(&pacer, c->ends_ms, c->outcome, c->ends_ms - c->dialled_ms);
            if (c->outcome == BLEND_DIAL_HUMAN) {
                int agent = -1;
                for (int a = 0; a < SIM_AGENTS && agent < 0; a++) {
                    agent = busy_until[a] <= now ? a : -1;
                }
                res.lives++;
                blend_pacer_live(&pacer, now, agent < 0);
                if (agent < 0) {
                    res.drops++;
                } else {
                    double talk = 60 + 180 * uniform(&r) + 60 * uniform(&r) * uniform(&r);
                    res.talk_s += talk;
                    busy_since[agent] = now;
                    busy_until[agent] = now + (int64_t)((talk + 10) * 1000);
                    blend_pacer_handled(&pacer, (int64_t)((talk + 10) * 1000));
                }
            }
            calls[i] = calls[--ncalls];
        }
        int64_t busy_ms[SIM_AGENTS], ring_ms[SIM_CALLS];
        int free_agents = 0, busy = 0;
        for (int a = 0; a < SIM_AGENTS; a++) {
            if (busy_until[a] <= now) {
                free_agents++;
            } else {
                busy_ms[busy++] = now - busy_since[a];
            }
        }
        for (int i = 0; i < ncalls; i++) {
            ring_ms[i] = now - calls[i].dialled_ms;
        }
        struct blend_pacer_view v = {.free_agents = free_agents,
                                     .busy_count = busy,
                                     .busy_elapsed_ms = busy_ms,
                                     .ringing_count = ncalls,
                                     .ringing_elapsed_ms = ring_ms,
                                     .records_left = SIM_CALLS - ncalls};
        struct blend_pacer_decision d;
        assert_int_equal(blend_pacer_decide(&pacer, now, &v, &d), 0);
        for (int k = 0; k < d.dial; k++) {
            struct sim_call *c = &calls[ncalls++];
            double u = uniform(&r);
            c->dialled_ms = now;
            if (u < p_human) {
                c->outcome = BLEND_DIAL_HUMAN;
                c->ends_ms = now + 4000 + (int64_t)(12000 * uniform(&r));
            } else if (u < p_human + 0.15 * (1 - p_human)) {
                c->outcome = BLEND_DIAL_MACHINE;
                c->ends_ms = now + 3000 + (int64_t)(8000 * uniform(&r));
            } else if (uniform(&r) < 0.3) {
                c->outcome = BLEND_DIAL_BUSY;
                c->ends_ms = now + 1000 + (int64_t)(2000 * uniform(&r));
            } else {
                c->outcome = BLEND_DIAL_NO_ANSWER;
                c->ends_ms = now + 25000;
            }
            res.dials++;
        }
    }
    return res;
}

static void simulated_campaigns(void **state)
{
    (void)state;
    const double rates[][2] = {{0.3, 0.3}, {0.15, 0.15}, {0.5, 0.5}, {0.15, 0.5}, {0.5, 0.15}};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct sim_result pr =
                campaign(BLEND_DIAL_PREDICTIVE, seed, rates[k][0], rates[k][1], 2.0);
            struct sim_result pg =
                campaign(BLEND_DIAL_PROGRESSIVE, seed, rates[k][0], rates[k][1], 2.0);
            double rate = pr.drops / (pr.lives > 0 ? pr.lives : 1);
            print_message("answer %.2f->%.2f seed %llu: predictive talk %.0f min, drops %.2f%%, "
                          "dials %.0f; progressive talk %.0f min, drops %.0f\n",
                          rates[k][0], rates[k][1], (unsigned long long)seed, pr.talk_s / 60,
                          100 * rate, pr.dials, pg.talk_s / 60, pg.drops);
            assert_true(rate <= 0.03);
            assert_true(pg.drops == 0);
            /* Progressive idles agents while calls ring: the fewer answers, the more. */
            assert_true(pr.talk_s > (rates[k][0] <= 0.3 ? 1.15 : 1.0) * pg.talk_s);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(params_checked),
        cmocka_unit_test(simple_modes),
        cmocka_unit_test(predictive_against_binomial),
        cmocka_unit_test(answer_rate_follows),
        cmocka_unit_test(ring_and_handle_times),
        cmocka_unit_test(window_feedback),
        cmocka_unit_test(simulated_campaigns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
