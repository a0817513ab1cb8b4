/*
 * ACD: the routing engine. Pure and deterministic: it is fed one event at a time, each stamped
 * with monotonic time, and answers with effects (plain data). It never reads a clock, performs
 * I/O or allocates after blend_acd_create(): every table is sized from the limits given there.
 * The rules it implements are documented in docs/routing.md; this header is the contract that
 * both the fast engine (acd.c and friends) and the reference model (tests/sim/ref_acd.c, a plain
 * slow implementation of the same rules) follow, decision for decision.
 *
 * Identifiers are positive 64-bit integers chosen by the caller (store ids, or sim ids).
 * Skills are small integers 1..BLEND_ACD_SKILLS_MAX chosen by the caller.
 */
#ifndef BLEND_ENGINE_ACD_ACD_H
#define BLEND_ENGINE_ACD_ACD_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

/* ---- Limits (the engine asserts none is exceeded; config may lower them) ---------------- */
#define BLEND_ACD_SKILLS_MAX 1024         /* skill ids are 1..this */
#define BLEND_ACD_QUEUE_SKILLS_MAX 8      /* requirements of one queue or relaxation step */
#define BLEND_ACD_AGENT_SKILLS_MAX 32     /* skills one agent holds */
#define BLEND_ACD_RELAX_STEPS_MAX 8       /* relaxation steps of one queue */
#define BLEND_ACD_DECLINED_MAX 8          /* agents remembered as having declined one contact */
#define BLEND_ACD_HISTORY_MAX 256         /* completed contacts remembered per agent (1 h window) */
#define BLEND_ACD_EFFECTS_MAX 4096        /* effects of one step (ring-all to many agents) */
#define BLEND_ACD_REASON_BYTES 32         /* not-ready reason, NUL included */

enum blend_channel {
    BLEND_CH_VOICE = 0,
    BLEND_CH_CHAT,
    BLEND_CH_EMAIL,
    BLEND_CH_SMS,
    BLEND_CH_SOCIAL,
    BLEND_CH_COUNT
};

enum blend_acd_strategy {
    BLEND_STRAT_LONGEST_IDLE = 0,
    BLEND_STRAT_MOST_SKILLED,
    BLEND_STRAT_LEAST_OCCUPIED,
    BLEND_STRAT_FEWEST_CONTACTS,
    BLEND_STRAT_ROUND_ROBIN,
    BLEND_STRAT_RING_ALL,
    BLEND_STRAT_STICKY,
};

enum blend_acd_overflow {
    BLEND_OVERFLOW_NONE = 0,
    BLEND_OVERFLOW_QUEUE,     /* move to overflow_queue, keeping age */
    BLEND_OVERFLOW_VOICEMAIL, /* leave the ACD: the flow takes a voicemail */
    BLEND_OVERFLOW_CALLBACK,  /* becomes a callback in the same queue, keeping its place */
};

enum blend_acd_presence {
    BLEND_PRESENCE_LOGGED_OUT = 0,
    BLEND_PRESENCE_READY,
    BLEND_PRESENCE_NOT_READY,
    BLEND_PRESENCE_WRAP_UP,
};

struct blend_acd_skill_req {
    uint16_t skill;         /* 1..BLEND_ACD_SKILLS_MAX */
    uint8_t min_proficiency; /* 1..10 */
};

struct blend_acd_relax_step {
    int64_t after_ms; /* age at which the step applies; steps strictly increasing */
    /* When has_skills: the requirement becomes exactly `skills` (lower, drop or add skills). */
    int has_skills;
    uint8_t skills_count;
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
    /* When non-zero: agents meeting that queue's BASE requirement become eligible too; never
     * the queue itself (QUEUE_SET answers BLEND_EINVAL). */
    int64_t add_queue_agents;
};

struct blend_acd_queue_config {
    int64_t id;
    unsigned channels;          /* bit set of 1u << enum blend_channel */
    uint8_t skills_count;
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
    enum blend_acd_strategy strategy;
    enum blend_acd_strategy sticky_fallback; /* STICKY only; not RING_ALL or STICKY */
    int64_t sticky_ms;          /* STICKY: how long a contact waits for its last agent */
    int32_t priority;           /* base priority, 0..1000 */
    int32_t acceleration_per_min; /* priority points gained per minute of age, 0..1000 */
    int32_t max_priority;       /* cap of effective priority; 0 = no cap */
    int64_t wrapup_ms;          /* after-contact work; 0 = none */
    int64_t offer_timeout_ms;   /* > 0 */
    int32_t max_no_answer;      /* consecutive offer timeouts before not-ready "missed"; 0 = off */
    int64_t reoffer_delay_ms;   /* an agent who declined a contact is not offered it again
                                   for this long */
    int64_t max_wait_ms;        /* 0 = no limit */
    enum blend_acd_overflow overflow;
    int64_t overflow_queue;     /* BLEND_OVERFLOW_QUEUE target */
    uint8_t relax_count;
    struct blend_acd_relax_step relax[BLEND_ACD_RELAX_STEPS_MAX];
};

struct blend_acd_agent_config {
    int64_t id;
    uint8_t skills_count;
    struct { uint16_t skill; uint8_t proficiency; } skills[BLEND_ACD_AGENT_SKILLS_MAX];
    uint8_t capacity[BLEND_CH_COUNT]; /* 0 = does not take that channel */
    /* A voice contact offered or connected blocks every other channel; an outstanding offer on
     * another channel blocks voice. */
    int voice_exclusive;
};

enum blend_acd_event_type {
    BLEND_ACD_EV_QUEUE_SET = 1, /* create or replace a queue (waiting contacts keep age) */
    BLEND_ACD_EV_QUEUE_REMOVE,  /* only when no contact is in it (else BLEND_ESTATE) */
    BLEND_ACD_EV_AGENT_SET,     /* create or replace an agent's skills and capacities */
    BLEND_ACD_EV_AGENT_REMOVE,  /* only when logged out */
    BLEND_ACD_EV_AGENT_LOGIN,   /* -> not-ready "login" */
    BLEND_ACD_EV_AGENT_READY,
    BLEND_ACD_EV_AGENT_NOT_READY,  /* reason */
    BLEND_ACD_EV_AGENT_LOGOUT,     /* refused (ESTATE) while the agent has connected contacts */
    BLEND_ACD_EV_WRAPUP_END,       /* agent ends wrap-up early */
    BLEND_ACD_EV_CONTACT_ARRIVE,   /* contact, queue, channel, priority, customer, skills */
    BLEND_ACD_EV_OFFER_ACCEPT,     /* contact, agent */
    BLEND_ACD_EV_OFFER_REJECT,     /* contact, agent */
    BLEND_ACD_EV_CONTACT_END,      /* a connected contact ends: agent goes to wrap-up */
    BLEND_ACD_EV_CONTACT_ABANDON,  /* the customer leaves while waiting or offered */
    BLEND_ACD_EV_CALLBACK_REQUEST, /* a waiting contact becomes a callback, keeping its place */
    BLEND_ACD_EV_CONTACT_PRIORITY, /* set a waiting contact's own priority (supervisor) */
    BLEND_ACD_EV_TIMER,            /* a timer the engine armed is due (timer id) */
    /* Rebuilding the engine after a server restart (docs/routing.md §Restoring state): */
    BLEND_ACD_EV_AGENT_RESTORE,   /* a logged-out agent back in its stored presence */
    BLEND_ACD_EV_CONTACT_RESTORE, /* a contact back waiting (its true age) or connected */
    /* A connected contact handed on by its agent (docs/routing.md §Transfers): */
    BLEND_ACD_EV_CONTACT_TRANSFER, /* contact, agent, to_queue or to_agent */
    /* Calls the engine did not route (docs/routing.md §Engaged agents): */
    BLEND_ACD_EV_AGENT_ENGAGE,  /* engage: agent, channel */
    BLEND_ACD_EV_AGENT_RELEASE, /* engage: agent, channel */
    /* A waiting or offered contact reassigned by a supervisor (docs/routing.md §Transfers): */
    BLEND_ACD_EV_CONTACT_MOVE, /* contact, to_queue or to_agent */
};

/*
 * AGENT_ENGAGE: the agent takes part in something the engine does not route — a click-to-call,
 * a consultation or conference, monitoring — which holds one unit of their capacity on the
 * channel exactly as a connected contact does (availability, voice exclusivity, logout and
 * capacity changes refused while it lasts), whatever their presence, which does not change.
 * The agent must be logged in (else BLEND_ESTATE) with active + engaged < capacity on the
 * channel (else BLEND_ESTATE); offers the agent holds that no longer fit (over capacity, or
 * another channel's beside a voice engagement of a voice-exclusive agent) are withdrawn
 * (`unavailable`). AGENT_RELEASE gives the unit back (BLEND_ESTATE when none is held): no
 * wrap-up, no handled count; a ready agent is idle from now on that channel (longest-idle)
 * and decisions follow. Unknown agent, bad channel: BLEND_EINVAL. Engagements are not restored
 * after a restart (the calls are gone).
 */
struct blend_acd_engage {
    int64_t agent;
    enum blend_channel channel;
};

/*
 * CONTACT_TRANSFER (blind): the agent's part of the contact ends as at CONTACT_END (handle time
 * recorded, wrap-up of the contact's current queue) with ENDED marked is_transfer, then:
 *  - to_queue: the contact joins that queue (may be its current one) as a new stay: QUEUED, a
 *    new first join (rank, SLA, wait), step 0, its own priority kept; decisions follow.
 *  - to_agent: the contact starts a new stay in its current queue (QUEUED) reserved for that
 *    agent: offered to them at once when available on the channel (any skills; the queue's
 *    offer timeout), else at once an ordinary waiting contact. While the direct offer is
 *    outstanding nobody else is offered the contact; accept connects; reject, timeout or
 *    withdrawal (unavailable) make it an ordinary waiting contact of that stay.
 * Exactly one of to_queue / to_agent is non-zero. BLEND_EINVAL: unknown contact, agent or
 * target, both or neither target, a target queue without the contact's channel, to_agent ==
 * agent. BLEND_ESTATE: the contact is not connected to `agent`, or to_agent is logged out.
 * A transferred contact is never a callback afterwards and never bound to a sticky agent.
 */
struct blend_acd_transfer {
    int64_t contact;
    int64_t agent;    /* the agent connected to it */
    int64_t to_queue; /* 0, or the queue it joins */
    int64_t to_agent; /* 0, or the agent it is offered to */
    /* With to_agent: the target already talks to the customer (a consultation: the target
     * holds an engagement on the contact's channel, else BLEND_ESTATE): instead of an offer the
     * engagement becomes the contact, connected at once (QUEUED then CONNECTED, wait 0, in the
     * contact's current queue; attended transfer). */
    int connect;
};

/*
 * CONTACT_MOVE: a contact that is not connected (WAITING or OFFERED) is reassigned, typically by a
 * supervisor. Its outstanding offers are withdrawn first (WITHDRAWN, reason
 * BLEND_WITHDRAW_MOVED; those agents are free again, as after any withdrawal; not a decline),
 * then the contact starts a new stay exactly as after CONTACT_TRANSFER (whose rules apply):
 *  - to_queue: it leaves its queue and joins to_queue (its own queue too: the stay restarts
 *    behind the contacts already waiting) as a new stay: QUEUED (marked is_move), a new first
 *    join (rank, reported wait, SLA and aging from now), step 0, relaxation, max wait and
 *    overflow counting from the move; its own priority, customer and own skills kept.
 *  - to_agent: a new stay in its current queue (QUEUED, is_move) reserved for that agent: offered
 *    to them at once when available on the channel (any skills; the queue's offer timeout; a
 *    direct offer, nobody else offered it meanwhile), else at once an ordinary waiting contact
 *    of that stay; reject, timeout or withdrawal make it one too.
 * Decline holds of the previous stay are dropped (the only holds are those of the new stay), a
 * max wait reached while offered is forgotten, a sticky binding is dropped and none is made. A
 * callback stays a callback (its offers say is_callback; it has no max wait).
 * Exactly one of to_queue / to_agent is non-zero. BLEND_EINVAL: unknown contact, queue or
 * agent, both or neither target, a target queue without the contact's channel. BLEND_ESTATE: the
 * contact is connected (CONTACT_TRANSFER's business), or to_agent is logged out. Decisions
 * follow as after any state change.
 */
struct blend_acd_move {
    int64_t contact;
    int64_t to_queue; /* 0, or the queue it joins */
    int64_t to_agent; /* 0, or the agent it is offered to */
};

/*
 * AGENT_RESTORE: only for an existing, logged-out agent (else BLEND_EINVAL / BLEND_ESTATE). As a
 * login, the agent's counts restart (contacts handled, consecutive timeouts). Emits AGENT_STATE
 * with `presence` and arms the WRAPUP timer for a wrap-up; a WRAP_UP whose end has come
 * (wrapup_until_ms <= now) is restored as READY since now, exactly as its timer firing now
 * would leave the agent (one AGENT_STATE: READY). Decisions follow as after any state change.
 */
struct blend_acd_agent_restore {
    int64_t agent;
    enum blend_acd_presence presence;    /* READY, NOT_READY or WRAP_UP */
    char reason[BLEND_ACD_REASON_BYTES]; /* NOT_READY: its reason (NUL-terminated) */
    int64_t since_ms;        /* entered that presence, <= now (may be negative); becomes the
                                free_since of every channel (longest-idle) */
    int64_t wrapup_until_ms; /* WRAP_UP only: when wrap-up ends */
};

/*
 * CONTACT_RESTORE: the fields of ARRIVE plus the contact's stored history. agent == 0: the
 * contact waits with its true age: rank, relaxation step (one RELAXED naming the step in force
 * when > 0), relaxation and max-wait timers all count from enqueued_ms, and a max wait already
 * reached overflows at once; it emits QUEUED like an arrival. agent != 0: the contact is
 * connected to that agent, who must be logged in with active + offered < capacity on the
 * channel (and, voice-exclusive with a voice contact, no offer on another channel), else
 * BLEND_ESTATE; no offer is made and nothing observable is emitted. Sticky memory is not
 * restored and a restored contact is never bound to a sticky agent.
 */
struct blend_acd_contact_restore {
    int64_t contact;
    int64_t queue;
    enum blend_channel channel;
    int32_t priority;    /* own priority, 0..1000 */
    int64_t customer;    /* 0 = unknown */
    int64_t enqueued_ms; /* first join, <= now (may be negative) */
    int is_callback;     /* 0 or 1 */
    int64_t agent;       /* 0 = waiting; else the connected agent */
    /* The contact's own required skills, as at ARRIVE. */
    uint8_t skills_count;
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
};

struct blend_acd_event {
    enum blend_acd_event_type type;
    int64_t now_ms; /* monotonic, non-decreasing across steps */
    union {
        struct blend_acd_queue_config queue;   /* QUEUE_SET */
        struct blend_acd_agent_config agent;   /* AGENT_SET */
        int64_t id;                            /* QUEUE_REMOVE, AGENT_REMOVE/LOGIN/READY/LOGOUT/
                                                  WRAPUP_END: the agent or queue id */
        struct {
            int64_t agent;
            char reason[BLEND_ACD_REASON_BYTES];
        } not_ready;
        struct {
            int64_t contact;
            int64_t queue;
            enum blend_channel channel;
            int32_t priority; /* the contact's own priority, added to the queue's, 0..1000 */
            int64_t customer; /* for sticky routing; 0 = unknown */
            /* The contact's own required skills (docs/routing.md §Queues and eligibility):
             * combined with its queue's current requirement (the higher minimum of a skill in
             * both), never relaxed, also required of agents admitted by add_queue_agents, kept
             * through overflow, transfer to a queue and callback (a transfer's direct offer to
             * an agent ignores them, as it ignores the queue's). most-skilled sums over the
             * combined requirement. Sticky: bound to the customer's last agent only when that
             * agent meets them at the join, else no sticky phase. Position and EWT count the
             * contact as any other of its queue. Skill ids 1..BLEND_ACD_SKILLS_MAX, min 1..10,
             * no skill twice, at most BLEND_ACD_QUEUE_SKILLS_MAX (else BLEND_EINVAL); 0 skills:
             * the queue's requirement alone, exactly as before. */
            uint8_t skills_count;
            struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
        } arrive;
        struct {
            int64_t contact;
            int64_t agent; /* OFFER_ACCEPT / OFFER_REJECT */
            int32_t priority; /* CONTACT_PRIORITY */
        } contact;
        uint64_t timer;
        struct blend_acd_agent_restore agent_restore;     /* AGENT_RESTORE */
        struct blend_acd_contact_restore contact_restore; /* CONTACT_RESTORE */
        struct blend_acd_transfer transfer;               /* CONTACT_TRANSFER */
        struct blend_acd_engage engage;                   /* AGENT_ENGAGE, AGENT_RELEASE */
        struct blend_acd_move move;                       /* CONTACT_MOVE */
    } u;
};

enum blend_acd_effect_type {
    BLEND_ACD_FX_AGENT_STATE = 1, /* agent, presence, reason */
    BLEND_ACD_FX_QUEUED,      /* contact joined queue (also after overflow to another queue) */
    BLEND_ACD_FX_OFFER,       /* contact offered to agent (ring-all: one per agent) */
    BLEND_ACD_FX_OFFER_TIMEOUT, /* agent did not answer in time; contact back in queue */
    BLEND_ACD_FX_OFFER_REJECTED, /* agent rejected; contact back in queue */
    BLEND_ACD_FX_WITHDRAWN,   /* an offer withdrawn: another agent took it (ring-all), the
                                 customer left, the agent went unavailable, or the contact
                                 was moved */
    BLEND_ACD_FX_CONNECTED,   /* contact connected to agent */
    BLEND_ACD_FX_ABANDONED,   /* customer left before connecting */
    BLEND_ACD_FX_ENDED,       /* connected contact ended (is_transfer: the agent's part ended
                                 by a transfer; the contact goes on, to_queue / to_agent) */
    BLEND_ACD_FX_RELAXED,     /* contact's requirement moved to relaxation step `step` */
    BLEND_ACD_FX_OVERFLOW,    /* contact overflowed (to queue, voicemail or callback) */
    BLEND_ACD_FX_CALLBACK,    /* contact became a callback */
    BLEND_ACD_FX_TIMER_SET,   /* arm timer id at due_ms (replaces an armed timer of that id) */
    BLEND_ACD_FX_TIMER_CANCEL,
};

enum blend_acd_withdraw_reason {
    BLEND_WITHDRAW_TAKEN = 1,   /* ring-all: another agent accepted */
    BLEND_WITHDRAW_ABANDONED,   /* the customer left */
    BLEND_WITHDRAW_UNAVAILABLE, /* the agent went not-ready or logged out */
    BLEND_WITHDRAW_MOVED,       /* the contact was moved (CONTACT_MOVE) */
};

struct blend_acd_effect {
    enum blend_acd_effect_type type;
    int64_t at_ms;
    int64_t contact;
    int64_t agent;
    int64_t queue;
    enum blend_channel channel;
    enum blend_acd_presence presence;      /* AGENT_STATE */
    char reason[BLEND_ACD_REASON_BYTES];   /* AGENT_STATE not-ready reason */
    int is_callback;                       /* OFFER/CONNECTED of a callback */
    int step;                              /* RELAXED: 1-based step index */
    enum blend_acd_overflow overflow;      /* OVERFLOW */
    enum blend_acd_withdraw_reason withdraw; /* WITHDRAWN */
    int64_t wait_ms;    /* CONNECTED, ABANDONED: time since the contact first joined */
    int is_transfer;    /* ENDED by CONTACT_TRANSFER */
    int is_move;        /* QUEUED by CONTACT_MOVE: a new stay (first join now) */
    int64_t to_queue;   /* ENDED by transfer: the target queue, else 0 */
    int64_t to_agent;   /* ENDED by transfer: the target agent, else 0 */
    uint64_t timer;     /* TIMER_SET / TIMER_CANCEL */
    int64_t due_ms;     /* TIMER_SET */
};

/*
 * Timer ids name what they time, so every implementation arms the same ids:
 *   id = (kind << 56) | entity id   (entity ids are below 2^56)
 * An armed timer of the same id is replaced by a new TIMER_SET; a timer that fires when
 * nothing is due for it does nothing (the engine may leave stale timers armed).
 */
enum blend_acd_timer_kind {
    BLEND_ACD_TIMER_OFFER = 1,   /* contact: its outstanding offer(s) time out */
    BLEND_ACD_TIMER_RELAX = 2,   /* contact: its next relaxation step is due */
    BLEND_ACD_TIMER_MAX_WAIT = 3, /* contact: max wait reached */
    BLEND_ACD_TIMER_WRAPUP = 4,  /* agent: wrap-up ends */
    BLEND_ACD_TIMER_REOFFER = 5, /* contact: a decline hold (reoffer_delay) ends */
    BLEND_ACD_TIMER_STICKY = 6,  /* contact: the sticky window closes */
};
#define BLEND_ACD_TIMER_ID(kind, entity) (((uint64_t)(kind) << 56) | (uint64_t)(entity))
#define BLEND_ACD_TIMER_KIND(id) ((int)((id) >> 56))
#define BLEND_ACD_TIMER_ENTITY(id) ((int64_t)((id) & ((1ull << 56) - 1)))

/* The caller's buffer for one step's effects. */
struct blend_acd_effects {
    struct blend_acd_effect *items; /* caller-owned array of `cap` */
    size_t cap;                     /* BLEND_ACD_EFFECTS_MAX is always enough */
    size_t count;
};

struct blend_acd_limits {
    size_t agents_max;
    size_t queues_max;
    size_t contacts_max; /* contacts in the engine at once (waiting, offered, connected) */
    size_t customers_max; /* sticky memory: last agent per customer (least recently used out) */
};

struct blend_acd;

BLEND_MUST_USE int blend_acd_create(const struct blend_acd_limits *limits, struct blend_acd **out);
void blend_acd_destroy(struct blend_acd *acd);

/*
 * Applies one event. Returns 0 with fx filled, or (nothing changed, no effects):
 *   BLEND_EINVAL  malformed event (unknown id where one must exist, bad config values);
 *   BLEND_ESTATE  not allowed now (logout with connected contacts, accept of an offer that
 *                 is not outstanding, arrive of an existing contact id, ...);
 *   BLEND_ELIMIT  a table is full.
 */
BLEND_MUST_USE int blend_acd_step(struct blend_acd *acd, const struct blend_acd_event *ev,
                                  struct blend_acd_effects *fx);

/* Asserts every invariant of docs/routing.md §Invariants (debug builds and tests call it after
 * each step). */
void blend_acd_check(const struct blend_acd *acd);

/* ---- Views --------------------------------------------------------------------------------- */
struct blend_acd_agent_view {
    int64_t id;
    enum blend_acd_presence presence;
    char reason[BLEND_ACD_REASON_BYTES];
    int64_t since_ms;
    uint8_t active[BLEND_CH_COUNT];  /* connected contacts per channel */
    uint8_t offered[BLEND_CH_COUNT]; /* outstanding offers per channel */
    uint8_t engaged[BLEND_CH_COUNT]; /* engagements per channel (AGENT_ENGAGE) */
    int32_t handled;                 /* contacts ended since login */
};
int blend_acd_agent(const struct blend_acd *acd, int64_t id, struct blend_acd_agent_view *out);

enum blend_acd_contact_state {
    BLEND_CONTACT_WAITING = 1,
    BLEND_CONTACT_OFFERED,
    BLEND_CONTACT_CONNECTED,
};
struct blend_acd_contact_view {
    int64_t id;
    int64_t queue;
    enum blend_channel channel;
    enum blend_acd_contact_state state;
    int64_t agent;        /* CONNECTED (or the single offered agent) */
    int64_t enqueued_ms;  /* first join; kept through relaxation and overflow, new at a
                             transfer or a move */
    int32_t priority;     /* effective priority now */
    int step;             /* relaxation step in force, 0 = base */
    int is_callback;
    int32_t position;     /* 1-based rank among waiting contacts of its queue; never increases
                             for a contact whose own priority is unchanged */
    int64_t ewt_ms;       /* estimated wait, see docs/routing.md §EWT */
};
int blend_acd_contact(struct blend_acd *acd, int64_t id, struct blend_acd_contact_view *out);

/* The views of every waiting contact, as blend_acd_contact gives them, ordered by queue and
 * rank, in one pass (O(contacts + W log W + queues x agents) for W waiting): for adapters that
 * announce positions to many waiting customers at once. BLEND_ELIMIT when more than `cap` wait
 * (out is then unspecified). */
BLEND_MUST_USE int blend_acd_waiting(struct blend_acd *acd, struct blend_acd_contact_view *out,
                                     size_t cap, size_t *count);

/* Staffing of a queue: the logged-in agents who meet its base requirement and have capacity
 * on one of its channels, each counted once, by what they are doing (docs/kpis.md §Queue):
 * busy (a connected contact or an outstanding offer on any channel, whatever the presence),
 * else by presence. O(agents): for views, not for routing. */
struct blend_acd_queue_staff {
    int32_t logged_in; /* = ready + busy + not_ready + wrap_up */
    int32_t ready;     /* ready and idle: could take a contact now */
    int32_t busy;
    int32_t not_ready;
    int32_t wrap_up;
    /* EWT of a contact joining now at the back of the queue (position = waiting contacts + 1,
     * callbacks included), by the contact EWT formula of docs/routing.md §Position and EWT
     * (N there counts every agent meeting the requirement, whatever their channels). */
    int32_t waiting;
    int64_t ewt_ms;
};
int blend_acd_queue_staff(const struct blend_acd *acd, int64_t queue_id,
                          struct blend_acd_queue_staff *out);

#endif
