/*
 * ACD engine, one test per rule of docs/routing.md and per strategy, with exact expected
 * effects. Time is injected; timers fire through the harness of test_acd_util.h, which also runs
 * blend_acd_check() after every step.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define V BLEND_CH_VOICE
#define CHAT BLEND_CH_CHAT

static void presence_transitions(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 8);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_READY, 10)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 1, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 10)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0);
    assert_non_null(e);
    assert_int_equal(e->presence, BLEND_PRESENCE_NOT_READY);
    assert_string_equal(e->reason, "login");
    assert_int_equal(w_at(&w, 2, ev_id(BLEND_ACD_EV_AGENT_READY, 10)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_READY);
    /* Connected contact: logout refused, not-ready accepted at once. */
    assert_int_equal(w_at(&w, 3, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 10);
    assert_int_equal(w_at(&w, 4, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 10)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->wait_ms, 1);
    assert_int_equal(w_at(&w, 5, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 10)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 6, ev_nr(10, "lunch")), 0);
    assert_string_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->reason, "lunch");
    assert_int_equal(w_at(&w, 7, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_AGENT_STATE, 0, 0), 0); /* stays not-ready */
    assert_int_equal(w_at(&w, 8, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 10)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_LOGGED_OUT);
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w.acd, 10, &v), 0);
    assert_int_equal(v.handled, 1);
    assert_int_equal(blend_acd_agent(w.acd, 11, &v), BLEND_ENOENT);
    w_deinit(&w);
}

static void errors_leave_state_unchanged(void **state)
{
    struct world w;
    w_init(&w, 2, 2, 2, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.offer_timeout_ms = 0;
    assert_int_equal(w_queue(&w, 0, q), BLEND_EINVAL);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(1, 2, V, 0, 0)), BLEND_EINVAL); /* unknown queue */
    assert_int_equal(w_at(&w, 0, ev_arrive(1, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(1, 1, V, 0, 0)), BLEND_ESTATE); /* existing id */
    assert_int_equal(w_at(&w, 0, ev_arrive(2, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(3, 1, V, 0, 0)), BLEND_ELIMIT);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 1)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 0, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 1, 5)), BLEND_EINVAL);
    assert_int_equal(w_agent(&w, 0, a_basic(5)), 0);
    assert_int_equal(w_at(&w, 0, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 1, 5)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 0, ev_ca(BLEND_ACD_EV_CONTACT_END, 1, 0)), BLEND_ESTATE);
    struct blend_acd_event back = ev_id(BLEND_ACD_EV_AGENT_LOGIN, 5);
    back.now_ms = -1;
    assert_int_equal(blend_acd_step(w.acd, &back, &w.fx), BLEND_EINVAL);
    assert_int_equal(w_at(&w, 1, ev_ca(BLEND_ACD_EV_CONTACT_ABANDON, 1, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_ABANDONED, 1)->wait_ms, 1);
    w_deinit(&w);
}

/* Three ready agents freed at different times; the contact goes by strategy. */
static void strategy_longest_idle(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 30, a_basic(3));
    w_ready_agent(&w, 30, a_basic(2));
    w_ready_agent(&w, 40, a_basic(1));
    assert_int_equal(w_at(&w, 50, ev_arrive(7, 1, V, 0, 0)), 0);
    /* 3 and 2 both free since 30: lowest id wins the tie. */
    assert_int_equal(w_offered_to(&w, 7), 2);
    assert_int_equal(w_at(&w, 51, ev_arrive(8, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 8), 3);
    w_deinit(&w);
}

static void strategy_most_skilled(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_MOST_SKILLED;
    q_skill(&q, 5, 3);
    q_skill(&q, 6, 1);
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_agent_config a1 = a_basic(1), a2 = a_basic(2), a3 = a_basic(3);
    a_skill(&a1, 5, 9);
    a_skill(&a1, 6, 1); /* 10 */
    a_skill(&a2, 5, 4);
    a_skill(&a2, 6, 8); /* 12 */
    a_skill(&a3, 5, 2);
    a_skill(&a3, 6, 10); /* does not meet */
    a_skill(&a3, 7, 10);
    w_ready_agent(&w, 0, a1);
    w_ready_agent(&w, 0, a2);
    w_ready_agent(&w, 0, a3);
    assert_int_equal(w_at(&w, 5, ev_arrive(7, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 7), 2);
    assert_int_equal(w_at(&w, 6, ev_arrive(8, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 8), 1);
    assert_int_equal(w_at(&w, 7, ev_arrive(9, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 9), 0);
    w_deinit(&w);
}

/* Handles contact `c` on agent `a` from t to t + talk (no wrap-up). */
static void handle(struct world *w, int64_t c, int64_t a, int64_t t, int64_t talk)
{
    assert_int_equal(w_at(w, t, ev_arrive(c, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(w, c), a);
    assert_int_equal(w_at(w, t, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, c, a)), 0);
    assert_int_equal(w_at(w, t + talk, ev_ca(BLEND_ACD_EV_CONTACT_END, c, 0)), 0);
}

static void strategy_least_occupied(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_LEAST_OCCUPIED;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, a_basic(2));
    handle(&w, 100, 1, 10, 60000); /* agent 1: 60 s */
    handle(&w, 101, 2, 70000, 1000); /* agent 2 (1 was busy? no: 1 idle since 70010) */
    /* Agent 1 has 60 s, agent 2 has 1 s in the last hour: agent 2 although less idle. */
    assert_int_equal(w_at(&w, 80000, ev_arrive(102, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 102), 2);
    assert_int_equal(w_at(&w, 80000, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 102, 2)), 0);
    assert_int_equal(w_offered_to(&w, 102), 1);
    assert_int_equal(w_at(&w, 80001, ev_ca(BLEND_ACD_EV_CONTACT_ABANDON, 102, 0)), 0);
    /* One hour after agent 1's contact ended its 60 s leave the window: equal (0 vs 1 s)?
     * Agent 2's 1 s remains until 3,671,000: at 3,660,010 agent 1 has 0. */
    assert_int_equal(w_at(&w, 3660010, ev_arrive(103, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 103), 1);
    w_deinit(&w);
}

static void strategy_fewest_contacts(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_FEWEST_CONTACTS;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 0, a_basic(2));
    handle(&w, 100, 1, 10, 5); /* 1 handled one; tie on count 0 went to 1 (lowest id) */
    assert_int_equal(w_at(&w, 100, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), 2);
    w_deinit(&w);
}

static void strategy_round_robin(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_ROUND_ROBIN;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(3));
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 0, a_basic(2));
    int64_t expect[] = {1, 2, 3, 1};
    for (int i = 0; i < 4; i++) {
        int64_t c = 100 + i;
        assert_int_equal(w_at(&w, 10 + i, ev_arrive(c, 1, CHAT, 0, 0)), 0);
        assert_int_equal(w_offered_to(&w, c), expect[i]);
    }
    w_deinit(&w);
}

static void strategy_ring_all(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_RING_ALL;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 0, a_basic(2));
    w_ready_agent(&w, 0, a_basic(3));
    assert_int_equal(w_at(&w, 5, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 100, 0), 3);
    /* A reject keeps the contact offered while others ring. */
    assert_int_equal(w_at(&w, 6, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 3)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_REJECTED, 100, 3), 1);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0);
    assert_int_equal(w_at(&w, 7, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100);
    assert_non_null(e);
    assert_int_equal(e->agent, 1);
    assert_int_equal(e->withdraw, BLEND_WITHDRAW_TAKEN);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_CONNECTED, 100, 2), 1);
    /* A callback is rung on one agent only. */
    assert_int_equal(w_at(&w, 8, ev_arrive(101, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 101, 0), 2); /* 1 and 3: 2 is on voice */
    w_deinit(&w);
}

static void strategy_sticky(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 8);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_STICKY;
    q.sticky_ms = 30000;
    q.sticky_fallback = BLEND_STRAT_LONGEST_IDLE;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, a_basic(2));
    /* Customer 77 served by agent 2 (agent 1 is busy). */
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 5)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 10, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 20, ev_arrive(101, 1, V, 0, 77)), 0);
    assert_int_equal(w_offered_to(&w, 101), 2);
    assert_int_equal(w_at(&w, 20, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, 2)), 0);
    assert_int_equal(w_at(&w, 30, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    /* Customer 77 again while agent 2 is busy: waits for agent 2 although 1 is free. */
    assert_int_equal(w_at(&w, 40, ev_arrive(102, 1, V, 0, 77)), 0);
    assert_int_equal(w_offered_to(&w, 102), 0);
    assert_int_equal(w_at(&w, 50, ev_ca(BLEND_ACD_EV_CONTACT_END, 101, 0)), 0);
    assert_int_equal(w_offered_to(&w, 102), 2);
    assert_int_equal(w_at(&w, 50, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 102, 2)), 0);
    /* Declined by its sticky agent: offered to it again when the hold ends (20050). */
    assert_int_equal(w_offered_to(&w, 102), 0);
    assert_int_equal(w_at(&w, 20050, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    assert_int_equal(w_offered_to(&w, 102), 2);
    assert_int_equal(w_at(&w, 20051, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 102, 2)), 0);
    assert_int_equal(w_offered_to(&w, 102), 0);
    /* The window closes at 30040: the fallback (longest-idle) picks agent 1. */
    assert_int_equal(w_at(&w, 30040, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    assert_int_equal(w_offered_to(&w, 102), 1);
    w_deinit(&w);
}

static void sticky_agent_logout_opens_contact(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 8);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_STICKY;
    q.sticky_ms = 60000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 1, ev_arrive(100, 1, V, 0, 9)), 0);
    assert_int_equal(w_at(&w, 1, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 2, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_at(&w, 3, ev_nr(1, "break")), 0);
    w_ready_agent(&w, 4, a_basic(2));
    assert_int_equal(w_at(&w, 5, ev_arrive(101, 1, V, 0, 9)), 0);
    assert_int_equal(w_offered_to(&w, 101), 0); /* bound to agent 1, logged in */
    assert_int_equal(w_at(&w, 6, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 1)), 0);
    assert_int_equal(w_offered_to(&w, 101), 2);
    w_deinit(&w);
}

static void priority_aging_and_cap(void **state)
{
    struct world w;
    w_init(&w, 2, 2, 8, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2);
    q1.priority = 10;
    q1.acceleration_per_min = 6; /* +1 per 10 s */
    q1.max_priority = 12;
    q2.priority = 11;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(1)), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 1)), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0); /* 10 + age/10 s, cap 12 */
    assert_int_equal(w_at(&w, 5000, ev_arrive(101, 2, V, 0, 0)), 0); /* 11 */
    assert_int_equal(w_at(&w, 5001, ev_arrive(102, 2, V, 1, 0)), 0); /* 12 */
    /* At 15 s: 100 has 11 (ties with 101, earlier join wins) but 102 has 12. */
    assert_int_equal(w_at(&w, 15000, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    assert_int_equal(w_offered_to(&w, 102), 1);
    assert_int_equal(w_at(&w, 15000, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 102, 1)), 0);
    assert_int_equal(w_at(&w, 15001, ev_ca(BLEND_ACD_EV_CONTACT_END, 102, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    /* At 60 s 100 would be 16, capped at 12. */
    struct blend_acd_contact_view v;
    assert_int_equal(w_at(&w, 60000, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 1)), 0);
    assert_int_equal(blend_acd_contact(w.acd, 100, &v), 0);
    assert_int_equal(v.priority, 12);
    assert_int_equal(v.enqueued_ms, 0);
    assert_int_equal(w_offered_to(&w, 101), 1); /* 1 declined 100: gets 101 */
    w_deinit(&w);
}

static void offer_timeout_reoffer_and_missed(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.offer_timeout_ms = 1000;
    q.max_no_answer = 2;
    q.reoffer_delay_ms = 5000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    /* Times out at 1010; agent 1 excluded until 6010. */
    assert_int_equal(w_at(&w, 2000, ev_arrive(101, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_TIMEOUT, 100, 1), 1);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_offered_to(&w, 101), 1); /* agent 1 freed by the timeout */
    /* 101 times out too (second in a row): not-ready "missed". */
    assert_int_equal(w_at(&w, 3500, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_TIMEOUT, 101, 1), 1);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0);
    assert_non_null(e);
    assert_string_equal(e->reason, "missed");
    assert_int_equal(w_at(&w, 4000, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    /* Still within both holds (100 until 6010, 101 until 7000). */
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0);
    assert_int_equal(w_at(&w, 6010, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 6011, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->wait_ms, 6001);
    w_deinit(&w);
}

static void reject_goes_to_next_agent(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 5, a_basic(2));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 1)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_REJECTED, 100, 1), 1);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 12, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), BLEND_ESTATE);
    w_deinit(&w);
}

static void abandon_and_unavailable_withdraw(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 1, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 2, ev_ca(BLEND_ACD_EV_CONTACT_ABANDON, 100, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100)->withdraw, BLEND_WITHDRAW_ABANDONED);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_ABANDONED, 100)->wait_ms, 1);
    assert_int_equal(w_at(&w, 3, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), 1);
    assert_int_equal(w_at(&w, 4, ev_nr(1, "break")), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_WITHDRAWN, 101);
    assert_int_equal(e->withdraw, BLEND_WITHDRAW_UNAVAILABLE);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 101, &v), 0);
    assert_int_equal(v.state, BLEND_CONTACT_WAITING);
    /* Back ready: no decline hold for an unavailable withdraw. */
    assert_int_equal(w_at(&w, 5, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    assert_int_equal(w_offered_to(&w, 101), 1);
    w_deinit(&w);
}

static void wrapup_and_pending_not_ready(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.wrapup_ms = 10000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 1, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 2, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 3, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 100, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_WRAP_UP);
    assert_int_equal(w_offered_to(&w, 101), 0); /* no offers in wrap-up */
    /* Wrap-up ends by timer at 10100: 101 offered then. */
    assert_int_equal(w_at(&w, 10100, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_offered_to(&w, 101), 1);
    assert_int_equal(w_at(&w, 10101, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, 1)), 0);
    assert_int_equal(w_at(&w, 10200, ev_ca(BLEND_ACD_EV_CONTACT_END, 101, 0)), 0);
    assert_int_equal(w_at(&w, 10300, ev_nr(1, "coaching")), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_AGENT_STATE, 0, 0), 0); /* pending */
    assert_int_equal(w_at(&w, 10400, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0);
    assert_int_equal(e->presence, BLEND_PRESENCE_NOT_READY);
    assert_string_equal(e->reason, "coaching");
    assert_int_equal(w_at(&w, 10500, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    w_deinit(&w);
}

static void callbacks_keep_place(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(1)), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 1)), 0);
    assert_int_equal(w_at(&w, 1, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 2, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 3, ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, 100, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_CALLBACK, 100, 0), 1);
    assert_int_equal(w_at(&w, 4, ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, 100, 0)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 5, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_OFFER, 100);
    assert_non_null(e);
    assert_int_equal(e->is_callback, 1);
    assert_int_equal(w_at(&w, 6, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->is_callback, 1);
    w_deinit(&w);
}

static void overflow_actions(void **state)
{
    struct world w;
    w_init(&w, 4, 4, 8, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2), q3 = q_basic(3);
    q1.max_wait_ms = 1000;
    q1.overflow = BLEND_OVERFLOW_QUEUE;
    q1.overflow_queue = 2;
    q_skill(&q1, 1, 5);
    q2.max_wait_ms = 1000;
    q2.overflow = BLEND_OVERFLOW_VOICEMAIL;
    q_skill(&q2, 2, 5);
    q3.max_wait_ms = 1000;
    q3.overflow = BLEND_OVERFLOW_CALLBACK;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    assert_int_equal(w_queue(&w, 0, q3), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(101, 3, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 1500, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_OVERFLOW, 100);
    assert_int_equal(e->overflow, BLEND_OVERFLOW_QUEUE);
    assert_int_equal(e->queue, 1);
    e = w_find(&w, BLEND_ACD_FX_QUEUED, 100);
    assert_int_equal(e->queue, 2);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OVERFLOW, 101)->overflow, BLEND_OVERFLOW_CALLBACK);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_CALLBACK, 101, 0), 1);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 100, &v), 0);
    assert_int_equal(v.enqueued_ms, 0); /* keeps first join */
    assert_int_equal(v.queue, 2);
    /* Max wait in queue 2 counts from joining it: voicemail at 2000. */
    assert_int_equal(w_at(&w, 2000, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OVERFLOW, 100)->overflow, BLEND_OVERFLOW_VOICEMAIL);
    assert_int_equal(blend_acd_contact(w.acd, 100, &v), BLEND_ENOENT);
    w_deinit(&w);
}

static void overflow_waits_for_offer_to_fail(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    struct blend_acd_queue_config q1 = q_basic(1);
    q1.max_wait_ms = 1000;
    q1.offer_timeout_ms = 5000;
    q1.overflow = BLEND_OVERFLOW_VOICEMAIL;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 2000, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 100, 0), 0);
    assert_int_equal(w_at(&w, 2500, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 1)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OVERFLOW, 100)->overflow, BLEND_OVERFLOW_VOICEMAIL);
    w_deinit(&w);
}

static void relaxation_steps(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2);
    q_skill(&q1, 1, 8);
    q1.relax_count = 3;
    q1.relax[0].after_ms = 1000; /* lower to 5 */
    q1.relax[0].has_skills = 1;
    q1.relax[0].skills_count = 1;
    q1.relax[0].skills[0].skill = 1;
    q1.relax[0].skills[0].min_proficiency = 5;
    q1.relax[1].after_ms = 2000; /* add a skill: stricter */
    q1.relax[1].has_skills = 1;
    q1.relax[1].skills_count = 2;
    q1.relax[1].skills[0].skill = 1;
    q1.relax[1].skills[0].min_proficiency = 5;
    q1.relax[1].skills[1].skill = 2;
    q1.relax[1].skills[1].min_proficiency = 1;
    q1.relax[2].after_ms = 3000; /* add queue 2's agents */
    q1.relax[2].add_queue_agents = 2;
    q_skill(&q2, 3, 1);
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    struct blend_acd_agent_config a1 = a_basic(1), a2 = a_basic(2);
    a_skill(&a1, 1, 6);
    a_skill(&a2, 3, 2);
    w_ready_agent(&w, 0, a1);
    w_ready_agent(&w, 0, a2);
    assert_int_equal(w_at(&w, 100, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 1100, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 1);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 1200, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 1)), 0);
    /* Step 2 at 2100 adds skill 2: agent 1 no longer meets it (and is held anyway). */
    assert_int_equal(w_at(&w, 2100, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 2);
    assert_int_equal(w_at(&w, 3100, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 3);
    assert_int_equal(w_offered_to(&w, 100), 2); /* admitted through queue 2 */
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 100, &v), 0);
    assert_int_equal(v.step, 3);
    w_deinit(&w);
}

static void capacity_and_voice_exclusivity(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    struct blend_acd_agent_config a = a_basic(1);
    a.capacity[CHAT] = 2;
    w_ready_agent(&w, 0, a);
    assert_int_equal(w_at(&w, 1, ev_arrive(100, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_at(&w, 2, ev_arrive(101, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_at(&w, 3, ev_arrive(102, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 102), 0); /* capacity 2 */
    assert_int_equal(w_at(&w, 4, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 5, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_offered_to(&w, 102), 1);
    /* An outstanding chat offer blocks voice (voice-exclusive agent)... */
    assert_int_equal(w_at(&w, 6, ev_arrive(103, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 103), 0);
    assert_int_equal(w_at(&w, 7, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, 1)), 0);
    assert_int_equal(w_offered_to(&w, 103), 0); /* 102 is still offered */
    /* ...a connected chat does not: accepting the last chat offer frees voice at once. */
    assert_int_equal(w_at(&w, 8, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 102, 1)), 0);
    assert_int_equal(w_offered_to(&w, 103), 1);
    /* A voice contact offered, then connected, blocks new chats. */
    assert_int_equal(w_at(&w, 9, ev_ca(BLEND_ACD_EV_CONTACT_END, 101, 0)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(104, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 104), 0);
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w.acd, 1, &v), 0);
    assert_int_equal(v.offered[V], 1);
    assert_int_equal(v.offered[CHAT], 0);
    assert_int_equal(v.active[CHAT], 1);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 103, 1)), 0);
    assert_int_equal(w_at(&w, 12, ev_ca(BLEND_ACD_EV_CONTACT_END, 102, 0)), 0);
    assert_int_equal(w_offered_to(&w, 104), 0);
    assert_int_equal(w_at(&w, 13, ev_ca(BLEND_ACD_EV_CONTACT_END, 103, 0)), 0);
    assert_int_equal(w_offered_to(&w, 104), 1);
    /* Capacity lowered below the connected contacts: refused. */
    assert_int_equal(w_at(&w, 14, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 104, 1)), 0);
    a.capacity[CHAT] = 0;
    assert_int_equal(w_agent(&w, 15, a), BLEND_ESTATE);
    w_deinit(&w);
}

/* An agent made voice-exclusive while holding a voice and a chat offer loses the chat offer
 * (withdrawn, "unavailable"); the chat waits until the voice offer is gone. */
static void voice_exclusive_set_withdraws(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    struct blend_acd_agent_config a = a_basic(1);
    a.voice_exclusive = 0;
    w_ready_agent(&w, 0, a);
    assert_int_equal(w_at(&w, 1, ev_arrive(200, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 200), 1);
    assert_int_equal(w_at(&w, 2, ev_arrive(201, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 201), 1); /* not exclusive: both offers outstanding */
    a.voice_exclusive = 1;
    assert_int_equal(w_agent(&w, 3, a), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_WITHDRAWN, 200);
    assert_non_null(e);
    assert_int_equal(e->withdraw, BLEND_WITHDRAW_UNAVAILABLE);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_WITHDRAWN, 201, 0), 0);
    assert_int_equal(w_offered_to(&w, 200), 0);
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w.acd, 1, &v), 0);
    assert_int_equal(v.offered[V], 1);
    assert_int_equal(v.offered[CHAT], 0);
    /* The voice offer rejected: the chat goes to the agent, and now blocks voice. */
    assert_int_equal(w_at(&w, 4, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 201, 1)), 0);
    assert_int_equal(w_offered_to(&w, 200), 1);
    assert_int_equal(w_offered_to(&w, 201), 0);
    w_deinit(&w);
}

/* A relaxation step whose add_queue_agents names its own queue is refused, at creation and on
 * replacement, and nothing changes. */
static void relax_adding_own_queue_refused(void **state)
{
    struct world w;
    w_init(&w, 2, 2, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q_skill(&q, 1, 8);
    q.relax_count = 1;
    q.relax[0].after_ms = 1000;
    q.relax[0].add_queue_agents = 1;
    assert_int_equal(w_queue(&w, 0, q), BLEND_EINVAL);
    assert_int_equal(w.seen_count, 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), BLEND_EINVAL); /* no queue 1 */
    /* The same queue lowering its requirement instead is accepted. */
    q.relax[0].add_queue_agents = 0;
    q.relax[0].has_skills = 1;
    q.relax[0].skills_count = 1;
    q.relax[0].skills[0].skill = 1;
    q.relax[0].skills[0].min_proficiency = 2;
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_agent_config a = a_basic(1);
    a_skill(&a, 1, 5);
    w_ready_agent(&w, 0, a);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    /* Replacing it with a step adding itself (a step adding another queue is fine, see
     * relaxation_steps): refused, the contact keeps the configuration in force. */
    struct blend_acd_queue_config bad = q;
    bad.relax_count = 2;
    bad.relax[1].after_ms = 500000;
    bad.relax[1].add_queue_agents = 1;
    assert_int_equal(w_queue(&w, 20, bad), BLEND_EINVAL);
    assert_int_equal(w.seen_count, 0);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 100, &v), 0);
    assert_int_equal(v.state, BLEND_CONTACT_WAITING);
    assert_int_equal(v.step, 0);
    /* Its step 1 still applies at 1 s after joining: agent 1 (5 >= 2) is offered it. */
    assert_int_equal(w_at(&w, 1010, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 99)), BLEND_EINVAL);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 1);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

static void position_and_ewt(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.wrapup_ms = 20000; /* AHT 200 s until samples */
    assert_int_equal(w_queue(&w, 0, q), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(2)), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 1)), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 2)), 0);
    assert_int_equal(w_at(&w, 1, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 2, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 3, ev_arrive(102, 1, V, 0, 0)), 0);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 102, &v), 0);
    assert_int_equal(v.position, 3);
    assert_int_equal(v.ewt_ms, 3 * 200000 / 2);
    /* A higher-priority arrival would push it to 4: the announced position stays 3. */
    assert_int_equal(w_at(&w, 4, ev_arrive(103, 1, V, 5, 0)), 0);
    assert_int_equal(blend_acd_contact(w.acd, 102, &v), 0);
    assert_int_equal(v.position, 3);
    assert_int_equal(v.ewt_ms, 300000);
    assert_int_equal(blend_acd_contact(w.acd, 103, &v), 0);
    assert_int_equal(v.position, 1);
    /* Its own priority changed: the position is computed afresh. */
    struct blend_acd_event pe = ev_ca(BLEND_ACD_EV_CONTACT_PRIORITY, 103, 0);
    pe.u.contact.priority = 0;
    assert_int_equal(w_at(&w, 5, pe), 0);
    assert_int_equal(blend_acd_contact(w.acd, 103, &v), 0);
    assert_int_equal(v.position, 4);
    w_deinit(&w);
}

static void reconfiguration_reevaluates(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q_skill(&q, 1, 9);
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_agent_config a1 = a_basic(1), a2 = a_basic(2);
    a_skill(&a1, 1, 5);
    a_skill(&a2, 1, 5);
    w_ready_agent(&w, 0, a2);
    w_ready_agent(&w, 1, a1);
    assert_int_equal(w_at(&w, 2, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 3, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0);
    /* Lower the requirement: agents served in ascending id order, best contact first. */
    q.skills[0].min_proficiency = 5;
    assert_int_equal(w_queue(&w, 4, q), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_offered_to(&w, 101), 2);
    /* Agent skill raise on a logged-in agent. */
    assert_int_equal(w_at(&w, 5, ev_arrive(102, 1, CHAT, 0, 0)), 0);
    struct blend_acd_queue_config q2 = q_basic(2);
    q_skill(&q2, 4, 1);
    assert_int_equal(w_queue(&w, 6, q2), 0);
    assert_int_equal(w_at(&w, 7, ev_arrive(103, 2, CHAT, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 103), 0);
    a2.capacity[V] = 1;
    a_skill(&a2, 4, 1);
    a2.voice_exclusive = 0;
    assert_int_equal(w_agent(&w, 8, a2), 0);
    assert_int_equal(w_offered_to(&w, 103), 2);
    w_deinit(&w);
}

static void timer_ids_follow_the_scheme(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.max_wait_ms = 9000;
    q.overflow = BLEND_OVERFLOW_VOICEMAIL;
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_event ev = ev_arrive(42, 1, V, 0, 0);
    ev.now_ms = 100;
    assert_int_equal(blend_acd_step(w.acd, &ev, &w.fx), 0);
    int found = 0;
    for (size_t i = 0; i < w.fx.count; i++) {
        if (w.fx.items[i].type == BLEND_ACD_FX_TIMER_SET) {
            assert_int_equal(w.fx.items[i].timer, BLEND_ACD_TIMER_ID(BLEND_ACD_TIMER_MAX_WAIT, 42));
            assert_int_equal(w.fx.items[i].due_ms, 9100);
            found++;
        }
    }
    assert_int_equal(found, 1);
    /* A stale timer does nothing. */
    ev = ev_id(BLEND_ACD_EV_TIMER, 0);
    ev.now_ms = 200;
    ev.u.timer = BLEND_ACD_TIMER_ID(BLEND_ACD_TIMER_OFFER, 42);
    assert_int_equal(blend_acd_step(w.acd, &ev, &w.fx), 0);
    assert_int_equal(w.fx.count, 0);
    w_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(presence_transitions),
        cmocka_unit_test(errors_leave_state_unchanged),
        cmocka_unit_test(strategy_longest_idle),
        cmocka_unit_test(strategy_most_skilled),
        cmocka_unit_test(strategy_least_occupied),
        cmocka_unit_test(strategy_fewest_contacts),
        cmocka_unit_test(strategy_round_robin),
        cmocka_unit_test(strategy_ring_all),
        cmocka_unit_test(strategy_sticky),
        cmocka_unit_test(sticky_agent_logout_opens_contact),
        cmocka_unit_test(priority_aging_and_cap),
        cmocka_unit_test(offer_timeout_reoffer_and_missed),
        cmocka_unit_test(reject_goes_to_next_agent),
        cmocka_unit_test(abandon_and_unavailable_withdraw),
        cmocka_unit_test(wrapup_and_pending_not_ready),
        cmocka_unit_test(callbacks_keep_place),
        cmocka_unit_test(overflow_actions),
        cmocka_unit_test(overflow_waits_for_offer_to_fail),
        cmocka_unit_test(relaxation_steps),
        cmocka_unit_test(capacity_and_voice_exclusivity),
        cmocka_unit_test(voice_exclusive_set_withdraws),
        cmocka_unit_test(relax_adding_own_queue_refused),
        cmocka_unit_test(position_and_ewt),
        cmocka_unit_test(reconfiguration_reevaluates),
        cmocka_unit_test(timer_ids_follow_the_scheme),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return rc;
}
