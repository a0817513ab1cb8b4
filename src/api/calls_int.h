/*
 * Calls' shared state inside the api module: calls.c (the B2BUA's server side: arrival, routing,
 * transfers, parties, recording) and calls_ivr.c (flows running on calls: prompts, keys, queue
 * announcements, callbacks, voicemail, surveys) work on the same table of live calls. A struct
 * call lives in an array that moves (growth, removal): never keep a pointer to one across a
 * loop turn; look it up again by the telephony thread's call id.
 */
#ifndef BLEND_API_CALLS_INT_H
#define BLEND_API_CALLS_INT_H

#include "api/app_int.h"
#include "sip/sip.h"

/* Ring timeout handed to the telephony thread as a safety net only: the engine's offer
 * timeout withdraws the offer first. */
#define CALLS_RING_SAFETY_S 300

/* How long an internal call (an agent's phone dialling another agent's extension) rings the
 * called agent's phones before the caller gets 408: nobody routes it, so nothing else
 * withdraws it; long enough for a colleague to reach the desk, short of the SIP timers. */
#define CALLS_INTERNAL_RING_S 45

/* A call placed from an agent's phone that matched no entry point (calls.c §Calls from agents'
 * phones). */
enum call_phone {
    CALL_PHONE_INTERNAL = 1, /* to another agent's extension: no interaction, both engaged */
    CALL_PHONE_OUTBOUND,     /* to a number through the trunk: an outbound interaction */
    CALL_PHONE_CONSULT,      /* to a number while on a customer call: a consultation, no
                                interaction (the phone may transfer its customer to it) */
};

enum call_state {
    CALL_ARRIVING = 1, /* interaction being created */
    CALL_ROUTED,       /* in the engine (waiting, offered or connected) */
    CALL_GONE,         /* the customer left before the interaction existed */
    CALL_IVR,          /* in a flow, not (or no longer) in a queue: no interaction routed */
};

struct call {
    uint64_t call;
    int64_t interaction; /* 0 until created */
    enum call_state state;
    int connected;      /* the engine connected it */
    int external;       /* transferred to an external number: out of routing, still on SIP */
    int closing;        /* hung up by Blend after routing ended it: CALL_ENDED closes it */
    int rec_paused;     /* recording paused for card capture: digits are masked */
    int outbound;       /* click-to-call: not routed; the agent is engaged in routing */
    int customer_first; /* click-to-call dialling the number before the agent */
    int answered_legs;  /* click-to-call: legs answered (2 = talking) */
    int64_t agent;      /* connected agent */
    /* The call's extra party (docs/voice.md §A third party): party_mode 0 = none. */
    int party_mode;    /* enum blend_sip_party_mode */
    int party_up;      /* it answered */
    int party_engaged; /* the routing engine counts the party's agent busy with it */
    int handover;      /* an attended transfer is being applied to routing */
    int64_t party_agent;
    char party_number[BLEND_SIP_EXTENSION_BYTES_MAX];
    char caller[BLEND_SIP_EXTENSION_BYTES_MAX];
    char dialled[BLEND_SIP_EXTENSION_BYTES_MAX];
    /* Flows (calls_ivr.c). */
    struct blend__ivr_call *ivr; /* the flow running on the call; NULL when none (or ended) */
    int callback_kept;           /* the caller asked for a callback and left: not an abandon */
    int callback_dial;           /* Blend dials a callback: the agent's answer is the accept */
    int voicemail;               /* a voicemail is being recorded: its end makes an interaction */
    char language[16];           /* the caller's language, once a flow chose it */
    /* Calls from agents' phones: phone 0 = none, else enum call_phone. */
    int phone;
    int64_t phone_from;     /* the calling agent (A) */
    int64_t phone_to;       /* internal: the agent called (B) */
    int phone_from_engaged; /* routing counts A busy with this call (from the INVITE) */
    int phone_to_engaged;   /* routing counts B busy with it (from B's answer) */
    int phone_answered;     /* B (internal) or the number (outbound) answered */
    /* Outbound: how the call ended while its interaction was still being created. */
    int phone_end_code;
    char phone_end_leg[12];
    char phone_end_cause[16];
};

struct blend_calls {
    struct blend_app *app;
    struct blend_sip *sip;
    char recordings_dir[4200];
    /* Live calls; few enough that a scan is cheaper than an index (one per waiting or
     * connected caller). */
    struct call *calls;
    size_t count, cap;
    struct blend__ivr *ivr; /* flows, prompts and webhooks (calls_ivr.c); NULL without */
};

struct call *blend__calls_by_call(struct blend_calls *c, uint64_t id);
struct call *blend__calls_by_interaction(struct blend_calls *c, int64_t id);
/* A new zeroed slot for call id (BLEND_ENOMEM). */
int blend__calls_add(struct blend_calls *c, uint64_t id, struct call **out);
void blend__calls_forget(struct blend_calls *c, struct call *k);
/* An event about the interaction ("call.*", "ivr.*"), subject interactions/<id>. */
void blend__calls_record_event(struct blend_calls *c, const char *type, int64_t interaction,
                               json_t *data);
void blend__calls_step(struct blend_calls *c, enum blend_acd_event_type type, int64_t contact,
                       int64_t agent);
/* A finished recording (call or voicemail) becomes a recordings row of the interaction. */
void blend__calls_recording_row(struct blend_calls *c, int64_t interaction,
                                const struct blend_sip_event *ev);
/* Puts the call in its queue as a new interaction (body: channel, queue, ... as for POST
 * /interactions); the call then follows routing (offers ring agents). */
int blend__calls_arrive(struct blend_calls *c, struct call *k, json_t *body);

/* Sets the interaction's kind ("callback", "voicemail"). */
void blend__calls_mark_kind(struct blend_calls *c, int64_t interaction, const char *kind);
/* Voicemails shorter than this are hang-ups, not messages: no interaction is made. */
#define BLEND__VOICEMAIL_MS_MIN 1000
/* A voicemail recorded on call k ended (RECORDING_ENDED): unless it is too short, a new
 * interaction of kind "voicemail" in queue `queue` with the recording attached. */
void blend__calls_voicemail(struct blend_calls *c, const struct call *k, const char *queue,
                            const struct blend_sip_event *ev);

/* ---- Flows on calls (calls_ivr.c) ---------------------------------------------------------- */
struct blend__ivr;
struct blend__ivr_call;
int blend__ivr_create(struct blend_calls *c, struct blend__ivr **out);
void blend__ivr_destroy(struct blend__ivr *ivr);
/* An incoming call for an entry point with a flow: answers it and runs the flow. 0 when the flow
 * took the call; an error (no such flow, invalid) leaves the call to the caller. */
int blend__ivr_start(struct blend_calls *c, struct call *k, const char *flow, const char *calendar,
                     const char *queue);
/* A SIP event of a call with a flow; returns 1 when the flow consumed it. */
int blend__ivr_on_sip(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev);
/* Routing connected the call to an agent. */
void blend__ivr_on_connected(struct blend_calls *c, struct call *k);
/* Routing moved the call out of its queue (overflow): 1 when the flow takes it on. */
int blend__ivr_on_overflow(struct blend_calls *c, struct call *k);
/* 1 while the call's flow has not ended. */
int blend__ivr_is_running(const struct call *k);
/* The call is over: the session ends, and "ivr.exit" with `reason` is recorded when it had not
 * ended yet (reason NULL: nothing is recorded, at shutdown). */
void blend__ivr_stop(struct blend_calls *c, struct call *k, const char *reason);

#endif
