/*
 * ACD engine: transfers (docs/routing.md §Transfers), one test per rule and per edge case read
 * there: to a queue (the same or another, a new stay), to an agent (a direct offer, accepted,
 * rejected, timed out, withdrawn, or impossible at once and falling back to the queue), the
 * errors, transfers during wrap-up, sticky and ring-all target queues, relaxation and max wait
 * in the new stay, callbacks. Time is injected; blend_acd_check() runs after every step.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define V BLEND_CH_VOICE
#define CHAT BLEND_CH_CHAT

static struct blend_acd_event ev_xfer(int64_t contact, int64_t agent, int64_t to_queue,
                                      int64_t to_agent)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_CONTACT_TRANSFER, 0);
    ev.u.transfer.contact = contact;
    ev.u.transfer.agent = agent;
    ev.u.transfer.to_queue = to_queue;
    ev.u.transfer.to_agent = to_agent;
    return ev;
}

/* Contact `c` arrives in queue q at t and is accepted by `agent` at t + 1 (who must get it). */
static void connect_to(struct world *w, int64_t t, int64_t c, int64_t q, int64_t agent)
{
    assert_int_equal(w_at(w, t, ev_arrive(c, q, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(w, c), agent);
    assert_int_equal(w_at(w, t + 1, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, c, agent)), 0);
}

static struct blend_acd_contact_view view_of(struct world *w, int64_t c)
{
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w->acd, c, &v), 0);
    return v;
}

/* To another queue: ENDED marked with the target, the agent's wrap-up of the queue left, QUEUED
 * in the target with a new first join; an agent of the target takes it; wait counts from the
 * transfer. */
static void to_queue_new_stay(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2);
    q1.wrapup_ms = 5000;
    q_skill(&q2, 9, 5);
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    w_ready_agent(&w, 0, a_basic(1));
    connect_to(&w, 10, 100, 1, 1);
    struct blend_acd_agent_config a2 = a_basic(2);
    a_skill(&a2, 9, 6);
    w_ready_agent(&w, 20, a2);
    assert_int_equal(w_at(&w, 40, ev_xfer(100, 1, 2, 0)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_ENDED, 100);
    assert_non_null(e);
    assert_int_equal(e->is_transfer, 1);
    assert_int_equal(e->to_queue, 2);
    assert_int_equal(e->to_agent, 0);
    assert_int_equal(e->agent, 1);
    assert_int_equal(e->queue, 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->queue, 2);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_WRAP_UP);
    assert_int_equal(w_offered_to(&w, 100), 2);
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.queue, 2);
    assert_int_equal(v.enqueued_ms, 40);
    assert_int_equal(v.state, BLEND_CONTACT_OFFERED);
    struct blend_acd_agent_view av;
    assert_int_equal(blend_acd_agent(w.acd, 1, &av), 0);
    assert_int_equal(av.handled, 1);
    assert_int_equal(av.active[V], 0);
    assert_int_equal(w_at(&w, 43, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->wait_ms, 3);
    assert_int_equal(w_at(&w, 60, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_ENDED, 100)->is_transfer, 0);
    assert_int_equal(blend_acd_contact(w.acd, 100, &v), BLEND_ENOENT);
    w_deinit(&w);
}

/* To its own queue: a new stay, ranked behind a contact that joined before the transfer; the
 * transferring agent is held off it for reoffer_delay and takes the other contact. */
static void to_same_queue_ranks_as_newcomer(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    connect_to(&w, 10, 100, 1, 1);
    assert_int_equal(w_at(&w, 20, ev_arrive(200, 1, V, 0, 0)), 0); /* waits: agent 1 busy */
    assert_int_equal(w_at(&w, 30, ev_xfer(100, 1, 1, 0)), 0);
    assert_int_equal(w_offered_to(&w, 200), 1);
    assert_int_equal(w_offered_to(&w, 100), 0);
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.state, BLEND_CONTACT_WAITING);
    assert_int_equal(v.enqueued_ms, 30);
    assert_int_equal(v.position, 1);
    /* A contact arriving now ranks behind 100 (joined at 30). */
    assert_int_equal(w_at(&w, 31, ev_arrive(300, 1, V, 0, 0)), 0);
    assert_int_equal(view_of(&w, 300).position, 2);
    /* The hold ends at 30 + 20 s: agent 1 (free again) is offered 100 first. */
    assert_int_equal(w_at(&w, 40, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 200, 1)), 0);
    assert_int_equal(w_at(&w, 50, ev_ca(BLEND_ACD_EV_CONTACT_END, 200, 0)), 0);
    assert_int_equal(w_offered_to(&w, 300), 1);
    assert_int_equal(w_at(&w, 60, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 300, 1)), 0);
    assert_int_equal(w_at(&w, 20029, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 20030, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* Refusals change nothing and emit nothing. */
static void errors(void **state)
{
    struct world w;
    w_init(&w, 4, 3, 4, 0);
    struct blend_acd_queue_config q3 = q_basic(3);
    q3.channels = 1u << CHAT;
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    assert_int_equal(w_queue(&w, 0, q3), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_agent(&w, 0, a_basic(2)), 0); /* logged out */
    connect_to(&w, 10, 100, 1, 1);
    assert_int_equal(w_at(&w, 12, ev_arrive(200, 1, V, 0, 0)), 0); /* waiting */
    struct {
        struct blend_acd_event ev;
        int rc;
    } cases[] = {
        {ev_xfer(999, 1, 2, 0), BLEND_EINVAL}, /* unknown contact */
        {ev_xfer(100, 9, 2, 0), BLEND_EINVAL}, /* unknown agent */
        {ev_xfer(100, 1, 0, 0), BLEND_EINVAL}, /* no target */
        {ev_xfer(100, 1, 2, 2), BLEND_EINVAL}, /* two targets */
        {ev_xfer(100, 1, 7, 0), BLEND_EINVAL}, /* unknown queue */
        {ev_xfer(100, 1, 3, 0), BLEND_EINVAL}, /* queue without the channel */
        {ev_xfer(100, 1, 0, 9), BLEND_EINVAL}, /* unknown agent target */
        {ev_xfer(100, 1, 0, 1), BLEND_EINVAL}, /* to oneself */
        {ev_xfer(100, 2, 2, 0), BLEND_ESTATE}, /* not that agent's contact */
        {ev_xfer(200, 1, 2, 0), BLEND_ESTATE}, /* waiting, not connected */
        {ev_xfer(100, 1, 0, 2), BLEND_ESTATE}, /* target logged out */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(w_at(&w, 20, cases[i].ev), cases[i].rc);
        assert_int_equal(w.fx.count, 0);
    }
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.state, BLEND_CONTACT_CONNECTED);
    assert_int_equal(v.agent, 1);
    w_deinit(&w);
}

/* To an agent: offered to that agent at once, whatever their skills, and to nobody else while
 * the offer is outstanding; accept connects. */
static void to_agent_direct_offer_accepted(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q_skill(&q, 5, 5);
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_agent_config a1 = a_basic(1), a3 = a_basic(3);
    a_skill(&a1, 5, 9);
    a_skill(&a3, 5, 9);
    w_ready_agent(&w, 0, a1);
    connect_to(&w, 10, 100, 1, 1);
    w_ready_agent(&w, 11, a_basic(2)); /* no skill 5: not eligible for the queue */
    w_ready_agent(&w, 12, a3);         /* eligible, idle */
    assert_int_equal(w_at(&w, 30, ev_xfer(100, 1, 0, 2)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_ENDED, 100);
    assert_int_equal(e->is_transfer, 1);
    assert_int_equal(e->to_agent, 2);
    assert_int_equal(e->to_queue, 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->queue, 1);
    assert_int_equal(w_offered_to(&w, 100), 2);
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.state, BLEND_CONTACT_OFFERED);
    assert_int_equal(v.agent, 2);
    /* Agent 1 frees up (no wrap-up) and agent 3 is idle: neither is offered contact 100. */
    assert_int_equal(w_at(&w, 31, ev_arrive(300, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 300), 3);
    assert_int_equal(w_at(&w, 35, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->wait_ms, 5);
    w_deinit(&w);
}

/* A rejected direct offer: the contact waits in its queue as any contact; the rejecter and the
 * transferring agent are held for reoffer_delay, another eligible agent takes it at once. */
static void to_agent_rejected_falls_back(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    connect_to(&w, 10, 100, 1, 1);
    w_ready_agent(&w, 11, a_basic(2));
    w_ready_agent(&w, 12, a_basic(3));
    assert_int_equal(w_at(&w, 20, ev_xfer(100, 1, 0, 2)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 25, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 2)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_REJECTED, 100, 2), 1);
    assert_int_equal(w_offered_to(&w, 100), 3); /* not 1 (held since the transfer), not 2 */
    assert_int_equal(w_at(&w, 26, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 3)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(view_of(&w, 100).state, BLEND_CONTACT_WAITING);
    /* Agent 1's hold (20 + 20 s) ends first. */
    assert_int_equal(w_at(&w, 20020, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* A direct offer that times out falls back (and counts toward max_no_answer). */
static void to_agent_timeout_falls_back(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.offer_timeout_ms = 10000;
    q.reoffer_delay_ms = 30000;
    q.max_no_answer = 1;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    connect_to(&w, 10, 100, 1, 1);
    w_ready_agent(&w, 11, a_basic(2));
    assert_int_equal(w_at(&w, 20, ev_xfer(100, 1, 0, 2)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 10019, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_TIMEOUT, 100, 2), 0);
    assert_int_equal(w_at(&w, 10020, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_TIMEOUT, 100, 2), 1);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0);
    assert_non_null(e);
    assert_int_equal(e->agent, 2);
    assert_string_equal(e->reason, "missed");
    assert_int_equal(w_offered_to(&w, 100), 0); /* agent 1 is held until 20 + 30 s */
    assert_int_equal(view_of(&w, 100).state, BLEND_CONTACT_WAITING);
    assert_int_equal(w_at(&w, 30020, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* A target logged in but not available (not ready, or at capacity) gets nothing: the contact
 * waits in its queue at once, offered by the rules. A target going not-ready during the offer
 * withdraws it (unavailable) and the contact falls back. */
static void to_agent_unavailable_falls_back(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    connect_to(&w, 10, 100, 1, 1);
    assert_int_equal(w_agent(&w, 11, a_basic(2)), 0);
    assert_int_equal(w_at(&w, 11, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 2)), 0); /* not-ready */
    w_ready_agent(&w, 12, a_basic(3));
    assert_int_equal(w_at(&w, 20, ev_xfer(100, 1, 0, 2)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_QUEUED, 100, 0), 1);
    assert_int_equal(w_offered_to(&w, 100), 3); /* by the queue's rules (1 is held) */
    assert_int_equal(w_at(&w, 21, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 3)), 0);
    assert_int_equal(w_at(&w, 22, ev_id(BLEND_ACD_EV_AGENT_READY, 2)), 0);
    assert_int_equal(w_at(&w, 30, ev_xfer(100, 3, 0, 2)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 31, ev_nr(2, "break")), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100)->withdraw, BLEND_WITHDRAW_UNAVAILABLE);
    /* Agent 3 transferred it (held); agent 1's hold belonged to the stay that ended when 3
     * accepted: agent 1 takes it. */
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* Wrap-up: the contact whose end opened it is gone (nothing to transfer); another contact still
 * connected during the wrap-up can be transferred, which extends the wrap-up as an end does. */
static void during_wrapup(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.wrapup_ms = 5000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(101, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, 1)), 0);
    assert_int_equal(w_at(&w, 20, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_at(&w, 21, ev_xfer(100, 1, 2, 0)), BLEND_EINVAL);
    assert_int_equal(w_at(&w, 3000, ev_xfer(101, 1, 2, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_AGENT_STATE, 0, 0), 0); /* still in wrap-up */
    assert_int_equal(w_at(&w, 5020, ev_arrive(300, 2, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_AGENT_STATE, 0, 1), 0); /* extended to 8000 */
    assert_int_equal(w_at(&w, 8000, ev_arrive(301, 2, V, 0, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_READY);
    w_deinit(&w);
}

/* A transferred contact is never bound to a sticky agent (its last agent transferred it): in a
 * sticky queue its fallback strategy applies at once. */
static void sticky_target_not_bound(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 4);
    struct blend_acd_queue_config q2 = q_basic(2);
    q2.strategy = BLEND_STRAT_STICKY;
    q2.sticky_fallback = BLEND_STRAT_LONGEST_IDLE;
    q2.sticky_ms = 60000;
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    w_ready_agent(&w, 0, a_basic(2));
    w_ready_agent(&w, 5, a_basic(1));
    assert_int_equal(w_at(&w, 6, ev_arrive(50, 1, V, 0, 0)), 0); /* occupies agent 2 */
    assert_int_equal(w_at(&w, 7, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 50, 2)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 7)), 0); /* customer 7 */
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 12, ev_ca(BLEND_ACD_EV_CONTACT_END, 50, 0)), 0); /* 2 free at 12 */
    /* Agent 1 is free from 20, agent 2 since 12: bound, the contact would wait for agent 1. */
    assert_int_equal(w_at(&w, 20, ev_xfer(100, 1, 2, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    w_deinit(&w);
}

/* A ring-all target queue rings every eligible agent; a direct offer in a ring-all queue goes
 * to the target only. */
static void ring_all_target(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    struct blend_acd_queue_config q2 = q_basic(2);
    q2.strategy = BLEND_STRAT_RING_ALL;
    assert_int_equal(w_queue(&w, 0, q2), 0);
    w_ready_agent(&w, 0, a_basic(1));
    connect_to(&w, 10, 100, 2, 1);
    w_ready_agent(&w, 11, a_basic(2));
    w_ready_agent(&w, 11, a_basic(3));
    assert_int_equal(w_at(&w, 20, ev_xfer(100, 1, 0, 3)), 0);
    assert_int_equal(w_offered_to(&w, 100), 3);
    assert_int_equal(w_at(&w, 21, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 3)), 0);
    assert_int_equal(w_at(&w, 30, ev_xfer(100, 3, 2, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), -1); /* agents 1 and 2; 3 transferred it */
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 100, 0), 2);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 100, 3), 0);
    w_deinit(&w);
}

/* The new stay's clocks: relaxation and max wait count from the transfer, step 0 again; a
 * callback transferred is an ordinary contact (it may overflow). */
static void new_stay_clocks_and_callbacks(void **state)
{
    struct world w;
    w_init(&w, 4, 3, 8, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2);
    q1.relax_count = 1;
    q1.relax[0].after_ms = 1000;
    q2.relax_count = 1;
    q2.relax[0].after_ms = 10000;
    q2.max_wait_ms = 30000;
    q2.overflow = BLEND_OVERFLOW_QUEUE;
    q2.overflow_queue = 3;
    q_skill(&q2, 4, 4); /* nobody meets it: the contact waits */
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    assert_int_equal(w_queue(&w, 0, q_basic(3)), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 500, ev_id(BLEND_ACD_EV_CALLBACK_REQUEST, 0)), BLEND_EINVAL);
    struct blend_acd_event cb = ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, 100, 0);
    assert_int_equal(w_at(&w, 500, cb), 0);
    assert_int_equal(w_at(&w, 2000, ev_arrive(101, 3, V, 0, 0)), 0);
    assert_int_equal(view_of(&w, 100).step, 1);
    w_ready_agent(&w, 3000, a_basic(1));
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OFFER, 100)->is_callback, 1);
    assert_int_equal(w_at(&w, 3001, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 4000, ev_xfer(100, 1, 2, 0)), 0);
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.step, 0);
    assert_int_equal(v.is_callback, 0);
    assert_int_equal(v.enqueued_ms, 4000);
    assert_int_equal(w_at(&w, 13999, ev_arrive(102, 3, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_RELAXED, 100, 0), 0);
    assert_int_equal(w_at(&w, 14000, ev_arrive(103, 3, V, 0, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 1);
    assert_int_equal(w_at(&w, 34000, ev_arrive(104, 3, V, 0, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OVERFLOW, 100)->queue, 2);
    assert_int_equal(view_of(&w, 100).queue, 3);
    w_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(to_queue_new_stay),
        cmocka_unit_test(to_same_queue_ranks_as_newcomer),
        cmocka_unit_test(errors),
        cmocka_unit_test(to_agent_direct_offer_accepted),
        cmocka_unit_test(to_agent_rejected_falls_back),
        cmocka_unit_test(to_agent_timeout_falls_back),
        cmocka_unit_test(to_agent_unavailable_falls_back),
        cmocka_unit_test(during_wrapup),
        cmocka_unit_test(sticky_target_not_bound),
        cmocka_unit_test(ring_all_target),
        cmocka_unit_test(new_stay_clocks_and_callbacks),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return rc;
}
