/*
 * Blending decisions: inbound waiting takes every agent; the reserve policy by its definition;
 * the service-level policy against Erlang C's worked example of KPIS.md (100 calls in 30 min,
 * AHT 180 s, 80% in 20 s: 14 agents) and Erlang A with patience; monotone in the traffic;
 * parameters and views checked.
 */
#include "engine/dialer/blending.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static int outbound(const struct blend_blending_params *p, int free_agents, int inbound_busy,
                    int waiting, double per_hour, int *keep)
{
    struct blend_blending_view v = {.free_agents = free_agents,
                                    .inbound_busy = inbound_busy,
                                    .inbound_waiting = waiting,
                                    .inbound_per_hour = per_hour,
                                    .inbound_aht_s = 180};
    struct blend_blending_decision d;
    assert_int_equal(blend_blending_decide(p, &v, &d), 0);
    assert_true(d.outbound >= 0 && d.outbound <= free_agents);
    if (keep) {
        *keep = d.keep;
    }
    return d.outbound;
}

static void reserve(void **state)
{
    (void)state;
    struct blend_blending_params p = {.policy = BLEND_BLENDING_RESERVE, .reserve_agents = 3};
    assert_int_equal(outbound(&p, 10, 0, 0, 0, NULL), 7);
    assert_int_equal(outbound(&p, 10, 2, 0, 0, NULL), 9); /* two of the three are on inbound */
    assert_int_equal(outbound(&p, 10, 5, 0, 0, NULL), 10);
    assert_int_equal(outbound(&p, 2, 0, 0, 0, NULL), 0);
    assert_int_equal(outbound(&p, 10, 0, 1, 0, NULL), 0); /* inbound waits: it wins */
}

static void service_level(void **state)
{
    (void)state;
    struct blend_blending_params p = {
        .policy = BLEND_BLENDING_SERVICE_LEVEL, .sl_target = 0.8, .sl_threshold_s = 20};
    int keep = 0;
    /* 200 calls an hour of 180 s = 10 Erlangs: Erlang C needs 14 agents for 80% in 20 s. */
    assert_int_equal(outbound(&p, 20, 5, 0, 200, &keep), 11);
    assert_int_equal(keep, 14);
    assert_int_equal(outbound(&p, 20, 14, 0, 200, &keep), 20);
    p.margin_agents = 2;
    assert_int_equal(outbound(&p, 20, 5, 0, 200, &keep), 9);
    assert_int_equal(keep, 16);
    p.margin_agents = 0;
    /* Patient customers need no fewer agents than impatient ones make do with. */
    int keep_a = 0;
    p.patience_s = 60;
    (void)outbound(&p, 20, 5, 0, 200, &keep_a);
    assert_true(keep_a <= 14 && keep_a >= 11);
    p.patience_s = 0;
    /* More traffic never frees more agents. */
    int last = 1000;
    for (double rate = 0; rate <= 400; rate += 20) {
        int o = outbound(&p, 30, 0, 0, rate, NULL);
        assert_true(o <= last);
        last = o;
    }
    assert_int_equal(outbound(&p, 30, 0, 0, 0, NULL), 30);
    /* The group cannot meet the target at all: everyone stays on inbound. */
    struct blend_blending_view v = {
        .free_agents = 5, .inbound_busy = 5, .inbound_per_hour = 400, .inbound_aht_s = 180};
    struct blend_blending_decision d;
    assert_int_equal(blend_blending_decide(&p, &v, &d), 0);
    assert_true(d.is_short && d.outbound == 0 && d.keep == 10);
    assert_true(d.traffic > 19.99 && d.traffic < 20.01);
}

static void arrivals_while_ringing(void **state)
{
    (void)state;
    struct blend_blending_params p = {.policy = BLEND_BLENDING_RESERVE, .reserve_agents = 0};
    /* 360 calls an hour = 1 every 10 s: within a 10-s horizon Poisson(1), whose 95th
     * percentile is 3 (P(<= 2) = 0.920, P(<= 3) = 0.981). */
    struct blend_blending_view v = {
        .free_agents = 10, .inbound_per_hour = 360, .inbound_aht_s = 180, .horizon_s = 10};
    struct blend_blending_decision d;
    assert_int_equal(blend_blending_decide(&p, &v, &d), 0);
    assert_int_equal(d.arrivals, 3);
    assert_int_equal(d.outbound, 7);
    v.horizon_s = 0;
    assert_int_equal(blend_blending_decide(&p, &v, &d), 0);
    assert_true(d.arrivals == 0 && d.outbound == 10);
    v.horizon_s = 7200;
    assert_int_equal(blend_blending_decide(&p, &v, &d), BLEND_EINVAL);
}

static void checked(void **state)
{
    (void)state;
    struct blend_blending_params p = {.policy = BLEND_BLENDING_RESERVE, .reserve_agents = -1};
    assert_int_equal(blend_blending_check(&p), BLEND_EINVAL);
    p = (struct blend_blending_params){.policy = BLEND_BLENDING_SERVICE_LEVEL, .sl_target = 1};
    assert_int_equal(blend_blending_check(&p), BLEND_EINVAL);
    p.sl_target = 0.8;
    assert_int_equal(blend_blending_check(&p), 0);
    struct blend_blending_view v = {.free_agents = -1, .inbound_aht_s = 180};
    struct blend_blending_decision d = {.outbound = 77};
    assert_int_equal(blend_blending_decide(&p, &v, &d), BLEND_EINVAL);
    v = (struct blend_blending_view){.free_agents = 3, .inbound_per_hour = 10};
    assert_int_equal(blend_blending_decide(&p, &v, &d), BLEND_EINVAL); /* no AHT */
    assert_int_equal(d.outbound, 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve),
        cmocka_unit_test(service_level),
        cmocka_unit_test(arrivals_while_ringing),
        cmocka_unit_test(checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
