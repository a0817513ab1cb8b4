/*
 * Calls: Blend as a B2BUA on libre's sipsess. The customer's INVITE is admitted by invite.c,
 * answered 100 Trying at once from a server transaction of our own (so CANCEL works before the
 * host decides), and handed to the host as CALL_INCOMING. Host commands then drive it: 180
 * (sipsess_accept with 180), a final refusal, or offers to agents. Each offer is an agent leg;
 * a leg INVITEs every registered phone of the agent (one sipsess per phone, "fork"); the first
 * 200 wins, the other forks are CANCELled (libre sends CANCEL when a pending session is
 * dereferenced, and ACK + BYE if a 200 still comes). The winning leg is bridged: the customer
 * gets 200 OK with Blend's customer-side SDP and the relay (relay.c) starts.
 *
 * Features (docs/sip.md): hold/resume (a re-INVITE whose SDP holds is answered by libre's
 * negotiation and mirrored to the other leg with a re-INVITE; the relay stops the holding side's
 * media), blind transfer (REFER from the bridged agent: 202, NOTIFY sipfrag progress sent by
 * us in the agent's dialog so the BYE can wait for the final NOTIFY), external legs through the
 * outbound trunk (transfer to a number; click-to-call's customer leg), and RFC 4028 session
 * timers on every dialog (refresh by re-INVITE when Blend is the refresher, BYE on expiry),
 * music on hold (played by the relay to the held side) and call recording (a media recorder per
 * call fed by the relay; RECORDING_ENDED when it stops, before CALL_ENDED when the call ends).
 *
 * A third party (monitoring, consultation, conference, attended transfer): one extra leg per
 * call (c->party, an agent_leg marked `party`, forked to an agent's phones or dialled through
 * the trunk) on the relay's third socket pair; once it answers the relay mixes the three sides
 * by the party's mode. It ends with PARTY_ENDED (before CALL_ENDED when the call ends), or
 * takes the agent's place (PARTY_COMPLETED: the relay's party side becomes its agent side).
 *
 * The caller before an agent (IVR): the host may answer the customer itself
 * (blend_sip_call_answer), play prompts to it (the relay sends them; PLAY_DONE reports the end:
 * "done", "stopped", "replaced", "failed"), choose music or silence between plays, record a
 * voicemail (a mono recorder of the customer alone) and keep the customer when the bridged agent
 * hangs up (AGENT_LEFT instead of CALL_ENDED, for a post-call survey). Such a call is "ivr": from
 * then on what the unbridged customer hears between plays follows the host's music setting. An
 * agent (or a transfer's number) answering ends a play with "stopped" before it is bridged. A
 * play under way when the call ends gets no PLAY_DONE (CALL_ENDED ends it).
 *
 * Invariants: a call lives in cs->calls until CALL_ENDED was emitted for it, and no event names
 * it afterwards; a play runs only while the customer is answered and no leg is bridged
 * (c->playing mirrors the relay's play); at most one leg is bridged; at most one party leg, never
 * the bridged one, and only while a leg is bridged; every libre object of a call (sessions,
 * transaction, SDP sessions, sockets, NOTIFY requests, timers) is released when the call is freed;
 * only the telephony thread runs this.
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <string.h>

enum { CALL_BUCKETS = 1024, SESS_BUCKETS = 1024 };

static const char CTYPE_SDP[] = "application/sdp";
static const char CUSER[] = "blend";

struct call;
struct agent_leg;

/* The RFC 4028 timer of one dialog (customer session or an answered fork). */
struct stimer {
    struct call *c;
    struct fork *f; /* NULL for the customer's dialog */
    struct sipsess *sess;
    struct sdp_session *sdp;
    struct blend__sip_se se; /* interval 0 = not running */
    struct tmr refresh, expire;
};

/* One INVITE to one registered phone of an agent (or, for an external leg, to the trunk). */
struct fork {
    struct le le; /* in leg->forks */
    struct agent_leg *leg;
    struct sipsess *sess;
    struct sdp_session *sdp;
    struct sdp_media *m;
    char contact[BLEND_SIP_URI_BYTES_MAX];
    struct stimer st;
    /* REFER from this phone: NOTIFYs go out one at a time in its dialog. */
    struct sip_request *nreq; /* the NOTIFY in flight */
    uint16_t notify_next;     /* a final code waiting for the NOTIFY in flight */
    bool notify_final_sent;   /* the subscription's terminating NOTIFY went out */
    bool bye_after_notify;    /* hang up this leg once the final NOTIFY is answered */
};

/* One offer of the call to one agent, or an external leg through the trunk (transfer to a
 * number: external, agent_id 0). */
struct agent_leg {
    struct le le; /* in call->legs */
    struct call *call;
    int64_t agent_id;
    bool external;
    struct list forks;
    struct fork *winner; /* the fork that answered, once answered */
    struct tmr tmr;      /* offer timeout */
    bool ringing;
    uint16_t progress_sent; /* external: the last OUTBOUND_PROGRESS code */
    uint16_t fail_code;
    char fail_cause[16];
    /* The call's third party (c->party): its mode (enum blend_sip_party_mode) and the number
     * it dialled ("" for an agent's phones). */
    bool party;
    int mode;
    char dialled[BLEND_SIP_EXTENSION_BYTES_MAX];
};

struct call {
    struct le he; /* in cs->calls, keyed by id */
    struct blend__sip_calls *cs;
    uint64_t id;
    struct blend__sip_invite inv;
    enum sip_transp tp;
    struct sa src;
    /* The customer leg: our own transaction until accepted, then a sipsess. */
    const struct sip_msg *msg;
    struct sip_strans *st;
    struct sipsess *sess;
    bool answered;
    struct sdp_session *sdp;
    struct sdp_media *m;
    struct blend__sip_relay *relay;
    struct list legs;
    uint32_t legs_count;
    struct agent_leg *bridged;
    /* Features. */
    bool outbound;                /* click-to-call: the customer leg is Blend's INVITE */
    uint16_t cust_progress;       /* outbound: the last OUTBOUND_PROGRESS code */
    struct agent_leg *transfer;   /* an external leg ringing (transfer to a number) */
    struct agent_leg *party;      /* the third party's leg, ringing or answered */
    struct fork *referrer;        /* the bridged phone whose REFER awaits the host */
    struct blend__sip_se cust_se; /* negotiated for the customer's dialog (inbound) */
    struct stimer cst;
    bool ending;                      /* call_free runs: no more re-INVITEs */
    bool cust_held, agent_held;       /* that side holds */
    enum sdp_dir cust_dir, agent_dir; /* the direction Blend offers each side */
    /* Recording: the recorder (owned; the relay borrows it) and its file. */
    struct blend_media_recorder *rec;
    char rec_path[BLEND_SIP_RECORD_PATH_BYTES_MAX];
    /* The caller before an agent: the host drives what the unbridged customer hears (ivr), its
     * music setting, whether the customer stays when the agent hangs up, and the play under way
     * (the relay holds its prompts) with its tag. */
    bool ivr, moh_on, keep_customer;
    bool playing;
    uint32_t play_tag;
};

struct blend__sip_calls {
    const struct blend__sip_settings *set;
    struct sip *stack;
    struct blend__sip_reg *reg;
    struct sipsess_sock *sock;
    struct sa media_addr;
    blend__sip_emit_fn *emit;
    void *emit_arg;
    struct blend__sip_counters *counters;
    const struct blend_media_prompt *moh; /* music on hold (borrowed), NULL = silence */
    struct hash *calls;
    uint32_t calls_count;
};

static void call_end(struct call *c, const char *leg, int sip_code, const char *cause);
static void leg_free(struct agent_leg *leg);
static void transfer_failed(struct agent_leg *leg, uint16_t code, const char *cause);
static void other_modify(struct call *c, enum blend__sip_side to);
static void party_end(struct call *c, uint16_t code, const char *cause);
static void party_progress(struct agent_leg *leg, const struct sip_msg *msg);
static void party_answered(struct call *c, struct agent_leg *leg, struct fork *f,
                           const struct sip_msg *msg);
static bool party_takes_over(struct call *c);
static struct call *call_find(const struct blend__sip_calls *cs, uint64_t id);

static void ev_init(struct blend_sip_event *ev, enum blend_sip_event_kind kind,
                    const struct call *c, int64_t agent_id)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->call = c->id;
    ev->agent_id = agent_id;
}

static const char *codec_name(int pt)
{
    return pt == BLEND__SIP_PT_PCMA ? "PCMA" : "PCMU";
}

/* libre error codes to a SIP status for the events. */
static uint16_t err_code(int err, const struct sip_msg *msg)
{
    if (msg && msg->scode >= 300) {
        return msg->scode;
    }
    return err == ETIMEDOUT ? 408 : 503;
}

static const char *fail_cause(uint16_t code)
{
    return code == 486 ? "busy" : code >= 600 ? "declined" : code == 408 ? "timeout" : "failed";
}

static const char *leg_name(const struct agent_leg *leg)
{
    return leg->external ? "transfer" : "agent";
}

static int64_t bridged_agent(const struct call *c)
{
    return c->bridged ? c->bridged->agent_id : 0;
}

/* agent_id: the agent of the call (the transferring agent, the click-to-call agent), else 0. */
static void emit_progress(struct call *c, const char *leg, uint16_t code, const char *cause,
                          int64_t agent_id)
{
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_OUTBOUND_PROGRESS, c, agent_id);
    str_ncpy(ev.leg, leg, sizeof(ev.leg));
    ev.sip_code = code;
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: %s leg %u %s", (unsigned long long)c->id, leg, code, cause);
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* --- Plays to the customer (IVR) ---------------------------------------------------------- */

static void emit_play_done(struct call *c, uint32_t tag, const char *cause)
{
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_PLAY_DONE, c, bridged_agent(c));
    ev.play_tag = tag;
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    BLEND_LOG_DEBUG("sip", "call %llu: play %u %s", (unsigned long long)c->id, tag, cause);
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* Ends the play under way (its prompts released) with PLAY_DONE(cause); nothing without one. */
static void play_end(struct call *c, const char *cause)
{
    if (!c->playing) {
        return;
    }
    c->playing = false;
    blend__sip_relay_play_stop(c->relay);
    emit_play_done(c, c->play_tag, cause);
}

/* The relay sent the play's last frame (and released its prompts). */
static void on_play_done(void *arg)
{
    struct call *c = arg;
    BLEND_ASSERT(c && c->playing && !blend__sip_relay_playing(c->relay));
    c->playing = false;
    emit_play_done(c, c->play_tag, "done");
}

/* The host drives the unbridged customer from now on: music or silence by its setting. */
static void ivr_take(struct call *c)
{
    c->ivr = true;
    blend__sip_relay_waiting_music(c->relay, c->moh_on);
}

/* --- Session timers (RFC 4028) ---------------------------------------------------------- */

static void st_stop(struct stimer *t)
{
    tmr_cancel(&t->refresh);
    tmr_cancel(&t->expire);
    t->se.interval_s = 0;
}

static void st_refresh_handler(void *arg)
{
    struct stimer *t = arg;
    struct mbuf *desc = NULL;
    /* A re-INVITE with Blend's current SDP (same media, same direction). The next refresh is
     * armed by its 2xx (st_refreshed); without one the expiry timer ends the call. */
    int err = sdp_encode(&desc, t->sdp, true);
    err = err ? err : sipsess_modify(t->sess, desc);
    mem_deref(desc);
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: session refresh not sent: %s",
                       (unsigned long long)t->c->id, strerror(err));
    }
}

static void st_expire_handler(void *arg)
{
    struct stimer *t = arg;
    struct call *c = t->c;
    atomic_fetch_add(&c->cs->counters->session_expired, 1);
    BLEND_LOG_WARN("sip", "call %llu: %s session expired (no refresh within %u s)",
                   (unsigned long long)c->id, t->f ? leg_name(t->f->leg) : "customer",
                   t->se.interval_s);
    if (!t->f) {
        call_end(c, "customer", 408, "session-expired");
    } else if (c->bridged == t->f->leg) {
        call_end(c, leg_name(t->f->leg), 408, "session-expired");
    } else if (c->party == t->f->leg) {
        party_end(c, 408, "failed");
    } else {
        leg_free(t->f->leg);
    }
}

/* (Re)arms the timers from now: a refresh at half the interval when Blend refreshes; the
 * expiry at the interval (Blend refreshes and got no 2xx) or, when the peer refreshes, at the
 * interval less min(32 s, a third) as RFC 4028 section 10 says. */
static void st_arm(struct stimer *t)
{
    if (t->se.interval_s == 0) {
        return;
    }
    uint64_t ms = (uint64_t)t->se.interval_s * 1000;
    uint64_t guard = ms / 3 < 32000 ? ms / 3 : 32000;
    tmr_cancel(&t->refresh);
    if (t->se.we_refresh) {
        tmr_start(&t->refresh, ms / 2, st_refresh_handler, t);
    }
    tmr_start(&t->expire, t->se.we_refresh ? ms : ms - guard, st_expire_handler, t);
}

static void st_start(struct stimer *t, struct call *c, struct fork *f, struct sipsess *sess,
                     struct sdp_session *sdp, const struct blend__sip_se *se)
{
    t->c = c;
    t->f = f;
    t->sess = sess;
    t->sdp = sdp;
    t->se = *se;
    if (se->interval_s) {
        BLEND_LOG_INFO("sip", "call %llu: %s session timer %u s, refresher %s",
                       (unsigned long long)c->id, f ? leg_name(f->leg) : "customer", se->interval_s,
                       se->we_refresh ? "blend" : "peer");
    }
    st_arm(t);
}

/* A refresh went through: the peer's re-INVITE (answered by libre) or a 2xx to ours. libre's
 * answer to a re-INVITE cannot carry Session-Expires, which tells an RFC 4028 peer that the
 * timer is off: from then on Blend refreshes itself, so a dead peer is still found. */
static void st_refreshed(struct stimer *t, bool by_peer)
{
    if (t->se.interval_s == 0) {
        return;
    }
    if (by_peer) {
        t->se.we_refresh = true;
    }
    st_arm(t);
}

/* --- SDP --------------------------------------------------------------------------------- */

static bool has_sdp(const struct sip_msg *msg)
{
    return msg_ctype_cmp(&msg->ctyp, "application", "sdp") && mbuf_get_left(msg->mb) > 0;
}

/* --- Hold / resume ------------------------------------------------------------------------ */

/* The peer of `side` made an offer (decoded into m): hold or resume, mirrored to the other leg.
 * libre stores the remote direction from Blend's point of view (a=sendonly reads RECVONLY). */
static bool sdp_holds(const struct sdp_media *m)
{
    enum sdp_dir peer = sdp_media_rdir(m);
    const struct sa *ra = sdp_media_raddr(m);
    bool null_c = sa_af(ra) == AF_INET && sa_in(ra) == 0 && sa_port(ra) != 0;
    return peer == SDP_RECVONLY || peer == SDP_INACTIVE || null_c;
}

static void hold_check(struct call *c, enum blend__sip_side side, const struct sdp_media *m)
{
    enum sdp_dir peer = sdp_media_rdir(m);
    bool held = sdp_holds(m);
    enum sdp_dir mirror = !held ? SDP_SENDRECV : peer == SDP_INACTIVE ? SDP_INACTIVE : SDP_SENDONLY;
    bool cust = side == BLEND__SIP_CUSTOMER;
    bool *was = cust ? &c->cust_held : &c->agent_held;
    enum sdp_dir *other_dir = cust ? &c->agent_dir : &c->cust_dir;
    bool changed = held != *was;
    *was = held;
    blend__sip_relay_hold(c->relay, side, held);
    if (mirror != *other_dir) {
        *other_dir = mirror;
        other_modify(c, cust ? BLEND__SIP_AGENT : BLEND__SIP_CUSTOMER);
    }
    if (!changed) {
        return;
    }
    struct blend_sip_event ev;
    ev_init(&ev, held ? BLEND_SIP_EV_CALL_HELD : BLEND_SIP_EV_CALL_RESUMED, c,
            c->bridged ? c->bridged->agent_id : 0);
    str_ncpy(ev.leg, cust ? "customer" : leg_name(c->bridged), sizeof(ev.leg));
    BLEND_LOG_INFO("sip", "call %llu: %s %s", (unsigned long long)c->id, ev.leg,
                   held ? "holds" : "resumes");
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* Re-INVITEs the leg on side `to` with the direction Blend now offers it. */
static void other_modify(struct call *c, enum blend__sip_side to)
{
    struct sipsess *sess;
    struct sdp_session *sdp;
    struct sdp_media *m;
    enum sdp_dir dir;
    if (to == BLEND__SIP_CUSTOMER) {
        if (!c->answered || !c->sess) {
            return;
        }
        sess = c->sess, sdp = c->sdp, m = c->m, dir = c->cust_dir;
    } else {
        if (!c->bridged || !c->bridged->winner) {
            return;
        }
        struct fork *f = c->bridged->winner;
        sess = f->sess, sdp = f->sdp, m = f->m, dir = c->agent_dir;
    }
    sdp_media_set_ldir(m, dir);
    struct mbuf *desc = NULL;
    int err = sdp_encode(&desc, sdp, true);
    err = err ? err : sipsess_modify(sess, desc);
    mem_deref(desc);
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: re-INVITE (%s) to the %s failed: %s",
                       (unsigned long long)c->id, sdp_dir_name(dir),
                       to == BLEND__SIP_CUSTOMER ? "customer" : "agent", strerror(err));
    }
}

/* The bridged agent leg is going: a hold it had put on the customer is lifted. */
static void agent_unbridged(struct call *c)
{
    c->agent_held = false;
    c->agent_dir = c->cust_held ? c->agent_dir : SDP_SENDRECV;
    if (c->cust_dir != SDP_SENDRECV && !c->ending) {
        c->cust_dir = SDP_SENDRECV;
        other_modify(c, BLEND__SIP_CUSTOMER);
    }
}

/* --- The customer leg ---------------------------------------------------------------------- */

static int cust_offer_handler(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    bool offer_in = has_sdp(msg);
    if (offer_in) {
        int err = sdp_decode(c->sdp, msg->mb, true);
        if (err) {
            BLEND_LOG_WARN("sip", "call %llu: re-INVITE SDP refused: %s", (unsigned long long)c->id,
                           strerror(err));
            return err;
        }
        int codec_pt, dtmf_pt;
        blend__sip_sdp_chosen(c->m, &codec_pt, &dtmf_pt);
        if (codec_pt < 0) {
            return EPROTO;
        }
        blend__sip_relay_peer(c->relay, BLEND__SIP_CUSTOMER, codec_pt, dtmf_pt,
                              c->inv.offer.rtcp_mux, sdp_media_raddr(c->m));
        hold_check(c, BLEND__SIP_CUSTOMER, c->m);
    }
    st_refreshed(&c->cst, true);
    /* A session refresh: the same media; without an offer ours goes out and the ACK answers. */
    return sdp_encode(descp, c->sdp, !offer_in);
}

/* The customer's answer: to Blend's re-INVITE (hold, refresh), or, for an originated call, to
 * Blend's INVITE (the customer's codec and address for the relay). */
static int cust_answer_handler(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    if (!has_sdp(msg)) {
        return 0;
    }
    int err = sdp_decode(c->sdp, msg->mb, false);
    int codec_pt, dtmf_pt;
    if (!err) {
        blend__sip_sdp_chosen(c->m, &codec_pt, &dtmf_pt);
        err = codec_pt < 0 ? EPROTO : 0;
    }
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: customer answered with unusable SDP: %s",
                       (unsigned long long)c->id, strerror(err));
        return err;
    }
    blend__sip_relay_peer(c->relay, BLEND__SIP_CUSTOMER, codec_pt, dtmf_pt, false,
                          sdp_media_raddr(c->m));
    c->inv.offer.codec_pt = codec_pt;
    if (msg->scode >= 200 && msg->scode < 300) {
        st_refreshed(&c->cst, false);
    }
    return 0;
}

static void cust_estab_handler(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    (void)msg;
    BLEND_LOG_INFO("sip", "call %llu: customer leg established", (unsigned long long)c->id);
}

static void cust_close_handler(int err, const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    if (c->outbound && !c->answered) {
        /* The number did not answer: its final code, then the end of the call. */
        uint16_t code = err == ECONNRESET ? 487 : err_code(err, msg);
        BLEND_LOG_INFO("sip", "call %llu: the number %s failed: %u", (unsigned long long)c->id,
                       c->inv.dialled, code);
        emit_progress(c, "customer", code, fail_cause(code), bridged_agent(c));
        call_end(c, "customer", code, fail_cause(code));
        return;
    }
    if (err == ECONNRESET) {
        call_end(c, "customer", c->answered ? 0 : 487, c->answered ? "bye" : "cancel");
        return;
    }
    uint16_t code = err_code(err, msg);
    BLEND_LOG_WARN("sip", "call %llu: customer leg failed: %u %s", (unsigned long long)c->id, code,
                   err ? strerror(err) : "");
    call_end(c, "customer", code, err == ETIMEDOUT ? "timeout" : "error");
}

/* CANCEL before the call was accepted (our own transaction). */
static void cust_cancel_handler(void *arg)
{
    struct call *c = arg;
    (void)sip_treply(&c->st, c->cs->stack, c->msg, 487, "Request Terminated");
    call_end(c, "customer", 487, "cancel");
}

/* Turns our transaction into a sipsess with a provisional (180) or final (200) answer. */
static int cust_accept(struct call *c, uint16_t scode, const char *reason, struct mbuf *desc,
                       const char *hdrs)
{
    BLEND_ASSERT(!c->sess && c->st && c->msg);
    c->st = mem_deref(c->st);
    int err = sipsess_accept(&c->sess, c->cs->sock, c->msg, scode, reason, CUSER, CTYPE_SDP, desc,
                             NULL, NULL, false, cust_offer_handler, cust_answer_handler,
                             cust_estab_handler, NULL, NULL, cust_close_handler, c,
                             "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n%s", hdrs);
    c->msg = mem_deref((void *)c->msg);
    return err;
}

/* A final refusal to a customer not answered yet. */
static const char *status_phrase(uint16_t code);

static void cust_refuse(struct call *c, uint16_t code, const char *reason)
{
    /* libre refuses a reply without a reason phrase: NULL means the standard one. */
    const char *phrase = reason ? reason : status_phrase(code);
    int err = 0;
    if (c->st) {
        err = sip_treply(&c->st, c->cs->stack, c->msg, code, phrase);
    } else if (c->sess && !c->answered && !c->outbound) {
        err = sipsess_reject(c->sess, code, phrase, NULL);
    }
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: %u %s not sent: %s", (unsigned long long)c->id, code,
                       phrase, strerror(err));
    }
}

static int cust_answer(struct call *c)
{
    struct mbuf *desc = NULL;
    char hdrs[128];
    blend__sip_se_uas_hdrs(&c->cust_se, hdrs, sizeof(hdrs));
    int err = sdp_encode(&desc, c->sdp, false);
    if (!err) {
        err = c->sess ? sipsess_answer(c->sess, 200, "OK", desc, "%s", hdrs)
                      : cust_accept(c, 200, "OK", desc, hdrs);
    }
    mem_deref(desc);
    if (!err) {
        c->answered = true;
        blend__sip_relay_answered(c->relay);
        st_start(&c->cst, c, NULL, c->sess, c->sdp, &c->cust_se);
    }
    return err;
}

/* --- Agent legs -------------------------------------------------------------------------- */

static void fork_free(struct fork *f)
{
    struct call *c = f->leg->call;
    if (c->referrer == f) {
        c->referrer = NULL;
    }
    st_stop(&f->st);
    /* A NOTIFY in flight finishes on its own; its answer no longer reaches us. */
    f->nreq = mem_deref(f->nreq);
    list_unlink(&f->le);
    /* Pending: libre CANCELs; established: libre sends BYE; ended: just freed. */
    mem_deref(f->sess);
    mem_deref(f->sdp);
    blend_free(f);
}

static void leg_free(struct agent_leg *leg)
{
    struct call *c = leg->call;
    tmr_cancel(&leg->tmr);
    while (leg->forks.head) {
        fork_free(leg->forks.head->data);
    }
    if (c->party == leg) {
        c->party = NULL;
        blend__sip_relay_party_close(c->relay);
    }
    if (c->bridged == leg) {
        c->bridged = NULL;
        blend__sip_relay_bridge(c->relay, false);
        agent_unbridged(c);
        /* No third party without a bridged agent. */
        party_end(c, 0, "agent-left");
    }
    if (c->transfer == leg) {
        c->transfer = NULL;
    }
    list_unlink(&leg->le);
    BLEND_ASSERT(c->legs_count > 0);
    c->legs_count--;
    blend_free(leg);
}

static void leg_failed(struct agent_leg *leg, uint16_t code, const char *cause)
{
    struct blend_sip_event ev;
    struct call *c = leg->call;
    if (leg->external) {
        transfer_failed(leg, code, cause);
        return;
    }
    if (leg->party) {
        BLEND_ASSERT(c->party == leg);
        party_end(c, code,
                  code == 486 || code >= 600 ? "busy"
                  : code == 408              ? "timeout"
                                             : "failed");
        return;
    }
    ev_init(&ev, BLEND_SIP_EV_AGENT_FAILED, c, leg->agent_id);
    ev.sip_code = code;
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: agent %lld failed: %u %s", (unsigned long long)c->id,
                   (long long)leg->agent_id, code, cause);
    leg_free(leg);
    c->cs->emit(&ev, c->cs->emit_arg);
    /* Click-to-call: without its agent the call has nothing left (cause may have lived in
     * the freed leg: the event's copy is used). */
    if (c->outbound && !c->sess && !c->bridged && list_isempty(&c->legs)) {
        call_end(c, "agent", code, ev.cause);
    }
}

static void leg_timeout_handler(void *arg)
{
    leg_failed(arg, 408, "timeout");
}

static struct agent_leg *leg_find(const struct call *c, int64_t agent_id)
{
    for (struct le *le = c->legs.head; le; le = le->next) {
        struct agent_leg *leg = le->data;
        if (leg->agent_id == agent_id && !leg->party) {
            return leg;
        }
    }
    return NULL;
}

static void fork_progr_handler(const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    if (leg->party) {
        party_progress(leg, msg);
        return;
    }
    if (leg->external && msg->scode > 100 && msg->scode != leg->progress_sent) {
        leg->progress_sent = msg->scode;
        emit_progress(leg->call, "transfer", msg->scode, msg->scode == 180 ? "ringing" : "progress",
                      bridged_agent(leg->call));
        return;
    }
    if (msg->scode <= 100 || leg->ringing || leg->external) {
        return;
    }
    leg->ringing = true;
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_AGENT_RINGING, leg->call, leg->agent_id);
    leg->call->cs->emit(&ev, leg->call->cs->emit_arg);
}

/* A re-INVITE from the agent's phone (session refresh): answered from the fork's SDP. */
static int fork_offer_handler(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    bool offer_in = has_sdp(msg);
    if (offer_in) {
        int err = sdp_decode(f->sdp, msg->mb, true);
        int codec_pt, dtmf_pt;
        if (!err) {
            blend__sip_sdp_chosen(f->m, &codec_pt, &dtmf_pt);
            err = codec_pt < 0 ? EPROTO : 0;
        }
        if (err) {
            return err;
        }
        if (leg->winner == f && leg->call->bridged == leg) {
            blend__sip_relay_peer(leg->call->relay, BLEND__SIP_AGENT, codec_pt, dtmf_pt, false,
                                  sdp_media_raddr(f->m));
            hold_check(leg->call, BLEND__SIP_AGENT, f->m);
        } else if (leg->winner == f && leg->party) {
            /* The party's hold only mutes it in the mix: nobody else is re-INVITEd. */
            blend__sip_relay_peer(leg->call->relay, BLEND__SIP_PARTY, codec_pt, dtmf_pt, false,
                                  sdp_media_raddr(f->m));
            blend__sip_relay_hold(leg->call->relay, BLEND__SIP_PARTY, sdp_holds(f->m));
        }
    }
    st_refreshed(&f->st, true);
    return sdp_encode(descp, f->sdp, !offer_in);
}

static int fork_answer_handler(const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    if (!has_sdp(msg)) {
        return EPROTO;
    }
    int err = sdp_decode(f->sdp, msg->mb, false);
    int codec_pt, dtmf_pt;
    if (!err) {
        blend__sip_sdp_chosen(f->m, &codec_pt, &dtmf_pt);
        err = codec_pt < 0 ? EPROTO : 0;
    }
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: agent %lld answered with unusable SDP: %s",
                       (unsigned long long)f->leg->call->id, (long long)f->leg->agent_id,
                       strerror(err));
    } else if (f->leg->winner == f) {
        /* The 2xx of Blend's re-INVITE (hold, refresh). */
        st_refreshed(&f->st, false);
    }
    return err;
}

/* --- REFER and its NOTIFYs (blind transfer) ------------------------------------------------ */

static const char *status_phrase(uint16_t code)
{
    switch (code) {
    case 100:
        return "Trying";
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 415:
        return "Unsupported Media Type";
    case 480:
        return "Temporarily Unavailable";
    case 481:
        return "Call/Transaction Does Not Exist";
    case 486:
        return "Busy Here";
    case 488:
        return "Not Acceptable Here";
    case 487:
        return "Request Terminated";
    case 491:
        return "Request Pending";
    case 503:
        return "Service Unavailable";
    case 603:
        return "Decline";
    }
    return code >= 600 ? "Global Failure" : code >= 500 ? "Server Error" : "Request Failed";
}

static int notify_send_handler(enum sip_transp tp, const struct sa *src, const struct sa *dst,
                               struct mbuf *mb, void *arg)
{
    struct sip_contact contact;
    (void)dst;
    (void)arg;
    sip_contact_set(&contact, CUSER, src, tp);
    return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}

static void notify_send(struct fork *f, uint16_t code);

static void notify_resp_handler(int err, const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    if (!err && msg && msg->scode < 200) {
        return;
    }
    if (err || (msg && msg->scode >= 300)) {
        BLEND_LOG_INFO("sip", "call %llu: NOTIFY to the referring phone: %s %u",
                       (unsigned long long)f->leg->call->id, err ? strerror(err) : "",
                       msg ? msg->scode : 0);
    }
    if (f->notify_next) {
        uint16_t next = f->notify_next;
        f->notify_next = 0;
        notify_send(f, next);
        return;
    }
    if (f->notify_final_sent && f->bye_after_notify) {
        /* The transfer is reported: now the agent's leg goes (BYE). */
        leg_free(f->leg);
    }
}

/* NOTIFY with a sipfrag status line in the phone's dialog; one in flight at a time (the next
 * waits for its answer, so CSeq order and arrival order agree). A final code (>= 200) ends the
 * implicit subscription. */
static void notify_send(struct fork *f, uint16_t code)
{
    if (f->nreq) {
        f->notify_next = code;
        return;
    }
    char frag[64];
    int n = re_snprintf(frag, sizeof(frag), "SIP/2.0 %u %s\r\n", code, status_phrase(code));
    bool final = code >= 200;
    int err =
        sip_drequestf(&f->nreq, f->leg->call->cs->stack, true, "NOTIFY", sipsess_dialog(f->sess), 0,
                      NULL, notify_send_handler, notify_resp_handler, f,
                      "Event: refer\r\n"
                      "Subscription-State: %s\r\n"
                      "Content-Type: message/sipfrag;version=2.0\r\n"
                      "Content-Length: %d\r\n"
                      "\r\n"
                      "%s",
                      final ? "terminated;reason=noresource" : "active;expires=60", n, frag);
    f->notify_final_sent = f->notify_final_sent || final;
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: NOTIFY %u not sent: %s",
                       (unsigned long long)f->leg->call->id, code, strerror(err));
        if (final && f->bye_after_notify) {
            leg_free(f->leg);
        }
    }
}

/* Ends the pending REFER with its final NOTIFY. With hangup, the referring leg is hung up once
 * that NOTIFY is answered; returns true then (the caller must not touch that leg again). */
static bool refer_finish(struct call *c, uint16_t code, bool hangup)
{
    struct fork *f = c->referrer;
    if (!f) {
        return false;
    }
    c->referrer = NULL;
    f->bye_after_notify = hangup;
    notify_send(f, code);
    return hangup;
}

/* Why `consult` cannot hand its far party to `c` in an attended transfer that agent_id's phone
 * asked for (NULL: it can). The consultation must be a call that phone placed (its caller's
 * leg is the phone's dialog), answered by an agent's phone or a number, with nothing else under
 * way on either call. */
static const char *replace_refusal(const struct call *c, int64_t agent_id,
                                   const struct call *consult)
{
    if (!consult || consult == c || consult->outbound || !consult->sess) {
        return "no such consultation";
    }
    if (consult->inv.agent_id != agent_id) {
        return "the consultation is another phone's";
    }
    if (!consult->bridged || !consult->bridged->winner || !consult->answered) {
        return "the consultation is not answered";
    }
    if (c->party || c->transfer || consult->party || consult->transfer || consult->referrer) {
        return "another transfer or party is under way";
    }
    return NULL;
}

struct dialog_match {
    struct sip_msg req, swapped; /* the dialog as a request to Blend would name it, both ways */
};

static bool dialog_apply(struct le *le, void *arg)
{
    const struct call *c = le->data;
    const struct dialog_match *m = arg;
    const struct sip_dialog *dlg = c->sess ? sipsess_dialog(c->sess) : NULL;
    return dlg && (sip_dialog_cmp(dlg, &m->req) || sip_dialog_cmp(dlg, &m->swapped));
}

/* The call whose caller's dialog (a phone's INVITE to Blend) the Replaces names, else NULL.
 * Transferors differ on which tag they call to-tag: both readings are tried (the tags of one
 * dialog are distinct, so at most one matches). */
static struct call *call_by_dialog(const struct blend__sip_calls *cs,
                                   const struct blend__sip_replaces *rep)
{
    struct dialog_match m;
    memset(&m, 0, sizeof(m));
    m.req.req = true;
    pl_set_str(&m.req.callid, rep->call_id);
    pl_set_str(&m.req.to.tag, rep->to_tag);
    pl_set_str(&m.req.from.tag, rep->from_tag);
    m.swapped = m.req;
    m.swapped.to.tag = m.req.from.tag;
    m.swapped.from.tag = m.req.to.tag;
    struct le *le = hash_apply(cs->calls, dialog_apply, &m);
    return le ? le->data : NULL;
}

static void fork_refer_handler(struct sip *stack, const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    struct call *c = leg->call;
    char user[BLEND_SIP_EXTENSION_BYTES_MAX];
    struct blend__sip_replaces rep;
    if (leg->winner != f || c->bridged != leg || leg->external) {
        (void)sip_reply(stack, msg, 403, "Forbidden");
        return;
    }
    if (c->referrer || c->transfer) {
        (void)sip_reply(stack, msg, 491, "Request Pending");
        return;
    }
    enum blend__sip_refer_verdict v = blend__sip_refer_target(msg, user, sizeof(user), &rep);
    if (v != BLEND__SIP_REFER_OK && v != BLEND__SIP_REFER_REPLACES) {
        const struct sip_hdr *rt = sip_msg_hdr(msg, SIP_HDR_REFER_TO);
        char text[BLEND_SIP_URI_BYTES_MAX];
        blend__sip_pl_copy(rt ? &rt->val : &pl_null, text, sizeof(text));
        BLEND_LOG_INFO("sip", "call %llu: REFER from agent %lld refused: %s \"%s\"",
                       (unsigned long long)c->id, (long long)leg->agent_id,
                       v == BLEND__SIP_REFER_BAD ? "bad Refer-To" : "method not INVITE", text);
        (void)sip_reply(stack, msg, v == BLEND__SIP_REFER_BAD ? 400 : 501,
                        v == BLEND__SIP_REFER_BAD ? "Bad Refer-To" : "Not Implemented");
        return;
    }
    struct call *consult = NULL;
    if (v == BLEND__SIP_REFER_REPLACES) {
        consult = call_by_dialog(c->cs, &rep);
        const char *why = replace_refusal(c, leg->agent_id, consult);
        if (why) {
            bool busy = consult && strstr(why, "under way");
            BLEND_LOG_INFO("sip", "call %llu: attended transfer from agent %lld refused: %s "
                           "(Replaces %s;to-tag=%s;from-tag=%s)",
                           (unsigned long long)c->id, (long long)leg->agent_id, why, rep.call_id,
                           rep.to_tag, rep.from_tag);
            (void)sip_reply(stack, msg, busy ? 491 : 481,
                            busy ? "Request Pending" : "Call/Transaction Does Not Exist");
            return;
        }
    }
    if (sip_treplyf(NULL, NULL, stack, msg, false, 202, "Accepted", "Content-Length: 0\r\n\r\n")) {
        return;
    }
    atomic_fetch_add(&c->cs->counters->transfers, 1);
    c->referrer = f;
    notify_send(f, 100);
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_TRANSFER_REQUESTED, c, leg->agent_id);
    str_ncpy(ev.dialled, user, sizeof(ev.dialled));
    ev.other_call = consult ? consult->id : 0;
    if (consult) {
        BLEND_LOG_INFO("sip", "call %llu: agent %lld transfers to the party of call %llu",
                       (unsigned long long)c->id, (long long)leg->agent_id,
                       (unsigned long long)consult->id);
    } else {
        BLEND_LOG_INFO("sip", "call %llu: agent %lld transfers to %s", (unsigned long long)c->id,
                       (long long)leg->agent_id, user);
    }
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* Attended transfer asked for by the bridged phone's REFER with Replaces: the consultation's
 * far leg (an agent's phone or a number) moves into this call and takes the customer; it is
 * re-INVITEd onto this call's agent-side socket. The referring phone gets NOTIFY "200 OK" then
 * BYE; the consultation ends ("replaced": its caller's leg, the same phone, gets BYE). */
static void cmd_replace(struct call *c, uint64_t consult_id)
{
    struct fork *rf = c->referrer;
    struct call *consult = call_find(c->cs, consult_id);
    const char *why = !rf || c->bridged != rf->leg ? "no REFER pending"
                                                    : replace_refusal(c, rf->leg->agent_id, consult);
    if (why) {
        BLEND_LOG_INFO("sip", "call %llu: attended transfer to the party of call %llu not done: %s",
                       (unsigned long long)c->id, (unsigned long long)consult_id, why);
        (void)refer_finish(c, 481, false);
        return;
    }
    struct agent_leg *old = c->bridged, *b = consult->bridged;
    struct fork *fb = b->winner;
    /* Out of the consultation (its relay stops; it is freed below)... */
    consult->bridged = NULL;
    blend__sip_relay_bridge(consult->relay, false);
    list_unlink(&b->le);
    consult->legs_count--;
    /* ...into this call, on the agent side. */
    b->call = c;
    list_append(&c->legs, &b->le, b);
    c->legs_count++;
    fb->st.c = c;
    play_end(c, "stopped");
    c->bridged = b;
    blend__sip_relay_rebridge(c->relay);
    blend__sip_relay_hold(c->relay, BLEND__SIP_AGENT, false);
    /* The referring phone's hold on the customer is lifted; the new side's own hold stays. */
    agent_unbridged(c);
    int codec_pt, dtmf_pt;
    blend__sip_sdp_chosen(fb->m, &codec_pt, &dtmf_pt);
    blend__sip_relay_peer(c->relay, BLEND__SIP_AGENT, codec_pt, dtmf_pt, false,
                          sdp_media_raddr(fb->m));
    const struct sa *la = blend__sip_relay_laddr(c->relay, BLEND__SIP_AGENT);
    sdp_session_set_laddr(fb->sdp, la);
    sdp_media_set_laddr(fb->m, la);
    hold_check(c, BLEND__SIP_AGENT, fb->m);
    other_modify(c, BLEND__SIP_AGENT);
    if (!refer_finish(c, 200, true)) {
        leg_free(old);
    }
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_AGENT_REPLACED, c, b->agent_id);
    ev.other_call = consult->id;
    str_ncpy(ev.leg, leg_name(b), sizeof(ev.leg));
    str_ncpy(ev.dialled, b->external ? consult->inv.dialled : "", sizeof(ev.dialled));
    str_ncpy(ev.contact, fb->contact, sizeof(ev.contact));
    str_ncpy(ev.cause, codec_pt == BLEND__SIP_PT_PCMA ? "pcma" : "pcmu", sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: the party of call %llu (%s %lld) takes the customer",
                   (unsigned long long)c->id, (unsigned long long)consult->id, ev.leg,
                   (long long)b->agent_id);
    c->cs->emit(&ev, c->cs->emit_arg);
    call_end(consult, "blend", 0, "replaced");
}

/* --- External legs (the trunk) ------------------------------------------------------------- */

static int trunk_auth_handler(char **user, char **password, const char *realm, void *arg)
{
    const struct blend__sip_calls *cs = arg;
    (void)realm;
    if (cs->set->trunk_user[0] == '\0') {
        return EAUTH;
    }
    int err = str_dup(user, cs->set->trunk_user);
    return err ? err : str_dup(password, cs->set->trunk_password);
}

static void trunk_uri(const struct blend__sip_calls *cs, const char *number, char *out, size_t cap)
{
    (void)re_snprintf(out, cap, "sip:%s@%s", number, cs->set->trunk_hostport);
}

/* The external leg answered: the customer is bridged to it; the agent leg (if any) goes, after
 * the final NOTIFY when its phone had sent REFER. */
static void transfer_answered(struct call *c, struct agent_leg *leg, struct fork *f,
                              const struct sip_msg *msg)
{
    struct agent_leg *old = c->bridged;
    c->transfer = NULL;
    tmr_cancel(&leg->tmr);
    leg->winner = f;
    /* The number takes the customer: a play to it ends first. */
    play_end(c, "stopped");
    int codec_pt, dtmf_pt;
    blend__sip_sdp_chosen(f->m, &codec_pt, &dtmf_pt);
    c->bridged = leg;
    if (old) {
        party_end(c, 0, "agent-left");
        /* The old phone sends until its BYE arrives: the relay ignores it from now on; a hold
         * it had put on the customer is lifted. */
        blend__sip_relay_rebridge(c->relay);
        agent_unbridged(c);
    } else {
        blend__sip_relay_bridge(c->relay, true);
    }
    blend__sip_relay_peer(c->relay, BLEND__SIP_AGENT, codec_pt, dtmf_pt, false,
                          sdp_media_raddr(f->m));
    struct blend__sip_se se;
    blend__sip_se_uac(c->cs->set, msg, &se);
    st_start(&f->st, c, f, f->sess, f->sdp, &se);
    if (!c->answered) {
        int err = cust_answer(c);
        if (err) {
            BLEND_LOG_ERROR("sip", "call %llu: answering the customer failed: %s",
                            (unsigned long long)c->id, strerror(err));
            call_end(c, "blend", 500, "answer-failed");
            return;
        }
    }
    emit_progress(c, "transfer", 200, "answered", old ? old->agent_id : 0);
    if (old && !refer_finish(c, 200, true)) {
        leg_free(old);
    }
}

static void transfer_failed(struct agent_leg *leg, uint16_t code, const char *cause)
{
    struct call *c = leg->call;
    char why[sizeof(leg->fail_cause)];
    str_ncpy(why, cause, sizeof(why)); /* cause may live in the leg */
    leg_free(leg);
    emit_progress(c, "transfer", code, why, bridged_agent(c));
    if (c->bridged) {
        /* The agent is still there: the customer stays with the agent. */
        (void)refer_finish(c, code, false);
        return;
    }
    cust_refuse(c, code, NULL);
    call_end(c, "blend", code, "transfer-failed");
}

/* --- Agent legs: answers and endings ------------------------------------------------------- */

static void cust_dial(struct call *c);

/* The first 200 of a leg: bridge it (unless another leg was bridged first). */
static void fork_estab_handler(const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    struct call *c = leg->call;
    if (leg->external) {
        transfer_answered(c, leg, f, msg);
        return;
    }
    if (leg->party) {
        party_answered(c, leg, f, msg);
        return;
    }
    if (c->bridged && c->bridged != leg) {
        leg_failed(leg, 487, "call-taken");
        return;
    }
    leg->winner = f;
    tmr_cancel(&leg->tmr);
    for (struct le *le = leg->forks.head; le;) {
        struct fork *other = le->data;
        le = le->next;
        if (other != f) {
            fork_free(other);
        }
    }
    int codec_pt, dtmf_pt;
    blend__sip_sdp_chosen(f->m, &codec_pt, &dtmf_pt);
    /* The agent takes the customer: a play to it ends first (before AGENT_ANSWERED). */
    play_end(c, "stopped");
    c->bridged = leg;
    blend__sip_relay_bridge(c->relay, true);
    blend__sip_relay_peer(c->relay, BLEND__SIP_AGENT, codec_pt, dtmf_pt, false,
                          sdp_media_raddr(f->m));
    struct blend__sip_se se;
    blend__sip_se_uac(c->cs->set, msg, &se);
    st_start(&f->st, c, f, f->sess, f->sdp, &se);
    if (!c->answered && !c->outbound) {
        int err = cust_answer(c);
        if (err) {
            BLEND_LOG_ERROR("sip", "call %llu: answering the customer failed: %s",
                            (unsigned long long)c->id, strerror(err));
            call_end(c, "blend", 500, "answer-failed");
            return;
        }
    }
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_AGENT_ANSWERED, c, leg->agent_id);
    str_ncpy(ev.contact, f->contact, sizeof(ev.contact));
    str_ncpy(ev.cause, codec_pt == BLEND__SIP_PT_PCMA ? "pcma" : "pcmu", sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: agent %lld answered on %s (%s)", (unsigned long long)c->id,
                   (long long)leg->agent_id, f->contact, ev.cause);
    c->cs->emit(&ev, c->cs->emit_arg);
    if (c->outbound && !c->sess) {
        /* Click-to-call: the agent is there; now the number. */
        cust_dial(c);
    }
}

/* keep_customer: the bridged leg hung up, the customer stays answered and unbridged, and the
 * host hears AGENT_LEFT (a party still there ends first, as when an agent leaves). */
static void agent_left(struct call *c, struct agent_leg *leg)
{
    int64_t agent_id = leg->agent_id;
    BLEND_LOG_INFO("sip", "call %llu: %s %lld left; the customer stays", (unsigned long long)c->id,
                   leg_name(leg), (long long)agent_id);
    party_end(c, 0, "agent-left");
    leg_free(leg);
    ivr_take(c);
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_AGENT_LEFT, c, agent_id);
    c->cs->emit(&ev, c->cs->emit_arg);
}

static void fork_close_handler(int err, const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    struct call *c = leg->call;
    if (leg->winner == f && leg->party) {
        bool bye = err == ECONNRESET;
        party_end(c, bye ? 0 : err_code(err, msg), bye ? "bye" : "failed");
        return;
    }
    if (leg->winner == f) {
        /* The bridged party hung up (or its dialog failed): the call ends, unless a transfer is
         * under way (the referring agent leaves; the customer waits for the host's action). */
        bool bye = err == ECONNRESET;
        if (!bye) {
            BLEND_LOG_WARN("sip", "call %llu: %s leg failed: %s", (unsigned long long)c->id,
                           leg_name(leg), strerror(err));
        }
        if (c->bridged == leg && (c->referrer == f || c->transfer)) {
            BLEND_LOG_INFO("sip", "call %llu: agent %lld left during the transfer",
                           (unsigned long long)c->id, (long long)leg->agent_id);
            leg_free(leg);
        } else if (c->bridged == leg && party_takes_over(c)) {
            leg_free(leg);
        } else if (c->bridged == leg && c->keep_customer && c->answered) {
            agent_left(c, leg);
        } else if (c->bridged == leg) {
            party_end(c, 0, "agent-left");
            call_end(c, leg_name(leg), bye ? 0 : err_code(err, msg), bye ? "bye" : "error");
        } else {
            /* Withdrawn after answering, then gone: nothing to report. */
            leg_free(leg);
        }
        return;
    }
    uint16_t code = err_code(err, msg);
    /* Across forks, a decline (6xx) or busy (486) says most; else the first answer stands. */
    if (leg->fail_code == 0 || code >= 600 || (code == 486 && leg->fail_code < 600)) {
        leg->fail_code = code;
        str_ncpy(leg->fail_cause, fail_cause(code), sizeof(leg->fail_cause));
    }
    char why[64];
    BLEND_LOG_INFO("sip", "call %llu: %s %lld phone %s: %u %s", (unsigned long long)c->id,
                   leg_name(leg), (long long)leg->agent_id, f->contact, code,
                   err ? str_error(err, why, sizeof(why)) : "");
    fork_free(f);
    if (list_isempty(&leg->forks)) {
        leg_failed(leg, leg->fail_code, leg->fail_cause);
    }
}

/* One INVITE of a leg to to_uri (route: NULL or one Route URI), with Blend's agent-side SDP
 * offering the customer's codec first. */
static int fork_connect(struct call *c, struct agent_leg *leg, const char *to_uri,
                        const char *route, bool trunk_auth)
{
    struct blend__sip_calls *cs = c->cs;
    struct fork *f = blend_calloc(1, sizeof(*f));
    if (!f) {
        return ENOMEM;
    }
    f->leg = leg;
    tmr_init(&f->st.refresh);
    tmr_init(&f->st.expire);
    str_ncpy(f->contact, to_uri, sizeof(f->contact));
    list_append(&leg->forks, &f->le, f);
    int other_pt =
        c->inv.offer.codec_pt == BLEND__SIP_PT_PCMU ? BLEND__SIP_PT_PCMA : BLEND__SIP_PT_PCMU;
    int err = blend__sip_sdp_make(
        blend__sip_relay_laddr(c->relay, leg->party ? BLEND__SIP_PARTY : BLEND__SIP_AGENT),
        c->inv.offer.codec_pt, other_pt, c->inv.offer.dtmf_pt >= 0 ? c->inv.offer.dtmf_pt : 101,
        &f->sdp, &f->m);
    struct mbuf *desc = NULL;
    if (!err) {
        /* A customer on hold stays on hold for the new leg (a party hears the mix). */
        sdp_media_set_ldir(f->m, leg->party ? SDP_SENDRECV : c->agent_dir);
        err = sdp_encode(&desc, f->sdp, true);
    }
    /* A supervisor's phone shows "monitor"; a consulted party sees the customer's caller ID. */
    bool monitor = leg->party && leg->mode != BLEND_SIP_PARTY_CONSULT &&
                   leg->mode != BLEND_SIP_PARTY_CONFERENCE;
    const char *display = monitor ? "monitor" : c->inv.caller_name[0] ? c->inv.caller_name : NULL;
    char from_uri[BLEND_SIP_EXTENSION_BYTES_MAX + 80], se_hdrs[96];
    const char *routev[1] = {route};
    /* Toward the trunk the presented number follows the trunk's caller-ID rules. */
    char presented[BLEND_SIP_EXTENSION_BYTES_MAX], pai[BLEND_SIP_EXTENSION_BYTES_MAX + 96];
    str_ncpy(presented, c->inv.caller, sizeof(presented));
    pai[0] = '\0';
    if (trunk_auth) {
        blend__sip_trunk_caller_id(cs->set, c->inv.caller, presented, sizeof(presented));
        blend__sip_trunk_pai_hdr(cs->set, presented, &cs->media_addr, pai, sizeof(pai));
    }
    (void)re_snprintf(from_uri, sizeof(from_uri), "sip:%s@%j", presented, &cs->media_addr);
    blend__sip_se_uac_hdrs(cs->set, se_hdrs, sizeof(se_hdrs));
    if (!err) {
        err = sipsess_connect(&f->sess, cs->sock, to_uri, display, from_uri, CUSER,
                              route ? routev : NULL, route ? 1 : 0, CTYPE_SDP, desc,
                              trunk_auth ? trunk_auth_handler : NULL, cs, false, fork_offer_handler,
                              fork_answer_handler, fork_progr_handler, fork_estab_handler, NULL,
                              leg->external ? NULL : fork_refer_handler, fork_close_handler, f,
                              "Max-Forwards: 70\r\n"
                              "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER\r\n"
                              "Supported: timer\r\n"
                              "%s%s",
                              se_hdrs, pai);
    }
    mem_deref(desc);
    if (err) {
        char why[64];
        BLEND_LOG_WARN("sip", "call %llu: INVITE to %s failed: %s", (unsigned long long)c->id,
                       to_uri, str_error(err, why, sizeof(why)));
        fork_free(f);
    }
    return err;
}

/* The Request-URI is the Contact; a Route to the registered source is added only when they
 * differ (a phone behind NAT), so the INVITE goes back the way the REGISTER came. */
static int fork_start(struct call *c, struct agent_leg *leg, const struct blend__sip_target *t)
{
    char route[BLEND_SIP_ADDR_BYTES_MAX + 32];
    struct uri cu;
    struct sa caddr;
    struct pl pl;
    pl_set_str(&pl, t->contact);
    bool direct = uri_decode(&cu, &pl) == 0 &&
                  sa_set(&caddr, &cu.host, cu.port ? cu.port : 5060) == 0 &&
                  sa_cmp(&caddr, &t->src, SA_ALL);
    (void)re_snprintf(route, sizeof(route), "sip:%J;transport=%s", &t->src,
                      t->tp == SIP_TRANSP_TLS   ? "tls"
                      : t->tp == SIP_TRANSP_TCP ? "tcp"
                                                : "udp");
    return fork_connect(c, leg, t->contact, direct ? NULL : route, false);
}

/* --- The customer leg of a click-to-call (Blend's INVITE through the trunk) -------------- */

static void cust_out_progr_handler(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    if (msg->scode <= 100 || msg->scode == c->cust_progress) {
        return;
    }
    if (has_sdp(msg) && cust_answer_handler(msg, c) != 0) {
        return;
    }
    c->cust_progress = msg->scode;
    emit_progress(c, "customer", msg->scode, msg->scode == 180 ? "ringing" : "progress",
                  bridged_agent(c));
}

static void cust_out_estab_handler(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    c->answered = true;
    blend__sip_relay_answered(c->relay);
    struct blend__sip_se se;
    blend__sip_se_uac(c->cs->set, msg, &se);
    st_start(&c->cst, c, NULL, c->sess, c->sdp, &se);
    emit_progress(c, "customer", 200, "answered", bridged_agent(c));
}

static void cust_dial(struct call *c)
{
    struct blend__sip_calls *cs = c->cs;
    char to_uri[BLEND_SIP_URI_BYTES_MAX + BLEND_SIP_EXTENSION_BYTES_MAX];
    char from_uri[BLEND_SIP_EXTENSION_BYTES_MAX + 80], se_hdrs[96];
    char presented[BLEND_SIP_EXTENSION_BYTES_MAX], pai[BLEND_SIP_EXTENSION_BYTES_MAX + 96];
    trunk_uri(cs, c->inv.dialled, to_uri, sizeof(to_uri));
    blend__sip_trunk_caller_id(cs->set, c->inv.caller, presented, sizeof(presented));
    blend__sip_trunk_pai_hdr(cs->set, presented, &cs->media_addr, pai, sizeof(pai));
    (void)re_snprintf(from_uri, sizeof(from_uri), "sip:%s@%j", presented, &cs->media_addr);
    blend__sip_se_uac_hdrs(cs->set, se_hdrs, sizeof(se_hdrs));
    struct mbuf *desc = NULL;
    sdp_media_set_ldir(c->m, c->cust_dir);
    int err = sdp_encode(&desc, c->sdp, true);
    if (!err) {
        err = sipsess_connect(&c->sess, cs->sock, to_uri, NULL, from_uri, CUSER, NULL, 0, CTYPE_SDP,
                              desc, trunk_auth_handler, cs, false, cust_offer_handler,
                              cust_answer_handler, cust_out_progr_handler, cust_out_estab_handler,
                              NULL, NULL, cust_close_handler, c,
                              "Max-Forwards: 70\r\n"
                              "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
                              "Supported: timer\r\n"
                              "%s%s",
                              se_hdrs, pai);
    }
    mem_deref(desc);
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: INVITE to %s failed: %s", (unsigned long long)c->id,
                       to_uri, strerror(err));
        emit_progress(c, "customer", 503, "failed", bridged_agent(c));
        call_end(c, "blend", 503, "dial-failed");
        return;
    }
    BLEND_LOG_INFO("sip", "call %llu: dialling %s as %s", (unsigned long long)c->id, to_uri,
                   c->inv.caller);
}

static void cmd_offer(struct call *c, int64_t agent_id, int timeout_s)
{
    struct blend__sip_target targets[BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX];
    if (leg_find(c, agent_id)) {
        BLEND_LOG_INFO("sip", "call %llu: agent %lld already offered", (unsigned long long)c->id,
                       (long long)agent_id);
        return;
    }
    struct agent_leg *leg = blend_calloc(1, sizeof(*leg));
    if (!leg) {
        BLEND_LOG_ERROR("sip", "call %llu: out of memory offering agent %lld",
                        (unsigned long long)c->id, (long long)agent_id);
        struct blend_sip_event ev;
        ev_init(&ev, BLEND_SIP_EV_AGENT_FAILED, c, agent_id);
        ev.sip_code = 503;
        str_ncpy(ev.cause, "no-memory", sizeof(ev.cause));
        c->cs->emit(&ev, c->cs->emit_arg);
        return;
    }
    leg->call = c;
    leg->agent_id = agent_id;
    tmr_init(&leg->tmr);
    list_append(&c->legs, &leg->le, leg);
    c->legs_count++;
    if (c->legs_count > BLEND_SIP_CALL_AGENT_LEGS_MAX) {
        leg_failed(leg, 503, "too-many-legs");
        return;
    }
    uint32_t n = blend__sip_reg_agent_targets(c->cs->reg, agent_id, targets,
                                              BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX);
    if (n == 0) {
        leg_failed(leg, 408, "no-binding");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        (void)fork_start(c, leg, &targets[i]);
    }
    if (list_isempty(&leg->forks)) {
        leg_failed(leg, 503, "send-failed");
        return;
    }
    int t = timeout_s > 0 ? timeout_s : BLEND_SIP_OFFER_TIMEOUT_S_DEFAULT;
    tmr_start(&leg->tmr, (uint64_t)t * 1000, leg_timeout_handler, leg);
    BLEND_LOG_INFO("sip", "call %llu: offered to agent %lld on %u phone(s)",
                   (unsigned long long)c->id, (long long)agent_id, n);
}

/* --- The third party (monitoring, consultation, conference, attended transfer) ------------ */

static const char *party_mode_name(int mode)
{
    static const char *const names[] = {"?", "listen", "whisper", "barge", "consult", "conference"};
    return mode >= BLEND_SIP_PARTY_LISTEN && mode <= BLEND_SIP_PARTY_CONFERENCE ? names[mode] : "?";
}

static void party_ev(struct blend_sip_event *ev, enum blend_sip_event_kind kind,
                     const struct call *c, const struct agent_leg *leg)
{
    ev_init(ev, kind, c, leg->agent_id);
    str_ncpy(ev->dialled, leg->dialled, sizeof(ev->dialled));
}

/* PARTY_ENDED and the party leg goes (CANCEL / BYE by libre). Nothing without a party, and
 * nothing while call_free runs (the call's own end already reported it). */
static void party_end(struct call *c, uint16_t code, const char *cause)
{
    struct agent_leg *leg = c->party;
    if (!leg || c->ending) {
        return;
    }
    struct blend_sip_event ev;
    party_ev(&ev, BLEND_SIP_EV_PARTY_ENDED, c, leg);
    ev.sip_code = code;
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: party %lld%s%s ended: %u %s", (unsigned long long)c->id,
                   (long long)leg->agent_id, leg->dialled[0] ? " " : "", leg->dialled, code, cause);
    leg_free(leg);
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* A party command that cannot start a leg: PARTY_ENDED at once, nothing changes. */
static void party_refuse(struct call *c, const struct blend__sip_call_cmd_data *d, uint16_t code)
{
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_PARTY_ENDED, c, d->agent_id);
    str_ncpy(ev.dialled, d->number, sizeof(ev.dialled));
    ev.sip_code = code;
    str_ncpy(ev.cause, "failed", sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: party %lld%s%s refused: %u", (unsigned long long)c->id,
                   (long long)d->agent_id, d->number[0] ? " " : "", d->number, code);
    c->cs->emit(&ev, c->cs->emit_arg);
}

static void party_progress(struct agent_leg *leg, const struct sip_msg *msg)
{
    if (msg->scode <= 100 || leg->ringing) {
        return;
    }
    leg->ringing = true;
    struct blend_sip_event ev;
    party_ev(&ev, BLEND_SIP_EV_PARTY_RINGING, leg->call, leg);
    leg->call->cs->emit(&ev, leg->call->cs->emit_arg);
}

/* The party's first 200: its other forks go, its media joins the mix in its mode. */
static void party_answered(struct call *c, struct agent_leg *leg, struct fork *f,
                           const struct sip_msg *msg)
{
    BLEND_ASSERT(c->party == leg && c->bridged);
    leg->winner = f;
    tmr_cancel(&leg->tmr);
    for (struct le *le = leg->forks.head; le;) {
        struct fork *other = le->data;
        le = le->next;
        if (other != f) {
            fork_free(other);
        }
    }
    int codec_pt, dtmf_pt;
    blend__sip_sdp_chosen(f->m, &codec_pt, &dtmf_pt);
    blend__sip_relay_peer(c->relay, BLEND__SIP_PARTY, codec_pt, dtmf_pt, false,
                          sdp_media_raddr(f->m));
    struct blend__sip_se se;
    blend__sip_se_uac(c->cs->set, msg, &se);
    st_start(&f->st, c, f, f->sess, f->sdp, &se);
    blend__sip_relay_party_mode(c->relay, leg->mode);
    struct blend_sip_event ev;
    party_ev(&ev, BLEND_SIP_EV_PARTY_ANSWERED, c, leg);
    str_ncpy(ev.contact, f->contact, sizeof(ev.contact));
    str_ncpy(ev.cause, codec_pt == BLEND__SIP_PT_PCMA ? "pcma" : "pcmu", sizeof(ev.cause));
    ev.party_mode = leg->mode;
    BLEND_LOG_INFO("sip", "call %llu: party %lld answered on %s (%s), %s",
                   (unsigned long long)c->id, (long long)leg->agent_id, f->contact, ev.cause,
                   party_mode_name(leg->mode));
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* The answered party becomes the bridged side; the caller lets the old agent leg go. */
static void party_promote(struct call *c, const char *cause)
{
    struct agent_leg *p = c->party;
    BLEND_ASSERT(p && p->winner && c->bridged && c->bridged != p);
    c->party = NULL;
    p->party = false;
    blend__sip_relay_party_promote(c->relay);
    blend__sip_relay_hold(c->relay, BLEND__SIP_AGENT, false);
    c->bridged = p;
    /* A hold the old agent had put on the customer is lifted; a customer who holds stays held
     * for the new side. */
    agent_unbridged(c);
    if (c->agent_dir != SDP_SENDRECV) {
        other_modify(c, BLEND__SIP_AGENT);
    }
    struct blend_sip_event ev;
    party_ev(&ev, BLEND_SIP_EV_PARTY_COMPLETED, c, p);
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: party %lld%s%s takes the agent's place%s%s",
                   (unsigned long long)c->id, (long long)p->agent_id, p->dialled[0] ? " " : "",
                   p->dialled, cause[0] ? ": " : "", cause);
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* The bridged agent hung up: an answered CONSULT / CONFERENCE party takes its place (true);
 * otherwise the caller ends the party and the call as usual. */
static bool party_takes_over(struct call *c)
{
    struct agent_leg *p = c->party;
    if (!p || !p->winner ||
        (p->mode != BLEND_SIP_PARTY_CONSULT && p->mode != BLEND_SIP_PARTY_CONFERENCE)) {
        return false;
    }
    party_promote(c, "agent-left");
    return true;
}

/* The party's INVITEs: every phone of the agent, or the number through the trunk. Returns 0 or
 * the SIP code of the failure. */
static uint16_t party_dial(struct call *c, struct agent_leg *leg)
{
    if (leg->dialled[0]) {
        char to_uri[BLEND_SIP_URI_BYTES_MAX + BLEND_SIP_EXTENSION_BYTES_MAX];
        trunk_uri(c->cs, leg->dialled, to_uri, sizeof(to_uri));
        return fork_connect(c, leg, to_uri, NULL, true) == 0 ? 0 : 503;
    }
    struct blend__sip_target targets[BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX];
    uint32_t n = blend__sip_reg_agent_targets(c->cs->reg, leg->agent_id, targets,
                                              BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX);
    if (n == 0) {
        return 480;
    }
    for (uint32_t i = 0; i < n; i++) {
        (void)fork_start(c, leg, &targets[i]);
    }
    return list_isempty(&leg->forks) ? 503 : 0;
}

static void cmd_party_add(struct call *c, const struct blend__sip_call_cmd_data *d)
{
    if (!c->bridged || !c->bridged->winner || (c->outbound && !c->answered)) {
        party_refuse(c, d, 409);
        return;
    }
    if (c->party) {
        party_refuse(c, d, 491);
        return;
    }
    struct agent_leg *leg = blend_calloc(1, sizeof(*leg));
    if (!leg) {
        party_refuse(c, d, 503);
        return;
    }
    leg->call = c;
    leg->agent_id = d->agent_id;
    leg->party = true;
    leg->mode = d->party_mode;
    str_ncpy(leg->dialled, d->number, sizeof(leg->dialled));
    tmr_init(&leg->tmr);
    list_append(&c->legs, &leg->le, leg);
    c->legs_count++;
    c->party = leg;
    atomic_fetch_add(&c->cs->counters->parties, 1);
    if (c->legs_count > BLEND_SIP_CALL_AGENT_LEGS_MAX) {
        party_end(c, 503, "failed");
        return;
    }
    int err = blend__sip_relay_party_open(c->relay);
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: no RTP port pair for a party: %s",
                       (unsigned long long)c->id, blend_strerror(err));
        party_end(c, 503, "failed");
        return;
    }
    uint16_t code = party_dial(c, leg);
    if (code) {
        party_end(c, code, "failed");
        return;
    }
    int t = d->timeout_s > 0 ? d->timeout_s : BLEND_SIP_OFFER_TIMEOUT_S_DEFAULT;
    tmr_start(&leg->tmr, (uint64_t)t * 1000, leg_timeout_handler, leg);
    BLEND_LOG_INFO("sip", "call %llu: party %lld%s%s dialled (%s)", (unsigned long long)c->id,
                   (long long)leg->agent_id, leg->dialled[0] ? " " : "", leg->dialled,
                   party_mode_name(leg->mode));
}

static void cmd_party_mode(struct call *c, int mode)
{
    struct agent_leg *leg = c->party;
    if (!leg) {
        BLEND_LOG_INFO("sip", "call %llu: party mode %s ignored: no party",
                       (unsigned long long)c->id, party_mode_name(mode));
        return;
    }
    leg->mode = mode;
    if (leg->winner) {
        blend__sip_relay_party_mode(c->relay, mode);
    }
    struct blend_sip_event ev;
    party_ev(&ev, BLEND_SIP_EV_PARTY_MODE, c, leg);
    ev.party_mode = mode;
    BLEND_LOG_INFO("sip", "call %llu: party mode %s", (unsigned long long)c->id,
                   party_mode_name(mode));
    c->cs->emit(&ev, c->cs->emit_arg);
}

static void cmd_party_complete(struct call *c)
{
    struct agent_leg *old = c->bridged;
    if (!c->party || !c->party->winner || !old) {
        BLEND_LOG_INFO("sip", "call %llu: party complete ignored: no answered party",
                       (unsigned long long)c->id);
        return;
    }
    party_promote(c, "");
    /* A phone whose REFER was pending hears the end of it first. */
    if (!refer_finish(c, 200, true)) {
        leg_free(old);
    }
}

/* --- Calls --------------------------------------------------------------------------------- */

static void call_free(struct call *c)
{
    struct blend__sip_calls *cs = c->cs;
    c->ending = true;
    while (c->legs.head) {
        leg_free(c->legs.head->data);
    }
    st_stop(&c->cst);
    hash_unlink(&c->he);
    BLEND_ASSERT(cs->calls_count > 0);
    cs->calls_count--;
    atomic_fetch_sub(&cs->counters->calls_active, 1);
    /* An unanswered, not yet accepted customer gets its final answer before we let go. */
    if (c->st) {
        (void)sip_treply(&c->st, cs->stack, c->msg, 480, "Temporarily Unavailable");
    }
    mem_deref(c->st);
    mem_deref(c->sess);
    mem_deref((void *)c->msg);
    mem_deref(c->sdp);
    /* A recording still open here (the thread stops) is closed without an event. */
    if (c->relay) {
        blend__sip_relay_record(c->relay, NULL, false);
    }
    blend_media_recorder_destroy(c->rec);
    blend__sip_relay_destroy(c->relay);
    blend_free(c);
}

/* --- Recording ---------------------------------------------------------------------------- */

/* RECORDING_ENDED for path: duration, paused spans and error from the summary (NULL: a
 * recording that never started). */
static void emit_recording_ended(struct call *c, const char *path,
                                 const struct blend_media_rec_summary *sum, int error)
{
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_RECORDING_ENDED, c, bridged_agent(c));
    str_ncpy(ev.recording_path, path, sizeof(ev.recording_path));
    ev.rec_error = error;
    if (sum) {
        ev.duration_ms = sum->duration_ms;
        ev.paused_count = (int)sum->pauses_count;
        for (size_t i = 0; i < sum->pauses_count && i < BLEND_SIP_REC_SPANS_MAX; i++) {
            ev.paused[i].start_ms = sum->pauses[i].start_ms;
            ev.paused[i].end_ms = sum->pauses[i].end_ms;
        }
    }
    BLEND_LOG_INFO("sip", "call %llu: recording %s ended: %llu ms, %d pause(s)%s%s",
                   (unsigned long long)c->id, path, (unsigned long long)ev.duration_ms,
                   ev.paused_count, error ? ", error: " : "", error ? blend_strerror(error) : "");
    c->cs->emit(&ev, c->cs->emit_arg);
}

/* A stereo call recording, or (customer_alone) a mono voicemail of the customer. */
static void rec_start(struct call *c, const char *path, bool customer_alone)
{
    if (c->rec) {
        BLEND_LOG_WARN("sip", "call %llu: already recording to %s: %s refused",
                       (unsigned long long)c->id, c->rec_path, path);
        emit_recording_ended(c, path, NULL, BLEND_ESTATE);
        return;
    }
    uint64_t now = blend__sip_now_ms();
    int err = customer_alone ? blend_media_recorder_open_mono(path, now, &c->rec)
                             : blend_media_recorder_open(path, now, &c->rec);
    if (err) {
        emit_recording_ended(c, path, NULL, err);
        return;
    }
    atomic_fetch_add(&c->cs->counters->recordings, 1);
    str_ncpy(c->rec_path, path, sizeof(c->rec_path));
    blend__sip_relay_record(c->relay, c->rec, customer_alone);
    BLEND_LOG_INFO("sip", "call %llu: %s to %s", (unsigned long long)c->id,
                   customer_alone ? "voicemail" : "recording", path);
}

/* Pause (pause = true) or resume: refused ones are logged, the recording goes on. */
static void rec_pause(struct call *c, bool pause)
{
    if (!c->rec) {
        BLEND_LOG_INFO("sip", "call %llu: record %s ignored: not recording",
                       (unsigned long long)c->id, pause ? "pause" : "resume");
        return;
    }
    uint64_t now = blend__sip_now_ms();
    int err =
        pause ? blend_media_recorder_pause(c->rec, now) : blend_media_recorder_resume(c->rec, now);
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: record %s refused: %s", (unsigned long long)c->id,
                       pause ? "pause" : "resume", blend_strerror(err));
    }
}

/* Closes the recording (the file is final) and reports it. */
static void rec_stop(struct call *c)
{
    if (!c->rec) {
        return;
    }
    blend__sip_relay_record(c->relay, NULL, false);
    int err = blend_media_recorder_close(c->rec, blend__sip_now_ms());
    int push_err = blend__sip_relay_record_error(c->relay);
    /* Large (64 pauses): kept off the stack of libre's loop. */
    static _Thread_local struct blend_media_rec_summary sum;
    blend_media_recorder_summary(c->rec, &sum);
    blend_media_recorder_destroy(c->rec);
    c->rec = NULL;
    emit_recording_ended(c, c->rec_path, &sum, err ? err : push_err);
    c->rec_path[0] = '\0';
}

static void call_end(struct call *c, const char *leg, int sip_code, const char *cause)
{
    /* The party's and the recording's events name the call: they go before CALL_ENDED. */
    party_end(c, 0, "call-ended");
    rec_stop(c);
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_CALL_ENDED, c, c->bridged ? c->bridged->agent_id : 0);
    str_ncpy(ev.leg, leg, sizeof(ev.leg));
    ev.sip_code = sip_code;
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    blend__sip_relay_counts(c->relay, &ev.rtp_to_agent, &ev.rtp_to_customer);
    BLEND_LOG_INFO("sip", "call %llu ended by %s: %d %s (rtp to agent %llu, to customer %llu)",
                   (unsigned long long)c->id, leg, sip_code, ev.cause,
                   (unsigned long long)ev.rtp_to_agent, (unsigned long long)ev.rtp_to_customer);
    struct blend__sip_calls *cs = c->cs;
    call_free(c);
    cs->emit(&ev, cs->emit_arg);
}

static bool call_cmp(struct le *le, void *arg)
{
    const struct call *c = le->data;
    return c->id == *(const uint64_t *)arg;
}

static uint32_t id_hash(uint64_t id)
{
    return hash_joaat((const uint8_t *)&id, sizeof(id));
}

static struct call *call_find(const struct blend__sip_calls *cs, uint64_t id)
{
    struct le *le = hash_lookup(cs->calls, id_hash(id), call_cmp, &id);
    return le ? le->data : NULL;
}

static void refuse(struct blend__sip_calls *cs, const struct sip_msg *msg,
                   const struct blend__sip_reply *reply)
{
    char src[BLEND_SIP_ADDR_BYTES_MAX], user[BLEND_SIP_EXTENSION_BYTES_MAX];
    (void)re_snprintf(src, sizeof(src), "%J", &msg->src);
    if (reply->scode != 401) {
        atomic_fetch_add(&cs->counters->calls_refused, 1);
        blend__sip_pl_copy(&msg->uri.user, user, sizeof(user));
        BLEND_LOG_INFO("sip", "INVITE from %s to %s refused: %u %s", src, user, reply->scode,
                       reply->reason);
    }
    int err = sip_treplyf(NULL, NULL, cs->stack, msg, false, reply->scode, reply->reason,
                          "%bContent-Length: 0\r\n\r\n", reply->hdrs, reply->hdrs_len);
    if (err) {
        BLEND_LOG_WARN("sip", "reply %u to %s failed: %s", reply->scode, src, strerror(err));
    }
}

/* A new call in the table (the counters follow it until call_free). */
static void call_init(struct call *c, struct blend__sip_calls *cs, uint64_t id)
{
    c->cs = cs;
    c->id = id;
    c->cust_dir = SDP_SENDRECV;
    c->agent_dir = SDP_SENDRECV;
    tmr_init(&c->cst.refresh);
    tmr_init(&c->cst.expire);
    hash_append(cs->calls, id_hash(c->id), &c->he, c);
    cs->calls_count++;
    atomic_fetch_add(&cs->counters->calls_active, 1);
}

/* The relay found a key press on one side (of the bridged call, or of the answered customer
 * without an agent: agent_id 0 then). */
static void on_dtmf(void *arg, enum blend__sip_side side, char digit, int duration_ms)
{
    struct call *c = arg;
    BLEND_ASSERT(c && c->relay);
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_DTMF, c, bridged_agent(c));
    bool cust = side == BLEND__SIP_CUSTOMER;
    const char *leg = c->bridged ? leg_name(c->bridged) : "agent";
    str_ncpy(ev.leg, cust ? "customer" : leg, sizeof(ev.leg));
    ev.digit = digit;
    ev.dtmf_duration_ms = duration_ms;
    /* The digit itself is not logged: keys may be a card number (the host masks them). */
    BLEND_LOG_DEBUG("sip", "call %llu: %s pressed a key (%d ms)", (unsigned long long)c->id, ev.leg,
                    duration_ms);
    c->cs->emit(&ev, c->cs->emit_arg);
}

static int call_setup(struct call *c, const struct sip_msg *msg)
{
    struct blend__sip_calls *cs = c->cs;
    const struct blend__sip_offer *o = &c->inv.offer;
    int err = blend__sip_relay_create(cs->set, &cs->media_addr, cs->moh, cs->counters, &c->relay);
    if (err) {
        return err;
    }
    blend__sip_relay_on_dtmf(c->relay, on_dtmf, c);
    blend__sip_relay_on_play_done(c->relay, on_play_done, c);
    /* The answer names only the codec the customer put first (and telephone-event). */
    if (blend__sip_sdp_make(blend__sip_relay_laddr(c->relay, BLEND__SIP_CUSTOMER), o->codec_pt, -1,
                            o->dtmf_pt, &c->sdp, &c->m) != 0 ||
        sdp_decode(c->sdp, msg->mb, true) != 0 ||
        (o->rtcp_mux && sdp_media_set_lattr(c->m, true, "rtcp-mux", NULL) != 0)) {
        return BLEND_ENOMEM;
    }
    blend__sip_relay_peer(c->relay, BLEND__SIP_CUSTOMER, o->codec_pt, o->dtmf_pt, o->rtcp_mux,
                          &o->raddr);
    if (sip_strans_alloc(&c->st, cs->stack, msg, cust_cancel_handler, c) != 0) {
        return BLEND_ENOMEM;
    }
    c->msg = mem_ref((void *)msg);
    if (sip_treply(&c->st, cs->stack, msg, 100, "Trying") != 0) {
        return BLEND_EIO;
    }
    return 0;
}

static void emit_incoming(struct call *c)
{
    struct blend_sip_event ev;
    ev_init(&ev, BLEND_SIP_EV_CALL_INCOMING, c, c->inv.agent_id);
    str_ncpy(ev.dialled, c->inv.dialled, sizeof(ev.dialled));
    str_ncpy(ev.caller, c->inv.caller, sizeof(ev.caller));
    str_ncpy(ev.caller_name, c->inv.caller_name, sizeof(ev.caller_name));
    (void)re_snprintf(ev.source, sizeof(ev.source), "%J", &c->src);
    str_ncpy(ev.transport,
             c->tp == SIP_TRANSP_TLS   ? "tls"
             : c->tp == SIP_TRANSP_TCP ? "tcp"
                                       : "udp",
             sizeof(ev.transport));
    str_ncpy(ev.cause, c->inv.offer.codec_pt == BLEND__SIP_PT_PCMA ? "pcma" : "pcmu",
             sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: INVITE from %s (%s) to %s, caller %s, %s",
                   (unsigned long long)c->id, ev.source, c->inv.from_trunk ? "trunk" : "phone",
                   ev.dialled, ev.caller, codec_name(c->inv.offer.codec_pt));
    c->cs->emit(&ev, c->cs->emit_arg);
}

static void conn_handler(const struct sip_msg *msg, void *arg)
{
    static _Thread_local struct blend__sip_reply reply;
    struct blend__sip_calls *cs = arg;
    struct blend__sip_invite inv;
    if (!blend__sip_invite_check(cs->reg, &cs->set->trunks, msg, blend__sip_now_ms(), &reply,
                                 &inv)) {
        refuse(cs, msg, &reply);
        return;
    }
    memset(&reply, 0, sizeof(reply));
    struct blend__sip_se se;
    int se_code = blend__sip_se_uas(cs->set, msg, &se);
    if (se_code) {
        reply.scode = (uint16_t)se_code;
        reply.reason = se_code == 422 ? "Session Interval Too Small" : "Bad Session-Expires";
        if (se_code == 422) {
            reply.hdrs_len = (size_t)re_snprintf(reply.hdrs, sizeof(reply.hdrs), "Min-SE: %u\r\n",
                                                 cs->set->min_se_s);
        }
        refuse(cs, msg, &reply);
        return;
    }
    if (cs->calls_count >= BLEND_SIP_CALLS_MAX) {
        reply.scode = 503;
        reply.reason = "Service Unavailable";
        refuse(cs, msg, &reply);
        return;
    }
    if (!blend__sip_dial_string_ok(inv.caller)) {
        str_ncpy(inv.caller, "anonymous", sizeof(inv.caller));
    }
    for (char *p = inv.caller_name; *p; p++) {
        *p = (*p == '"' || *p == '\\') ? '\'' : *p;
    }
    struct call *c = blend_calloc(1, sizeof(*c));
    if (!c) {
        reply.scode = 503;
        reply.reason = "Service Unavailable";
        refuse(cs, msg, &reply);
        return;
    }
    call_init(c, cs, atomic_fetch_add(&cs->counters->next_call_id, 1));
    c->cust_se = se;
    c->inv = inv;
    c->tp = msg->tp;
    c->src = msg->src;
    int err = call_setup(c, msg);
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: set-up failed: %s", (unsigned long long)c->id,
                       blend_strerror(err));
        if (!c->st) {
            reply.scode = 503;
            reply.reason = "Service Unavailable";
            refuse(cs, msg, &reply);
        }
        /* call_free answers a transaction already made (480); no event names this call. */
        atomic_fetch_add(&cs->counters->calls_refused, 1);
        call_free(c);
        return;
    }
    atomic_fetch_add(&cs->counters->calls_total, 1);
    emit_incoming(c);
}

int blend__sip_calls_create(const struct blend__sip_settings *set, struct sip *stack,
                            struct blend__sip_reg *reg, const struct sa *media_addr,
                            const struct blend_media_prompt *moh, blend__sip_emit_fn *emit,
                            void *emit_arg, struct blend__sip_counters *counters,
                            struct blend__sip_calls **out)
{
    BLEND_ASSERT(set && stack && reg && media_addr && emit && counters && out);
    struct blend__sip_calls *cs = blend_calloc(1, sizeof(*cs));
    if (!cs) {
        return BLEND_ENOMEM;
    }
    cs->set = set;
    cs->stack = stack;
    cs->reg = reg;
    cs->media_addr = *media_addr;
    sa_set_port(&cs->media_addr, 0);
    cs->emit = emit;
    cs->emit_arg = emit_arg;
    cs->counters = counters;
    cs->moh = moh;
    uint_fast64_t zero = 0;
    /* A layer made without the thread (tests) starts its ids at 1 too. */
    (void)atomic_compare_exchange_strong(&counters->next_call_id, &zero, 1);
    int err = 0;
    if (hash_alloc(&cs->calls, CALL_BUCKETS) != 0 ||
        sipsess_listen(&cs->sock, stack, SESS_BUCKETS, conn_handler, cs) != 0) {
        err = BLEND_ENOMEM;
    }
    if (err) {
        blend__sip_calls_destroy(cs);
        return err;
    }
    *out = cs;
    return 0;
}

static bool call_free_apply(struct le *le, void *arg)
{
    (void)arg;
    call_free(le->data);
    return false;
}

void blend__sip_calls_destroy(struct blend__sip_calls *cs)
{
    if (!cs) {
        return;
    }
    if (cs->calls) {
        while (cs->calls_count > 0) {
            (void)hash_apply(cs->calls, call_free_apply, NULL);
        }
        mem_deref(cs->calls);
    }
    /* Sessions still waiting for a BYE/CANCEL answer are released with the socket. */
    sipsess_close_all(cs->sock);
    mem_deref(cs->sock);
    blend_free(cs);
}

/* Transfer to a number: an external leg through the trunk (see sip.h for the outcomes). */
static void cmd_transfer(struct call *c, const char *number)
{
    if (c->transfer || (c->outbound && !c->answered)) {
        emit_progress(c, "transfer", 491, "pending", bridged_agent(c));
        return;
    }
    struct agent_leg *leg = blend_calloc(1, sizeof(*leg));
    if (!leg) {
        emit_progress(c, "transfer", 503, "no-memory", bridged_agent(c));
        (void)refer_finish(c, 503, false);
        return;
    }
    leg->call = c;
    leg->external = true;
    tmr_init(&leg->tmr);
    list_append(&c->legs, &leg->le, leg);
    c->legs_count++;
    c->transfer = leg;
    if (c->legs_count > BLEND_SIP_CALL_AGENT_LEGS_MAX) {
        transfer_failed(leg, 503, "too-many-legs");
        return;
    }
    char to_uri[BLEND_SIP_URI_BYTES_MAX + BLEND_SIP_EXTENSION_BYTES_MAX];
    trunk_uri(c->cs, number, to_uri, sizeof(to_uri));
    BLEND_LOG_INFO("sip", "call %llu: transfer to %s", (unsigned long long)c->id, to_uri);
    if (fork_connect(c, leg, to_uri, NULL, true) != 0) {
        transfer_failed(leg, 503, "send-failed");
        return;
    }
    tmr_start(&leg->tmr, (uint64_t)BLEND_SIP_OFFER_TIMEOUT_S_DEFAULT * 1000, leg_timeout_handler,
              leg);
}

/* Hang up the bridged agent, keep the customer (then the host offers another agent). */
static void cmd_unbridge(struct call *c)
{
    struct agent_leg *leg = c->bridged;
    if (!leg) {
        return;
    }
    BLEND_LOG_INFO("sip", "call %llu: %s %lld unbridged", (unsigned long long)c->id, leg_name(leg),
                   (long long)leg->agent_id);
    c->bridged = NULL;
    blend__sip_relay_bridge(c->relay, false);
    agent_unbridged(c);
    party_end(c, 0, "agent-left");
    /* From here until the next bridge the customer hears nothing (music on hold plays only
     * during a hold; playing music to an unbridged customer would start here, in the relay). */
    if (!refer_finish(c, 200, true)) {
        leg_free(leg);
    }
}

/* Click-to-call: a call whose first leg is the agent's; the number is dialled on answer. */
static void cmd_originate(struct blend__sip_calls *cs, const struct blend__sip_call_cmd_data *d)
{
    struct call *c = cs->calls_count < BLEND_SIP_CALLS_MAX ? blend_calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        /* No call to hang the failure on: report it under the id the host already has. */
        struct blend_sip_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = BLEND_SIP_EV_CALL_ENDED;
        ev.call = d->call;
        str_ncpy(ev.leg, "blend", sizeof(ev.leg));
        ev.sip_code = 503;
        str_ncpy(ev.cause, "too-many-calls", sizeof(ev.cause));
        BLEND_LOG_WARN("sip", "call %llu: click-to-call refused: %s", (unsigned long long)d->call,
                       ev.cause);
        cs->emit(&ev, cs->emit_arg);
        return;
    }
    call_init(c, cs, d->call);
    c->outbound = true;
    str_ncpy(c->inv.dialled, d->number, sizeof(c->inv.dialled));
    str_ncpy(c->inv.caller, d->caller_id, sizeof(c->inv.caller));
    c->inv.offer.codec_pt = BLEND__SIP_PT_PCMU;
    c->inv.offer.dtmf_pt = 101;
    atomic_fetch_add(&cs->counters->calls_originated, 1);
    atomic_fetch_add(&cs->counters->calls_total, 1);
    int err = blend__sip_relay_create(cs->set, &cs->media_addr, cs->moh, cs->counters, &c->relay);
    if (!err &&
        blend__sip_sdp_make(blend__sip_relay_laddr(c->relay, BLEND__SIP_CUSTOMER),
                            BLEND__SIP_PT_PCMU, BLEND__SIP_PT_PCMA, 101, &c->sdp, &c->m) != 0) {
        err = BLEND_ENOMEM;
    }
    if (c->relay) {
        blend__sip_relay_on_dtmf(c->relay, on_dtmf, c);
        blend__sip_relay_on_play_done(c->relay, on_play_done, c);
    }
    if (err) {
        BLEND_LOG_WARN("sip", "call %llu: click-to-call set-up failed: %s",
                       (unsigned long long)c->id, blend_strerror(err));
        call_end(c, "blend", 503, err == BLEND_ELIMIT ? "no-rtp-port" : "no-memory");
        return;
    }
    BLEND_LOG_INFO("sip", "call %llu: click-to-call agent %lld -> %s as %s",
                   (unsigned long long)c->id, (long long)d->agent_id, d->number, d->caller_id);
    if (d->agent_id == 0) {
        /* Customer first: the host offers an agent once the number answers. */
        cust_dial(c);
        return;
    }
    cmd_offer(c, d->agent_id, 0);
}

/* --- The caller before an agent: commands ------------------------------------------------- */

static void cmd_answer(struct call *c)
{
    if (c->answered || c->outbound) {
        /* Answered already, or Blend's own INVITE to the customer (answered when it answers). */
        BLEND_LOG_INFO("sip", "call %llu: answer ignored: %s", (unsigned long long)c->id,
                       c->answered ? "already answered" : "click-to-call leg");
        return;
    }
    /* Silence (or the host's music) from the first tick after the 200 OK. */
    ivr_take(c);
    int err = cust_answer(c);
    if (err) {
        BLEND_LOG_ERROR("sip", "call %llu: answering the customer failed: %s",
                        (unsigned long long)c->id, strerror(err));
        call_end(c, "blend", 500, "answer-failed");
        return;
    }
    BLEND_LOG_INFO("sip", "call %llu: customer answered by Blend", (unsigned long long)c->id);
}

/* The play's references are the command's: passed to the relay, or released here. */
static void cmd_play(struct call *c, struct blend__sip_call_cmd_data *d)
{
    BLEND_ASSERT(d->prompts_count > 0 && d->prompts_count <= BLEND_SIP_PLAY_PROMPTS_MAX);
    if (!c->answered || c->bridged) {
        for (size_t i = 0; i < d->prompts_count; i++) {
            blend_media_prompt_free(d->prompts[i]);
        }
        d->prompts_count = 0;
        BLEND_LOG_INFO("sip", "call %llu: play %u refused: %s", (unsigned long long)c->id, d->tag,
                       c->answered ? "an agent is bridged" : "not answered");
        emit_play_done(c, d->tag, "failed");
        return;
    }
    play_end(c, "replaced");
    ivr_take(c);
    blend__sip_relay_play(c->relay, d->prompts, d->prompts_count);
    d->prompts_count = 0;
    c->playing = true;
    c->play_tag = d->tag;
}

/* Hold from the host (the agent desktop's hold button): as if the bridged phone had held — the
 * customer is re-INVITEd sendonly and hears music on hold, nothing of the agent side reaches
 * it; resume undoes it. A hold or resume from the phone itself later takes over. */
static void cmd_hold(struct call *c, bool on)
{
    if (!c->bridged || !c->bridged->winner || !c->answered) {
        BLEND_LOG_INFO("sip", "call %llu: %s ignored: no agent bridged",
                       (unsigned long long)c->id, on ? "hold" : "resume");
        return;
    }
    if (c->agent_held == on) {
        return;
    }
    c->agent_held = on;
    blend__sip_relay_hold(c->relay, BLEND__SIP_AGENT, on);
    enum sdp_dir mirror = on ? SDP_SENDONLY : SDP_SENDRECV;
    if (!on && c->cust_held) {
        mirror = c->cust_dir; /* the customer's own hold stays */
    }
    if (c->cust_dir != mirror) {
        c->cust_dir = mirror;
        other_modify(c, BLEND__SIP_CUSTOMER);
    }
    struct blend_sip_event ev;
    ev_init(&ev, on ? BLEND_SIP_EV_CALL_HELD : BLEND_SIP_EV_CALL_RESUMED, c, c->bridged->agent_id);
    str_ncpy(ev.leg, leg_name(c->bridged), sizeof(ev.leg));
    str_ncpy(ev.cause, "command", sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: %s by command", (unsigned long long)c->id,
                   on ? "held" : "resumed");
    c->cs->emit(&ev, c->cs->emit_arg);
}

static void cmd_moh(struct call *c, bool on)
{
    if (!c->answered) {
        BLEND_LOG_INFO("sip", "call %llu: music %s ignored: not answered",
                       (unsigned long long)c->id, on ? "on" : "off");
        return;
    }
    c->moh_on = on;
    ivr_take(c);
}

void blend__sip_calls_command(struct blend__sip_calls *cs, enum blend__sip_call_cmd cmd,
                              struct blend__sip_call_cmd_data *d)
{
    BLEND_ASSERT(cs && d);
    if (cmd == BLEND__SIP_CALL_ORIGINATE) {
        cmd_originate(cs, d);
        return;
    }
    struct call *c = call_find(cs, d->call);
    if (!c) {
        BLEND_LOG_DEBUG("sip", "command %d for call %llu ignored: no such call", (int)cmd,
                        (unsigned long long)d->call);
        for (size_t i = 0; i < d->prompts_count; i++) {
            blend_media_prompt_free(d->prompts[i]); /* a PLAY's references */
        }
        d->prompts_count = 0;
        return;
    }
    struct agent_leg *leg;
    switch (cmd) {
    case BLEND__SIP_CALL_REJECT:
        if (c->answered) {
            call_end(c, "blend", 0, d->text[0] ? d->text : "rejected");
            return;
        }
        cust_refuse(c, (uint16_t)d->code, d->text[0] ? d->text : NULL);
        call_end(c, "blend", d->code, d->text[0] ? d->text : "rejected");
        return;
    case BLEND__SIP_CALL_RINGING:
        if (c->answered) {
            return;
        }
        if (c->st) {
            int err = cust_accept(c, 180, "Ringing", NULL, "");
            if (err) {
                BLEND_LOG_WARN("sip", "call %llu: 180 failed: %s", (unsigned long long)c->id,
                               strerror(err));
                call_end(c, "blend", 500, "ringing-failed");
            }
        } else if (sipsess_progress(c->sess, 180, "Ringing", NULL, NULL) != 0) {
            BLEND_LOG_WARN("sip", "call %llu: 180 failed", (unsigned long long)c->id);
        }
        return;
    case BLEND__SIP_CALL_OFFER:
        cmd_offer(c, d->agent_id, d->timeout_s);
        return;
    case BLEND__SIP_CALL_WITHDRAW:
        leg = leg_find(c, d->agent_id);
        if (leg) {
            BLEND_LOG_INFO("sip", "call %llu: offer to agent %lld withdrawn",
                           (unsigned long long)c->id, (long long)d->agent_id);
            leg_free(leg);
        }
        return;
    case BLEND__SIP_CALL_HANGUP:
        cust_refuse(c, 480, "Temporarily Unavailable");
        call_end(c, "blend", 0, d->text[0] ? d->text : "hangup");
        return;
    case BLEND__SIP_CALL_TRANSFER_NUMBER:
        cmd_transfer(c, d->number);
        return;
    case BLEND__SIP_CALL_UNBRIDGE_AGENT:
        cmd_unbridge(c);
        return;
    case BLEND__SIP_CALL_RECORD_START:
        rec_start(c, d->path, false);
        return;
    case BLEND__SIP_CALL_VOICEMAIL_START:
        rec_start(c, d->path, true);
        return;
    case BLEND__SIP_CALL_ANSWER:
        cmd_answer(c);
        return;
    case BLEND__SIP_CALL_PLAY:
        cmd_play(c, d);
        return;
    case BLEND__SIP_CALL_PLAY_STOP:
        play_end(c, "stopped");
        return;
    case BLEND__SIP_CALL_MOH:
        cmd_moh(c, d->code != 0);
        return;
    case BLEND__SIP_CALL_KEEP_CUSTOMER:
        c->keep_customer = d->code != 0;
        return;
    case BLEND__SIP_CALL_RECORD_PAUSE:
    case BLEND__SIP_CALL_RECORD_RESUME:
        rec_pause(c, cmd == BLEND__SIP_CALL_RECORD_PAUSE);
        return;
    case BLEND__SIP_CALL_RECORD_STOP:
        rec_stop(c);
        return;
    case BLEND__SIP_CALL_PARTY_ADD:
        cmd_party_add(c, d);
        return;
    case BLEND__SIP_CALL_PARTY_MODE:
        cmd_party_mode(c, d->party_mode);
        return;
    case BLEND__SIP_CALL_PARTY_DROP:
        if (c->party) {
            party_end(c, 0, "dropped");
        }
        return;
    case BLEND__SIP_CALL_PARTY_COMPLETE:
        cmd_party_complete(c);
        return;
    case BLEND__SIP_CALL_REPLACE:
        cmd_replace(c, d->other_call);
        return;
    case BLEND__SIP_CALL_HOLD:
        cmd_hold(c, d->code != 0);
        return;
    case BLEND__SIP_CALL_REFER_FAIL:
        if (!c->referrer) {
            BLEND_LOG_DEBUG("sip", "call %llu: no REFER to fail", (unsigned long long)c->id);
        }
        (void)refer_finish(c, (uint16_t)d->code, false);
        return;
    case BLEND__SIP_CALL_ORIGINATE:
        break;
    }
    BLEND_ASSERT(!"unknown call command");
}
