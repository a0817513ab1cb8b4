/*
 * ACD engine: engaged agents (docs/routing.md §Engaged agents) — a call the engine did not
 * route holds a unit of the agent's capacity; an attended transfer hands a connected contact to
 * the agent engaged with the customer. One test per rule: no offers while engaged, release
 * makes the agent available (idle from the release), offers that no longer fit are withdrawn,
 * logout and capacity changes refused, presence unchanged, the handover's effects and errors.
 * Time is injected; blend_acd_check() runs after every step.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define V BLEND_CH_VOICE
#define CHAT BLEND_CH_CHAT

static struct blend_acd_event ev_engage(enum blend_acd_event_type t, int64_t agent,
                                        enum blend_channel ch)
{
    struct blend_acd_event ev = ev_id(t, 0);
    ev.u.engage.agent = agent;
    ev.u.engage.channel = ch;
    return ev;
}

static struct blend_acd_agent_view agent_of(struct world *w, int64_t a)
{
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w->acd, a, &v), 0);
    return v;
}

/* Engaged on voice (capacity 1): a voice contact waits; the release offers it at once. */
static void engaged_agent_gets_no_offer_until_release(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, V)), 0);
    struct blend_acd_agent_view v = agent_of(&w, 1);
    assert_int_equal(v.engaged[V], 1);
    assert_int_equal(v.active[V], 0); /* connected contacts only */
    assert_int_equal(v.presence, BLEND_PRESENCE_READY);
    assert_int_equal(w_at(&w, 20, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    /* A second engagement does not fit (capacity 1). */
    assert_int_equal(w_at(&w, 25, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, V)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 30, ev_engage(BLEND_ACD_EV_AGENT_RELEASE, 1, V)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(agent_of(&w, 1).engaged[V], 0);
    /* Nothing more to release. */
    assert_int_equal(w_at(&w, 31, ev_engage(BLEND_ACD_EV_AGENT_RELEASE, 1, V)), BLEND_ESTATE);
    w_deinit(&w);
}

/* Not-ready and wrap-up agents may be engaged; presence does not change; logout is refused
 * while engaged and a logged-out agent cannot be engaged; a capacity below the engagements is
 * refused. */
static void presence_logout_and_capacity(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(1)), 0);
    assert_int_equal(w_at(&w, 1, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, V)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 2, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 1)), 0);
    assert_int_equal(w_at(&w, 3, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, V)), 0);
    assert_int_equal(agent_of(&w, 1).presence, BLEND_PRESENCE_NOT_READY);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_AGENT_STATE, 0, 1), 0);
    assert_int_equal(w_at(&w, 4, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 1)), BLEND_ESTATE);
    struct blend_acd_agent_config smaller = a_basic(1);
    smaller.capacity[V] = 0;
    assert_int_equal(w_agent(&w, 5, smaller), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 6, ev_engage(BLEND_ACD_EV_AGENT_RELEASE, 1, V)), 0);
    assert_int_equal(w_at(&w, 7, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 1)), 0);
    /* Unknown agent, bad channel. */
    assert_int_equal(w_at(&w, 8, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 9, V)), BLEND_EINVAL);
    assert_int_equal(w_at(&w, 9, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, BLEND_CH_COUNT)),
                     BLEND_EINVAL);
    w_deinit(&w);
}

/* An outstanding voice offer no longer fits once the agent is engaged on voice: withdrawn
 * (unavailable), and the contact goes to the other ready agent. */
static void engage_withdraws_offers_that_no_longer_fit(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_ready_agent(&w, 11, a_basic(2));
    assert_int_equal(w_at(&w, 12, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, V)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100);
    assert_non_null(e);
    assert_int_equal(e->agent, 1);
    assert_int_equal(e->withdraw, BLEND_WITHDRAW_UNAVAILABLE);
    assert_int_equal(w_offered_to(&w, 100), 2);
    w_deinit(&w);
}

/* A voice-exclusive agent engaged on voice is offered no chat; chat capacity is its own. */
static void voice_engagement_blocks_other_channels(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.channels |= 1u << CHAT;
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_agent_config a = a_basic(1);
    a.capacity[CHAT] = 2;
    a.voice_exclusive = 1;
    w_ready_agent(&w, 0, a);
    assert_int_equal(w_at(&w, 5, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 1, V)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 20, ev_engage(BLEND_ACD_EV_AGENT_RELEASE, 1, V)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* Attended transfer: agent 2 (not ready) is engaged in the consultation; the handover ends
 * agent 1's part (is_transfer, wrap-up) and connects the contact to agent 2 at once: QUEUED
 * then CONNECTED with no wait, no offer; agent 2's engagement became the contact. */
static void attended_transfer_connects_the_engaged_agent(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.wrapup_ms = 5000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_agent(&w, 0, a_basic(2)), 0);
    assert_int_equal(w_at(&w, 1, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 2)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    struct blend_acd_event x = ev_id(BLEND_ACD_EV_CONTACT_TRANSFER, 0);
    x.u.transfer.contact = 100;
    x.u.transfer.agent = 1;
    x.u.transfer.to_agent = 2;
    x.u.transfer.connect = 1;
    /* Without an engagement the handover is refused and nothing changes. */
    assert_int_equal(w_at(&w, 20, x), BLEND_ESTATE);
    assert_int_equal(w.seen_count, 0);
    assert_int_equal(w_at(&w, 21, ev_engage(BLEND_ACD_EV_AGENT_ENGAGE, 2, V)), 0);
    assert_int_equal(w_at(&w, 30, x), 0);
    const struct blend_acd_effect *ended = w_find(&w, BLEND_ACD_FX_ENDED, 100);
    assert_non_null(ended);
    assert_true(ended->is_transfer);
    assert_int_equal(ended->agent, 1);
    assert_int_equal(ended->to_agent, 2);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_QUEUED, 100, 0), 1);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 100, 0), 0);
    const struct blend_acd_effect *conn = w_find(&w, BLEND_ACD_FX_CONNECTED, 100);
    assert_non_null(conn);
    assert_int_equal(conn->agent, 2);
    assert_int_equal(conn->wait_ms, 0);
    struct blend_acd_contact_view cv;
    assert_int_equal(blend_acd_contact(w.acd, 100, &cv), 0);
    assert_int_equal(cv.state, BLEND_CONTACT_CONNECTED);
    assert_int_equal(cv.agent, 2);
    assert_int_equal(cv.enqueued_ms, 30);
    struct blend_acd_agent_view v = agent_of(&w, 2);
    assert_int_equal(v.engaged[V], 0);
    assert_int_equal(v.active[V], 1);
    assert_int_equal(v.presence, BLEND_PRESENCE_NOT_READY);
    assert_int_equal(agent_of(&w, 1).presence, BLEND_PRESENCE_WRAP_UP);
    /* The contact ends with agent 2, who wraps up only if ready (not-ready stays). */
    assert_int_equal(w_at(&w, 40, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 2)), 0);
    assert_int_equal(agent_of(&w, 2).active[V], 0);
    /* connect needs a target agent. */
    struct blend_acd_event bad = x;
    bad.u.transfer.to_agent = 0;
    bad.u.transfer.to_queue = 1;
    assert_int_equal(w_at(&w, 50, bad), BLEND_EINVAL);
    w_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(engaged_agent_gets_no_offer_until_release),
        cmocka_unit_test(presence_logout_and_capacity),
        cmocka_unit_test(engage_withdraws_offers_that_no_longer_fit),
        cmocka_unit_test(voice_engagement_blocks_other_channels),
        cmocka_unit_test(attended_transfer_connects_the_engaged_agent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
