/*
 * Stats: queue and agent figures folded from the routing engine's observable effects.
 *
 *   blend_stats_feed(stats, &effect)   for every effect of blend_acd_step, in order
 *
 * The fold is pure and deterministic like the engine that feeds it: no clock (time is each
 * effect's at_ms, or the now_ms a query passes), no I/O, and no allocation after
 * blend_stats_create() (every table is sized there from the limits). The same effects in give
 * the same figures out. Every figure follows a definition of docs/kpis.md, which names the
 * /work/shared/KPIS.md default and the variants implemented.
 *
 * Windows. A window ("today", "this shift") is opened by the caller with
 * blend_stats_reset_window(); the first window opens at creation with start 0. Counts and
 * contact durations (talk, ACW, wait) belong to the window in which the contact's outcome or the
 * duration's end happens; time-in-state figures of agents (logged-in, busy, ready idle, not
 * ready) are cut at the window start, so they only hold time inside the window. Independently of
 * windows, each queue keeps the same figures for the last hour in one-minute buckets
 * (blend_stats_queue_last_hour).
 *
 * Not computable from effects alone, so not here: how many agents are eligible, ready or busy
 * for a queue (that needs skills and capacities: use the engine's views).
 *
 * Invariants (checked by blend_stats_check): per queue, the live counts equal the tracked
 * contacts in each phase; per agent, the live connected count equals the tracked connected
 * contacts naming it; every window figure is >= 0; logged_in = busy + ready_idle + not_ready.
 */
#ifndef BLEND_ENGINE_STATS_STATS_H
#define BLEND_ENGINE_STATS_STATS_H

#include "base/error.h"
#include "base/limits.h"
#include "engine/acd/acd.h"

#include <stddef.h>
#include <stdint.h>

/* ---- Constants --------------------------------------------------------------------------- */
#define BLEND_STATS_REASON_OTHER "(other)"
/* The last-hour figures: 60 buckets of one minute (the current minute and the 59 before). */
#define BLEND_STATS_BUCKET_MS 60000
#define BLEND_STATS_BUCKETS 60

struct blend_stats_limits {
    size_t queues_max;   /* 1..BLEND_STATS_QUEUES_MAX: queues tracked (configured or seen) */
    size_t agents_max;   /* 1..BLEND_STATS_AGENTS_MAX: agents tracked (seen in effects) */
    size_t contacts_max; /* 1..BLEND_STATS_CONTACTS_MAX: contacts in the ACD at once */
};

/* Counts and sums of one queue over a window or the last hour (docs/kpis.md §Queue). */
struct blend_stats_queue_figures {
    int64_t arrivals;             /* first joins of contacts in this queue */
    int64_t overflowed_in;        /* contacts that joined this queue by overflow from another */
    int64_t offered;              /* contacts whose ACD stay ended in this queue, short abandons
                                     excluded: answered + abandoned + callbacks_requested +
                                     overflowed_voicemail */
    int64_t answered;             /* connected (callbacks excluded: see callbacks_answered) */
    int64_t abandoned;            /* customer left after the short-abandon threshold */
    int64_t short_abandoned;      /* customer left within the threshold */
    int64_t answered_within;      /* answered with wait <= the SL target */
    int64_t abandoned_within;     /* abandoned (not short) with wait <= the SL target */
    int64_t wait_answered_ms;     /* sum of the waits of answered contacts */
    int64_t callbacks_requested;  /* contacts turned into callbacks (request or overflow) */
    int64_t callbacks_answered;   /* callbacks connected to an agent */
    int64_t overflowed_out;       /* left this queue by overflow (another queue or voicemail) */
    int64_t overflowed_voicemail; /* of which to voicemail */
    int64_t overflowed_callback;  /* max wait turned the contact into a callback (in place) */
    int64_t transferred;          /* connected contacts transferred out of this queue by their
                                     agent (also in answered and handled here; the new stay is
                                     an arrival of the target queue) */
    int64_t handled;              /* connected contacts that ended (callbacks included) */
    int64_t talk_ms;              /* their talk time */
    int64_t hold_ms;              /* always 0: the engine has no hold yet */
    int64_t acw_ms;               /* wrap-up time that followed them */
    /* Ratios, 0 when their denominator is 0 (the counts above tell that case apart). */
    double service_level;                   /* KPIS.md default */
    double service_level_ignore_abandons;   /* variant sl_ignore_abandons */
    double service_level_abandons_positive; /* variant sl_abandons_positive */
    double asa_ms;
    double aht_ms;
    double abandon_rate;
};

struct blend_stats_queue {
    int64_t id;
    int64_t short_abandon_ms; /* configuration in force */
    int64_t sl_target_ms;
    double sl_pct;
    /* Live (at now_ms). */
    int32_t waiting;           /* contacts waiting without an outstanding offer (no callbacks) */
    int32_t callbacks_waiting; /* callbacks waiting without an outstanding offer */
    int32_t offered_now;       /* contacts with at least one outstanding offer */
    int32_t connected_now;     /* contacts connected to an agent */
    int64_t longest_wait_ms;   /* oldest age among waiting or offered non-callback contacts */
    /* Window. */
    int64_t window_start_ms;
    struct blend_stats_queue_figures window;
};

struct blend_stats_reason_time {
    char reason[BLEND_ACD_REASON_BYTES];
    int64_t ms;
};

/* One agent over the current window (docs/kpis.md §Agent). */
struct blend_stats_agent {
    int64_t id;
    enum blend_acd_presence presence; /* live */
    int32_t connected_now;            /* live: contacts connected */
    int64_t window_start_ms;
    int64_t handled; /* contacts ended */
    int64_t talk_ms; /* per contact: concurrent chats each count their own */
    int64_t hold_ms; /* always 0 for now */
    int64_t acw_ms;
    int64_t handle_ms; /* talk + hold + ACW */
    int64_t handled_by_channel[BLEND_CH_COUNT];
    int64_t handle_ms_by_channel[BLEND_CH_COUNT];
    /* Time in state, cut to the window and counted up to now_ms. Partition of logged-in time:
     * logged_in = busy + ready_idle + not_ready. */
    int64_t logged_in_ms;
    int64_t busy_ms;       /* at least one contact connected, or in wrap-up */
    int64_t ready_idle_ms; /* ready with no contact connected (available idle) */
    int64_t not_ready_ms;  /* not ready with no contact connected */
    size_t not_ready_reasons_count;
    struct blend_stats_reason_time not_ready_reasons[BLEND_STATS_REASONS_MAX + 1];
    double aht_ms;      /* handle_ms / handled */
    double occupancy;   /* busy / (busy + ready_idle) */
    double utilization; /* busy / logged_in */
};

struct blend_stats;

/* Returns 0 and an owned fold in *out, BLEND_EINVAL (a limit is 0 or above its maximum) or
 * BLEND_ENOMEM. */
BLEND_MUST_USE int blend_stats_create(const struct blend_stats_limits *limits,
                                      struct blend_stats **out);
void blend_stats_destroy(struct blend_stats *stats);

/*
 * Sets a queue's thresholds (registering the queue if new): the short-abandon threshold
 * (0 disables short abandons), the service-level target T and the target percentage (0..100,
 * reported back, not used in any figure). They apply to outcomes counted from now on.
 * Returns 0, BLEND_EINVAL (id <= 0, a negative time, pct outside 0..100) or BLEND_ELIMIT.
 */
BLEND_MUST_USE int blend_stats_queue_config(struct blend_stats *stats, int64_t queue_id,
                                            int64_t short_abandon_ms, int64_t sl_target_ms,
                                            double sl_pct);

/*
 * Folds one effect (effects are fed in the order the engine produced them; TIMER_SET,
 * TIMER_CANCEL and RELAXED change nothing). Returns 0, or, with nothing changed:
 *   BLEND_EINVAL  at_ms earlier than a previous effect or window start, an id <= 0 where one
 *                 is needed, a channel or presence out of range;
 *   BLEND_ENOENT  the effect names a contact this fold never saw join (fed mid-stream);
 *   BLEND_ESTATE  impossible for the contact's phase (connected twice, abandon after connect);
 *   BLEND_ELIMIT  a table is full (queues, agents or contacts).
 * Offer bookkeeping (OFFER_TIMEOUT, OFFER_REJECTED, WITHDRAWN) about a contact already gone
 * returns 0: the engine may list a withdrawal after the abandon that caused it.
 */
BLEND_MUST_USE int blend_stats_feed(struct blend_stats *stats, const struct blend_acd_effect *fx);

/* Closes the current window and opens a new one at now_ms (>= the last effect's at_ms, else
 * BLEND_EINVAL). Window figures restart from zero; live state and last-hour figures stay. */
BLEND_MUST_USE int blend_stats_reset_window(struct blend_stats *stats, int64_t now_ms);

/* Queries. now_ms >= the last effect's at_ms (else BLEND_EINVAL); BLEND_ENOENT for an unknown
 * id. Results are written only on success. */
BLEND_MUST_USE int blend_stats_queue(const struct blend_stats *stats, int64_t queue_id,
                                     int64_t now_ms, struct blend_stats_queue *out);
BLEND_MUST_USE int blend_stats_queue_last_hour(const struct blend_stats *stats, int64_t queue_id,
                                               int64_t now_ms,
                                               struct blend_stats_queue_figures *out);
BLEND_MUST_USE int blend_stats_agent(const struct blend_stats *stats, int64_t agent_id,
                                     int64_t now_ms, struct blend_stats_agent *out);

/* Asserts the invariants listed above (tests call it after every feed). */
void blend_stats_check(const struct blend_stats *stats);

#endif
