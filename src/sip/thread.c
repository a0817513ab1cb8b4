/*
 * The telephony thread: it owns a per-thread libre loop (re_thread_init), the SIP stack with its
 * UDP/TCP transports and the registrar core, and nothing else touches them. The host reaches it
 * through a libre mqueue (commands carry heap data that the thread frees; a play command also
 * carries one reference per prompt, taken by the wrapper and passed to the calls layer, which
 * hands them to the call's relay or releases them) and reads what it reports from a bounded
 * event ring guarded by a mutex. Commands pushed before blend_sip_stop are applied before STOP
 * (the queue is FIFO), so no reference is left in the queue at teardown.
 *
 * Start-up is synchronous: blend_sip_start() waits until the thread has bound its transports (or
 * failed), so a bind error is returned to the caller and the bound ports are known. Stop pushes
 * a STOP command; the thread tears everything down in its own loop, frees libre's memory and
 * exits; then the host joins it.
 *
 * Music on hold is loaded by the thread during start-up (a file decode, once, outside any call)
 * and kept immutable until the thread's teardown; the relays of every call borrow it.
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>

enum cmd_id {
    CMD_ACCOUNT_SET = 1,
    CMD_ACCOUNT_REMOVE,
    CMD_STOP,
    /* Call commands carry struct blend__sip_call_cmd_data; their ids follow the enum. */
    CMD_CALL_BASE = 100,
};

/* Bucket counts of libre's hash tables (client transactions, server transactions, TCP
 * connections): sizes for speed, not limits; a few thousand phones spread well over them. */
enum { STACK_CTRANS_BUCKETS = 1024, STACK_STRANS_BUCKETS = 1024, STACK_CONN_BUCKETS = 1024 };

struct cmd_account {
    char ext[BLEND_SIP_EXTENSION_BYTES_MAX];
    uint8_t ha1[MD5_SIZE];
    int64_t agent_id;
};

struct blend_sip {
    struct blend_sip_config cfg; /* strings not kept after start */
    struct blend__sip_settings set;
    char udp_addr[BLEND_SIP_ADDR_BYTES_MAX];
    char tcp_addr[BLEND_SIP_ADDR_BYTES_MAX];
    char tls_addr[BLEND_SIP_ADDR_BYTES_MAX];
    pthread_t thread;

    /* Start-up handshake. */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    bool started;
    int start_err;
    int udp_port, tcp_port, tls_port;

    /* Event ring (host reads, thread writes). */
    pthread_mutex_t ev_lock;
    struct blend_sip_event *ev;
    uint32_t ev_cap, ev_head, ev_count;
    bool ev_drop_logged;

    struct blend__sip_counters counters;
    struct blend__sip_trunk_status trunk_status;

    /* The command queue: created by the thread, freed by it when its loop ends; mq_lock makes
     * every push see either the live queue or NULL (then the push is refused). */
    pthread_mutex_t mq_lock;
    struct mqueue *mq;

    /* Telephony-thread state. */
    struct sip *stack;
    struct sip_lsnr *gate; /* first listener: locked sources get 403 for any request */
    struct sip_lsnr *lsnr;
    struct blend__sip_reg *reg;
    struct blend__sip_calls *calls;
    struct blend_media_prompt *moh; /* NULL: held parties get silence */
    struct tls *tls;                /* the TLS transport's context; NULL without tls_addr */
    struct blend__sip_trunk *trunk; /* the outbound registration; NULL when off */
};

const char *blend_sip_event_kind_name(enum blend_sip_event_kind kind)
{
    switch (kind) {
    case BLEND_SIP_EV_REGISTERED:
        return "registered";
    case BLEND_SIP_EV_UNREGISTERED:
        return "unregistered";
    case BLEND_SIP_EV_AUTH_FAILED:
        return "auth-failed";
    case BLEND_SIP_EV_SOURCE_LOCKED:
        return "source-locked";
    case BLEND_SIP_EV_CALL_INCOMING:
        return "call-incoming";
    case BLEND_SIP_EV_AGENT_RINGING:
        return "agent-ringing";
    case BLEND_SIP_EV_AGENT_ANSWERED:
        return "agent-answered";
    case BLEND_SIP_EV_AGENT_FAILED:
        return "agent-failed";
    case BLEND_SIP_EV_CALL_ENDED:
        return "call-ended";
    case BLEND_SIP_EV_CALL_HELD:
        return "call-held";
    case BLEND_SIP_EV_CALL_RESUMED:
        return "call-resumed";
    case BLEND_SIP_EV_TRANSFER_REQUESTED:
        return "transfer-requested";
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
        return "outbound-progress";
    case BLEND_SIP_EV_RECORDING_ENDED:
        return "recording-ended";
    case BLEND_SIP_EV_DTMF:
        return "dtmf";
    case BLEND_SIP_EV_PARTY_RINGING:
        return "party-ringing";
    case BLEND_SIP_EV_PARTY_ANSWERED:
        return "party-answered";
    case BLEND_SIP_EV_PARTY_MODE:
        return "party-mode";
    case BLEND_SIP_EV_PARTY_ENDED:
        return "party-ended";
    case BLEND_SIP_EV_PARTY_COMPLETED:
        return "party-completed";
    case BLEND_SIP_EV_PLAY_DONE:
        return "play-done";
    case BLEND_SIP_EV_AGENT_LEFT:
        return "agent-left";
    case BLEND_SIP_EV_AGENT_REPLACED:
        return "agent-replaced";
    }
    return "?";
}

static void emit(const struct blend_sip_event *ev, void *arg)
{
    struct blend_sip *sip = arg;
    BLEND_ASSERT(ev && ev->kind >= BLEND_SIP_EV_REGISTERED && ev->kind <= BLEND_SIP_EV_AGENT_LEFT);
    bool dropped = false, log_drop = false;
    pthread_mutex_lock(&sip->ev_lock);
    if (sip->ev_count < sip->ev_cap) {
        sip->ev[(sip->ev_head + sip->ev_count) % sip->ev_cap] = *ev;
        sip->ev_count++;
        sip->ev_drop_logged = false;
    } else {
        dropped = true;
        log_drop = !sip->ev_drop_logged;
        sip->ev_drop_logged = true;
    }
    pthread_mutex_unlock(&sip->ev_lock);
    if (dropped) {
        atomic_fetch_add(&sip->counters.events_dropped, 1);
        if (log_drop) {
            BLEND_LOG_WARN("sip", "event queue full (%u): dropping %s events until drained",
                           sip->ev_cap, blend_sip_event_kind_name(ev->kind));
        }
    }
    if (sip->cfg.wakeup) {
        sip->cfg.wakeup(sip->cfg.wakeup_arg);
    }
}

int blend_sip_poll(struct blend_sip *sip, struct blend_sip_event *out)
{
    BLEND_ASSERT(sip && out);
    int got = 0;
    pthread_mutex_lock(&sip->ev_lock);
    if (sip->ev_count > 0) {
        *out = sip->ev[sip->ev_head];
        sip->ev_head = (sip->ev_head + 1) % sip->ev_cap;
        sip->ev_count--;
        got = 1;
    }
    pthread_mutex_unlock(&sip->ev_lock);
    return got;
}

void blend_sip_stats_get(struct blend_sip *sip, struct blend_sip_stats *out)
{
    BLEND_ASSERT(sip && out);
    struct blend__sip_counters *c = &sip->counters;
    out->events_dropped = atomic_load(&c->events_dropped);
    out->registers_ok = atomic_load(&c->registers_ok);
    out->auth_failures = atomic_load(&c->auth_failures);
    out->locked_rejects = atomic_load(&c->locked_rejects);
    out->options_sent = atomic_load(&c->options_sent);
    out->unreachable = atomic_load(&c->unreachable);
    out->commands_rejected = atomic_load(&c->commands_rejected);
    out->calls_total = atomic_load(&c->calls_total);
    out->calls_active = atomic_load(&c->calls_active);
    out->calls_refused = atomic_load(&c->calls_refused);
    out->rtp_to_agent = atomic_load(&c->rtp_to_agent);
    out->rtp_to_customer = atomic_load(&c->rtp_to_customer);
    out->rtp_dropped = atomic_load(&c->rtp_dropped);
    out->rtp_held = atomic_load(&c->rtp_held);
    out->calls_originated = atomic_load(&c->calls_originated);
    out->transfers = atomic_load(&c->transfers);
    out->session_expired = atomic_load(&c->session_expired);
    out->rtp_moh = atomic_load(&c->rtp_moh);
    out->recordings = atomic_load(&c->recordings);
    out->parties = atomic_load(&c->parties);
    out->rtp_mixed = atomic_load(&c->rtp_mixed);
    out->rtp_to_party = atomic_load(&c->rtp_to_party);
    out->rtp_from_party = atomic_load(&c->rtp_from_party);
    out->mix_party_to_customer = atomic_load(&c->mix_party_to_customer);
    out->mix_party_to_agent = atomic_load(&c->mix_party_to_agent);
    out->rtp_comfort = atomic_load(&c->rtp_comfort);
    out->rtp_prompt = atomic_load(&c->rtp_prompt);
    out->rtp_silence = atomic_load(&c->rtp_silence);
    blend__sip_trunk_stats(&sip->trunk_status, out);
}

static bool request_handler(const struct sip_msg *msg, void *arg)
{
    struct blend_sip *sip = arg;
    /* Large, so kept off the stack of libre's loop. */
    static _Thread_local struct blend__sip_reply reply;
    blend__sip_reg_handle(sip->reg, msg, blend__sip_now_ms(), &reply);
    if (reply.scode == 0) {
        return true;
    }
    int err = sip_treplyf(NULL, NULL, sip->stack, msg, false, reply.scode, reply.reason,
                          "%bContent-Length: 0\r\n\r\n", reply.hdrs, reply.hdrs_len);
    if (err) {
        char src[BLEND_SIP_ADDR_BYTES_MAX];
        (void)re_snprintf(src, sizeof(src), "%J", &msg->src);
        BLEND_LOG_WARN("sip", "reply %u to %s failed: %s", reply.scode, src, strerror(err));
    }
    return true;
}

/* Before every other listener: a locked source gets 403 whatever it sends (ACK aside). */
static bool gate_handler(const struct sip_msg *msg, void *arg)
{
    struct blend_sip *sip = arg;
    static _Thread_local struct blend__sip_reply reply;
    if (pl_strcmp(&msg->met, "ACK") == 0 ||
        !blend__sip_reg_locked(sip->reg, msg, blend__sip_now_ms(), &reply)) {
        return false;
    }
    (void)sip_treplyf(NULL, NULL, sip->stack, msg, false, 403, "Forbidden",
                      "Content-Length: 0\r\n\r\n");
    return true;
}

static void teardown(struct blend_sip *sip)
{
    /* The trunk registration first: its un-REGISTER goes out while the transports are up (the
     * stack's close below ends that transaction; no callback of ours runs after this). */
    blend__sip_trunk_destroy(sip->trunk);
    sip->trunk = NULL;
    /* Calls next: their sessions and sockets hang on the stack and the registrar. */
    blend__sip_calls_destroy(sip->calls);
    sip->calls = NULL;
    blend__sip_reg_destroy(sip->reg);
    sip->reg = NULL;
    sip->lsnr = mem_deref(sip->lsnr);
    sip->gate = mem_deref(sip->gate);
    if (sip->stack) {
        sip_close(sip->stack, true);
        sip->stack = mem_deref(sip->stack);
    }
    sip->tls = mem_deref(sip->tls);
    pthread_mutex_lock(&sip->mq_lock);
    sip->mq = mem_deref(sip->mq);
    pthread_mutex_unlock(&sip->mq_lock);
    blend_media_prompt_free(sip->moh);
    sip->moh = NULL;
}

static void mqueue_handler(int id, void *data, void *arg)
{
    struct blend_sip *sip = arg;
    struct cmd_account *ca = data;
    int err = 0;
    switch (id) {
    case CMD_ACCOUNT_SET:
        err = blend__sip_reg_account_set(sip->reg, ca->ext, ca->ha1, ca->agent_id);
        if (err) {
            BLEND_LOG_ERROR("sip", "account %s not set: %s", ca->ext, blend_strerror(err));
        }
        break;
    case CMD_ACCOUNT_REMOVE:
        blend__sip_reg_account_remove(sip->reg, ca->ext);
        break;
    case CMD_STOP:
        /* Teardown happens after the loop returns, outside any libre callback. */
        re_cancel();
        break;
    default:
        BLEND_ASSERT(id > CMD_CALL_BASE && id <= CMD_CALL_BASE + BLEND__SIP_CALL_CMD_LAST);
        /* A PLAY's prompt references pass to the calls layer, which clears them in data. */
        blend__sip_calls_command(sip->calls, (enum blend__sip_call_cmd)(id - CMD_CALL_BASE), data);
        break;
    }
    blend_free(data);
}

/* Binds one transport. same_port, when not 0, is tried first for a port-0 address (TCP on the
 * port UDP got), falling back to any free port. The TLS transport takes sip->tls (libre reads
 * the extra argument for SIP_TRANSP_TLS only). */
static int transport_add(struct blend_sip *sip, enum sip_transp tp, const char *text, int same_port,
                         int *port)
{
    struct sa laddr;
    struct pl pl;
    if (!text) {
        return 0;
    }
    pl_set_str(&pl, text);
    if (sa_decode(&laddr, pl.p, pl.l) != 0) {
        BLEND_LOG_ERROR("sip", "bad %s address \"%s\" (want host:port)", sip_transp_name(tp), text);
        return BLEND_EINVAL;
    }
    int err = EADDRINUSE;
    if (same_port > 0 && sa_port(&laddr) == 0) {
        struct sa same = laddr;
        sa_set_port(&same, (uint16_t)same_port);
        err = sip_transp_add(sip->stack, tp, &same, sip->tls);
        if (err) {
            BLEND_LOG_WARN("sip", "%s port %d is taken: binding any free port", sip_transp_name(tp),
                           same_port);
        }
    }
    if (err) {
        err = sip_transp_add(sip->stack, tp, &laddr, sip->tls);
    }
    if (err) {
        BLEND_LOG_ERROR("sip", "cannot listen on %s %s: %s", sip_transp_name(tp), text,
                        strerror(err));
        return BLEND_EIO;
    }
    if (sip_transp_laddr(sip->stack, &laddr, tp, NULL) == 0) {
        *port = sa_port(&laddr);
    }
    char bound[BLEND_SIP_ADDR_BYTES_MAX];
    (void)re_snprintf(bound, sizeof(bound), "%J", &laddr);
    BLEND_LOG_INFO("sip", "listening on %s %s", sip_transp_name(tp), bound);
    return 0;
}

static int fds_max(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > BLEND_SIP_FDS_MAX) {
        return BLEND_SIP_FDS_MAX;
    }
    return rl.rlim_cur < 1024 ? 1024 : (int)rl.rlim_cur;
}

/* Loads the music on hold named by the config (the host's string is valid until start
 * returns). */
static int moh_load(struct blend_sip *sip)
{
    const char *path = sip->cfg.moh_path;
    sip->cfg.moh_path = NULL;
    if (!path || path[0] == '\0') {
        BLEND_LOG_INFO("sip", "no music on hold: held parties get silence");
        return 0;
    }
    int err = blend_media_prompt_load(path, &sip->moh);
    if (err) {
        BLEND_LOG_ERROR("sip", "music on hold %s not loaded: %s", path, blend_strerror(err));
        return err;
    }
    BLEND_LOG_INFO("sip", "music on hold %s: %llu ms", path,
                   (unsigned long long)blend_media_prompt_duration_ms(sip->moh));
    return 0;
}

/* The TLS transport: a context with the certificate chain and key of tls_cert_path (the host's
 * string is valid until start returns), listening on tls_addr. */
static int tls_setup(struct blend_sip *sip)
{
    const char *cert = sip->cfg.tls_cert_path;
    sip->cfg.tls_cert_path = NULL;
    if (!sip->cfg.tls_addr) {
        return 0;
    }
    if (!cert || cert[0] == '\0') {
        BLEND_LOG_ERROR("sip", "tls_addr %s needs tls_cert_path", sip->cfg.tls_addr);
        return BLEND_EINVAL;
    }
    int err = tls_alloc(&sip->tls, TLS_METHOD_SSLV23, cert, NULL);
    if (err) {
        BLEND_LOG_ERROR("sip", "TLS certificate and key %s not loaded: %s", cert,
                        err == ENOMEM ? "out of memory" : "unreadable or not PEM");
        return err == ENOMEM ? BLEND_ENOMEM : BLEND_EINVAL;
    }
    return transport_add(sip, SIP_TRANSP_TLS, sip->cfg.tls_addr, 0, &sip->tls_port);
}

static int thread_setup(struct blend_sip *sip)
{
    if (fd_setsize(fds_max()) != 0) {
        return BLEND_ENOMEM;
    }
    int merr = moh_load(sip);
    if (merr) {
        return merr;
    }
    pthread_mutex_lock(&sip->mq_lock);
    int qerr = mqueue_alloc(&sip->mq, mqueue_handler, sip);
    pthread_mutex_unlock(&sip->mq_lock);
    if (qerr != 0) {
        return BLEND_EIO;
    }
    if (sip_alloc(&sip->stack, NULL, STACK_CTRANS_BUCKETS, STACK_STRANS_BUCKETS, STACK_CONN_BUCKETS,
                  "Blend " BLEND_VERSION, NULL, NULL) != 0) {
        return BLEND_ENOMEM;
    }
    int err = transport_add(sip, SIP_TRANSP_UDP, sip->cfg.udp_addr, 0, &sip->udp_port);
    /* One address with port 0 for both: phones are configured with one port, so TCP takes the
     * port UDP got when it is free. */
    bool same =
        sip->cfg.udp_addr && sip->cfg.tcp_addr && strcmp(sip->cfg.udp_addr, sip->cfg.tcp_addr) == 0;
    if (!err) {
        err = transport_add(sip, SIP_TRANSP_TCP, sip->cfg.tcp_addr, same ? sip->udp_port : 0,
                            &sip->tcp_port);
    }
    if (!err) {
        err = tls_setup(sip);
    }
    if (!err) {
        err = blend__sip_reg_create(&sip->set, sip->stack, emit, sip, &sip->counters, &sip->reg);
    }
    if (!err && sip_listen(&sip->gate, sip->stack, true, gate_handler, sip) != 0) {
        err = BLEND_ENOMEM;
    }
    /* The calls layer listens first (INVITE, ACK, BYE, in-dialog requests); the registrar takes
     * what is left. Media binds on the SIP listen address (UDP's, else TCP's). */
    struct sa media;
    if (!err && sip_transp_laddr(sip->stack, &media,
                                 sip->cfg.udp_addr ? SIP_TRANSP_UDP : SIP_TRANSP_TCP, NULL) != 0) {
        err = BLEND_EIO;
    }
    if (!err) {
        err = blend__sip_calls_create(&sip->set, sip->stack, sip->reg, &media, sip->moh, emit, sip,
                                      &sip->counters, &sip->calls);
    }
    if (!err && sip_listen(&sip->lsnr, sip->stack, true, request_handler, sip) != 0) {
        err = BLEND_ENOMEM;
    }
    if (!err) {
        err = blend__sip_trunk_create(&sip->set, sip->stack, &sip->trunk_status, &sip->trunk);
    }
    return err;
}

static void *thread_main(void *arg)
{
    /* The host owns signal handling; libre's loop gets no signal handler (re_main(NULL)). */
    struct blend_sip *sip = arg;
    int err = re_thread_init() == 0 ? 0 : BLEND_EINTERNAL;
    if (!err) {
        err = libre_init() == 0 ? 0 : BLEND_EINTERNAL;
        if (!err) {
            err = thread_setup(sip);
        }
    }
    pthread_mutex_lock(&sip->start_lock);
    sip->started = true;
    sip->start_err = err;
    pthread_cond_signal(&sip->start_cond);
    pthread_mutex_unlock(&sip->start_lock);
    if (!err) {
        err = re_main(NULL);
        if (err) {
            BLEND_LOG_ERROR("sip", "libre loop ended: %s", strerror(err));
        }
    }
    teardown(sip);
    tmr_debug();
    mem_debug();
    libre_close();
    re_thread_close();
    return NULL;
}

static int push(struct blend_sip *sip, int id, void *data)
{
    pthread_mutex_lock(&sip->mq_lock);
    int err = sip->mq ? mqueue_push(sip->mq, id, data) : ECONNABORTED;
    pthread_mutex_unlock(&sip->mq_lock);
    if (err) {
        /* The pipe is full (the thread is far behind) or broken: refuse, do not block. */
        atomic_fetch_add(&sip->counters.commands_rejected, 1);
        blend_free(data);
        return err == ECONNABORTED ? BLEND_ECLOSED : BLEND_EBUSY;
    }
    return 0;
}

static void destroy(struct blend_sip *sip)
{
    pthread_mutex_destroy(&sip->start_lock);
    pthread_cond_destroy(&sip->start_cond);
    pthread_mutex_destroy(&sip->ev_lock);
    pthread_mutex_destroy(&sip->mq_lock);
    blend_free(sip->ev);
    blend_free(sip);
}

static int copy_addr(const char *in, char *buf, size_t cap, const char **out)
{
    *out = NULL;
    if (!in) {
        return 0;
    }
    if (strlen(in) >= cap) {
        return BLEND_EINVAL;
    }
    str_ncpy(buf, in, cap);
    *out = buf;
    return 0;
}

int blend_sip_start(const struct blend_sip_config *cfg, struct blend_sip **out)
{
    if (!cfg || !out) {
        return BLEND_EINVAL;
    }
    struct blend_sip *sip = blend_calloc(1, sizeof(*sip));
    if (!sip) {
        return BLEND_ENOMEM;
    }
    pthread_mutex_init(&sip->start_lock, NULL);
    pthread_cond_init(&sip->start_cond, NULL);
    pthread_mutex_init(&sip->ev_lock, NULL);
    pthread_mutex_init(&sip->mq_lock, NULL);
    sip->cfg = *cfg;
    sip->cfg.realm = NULL;
    /* Kept in the settings; the config's pointers are not kept after start. */
    sip->cfg.trunk_allow = sip->cfg.trunk_uri = NULL;
    sip->cfg.trunk_user = sip->cfg.trunk_password = NULL;
    sip->cfg.trunk_caller_id = NULL;
    atomic_store(&sip->counters.next_call_id, 1);
    int err = blend__sip_settings_resolve(cfg, &sip->set);
    if (!err) {
        err = blend__sip_trunk_settings_resolve(cfg, &sip->set);
    }
    if (!err) {
        err = copy_addr(cfg->udp_addr, sip->udp_addr, sizeof(sip->udp_addr), &sip->cfg.udp_addr);
    }
    if (!err) {
        err = copy_addr(cfg->tcp_addr, sip->tcp_addr, sizeof(sip->tcp_addr), &sip->cfg.tcp_addr);
    }
    if (!err) {
        /* "" means no TLS, as NULL does. */
        const char *tls = cfg->tls_addr && cfg->tls_addr[0] ? cfg->tls_addr : NULL;
        err = copy_addr(tls, sip->tls_addr, sizeof(sip->tls_addr), &sip->cfg.tls_addr);
    }
    if (err) {
        destroy(sip);
        return err;
    }
    sip->ev_cap = cfg->events_max > 0 && cfg->events_max < BLEND_SIP_EVENTS_MAX
                      ? (uint32_t)cfg->events_max
                      : BLEND_SIP_EVENTS_MAX;
    sip->ev = blend_calloc(sip->ev_cap, sizeof(*sip->ev));
    if (!sip->ev) {
        destroy(sip);
        return BLEND_ENOMEM;
    }
    if (pthread_create(&sip->thread, NULL, thread_main, sip) != 0) {
        destroy(sip);
        return BLEND_EIO;
    }
    pthread_mutex_lock(&sip->start_lock);
    while (!sip->started) {
        pthread_cond_wait(&sip->start_cond, &sip->start_lock);
    }
    err = sip->start_err;
    pthread_mutex_unlock(&sip->start_lock);
    if (err) {
        pthread_join(sip->thread, NULL);
        destroy(sip);
        return err;
    }
    *out = sip;
    return 0;
}

void blend_sip_stop(struct blend_sip *sip)
{
    if (!sip) {
        return;
    }
    /* STOP carries no data; retry while the pipe is momentarily full. A thread whose loop
     * already ended (it freed the queue) needs no STOP. */
    for (;;) {
        pthread_mutex_lock(&sip->mq_lock);
        bool done = !sip->mq || mqueue_push(sip->mq, CMD_STOP, NULL) == 0;
        pthread_mutex_unlock(&sip->mq_lock);
        if (done) {
            break;
        }
        sched_yield();
    }
    pthread_join(sip->thread, NULL);
    destroy(sip);
}

int blend_sip_local_port(const struct blend_sip *sip, int which)
{
    BLEND_ASSERT(sip && which >= 0 && which <= 2);
    return which == 2 ? sip->tls_port : which == 1 ? sip->tcp_port : sip->udp_port;
}

static int account_cmd(const char *extension, struct cmd_account **out)
{
    if (!extension || extension[0] == '\0' || strlen(extension) >= BLEND_SIP_EXTENSION_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    struct cmd_account *ca = blend_calloc(1, sizeof(*ca));
    if (!ca) {
        return BLEND_ENOMEM;
    }
    str_ncpy(ca->ext, extension, sizeof(ca->ext));
    *out = ca;
    return 0;
}

int blend_sip_account_set(struct blend_sip *sip, const char *extension, const char *ha1_hex,
                          int64_t agent_id)
{
    uint8_t ha1[MD5_SIZE];
    struct cmd_account *ca;
    if (!sip || blend__sip_hex_md5(ha1_hex, ha1) != 0) {
        return BLEND_EINVAL;
    }
    int err = account_cmd(extension, &ca);
    if (err) {
        return err;
    }
    memcpy(ca->ha1, ha1, sizeof(ha1));
    ca->agent_id = agent_id;
    return push(sip, CMD_ACCOUNT_SET, ca);
}

int blend_sip_account_remove(struct blend_sip *sip, const char *extension)
{
    struct cmd_account *ca;
    if (!sip) {
        return BLEND_EINVAL;
    }
    int err = account_cmd(extension, &ca);
    if (err) {
        return err;
    }
    return push(sip, CMD_ACCOUNT_REMOVE, ca);
}

static int call_push(struct blend_sip *sip, enum blend__sip_call_cmd cmd, uint64_t call,
                     int64_t agent_id, int code, int timeout_s, const char *text)
{
    if (!sip || call == 0) {
        return BLEND_EINVAL;
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    d->call = call;
    d->agent_id = agent_id;
    d->code = code;
    d->timeout_s = timeout_s;
    if (text) {
        /* Goes into a SIP reason phrase and logs: printable ASCII only, cut to fit. */
        size_t n = 0;
        for (; text[n] && n + 1 < sizeof(d->text); n++) {
            unsigned char ch = (unsigned char)text[n];
            d->text[n] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
        }
        d->text[n] = '\0';
    }
    return push(sip, CMD_CALL_BASE + (int)cmd, d);
}

int blend_sip_call_reject(struct blend_sip *sip, uint64_t call, int code, const char *reason)
{
    if (code < 300 || code > 699) {
        return BLEND_EINVAL;
    }
    return call_push(sip, BLEND__SIP_CALL_REJECT, call, 0, code, 0, reason);
}

int blend_sip_call_ringing(struct blend_sip *sip, uint64_t call)
{
    return call_push(sip, BLEND__SIP_CALL_RINGING, call, 0, 0, 0, NULL);
}

int blend_sip_call_offer(struct blend_sip *sip, uint64_t call, int64_t agent_id, int timeout_s)
{
    if (timeout_s < 0 || timeout_s > BLEND_SIP_OFFER_TIMEOUT_S_MAX) {
        return BLEND_EINVAL;
    }
    return call_push(sip, BLEND__SIP_CALL_OFFER, call, agent_id, 0, timeout_s, NULL);
}

int blend_sip_call_withdraw(struct blend_sip *sip, uint64_t call, int64_t agent_id)
{
    return call_push(sip, BLEND__SIP_CALL_WITHDRAW, call, agent_id, 0, 0, NULL);
}

int blend_sip_call_hangup(struct blend_sip *sip, uint64_t call, const char *cause)
{
    return call_push(sip, BLEND__SIP_CALL_HANGUP, call, 0, 0, 0, cause);
}

int blend_sip_call_transfer_number(struct blend_sip *sip, uint64_t call, const char *number)
{
    if (!sip || call == 0 || !blend__sip_dial_string_ok(number)) {
        return BLEND_EINVAL;
    }
    if (sip->set.trunk_hostport[0] == '\0') {
        return BLEND_ESTATE;
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    d->call = call;
    str_ncpy(d->number, number, sizeof(d->number));
    return push(sip, CMD_CALL_BASE + BLEND__SIP_CALL_TRANSFER_NUMBER, d);
}

int blend_sip_call_unbridge_agent(struct blend_sip *sip, uint64_t call)
{
    return call_push(sip, BLEND__SIP_CALL_UNBRIDGE_AGENT, call, 0, 0, 0, NULL);
}

int blend_sip_originate(struct blend_sip *sip, uint64_t *call_out, int64_t agent_id,
                        const char *number, const char *caller_id)
{
    if (!sip || !call_out || agent_id < 0 || !blend__sip_dial_string_ok(number) ||
        !blend__sip_dial_string_ok(caller_id)) {
        return BLEND_EINVAL;
    }
    if (sip->set.trunk_hostport[0] == '\0') {
        return BLEND_ESTATE;
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    /* The id is taken here so the host knows it before any event names it. */
    d->call = atomic_fetch_add(&sip->counters.next_call_id, 1);
    d->agent_id = agent_id;
    str_ncpy(d->number, number, sizeof(d->number));
    str_ncpy(d->caller_id, caller_id, sizeof(d->caller_id));
    uint64_t id = d->call;
    int err = push(sip, CMD_CALL_BASE + BLEND__SIP_CALL_ORIGINATE, d);
    if (!err) {
        *call_out = id;
    }
    return err;
}

/* The recording commands: a path (record start) or none. */
static int record_push(struct blend_sip *sip, enum blend__sip_call_cmd cmd, uint64_t call,
                       const char *path)
{
    if (!sip || call == 0) {
        return BLEND_EINVAL;
    }
    if ((cmd == BLEND__SIP_CALL_RECORD_START || cmd == BLEND__SIP_CALL_VOICEMAIL_START) &&
        (!path || path[0] == '\0' || strlen(path) >= BLEND_SIP_RECORD_PATH_BYTES_MAX)) {
        return BLEND_EINVAL;
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    d->call = call;
    if (path) {
        str_ncpy(d->path, path, sizeof(d->path));
    }
    return push(sip, CMD_CALL_BASE + (int)cmd, d);
}

int blend_sip_call_record_start(struct blend_sip *sip, uint64_t call, const char *path)
{
    return record_push(sip, BLEND__SIP_CALL_RECORD_START, call, path);
}

int blend_sip_call_record_pause(struct blend_sip *sip, uint64_t call)
{
    return record_push(sip, BLEND__SIP_CALL_RECORD_PAUSE, call, NULL);
}

int blend_sip_call_record_resume(struct blend_sip *sip, uint64_t call)
{
    return record_push(sip, BLEND__SIP_CALL_RECORD_RESUME, call, NULL);
}

int blend_sip_call_record_stop(struct blend_sip *sip, uint64_t call)
{
    return record_push(sip, BLEND__SIP_CALL_RECORD_STOP, call, NULL);
}

static bool party_mode_ok(enum blend_sip_party_mode mode)
{
    return mode >= BLEND_SIP_PARTY_LISTEN && mode <= BLEND_SIP_PARTY_CONFERENCE;
}

/* The party commands: an agent or a number (PARTY_ADD), a mode (PARTY_ADD, PARTY_MODE). */
static int party_push(struct blend_sip *sip, enum blend__sip_call_cmd cmd, uint64_t call,
                      int64_t agent_id, const char *number, int mode, int timeout_s)
{
    if (!sip || call == 0) {
        return BLEND_EINVAL;
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    d->call = call;
    d->agent_id = agent_id;
    d->party_mode = mode;
    d->timeout_s = timeout_s;
    if (number) {
        str_ncpy(d->number, number, sizeof(d->number));
    }
    return push(sip, CMD_CALL_BASE + (int)cmd, d);
}

int blend_sip_call_party_add(struct blend_sip *sip, uint64_t call, int64_t agent_id,
                             const char *number, enum blend_sip_party_mode mode, int timeout_s)
{
    if (!sip || !party_mode_ok(mode) || timeout_s < 0 ||
        timeout_s > BLEND_SIP_OFFER_TIMEOUT_S_MAX) {
        return BLEND_EINVAL;
    }
    /* Exactly one of the two: an agent's phones, or a number through the trunk. */
    if (number ? agent_id != 0 || !blend__sip_dial_string_ok(number) : agent_id <= 0) {
        return BLEND_EINVAL;
    }
    if (number && sip->set.trunk_hostport[0] == '\0') {
        return BLEND_ESTATE;
    }
    return party_push(sip, BLEND__SIP_CALL_PARTY_ADD, call, agent_id, number, (int)mode, timeout_s);
}

int blend_sip_call_party_mode(struct blend_sip *sip, uint64_t call, enum blend_sip_party_mode mode)
{
    if (!party_mode_ok(mode)) {
        return BLEND_EINVAL;
    }
    return party_push(sip, BLEND__SIP_CALL_PARTY_MODE, call, 0, NULL, (int)mode, 0);
}

int blend_sip_call_party_drop(struct blend_sip *sip, uint64_t call)
{
    return call_push(sip, BLEND__SIP_CALL_PARTY_DROP, call, 0, 0, 0, NULL);
}

int blend_sip_call_party_complete(struct blend_sip *sip, uint64_t call)
{
    return call_push(sip, BLEND__SIP_CALL_PARTY_COMPLETE, call, 0, 0, 0, NULL);
}

int blend_sip_call_replace(struct blend_sip *sip, uint64_t call, uint64_t consult)
{
    if (!sip || call == 0 || consult == 0 || consult == call) {
        return BLEND_EINVAL;
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    d->call = call;
    d->other_call = consult;
    return push(sip, CMD_CALL_BASE + (int)BLEND__SIP_CALL_REPLACE, d);
}

int blend_sip_call_hold(struct blend_sip *sip, uint64_t call, int on)
{
    return call_push(sip, BLEND__SIP_CALL_HOLD, call, 0, on ? 1 : 0, 0, NULL);
}

int blend_sip_call_refer_fail(struct blend_sip *sip, uint64_t call, int code)
{
    if (code < 300 || code > 699) {
        return BLEND_EINVAL;
    }
    return call_push(sip, BLEND__SIP_CALL_REFER_FAIL, call, 0, code, 0, NULL);
}

/* --- The caller before an agent ------------------------------------------------------------ */

int blend_sip_call_answer(struct blend_sip *sip, uint64_t call)
{
    return call_push(sip, BLEND__SIP_CALL_ANSWER, call, 0, 0, 0, NULL);
}

int blend_sip_call_play(struct blend_sip *sip, uint64_t call,
                        struct blend_media_prompt *const *prompts, size_t count, uint32_t tag)
{
    if (!sip || call == 0 || !prompts || count == 0 || count > BLEND_SIP_PLAY_PROMPTS_MAX) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < count; i++) {
        if (!prompts[i]) {
            return BLEND_EINVAL;
        }
    }
    struct blend__sip_call_cmd_data *d = blend_calloc(1, sizeof(*d));
    if (!d) {
        return BLEND_ENOMEM;
    }
    d->call = call;
    d->tag = tag;
    d->prompts_count = count;
    struct blend_media_prompt *taken[BLEND_SIP_PLAY_PROMPTS_MAX];
    for (size_t i = 0; i < count; i++) {
        taken[i] = d->prompts[i] = blend_media_prompt_ref(prompts[i]);
    }
    int err = push(sip, CMD_CALL_BASE + BLEND__SIP_CALL_PLAY, d);
    if (err) {
        /* Refused (push freed d): the references taken for the command go back. */
        for (size_t i = 0; i < count; i++) {
            blend_media_prompt_free(taken[i]);
        }
    }
    return err;
}

int blend_sip_call_play_stop(struct blend_sip *sip, uint64_t call)
{
    return call_push(sip, BLEND__SIP_CALL_PLAY_STOP, call, 0, 0, 0, NULL);
}

int blend_sip_call_moh(struct blend_sip *sip, uint64_t call, int on)
{
    return call_push(sip, BLEND__SIP_CALL_MOH, call, 0, on ? 1 : 0, 0, NULL);
}

int blend_sip_call_keep_customer(struct blend_sip *sip, uint64_t call, int on)
{
    return call_push(sip, BLEND__SIP_CALL_KEEP_CUSTOMER, call, 0, on ? 1 : 0, 0, NULL);
}

int blend_sip_call_voicemail_start(struct blend_sip *sip, uint64_t call, const char *path)
{
    return record_push(sip, BLEND__SIP_CALL_VOICEMAIL_START, call, path);
}
