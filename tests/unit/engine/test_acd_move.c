/*
 * ACD engine: moving a contact that is not connected (BLEND_ACD_EV_CONTACT_MOVE, docs/routing.md
 * §Transfers, "Moving a waiting contact"), one test per rule: a waiting contact moved to another
 * queue or to its own (a new stay, QUEUED marked is_move), an offered one (its offers withdrawn,
 * reason moved, the agents free again and not held off it), to a named agent (a direct offer
 * whatever their skills, or an ordinary wait when they are not available; ring-all offers all
 * withdrawn), decline holds, sticky binding and a pending max wait of the old stay dropped,
 * relaxation and max wait of the new stay counted from the move, callbacks kept, and every
 * refusal leaving the engine unchanged. Time is injected; blend_acd_check() runs after every
 * step.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define V BLEND_CH_VOICE
#define CHAT BLEND_CH_CHAT

static struct blend_acd_event ev_move(int64_t contact, int64_t to_queue, int64_t to_agent)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_CONTACT_MOVE, 0);
    ev.u.move.contact = contact;
    ev.u.move.to_queue = to_queue;
    ev.u.move.to_agent = to_agent;
    return ev;
}

static struct blend_acd_contact_view view_of(struct world *w, int64_t c)
{
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w->acd, c, &v), 0);
    return v;
}

/* Queue 2 requires skill 9 (>= 5): agents of a_basic() do not meet it. */
static struct blend_acd_queue_config q_skilled(int64_t id)
{
    struct blend_acd_queue_config q = q_basic(id);
    q_skill(&q, 9, 5);
    return q;
}

static struct blend_acd_agent_config a_skilled(int64_t id)
{
    struct blend_acd_agent_config a = a_basic(id);
    a_skill(&a, 9, 7);
    return a;
}

/* A waiting contact moved to another queue: QUEUED there marked is_move, a new first join (wait
 * counts from the move), step 0, its own priority kept; an agent of the target takes it. */
static void waiting_to_queue(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q_skilled(2)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 7, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->is_move, 0);
    assert_int_equal(w_at(&w, 40, ev_move(100, 2, 0)), 0);
    assert_int_equal(w.seen_count, 1);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_QUEUED, 100);
    assert_non_null(e);
    assert_int_equal(e->queue, 2);
    assert_int_equal(e->is_move, 1);
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.queue, 2);
    assert_int_equal(v.state, BLEND_CONTACT_WAITING);
    assert_int_equal(v.enqueued_ms, 40);
    assert_int_equal(v.priority, 7); /* own 7 + queue 0 */
    assert_int_equal(v.position, 1);
    /* An agent of queue 2 (only) is offered it; wait counts from the move. */
    w_ready_agent(&w, 50, a_skilled(2));
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 55, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->wait_ms, 15);
    w_deinit(&w);
}

/* Moved to its own queue, the stay restarts: it ranks behind a contact that joined before the
 * move, and the first free agent takes that one first. */
static void own_queue_restarts_the_stay(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 20, ev_arrive(200, 1, V, 0, 0)), 0);
    assert_int_equal(view_of(&w, 100).position, 1);
    assert_int_equal(w_at(&w, 30, ev_move(100, 1, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->queue, 1);
    assert_int_equal(view_of(&w, 100).enqueued_ms, 30);
    assert_int_equal(view_of(&w, 100).position, 2);
    assert_int_equal(view_of(&w, 200).position, 1);
    w_ready_agent(&w, 40, a_basic(1));
    assert_int_equal(w_offered_to(&w, 200), 1);
    assert_int_equal(w_offered_to(&w, 100), 0);
    w_deinit(&w);
}

/* An offered contact moved to a queue: its offer is withdrawn (moved); the agent is free again
 * at once and takes the next waiting contact in the same step; the moved contact goes to an
 * agent of the target. */
static void offered_to_queue_withdraws(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q_skilled(2)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 0, a_basic(2));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    const int64_t first = 1; /* longest-idle, equal: the lower id */
    assert_int_equal(w_offered_to(&w, 100), first);
    assert_int_equal(w_at(&w, 11, ev_arrive(200, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 200), 2);
    assert_int_equal(w_at(&w, 12, ev_arrive(300, 1, V, 0, 0)), 0); /* waits: both busy */
    assert_int_equal(w_offered_to(&w, 300), 0);
    assert_int_equal(w_at(&w, 20, ev_move(100, 2, 0)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100);
    assert_non_null(e);
    assert_int_equal(e->withdraw, BLEND_WITHDRAW_MOVED);
    assert_int_equal(e->agent, first);
    assert_int_equal(e->queue, 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->queue, 2);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->is_move, 1);
    assert_int_equal(w_offered_to(&w, 300), first); /* the freed agent serves queue 1 */
    assert_int_equal(w_offered_to(&w, 100), 0);     /* nobody meets queue 2 now */
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.state, BLEND_CONTACT_WAITING);
    assert_int_equal(v.queue, 2);
    assert_int_equal(v.enqueued_ms, 20);
    /* A skilled agent arrives for queue 2. */
    w_ready_agent(&w, 30, a_skilled(3));
    assert_int_equal(w_offered_to(&w, 100), 3);
    w_deinit(&w);
}

/* A move is not a decline: the agent whose offer was withdrawn may be offered the contact again
 * at once (here: moved back to its own queue, agent 1 the only one). */
static void withdrawal_is_no_decline(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.reoffer_delay_ms = 60000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 20, ev_move(100, 1, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_WITHDRAWN, 100, 1), 1);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(view_of(&w, 100).enqueued_ms, 20);
    w_deinit(&w);
}

/* Decline holds belong to the old stay: an agent who rejected the contact (held for a minute)
 * is offered it at once after a move. */
static void decline_holds_dropped(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2);
    q1.reoffer_delay_ms = 60000;
    q2.reoffer_delay_ms = 60000;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 15, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 1)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0); /* held off */
    assert_int_equal(w_at(&w, 20, ev_move(100, 2, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* To a named agent while offered to another: the first offer is withdrawn (moved), the named
 * agent is offered it at once whatever their skills (a direct offer, in its current queue);
 * the first agent is free again and takes another contact. */
static void offered_to_agent_direct(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_skilled(1)), 0);
    w_ready_agent(&w, 0, a_skilled(1));
    w_ready_agent(&w, 0, a_basic(2)); /* does not meet queue 1 */
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 11, ev_arrive(200, 1, V, 0, 0)), 0); /* waits */
    assert_int_equal(w_at(&w, 20, ev_move(100, 0, 2)), 0);
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100);
    assert_non_null(e);
    assert_int_equal(e->agent, 1);
    assert_int_equal(e->withdraw, BLEND_WITHDRAW_MOVED);
    e = w_find(&w, BLEND_ACD_FX_QUEUED, 100);
    assert_int_equal(e->queue, 1);
    assert_int_equal(e->is_move, 1);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_offered_to(&w, 200), 1);
    struct blend_acd_contact_view v = view_of(&w, 100);
    assert_int_equal(v.state, BLEND_CONTACT_OFFERED);
    assert_int_equal(v.agent, 2);
    assert_int_equal(v.enqueued_ms, 20);
    assert_int_equal(w_at(&w, 25, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 100)->wait_ms, 5);
    w_deinit(&w);
}

/* A direct offer that fails (rejected) makes the contact an ordinary waiting contact of its new
 * stay; meanwhile nobody else is offered it, even an eligible agent who frees up. */
static void direct_offer_fails_to_queue(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(2));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    w_ready_agent(&w, 12, a_basic(1));
    assert_int_equal(w_at(&w, 20, ev_move(100, 0, 2)), 0); /* again to 2: withdrawn, re-offered */
    assert_int_equal(w_count(&w, BLEND_ACD_FX_WITHDRAWN, 100, 2), 1);
    assert_int_equal(w_offered_to(&w, 100), 2);
    /* Agent 1 is available and eligible, but the direct offer is the contact's only one. */
    struct blend_acd_agent_view av;
    assert_int_equal(blend_acd_agent(w.acd, 1, &av), 0);
    assert_int_equal(av.presence, BLEND_PRESENCE_READY);
    assert_int_equal(av.offered[V], 0);
    assert_int_equal(w_at(&w, 22, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 2)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* The direct offer's timer counts from the move (the queue's offer timeout). */
static void direct_offer_times_from_move(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0); /* offer timeout 20 s */
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 10000, ev_move(100, 0, 1)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 29999, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_TIMEOUT, 100, 0), 0);
    assert_int_equal(w_at(&w, 30000, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER_TIMEOUT, 100, 1), 1);
    w_deinit(&w);
}

/* To a named agent who is not available (not ready): no offer; the contact waits in a new stay
 * of its queue and the queue's rules apply (an eligible agent who frees up takes it). */
static void to_agent_not_available_waits(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_agent(&w, 0, a_basic(2)), 0);
    assert_int_equal(w_at(&w, 0, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 2)), 0); /* not ready */
    assert_int_equal(w_at(&w, 5, ev_nr(1, "break")), 0);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 20, ev_move(100, 0, 2)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->is_move, 1);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(view_of(&w, 100).state, BLEND_CONTACT_WAITING);
    assert_int_equal(view_of(&w, 100).enqueued_ms, 20);
    assert_int_equal(w_at(&w, 30, ev_id(BLEND_ACD_EV_AGENT_READY, 1)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    w_deinit(&w);
}

/* A contact rung on every agent (ring-all) moved to one of them: every offer is withdrawn
 * (moved) and the named agent alone is offered it. */
static void ring_all_to_agent(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_RING_ALL;
    assert_int_equal(w_queue(&w, 0, q), 0);
    for (int64_t a = 1; a <= 3; a++) {
        w_ready_agent(&w, 0, a_basic(a));
    }
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 100, 0), 3);
    assert_int_equal(w_at(&w, 20, ev_move(100, 0, 2)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_WITHDRAWN, 100, 0), 3);
    for (size_t i = 0; i < w.seen_count; i++) {
        if (w.seen[i].type == BLEND_ACD_FX_WITHDRAWN) {
            assert_int_equal(w.seen[i].withdraw, BLEND_WITHDRAW_MOVED);
        }
    }
    assert_int_equal(w_offered_to(&w, 100), 2);
    struct blend_acd_agent_view av;
    assert_int_equal(blend_acd_agent(w.acd, 1, &av), 0);
    assert_int_equal(av.offered[V], 0);
    w_deinit(&w);
}

/* A sticky binding is dropped and none is made: the contact waiting for its customer's last
 * agent goes to the fallback strategy's agent at once. */
static void sticky_binding_dropped(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 4);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_STICKY;
    q.sticky_fallback = BLEND_STRAT_LONGEST_IDLE;
    q.sticky_ms = 60000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 7)), 0);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 20, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_at(&w, 21, ev_nr(1, "break")), 0);
    w_ready_agent(&w, 22, a_basic(2));
    assert_int_equal(w_at(&w, 30, ev_arrive(200, 1, V, 0, 7)), 0);
    assert_int_equal(w_offered_to(&w, 200), 0); /* bound to agent 1 (logged in, not ready) */
    assert_int_equal(w_at(&w, 40, ev_move(200, 1, 0)), 0);
    assert_int_equal(w_offered_to(&w, 200), 2);
    w_deinit(&w);
}

/* Relaxation and max wait of the new stay count from the move; a max wait reached while offered
 * in the old stay is forgotten. */
static void clocks_of_new_stay(void **state)
{
    struct world w;
    w_init(&w, 4, 3, 4, 0);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_skilled(2), q3 = q_skilled(3);
    q1.max_wait_ms = 10000;
    q1.overflow = BLEND_OVERFLOW_VOICEMAIL;
    q1.offer_timeout_ms = 60000;
    q2.max_wait_ms = 10000;
    q2.overflow = BLEND_OVERFLOW_VOICEMAIL;
    q2.relax_count = 1;
    q2.relax[0].after_ms = 5000;
    q2.relax[0].has_skills = 1;
    q2.relax[0].skills_count = 1;
    q2.relax[0].skills[0] = (struct blend_acd_skill_req){.skill = 9, .min_proficiency = 6};
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    assert_int_equal(w_queue(&w, 0, q3), 0);
    /* Waiting in queue 1 for 8 s, moved to queue 2 at 8 s: relaxes at 13 s, overflows at 18 s
     * (not at 10 s, queue 1's max wait). */
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 8000, ev_move(100, 2, 0)), 0);
    assert_int_equal(w_at(&w, 12999, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w.seen_count, 0);
    assert_int_equal(w_at(&w, 13000, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 1);
    assert_int_equal(w_at(&w, 17999, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 100, 0), 0);
    assert_int_equal(w_at(&w, 18000, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 100, 0), 1);
    /* Offered in queue 1 past its max wait (pending overflow), moved to queue 3 (no max wait):
     * the pending overflow is forgotten. */
    w_ready_agent(&w, 20000, a_basic(1));
    assert_int_equal(w_at(&w, 20000, ev_arrive(200, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 200), 1);
    assert_int_equal(w_at(&w, 31000, ev_move(200, 3, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 200, 0), 0);
    assert_int_equal(w_at(&w, 100000, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 200, 0), 0);
    assert_int_equal(view_of(&w, 200).queue, 3);
    assert_int_equal(view_of(&w, 200).state, BLEND_CONTACT_WAITING);
    w_deinit(&w);
}

/* A callback stays a callback: moved to a queue it is offered as one and never overflows there;
 * moved to an agent its direct offer says is_callback. */
static void callback_stays_callback(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    struct blend_acd_queue_config q2 = q_skilled(2);
    q2.max_wait_ms = 5000;
    q2.overflow = BLEND_OVERFLOW_VOICEMAIL;
    assert_int_equal(w_queue(&w, 0, q_skilled(1)), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    assert_int_equal(w_at(&w, 0, ev_arrive(100, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 1, ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, 100, 0)), 0);
    assert_int_equal(w_at(&w, 10, ev_move(100, 2, 0)), 0);
    assert_int_equal(view_of(&w, 100).is_callback, 1);
    assert_int_equal(w_at(&w, 60000, ev_id(BLEND_ACD_EV_QUEUE_REMOVE, 9)), BLEND_EINVAL);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 100, 0), 0);
    w_ready_agent(&w, 60000, a_skilled(1));
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OFFER, 100)->is_callback, 1);
    /* Another callback moved straight to an agent who does not meet the queue. */
    w_ready_agent(&w, 60000, a_basic(2));
    assert_int_equal(w_at(&w, 60001, ev_arrive(200, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 60002, ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, 200, 0)), 0);
    assert_int_equal(w_at(&w, 60003, ev_move(200, 0, 2)), 0);
    assert_int_equal(w_offered_to(&w, 200), 2);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OFFER, 200)->is_callback, 1);
    assert_int_equal(w_at(&w, 60004, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 200, 2)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 200)->is_callback, 1);
    w_deinit(&w);
}

/* Refusals change nothing and emit nothing: unknown contact (EINVAL), no target or two, an
 * unknown queue or agent, a queue without the contact's channel (EINVAL), a connected contact
 * or a logged-out target agent (ESTATE). */
static void refusals(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    struct blend_acd_queue_config q2 = q_basic(2);
    q2.channels = 1u << CHAT;
    assert_int_equal(w_queue(&w, 0, q_skilled(1)), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(3)), 0); /* logged out */
    w_ready_agent(&w, 0, a_skilled(1));
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 0)), 0); /* offered to 1 */
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    assert_int_equal(w_at(&w, 12, ev_arrive(200, 1, V, 0, 0)), 0); /* waits */
    struct blend_acd_event bad[] = {
        ev_move(999, 1, 0), ev_move(0, 1, 0),   ev_move(200, 0, 0), ev_move(200, 1, 1),
        ev_move(200, 7, 0), ev_move(200, 0, 9), ev_move(200, 2, 0), ev_move(200, -1, 0),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(w_at(&w, 20, bad[i]), BLEND_EINVAL);
        assert_int_equal(w.seen_count, 0);
    }
    assert_int_equal(w_at(&w, 20, ev_move(100, 1, 0)), BLEND_ESTATE); /* connected */
    assert_int_equal(w_at(&w, 20, ev_move(100, 0, 1)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 20, ev_move(200, 0, 3)), BLEND_ESTATE); /* logged out */
    assert_int_equal(w.seen_count, 0);
    struct blend_acd_contact_view v = view_of(&w, 200);
    assert_int_equal(v.queue, 1);
    assert_int_equal(v.enqueued_ms, 12);
    assert_int_equal(view_of(&w, 100).state, BLEND_CONTACT_CONNECTED);
    w_deinit(&w);
}

/* Own skills are kept: moved to a queue, only agents meeting them are offered the contact. */
static void own_skills_kept(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    struct blend_acd_event a = ev_arrive(100, 1, CHAT, 0, 0);
    a.u.arrive.skills_count = 1;
    a.u.arrive.skills[0] = (struct blend_acd_skill_req){.skill = 9, .min_proficiency = 5};
    assert_int_equal(w_at(&w, 0, a), 0);
    w_ready_agent(&w, 1, a_basic(1));
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 2, ev_move(100, 2, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    w_ready_agent(&w, 3, a_skilled(2));
    assert_int_equal(w_offered_to(&w, 100), 2);
    w_deinit(&w);
}

/* Regression (found by the move property run, in AGENT_ENGAGE): a voice-exclusive agent whose
 * only offer on another channel is withdrawn by an engagement there is available for voice
 * again and takes the voice contact waiting for them in the same step. */
static void engage_withdrawal_unblocks_voice(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    struct blend_acd_agent_config a = a_basic(1);
    a.capacity[BLEND_CH_EMAIL] = 1;
    w_ready_agent(&w, 0, a);
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, BLEND_CH_EMAIL, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 11, ev_arrive(200, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 200), 0); /* voice blocked by the email offer */
    struct blend_acd_event g = ev_id(BLEND_ACD_EV_AGENT_ENGAGE, 0);
    g.u.engage.agent = 1;
    g.u.engage.channel = BLEND_CH_EMAIL;
    assert_int_equal(w_at(&w, 12, g), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_WITHDRAWN, 100)->withdraw, BLEND_WITHDRAW_UNAVAILABLE);
    assert_int_equal(w_offered_to(&w, 200), 1);
    w_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waiting_to_queue),
        cmocka_unit_test(own_queue_restarts_the_stay),
        cmocka_unit_test(offered_to_queue_withdraws),
        cmocka_unit_test(withdrawal_is_no_decline),
        cmocka_unit_test(decline_holds_dropped),
        cmocka_unit_test(offered_to_agent_direct),
        cmocka_unit_test(direct_offer_fails_to_queue),
        cmocka_unit_test(direct_offer_times_from_move),
        cmocka_unit_test(to_agent_not_available_waits),
        cmocka_unit_test(ring_all_to_agent),
        cmocka_unit_test(sticky_binding_dropped),
        cmocka_unit_test(clocks_of_new_stay),
        cmocka_unit_test(callback_stays_callback),
        cmocka_unit_test(refusals),
        cmocka_unit_test(own_skills_kept),
        cmocka_unit_test(engage_withdrawal_unblocks_voice),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc != 0 || blend_alloc_live() != 0;
}
