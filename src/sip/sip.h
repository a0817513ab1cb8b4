/*
 * The telephony thread and its SIP registrar (libre). blend_sip_start() spawns one thread that
 * runs libre's main loop; everything SIP happens on it. The host talks to it only through two
 * bounded queues: commands go in through libre's thread-safe mqueue (account changes, stop), and
 * events come out through a mutex-guarded ring the host drains with blend_sip_poll() after the
 * thread called its wakeup callback. The thread never reads the store: the host pushes the
 * accounts (extension, HA1, agent id) it must know.
 *
 * Calls: Blend is a B2BUA. An INVITE from a trunk (trunk_allow) or a registered phone (digest)
 * becomes a call with its own id; the host answers CALL_INCOMING with commands (reject, ringing,
 * offer to agents, withdraw, hangup); each agent leg is a separate dialog, and the thread relays
 * RTP between Blend's customer-side and agent-side sockets (see docs/sip.md). Features on top:
 * hold/resume mirrored between the legs, blind transfer (REFER from the agent's phone, transfer
 * to a number through the outbound trunk, unbridge and re-offer), click-to-call (originate),
 * RFC 4028 session timers, music on hold (moh_path, played to the held side by the relay),
 * call recording (a stereo WAV per call; RECORDING_ENDED when it stops) and the keys either party
 * presses while bridged (DTMF: RFC 4733 telephone-events, else detected in-band).
 *
 * Invariants: only the telephony thread touches libre state; events are plain data copied by
 * value; a full event ring never drops silently (drops are counted and logged once per burst);
 * after CALL_ENDED no event names that call.
 * Registrar rules are written down in docs/sip.md.
 */
#ifndef BLEND_SIP_SIP_H
#define BLEND_SIP_SIP_H

#include "base/error.h"
#include "base/limits.h"

#include <stddef.h>
#include <stdint.h>

enum blend_sip_event_kind {
    BLEND_SIP_EV_REGISTERED = 1,
    BLEND_SIP_EV_UNREGISTERED,
    BLEND_SIP_EV_AUTH_FAILED,
    BLEND_SIP_EV_SOURCE_LOCKED,
    BLEND_SIP_EV_CALL_INCOMING,      /* call, dialled, caller, caller_name, source, transport,
                                        agent_id (the calling phone's agent when it came from a
                                        registered phone, else 0), cause ("pcmu" / "pcma": the
                                        customer's codec) */
    BLEND_SIP_EV_AGENT_RINGING,      /* call, agent_id */
    BLEND_SIP_EV_AGENT_ANSWERED,     /* call, agent_id, contact (the phone that answered), cause
                                        ("pcmu" / "pcma": the agent's codec) */
    BLEND_SIP_EV_AGENT_FAILED,       /* call, agent_id, sip_code, cause: 486 "busy", 6xx "declined",
                                        408 "timeout" / "no-binding", 503 "send-failed" /
                                        "too-many-legs" / "no-memory", 487 "call-taken" (answered
                                        after another leg was bridged; Blend hung it up), other
                                        codes "failed" */
    BLEND_SIP_EV_CALL_ENDED,         /* call, leg ("customer"|"agent"|"blend", or "transfer":
                                        the external party of a completed transfer to a
                                        number), sip_code (0 = BYE), cause (short text, e.g.
                                        "bye", "session-expired"), rtp_to_agent,
                                        rtp_to_customer (packets), agent_id (the bridged
                                        agent, else 0) */
    BLEND_SIP_EV_CALL_HELD,          /* call, leg ("customer"|"agent"): that side put the call
                                        on hold (re-INVITE with sendonly / inactive /
                                        c=0.0.0.0); the other side was re-INVITEd to match */
    BLEND_SIP_EV_CALL_RESUMED,       /* call, leg: that side resumed (sendrecv) */
    BLEND_SIP_EV_TRANSFER_REQUESTED, /* call, agent_id, dialled = Refer-To user part: the
                                        bridged agent's phone sent REFER; it got 202 and NOTIFY
                                        "100 Trying". other_call 0: a blind transfer to
                                        `dialled`. other_call != 0: an attended transfer (Refer-To
                                        with Replaces) to the far party of other_call, a call
                                        the same phone placed and that was answered (dialled
                                        may be ""); the host answers with
                                        blend_sip_call_replace or blend_sip_call_refer_fail */
    BLEND_SIP_EV_OUTBOUND_PROGRESS,  /* call, leg ("customer": the originated call's customer
                                        leg; "transfer": the leg of blend_sip_call_transfer_
                                        number), sip_code (180/183/200, or the final failure
                                        code >= 300), cause ("ringing", "progress",
                                        "answered", "busy", "declined", "timeout", "failed") */
    BLEND_SIP_EV_RECORDING_ENDED,    /* call, recording_path, duration_ms, paused_count and
                                        the first paused spans, rec_error (0 or BLEND_E*): a
                                        recording started by blend_sip_call_record_start
                                        ended (stop command, or the call ended: then it comes
                                        before CALL_ENDED), or could not start (duration 0) */
    BLEND_SIP_EV_DTMF,               /* call, leg ("customer" | "agent", or "transfer": the
                                        external party of a transfer), agent_id (the bridged
                                        agent, 0 without), digit, dtmf_duration_ms: a party
                                        pressed a key during a bridged call, or the answered
                                        customer without an agent (RFC 4733 telephone-event when
                                        that leg negotiated it, else detected in-band in its
                                        G.711 audio); one event per key press */
    /* The call's extra party (blend_sip_call_party_add; docs/sip.md "A third party"). agent_id
     * is the party's agent (0 for a number), dialled the number dialled ("" for an agent). */
    BLEND_SIP_EV_PARTY_RINGING,   /* call, agent_id, dialled: the first 180/183 of the party */
    BLEND_SIP_EV_PARTY_ANSWERED,  /* call, agent_id, dialled, contact (the phone that
                                     answered), cause ("pcmu" / "pcma": the party's codec),
                                     party_mode (the mode now applied) */
    BLEND_SIP_EV_PARTY_MODE,      /* call, agent_id, party_mode: a mode was applied
                                     (blend_sip_call_party_mode) */
    BLEND_SIP_EV_PARTY_ENDED,     /* call, agent_id, dialled, sip_code, cause: "bye" (the party
                                     hung up, 0), "dropped" (blend_sip_call_party_drop, 0),
                                     "busy" (486, 6xx), "timeout" (408: no answer in time),
                                     "failed" (other codes; 491 a party already there, 409 no
                                     bridged agent, 480 no registered phone, 503 local
                                     failure), "call-ended" (0: the call ends, CALL_ENDED
                                     follows), "agent-left" (0: the bridged agent went while
                                     a LISTEN / WHISPER / BARGE party was there, or while the
                                     party still rang) */
    BLEND_SIP_EV_PARTY_COMPLETED, /* call, agent_id (the new agent side: the party's agent, 0
                                     for a number), dialled, cause ("" after
                                     blend_sip_call_party_complete, "agent-left" when the agent
                                     hung up during a CONSULT / CONFERENCE): the party took the
                                     agent's place; later events name it as the agent */
    /* Talking to the customer without an agent (IVR; docs/sip.md "The caller before an
     * agent"). */
    BLEND_SIP_EV_PLAY_DONE,  /* call, play_tag, agent_id (the bridged agent, else 0), cause:
                                "done" (the whole sequence played), "stopped"
                                (blend_sip_call_play_stop, or an agent / a transfer's number
                                took the customer: before its AGENT_ANSWERED /
                                OUTBOUND_PROGRESS 200), "replaced" (a newer play took its
                                place), "failed" (not answered, or a bridged agent). A play
                                still running when the call ends gets none (CALL_ENDED) */
    BLEND_SIP_EV_AGENT_REPLACED, /* call, agent_id (the new side's agent, 0 for a number),
                                    other_call (the consultation, whose CALL_ENDED "blend" 0
                                    "replaced" follows at once), leg ("agent" | "transfer": a
                                    number, then later events name it so), dialled (the
                                    number, "" for an agent), contact (its phone), cause
                                    ("pcmu" / "pcma"): after blend_sip_call_replace the
                                    consultation's far party talks to the customer in the
                                    referring agent's place (that phone got NOTIFY 200 and BYE) */
    BLEND_SIP_EV_AGENT_LEFT, /* call, agent_id: with blend_sip_call_keep_customer on, the
                                bridged agent's phone hung up; the customer stays answered and
                                unbridged (it hears silence, or music with blend_sip_call_moh).
                                A party still there ended first (PARTY_ENDED "agent-left") */
};

/* How the extra party of a call is mixed in (who hears whom). */
enum blend_sip_party_mode {
    BLEND_SIP_PARTY_LISTEN = 1, /* party hears customer + agent; nobody hears the party */
    BLEND_SIP_PARTY_WHISPER,    /* party hears both; the agent hears the customer + party;
                                   the customer hears only the agent */
    BLEND_SIP_PARTY_BARGE,      /* all three hear the other two (three-way) */
    BLEND_SIP_PARTY_CONSULT,    /* agent <-> party talk; the customer is on hold and hears
                                   music on hold (moh_path, else silence); the customer
                                   hears neither */
    BLEND_SIP_PARTY_CONFERENCE, /* same mixing as BARGE (a conference of three) */
};

/* A paused span of a recording, in ms from its start: [start_ms, end_ms). */
struct blend_sip_span {
    uint64_t start_ms;
    uint64_t end_ms;
};

/* One event, plain data (strings NUL-terminated, "" when not applicable).
 * REGISTERED: a new binding, or a refreshed one whose source, transport or user agent changed.
 * UNREGISTERED: the extension has no binding left; cause is "unregistered" (REGISTER with
 *   Expires 0 or *), "expired", "unreachable" (OPTIONS keep-alive failed) or "account-removed".
 * AUTH_FAILED: a REGISTER or INVITE with a wrong password or an unknown extension (extension = the
 *   claimed digest user name); agent_id 0.
 * SOURCE_LOCKED: source (IP only) locked until locked_until_ms (the thread's monotonic clock,
 *   CLOCK_MONOTONIC milliseconds) after auth_fail_max failures. */
struct blend_sip_event {
    enum blend_sip_event_kind kind;
    uint64_t call; /* the call's id, never 0 for call events; 0 for registrar events */
    int64_t agent_id;
    char extension[BLEND_SIP_EXTENSION_BYTES_MAX];
    char contact[BLEND_SIP_URI_BYTES_MAX];
    char transport[8];                     /* "udp" or "tcp" */
    char source[BLEND_SIP_ADDR_BYTES_MAX]; /* "127.0.0.1:5062" (IP only for SOURCE_LOCKED) */
    char user_agent[BLEND_SIP_UA_BYTES_MAX];
    char cause[16];
    int expires_s;      /* REGISTERED: granted interval */
    int bindings_count; /* bindings the extension has after this event */
    int64_t locked_until_ms;
    int lock_s;
    /* Call events (see the kinds above and docs/sip.md). */
    char dialled[BLEND_SIP_EXTENSION_BYTES_MAX];     /* Request-URI user part */
    char caller[BLEND_SIP_EXTENSION_BYTES_MAX];      /* From (or P-Asserted-Identity) user */
    char caller_name[BLEND_SIP_EXTENSION_BYTES_MAX]; /* its display name, "" when none */
    char leg[12];                                    /* CALL_ENDED: who ended the call */
    int sip_code;                           /* AGENT_FAILED, CALL_ENDED: SIP status, 0 = BYE */
    uint64_t rtp_to_agent, rtp_to_customer; /* CALL_ENDED: packets relayed each way */
    /* RECORDING_ENDED: the file, its length (ms of audio in the WAV), the pauses (paused_count
     * is the full count; the first BLEND_SIP_REC_SPANS_MAX are listed) and the first error of
     * the recording (0: none; the file is a valid WAV of what was written in any case). */
    char recording_path[BLEND_SIP_RECORD_PATH_BYTES_MAX];
    uint64_t duration_ms;
    int paused_count;
    struct blend_sip_span paused[BLEND_SIP_REC_SPANS_MAX];
    int rec_error;
    /* DTMF: the key ('0'-'9', '*', '#', 'A'-'D') and how long it was held, in ms (the RFC 4733
     * end packet's duration; 0 when detected in-band, which does not measure it). */
    char digit;
    int dtmf_duration_ms;
    /* PARTY_MODE, PARTY_ANSWERED: the enum blend_sip_party_mode applied (0 otherwise). */
    int party_mode;
    /* PLAY_DONE: the tag given to blend_sip_call_play. */
    uint32_t play_tag;
    /* TRANSFER_REQUESTED, AGENT_REPLACED: the consultation call of an attended transfer. */
    uint64_t other_call;
};

struct blend_sip_config {
    const char *udp_addr;    /* "127.0.0.1:5060"; NULL = no UDP; port 0 = any free port */
    const char *tcp_addr;    /* same for TCP; at least one of the two is required. When it
                              * equals udp_addr with port 0, TCP takes the UDP port if free */
    const char *realm;       /* digest realm, e.g. "blend"; NULL = "blend" */
    int nonce_ttl_s;         /* a nonce older than this is stale (401 stale=true); 0 = 300 */
    int expires_min_s;       /* below it: 423 Interval Too Brief; 0 = 60 */
    int expires_max_s;       /* above it the interval is lowered; 0 = 3600 */
    int expires_default_s;   /* when the REGISTER names none; 0 = 3600 (clamped to the bounds) */
    int auth_fail_max;       /* failures from one source address that lock it; 0 = 10 */
    int auth_fail_window_s;  /* the failures must fall within this window; 0 = 60 */
    int auth_lock_s;         /* how long a locked source gets 403; 0 = 300 */
    int options_interval_s;  /* OPTIONS keep-alive period per binding; 0 = no keep-alive */
    int options_timeout_s;   /* no answer within it = unreachable; 0 = 32 (libre's Timer F) */
    int events_max;          /* event ring capacity; 0 = BLEND_SIP_EVENTS_MAX (may only lower) */
    const char *trunk_allow; /* INVITEs from these sources are trunk calls, without digest:
                              * "127.0.0.1, 10.0.0.0/8, ::1" (addresses or CIDR prefixes,
                              * separated by commas or spaces); NULL or "" = none */
    int rtp_port_min, rtp_port_max; /* media port range; 0 = 20000..29999. RTP takes even ports,
                                     * RTCP the next one */
    /* Outbound trunk (blend_sip_call_transfer_number, blend_sip_originate): "sip:IP[:port]
     * [;transport=tcp]" (numeric address, no DNS); NULL or "" = none: those calls answer
     * BLEND_ESTATE. INVITEs go to sip:<number>@<trunk host:port>. */
    const char *trunk_uri;
    const char *trunk_user, *trunk_password; /* digest answered for the trunk (optional) */
    /* RFC 4028 session timer offered (INVITEs Blend sends) and accepted (INVITEs it answers), in
     * seconds; 0 = off (Session-Expires is ignored and never sent). At most
     * BLEND_SIP_SESSION_EXPIRES_S_MAX; Blend's Min-SE is min(this, 90). */
    int session_expires_s;
    /* Music on hold: a sound file any format libsndfile reads (blend_media_prompt_load), loaded
     * once by the thread at start (an unreadable or invalid file fails blend_sip_start with the
     * loader's error). While one side holds, the other gets it in a loop as its own RTP stream
     * every 20 ms. NULL or "" = that stream carries G.711 silence. */
    const char *moh_path;
    /* Outbound registration at the trunk (docs/sip.md, "Trunk registration, caller ID and
     * TLS"): when on, the thread keeps Blend registered at trunk_uri as sip:<trunk_user>@<trunk
     * host[:port]> (digest answered with trunk_user / trunk_password), Contact
     * sip:<trunk_user>@<the address Blend sends from>, refreshed by libre at 90% of the granted
     * interval and retried after a failure with libre's back-off (30..60 s, doubling up to 30
     * min). State in blend_sip_stats (trunk_*). Needs trunk_uri and trunk_user: otherwise
     * blend_sip_start answers BLEND_EINVAL. */
    int trunk_register;           /* 0 off, 1 on */
    int trunk_register_expires_s; /* Expires asked for; 0 = 600; else 60..BLEND_SIP_EXPIRES_S_MAX */
    /* Caller ID presented on INVITEs to the trunk when the call has none (an empty or
     * "anonymous" caller): a dial string; NULL or "" = none (the caller as it is). */
    const char *trunk_caller_id;
    int trunk_pai; /* 1: INVITEs to the trunk also carry P-Asserted-Identity (the same number) */
    /* SIP over TLS (RFC 3261 transport "tls", TCP with TLS): "127.0.0.1:5061" (port 0 = any
     * free port); NULL or "" = none. It comes on top of UDP / TCP (one of those is still
     * required). tls_cert_path: one PEM file holding the certificate chain and its private key
     * (required with tls_addr; unreadable: BLEND_EINVAL). libre 1.1.0 verifies no peer
     * certificate, in either direction: TLS gives privacy, not authentication of the peer. */
    const char *tls_addr;
    const char *tls_cert_path;
    void (*wakeup)(void *arg); /* called on the telephony thread after each event (queued or not) */
    void *wakeup_arg;
};

struct blend_sip_stats {
    uint64_t events_dropped;    /* events lost to a full ring */
    uint64_t registers_ok;      /* REGISTER answered 200 */
    uint64_t auth_failures;     /* wrong password, unknown extension, bad credentials */
    uint64_t locked_rejects;    /* requests answered 403 because their source was locked */
    uint64_t options_sent;      /* keep-alive OPTIONS sent */
    uint64_t unreachable;       /* bindings removed because the keep-alive got no answer */
    uint64_t commands_rejected; /* commands refused because the command pipe was full */
    uint64_t calls_total;       /* INVITEs that became calls */
    uint64_t calls_active;      /* calls not ended yet */
    uint64_t calls_refused;     /* INVITEs answered 403/488/503 (401 challenges not counted) */
    uint64_t rtp_to_agent;      /* RTP packets relayed customer -> agent, all calls */
    uint64_t rtp_to_customer;   /* RTP packets relayed agent -> customer, all calls */
    uint64_t rtp_dropped;       /* packets not relayed (no bridge yet, unknown peer, too big) */
    uint64_t rtp_held;          /* packets not relayed because their side holds the call */
    uint64_t calls_originated;  /* blend_sip_originate calls accepted by the thread */
    uint64_t transfers;         /* REFERs accepted (202) */
    uint64_t session_expired;   /* calls ended because a session timer ran out */
    uint64_t rtp_moh;           /* music-on-hold RTP packets sent to held parties, and to
                                 * answered customers waiting for an agent (a transfer, a
                                 * customer-first click-to-call) */
    uint64_t recordings;        /* recordings started (file created) */
    /* Outbound trunk registration (trunk_register); all 0 when it is off. */
    uint64_t trunk_registered;        /* 1 while the trunk holds a registration of Blend, else 0 */
    uint64_t trunk_registers_ok;      /* REGISTERs the trunk answered 2xx (refreshes included) */
    uint64_t trunk_register_failures; /* REGISTERs that failed: final answer >= 300 (after the
                                       * digest retry), no answer, or could not be sent */
    uint64_t trunk_register_code;     /* the last outcome: its status code, 408 for no answer, 503
                                       * for a send error; 0 before the first */
    /* Third parties (mixing). rtp_mixed counts every packet the mixer sent (to any leg); it
     * stays 0 on calls without a party, whose media is relayed without decoding. */
    uint64_t parties;               /* party legs dialled (blend_sip_call_party_add accepted) */
    uint64_t rtp_mixed;             /* mixed RTP packets sent, all legs */
    uint64_t rtp_to_party;          /* mixed RTP packets sent to party legs */
    uint64_t rtp_from_party;        /* RTP packets received from answered party legs */
    uint64_t mix_party_to_customer; /* packets to a customer that carried party audio */
    uint64_t mix_party_to_agent;    /* packets to an agent that carried party audio */
    /* Comfort: G.711 silence packets sent to a bridged side while the other side sent no RTP
     * (BLEND_SIP_COMFORT_CHECK_MS x BLEND_SIP_COMFORT_CHECKS), until it speaks again. */
    uint64_t rtp_comfort;
    /* The caller before an agent (blend_sip_call_answer): RTP packets sent to the answered,
     * unbridged customer carrying a play's frames (exactly one per 20 ms frame of the prompts
     * played), and carrying G.711 silence (no play, music off). Music there counts in rtp_moh. */
    uint64_t rtp_prompt;
    uint64_t rtp_silence;
};

struct blend_sip;

/* Starts the telephony thread and binds the transports before returning. *out is owned: end it
 * with blend_sip_stop(). Returns 0, BLEND_EINVAL (bad config or address), BLEND_EIO (bind or
 * libre failure), BLEND_ENOMEM. */
BLEND_MUST_USE int blend_sip_start(const struct blend_sip_config *cfg, struct blend_sip **out);
/* Stops the thread, frees everything (libre's memory included). NULL is accepted. Must not run
 * concurrently with other calls on the same handle. */
void blend_sip_stop(struct blend_sip *sip);
/* The bound port of the UDP (which = 0), TCP (which = 1) or TLS (which = 2) transport, or 0 when
 * it has none. */
int blend_sip_local_port(const struct blend_sip *sip, int which);

/* Adds or replaces an account. ha1_hex is 32 hex digits, MD5(ext ":" realm ":" password)
 * (see blend_sip_ha1). Replacing keeps the bindings. Applied asynchronously, in order with the
 * other commands. Returns 0, BLEND_EINVAL, BLEND_ENOMEM, BLEND_EBUSY (command pipe full),
 * BLEND_ECLOSED (the thread's loop has ended). */
BLEND_MUST_USE int blend_sip_account_set(struct blend_sip *sip, const char *extension,
                                         const char *ha1_hex, int64_t agent_id);
/* Removes an account; its bindings go and UNREGISTERED "account-removed" follows if it had any.
 * Returns as blend_sip_account_set. Removing an unknown account is a no-op. */
BLEND_MUST_USE int blend_sip_account_remove(struct blend_sip *sip, const char *extension);

/* --- Calls (B2BUA). Commands are asynchronous, applied by the telephony thread in order with the
 * account commands. A call id the thread does not know (the call just ended: its CALL_ENDED is
 * on its way) is ignored. Each returns 0, BLEND_EINVAL (NULL sip, call 0, bad argument),
 * BLEND_ENOMEM, BLEND_EBUSY (command pipe full) or BLEND_ECLOSED (the loop has ended). A failure
 * on the thread is answered with an event (AGENT_FAILED or CALL_ENDED). */

/* Final response code (300..699) to a customer not answered yet, e.g. 404 unknown number, 480
 * closed, 486, 503; reason NULL = the standard phrase. A call already answered is hung up
 * instead. CALL_ENDED("blend", code, reason) follows. */
BLEND_MUST_USE int blend_sip_call_reject(struct blend_sip *sip, uint64_t call, int code,
                                         const char *reason);
/* 180 Ringing to the customer (the call waits in queue). Ignored once answered. */
BLEND_MUST_USE int blend_sip_call_ringing(struct blend_sip *sip, uint64_t call);
/* INVITEs every registered phone of agent_id (forked; the first 200 wins, the other forks are
 * CANCELled), From = the customer's caller ID, SDP = Blend's agent-side RTP socket. timeout_s
 * 0 = BLEND_SIP_OFFER_TIMEOUT_S_DEFAULT (a safety net: the host normally withdraws). Events:
 * AGENT_RINGING, AGENT_ANSWERED (the customer gets 200 OK and media is relayed) or
 * AGENT_FAILED {486, 603, 480, 408 timeout or no binding, 503 local failure, ...}. Several
 * agents may be offered the same call at once (ring-all); offering an agent who already has a
 * leg on the call is ignored. */
BLEND_MUST_USE int blend_sip_call_offer(struct blend_sip *sip, uint64_t call, int64_t agent_id,
                                        int timeout_s);
/* CANCELs agent_id's leg (a BYE if it had already answered: the relay is unbridged and the
 * customer stays, answered, until the host offers another agent or hangs up). No AGENT_FAILED
 * follows a withdraw. */
BLEND_MUST_USE int blend_sip_call_withdraw(struct blend_sip *sip, uint64_t call, int64_t agent_id);
/* Ends the call: BYE / CANCEL / final response (480) on every leg; CALL_ENDED("blend", 0,
 * cause) follows. cause NULL = "hangup". */
BLEND_MUST_USE int blend_sip_call_hangup(struct blend_sip *sip, uint64_t call, const char *cause);

/* --- Call features ------------------------------------------------------------------------- */

/* Blind transfer to an external number: a new leg INVITEs sip:<number>@trunk (From = the
 * customer's caller ID) with Blend's agent-side socket; when it answers, the customer is
 * bridged to it and the bridged agent leg (if any) gets BYE (after the final NOTIFY "200 OK"
 * when the agent's phone had sent REFER). OUTBOUND_PROGRESS(leg "transfer") reports 180/183/200.
 * On failure OUTBOUND_PROGRESS carries the final code (NOTIFY with that code to a referring
 * phone) and the customer stays with the agent when the agent leg is still up; otherwise the
 * customer is hung up with that code and CALL_ENDED("blend", code, "transfer-failed")
 * follows. A customer not answered yet is answered when the number answers. After success
 * CALL_ENDED names the external party as leg "transfer". number: dial-string characters
 * (0-9 + * # . - _ letters), shorter than BLEND_SIP_EXTENSION_BYTES_MAX. Returns as the other
 * commands, and BLEND_ESTATE when no trunk_uri is configured. A transfer already in progress
 * makes a second one fail with OUTBOUND_PROGRESS 491. */
BLEND_MUST_USE int blend_sip_call_transfer_number(struct blend_sip *sip, uint64_t call,
                                                  const char *number);
/* Hangs up the bridged agent leg (BYE; NOTIFY "200 OK" first to a phone that sent REFER) but
 * keeps the customer: the host then offers the call to another agent with
 * blend_sip_call_offer. The customer hears music on hold meanwhile (moh_path, else G.711
 * silence). No event follows; without a bridged agent it is a no-op. */
BLEND_MUST_USE int blend_sip_call_unbridge_agent(struct blend_sip *sip, uint64_t call);
/* Attended transfer from the phone (TRANSFER_REQUESTED with other_call = consult): the far party
 * of the consultation (the agent's phone, or the number, that answered it) takes the place of
 * the call's bridged agent: it is re-INVITEd onto the call's media (codec kept: the relay
 * transcodes when it differs from the customer's), a hold the referring agent had put on the
 * customer is lifted, recording goes on with the new side on the agent channel, the referring
 * phone gets NOTIFY "200 OK" then BYE, and the consultation ends. Events: AGENT_REPLACED on
 * call, then CALL_ENDED("blend", 0, "replaced") on consult. When either call changed meanwhile
 * (ended, a party or another transfer started) the phone gets NOTIFY 481 instead and nothing
 * moves. */
BLEND_MUST_USE int blend_sip_call_replace(struct blend_sip *sip, uint64_t call, uint64_t consult);
/* on = 1: Blend holds the call for the bridged agent (the desktop's hold button): the customer
 * is re-INVITEd sendonly and hears music on hold (moh_path, else silence), nothing from the
 * agent side reaches it; on = 0 resumes (sendrecv, unless the customer holds itself). CALL_HELD
 * / CALL_RESUMED (leg "agent", cause "command") follow a change; ignored without a bridged
 * agent, or when already so. A hold or resume from the phone later takes over. */
BLEND_MUST_USE int blend_sip_call_hold(struct blend_sip *sip, uint64_t call, int on);
/* Ends the pending REFER of the call's bridged phone with a final NOTIFY carrying code
 * (300..699): the transfer is refused, the agent stays with the customer. Ignored without one. */
BLEND_MUST_USE int blend_sip_call_refer_fail(struct blend_sip *sip, uint64_t call, int code);
/* Click-to-call: rings agent_id's registered phones (From = caller_id, as the agent's phone
 * shows it); when the agent answers, INVITEs sip:<number>@trunk with From = caller_id and
 * bridges the two. The call id is chosen here and written to *call_out (only on success).
 * Events: AGENT_RINGING / AGENT_ANSWERED / AGENT_FAILED (then CALL_ENDED("agent", code,
 * cause)) for the agent leg, OUTBOUND_PROGRESS(leg "customer") for the number's leg (a failure
 * code then CALL_ENDED("customer", code, cause)), CALL_ENDED at the end ("customer" | "agent" |
 * "blend"). agent_id 0 = customer first: the number is dialled at once (OUTBOUND_PROGRESS);
 * once it answered (200) the host rings the agent with blend_sip_call_offer, whose answer
 * bridges the two (the customer hears silence meanwhile); an agent leg failing
 * (AGENT_FAILED) leaves the customer to the host (offer again or hang up). number and caller_id: dial-string characters. Returns 0, BLEND_EINVAL,
 * BLEND_ESTATE (no trunk_uri), BLEND_ENOMEM, BLEND_EBUSY, BLEND_ECLOSED. */
BLEND_MUST_USE int blend_sip_originate(struct blend_sip *sip, uint64_t *call_out, int64_t agent_id,
                                       const char *number, const char *caller_id);

/* --- A third party: monitoring, consultation, conference, attended transfer -------------- */

/* Rings the registered phones of agent_id (number NULL) or dials number via the outbound trunk
 * (agent_id 0) as the call's extra party, in `mode`. Only on a call with a bridged agent;
 * a second party while one exists -> PARTY_ENDED 491 at once. From = the customer's caller ID
 * for CONSULT/CONFERENCE, "monitor" display for LISTEN/WHISPER/BARGE. timeout_s 0 =
 * BLEND_SIP_OFFER_TIMEOUT_S_DEFAULT (then PARTY_ENDED 408 "timeout"). Events: PARTY_RINGING,
 * PARTY_ANSWERED (media mixed from then on), PARTY_ENDED. Returns as the other commands:
 * BLEND_EINVAL for a bad mode, timeout_s outside 0..BLEND_SIP_OFFER_TIMEOUT_S_MAX, both or
 * neither of agent_id > 0 and number, a number that is no dial string; BLEND_ESTATE for a
 * number without trunk_uri. */
BLEND_MUST_USE int blend_sip_call_party_add(struct blend_sip *sip, uint64_t call, int64_t agent_id,
                                            const char *number, enum blend_sip_party_mode mode,
                                            int timeout_s);
/* Switches the mode live (e.g. listen -> whisper -> barge; consult -> conference). PARTY_MODE
 * follows; ignored (logged) on a call without a party. */
BLEND_MUST_USE int blend_sip_call_party_mode(struct blend_sip *sip, uint64_t call,
                                             enum blend_sip_party_mode mode);
/* Hangs up the party leg (BYE / CANCEL); the customer and agent stay bridged (a consult's
 * hold on the customer ends: the customer hears the agent again). PARTY_ENDED follows. */
BLEND_MUST_USE int blend_sip_call_party_drop(struct blend_sip *sip, uint64_t call);
/* Attended transfer: the party takes the agent's place: customer <-> party bridged as the
 * call's new "agent" side (codec/transcoding as for an agent; recording continues with the
 * party on the agent channel), the old agent leg gets BYE. Only when the party has answered
 * (else ignored, logged). PARTY_COMPLETED follows (then the call's bridged agent is the
 * party's agent_id, 0 for a number; later CALL_ENDED leg "agent" refers to that leg). */
BLEND_MUST_USE int blend_sip_call_party_complete(struct blend_sip *sip, uint64_t call);

/* --- Call recording ---------------------------------------------------------------------- */

/* Starts recording the call into a new stereo 8 kHz WAV at path (customer left, agent right;
 * created with O_EXCL and mode 0600, never overwritten; the directory must exist). Every G.711
 * payload the relay forwards is placed on the timeline that starts now (a side that sends
 * nothing, an unbridged or held side, is silence). One recording per call at a time. Exactly
 * one RECORDING_ENDED follows each accepted command: at stop, when the call ends (before its
 * CALL_ENDED), or at once when the file cannot be created (rec_error BLEND_EEXIST,
 * BLEND_ENOENT, BLEND_EPERM, BLEND_EIO, BLEND_ENOMEM) or the call is already recording
 * (BLEND_ESTATE). path: shorter than BLEND_SIP_RECORD_PATH_BYTES_MAX. Returns as the other
 * commands. */
BLEND_MUST_USE int blend_sip_call_record_start(struct blend_sip *sip, uint64_t call,
                                               const char *path);
/* Payment card capture: from now until resume both channels are silent in the file (its length
 * is kept; the span is reported in RECORDING_ENDED). Ignored (logged) without a recording, when
 * already paused / not paused, or beyond BLEND_MEDIA_REC_PAUSES_MAX pauses. */
BLEND_MUST_USE int blend_sip_call_record_pause(struct blend_sip *sip, uint64_t call);
BLEND_MUST_USE int blend_sip_call_record_resume(struct blend_sip *sip, uint64_t call);
/* Ends the recording: the file is finalised and RECORDING_ENDED follows. Ignored without one. */
BLEND_MUST_USE int blend_sip_call_record_stop(struct blend_sip *sip, uint64_t call);

/* --- The caller before an agent: IVR prompts, keys, voicemail, post-call survey ------------ */

struct blend_media_prompt;

/* Answers the customer (200 OK with Blend's customer-side SDP) before any agent. From then on
 * the customer hears what blend_sip_call_play and blend_sip_call_moh give it (G.711 silence
 * otherwise), its keys come as DTMF events (leg "customer", agent_id 0) whether bridged or not,
 * and a voicemail recording captures its audio. Offering agents later works as for a waiting
 * call (the answered customer is bridged when one answers), and so does
 * blend_sip_call_transfer_number. The 200 may follow a 180 (blend_sip_call_ringing). Ignored
 * when already answered, and on a click-to-call's customer leg (Blend's own INVITE); a 200
 * that cannot be sent ends the call (CALL_ENDED "blend" 500 "answer-failed"). */
BLEND_MUST_USE int blend_sip_call_answer(struct blend_sip *sip, uint64_t call);
/* Plays `count` prompts (1..BLEND_SIP_PLAY_PROMPTS_MAX) one after the other to the answered,
 * unbridged customer, in the customer's codec, replacing what it heard (silence, music, an
 * earlier play: that one ends with PLAY_DONE "replaced"). Each prompt gains a reference
 * (blend_media_prompt_ref) for the command, released by the thread when the play ends, so the
 * host may release its own at once. PLAY_DONE(tag, "done") follows the last frame; after it the
 * customer hears music (blend_sip_call_moh on) or silence. A call not answered, or with a
 * bridged agent, gets PLAY_DONE(tag, "failed"). Frames go out every 20 ms (counted in
 * rtp_prompt, one per frame: none is skipped, even after a stall of the loop); while the
 * customer holds, the play waits. An agent or a transfer's number answering ends the play
 * ("stopped") before it is bridged; the end of the call ends it without PLAY_DONE. BLEND_EINVAL:
 * count out of range or a NULL prompt (no reference is taken then); a command refused with
 * BLEND_EBUSY / BLEND_ECLOSED / BLEND_ENOMEM gives its references back too. */
BLEND_MUST_USE int blend_sip_call_play(struct blend_sip *sip, uint64_t call,
                                       struct blend_media_prompt *const *prompts, size_t count,
                                       uint32_t tag);
/* Ends the current play early: PLAY_DONE(tag, "stopped"). Ignored without one. */
BLEND_MUST_USE int blend_sip_call_play_stop(struct blend_sip *sip, uint64_t call);
/* on = 1: the answered, unbridged customer hears music on hold (moh_path, else silence) whenever
 * no prompt plays; 0 (the default): silence. The setting stays for the call (later plays, an
 * agent leaving). Ignored on a call not answered. */
BLEND_MUST_USE int blend_sip_call_moh(struct blend_sip *sip, uint64_t call, int on);
/* on = 1: when the bridged agent's phone (or a completed transfer's number) hangs up, the
 * customer stays (unbridged, answered) and AGENT_LEFT follows instead of CALL_ENDED (a post-call
 * survey runs then: play, keys, voicemail, or another offer); an answered CONSULT / CONFERENCE
 * party still takes the agent's place instead. 0 (the default): the call ends. May be given any
 * time before the agent leaves. */
BLEND_MUST_USE int blend_sip_call_keep_customer(struct blend_sip *sip, uint64_t call, int on);
/* Voicemail: records the answered customer's audio alone into a new mono 8 kHz WAV at path,
 * whether an agent is bridged or not (the agent's audio never goes in); same file rules, limits
 * and RECORDING_ENDED as blend_sip_call_record_start, and shares its one-recording-per-call
 * slot (pause / resume / blend_sip_call_record_stop act on it). */
BLEND_MUST_USE int blend_sip_call_voicemail_start(struct blend_sip *sip, uint64_t call,
                                                  const char *path);

/* Copies the oldest pending event to *out. Returns 1 when an event was copied, 0 when none. */
int blend_sip_poll(struct blend_sip *sip, struct blend_sip_event *out);
/* A snapshot of the counters (any thread). */
void blend_sip_stats_get(struct blend_sip *sip, struct blend_sip_stats *out);

/* Writes MD5(ext ":" realm ":" password) as 32 lowercase hex digits and a NUL into out_hex33.
 * Returns 0 or BLEND_EINVAL (NULL argument, over-long extension). */
BLEND_MUST_USE int blend_sip_ha1(const char *extension, const char *realm, const char *password,
                                 char out_hex33[33]);

const char *blend_sip_event_kind_name(enum blend_sip_event_kind kind);

#endif
