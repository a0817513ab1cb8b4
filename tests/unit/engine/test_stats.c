/*
 * Stats fold tests: hand-computed figures for small effect sequences (every definition and
 * variant of docs/kpis.md), windows and the last hour, agent time partition and occupancy,
 * multi-channel agents, overflow and callbacks fed in either effect order, edge cases, error
 * returns that change nothing, allocation failures, and a randomized run of valid effect
 * streams whose expected totals are kept independently by the generator. blend_stats_check
 * runs after every feed; every test ends with no live allocation.
 */
#include "base/alloc.h"
#include "engine/stats/stats.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define Q1 1
#define Q2 2

static struct blend_stats *make(size_t queues, size_t agents, size_t contacts)
{
    struct blend_stats_limits lim = {
        .queues_max = queues, .agents_max = agents, .contacts_max = contacts};
    struct blend_stats *s = NULL;
    assert_int_equal(blend_stats_create(&lim, &s), 0);
    assert_non_null(s);
    return s;
}

static struct blend_acd_effect fx_of(enum blend_acd_effect_type t, int64_t at, int64_t contact,
                                     int64_t agent, int64_t queue)
{
    struct blend_acd_effect e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.at_ms = at;
    e.contact = contact;
    e.agent = agent;
    e.queue = queue;
    e.channel = BLEND_CH_VOICE;
    return e;
}

static void feed(struct blend_stats *s, const struct blend_acd_effect *e)
{
    assert_int_equal(blend_stats_feed(s, e), 0);
    blend_stats_check(s);
}

static void queued(struct blend_stats *s, int64_t at, int64_t contact, int64_t queue)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_QUEUED, at, contact, 0, queue);
    feed(s, &e);
}

static void offer(struct blend_stats *s, int64_t at, int64_t contact, int64_t agent)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_OFFER, at, contact, agent, 0);
    feed(s, &e);
}

static void connected(struct blend_stats *s, int64_t at, int64_t contact, int64_t agent,
                      int64_t wait)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_CONNECTED, at, contact, agent, 0);
    e.wait_ms = wait;
    feed(s, &e);
}

static void answer(struct blend_stats *s, int64_t at, int64_t contact, int64_t agent, int64_t wait)
{
    offer(s, at, contact, agent);
    connected(s, at, contact, agent, wait);
}

static void ended(struct blend_stats *s, int64_t at, int64_t contact, int64_t agent)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_ENDED, at, contact, agent, 0);
    feed(s, &e);
}

static void abandoned(struct blend_stats *s, int64_t at, int64_t contact, int64_t wait)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_ABANDONED, at, contact, 0, 0);
    e.wait_ms = wait;
    feed(s, &e);
}

static void simple(struct blend_stats *s, enum blend_acd_effect_type t, int64_t at, int64_t contact,
                   int64_t agent)
{
    struct blend_acd_effect e = fx_of(t, at, contact, agent, 0);
    feed(s, &e);
}

static void overflow(struct blend_stats *s, int64_t at, int64_t contact, enum blend_acd_overflow o)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_OVERFLOW, at, contact, 0, 0);
    e.overflow = o;
    feed(s, &e);
}

static void state(struct blend_stats *s, int64_t at, int64_t agent, enum blend_acd_presence p,
                  const char *reason)
{
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_AGENT_STATE, at, 0, agent, 0);
    e.presence = p;
    if (reason != NULL) {
        snprintf(e.reason, sizeof e.reason, "%s", reason);
    }
    feed(s, &e);
}

static struct blend_stats_queue q_get(const struct blend_stats *s, int64_t id, int64_t now)
{
    struct blend_stats_queue q;
    assert_int_equal(blend_stats_queue(s, id, now, &q), 0);
    return q;
}

static struct blend_stats_agent a_get(const struct blend_stats *s, int64_t id, int64_t now)
{
    struct blend_stats_agent a;
    assert_int_equal(blend_stats_agent(s, id, now, &a), 0);
    return a;
}

static void assert_near(double got, double want)
{
    double d = got - want;
    if (d < 0) {
        d = -d;
    }
    if (d > 1e-9) {
        fail_msg("got %.12f, want %.12f", got, want);
    }
}

static int64_t reason_ms(const struct blend_stats_agent *a, const char *reason)
{
    for (size_t i = 0; i < a->not_ready_reasons_count; i++) {
        if (strcmp(a->not_ready_reasons[i].reason, reason) == 0) {
            return a->not_ready_reasons[i].ms;
        }
    }
    return -1;
}

/* Ten contacts join at 0: seven answered (waits 0, 5, 10, 20, 20.001, 30, 60 s), two short
 * abandons (3 s, and 5 s exactly: "within 5 s" includes 5 s), one abandon after the threshold
 * (12 s, inside T). Threshold 5 s, T = 20 s. */
static void ten_contacts_every_sl_definition(void **state_)
{
    struct blend_stats *s = make(4, 16, 32);
    assert_int_equal(blend_stats_queue_config(s, Q1, 5000, 20000, 80.0), 0);
    for (int64_t c = 1; c <= 10; c++) {
        queued(s, 0, c, Q1);
    }
    struct blend_stats_queue q = q_get(s, Q1, 0);
    assert_int_equal(q.waiting, 10);
    assert_int_equal(q.window.arrivals, 10);
    assert_int_equal(q.window.offered, 0); /* counted when each contact's outcome is known */

    answer(s, 0, 1, 101, 0);
    abandoned(s, 3000, 8, 3000);
    answer(s, 5000, 2, 102, 5000);
    abandoned(s, 5000, 9, 5000);
    answer(s, 10000, 3, 103, 10000);
    abandoned(s, 12000, 10, 12000);
    answer(s, 20000, 4, 104, 20000);
    answer(s, 20001, 5, 105, 20001);
    q = q_get(s, Q1, 25000);
    assert_int_equal(q.waiting, 2);
    assert_int_equal(q.connected_now, 5);
    assert_int_equal(q.longest_wait_ms, 25000);
    answer(s, 30000, 6, 106, 30000);
    answer(s, 60000, 7, 107, 60000);

    q = q_get(s, Q1, 60000);
    const struct blend_stats_queue_figures *w = &q.window;
    assert_int_equal(q.waiting, 0);
    assert_int_equal(q.longest_wait_ms, 0);
    assert_int_equal(w->offered, 8);
    assert_int_equal(w->answered, 7);
    assert_int_equal(w->abandoned, 1);
    assert_int_equal(w->short_abandoned, 2);
    assert_int_equal(w->answered_within, 4);
    assert_int_equal(w->abandoned_within, 1);
    assert_int_equal(w->wait_answered_ms, 145001);
    assert_near(w->service_level, 4.0 / 8.0);                   /* 4 / (7 + 1) */
    assert_near(w->service_level_ignore_abandons, 4.0 / 7.0);   /* 4 / 7 */
    assert_near(w->service_level_abandons_positive, 5.0 / 8.0); /* (4 + 1) / 8 */
    assert_near(w->asa_ms, 145001.0 / 7.0);
    assert_near(w->abandon_rate, 1.0 / 8.0);
    assert_int_equal(w->transferred, 0);
    assert_int_equal(q.sl_target_ms, 20000);
    assert_near(q.sl_pct, 80.0);

    /* The same contacts with short abandons disabled (threshold 0): both become abandons. */
    struct blend_stats *s0 = make(4, 16, 32);
    assert_int_equal(blend_stats_queue_config(s0, Q1, 0, 20000, 80.0), 0);
    queued(s0, 0, 8, Q1);
    queued(s0, 0, 9, Q1);
    abandoned(s0, 3000, 8, 3000);
    abandoned(s0, 5000, 9, 5000);
    q = q_get(s0, Q1, 5000);
    assert_int_equal(q.window.short_abandoned, 0);
    assert_int_equal(q.window.abandoned, 2);
    assert_int_equal(q.window.offered, 2);
    assert_int_equal(q.window.abandoned_within, 2);
    blend_stats_destroy(s0);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Abandon rate = abandoned / (answered + abandoned): short abandons and callbacks requested are
 * in neither part, while offered counts callbacks (so the abandons-positive SL moves). */
static void abandon_rate_denominator_and_callbacks(void **state_)
{
    struct blend_stats *s = make(4, 16, 32);
    assert_int_equal(blend_stats_queue_config(s, Q1, 5000, 20000, 80.0), 0);
    for (int64_t c = 1; c <= 8; c++) {
        queued(s, 0, c, Q1);
    }
    answer(s, 1000, 1, 101, 1000);
    answer(s, 2000, 2, 102, 2000);
    abandoned(s, 2000, 4, 2000); /* short */
    abandoned(s, 4000, 5, 4000); /* short */
    simple(s, BLEND_ACD_FX_CALLBACK, 6000, 6, 0);
    simple(s, BLEND_ACD_FX_CALLBACK, 6000, 6, 0); /* repeated: counted once */
    simple(s, BLEND_ACD_FX_CALLBACK, 7000, 7, 0);
    abandoned(s, 30000, 3, 30000);
    struct blend_stats_queue q = q_get(s, Q1, 30000);
    assert_int_equal(q.waiting, 1);
    assert_int_equal(q.callbacks_waiting, 2);
    assert_int_equal(q.longest_wait_ms, 30000); /* contact 8; callbacks are not "waiting" */
    answer(s, 40000, 8, 103, 40000);
    q = q_get(s, Q1, 40000);
    assert_int_equal(q.window.answered, 3);
    assert_int_equal(q.window.abandoned, 1);
    assert_int_equal(q.window.short_abandoned, 2);
    assert_int_equal(q.window.callbacks_requested, 2);
    assert_int_equal(q.window.offered, 6);
    assert_near(q.window.abandon_rate, 1.0 / 4.0);
    assert_near(q.window.service_level, 2.0 / 4.0);
    assert_near(q.window.service_level_abandons_positive, 2.0 / 6.0);

    /* A callback is offered and connected later: it is handled, not "answered", and its long
     * age does not enter ASA or SL. */
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_OFFER, 50000, 6, 104, Q1);
    e.is_callback = 1;
    feed(s, &e);
    q = q_get(s, Q1, 50000);
    assert_int_equal(q.offered_now, 1);
    assert_int_equal(q.callbacks_waiting, 1);
    e = fx_of(BLEND_ACD_FX_CONNECTED, 51000, 6, 104, Q1);
    e.is_callback = 1;
    e.wait_ms = 51000;
    feed(s, &e);
    ended(s, 111000, 6, 104);
    /* The other callback is cancelled: not an abandon either. */
    abandoned(s, 120000, 7, 120000);
    q = q_get(s, Q1, 120000);
    assert_int_equal(q.window.answered, 3);
    assert_int_equal(q.window.callbacks_answered, 1);
    assert_int_equal(q.window.abandoned, 1);
    assert_int_equal(q.window.handled, 1);
    assert_int_equal(q.window.talk_ms, 60000);
    assert_near(q.window.asa_ms, 43000.0 / 3.0);
    assert_int_equal(q.callbacks_waiting, 0);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* One agent through a day: login, ready, a voice contact with wrap-up, one without, a break,
 * a third contact whose wrap-up AGENT_STATE precedes its ENDED (canonical order), logout. */
static void agent_day_aht_occupancy(void **state_)
{
    struct blend_stats *s = make(4, 4, 8);
    state(s, 0, 1, BLEND_PRESENCE_NOT_READY, "login");
    state(s, 1000, 1, BLEND_PRESENCE_READY, NULL);
    queued(s, 2000, 1, Q1);
    offer(s, 2000, 1, 1); /* ringing time is ready idle time */
    connected(s, 3000, 1, 1, 1000);
    ended(s, 63000, 1, 1);
    state(s, 63000, 1, BLEND_PRESENCE_WRAP_UP, NULL);
    state(s, 73000, 1, BLEND_PRESENCE_READY, NULL);
    queued(s, 80000, 2, Q1);
    answer(s, 80000, 2, 1, 0);
    ended(s, 110000, 2, 1); /* no wrap-up */
    state(s, 120000, 1, BLEND_PRESENCE_NOT_READY, "break");
    state(s, 150000, 1, BLEND_PRESENCE_READY, NULL);
    queued(s, 160000, 3, Q1);
    answer(s, 160000, 3, 1, 0);
    state(s, 200000, 1, BLEND_PRESENCE_WRAP_UP, NULL);
    ended(s, 200000, 3, 1);
    state(s, 205000, 1, BLEND_PRESENCE_READY, NULL);
    state(s, 210000, 1, BLEND_PRESENCE_LOGGED_OUT, NULL);

    struct blend_stats_agent a = a_get(s, 1, 300000); /* logged out: no time after 210 s */
    assert_int_equal(a.presence, BLEND_PRESENCE_LOGGED_OUT);
    assert_int_equal(a.handled, 3);
    assert_int_equal(a.talk_ms, 60000 + 30000 + 40000);
    assert_int_equal(a.acw_ms, 10000 + 5000);
    assert_int_equal(a.hold_ms, 0);
    assert_int_equal(a.handle_ms, 145000);
    assert_near(a.aht_ms, 145000.0 / 3.0);
    assert_int_equal(a.handled_by_channel[BLEND_CH_VOICE], 3);
    assert_int_equal(a.handle_ms_by_channel[BLEND_CH_VOICE], 145000);
    assert_int_equal(a.logged_in_ms, 210000);
    assert_int_equal(a.busy_ms, 145000); /* single channel: busy = handle */
    assert_int_equal(a.not_ready_ms, 31000);
    assert_int_equal(reason_ms(&a, "login"), 1000);
    assert_int_equal(reason_ms(&a, "break"), 30000);
    assert_int_equal(a.not_ready_reasons_count, 2);
    /* ready idle: 1-3 s, 73-80 s, 110-120 s, 150-160 s, 205-210 s */
    assert_int_equal(a.ready_idle_ms, 2000 + 7000 + 10000 + 10000 + 5000);
    assert_near(a.occupancy, 145000.0 / (145000.0 + 34000.0)); /* not-ready time excluded */
    assert_near(a.utilization, 145000.0 / 210000.0);

    struct blend_stats_queue q = q_get(s, Q1, 300000);
    assert_int_equal(q.window.handled, 3);
    assert_int_equal(q.window.talk_ms, 130000);
    assert_int_equal(q.window.acw_ms, 15000);
    assert_int_equal(q.window.hold_ms, 0);
    assert_near(q.window.aht_ms, 145000.0 / 3.0);
    assert_near(q.window.asa_ms, 1000.0 / 3.0);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Two concurrent chats: each counts its own handle time, busy counts wall time with at least
 * one contact, so occupancy and utilization stay within 1. */
static void multichannel_agent(void **state_)
{
    struct blend_stats *s = make(4, 4, 8);
    state(s, 0, 1, BLEND_PRESENCE_READY, NULL);
    for (int64_t c = 1; c <= 2; c++) {
        int64_t at = (c - 1) * 30000;
        struct blend_acd_effect e = fx_of(BLEND_ACD_FX_QUEUED, at, c, 0, Q1);
        e.channel = BLEND_CH_CHAT;
        feed(s, &e);
        e = fx_of(BLEND_ACD_FX_CONNECTED, at, c, 1, Q1);
        e.channel = BLEND_CH_CHAT;
        feed(s, &e);
    }
    assert_int_equal(a_get(s, 1, 30000).connected_now, 2);
    ended(s, 60000, 1, 1);
    ended(s, 90000, 2, 1);
    struct blend_stats_agent a = a_get(s, 1, 100000);
    assert_int_equal(a.handled, 2);
    assert_int_equal(a.talk_ms, 120000);
    assert_int_equal(a.handle_ms, 120000);
    assert_int_equal(a.handled_by_channel[BLEND_CH_CHAT], 2);
    assert_int_equal(a.handle_ms_by_channel[BLEND_CH_CHAT], 120000);
    assert_int_equal(a.handled_by_channel[BLEND_CH_VOICE], 0);
    assert_int_equal(a.busy_ms, 90000);
    assert_int_equal(a.ready_idle_ms, 10000);
    assert_int_equal(a.logged_in_ms, 100000);
    assert_near(a.occupancy, 0.9);
    assert_near(a.utilization, 0.9);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Windows: counts belong to the window of the outcome, durations are whole at their end, agent
 * time in state is cut at the window start; the last hour is independent of windows. */
static void windows_and_last_hour(void **state_)
{
    struct blend_stats *s = make(4, 4, 8);
    state(s, 0, 2, BLEND_PRESENCE_NOT_READY, "login");
    state(s, 10000, 2, BLEND_PRESENCE_READY, NULL);
    queued(s, 30000, 1, Q1);
    answer(s, 40000, 1, 2, 10000);
    assert_int_equal(blend_stats_reset_window(s, 30000), BLEND_EINVAL); /* before the last */
    assert_int_equal(blend_stats_reset_window(s, 50000), 0);
    ended(s, 70000, 1, 2);

    struct blend_stats_queue q = q_get(s, Q1, 80000);
    assert_int_equal(q.window_start_ms, 50000);
    assert_int_equal(q.window.arrivals, 0);
    assert_int_equal(q.window.answered, 0);
    assert_int_equal(q.window.handled, 1);
    assert_int_equal(q.window.talk_ms, 30000); /* whole talk, counted at its end */
    struct blend_stats_agent a = a_get(s, 2, 80000);
    assert_int_equal(a.window_start_ms, 50000);
    assert_int_equal(a.handled, 1);
    assert_int_equal(a.talk_ms, 30000);
    assert_int_equal(a.busy_ms, 20000);       /* 50-70 s only */
    assert_int_equal(a.ready_idle_ms, 10000); /* 70-80 s */
    assert_int_equal(a.not_ready_ms, 0);
    assert_int_equal(a.not_ready_reasons_count, 0);
    assert_int_equal(a.logged_in_ms, 30000);

    struct blend_stats_queue_figures h;
    assert_int_equal(blend_stats_queue_last_hour(s, Q1, 80000, &h), 0);
    assert_int_equal(h.arrivals, 1);
    assert_int_equal(h.answered, 1);
    assert_int_equal(h.handled, 1);
    assert_near(h.asa_ms, 10000.0);
    assert_near(h.service_level, 1.0);
    /* Minute 0 (arrival, answer) leaves the last hour at minute 60; minute 1 (end) at 61. */
    assert_int_equal(blend_stats_queue_last_hour(s, Q1, 60 * 60000 - 1, &h), 0);
    assert_int_equal(h.answered, 1);
    assert_int_equal(blend_stats_queue_last_hour(s, Q1, 60 * 60000, &h), 0);
    assert_int_equal(h.answered, 0);
    assert_int_equal(h.handled, 1);
    assert_int_equal(blend_stats_queue_last_hour(s, Q1, 61 * 60000, &h), 0);
    assert_int_equal(h.handled, 0);
    assert_near(h.service_level, 0.0);

    /* A bucket is reused an hour later without its old counts. */
    queued(s, 61 * 60000 + 5, 2, Q1);
    answer(s, 61 * 60000 + 10, 2, 2, 5);
    assert_int_equal(blend_stats_queue_last_hour(s, Q1, 61 * 60000 + 10, &h), 0);
    assert_int_equal(h.answered, 1);
    assert_int_equal(h.arrivals, 1);
    assert_int_equal(h.handled, 0);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* A supervisor's move of a waiting contact: a new stay (docs/kpis.md §Moves). To another queue
 * it left A (overflowed_out) and is a new arrival in B, waiting from the move; to its own queue
 * only its wait restarts. */
static void moves(void **state_)
{
    struct blend_stats *s = make(4, 4, 8);
    assert_int_equal(blend_stats_queue_config(s, Q2, 5000, 20000, 80.0), 0);
    queued(s, 0, 1, Q1);
    queued(s, 0, 2, Q1);
    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_QUEUED, 30000, 1, 0, Q2);
    e.is_move = 1;
    feed(s, &e);
    e = fx_of(BLEND_ACD_FX_QUEUED, 30000, 2, 0, Q1);
    e.is_move = 1;
    feed(s, &e);
    struct blend_stats_queue a = q_get(s, Q1, 40000);
    struct blend_stats_queue b = q_get(s, Q2, 40000);
    assert_int_equal(a.window.arrivals, 2);
    assert_int_equal(a.window.overflowed_out, 1);
    assert_int_equal(a.waiting, 1);
    assert_int_equal(a.longest_wait_ms, 10000); /* contact 2 waits from its move */
    assert_int_equal(b.window.arrivals, 1);
    assert_int_equal(b.window.overflowed_in, 0);
    assert_int_equal(b.waiting, 1);
    assert_int_equal(b.longest_wait_ms, 10000);
    answer(s, 45000, 1, 7, 15000);
    b = q_get(s, Q2, 45000);
    assert_int_equal(b.window.answered, 1);
    assert_int_equal(b.window.answered_within, 1); /* 15 s from the move, within B's 20 s */
    assert_int_equal(b.window.offered, 1);
    a = q_get(s, Q1, 45000);
    assert_int_equal(a.window.offered, 0); /* the moved stay had no outcome in A */
    blend_stats_destroy(s);
}

/* Overflow A -> B counts overflowed_out in A and everything else in B, whichever of OVERFLOW
 * and QUEUED comes first; voicemail and callback overflows. */
static void overflow_both_orders(void **state_)
{
    struct blend_stats *s = make(4, 4, 8);
    assert_int_equal(blend_stats_queue_config(s, Q2, 5000, 60000, 90.0), 0);
    queued(s, 0, 1, Q1);
    queued(s, 0, 2, Q1);
    queued(s, 0, 3, Q1);
    queued(s, 0, 4, Q1);
    overflow(s, 60000, 1, BLEND_OVERFLOW_QUEUE);
    queued(s, 60000, 1, Q2);
    queued(s, 60000, 2, Q2);
    overflow(s, 60000, 2, BLEND_OVERFLOW_QUEUE);
    struct blend_stats_queue a = q_get(s, Q1, 60000);
    struct blend_stats_queue b = q_get(s, Q2, 60000);
    assert_int_equal(a.window.overflowed_out, 2);
    assert_int_equal(b.window.overflowed_in, 2);
    assert_int_equal(a.waiting, 2);
    assert_int_equal(b.waiting, 2);
    assert_int_equal(b.longest_wait_ms, 60000); /* age since the first join, kept */
    answer(s, 70000, 1, 7, 70000);
    abandoned(s, 75000, 2, 75000);
    overflow(s, 80000, 3, BLEND_OVERFLOW_VOICEMAIL);
    overflow(s, 80000, 4, BLEND_OVERFLOW_CALLBACK);
    simple(s, BLEND_ACD_FX_CALLBACK, 80000, 4, 0);
    a = q_get(s, Q1, 80000);
    b = q_get(s, Q2, 80000);
    assert_int_equal(a.window.arrivals, 4);
    assert_int_equal(a.window.overflowed_out, 3);
    assert_int_equal(a.window.overflowed_voicemail, 1);
    assert_int_equal(a.window.overflowed_callback, 1);
    assert_int_equal(a.window.callbacks_requested, 1);
    assert_int_equal(a.window.offered, 2); /* voicemail + callback */
    assert_int_equal(a.window.answered, 0);
    assert_int_equal(a.window.abandoned, 0);
    assert_int_equal(a.waiting, 0);
    assert_int_equal(a.callbacks_waiting, 1);
    assert_int_equal(b.window.arrivals, 0);
    assert_int_equal(b.window.offered, 2);
    assert_int_equal(b.window.answered, 1);
    assert_int_equal(b.window.answered_within, 0); /* 70 s > 60 s: B's own target */
    assert_int_equal(b.window.abandoned, 1);
    assert_near(b.window.service_level, 0.0);
    assert_near(b.window.abandon_rate, 0.5);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Live offer counts: ring-all offers count the contact once; withdrawals after the connection
 * (taken) or after an abandon are accepted in either order. */
static void live_offers_ring_all(void **state_)
{
    struct blend_stats *s = make(4, 8, 8);
    queued(s, 0, 1, Q1);
    offer(s, 0, 1, 1);
    offer(s, 0, 1, 2);
    offer(s, 0, 1, 3);
    struct blend_stats_queue q = q_get(s, Q1, 5000);
    assert_int_equal(q.offered_now, 1);
    assert_int_equal(q.waiting, 0);
    assert_int_equal(q.longest_wait_ms, 5000);
    simple(s, BLEND_ACD_FX_WITHDRAWN, 6000, 1, 3); /* withdrawal listed before the accept */
    connected(s, 6000, 1, 2, 6000);
    simple(s, BLEND_ACD_FX_WITHDRAWN, 6000, 1, 1);
    q = q_get(s, Q1, 6000);
    assert_int_equal(q.offered_now, 0);
    assert_int_equal(q.connected_now, 1);
    simple(s, BLEND_ACD_FX_WITHDRAWN, 6000, 1, 1); /* a stray one changes nothing */
    assert_int_equal(q_get(s, Q1, 6000).connected_now, 1);

    queued(s, 7000, 2, Q1);
    offer(s, 7000, 2, 4);
    simple(s, BLEND_ACD_FX_OFFER_TIMEOUT, 17000, 2, 4);
    q = q_get(s, Q1, 17000);
    assert_int_equal(q.waiting, 1);
    assert_int_equal(q.offered_now, 0);
    queued(s, 17000, 2, Q1); /* back in the same queue: nothing changes */
    offer(s, 17000, 2, 5);
    simple(s, BLEND_ACD_FX_OFFER_REJECTED, 18000, 2, 5);
    assert_int_equal(q_get(s, Q1, 18000).waiting, 1);
    assert_int_equal(q_get(s, Q1, 18000).window.arrivals, 2);
    simple(s, BLEND_ACD_FX_RELAXED, 19000, 2, 0);
    simple(s, BLEND_ACD_FX_TIMER_SET, 19000, 0, 0);
    simple(s, BLEND_ACD_FX_TIMER_CANCEL, 19000, 0, 0);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Edge cases: abandoned while offered (both orders), ended without wrap-up, logout during
 * wrap-up, a second contact ending during wrap-up, not ready asked during a contact. */
static void edges(void **state_)
{
    struct blend_stats *s = make(4, 8, 8);
    state(s, 0, 1, BLEND_PRESENCE_READY, NULL);
    state(s, 0, 2, BLEND_PRESENCE_READY, NULL);
    queued(s, 0, 1, Q1);
    offer(s, 0, 1, 1);
    simple(s, BLEND_ACD_FX_WITHDRAWN, 8000, 1, 1);
    abandoned(s, 8000, 1, 8000);
    queued(s, 8000, 2, Q1);
    offer(s, 8000, 2, 1);
    abandoned(s, 9000, 2, 1000);
    simple(s, BLEND_ACD_FX_WITHDRAWN, 9000, 2, 1); /* after its contact is gone: ignored */
    struct blend_stats_queue q = q_get(s, Q1, 9000);
    assert_int_equal(q.offered_now, 0);
    assert_int_equal(q.window.abandoned, 1);
    assert_int_equal(q.window.short_abandoned, 1);
    assert_int_equal(q.window.abandoned_within, 1);

    /* Ended without wrap-up: ACW 0, the agent is idle at once. */
    queued(s, 10000, 3, Q1);
    answer(s, 10000, 3, 1, 0);
    ended(s, 40000, 3, 1);
    /* Logout during wrap-up ends the ACW and the logged-in time. */
    queued(s, 40000, 4, Q1);
    answer(s, 40000, 4, 1, 0);
    ended(s, 50000, 4, 1);
    state(s, 50000, 1, BLEND_PRESENCE_WRAP_UP, NULL);
    state(s, 54000, 1, BLEND_PRESENCE_LOGGED_OUT, NULL);
    struct blend_stats_agent a = a_get(s, 1, 100000);
    assert_int_equal(a.handled, 2);
    assert_int_equal(a.talk_ms, 40000);
    assert_int_equal(a.acw_ms, 4000);
    assert_int_equal(a.busy_ms, 44000);
    assert_int_equal(a.ready_idle_ms, 10000);
    assert_int_equal(a.logged_in_ms, 54000);
    q = q_get(s, Q1, 100000);
    assert_int_equal(q.window.acw_ms, 4000);
    assert_near(q.window.aht_ms, 22000.0);

    /* Agent 2: two chats (contact 5 from Q1, 6 from Q2); the first ends into wrap-up while the
     * second is still connected; the second ends during that wrap-up, listed before the
     * AGENT_STATE that restarts it: 5 s of ACW belong to contact 5 (Q1), 10 s to 6 (Q2). */
    for (int64_t c = 5; c <= 6; c++) {
        struct blend_acd_effect e = fx_of(BLEND_ACD_FX_QUEUED, 100000, c, 0, c == 5 ? Q1 : Q2);
        e.channel = BLEND_CH_CHAT;
        feed(s, &e);
        e = fx_of(BLEND_ACD_FX_CONNECTED, 100000, c, 2, 0);
        e.channel = BLEND_CH_CHAT;
        feed(s, &e);
    }
    ended(s, 110000, 5, 2);
    state(s, 110000, 2, BLEND_PRESENCE_WRAP_UP, NULL);
    ended(s, 115000, 6, 2);
    state(s, 115000, 2, BLEND_PRESENCE_WRAP_UP, NULL);
    state(s, 125000, 2, BLEND_PRESENCE_NOT_READY, "lunch");
    a = a_get(s, 2, 135000);
    assert_int_equal(a.talk_ms, 10000 + 15000);
    assert_int_equal(a.acw_ms, 5000 + 10000);
    assert_int_equal(a.handle_ms_by_channel[BLEND_CH_CHAT], 40000);
    assert_int_equal(a.busy_ms, 25000);
    assert_int_equal(a.ready_idle_ms, 100000);
    assert_int_equal(a.not_ready_ms, 10000);
    assert_int_equal(reason_ms(&a, "lunch"), 10000);
    assert_int_equal(a.presence, BLEND_PRESENCE_NOT_READY);
    q = q_get(s, Q1, 135000);
    assert_int_equal(q.window.handled, 3);
    assert_int_equal(q.window.acw_ms, 4000 + 5000);
    q = q_get(s, Q2, 135000);
    assert_int_equal(q.window.handled, 1);
    assert_int_equal(q.window.talk_ms, 15000);
    assert_int_equal(q.window.acw_ms, 10000);

    /* Not ready while connected: busy until the contact ends, then not ready. */
    state(s, 135000, 2, BLEND_PRESENCE_READY, NULL);
    queued(s, 135000, 7, Q2);
    answer(s, 135000, 7, 2, 0);
    state(s, 140000, 2, BLEND_PRESENCE_NOT_READY, "training");
    ended(s, 150000, 7, 2);
    a = a_get(s, 2, 160000);
    assert_int_equal(a.busy_ms, 25000 + 15000);
    assert_int_equal(reason_ms(&a, "training"), 10000);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

static void assert_same_queue(const struct blend_stats *s, int64_t id,
                              const struct blend_stats_queue *before)
{
    struct blend_stats_queue now = q_get(s, id, 100000);
    assert_memory_equal(&now, before, sizeof now);
}

/* Every refusal returns its code and changes nothing. */
static void refusals_change_nothing(void **state_)
{
    struct blend_stats_limits bad = {.queues_max = 0, .agents_max = 1, .contacts_max = 1};
    struct blend_stats *s = NULL;
    assert_int_equal(blend_stats_create(&bad, &s), BLEND_EINVAL);
    bad.queues_max = BLEND_STATS_QUEUES_MAX + 1;
    assert_int_equal(blend_stats_create(&bad, &s), BLEND_EINVAL);
    assert_null(s);

    s = make(2, 1, 2);
    assert_int_equal(blend_stats_queue_config(s, 0, 0, 0, 0), BLEND_EINVAL);
    assert_int_equal(blend_stats_queue_config(s, Q1, -1, 0, 0), BLEND_EINVAL);
    assert_int_equal(blend_stats_queue_config(s, Q1, 0, -1, 0), BLEND_EINVAL);
    assert_int_equal(blend_stats_queue_config(s, Q1, 0, 0, 100.5), BLEND_EINVAL);
    struct blend_stats_queue q;
    assert_int_equal(blend_stats_queue(s, Q1, 0, &q), BLEND_ENOENT);
    queued(s, 1000, 1, Q1);
    connected(s, 2000, 1, 1, 1000);
    struct blend_stats_queue before = q_get(s, Q1, 100000);

    struct blend_acd_effect e = fx_of(BLEND_ACD_FX_QUEUED, 500, 2, 0, Q1);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_EINVAL); /* time went back */
    e = fx_of(BLEND_ACD_FX_QUEUED, 3000, 2, 0, Q1);
    e.channel = BLEND_CH_COUNT;
    assert_int_equal(blend_stats_feed(s, &e), BLEND_EINVAL);
    e = fx_of(BLEND_ACD_FX_QUEUED, 3000, 0, 0, Q1);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_EINVAL);
    e = fx_of(BLEND_ACD_FX_CONNECTED, 3000, 1, 1, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ESTATE); /* connected twice */
    e = fx_of(BLEND_ACD_FX_ABANDONED, 3000, 1, 0, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ESTATE);
    e = fx_of(BLEND_ACD_FX_CALLBACK, 3000, 1, 0, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ESTATE);
    e = fx_of(BLEND_ACD_FX_ENDED, 3000, 9, 1, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ENOENT); /* never joined */
    e = fx_of(BLEND_ACD_FX_OFFER, 3000, 9, 1, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ENOENT);
    e = fx_of(BLEND_ACD_FX_AGENT_STATE, 3000, 0, 1, 0);
    e.presence = (enum blend_acd_presence)7;
    assert_int_equal(blend_stats_feed(s, &e), BLEND_EINVAL);
    e = fx_of((enum blend_acd_effect_type)99, 3000, 1, 1, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_EINVAL);
    /* Limits: a second agent, a third queue, a third contact. */
    queued(s, 3000, 2, Q1);
    e = fx_of(BLEND_ACD_FX_CONNECTED, 3000, 2, 2, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ELIMIT);
    e = fx_of(BLEND_ACD_FX_AGENT_STATE, 3000, 0, 2, 0);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ELIMIT);
    e = fx_of(BLEND_ACD_FX_QUEUED, 3000, 3, 0, Q1);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ELIMIT);
    abandoned(s, 3000, 2, 2000);
    before = q_get(s, Q1, 100000);
    assert_int_equal(blend_stats_queue_config(s, Q2, 0, 0, 0), 0);
    assert_int_equal(blend_stats_queue_config(s, 3, 0, 0, 0), BLEND_ELIMIT);
    e = fx_of(BLEND_ACD_FX_QUEUED, 3000, 3, 0, 3);
    assert_int_equal(blend_stats_feed(s, &e), BLEND_ELIMIT);
    blend_stats_check(s);
    assert_same_queue(s, Q1, &before);
    assert_int_equal(blend_stats_queue(s, 3, 3000, &q), BLEND_ENOENT);

    struct blend_stats_agent a;
    assert_int_equal(blend_stats_agent(s, 1, 2999, &a), BLEND_EINVAL); /* before the last */
    assert_int_equal(blend_stats_agent(s, 2, 3000, &a), BLEND_ENOENT);
    assert_int_equal(blend_stats_queue(s, Q1, 2999, &q), BLEND_EINVAL);
    struct blend_stats_queue_figures f;
    assert_int_equal(blend_stats_queue_last_hour(s, Q1, 2999, &f), BLEND_EINVAL);
    assert_int_equal(blend_stats_queue_last_hour(s, 3, 3000, &f), BLEND_ENOENT);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

/* More distinct reasons than are kept by name: the rest are summed under "(other)". */
static void reasons_beyond_the_limit(void **state_)
{
    struct blend_stats *s = make(1, 1, 1);
    int64_t t = 0;
    char name[16];
    for (int i = 0; i < BLEND_STATS_REASONS_MAX + 3; i++) {
        snprintf(name, sizeof name, "r%d", i);
        state(s, t, 1, BLEND_PRESENCE_NOT_READY, name);
        t += 1000;
    }
    state(s, t, 1, BLEND_PRESENCE_LOGGED_OUT, NULL);
    struct blend_stats_agent a = a_get(s, 1, t);
    assert_int_equal(a.not_ready_reasons_count, BLEND_STATS_REASONS_MAX + 1);
    assert_int_equal(reason_ms(&a, "r0"), 1000);
    assert_int_equal(reason_ms(&a, BLEND_STATS_REASON_OTHER), 3000);
    assert_int_equal(a.not_ready_ms, (BLEND_STATS_REASONS_MAX + 3) * 1000);
    blend_stats_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

static void allocation_failures(void **state_)
{
    struct blend_stats_limits lim = {.queues_max = 4, .agents_max = 4, .contacts_max = 4};
    for (long nth = 1; nth <= 11; nth++) {
        struct blend_stats *s = NULL;
        blend_alloc_fail_nth(nth);
        int rc = blend_stats_create(&lim, &s);
        blend_alloc_fail_nth(0);
        if (nth <= 10) {
            assert_int_equal(rc, BLEND_ENOMEM); /* 1 + 3 tables + 3 indexes x 2 arrays */
            assert_null(s);
        } else {
            assert_int_equal(rc, 0);
            blend_stats_destroy(s);
        }
        assert_int_equal(blend_alloc_live(), 0);
    }
}

/* ---- Randomized: valid effect streams from a tiny model, totals kept independently -------- */

#define R_AGENTS 6
#define R_QUEUES 3
#define R_CONTACTS 12

struct rng {
    uint64_t x;
};

static uint32_t rnd(struct rng *r, uint32_t n)
{
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return (uint32_t)(r->x % n);
}

enum r_cstate { RC_FREE, RC_WAIT, RC_OFFERED, RC_CONNECTED };

struct r_contact {
    enum r_cstate st;
    int64_t id;
    int queue;
    int agent;
    int is_callback;
    int64_t join_ms;
    int64_t conn_ms;
};

struct r_agent {
    enum blend_acd_presence p;
    int busy; /* holds an offer or a contact (single channel) */
    int last_queue;
    int64_t since_ms; /* logged in since */
    int64_t wrap_ms;
};

struct r_expect {
    int64_t answered[R_QUEUES + 1];
    int64_t abandoned[R_QUEUES + 1];
    int64_t short_ab[R_QUEUES + 1];
    int64_t handled[R_QUEUES + 1];
    int64_t talk[R_QUEUES + 1];
    int64_t acw[R_QUEUES + 1];
    int64_t out[R_QUEUES + 1];
    int64_t callbacks[R_QUEUES + 1];
    int64_t logged_in[R_AGENTS + 1];
};

struct world {
    struct rng rng;
    struct blend_stats *s;
    int64_t now;
    int64_t next_id;
    struct r_contact c[R_CONTACTS];
    struct r_agent a[R_AGENTS + 1];
    struct r_expect x;
};

/* Feeds two effects of one instant in random order. */
static void feed_pair(struct world *w, struct blend_acd_effect *e1, struct blend_acd_effect *e2)
{
    if (rnd(&w->rng, 2)) {
        feed(w->s, e1);
        feed(w->s, e2);
    } else {
        feed(w->s, e2);
        feed(w->s, e1);
    }
}

static void r_agent_state(struct world *w, int ag, enum blend_acd_presence p)
{
    struct r_agent *a = &w->a[ag];
    if (a->p == BLEND_PRESENCE_WRAP_UP) {
        w->x.acw[a->last_queue] += w->now - a->wrap_ms;
    }
    if (a->p == BLEND_PRESENCE_LOGGED_OUT && p != BLEND_PRESENCE_LOGGED_OUT) {
        a->since_ms = w->now;
    }
    if (a->p != BLEND_PRESENCE_LOGGED_OUT && p == BLEND_PRESENCE_LOGGED_OUT) {
        w->x.logged_in[ag] += w->now - a->since_ms;
    }
    a->p = p;
    state(w->s, w->now, ag, p, p == BLEND_PRESENCE_NOT_READY ? "break" : NULL);
}

static void r_end(struct world *w, struct r_contact *c)
{
    struct r_agent *a = &w->a[c->agent];
    struct blend_acd_effect e1 = fx_of(BLEND_ACD_FX_ENDED, w->now, c->id, c->agent, 0);
    w->x.handled[c->queue]++;
    w->x.talk[c->queue] += w->now - c->conn_ms;
    a->busy = 0;
    a->last_queue = c->queue;
    c->st = RC_FREE;
    if (rnd(&w->rng, 2)) {
        struct blend_acd_effect e2 = fx_of(BLEND_ACD_FX_AGENT_STATE, w->now, 0, c->agent, 0);
        e2.presence = BLEND_PRESENCE_WRAP_UP;
        a->p = BLEND_PRESENCE_WRAP_UP;
        a->wrap_ms = w->now;
        feed_pair(w, &e1, &e2);
    } else {
        feed(w->s, &e1);
    }
}

static void r_leave(struct world *w, struct r_contact *c)
{
    int64_t wait = w->now - c->join_ms;
    if (c->st == RC_OFFERED) {
        struct blend_acd_effect e1 = fx_of(BLEND_ACD_FX_ABANDONED, w->now, c->id, 0, 0);
        struct blend_acd_effect e2 = fx_of(BLEND_ACD_FX_WITHDRAWN, w->now, c->id, c->agent, 0);
        e1.wait_ms = wait;
        w->a[c->agent].busy = 0;
        feed_pair(w, &e1, &e2);
    } else {
        abandoned(w->s, w->now, c->id, wait);
    }
    if (!c->is_callback) {
        (wait <= 5000 ? w->x.short_ab : w->x.abandoned)[c->queue]++;
    }
    c->st = RC_FREE;
}

static void r_overflow(struct world *w, struct r_contact *c)
{
    int kind = (int)rnd(&w->rng, 3);
    if (kind == 0) {
        int to = 1 + (c->queue % R_QUEUES);
        struct blend_acd_effect e1 = fx_of(BLEND_ACD_FX_OVERFLOW, w->now, c->id, 0, c->queue);
        struct blend_acd_effect e2 = fx_of(BLEND_ACD_FX_QUEUED, w->now, c->id, 0, to);
        e1.overflow = BLEND_OVERFLOW_QUEUE;
        feed_pair(w, &e1, &e2);
        w->x.out[c->queue]++;
        c->queue = to;
    } else if (kind == 1) {
        overflow(w->s, w->now, c->id, BLEND_OVERFLOW_VOICEMAIL);
        w->x.out[c->queue]++;
        c->st = RC_FREE;
    } else if (!c->is_callback) {
        simple(w->s, BLEND_ACD_FX_CALLBACK, w->now, c->id, 0);
        w->x.callbacks[c->queue]++;
        c->is_callback = 1;
    }
}

/* One random step on contact slot i. */
static void r_contact_step(struct world *w, struct r_contact *c)
{
    int ag = 1 + (int)rnd(&w->rng, R_AGENTS);
    struct r_agent *a = &w->a[ag];
    switch (c->st) {
    case RC_FREE:
        c->id = w->next_id++;
        c->queue = 1 + (int)rnd(&w->rng, R_QUEUES);
        c->join_ms = w->now;
        c->is_callback = 0;
        c->st = RC_WAIT;
        queued(w->s, w->now, c->id, c->queue);
        return;
    case RC_WAIT:
        if (rnd(&w->rng, 4) == 0) {
            r_leave(w, c);
        } else if (rnd(&w->rng, 4) == 0) {
            r_overflow(w, c);
        } else if (a->p == BLEND_PRESENCE_READY && !a->busy) {
            a->busy = 1;
            c->agent = ag;
            c->st = RC_OFFERED;
            offer(w->s, w->now, c->id, ag);
        }
        return;
    case RC_OFFERED:
        if (rnd(&w->rng, 5) == 0) {
            r_leave(w, c);
        } else if (rnd(&w->rng, 4) == 0) {
            simple(w->s, BLEND_ACD_FX_OFFER_TIMEOUT, w->now, c->id, c->agent);
            w->a[c->agent].busy = 0;
            c->st = RC_WAIT;
        } else {
            if (!c->is_callback) {
                w->x.answered[c->queue]++;
            }
            struct blend_acd_effect e = fx_of(BLEND_ACD_FX_CONNECTED, w->now, c->id, c->agent, 0);
            e.wait_ms = w->now - c->join_ms;
            e.is_callback = c->is_callback;
            feed(w->s, &e);
            c->conn_ms = w->now;
            c->st = RC_CONNECTED;
        }
        return;
    case RC_CONNECTED:
        r_end(w, c);
        return;
    }
}

static void r_agent_step(struct world *w, int ag)
{
    struct r_agent *a = &w->a[ag];
    if (a->busy) {
        return;
    }
    static const enum blend_acd_presence next[] = {BLEND_PRESENCE_READY, BLEND_PRESENCE_READY,
                                                   BLEND_PRESENCE_NOT_READY,
                                                   BLEND_PRESENCE_LOGGED_OUT};
    r_agent_state(w, ag, next[rnd(&w->rng, 4)]);
}

static void r_check_totals(struct world *w)
{
    for (int q = 1; q <= R_QUEUES; q++) {
        struct blend_stats_queue v;
        if (blend_stats_queue(w->s, q, w->now, &v) != 0) {
            continue;
        }
        const struct blend_stats_queue_figures *f = &v.window;
        assert_int_equal(f->answered, w->x.answered[q]);
        assert_int_equal(f->abandoned, w->x.abandoned[q]);
        assert_int_equal(f->short_abandoned, w->x.short_ab[q]);
        assert_int_equal(f->handled, w->x.handled[q]);
        assert_int_equal(f->talk_ms, w->x.talk[q]);
        assert_int_equal(f->acw_ms, w->x.acw[q]);
        assert_int_equal(f->overflowed_out, w->x.out[q]);
        assert_int_equal(f->callbacks_requested, w->x.callbacks[q]);
    }
    for (int ag = 1; ag <= R_AGENTS; ag++) {
        struct blend_stats_agent v;
        if (blend_stats_agent(w->s, ag, w->now, &v) != 0) {
            continue;
        }
        int64_t open = w->a[ag].p != BLEND_PRESENCE_LOGGED_OUT ? w->now - w->a[ag].since_ms : 0;
        assert_int_equal(v.logged_in_ms, w->x.logged_in[ag] + open);
        assert_int_equal(v.logged_in_ms, v.busy_ms + v.ready_idle_ms + v.not_ready_ms);
    }
}

static void randomized_totals(void **state_)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct world *w = blend_calloc(1, sizeof *w);
        assert_non_null(w);
        w->rng.x = 0x9E3779B97F4A7C15ull * seed;
        w->s = make(R_QUEUES, R_AGENTS, R_CONTACTS);
        w->next_id = 1;
        for (int step = 0; step < 4000; step++) {
            w->now += rnd(&w->rng, 4) == 0 ? 0 : rnd(&w->rng, 8000);
            if (rnd(&w->rng, 3) == 0) {
                r_agent_step(w, 1 + (int)rnd(&w->rng, R_AGENTS));
            } else {
                r_contact_step(w, &w->c[rnd(&w->rng, R_CONTACTS)]);
            }
            if (step % 500 == 0) {
                r_check_totals(w);
            }
        }
        r_check_totals(w);
        blend_stats_destroy(w->s);
        blend_free(w);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

/* ---- The real engine's effects: a random run of the fast ACD fed into the fold ----------- */

#define E_TIMERS_MAX 256
#define E_TRACK_MAX 256

struct acd_run {
    struct blend_acd *acd;
    struct blend_stats *s;
    struct blend_acd_effect items[BLEND_ACD_EFFECTS_MAX];
    struct blend_acd_effects fx;
    uint64_t timer_id[E_TIMERS_MAX];
    int64_t timer_due[E_TIMERS_MAX];
    size_t timers;
    int64_t off_c[E_TRACK_MAX], off_a[E_TRACK_MAX], con_c[E_TRACK_MAX];
    size_t offs, cons;
    long connected, ended;
};

static void run_track(struct acd_run *r, const struct blend_acd_effect *e)
{
    enum blend_acd_effect_type t = e->type;
    if (t == BLEND_ACD_FX_TIMER_SET || t == BLEND_ACD_FX_TIMER_CANCEL) {
        size_t i = 0;
        while (i < r->timers && r->timer_id[i] != e->timer) {
            i++;
        }
        if (i < r->timers) {
            r->timer_id[i] = r->timer_id[--r->timers];
            r->timer_due[i] = r->timer_due[r->timers];
        }
        if (t == BLEND_ACD_FX_TIMER_SET) {
            assert_true(r->timers < E_TIMERS_MAX);
            r->timer_id[r->timers] = e->timer;
            r->timer_due[r->timers++] = e->due_ms;
        }
        return;
    }
    if (t == BLEND_ACD_FX_OFFER && r->offs < E_TRACK_MAX) {
        r->off_c[r->offs] = e->contact;
        r->off_a[r->offs++] = e->agent;
    }
    for (size_t i = 0; i < r->offs && t != BLEND_ACD_FX_OFFER; i++) {
        if (r->off_c[i] == e->contact && r->off_a[i] == e->agent) {
            r->off_c[i] = r->off_c[--r->offs];
            r->off_a[i] = r->off_a[r->offs];
            break;
        }
    }
    if (t == BLEND_ACD_FX_CONNECTED && r->cons < E_TRACK_MAX) {
        r->con_c[r->cons++] = e->contact;
    }
    for (size_t i = 0; i < r->cons && t == BLEND_ACD_FX_ENDED; i++) {
        if (r->con_c[i] == e->contact) {
            r->con_c[i] = r->con_c[--r->cons];
            break;
        }
    }
    r->connected += t == BLEND_ACD_FX_CONNECTED;
    r->ended += t == BLEND_ACD_FX_ENDED;
}

/* One engine step; every effect goes to the fold, which must accept each one. */
static void run_step(struct acd_run *r, struct blend_acd_event *ev)
{
    if (blend_acd_step(r->acd, ev, &r->fx) != 0) {
        return; /* a refused random event: no effects */
    }
    for (size_t i = 0; i < r->fx.count; i++) {
        assert_int_equal(blend_stats_feed(r->s, &r->fx.items[i]), 0);
        run_track(r, &r->fx.items[i]);
    }
}

/* Fires the timers due at or before t in (due, id) order (acd-common.md), then the event. */
static void run_at(struct acd_run *r, int64_t t, struct blend_acd_event ev)
{
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < r->timers; i++) {
            if (r->timer_due[i] <= t &&
                (best == SIZE_MAX || r->timer_due[i] < r->timer_due[best] ||
                 (r->timer_due[i] == r->timer_due[best] && r->timer_id[i] < r->timer_id[best]))) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            break;
        }
        struct blend_acd_event te;
        memset(&te, 0, sizeof te);
        te.type = BLEND_ACD_EV_TIMER;
        te.now_ms = r->timer_due[best];
        te.u.timer = r->timer_id[best];
        r->timer_id[best] = r->timer_id[--r->timers];
        r->timer_due[best] = r->timer_due[r->timers];
        run_step(r, &te);
    }
    ev.now_ms = t;
    run_step(r, &ev);
}

static void run_setup(struct acd_run *r)
{
    struct blend_acd_event ev;
    for (int64_t q = 1; q <= 3; q++) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_QUEUE_SET;
        ev.u.queue.id = q;
        ev.u.queue.channels = (1u << BLEND_CH_VOICE) | (1u << BLEND_CH_CHAT);
        ev.u.queue.strategy = q == 3 ? BLEND_STRAT_RING_ALL : BLEND_STRAT_LONGEST_IDLE;
        ev.u.queue.wrapup_ms = q == 2 ? 0 : 5000 * q;
        ev.u.queue.offer_timeout_ms = 10000;
        ev.u.queue.max_no_answer = 2;
        ev.u.queue.max_wait_ms = 60000;
        ev.u.queue.overflow = q == 1   ? BLEND_OVERFLOW_QUEUE
                              : q == 2 ? BLEND_OVERFLOW_VOICEMAIL
                                       : BLEND_OVERFLOW_CALLBACK;
        ev.u.queue.overflow_queue = 2;
        run_at(r, 0, ev);
    }
    for (int64_t a = 1; a <= 6; a++) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_AGENT_SET;
        ev.u.agent.id = a;
        ev.u.agent.capacity[BLEND_CH_VOICE] = 1;
        ev.u.agent.capacity[BLEND_CH_CHAT] = (uint8_t)(a % 3 + 1);
        ev.u.agent.voice_exclusive = 1;
        run_at(r, 0, ev);
    }
}

static struct blend_acd_event run_random_event(struct acd_run *r, struct rng *g, int64_t *next)
{
    struct blend_acd_event ev;
    memset(&ev, 0, sizeof ev);
    int64_t c = *next > 1 ? 1 + (int64_t)rnd(g, (uint32_t)(*next - 1)) : 1;
    int64_t a = 1 + rnd(g, 6);
    uint32_t k = rnd(g, 12);
    if (k <= 1) {
        ev.type = BLEND_ACD_EV_CONTACT_ARRIVE;
        ev.u.arrive.contact = (*next)++;
        ev.u.arrive.queue = 1 + rnd(g, 3);
        ev.u.arrive.channel = rnd(g, 2) ? BLEND_CH_VOICE : BLEND_CH_CHAT;
    } else if (k <= 5) {
        ev.type = k == 5 ? BLEND_ACD_EV_OFFER_REJECT : BLEND_ACD_EV_OFFER_ACCEPT;
        size_t i = r->offs ? rnd(g, (uint32_t)r->offs) : 0;
        ev.u.contact.contact = r->offs ? r->off_c[i] : c;
        ev.u.contact.agent = r->offs ? r->off_a[i] : a;
    } else if (k <= 9) {
        static const enum blend_acd_event_type ct[] = {
            BLEND_ACD_EV_CONTACT_END, BLEND_ACD_EV_CONTACT_END, BLEND_ACD_EV_CONTACT_ABANDON,
            BLEND_ACD_EV_CALLBACK_REQUEST};
        ev.type = ct[k - 6];
        ev.u.contact.contact = k <= 7 && r->cons ? r->con_c[rnd(g, (uint32_t)r->cons)] : c;
    } else {
        static const enum blend_acd_event_type at[] = {
            BLEND_ACD_EV_AGENT_READY, BLEND_ACD_EV_WRAPUP_END, BLEND_ACD_EV_AGENT_LOGIN,
            BLEND_ACD_EV_AGENT_LOGOUT, BLEND_ACD_EV_AGENT_NOT_READY};
        ev.type = at[rnd(g, 5)];
        ev.u.id = a;
        if (ev.type == BLEND_ACD_EV_AGENT_NOT_READY) {
            ev.u.not_ready.agent = a;
            snprintf(ev.u.not_ready.reason, sizeof ev.u.not_ready.reason, "%s",
                     rnd(g, 2) ? "break" : "lunch");
        }
    }
    return ev;
}

/* The fold accepts every effect of the engine, in the engine's order, and agrees with the
 * engine's own views (presence, connected contacts) and with the effect counts. */
static void fed_by_the_acd(void **state_)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        struct acd_run *r = blend_calloc(1, sizeof *r);
        assert_non_null(r);
        struct blend_acd_limits al = {
            .agents_max = 8, .queues_max = 4, .contacts_max = 64, .customers_max = 16};
        assert_int_equal(blend_acd_create(&al, &r->acd), 0);
        r->s = make(4, 8, 64);
        r->fx.items = r->items;
        r->fx.cap = BLEND_ACD_EFFECTS_MAX;
        run_setup(r);
        struct rng g = {.x = 0x9E3779B97F4A7C15ull * seed};
        int64_t t = 0;
        int64_t next = 1;
        for (int step = 0; step < 10000; step++) {
            t += rnd(&g, 4) ? rnd(&g, 3000) : 0;
            run_at(r, t, run_random_event(r, &g, &next));
            if (step % 101 == 0) {
                blend_stats_check(r->s);
            }
        }
        blend_stats_check(r->s);
        long handled = 0;
        long answered = 0;
        for (int64_t q = 1; q <= 3; q++) {
            struct blend_stats_queue v = q_get(r->s, q, t);
            handled += v.window.handled;
            answered += v.window.answered + v.window.callbacks_answered;
        }
        assert_int_equal(handled, r->ended);
        assert_int_equal(answered, r->connected);
        assert_true(r->ended > 100);
        for (int64_t a = 1; a <= 6; a++) {
            struct blend_acd_agent_view av;
            assert_int_equal(blend_acd_agent(r->acd, a, &av), 0);
            struct blend_stats_agent v = a_get(r->s, a, t);
            int32_t active = 0;
            for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
                active += av.active[ch];
            }
            assert_int_equal(v.presence, av.presence);
            assert_int_equal(v.connected_now, active);
            assert_int_equal(v.logged_in_ms, v.busy_ms + v.ready_idle_ms + v.not_ready_ms);
            assert_true(v.occupancy <= 1.0 && v.utilization <= 1.0);
        }
        blend_stats_destroy(r->s);
        blend_acd_destroy(r->acd);
        blend_free(r);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

/* A transfer (docs/kpis.md §Transfers): answered and transferred in the queue left, a new
 * arrival in the target; the ENDED(is_transfer) and the new stay's QUEUED and direct OFFER of
 * the same step fold the same in either order. */
static void transfer_both_orders(void **state)
{
    for (int order = 0; order < 2; order++) {
        struct blend_stats *s = make(4, 4, 4);
        queued(s, 0, 1, Q1);
        answer(s, 1000, 1, 101, 1000);
        struct blend_acd_effect end = fx_of(BLEND_ACD_FX_ENDED, 5000, 1, 101, Q1);
        end.is_transfer = 1;
        end.to_queue = Q2;
        struct blend_acd_effect q2 = fx_of(BLEND_ACD_FX_QUEUED, 5000, 1, 0, Q2);
        struct blend_acd_effect of = fx_of(BLEND_ACD_FX_OFFER, 5000, 1, 102, Q2);
        if (order == 0) {
            feed(s, &end);
            feed(s, &q2);
            feed(s, &of);
        } else {
            feed(s, &q2);
            feed(s, &of);
            feed(s, &end);
        }
        struct blend_stats_queue a = q_get(s, Q1, 5000), b = q_get(s, Q2, 5500);
        assert_int_equal(a.connected_now + a.waiting + a.offered_now, 0);
        assert_int_equal(b.offered_now, 1);
        assert_int_equal(b.longest_wait_ms, 500); /* the new stay's wait, from the transfer */
        connected(s, 6000, 1, 102, 1000);
        ended(s, 9000, 1, 102);
        a = q_get(s, Q1, 9000);
        b = q_get(s, Q2, 9000);
        assert_int_equal(a.window.arrivals, 1);
        assert_int_equal(a.window.answered, 1);
        assert_int_equal(a.window.offered, 1);
        assert_int_equal(a.window.transferred, 1);
        assert_int_equal(a.window.handled, 1);
        assert_int_equal(a.window.talk_ms, 4000);
        assert_int_equal(b.window.arrivals, 1);
        assert_int_equal(b.window.overflowed_in, 0);
        assert_int_equal(b.window.answered, 1);
        assert_int_equal(b.window.wait_answered_ms, 1000);
        assert_int_equal(b.window.transferred, 0);
        assert_int_equal(b.window.handled, 1);
        assert_int_equal(b.window.talk_ms, 3000);
        assert_int_equal(b.connected_now, 0);
        blend_stats_destroy(s);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_contacts_every_sl_definition),
        cmocka_unit_test(abandon_rate_denominator_and_callbacks),
        cmocka_unit_test(agent_day_aht_occupancy),
        cmocka_unit_test(multichannel_agent),
        cmocka_unit_test(windows_and_last_hour),
        cmocka_unit_test(overflow_both_orders),
        cmocka_unit_test(moves),
        cmocka_unit_test(transfer_both_orders),
        cmocka_unit_test(live_offers_ring_all),
        cmocka_unit_test(edges),
        cmocka_unit_test(refusals_change_nothing),
        cmocka_unit_test(reasons_beyond_the_limit),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(randomized_totals),
        cmocka_unit_test(fed_by_the_acd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
