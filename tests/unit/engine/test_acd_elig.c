/*
 * ACD engine: the agent's eligibility list (acd_int.h struct acd_elig), which a freed agent
 * reads instead of walking its memberships. The choice must be the same whichever way the
 * engine gathers the agent's queues: from the list (up to ACD_ELIG_MAX distinct queue-channel
 * pairs and no queue adding another's agents), from the memberships when the agent has more
 * pairs than the list keeps, and from the memberships plus added queues when a relaxation step
 * adds a queue's agents. blend_acd_check() (after every step) asserts that the list equals the
 * memberships' distinct pairs, through agent and queue reconfigurations.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Queues 1..n, queue q with base priority 10 x q and skill 1; `channels` as given. */
static void set_queues(struct world *w, int n, unsigned channels)
{
    for (int q = 1; q <= n; q++) {
        struct blend_acd_queue_config c = q_basic(q);
        c.channels = channels;
        c.priority = 10 * q;
        q_skill(&c, 1, 1);
        assert_int_equal(w_queue(w, 0, c), 0);
    }
}

/* One voice contact per queue 1..n (contact id = 100 + queue), then agent 1 (skill 1, every
 * channel) becomes ready and takes them best-ranked first: queues n, n - 1, ..., n - takes + 1. */
static void serve_in_priority_order(struct world *w, int n, int takes)
{
    int64_t t = 1000;
    for (int q = 1; q <= n; q++) {
        assert_int_equal(w_at(w, t, ev_arrive(100 + q, q, BLEND_CH_VOICE, 0, 0)), 0);
    }
    struct blend_acd_agent_config a = a_basic(1);
    a_skill(&a, 1, 5);
    w_ready_agent(w, t, a);
    assert_int_equal(w_offered_to(w, 100 + n), 1);
    for (int k = 0; k < takes; k++) {
        int64_t c = 100 + n - k;
        t += 1000;
        assert_int_equal(w_at(w, t, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, c, 1)), 0);
        t += 1000;
        assert_int_equal(w_at(w, t, ev_ca(BLEND_ACD_EV_CONTACT_END, c, 0)), 0);
        /* The freed agent takes the next queue's contact. */
        if (k + 1 < n) {
            assert_int_equal(w_offered_to(w, c - 1), 1);
            assert_int_equal(w_count(w, BLEND_ACD_FX_OFFER, 0, 0), 1);
        }
    }
}

/* 12 voice queues: 12 pairs, within the list. */
static void list_path_order(void **state)
{
    (void)state;
    static struct world w;
    w_init(&w, 4, 16, 64, 8);
    set_queues(&w, 12, 1u << BLEND_CH_VOICE);
    serve_in_priority_order(&w, 12, 5);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

/* 20 queues on every channel: 100 pairs, more than the list keeps: the memberships are walked,
 * with the same order of service. */
static void membership_path_order(void **state)
{
    (void)state;
    static struct world w;
    w_init(&w, 4, 32, 64, 8);
    set_queues(&w, 20, (1u << BLEND_CH_COUNT) - 1);
    serve_in_priority_order(&w, 20, 5);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Reconfiguring a queue (the agent no longer meets it, then meets it again) and removing one
 * rebuild the list: the freed agent skips the queue while it does not meet it. */
static void list_follows_reconfiguration(void **state)
{
    (void)state;
    static struct world w;
    w_init(&w, 4, 16, 64, 8);
    set_queues(&w, 6, 1u << BLEND_CH_VOICE);
    struct blend_acd_agent_config a = a_basic(1);
    a_skill(&a, 1, 5);
    assert_int_equal(w_agent(&w, 0, a), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 1)), 0);
    struct blend_acd_queue_config q7 = q_basic(7);
    q7.channels = 1u << BLEND_CH_VOICE;
    q_skill(&q7, 1, 1);
    assert_int_equal(w_queue(&w, 0, q7), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 7)), 0);
    for (int q = 1; q <= 6; q++) {
        assert_int_equal(w_at(&w, 1000, ev_arrive(100 + q, q, BLEND_CH_VOICE, 0, 0)), 0);
    }
    /* Queue 6 now requires skill 9: the agent does not meet it. */
    struct blend_acd_queue_config q6 = q_basic(6);
    q6.channels = 1u << BLEND_CH_VOICE;
    q6.priority = 60;
    q_skill(&q6, 9, 1);
    assert_int_equal(w_queue(&w, 1000, q6), 0);
    assert_int_equal(w_at(&w, 2000, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    assert_int_equal(w_offered_to(&w, 105), 1);
    assert_int_equal(w_at(&w, 3000, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 105, 1)), 0);
    /* The agent learns skill 9 (AGENT_SET rebuilds its list): queue 6 comes first again. */
    a_skill(&a, 9, 3);
    assert_int_equal(w_agent(&w, 3500, a), 0);
    assert_int_equal(w_at(&w, 4000, ev_ca(BLEND_ACD_EV_CONTACT_END, 105, 0)), 0);
    assert_int_equal(w_offered_to(&w, 106), 1);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

/* A relaxation step adding queue 2's agents to queue 1: an agent of queue 2 only, freed, takes
 * queue 1's contact once the step applies (the gathering goes through the added queues). */
static void added_queue_agents(void **state)
{
    (void)state;
    static struct world w;
    w_init(&w, 4, 8, 32, 8);
    struct blend_acd_queue_config q2 = q_basic(2);
    q2.channels = 1u << BLEND_CH_VOICE;
    q_skill(&q2, 2, 1);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    struct blend_acd_queue_config q1 = q_basic(1);
    q1.channels = 1u << BLEND_CH_VOICE;
    q1.priority = 50;
    q_skill(&q1, 1, 1);
    q1.relax_count = 1;
    q1.relax[0].after_ms = 10000;
    q1.relax[0].add_queue_agents = 2;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    struct blend_acd_agent_config a = a_basic(1);
    a_skill(&a, 2, 5);
    w_ready_agent(&w, 0, a);
    assert_int_equal(w_at(&w, 1000, ev_arrive(201, 2, BLEND_CH_VOICE, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 201), 1);
    assert_int_equal(w_at(&w, 2000, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 201, 1)), 0);
    assert_int_equal(w_at(&w, 3000, ev_arrive(101, 1, BLEND_CH_VOICE, 0, 0)), 0);
    assert_int_equal(w_at(&w, 4000, ev_arrive(202, 2, BLEND_CH_VOICE, 0, 0)), 0);
    /* At 14 s queue 1's contact relaxed to queue 2's agents; the agent, freed at 20 s, takes
     * it (base priority 50 beats queue 2's 0). */
    assert_int_equal(w_at(&w, 20000, ev_ca(BLEND_ACD_EV_CONTACT_END, 201, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), 1);
    assert_int_equal(w_offered_to(&w, 202), 0);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_path_order),
        cmocka_unit_test(membership_path_order),
        cmocka_unit_test(list_follows_reconfiguration),
        cmocka_unit_test(added_queue_agents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
