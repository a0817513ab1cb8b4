/*
 * Internals of the SIP module shared by its files: the registrar core (registrar.c, auth.c)
 * and the thread that hosts it (thread.c). The registrar core decides every answer from a
 * decoded libre sip_msg and a monotonic `now_ms` handed in by the caller, and reports what
 * happened through an emit callback, so the fuzz target and unit tests drive it without
 * sockets. Only the telephony thread (or a single-threaded test) calls into it.
 */
#ifndef BLEND_SIP_SIP_INT_H
#define BLEND_SIP_SIP_INT_H

/* libre's headers expect the build system to announce these. */
#ifndef HAVE_INTTYPES_H
#define HAVE_INTTYPES_H 1
#endif
#ifndef HAVE_STDBOOL_H
#define HAVE_STDBOOL_H 1
#endif
/* Debian's libre is built with IPv6; the union in struct sa has the same size either way. */
#ifndef HAVE_INET6
#define HAVE_INET6 1
#endif
#include <re.h>

#include "media/media.h"
#include "sip/sip.h"

#include <stdatomic.h>

/* Sources whose INVITEs are trunk calls: addresses and CIDR prefixes (trunk_allow). */
struct blend__sip_acl {
    uint32_t n;
    struct {
        struct sa net; /* port 0 */
        uint8_t bits;  /* prefix length: 32 / 128 for a single address */
    } v[BLEND_SIP_TRUNKS_MAX];
};

/* The registrar's settings with defaults applied and units in milliseconds. */
struct blend__sip_settings {
    struct blend__sip_acl trunks;
    uint16_t rtp_port_min, rtp_port_max;
    char realm[BLEND_SIP_REALM_BYTES_MAX];
    uint64_t nonce_ttl_ms;
    uint32_t expires_min_s, expires_max_s, expires_default_s;
    uint32_t auth_fail_max;
    uint64_t auth_fail_window_ms, auth_lock_ms;
    uint64_t options_interval_ms, options_timeout_ms;
    /* Outbound trunk: "host[:port][;params]" of trunk_uri, "" = none. */
    char trunk_hostport[BLEND_SIP_URI_BYTES_MAX];
    char trunk_user[BLEND_SIP_TRUNK_CRED_BYTES_MAX], trunk_password[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    uint32_t session_expires_s; /* 0 = session timers off */
    uint32_t min_se_s;          /* min(session_expires_s, BLEND_SIP_MIN_SE_S) */
    /* Outbound registration and caller ID at the trunk (trunk.c). */
    bool trunk_register;
    uint32_t trunk_register_expires_s;
    char trunk_caller_id[BLEND_SIP_EXTENSION_BYTES_MAX]; /* "" = none */
    bool trunk_pai;
};

/* Counters written by the telephony thread, read by any thread. */
struct blend__sip_counters {
    atomic_uint_fast64_t events_dropped, registers_ok, auth_failures, locked_rejects;
    atomic_uint_fast64_t options_sent, unreachable, commands_rejected;
    atomic_uint_fast64_t calls_total, calls_active, calls_refused;
    atomic_uint_fast64_t rtp_to_agent, rtp_to_customer, rtp_dropped, rtp_held;
    atomic_uint_fast64_t calls_originated, transfers, session_expired;
    atomic_uint_fast64_t rtp_moh, recordings, rtp_comfort;
    atomic_uint_fast64_t parties, rtp_mixed, rtp_to_party, rtp_from_party;
    atomic_uint_fast64_t mix_party_to_customer, mix_party_to_agent;
    atomic_uint_fast64_t rtp_prompt, rtp_silence;
    /* Not a counter: the source of call ids, shared by the thread (inbound calls) and the host
     * (blend_sip_originate picks its id synchronously). Starts at 1. */
    atomic_uint_fast64_t next_call_id;
};

/* What to answer: scode 0 means no answer (ACK). hdrs holds extra header lines, each ending in
 * CRLF, without Content-Length. */
struct blend__sip_reply {
    uint16_t scode;
    const char *reason;
    size_t hdrs_len;
    char hdrs[BLEND_SIP_REPLY_HDRS_BYTES_MAX];
};

typedef void(blend__sip_emit_fn)(const struct blend_sip_event *ev, void *arg);

struct blend__sip_reg;

/* Validates cfg and fills the settings. Returns 0 or BLEND_EINVAL. */
BLEND_MUST_USE int blend__sip_settings_resolve(const struct blend_sip_config *cfg,
                                               struct blend__sip_settings *out);
/* stack may be NULL (no keep-alive is sent then). emit and counters are borrowed. */
BLEND_MUST_USE int blend__sip_reg_create(const struct blend__sip_settings *set, struct sip *stack,
                                         blend__sip_emit_fn *emit, void *emit_arg,
                                         struct blend__sip_counters *counters,
                                         struct blend__sip_reg **out);
void blend__sip_reg_destroy(struct blend__sip_reg *reg);
BLEND_MUST_USE int blend__sip_reg_account_set(struct blend__sip_reg *reg, const char *extension,
                                              const uint8_t ha1[MD5_SIZE], int64_t agent_id);
void blend__sip_reg_account_remove(struct blend__sip_reg *reg, const char *extension);
/* Decides the answer to one request (msg->req must be true). */
void blend__sip_reg_handle(struct blend__sip_reg *reg, const struct sip_msg *msg, uint64_t now_ms,
                           struct blend__sip_reply *reply);
/* Bindings of an extension (tests). */
int blend__sip_reg_bindings_count(const struct blend__sip_reg *reg, const char *extension);

/* The checks every request passes before its method's handler (RFC 3261 §8.2, RFC 4475): the
 * mandatory headers present and single, quotes balanced, CSeq naming the request's method, a
 * sane Content-Length, a sip: Request-URI without headers, Require tags among `supported`
 * (comma-separated, NULL = none). false with reply set (400, 416, 420) when one fails. */
bool blend__sip_request_ok(const struct sip_msg *msg, const char *supported,
                           struct blend__sip_reply *reply);
/* Checks the source lock-out: a locked source gets 403 in reply and true. */
bool blend__sip_reg_locked(struct blend__sip_reg *reg, const struct sip_msg *msg, uint64_t now_ms,
                           struct blend__sip_reply *reply);
/* Digest-authenticates any request (the REGISTER rules: challenge, stale nonce, failures and
 * lock-out). Returns true with *agent_id and ext (the account's) on success; otherwise reply
 * holds the answer (401 or 403). */
bool blend__sip_reg_authenticate(struct blend__sip_reg *reg, const struct sip_msg *msg,
                                 uint64_t now_ms, struct blend__sip_reply *reply, int64_t *agent_id,
                                 char ext[BLEND_SIP_EXTENSION_BYTES_MAX]);
/* Whether some binding was registered from this source IP (any port). */
bool blend__sip_reg_source_known(const struct blend__sip_reg *reg, const struct sa *src);
/* True when extension `ext` has a binding registered from exactly src (address and port): a
 * request from there is that phone's, even from an address trunk_allow admits. */
bool blend__sip_reg_phone_at(const struct blend__sip_reg *reg, const struct pl *ext,
                             const struct sa *src);

/* Where to send an INVITE for one registered phone. */
struct blend__sip_target {
    char contact[BLEND_SIP_URI_BYTES_MAX];
    enum sip_transp tp;
    struct sa src; /* the address the phone registered from (NAT) */
};
/* Writes up to cap targets: every binding of every account of agent_id. Returns the count. */
uint32_t blend__sip_reg_agent_targets(const struct blend__sip_reg *reg, int64_t agent_id,
                                      struct blend__sip_target *out, uint32_t cap);

/* --- INVITE admission and SDP offers (invite.c) ---------------------------------------------- */

/* Parses trunk_allow text. NULL or "" gives an empty list. Returns 0 or BLEND_EINVAL. */
BLEND_MUST_USE int blend__sip_acl_parse(const char *text, struct blend__sip_acl *out);
bool blend__sip_acl_match(const struct blend__sip_acl *acl, const struct sa *src);

enum { BLEND__SIP_PT_PCMU = 0, BLEND__SIP_PT_PCMA = 8 };

/* What a customer's SDP offer asks for, after negotiation against what Blend accepts. */
struct blend__sip_offer {
    int codec_pt;    /* BLEND__SIP_PT_PCMU or BLEND__SIP_PT_PCMA: the first one offered */
    int dtmf_pt;     /* telephone-event/8000 payload type, -1 when not offered */
    bool rtcp_mux;   /* a=rtcp-mux offered */
    struct sa raddr; /* remote RTP address (port 0 / no address: learnt by latching) */
};
/* Parses an SDP offer with libre's SDP. Returns 0, BLEND_ENOENT (no common codec, no audio,
 * secure or unknown profile: 488), BLEND_EPARSE (undecodable: 400) or BLEND_ENOMEM. */
BLEND_MUST_USE int blend__sip_sdp_offer_parse(struct mbuf *body, struct blend__sip_offer *out);

/* A local SDP session for one leg on laddr offering first_pt, then second_pt (-1: none), then
 * telephone-event as dtmf_pt (-1: none). Returns 0 or a libre errno. */
BLEND_MUST_USE int blend__sip_sdp_make(const struct sa *laddr, int first_pt, int second_pt,
                                       int dtmf_pt, struct sdp_session **sessp,
                                       struct sdp_media **mp);
/* After sdp_decode: the codec (0 / 8) and telephone-event payload types both sides settled on,
 * -1 when none. */
void blend__sip_sdp_chosen(const struct sdp_media *m, int *codec_pt, int *dtmf_pt);

/* An INVITE that became a call. */
struct blend__sip_invite {
    bool from_trunk;
    int64_t agent_id; /* the calling phone's agent, 0 from a trunk */
    char dialled[BLEND_SIP_EXTENSION_BYTES_MAX];
    char caller[BLEND_SIP_EXTENSION_BYTES_MAX];
    char caller_name[BLEND_SIP_EXTENSION_BYTES_MAX];
    struct blend__sip_offer offer;
};
/* Decides whether a new (out-of-dialog) INVITE becomes a call: trunk source, or a registered
 * phone's source with correct digest credentials, and an SDP offer with a common codec.
 * Returns true and fills *out, or false with the answer in reply (401, 403, 400, 488). */
bool blend__sip_invite_check(struct blend__sip_reg *reg, const struct blend__sip_acl *trunks,
                             const struct sip_msg *msg, uint64_t now_ms,
                             struct blend__sip_reply *reply, struct blend__sip_invite *out);
/* Copies wire text into out (cap bytes, NUL-terminated), control bytes replaced by '?'. */
void blend__sip_pl_copy(const struct pl *pl, char *out, size_t cap);

/* --- Calls (calls.c) and the RTP relay (relay.c) --------------------------------------------- */
struct blend__sip_calls;

/* The calls layer on a live stack: it listens with sipsess (INVITE, ACK, BYE, re-INVITE) before
 * the registrar's listener. media_addr is the IP the RTP sockets bind to and SDP advertises.
 * moh (borrowed, may be NULL: silence) is the music on hold; it must outlive the layer. */
BLEND_MUST_USE int blend__sip_calls_create(const struct blend__sip_settings *set, struct sip *stack,
                                           struct blend__sip_reg *reg, const struct sa *media_addr,
                                           const struct blend_media_prompt *moh,
                                           blend__sip_emit_fn *emit, void *emit_arg,
                                           struct blend__sip_counters *counters,
                                           struct blend__sip_calls **out);
/* Ends every call without events and frees the layer (before the stack is closed). */
void blend__sip_calls_destroy(struct blend__sip_calls *cs);

enum blend__sip_call_cmd {
    BLEND__SIP_CALL_REJECT = 1,
    BLEND__SIP_CALL_RINGING,
    BLEND__SIP_CALL_OFFER,
    BLEND__SIP_CALL_WITHDRAW,
    BLEND__SIP_CALL_HANGUP,
    BLEND__SIP_CALL_TRANSFER_NUMBER,
    BLEND__SIP_CALL_UNBRIDGE_AGENT,
    BLEND__SIP_CALL_ORIGINATE,
    BLEND__SIP_CALL_RECORD_START,
    BLEND__SIP_CALL_RECORD_PAUSE,
    BLEND__SIP_CALL_RECORD_RESUME,
    BLEND__SIP_CALL_RECORD_STOP,
    BLEND__SIP_CALL_PARTY_ADD,
    BLEND__SIP_CALL_PARTY_MODE,
    BLEND__SIP_CALL_PARTY_DROP,
    BLEND__SIP_CALL_PARTY_COMPLETE,
    BLEND__SIP_CALL_ANSWER,
    BLEND__SIP_CALL_PLAY,
    BLEND__SIP_CALL_PLAY_STOP,
    BLEND__SIP_CALL_MOH,
    BLEND__SIP_CALL_KEEP_CUSTOMER,
    BLEND__SIP_CALL_VOICEMAIL_START,
    BLEND__SIP_CALL_REPLACE,
    BLEND__SIP_CALL_REFER_FAIL,
    BLEND__SIP_CALL_HOLD,
    BLEND__SIP_CALL_CMD_LAST = BLEND__SIP_CALL_HOLD,
};
struct blend__sip_call_cmd_data {
    uint64_t call;
    int64_t agent_id;
    int code;
    int timeout_s;
    char text[BLEND_SIP_CAUSE_BYTES_MAX];
    char number[BLEND_SIP_EXTENSION_BYTES_MAX];    /* TRANSFER_NUMBER, ORIGINATE */
    char caller_id[BLEND_SIP_EXTENSION_BYTES_MAX]; /* ORIGINATE */
    char path[BLEND_SIP_RECORD_PATH_BYTES_MAX];    /* RECORD_START */
    int party_mode;                                /* PARTY_ADD, PARTY_MODE */
    uint64_t other_call;                           /* REPLACE: the consultation */
    /* PLAY: one reference of each prompt, owned by the command (the thread passes them to the
     * relay or releases them). */
    uint32_t tag;
    size_t prompts_count;
    struct blend_media_prompt *prompts[BLEND_SIP_PLAY_PROMPTS_MAX];
};
/* Whether s is a non-empty dial string (0-9 + * # . - _ and letters): what may go into the user
 * part of a URI Blend builds. */
bool blend__sip_dial_string_ok(const char *s);

/* --- Session timers (RFC 4028) and REFER targets (features.c, pure) ----------------------- */

/* What one dialog's session timer settled on. interval_s 0 = no timer. */
struct blend__sip_se {
    uint32_t interval_s;
    bool we_refresh;    /* Blend sends the refreshes (re-INVITE at half the interval) */
    bool peer_supports; /* the peer listed "timer" in Supported (then Require: timer goes back) */
};
/* Blend answers an INVITE (UAS). Returns 0 with *out decided (interval 0 when timers are off
 * and the request asked for none), or 422 when the request's Session-Expires is below Blend's
 * Min-SE (answer 422 with "Min-SE: set->min_se_s"), or 400 for an undecodable value. */
int blend__sip_se_uas(const struct blend__sip_settings *set, const struct sip_msg *req,
                      struct blend__sip_se *out);
/* Blend's INVITE was answered 2xx (UAC): what the answer settled. */
void blend__sip_se_uac(const struct blend__sip_settings *set, const struct sip_msg *resp,
                       struct blend__sip_se *out);
/* Writes the header lines for Blend's 2xx (UAS) into buf (NUL-terminated; "" without a timer). */
void blend__sip_se_uas_hdrs(const struct blend__sip_se *se, char *buf, size_t cap);
/* Writes the header lines for an INVITE Blend sends (UAC); "" when timers are off. */
void blend__sip_se_uac_hdrs(const struct blend__sip_settings *set, char *buf, size_t cap);

/* A REFER's target. */
enum blend__sip_refer_verdict {
    BLEND__SIP_REFER_OK = 0,
    BLEND__SIP_REFER_BAD, /* no or undecodable Refer-To, no user part, not a dial string, a
                             Replaces that does not decode: 400 */
    BLEND__SIP_REFER_UNSUPPORTED, /* a method other than INVITE: 501 */
    BLEND__SIP_REFER_REPLACES,    /* attended transfer: Refer-To carries Replaces (RFC 3891) */
};
/* The dialog a Replaces header names (RFC 3891), as the transferor wrote it: to-tag is the tag
 * of the party that receives the INVITE with Replaces (Blend's own, in a dialog with Blend). */
struct blend__sip_replaces {
    char call_id[BLEND_SIP_URI_BYTES_MAX];
    char to_tag[BLEND_SIP_EXTENSION_BYTES_MAX];
    char from_tag[BLEND_SIP_EXTENSION_BYTES_MAX];
};
/* Reads Refer-To of a REFER: the user part goes to user (cap bytes; for REPLACES it may be ""),
 * the Replaces dialog to *rep (zeroed unless REPLACES). */
enum blend__sip_refer_verdict blend__sip_refer_target(const struct sip_msg *msg, char *user,
                                                      size_t cap, struct blend__sip_replaces *rep);
/* Applies one host command. d is the command's (PLAY: its prompt references are taken, and
 * d->prompts_count is 0 afterwards, whatever became of the call). code carries 0 / 1 for MOH
 * and KEEP_CUSTOMER. */
void blend__sip_calls_command(struct blend__sip_calls *cs, enum blend__sip_call_cmd cmd,
                              struct blend__sip_call_cmd_data *d);

/* The relay of one call: a customer-side and an agent-side RTP/RTCP socket pair. */
struct blend__sip_relay;
enum blend__sip_side { BLEND__SIP_CUSTOMER = 0, BLEND__SIP_AGENT = 1, BLEND__SIP_PARTY = 2 };

/* Binds both socket pairs on addr (ports from the configured range). moh (borrowed, may be
 * NULL: silence) is what a held party hears. Returns 0, BLEND_ELIMIT (no free port pair within
 * BLEND_SIP_RTP_BIND_TRIES_MAX tries) or BLEND_ENOMEM. */
BLEND_MUST_USE int blend__sip_relay_create(const struct blend__sip_settings *set,
                                           const struct sa *addr,
                                           const struct blend_media_prompt *moh,
                                           struct blend__sip_counters *counters,
                                           struct blend__sip_relay **out);
void blend__sip_relay_destroy(struct blend__sip_relay *r);
/* The local RTP address of one side (RTCP is on port + 1). */
const struct sa *blend__sip_relay_laddr(const struct blend__sip_relay *r,
                                        enum blend__sip_side side);
/* Sets what one side negotiated: codec and telephone-event payload types, rtcp-mux, and the
 * remote RTP address from SDP (used until the first packet from the peer is latched). */
void blend__sip_relay_peer(struct blend__sip_relay *r, enum blend__sip_side side, int codec_pt,
                           int dtmf_pt, bool rtcp_mux, const struct sa *raddr);
/* Holds (or releases) one side: while held, nothing it sends is relayed to the other side
 * (counted in rtp_held) and, while bridged, the other side gets music on hold: its own RTP
 * stream (SSRC, sequence and timestamp of Blend's, continuing across holds) of the prompt's
 * frames in that side's codec every 20 ms, from a timer that runs only while needed. */
void blend__sip_relay_hold(struct blend__sip_relay *r, enum blend__sip_side side, bool held);
/* Starts (bridged) or stops relaying between the two sides. Starting re-arms the agent side's
 * latch (a new agent phone). */
void blend__sip_relay_bridge(struct blend__sip_relay *r, bool bridged);
/* The customer's leg is answered: while no agent is bridged (a transfer on its way, a
 * customer-first click-to-call, an IVR), the customer gets a stream of Blend's: the play, else
 * music on hold (the waiting music is on, the default) or G.711 silence; its keys are looked
 * for (DTMF callback) whether bridged or not. */
void blend__sip_relay_answered(struct blend__sip_relay *r);
/* Music (on) or silence (off) for the answered, unbridged customer when no play runs. */
void blend__sip_relay_waiting_music(struct blend__sip_relay *r, bool on);
/* Plays count prompts (1..BLEND_SIP_PLAY_PROMPTS_MAX) in sequence to the answered, unbridged
 * customer (asserted), one 20 ms frame per tick on the customer's stream, in its codec. Takes
 * one reference of each prompt (released when the play ends). A play under way is replaced
 * silently (its references released; the caller reports it). After the last frame the
 * references go and the play-done callback runs. */
void blend__sip_relay_play(struct blend__sip_relay *r, struct blend_media_prompt *const *prompts,
                           size_t count);
/* Ends the play under way without the callback (its references released); no-op without one. */
void blend__sip_relay_play_stop(struct blend__sip_relay *r);
bool blend__sip_relay_playing(const struct blend__sip_relay *r);
/* Where the end of a play is reported (called on the telephony thread from the timer; fn must
 * not destroy the relay). */
typedef void(blend__sip_play_done_fn)(void *arg);
void blend__sip_relay_on_play_done(struct blend__sip_relay *r, blend__sip_play_done_fn *fn,
                                   void *arg);
/* A new agent-side peer replaces a live one (transfer): the latch is re-armed, and the old
 * peer's addresses are ignored on that side (it sends until its BYE arrives). */
void blend__sip_relay_rebridge(struct blend__sip_relay *r);
/* The third party's socket pair (party.c's leg sends its SDP with it): binds it like the other
 * two (BLEND_ELIMIT, BLEND_ENOMEM). Until blend__sip_relay_party_mode names a mode, nothing
 * of that side is used (a ringing party). */
BLEND_MUST_USE int blend__sip_relay_party_open(struct blend__sip_relay *r);
/* Unbinds the party side and stops mixing: the two-party relay path takes over again. */
void blend__sip_relay_party_close(struct blend__sip_relay *r);
/* Mixes the party in with mode (enum blend_sip_party_mode, 0: not yet, the relay stays
 * two-party). While a mode is set and the call is bridged, every G.711 packet of the three
 * sides is decoded into that side's slot (the last frame, kept for one tick at most) and a
 * 20 ms timer sends each side the saturating sum of what the mode lets it hear, as Blend's own
 * RTP stream (blend__sip_mix_hears). */
void blend__sip_relay_party_mode(struct blend__sip_relay *r, int mode);
/* Attended transfer: the party side becomes the agent side (its sockets, peer and codec); the
 * old agent side's sockets are closed. Mixing stops; the relay is two-party again. */
void blend__sip_relay_party_promote(struct blend__sip_relay *r);
/* Records the call into rec (borrowed; NULL stops): each G.711 payload the relay forwards is
 * pushed with the monotonic clock, customer side left, agent side right. customer_alone
 * (voicemail, a mono recorder): the customer's payloads are pushed also while unbridged. */
void blend__sip_relay_record(struct blend__sip_relay *r, struct blend_media_recorder *rec,
                             bool customer_alone);
/* A key a party pressed (side sent it): digit '0'-'9', '*', '#', 'A'-'D'; duration_ms from
 * the RFC 4733 end packet, 0 for in-band detection (the detector does not report it). */
typedef void(blend__sip_dtmf_fn)(void *arg, enum blend__sip_side side, char digit, int duration_ms);
/* Where the relay reports digits (fn NULL: nowhere). Called on the telephony thread from the
 * packet handler; fn must not destroy the relay. */
void blend__sip_relay_on_dtmf(struct blend__sip_relay *r, blend__sip_dtmf_fn *fn, void *arg);
/* The DTMF inspection of one RTP packet received on side (mb: the whole packet, mb->pos at its
 * start; not modified): RFC 4733 events when the side negotiated telephone-event, else the
 * in-band detector for G.711. Only while bridged. The packet handler calls it for every RTP
 * packet; tests call it to feed payloads without sockets. */
void blend__sip_relay_dtmf_rx(struct blend__sip_relay *r, enum blend__sip_side side,
                              struct mbuf *mb);
/* The first error a push into the recorder returned since relay_record (0: none). */
int blend__sip_relay_record_error(const struct blend__sip_relay *r);
/* Music-on-hold packets sent to each side (tests, logs). */
uint64_t blend__sip_relay_moh_sent(const struct blend__sip_relay *r, enum blend__sip_side side);
/* Packets relayed towards the agent and towards the customer. */
void blend__sip_relay_counts(const struct blend__sip_relay *r, uint64_t *to_agent,
                             uint64_t *to_customer);

/* --- The mixer's pure rules (mix.c) ------------------------------------------------------ */

/* Sources of a mix: the three sides (enum blend__sip_side) and music on hold. */
enum { BLEND__SIP_MIX_MOH = 3, BLEND__SIP_MIX_SOURCES = 4 };
/* Which sources listener hears in mode, as a bit mask (1u << source), given which sides hold
 * (held[side], indexed by enum blend__sip_side): a holding side is nobody's source; a listener
 * that would hear the customer or the agent while that one holds hears music instead (never
 * while it holds itself); in CONSULT the customer hears only music. */
uint32_t blend__sip_mix_hears(int mode, enum blend__sip_side listener, const bool held[3]);
/* out = the saturating (int16) sum of frames[s] for every s in mask whose frame is not NULL;
 * silence when there is none. */
void blend__sip_mix(uint32_t mask, const int16_t *const frames[BLEND__SIP_MIX_SOURCES],
                    int16_t out[BLEND_MEDIA_FRAME_SAMPLES]);

/* The monotonic clock in milliseconds (libre's tmr_jiffies follows the wall clock). */
uint64_t blend__sip_now_ms(void);
/* Parses 32 hex digits. Returns 0 or BLEND_EINVAL. */
BLEND_MUST_USE int blend__sip_hex_md5(const char *hex, uint8_t out[MD5_SIZE]);

/* --- The outbound trunk: registration and caller ID (trunk.c) ------------------------------ */

/* The registration's state, written by the telephony thread, read by any thread (stats). */
struct blend__sip_trunk_status {
    atomic_uint_fast64_t registered, registers_ok, failures, last_code;
};
struct blend__sip_trunk;

/* Validates the trunk registration, caller ID and PAI options of cfg into set (after
 * blend__sip_settings_resolve filled the rest: it needs trunk_hostport and trunk_user).
 * Returns 0 or BLEND_EINVAL. */
BLEND_MUST_USE int blend__sip_trunk_settings_resolve(const struct blend_sip_config *cfg,
                                                     struct blend__sip_settings *set);
/* Starts the registration when set->trunk_register is on (else *out = NULL and 0). set, stack
 * and status are borrowed and must outlive it. Returns 0, BLEND_EINVAL (trunk_uri libre cannot
 * use) or BLEND_ENOMEM; a registration that fails later is retried, never fatal. */
BLEND_MUST_USE int blend__sip_trunk_create(const struct blend__sip_settings *set, struct sip *stack,
                                           struct blend__sip_trunk_status *status,
                                           struct blend__sip_trunk **out);
/* Ends the registration (an un-REGISTER, Expires 0, is sent when registered) before the stack
 * is closed. NULL is accepted. */
void blend__sip_trunk_destroy(struct blend__sip_trunk *trunk);
/* Copies the status into the trunk_* fields of out. */
void blend__sip_trunk_stats(struct blend__sip_trunk_status *status, struct blend_sip_stats *out);
/* The number presented on an INVITE to the trunk: caller, unless it is empty, not a dial
 * string or "anonymous" (any case): then set->trunk_caller_id when configured, else caller as
 * it is ("" stays ""). Writes a NUL-terminated string of at most cap bytes. */
void blend__sip_trunk_caller_id(const struct blend__sip_settings *set, const char *caller,
                                char *out, size_t cap);
/* The P-Asserted-Identity line ("P-Asserted-Identity: <sip:NUMBER@HOST>\r\n") for an INVITE
 * to the trunk presenting number from host (Blend's address, IP only) when set->trunk_pai is on
 * and number is a dial string; "" otherwise. Always NUL-terminated; cut lines are dropped. */
void blend__sip_trunk_pai_hdr(const struct blend__sip_settings *set, const char *number,
                              const struct sa *host, char *buf, size_t cap);

/* --- Digest nonces and brute-force tracking (auth.c) ----------------------------------------- */
struct blend__sip_auth;

BLEND_MUST_USE int blend__sip_auth_create(const struct blend__sip_settings *set,
                                          struct blend__sip_auth **out);
void blend__sip_auth_destroy(struct blend__sip_auth *auth);
/* Writes a fresh nonce (NUL-terminated) into out. */
void blend__sip_nonce_make(struct blend__sip_auth *auth, uint64_t now_ms, char out[64]);

enum blend__sip_nonce_verdict {
    BLEND__SIP_NONCE_OK = 0,
    BLEND__SIP_NONCE_STALE, /* expired, not ours, or its nonce-count was already used */
};
/* Checks a nonce and nc (8 hex digits) after the digest itself was verified, and records nc. */
enum blend__sip_nonce_verdict blend__sip_nonce_check(struct blend__sip_auth *auth,
                                                     const struct pl *nonce, const struct pl *nc,
                                                     uint64_t now_ms);
/* Whether the source's IP is locked at now_ms (an expired lock is lifted). */
bool blend__sip_source_is_locked(struct blend__sip_auth *auth, const struct sa *src,
                                 uint64_t now_ms);
/* Records a failure; returns true when this failure locked the source. *until_ms gets the end
 * of the lock when it returns true. */
bool blend__sip_source_fail(struct blend__sip_auth *auth, const struct sa *src, uint64_t now_ms,
                            uint64_t *until_ms);

#endif
