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
 * Invariants: a call lives in cs->calls until CALL_ENDED was emitted for it, and no event names
 * it afterwards; at most one leg is bridged; every libre object of a call (sessions, transaction,
 * SDP sessions, sockets) is released when the call is freed; only the telephony thread runs this.
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

/* One INVITE to one registered phone of an agent. */
struct fork {
    struct le le; /* in leg->forks */
    struct agent_leg *leg;
    struct sipsess *sess;
    struct sdp_session *sdp;
    struct sdp_media *m;
    char contact[BLEND_SIP_URI_BYTES_MAX];
};

/* One offer of the call to one agent. */
struct agent_leg {
    struct le le; /* in call->legs */
    struct call *call;
    int64_t agent_id;
    struct list forks;
    struct fork *winner; /* the fork that answered, once answered */
    struct tmr tmr;      /* offer timeout */
    bool ringing;
    uint16_t fail_code;
    char fail_cause[16];
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
    struct hash *calls;
    uint32_t calls_count;
    uint64_t next_id;
};

static void call_end(struct call *c, const char *leg, int sip_code, const char *cause);
static void leg_free(struct agent_leg *leg);

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

/* --- SDP --------------------------------------------------------------------------------- */

static bool has_sdp(const struct sip_msg *msg)
{
    return msg_ctype_cmp(&msg->ctyp, "application", "sdp") && mbuf_get_left(msg->mb) > 0;
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
    }
    /* A session refresh: the same media; without an offer ours goes out and the ACK answers. */
    return sdp_encode(descp, c->sdp, !offer_in);
}

static int cust_answer_handler(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    return has_sdp(msg) ? sdp_decode(c->sdp, msg->mb, false) : 0;
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
static int cust_accept(struct call *c, uint16_t scode, const char *reason, struct mbuf *desc)
{
    BLEND_ASSERT(!c->sess && c->st && c->msg);
    c->st = mem_deref(c->st);
    int err = sipsess_accept(&c->sess, c->cs->sock, c->msg, scode, reason, CUSER, CTYPE_SDP, desc,
                             NULL, NULL, false, cust_offer_handler, cust_answer_handler,
                             cust_estab_handler, NULL, NULL, cust_close_handler, c,
                             "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n");
    c->msg = mem_deref((void *)c->msg);
    return err;
}

/* A final refusal to a customer not answered yet. */
static void cust_refuse(struct call *c, uint16_t code, const char *reason)
{
    if (c->st) {
        (void)sip_treply(&c->st, c->cs->stack, c->msg, code, reason);
    } else if (c->sess && !c->answered) {
        (void)sipsess_reject(c->sess, code, reason, NULL);
    }
}

static int cust_answer(struct call *c)
{
    struct mbuf *desc = NULL;
    int err = sdp_encode(&desc, c->sdp, false);
    if (!err) {
        err = c->sess ? sipsess_answer(c->sess, 200, "OK", desc, NULL)
                      : cust_accept(c, 200, "OK", desc);
    }
    mem_deref(desc);
    if (!err) {
        c->answered = true;
    }
    return err;
}

/* --- Agent legs -------------------------------------------------------------------------- */

static void fork_free(struct fork *f)
{
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
    if (c->bridged == leg) {
        c->bridged = NULL;
        blend__sip_relay_bridge(c->relay, false);
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
    ev_init(&ev, BLEND_SIP_EV_AGENT_FAILED, c, leg->agent_id);
    ev.sip_code = code;
    str_ncpy(ev.cause, cause, sizeof(ev.cause));
    BLEND_LOG_INFO("sip", "call %llu: agent %lld failed: %u %s", (unsigned long long)c->id,
                   (long long)leg->agent_id, code, cause);
    leg_free(leg);
    c->cs->emit(&ev, c->cs->emit_arg);
}

static void leg_timeout_handler(void *arg)
{
    leg_failed(arg, 408, "timeout");
}

static struct agent_leg *leg_find(const struct call *c, int64_t agent_id)
{
    for (struct le *le = c->legs.head; le; le = le->next) {
        struct agent_leg *leg = le->data;
        if (leg->agent_id == agent_id) {
            return leg;
        }
    }
    return NULL;
}

static void fork_progr_handler(const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    if (msg->scode <= 100 || leg->ringing) {
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
        }
    }
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
    }
    return err;
}

/* The first 200 of a leg: bridge it (unless another leg was bridged first). */
static void fork_estab_handler(const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    struct call *c = leg->call;
    (void)msg;
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
    c->bridged = leg;
    blend__sip_relay_bridge(c->relay, true);
    blend__sip_relay_peer(c->relay, BLEND__SIP_AGENT, codec_pt, dtmf_pt, false,
                          sdp_media_raddr(f->m));
    if (!c->answered) {
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
}

static void fork_close_handler(int err, const struct sip_msg *msg, void *arg)
{
    struct fork *f = arg;
    struct agent_leg *leg = f->leg;
    struct call *c = leg->call;
    if (leg->winner == f) {
        /* The bridged agent hung up (or its dialog failed): the call ends. */
        bool bye = err == ECONNRESET;
        if (!bye) {
            BLEND_LOG_WARN("sip", "call %llu: agent leg failed: %s", (unsigned long long)c->id,
                           strerror(err));
        }
        if (c->bridged == leg) {
            call_end(c, "agent", bye ? 0 : err_code(err, msg), bye ? "bye" : "error");
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
        str_ncpy(leg->fail_cause,
                 code == 486   ? "busy"
                 : code >= 600 ? "declined"
                 : code == 408 ? "timeout"
                               : "failed",
                 sizeof(leg->fail_cause));
    }
    char why[64];
    BLEND_LOG_INFO("sip", "call %llu: agent %lld phone %s: %u %s", (unsigned long long)c->id,
                   (long long)leg->agent_id, f->contact, code,
                   err ? str_error(err, why, sizeof(why)) : "");
    fork_free(f);
    if (list_isempty(&leg->forks)) {
        leg_failed(leg, leg->fail_code, leg->fail_cause);
    }
}

/* The Request-URI is the Contact; a Route to the registered source is added only when they
 * differ (a phone behind NAT), so the INVITE goes back the way the REGISTER came. */
static int fork_start(struct call *c, struct agent_leg *leg, const struct blend__sip_target *t)
{
    struct fork *f = blend_calloc(1, sizeof(*f));
    if (!f) {
        return ENOMEM;
    }
    f->leg = leg;
    str_ncpy(f->contact, t->contact, sizeof(f->contact));
    list_append(&leg->forks, &f->le, f);
    int other_pt =
        c->inv.offer.codec_pt == BLEND__SIP_PT_PCMU ? BLEND__SIP_PT_PCMA : BLEND__SIP_PT_PCMU;
    int err = blend__sip_sdp_make(
        blend__sip_relay_laddr(c->relay, BLEND__SIP_AGENT), c->inv.offer.codec_pt, other_pt,
        c->inv.offer.dtmf_pt >= 0 ? c->inv.offer.dtmf_pt : 101, &f->sdp, &f->m);
    struct mbuf *desc = NULL;
    err = err ? err : sdp_encode(&desc, f->sdp, true);
    char route[BLEND_SIP_ADDR_BYTES_MAX + 32], from_uri[BLEND_SIP_EXTENSION_BYTES_MAX + 80];
    const char *routev[1] = {route};
    struct uri cu;
    struct sa caddr;
    struct pl pl;
    pl_set_str(&pl, t->contact);
    bool direct = uri_decode(&cu, &pl) == 0 &&
                  sa_set(&caddr, &cu.host, cu.port ? cu.port : 5060) == 0 &&
                  sa_cmp(&caddr, &t->src, SA_ALL);
    (void)re_snprintf(route, sizeof(route), "sip:%J;transport=%s", &t->src,
                      t->tp == SIP_TRANSP_TCP ? "tcp" : "udp");
    (void)re_snprintf(from_uri, sizeof(from_uri), "sip:%s@%j", c->inv.caller, &c->cs->media_addr);
    if (!err) {
        err = sipsess_connect(&f->sess, c->cs->sock, t->contact,
                              c->inv.caller_name[0] ? c->inv.caller_name : NULL, from_uri, CUSER,
                              direct ? NULL : routev, direct ? 0 : 1, CTYPE_SDP, desc, NULL, NULL,
                              false, fork_offer_handler, fork_answer_handler, fork_progr_handler,
                              fork_estab_handler, NULL, NULL, fork_close_handler, f,
                              "Max-Forwards: 70\r\n"
                              "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n");
    }
    mem_deref(desc);
    if (err) {
        char why[64];
        BLEND_LOG_WARN("sip", "call %llu: INVITE to %s failed: %s", (unsigned long long)c->id,
                       t->contact, str_error(err, why, sizeof(why)));
        fork_free(f);
    }
    return err;
}

/* Caller IDs go into From of the agent INVITE: only dial-string characters pass. */
static bool caller_is_safe(const char *s)
{
    if (!s[0]) {
        return false;
    }
    for (; *s; s++) {
        if (!strchr("0123456789+*#.-_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *s)) {
            return false;
        }
    }
    return true;
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

/* --- Calls --------------------------------------------------------------------------------- */

static void call_free(struct call *c)
{
    struct blend__sip_calls *cs = c->cs;
    while (c->legs.head) {
        leg_free(c->legs.head->data);
    }
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
    blend__sip_relay_destroy(c->relay);
    blend_free(c);
}

static void call_end(struct call *c, const char *leg, int sip_code, const char *cause)
{
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

static int call_setup(struct call *c, const struct sip_msg *msg)
{
    struct blend__sip_calls *cs = c->cs;
    const struct blend__sip_offer *o = &c->inv.offer;
    int err = blend__sip_relay_create(cs->set, &cs->media_addr, cs->counters, &c->relay);
    if (err) {
        return err;
    }
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
    str_ncpy(ev.transport, c->tp == SIP_TRANSP_TCP ? "tcp" : "udp", sizeof(ev.transport));
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
    if (cs->calls_count >= BLEND_SIP_CALLS_MAX) {
        reply.scode = 503;
        reply.reason = "Service Unavailable";
        refuse(cs, msg, &reply);
        return;
    }
    if (!caller_is_safe(inv.caller)) {
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
    c->cs = cs;
    c->id = cs->next_id++;
    c->inv = inv;
    c->tp = msg->tp;
    c->src = msg->src;
    hash_append(cs->calls, id_hash(c->id), &c->he, c);
    cs->calls_count++;
    atomic_fetch_add(&cs->counters->calls_active, 1);
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
                            blend__sip_emit_fn *emit, void *emit_arg,
                            struct blend__sip_counters *counters, struct blend__sip_calls **out)
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
    cs->next_id = 1;
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

void blend__sip_calls_command(struct blend__sip_calls *cs, enum blend__sip_call_cmd cmd,
                              const struct blend__sip_call_cmd_data *d)
{
    BLEND_ASSERT(cs && d);
    struct call *c = call_find(cs, d->call);
    if (!c) {
        BLEND_LOG_DEBUG("sip", "command %d for call %llu ignored: no such call", (int)cmd,
                        (unsigned long long)d->call);
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
            int err = cust_accept(c, 180, "Ringing", NULL);
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
    }
    BLEND_ASSERT(!"unknown call command");
}
