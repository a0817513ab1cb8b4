/*
 * ACD engine: the restore events (docs/routing.md §Restoring state), one test per rule, with
 * exact expected effects, timers and views. AGENT_RESTORE brings a logged-out agent back in its
 * stored presence (since_ms is its free_since; a wrap-up resumes with its own end, or is over);
 * CONTACT_RESTORE brings a contact back waiting with its true age (rank, step, relaxation and
 * max-wait clocks) or connected to an agent (capacity taken, no offer). The harness of
 * test_acd_util.h fires timers and runs blend_acd_check() after every step.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define V BLEND_CH_VOICE
#define CHAT BLEND_CH_CHAT

static struct blend_acd_event ev_agent_restore(int64_t agent, enum blend_acd_presence p,
                                               const char *reason, int64_t since_ms,
                                               int64_t wrapup_until_ms)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_AGENT_RESTORE, 0);
    ev.u.agent_restore.agent = agent;
    ev.u.agent_restore.presence = p;
    if (reason) {
        snprintf(ev.u.agent_restore.reason, sizeof ev.u.agent_restore.reason, "%s", reason);
    }
    ev.u.agent_restore.since_ms = since_ms;
    ev.u.agent_restore.wrapup_until_ms = wrapup_until_ms;
    return ev;
}

static struct blend_acd_event ev_contact_restore(int64_t contact, int64_t queue,
                                                 enum blend_channel ch, int64_t enqueued_ms,
                                                 int64_t agent)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_CONTACT_RESTORE, 0);
    ev.u.contact_restore.contact = contact;
    ev.u.contact_restore.queue = queue;
    ev.u.contact_restore.channel = ch;
    ev.u.contact_restore.enqueued_ms = enqueued_ms;
    ev.u.contact_restore.agent = agent;
    return ev;
}

/* Due time of an armed timer, or -1 when it is not armed. */
static int64_t w_due(const struct world *w, int kind, int64_t entity)
{
    uint64_t id = BLEND_ACD_TIMER_ID(kind, entity);
    for (size_t i = 0; i < w->timers_count; i++) {
        if (w->timers[i].id == id) {
            return w->timers[i].due_ms;
        }
    }
    return -1;
}

static void agent_restore_refusals(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 4, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    /* Unknown agent, bad presence, since in the future, unterminated reason: EINVAL. */
    assert_int_equal(w_at(&w, 100, ev_agent_restore(11, BLEND_PRESENCE_READY, NULL, 0, 0)),
                     BLEND_EINVAL);
    assert_int_equal(w_at(&w, 100, ev_agent_restore(10, BLEND_PRESENCE_LOGGED_OUT, NULL, 0, 0)),
                     BLEND_EINVAL);
    assert_int_equal(w_at(&w, 100, ev_agent_restore(10, BLEND_PRESENCE_READY, NULL, 101, 0)),
                     BLEND_EINVAL);
    struct blend_acd_event bad = ev_agent_restore(10, BLEND_PRESENCE_NOT_READY, NULL, 0, 0);
    memset(bad.u.agent_restore.reason, 'x', sizeof bad.u.agent_restore.reason);
    assert_int_equal(w_at(&w, 100, bad), BLEND_EINVAL);
    assert_int_equal(w.fx.count, 0);
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w.acd, 10, &v), 0);
    assert_int_equal(v.presence, BLEND_PRESENCE_LOGGED_OUT);
    /* Logged in already: ESTATE. */
    assert_int_equal(w_at(&w, 100, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 10)), 0);
    assert_int_equal(w_at(&w, 101, ev_agent_restore(10, BLEND_PRESENCE_READY, NULL, 0, 0)),
                     BLEND_ESTATE);
    assert_int_equal(w.fx.count, 0);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

/* since_ms is the free_since of every channel: longest-idle orders restored agents by it. */
static void agent_restore_ready_since(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    for (int64_t id = 10; id <= 12; id++) {
        assert_int_equal(w_agent(&w, 0, a_basic(id)), 0);
    }
    assert_int_equal(w_at(&w, 1000, ev_agent_restore(10, BLEND_PRESENCE_READY, NULL, 900, 0)), 0);
    assert_int_equal(w.seen_count, 1);
    assert_int_equal(w.seen[0].type, BLEND_ACD_FX_AGENT_STATE);
    assert_int_equal(w.seen[0].presence, BLEND_PRESENCE_READY);
    assert_int_equal(w.seen[0].at_ms, 1000);
    assert_int_equal(w_at(&w, 1000, ev_agent_restore(11, BLEND_PRESENCE_READY, NULL, -500, 0)), 0);
    assert_int_equal(w_at(&w, 1000, ev_agent_restore(12, BLEND_PRESENCE_READY, NULL, 0, 0)), 0);
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w.acd, 11, &v), 0);
    assert_int_equal(v.since_ms, -500);
    assert_int_equal(w_at(&w, 1001, ev_arrive(1, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 1), 11);
    assert_int_equal(w_at(&w, 1001, ev_arrive(2, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 2), 12);
    assert_int_equal(w_at(&w, 1001, ev_arrive(3, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 3), 10);
    w_deinit(&w);
}

/* A ready restore serves waiting contacts at once; not-ready keeps its reason and takes none. */
static void agent_restore_decides(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(11)), 0);
    assert_int_equal(w_at(&w, 5, ev_arrive(1, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 6, ev_agent_restore(10, BLEND_PRESENCE_NOT_READY, "lunch", 1, 0)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_NOT_READY);
    assert_string_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->reason, "lunch");
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0);
    assert_int_equal(w_at(&w, 7, ev_agent_restore(11, BLEND_PRESENCE_READY, NULL, 2, 0)), 0);
    assert_int_equal(w_offered_to(&w, 1), 11);
    /* Restored agents are logged in: logout, ready and not-ready work as usual. */
    assert_int_equal(w_at(&w, 8, ev_id(BLEND_ACD_EV_AGENT_READY, 10)), 0);
    assert_int_equal(w_at(&w, 9, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 10)), 0);
    w_deinit(&w);
}

/* A wrap-up resumes until its stored end (timer armed, no offers meanwhile); one already over is
 * restored as ready now, free since now. */
static void agent_restore_wrapup(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(11)), 0);
    assert_int_equal(w_at(&w, 100, ev_agent_restore(10, BLEND_PRESENCE_WRAP_UP, NULL, 90, 130)), 0);
    assert_int_equal(w.seen_count, 1);
    assert_int_equal(w.seen[0].presence, BLEND_PRESENCE_WRAP_UP);
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_WRAPUP, 10), 130);
    assert_int_equal(w_at(&w, 110, ev_arrive(1, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0);
    /* An agent restored ready at 50 has waited longer than one whose wrap-up ends at 115 ... */
    assert_int_equal(w_at(&w, 120, ev_agent_restore(11, BLEND_PRESENCE_WRAP_UP, NULL, 50, 120)), 0);
    assert_int_equal(w.seen_count, 2); /* AGENT_STATE ready (one), then the offer */
    assert_int_equal(w.seen[0].type, BLEND_ACD_FX_AGENT_STATE);
    assert_int_equal(w.seen[0].presence, BLEND_PRESENCE_READY);
    assert_int_equal(w_offered_to(&w, 1), 11);
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_WRAPUP, 11), -1);
    struct blend_acd_agent_view v;
    assert_int_equal(blend_acd_agent(w.acd, 11, &v), 0);
    assert_int_equal(v.since_ms, 120); /* ready now, as the wrap-up timer would have made it */
    /* ... and the first agent's wrap-up ends by its timer, then takes the next contact. */
    assert_int_equal(w_at(&w, 125, ev_arrive(2, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0);
    assert_int_equal(w_at(&w, 130, ev_id(BLEND_ACD_EV_AGENT_READY, 11)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_READY);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->agent, 10);
    assert_int_equal(w_offered_to(&w, 2), 10);
    w_deinit(&w);
}

static void contact_restore_refusals(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 3, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.channels = 1u << V | 1u << CHAT;
    assert_int_equal(w_queue(&w, 0, q), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    struct blend_acd_event e = ev_contact_restore(1, 1, V, 101, 0);
    assert_int_equal(w_at(&w, 100, e), BLEND_EINVAL); /* first join in the future */
    e = ev_contact_restore(1, 2, V, 0, 0);
    assert_int_equal(w_at(&w, 100, e), BLEND_EINVAL); /* unknown queue */
    e = ev_contact_restore(1, 1, BLEND_CH_EMAIL, 0, 0);
    assert_int_equal(w_at(&w, 100, e), BLEND_EINVAL); /* channel the queue does not take */
    e = ev_contact_restore(1, 1, V, 0, 0);
    e.u.contact_restore.is_callback = 2;
    assert_int_equal(w_at(&w, 100, e), BLEND_EINVAL);
    e = ev_contact_restore(1, 1, V, 0, 0);
    e.u.contact_restore.priority = 1001;
    assert_int_equal(w_at(&w, 100, e), BLEND_EINVAL);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(1, 1, V, 0, 99)), BLEND_EINVAL);
    /* Connected to a logged-out agent: ESTATE. */
    assert_int_equal(w_at(&w, 100, ev_contact_restore(1, 1, V, 0, 10)), BLEND_ESTATE);
    assert_int_equal(w.fx.count, 0);
    assert_int_equal(w_at(&w, 100, ev_agent_restore(10, BLEND_PRESENCE_NOT_READY, "x", 0, 0)), 0);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(1, 1, V, 0, 10)), 0);
    /* Over capacity on the channel, and an id that exists: ESTATE. */
    assert_int_equal(w_at(&w, 100, ev_contact_restore(2, 1, V, 0, 10)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(1, 1, CHAT, 0, 0)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(2, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(3, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(4, 1, CHAT, 0, 0)), BLEND_ELIMIT);
    assert_int_equal(w.fx.count, 0);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

/* A voice-exclusive agent holding a chat offer cannot be given a connected voice contact. */
static void contact_restore_voice_exclusive(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 4, 0);
    struct blend_acd_queue_config q = q_basic(1);
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(10));
    assert_int_equal(w_at(&w, 1, ev_arrive(1, 1, CHAT, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 1), 10);
    assert_int_equal(w_at(&w, 2, ev_contact_restore(2, 1, V, 0, 10)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 3, ev_contact_restore(2, 1, CHAT, 0, 10)), 0); /* chat: fine */
    assert_int_equal(w.seen_count, 0); /* a connected restore emits nothing observable */
    w_deinit(&w);
}

/* A waiting restored contact ranks by its true age: priority aged from enqueued_ms, then first
 * join, then id; the view reports its first join and effective priority. */
static void contact_restore_ranking(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.acceleration_per_min = 60; /* one point per second */
    assert_int_equal(w_queue(&w, 0, q), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    assert_int_equal(w_at(&w, 10000, ev_arrive(1, 1, V, 20, 0)), 0); /* 20 + 0 */
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 1)->queue, 1);
    struct blend_acd_event e = ev_contact_restore(2, 1, V, -20000, 0); /* 0 + 30 */
    assert_int_equal(w_at(&w, 10000, e), 0);
    assert_int_equal(w.seen_count, 1);
    assert_int_equal(w.seen[0].type, BLEND_ACD_FX_QUEUED);
    e = ev_contact_restore(3, 1, V, -5000, 0);
    e.u.contact_restore.priority = 15; /* 15 + 15 = 30, joined later than contact 2 */
    assert_int_equal(w_at(&w, 10000, e), 0);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 2, &v), 0);
    assert_int_equal(v.enqueued_ms, -20000);
    assert_int_equal(v.priority, 30);
    assert_int_equal(v.position, 1);
    assert_int_equal(v.state, BLEND_CONTACT_WAITING);
    assert_int_equal(blend_acd_contact(w.acd, 3, &v), 0);
    assert_int_equal(v.position, 2);
    assert_int_equal(w_at(&w, 10000, ev_agent_restore(10, BLEND_PRESENCE_READY, NULL, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 2), 10);
    assert_int_equal(w_at(&w, 10000, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 2, 10)), 0);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_CONNECTED, 2)->wait_ms, 30000);
    assert_int_equal(w_at(&w, 11000, ev_ca(BLEND_ACD_EV_CONTACT_END, 2, 0)), 0);
    assert_int_equal(w_offered_to(&w, 3), 10); /* 31 > 21 */
    w_deinit(&w);
}

/* Step from age (one RELAXED naming the step in force), next timers for the remaining time. */
static void contact_restore_relaxation(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q_skill(&q, 1, 9);
    q.relax_count = 3;
    q.relax[0].after_ms = 10000;
    q.relax[1].after_ms = 20000;
    q.relax[1].has_skills = 1;
    q.relax[1].skills_count = 1;
    q.relax[1].skills[0] = (struct blend_acd_skill_req){1, 5};
    q.relax[2].after_ms = 60000;
    q.max_wait_ms = 90000;
    q.overflow = BLEND_OVERFLOW_VOICEMAIL;
    assert_int_equal(w_queue(&w, 0, q), 0);
    struct blend_acd_agent_config a = a_basic(10);
    a_skill(&a, 1, 6);
    assert_int_equal(w_agent(&w, 0, a), 0);
    assert_int_equal(w_at(&w, 1000, ev_contact_restore(1, 1, V, -24000, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_RELAXED, 1, 0), 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 1)->step, 2);
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_RELAX, 1), 36000);
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_MAX_WAIT, 1), 66000);
    /* Step 0 when young: no RELAXED, first step armed. */
    assert_int_equal(w_at(&w, 1000, ev_contact_restore(2, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_RELAXED, 0, 0), 0);
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_RELAX, 2), 10000);
    /* The step in force decides eligibility: the agent (6) meets step 2 (5), not the base (9). */
    assert_int_equal(w_at(&w, 2000, ev_agent_restore(10, BLEND_PRESENCE_READY, NULL, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 1), 10);
    assert_int_equal(w_offered_to(&w, 2), 0);
    w_deinit(&w);
}

/* A max wait already reached overflows at once; a restored callback never overflows. */
static void contact_restore_overflow(void **state)
{
    struct world w;
    w_init(&w, 2, 2, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q.max_wait_ms = 30000;
    q.overflow = BLEND_OVERFLOW_QUEUE;
    q.overflow_queue = 2;
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    assert_int_equal(w_queue(&w, 0, q), 0);
    assert_int_equal(w_at(&w, 5000, ev_contact_restore(1, 1, V, -25000, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 0, 0), 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OVERFLOW, 1)->queue, 1);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_QUEUED, 1, 0), 2);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 1, &v), 0);
    assert_int_equal(v.queue, 2);
    assert_int_equal(v.enqueued_ms, -25000);
    struct blend_acd_event e = ev_contact_restore(2, 1, V, -100000, 0);
    e.u.contact_restore.is_callback = 1;
    assert_int_equal(w_at(&w, 5000, e), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 0, 0), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_CALLBACK, 0, 0), 0); /* the flag is restored */
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_MAX_WAIT, 2), -1);
    assert_int_equal(blend_acd_contact(w.acd, 2, &v), 0);
    assert_int_equal(v.is_callback, 1);
    assert_int_equal(v.queue, 1);
    /* Not yet reached: armed for the remaining time, then overflows by its timer. */
    assert_int_equal(w_at(&w, 5000, ev_contact_restore(3, 1, V, -20000, 0)), 0);
    assert_int_equal(w_due(&w, BLEND_ACD_TIMER_MAX_WAIT, 3), 10000);
    assert_int_equal(w_at(&w, 10000, ev_arrive(4, 2, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OVERFLOW, 3, 0), 1);
    w_deinit(&w);
}

/* A connected restore occupies capacity (no offer), ends as usual with wrap-up, and blocks
 * logout; the restored contact is not bound to a sticky agent. */
static void contact_restore_connected(void **state)
{
    struct world w;
    w_init(&w, 2, 1, 8, 4);
    struct blend_acd_queue_config q = q_basic(1);
    q.wrapup_ms = 5000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    assert_int_equal(w_agent(&w, 0, a_basic(10)), 0);
    assert_int_equal(w_at(&w, 100, ev_agent_restore(10, BLEND_PRESENCE_READY, NULL, 0, 0)), 0);
    assert_int_equal(w_at(&w, 100, ev_contact_restore(1, 1, V, -60000, 10)), 0);
    assert_int_equal(w.seen_count, 0);
    struct blend_acd_agent_view av;
    assert_int_equal(blend_acd_agent(w.acd, 10, &av), 0);
    assert_int_equal(av.active[V], 1);
    struct blend_acd_contact_view cv;
    assert_int_equal(blend_acd_contact(w.acd, 1, &cv), 0);
    assert_int_equal(cv.state, BLEND_CONTACT_CONNECTED);
    assert_int_equal(cv.agent, 10);
    assert_int_equal(w_at(&w, 200, ev_arrive(2, 1, V, 0, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_OFFER, 0, 0), 0); /* voice is full */
    assert_int_equal(w_at(&w, 300, ev_id(BLEND_ACD_EV_AGENT_LOGOUT, 10)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 400, ev_ca(BLEND_ACD_EV_CONTACT_END, 1, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_ENDED, 1, 10), 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_AGENT_STATE, 0)->presence, BLEND_PRESENCE_WRAP_UP);
    assert_int_equal(w_at(&w, 1000, ev_id(BLEND_ACD_EV_AGENT_READY, 10)), BLEND_ESTATE);
    assert_int_equal(w_at(&w, 5400, ev_id(BLEND_ACD_EV_AGENT_READY, 10)), 0); /* no-op ... */
    assert_int_equal(w_offered_to(&w, 2), 10); /* ... the wrap-up timer fired at 5400 first */
    w_deinit(&w);
    /* Sticky: the memory is not restored and a restored contact waits for everyone. */
    w_init(&w, 2, 1, 8, 4);
    q = q_basic(1);
    q.strategy = BLEND_STRAT_STICKY;
    q.sticky_ms = 60000;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(10));
    w_ready_agent(&w, 0, a_basic(11));
    assert_int_equal(w_at(&w, 1, ev_arrive(1, 1, V, 0, 7)), 0);
    assert_int_equal(w_offered_to(&w, 1), 10);
    assert_int_equal(w_at(&w, 2, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 1, 10)), 0); /* 7 -> 10 */
    struct blend_acd_event e = ev_contact_restore(2, 1, V, 0, 0);
    e.u.contact_restore.customer = 7;
    assert_int_equal(w_at(&w, 3, e), 0);
    assert_int_equal(w_offered_to(&w, 2), 11); /* an arrival would wait for agent 10 */
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agent_restore_refusals),
        cmocka_unit_test(agent_restore_ready_since),
        cmocka_unit_test(agent_restore_decides),
        cmocka_unit_test(agent_restore_wrapup),
        cmocka_unit_test(contact_restore_refusals),
        cmocka_unit_test(contact_restore_voice_exclusive),
        cmocka_unit_test(contact_restore_ranking),
        cmocka_unit_test(contact_restore_relaxation),
        cmocka_unit_test(contact_restore_overflow),
        cmocka_unit_test(contact_restore_connected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
