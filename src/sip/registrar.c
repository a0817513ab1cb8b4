/*
 * The registrar core: accounts, bindings, digest authentication and the OPTIONS keep-alive.
 * blend__sip_reg_handle() turns one decoded request into an answer (struct blend__sip_reply)
 * and events; it never sends anything itself, so it runs the same under the fuzzer as on the
 * telephony thread. Bindings expire through libre timers; keep-alive OPTIONS go out through
 * the libre stack handed in at creation (none when it is NULL).
 *
 * Invariants: a REGISTER changes bindings only after it was authenticated, its nonce was fresh
 * and every contact in it was valid (all or nothing); UNREGISTERED is emitted exactly when an
 * extension loses its last binding; an unknown extension and a wrong password get the same
 * answer. The rules are in docs/sip.md.
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <stdarg.h>
#include <string.h>

struct account;

struct binding {
    struct le le; /* in acc->bindings */
    struct account *acc;
    char contact[BLEND_SIP_URI_BYTES_MAX];
    char callid[BLEND_SIP_URI_BYTES_MAX];
    char ua[BLEND_SIP_UA_BYTES_MAX];
    uint32_t cseq;
    enum sip_transp tp;
    struct sa src;
    uint32_t expires_s;
    uint64_t expires_at_ms;
    struct tmr expire_tmr;
    struct tmr options_tmr; /* next keep-alive, or the deadline of the pending one */
    struct sip_request *options_req;
};

struct account {
    struct le he; /* in reg->accounts */
    struct blend__sip_reg *reg;
    char ext[BLEND_SIP_EXTENSION_BYTES_MAX];
    uint8_t ha1[MD5_SIZE];
    int64_t agent_id;
    struct list bindings;
};

/* How many bindings were registered from one source IP: tells a phone's INVITE (challenged)
 * from an unknown source's (403). */
struct source_ip {
    struct le he; /* in reg->source_ips */
    struct sa ip; /* port 0 */
    uint32_t bindings_count;
};

struct blend__sip_reg {
    const struct blend__sip_settings *set;
    struct blend__sip_auth *auth;
    struct sip *stack;
    blend__sip_emit_fn *emit;
    void *emit_arg;
    struct blend__sip_counters *counters;
    struct hash *accounts;
    struct hash *source_ips;
    uint32_t accounts_count;
    uint32_t bindings_count;
};

/* A contact of the REGISTER being handled, validated before anything changes. */
struct contact_req {
    struct pl auri;
    uint32_t expires_s;
    struct binding *existing;
};

struct contacts {
    struct contact_req v[BLEND_SIP_CONTACTS_PER_REQUEST_MAX];
    uint32_t n;
    bool star;
    bool invalid;
    bool too_many;
};

/* Bucket counts of the account and source-IP tables: sizes for speed, not limits. */
enum { ACCOUNT_BUCKETS = 4096, SOURCE_IP_BUCKETS = 1024 };

static void options_schedule(struct binding *b);

static const char *tp_name(enum sip_transp tp)
{
    return tp == SIP_TRANSP_TLS ? "tls" : tp == SIP_TRANSP_TCP ? "tcp" : "udp";
}

static bool source_ip_cmp(struct le *le, void *arg)
{
    const struct source_ip *si = le->data;
    return sa_cmp(&si->ip, arg, SA_ADDR);
}

static struct source_ip *source_ip_find(const struct blend__sip_reg *reg, const struct sa *src)
{
    struct le *le = hash_lookup(reg->source_ips, sa_hash(src, SA_ADDR), source_ip_cmp, (void *)src);
    return le ? le->data : NULL;
}

/* Counts one more binding from src's IP. Returns false when memory ran out. */
static bool source_ip_ref(struct blend__sip_reg *reg, const struct sa *src)
{
    struct source_ip *si = source_ip_find(reg, src);
    if (!si) {
        si = blend_calloc(1, sizeof(*si));
        if (!si) {
            return false;
        }
        si->ip = *src;
        sa_set_port(&si->ip, 0);
        hash_append(reg->source_ips, sa_hash(src, SA_ADDR), &si->he, si);
    }
    si->bindings_count++;
    return true;
}

static void source_ip_unref(struct blend__sip_reg *reg, const struct sa *src)
{
    struct source_ip *si = source_ip_find(reg, src);
    BLEND_ASSERT(si && si->bindings_count > 0);
    if (--si->bindings_count == 0) {
        hash_unlink(&si->he);
        blend_free(si);
    }
}

bool blend__sip_reg_source_known(const struct blend__sip_reg *reg, const struct sa *src)
{
    return source_ip_find(reg, src) != NULL;
}

static void reply_set(struct blend__sip_reply *r, uint16_t scode, const char *reason)
{
    r->scode = scode;
    r->reason = reason;
}

static void reply_addf(struct blend__sip_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = re_vsnprintf(r->hdrs + r->hdrs_len, sizeof(r->hdrs) - r->hdrs_len, fmt, ap);
    va_end(ap);
    /* Every reply is bounded by the per-account binding limit; overflowing is a bug. */
    BLEND_ASSERT(n >= 0 && (size_t)n < sizeof(r->hdrs) - r->hdrs_len);
    r->hdrs_len += (size_t)n;
}

void blend__sip_pl_copy(const struct pl *pl, char *out, size_t cap)
{
    size_t n = pl && pl->p ? pl->l : 0;
    if (n >= cap) {
        n = cap - 1;
    }
    /* Text from the wire ends up in logs and JSON: control bytes become '?'. */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)pl->p[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[n] = '\0';
}

static void emit_binding(struct blend__sip_reg *reg, enum blend_sip_event_kind kind,
                         const struct account *acc, const struct binding *b, const char *cause)
{
    struct blend_sip_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.agent_id = acc->agent_id;
    str_ncpy(ev.extension, acc->ext, sizeof(ev.extension));
    if (b) {
        str_ncpy(ev.contact, b->contact, sizeof(ev.contact));
        str_ncpy(ev.transport, tp_name(b->tp), sizeof(ev.transport));
        (void)re_snprintf(ev.source, sizeof(ev.source), "%J", &b->src);
        str_ncpy(ev.user_agent, b->ua, sizeof(ev.user_agent));
        ev.expires_s = (int)b->expires_s;
    }
    if (cause) {
        str_ncpy(ev.cause, cause, sizeof(ev.cause));
    }
    ev.bindings_count = (int)list_count(&acc->bindings);
    reg->emit(&ev, reg->emit_arg);
}

/* Unlinks and frees a binding; emits UNREGISTERED with cause when it was the last one. */
static void binding_remove(struct binding *b, const char *cause)
{
    struct account *acc = b->acc;
    struct blend__sip_reg *reg = acc->reg;
    BLEND_ASSERT(reg->bindings_count > 0 && list_contains(&acc->bindings, &b->le));
    tmr_cancel(&b->expire_tmr);
    tmr_cancel(&b->options_tmr);
    /* libre lets a pending request finish on its own once dereferenced, without callbacks. */
    b->options_req = mem_deref(b->options_req);
    list_unlink(&b->le);
    reg->bindings_count--;
    source_ip_unref(reg, &b->src);
    if (list_isempty(&acc->bindings) && cause) {
        emit_binding(reg, BLEND_SIP_EV_UNREGISTERED, acc, NULL, cause);
    }
    blend_free(b);
}

static void expire_handler(void *arg)
{
    struct binding *b = arg;
    BLEND_LOG_INFO("sip", "binding %s of %s expired", b->contact, b->acc->ext);
    binding_remove(b, "expired");
}

static void unreachable(struct binding *b)
{
    struct blend__sip_reg *reg = b->acc->reg;
    atomic_fetch_add(&reg->counters->unreachable, 1);
    BLEND_LOG_INFO("sip", "binding %s of %s unreachable", b->contact, b->acc->ext);
    binding_remove(b, "unreachable");
}

static void options_timeout_handler(void *arg)
{
    unreachable(arg);
}

static void options_resp_handler(int err, const struct sip_msg *msg, void *arg)
{
    struct binding *b = arg;
    if (!err && msg && msg->scode < 200) {
        return;
    }
    /* libre cleared b->options_req before calling. Any final answer means the phone is there. */
    tmr_cancel(&b->options_tmr);
    if (err || !msg) {
        unreachable(b);
        return;
    }
    options_schedule(b);
}

static void options_send_handler(void *arg)
{
    struct binding *b = arg;
    struct blend__sip_reg *reg = b->acc->reg;
    char route_text[BLEND_SIP_ADDR_BYTES_MAX + 32];
    struct uri route;
    struct pl pl;
    struct sa laddr;

    (void)re_snprintf(route_text, sizeof(route_text), "sip:%J;transport=%s", &b->src,
                      tp_name(b->tp));
    pl_set_str(&pl, route_text);
    int err = uri_decode(&route, &pl);
    if (!err) {
        err = sip_transp_laddr(reg->stack, &laddr, b->tp, &b->src);
    }
    if (!err) {
        err = sip_requestf(&b->options_req, reg->stack, true, "OPTIONS", b->contact, &route, NULL,
                           NULL, options_resp_handler, b,
                           "Max-Forwards: 70\r\n"
                           "To: <%s>\r\n"
                           "From: <sip:blend@%J>;tag=%016llx\r\n"
                           "Call-ID: %016llx@blend\r\n"
                           "CSeq: 1 OPTIONS\r\n"
                           "Content-Length: 0\r\n\r\n",
                           b->contact, &laddr, (unsigned long long)rand_u64(),
                           (unsigned long long)rand_u64());
    }
    /* libre reports send errors from sip_requestf itself, never through the response handler
     * during the call, so b is still ours here. */
    if (err) {
        BLEND_LOG_WARN("sip", "OPTIONS to %s failed to go out: %s", b->contact, strerror(err));
        unreachable(b);
        return;
    }
    atomic_fetch_add(&reg->counters->options_sent, 1);
    tmr_start(&b->options_tmr, reg->set->options_timeout_ms, options_timeout_handler, b);
}

static void options_schedule(struct binding *b)
{
    struct blend__sip_reg *reg = b->acc->reg;
    if (!reg->stack || reg->set->options_interval_ms == 0 || b->options_req) {
        return;
    }
    tmr_start(&b->options_tmr, reg->set->options_interval_ms, options_send_handler, b);
}

/* The outbound trunk: "sip:IP[:port][;params]" with a numeric host (no DNS) and no user part;
 * credentials without control bytes or quotes. */
static int trunk_resolve(const struct blend_sip_config *cfg, struct blend__sip_settings *s)
{
    if ((cfg->trunk_user && strlen(cfg->trunk_user) >= sizeof(s->trunk_user)) ||
        (cfg->trunk_password && strlen(cfg->trunk_password) >= sizeof(s->trunk_password))) {
        return BLEND_EINVAL;
    }
    if (!cfg->trunk_uri || cfg->trunk_uri[0] == '\0') {
        return 0;
    }
    struct uri u;
    struct pl pl;
    struct sa sa;
    pl_set_str(&pl, cfg->trunk_uri);
    if (strlen(cfg->trunk_uri) >= sizeof(s->trunk_hostport) ||
        strncmp(cfg->trunk_uri, "sip:", 4) != 0 || strpbrk(cfg->trunk_uri, " \t\r\n<>\"") ||
        uri_decode(&u, &pl) != 0 || pl_isset(&u.user) || pl_isset(&u.headers) ||
        sa_set(&sa, &u.host, u.port) != 0) {
        BLEND_LOG_ERROR("sip", "bad trunk_uri (want sip:IP[:port][;transport=udp|tcp])");
        return BLEND_EINVAL;
    }
    str_ncpy(s->trunk_hostport, cfg->trunk_uri + 4, sizeof(s->trunk_hostport));
    for (const char *c = cfg->trunk_user ? cfg->trunk_user : ""; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\') {
            return BLEND_EINVAL;
        }
    }
    if (cfg->trunk_user) {
        str_ncpy(s->trunk_user, cfg->trunk_user, sizeof(s->trunk_user));
    }
    if (cfg->trunk_password) {
        str_ncpy(s->trunk_password, cfg->trunk_password, sizeof(s->trunk_password));
    }
    return 0;
}

int blend__sip_settings_resolve(const struct blend_sip_config *cfg, struct blend__sip_settings *out)
{
    struct blend__sip_settings s;
    if (!cfg || (!cfg->udp_addr && !cfg->tcp_addr)) {
        return BLEND_EINVAL;
    }
    memset(&s, 0, sizeof(s));
    const char *realm = cfg->realm ? cfg->realm : "blend";
    if (realm[0] == '\0' || strlen(realm) >= sizeof(s.realm) || strpbrk(realm, "\"\\\r\n")) {
        return BLEND_EINVAL;
    }
    str_ncpy(s.realm, realm, sizeof(s.realm));
#define PICK(v, def, max) ((v) < 0 || (v) > (max) ? -1 : (v) == 0 ? (def) : (v))
    int ttl = PICK(cfg->nonce_ttl_s, BLEND_SIP_NONCE_TTL_S_DEFAULT, BLEND_SIP_NONCE_TTL_S_MAX);
    int emin = PICK(cfg->expires_min_s, BLEND_SIP_EXPIRES_MIN_S_DEFAULT, BLEND_SIP_EXPIRES_S_MAX);
    int emax = PICK(cfg->expires_max_s, BLEND_SIP_EXPIRES_MAX_S_DEFAULT, BLEND_SIP_EXPIRES_S_MAX);
    int edef = PICK(cfg->expires_default_s, BLEND_SIP_EXPIRES_S_DEFAULT, BLEND_SIP_EXPIRES_S_MAX);
    int fmax = PICK(cfg->auth_fail_max, BLEND_SIP_AUTH_FAIL_MAX_DEFAULT, BLEND_SIP_AUTH_FAIL_MAX);
    int win =
        PICK(cfg->auth_fail_window_s, BLEND_SIP_AUTH_WINDOW_S_DEFAULT, BLEND_SIP_AUTH_WINDOW_S_MAX);
    int lock = PICK(cfg->auth_lock_s, BLEND_SIP_AUTH_LOCK_S_DEFAULT, BLEND_SIP_AUTH_LOCK_S_MAX);
    int oint = PICK(cfg->options_interval_s, 0, BLEND_SIP_EXPIRES_S_MAX);
    int otmo = PICK(cfg->options_timeout_s, BLEND_SIP_OPTIONS_TIMEOUT_S_MAX,
                    BLEND_SIP_OPTIONS_TIMEOUT_S_MAX);
    int evs = PICK(cfg->events_max, BLEND_SIP_EVENTS_MAX, BLEND_SIP_EVENTS_MAX);
#undef PICK
    if (ttl < 0 || emin < 0 || emax < 0 || edef < 0 || fmax < 0 || win < 0 || lock < 0 ||
        oint < 0 || otmo < 0 || evs < 0 || emin > emax) {
        return BLEND_EINVAL;
    }
    s.nonce_ttl_ms = (uint64_t)ttl * 1000;
    s.expires_min_s = (uint32_t)emin;
    s.expires_max_s = (uint32_t)emax;
    s.expires_default_s = (uint32_t)(edef < emin ? emin : edef > emax ? emax : edef);
    s.auth_fail_max = (uint32_t)fmax;
    s.auth_fail_window_ms = (uint64_t)win * 1000;
    s.auth_lock_ms = (uint64_t)lock * 1000;
    s.options_interval_ms = (uint64_t)oint * 1000;
    s.options_timeout_ms = (uint64_t)otmo * 1000;
    int pmin = cfg->rtp_port_min == 0 ? BLEND_SIP_RTP_PORT_MIN_DEFAULT : cfg->rtp_port_min;
    int pmax = cfg->rtp_port_max == 0 ? BLEND_SIP_RTP_PORT_MAX_DEFAULT : cfg->rtp_port_max;
    /* RTP on an even port, RTCP on the next: the range must hold one pair. */
    if (pmin < 1024 || pmax > 65535 || pmin + 1 > pmax) {
        return BLEND_EINVAL;
    }
    s.rtp_port_min = (uint16_t)pmin;
    s.rtp_port_max = (uint16_t)pmax;
    if (blend__sip_acl_parse(cfg->trunk_allow, &s.trunks) != 0) {
        return BLEND_EINVAL;
    }
    if (cfg->session_expires_s < 0 || cfg->session_expires_s > BLEND_SIP_SESSION_EXPIRES_S_MAX ||
        (cfg->session_expires_s > 0 && cfg->session_expires_s < 2)) {
        return BLEND_EINVAL;
    }
    s.session_expires_s = (uint32_t)cfg->session_expires_s;
    s.min_se_s =
        s.session_expires_s < BLEND_SIP_MIN_SE_S ? s.session_expires_s : BLEND_SIP_MIN_SE_S;
    if (trunk_resolve(cfg, &s) != 0) {
        return BLEND_EINVAL;
    }
    *out = s;
    return 0;
}

int blend__sip_reg_create(const struct blend__sip_settings *set, struct sip *stack,
                          blend__sip_emit_fn *emit, void *emit_arg,
                          struct blend__sip_counters *counters, struct blend__sip_reg **out)
{
    BLEND_ASSERT(set && emit && counters && out);
    struct blend__sip_reg *reg = blend_calloc(1, sizeof(*reg));
    if (!reg) {
        return BLEND_ENOMEM;
    }
    reg->set = set;
    reg->stack = stack;
    reg->emit = emit;
    reg->emit_arg = emit_arg;
    reg->counters = counters;
    int err = blend__sip_auth_create(set, &reg->auth);
    if (!err && hash_alloc(&reg->accounts, ACCOUNT_BUCKETS) != 0) {
        err = BLEND_ENOMEM;
    }
    if (!err && hash_alloc(&reg->source_ips, SOURCE_IP_BUCKETS) != 0) {
        err = BLEND_ENOMEM;
    }
    if (err) {
        blend__sip_reg_destroy(reg);
        return err;
    }
    *out = reg;
    return 0;
}

static void account_free(struct account *acc, const char *cause)
{
    BLEND_ASSERT(acc->reg->accounts_count > 0);
    while (acc->bindings.head) {
        binding_remove(acc->bindings.head->data, cause);
    }
    hash_unlink(&acc->he);
    acc->reg->accounts_count--;
    blend_free(acc);
}

static bool account_free_all(struct le *le, void *arg)
{
    account_free(le->data, NULL);
    return false;
}

void blend__sip_reg_destroy(struct blend__sip_reg *reg)
{
    if (!reg) {
        return;
    }
    if (reg->accounts) {
        while (hash_apply(reg->accounts, account_free_all, NULL)) {
        }
        mem_deref(reg->accounts);
    }
    /* Every binding is gone, so every source IP entry went with it. */
    mem_deref(reg->source_ips);
    BLEND_ASSERT(reg->accounts_count == 0 && reg->bindings_count == 0);
    blend__sip_auth_destroy(reg->auth);
    blend_free(reg);
}

static bool account_cmp(struct le *le, void *arg)
{
    const struct account *acc = le->data;
    return pl_strcmp(arg, acc->ext) == 0;
}

static struct account *account_find(const struct blend__sip_reg *reg, const struct pl *ext)
{
    struct le *le = hash_lookup(reg->accounts, hash_joaat_pl(ext), account_cmp, (void *)ext);
    return le ? le->data : NULL;
}

bool blend__sip_reg_phone_at(const struct blend__sip_reg *reg, const struct pl *ext,
                             const struct sa *src)
{
    const struct account *acc = pl_isset(ext) ? account_find(reg, ext) : NULL;
    for (const struct le *le = acc ? acc->bindings.head : NULL; le; le = le->next) {
        const struct binding *b = le->data;
        if (sa_cmp(&b->src, src, SA_ALL)) {
            return true;
        }
    }
    return false;
}

int blend__sip_reg_account_set(struct blend__sip_reg *reg, const char *extension,
                               const uint8_t ha1[MD5_SIZE], int64_t agent_id)
{
    struct pl ext;
    if (!extension || extension[0] == '\0' || strlen(extension) >= BLEND_SIP_EXTENSION_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    pl_set_str(&ext, extension);
    struct account *acc = account_find(reg, &ext);
    if (!acc) {
        if (reg->accounts_count >= BLEND_SIP_ACCOUNTS_MAX) {
            return BLEND_ELIMIT;
        }
        acc = blend_calloc(1, sizeof(*acc));
        if (!acc) {
            return BLEND_ENOMEM;
        }
        acc->reg = reg;
        str_ncpy(acc->ext, extension, sizeof(acc->ext));
        hash_append(reg->accounts, hash_joaat_pl(&ext), &acc->he, acc);
        reg->accounts_count++;
    }
    memcpy(acc->ha1, ha1, MD5_SIZE);
    acc->agent_id = agent_id;
    return 0;
}

void blend__sip_reg_account_remove(struct blend__sip_reg *reg, const char *extension)
{
    struct pl ext;
    pl_set_str(&ext, extension);
    struct account *acc = account_find(reg, &ext);
    if (acc) {
        account_free(acc, "account-removed");
    }
}

int blend__sip_reg_bindings_count(const struct blend__sip_reg *reg, const char *extension)
{
    struct pl ext;
    pl_set_str(&ext, extension);
    const struct account *acc = account_find(reg, &ext);
    return acc ? (int)list_count(&acc->bindings) : -1;
}

static void challenge(struct blend__sip_reg *reg, uint64_t now_ms, bool stale,
                      struct blend__sip_reply *reply)
{
    char nonce[64];
    blend__sip_nonce_make(reg->auth, now_ms, nonce);
    reply_set(reply, 401, "Unauthorized");
    reply_addf(reply,
               "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", qop=\"auth\", "
               "algorithm=MD5%s\r\n",
               reg->set->realm, nonce, stale ? ", stale=true" : "");
}

/* A failed authentication: counted, reported, and answered like every other failure. */
static void auth_fail(struct blend__sip_reg *reg, const struct sip_msg *msg, const struct pl *user,
                      uint64_t now_ms, struct blend__sip_reply *reply)
{
    struct blend_sip_event ev;
    uint64_t until_ms = 0;
    atomic_fetch_add(&reg->counters->auth_failures, 1);
    memset(&ev, 0, sizeof(ev));
    ev.kind = BLEND_SIP_EV_AUTH_FAILED;
    blend__sip_pl_copy(user, ev.extension, sizeof(ev.extension));
    str_ncpy(ev.transport, tp_name(msg->tp), sizeof(ev.transport));
    (void)re_snprintf(ev.source, sizeof(ev.source), "%J", &msg->src);
    reg->emit(&ev, reg->emit_arg);
    if (!blend__sip_source_fail(reg->auth, &msg->src, now_ms, &until_ms)) {
        challenge(reg, now_ms, false, reply);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = BLEND_SIP_EV_SOURCE_LOCKED;
    (void)re_snprintf(ev.source, sizeof(ev.source), "%j", &msg->src);
    ev.locked_until_ms = (int64_t)until_ms;
    ev.lock_s = (int)(reg->set->auth_lock_ms / 1000);
    BLEND_LOG_WARN("sip", "source %s locked for %d s after repeated authentication failures",
                   ev.source, ev.lock_s);
    reg->emit(&ev, reg->emit_arg);
    reply_set(reply, 403, "Forbidden");
}

struct auth_find {
    const char *realm;
    struct httpauth_digest_resp resp;
    bool found;
};

static bool auth_hdr_handler(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    struct auth_find *f = arg;
    (void)msg;
    if (httpauth_digest_response_decode(&f->resp, &hdr->val) != 0) {
        return false;
    }
    if (pl_strcmp(&f->resp.realm, f->realm) != 0) {
        return false;
    }
    f->found = true;
    return true;
}

static bool parse_u32(const struct pl *pl, uint32_t *out)
{
    if (!pl_isset(pl) || pl->l > 9) {
        return false;
    }
    for (size_t i = 0; i < pl->l; i++) {
        if (pl->p[i] < '0' || pl->p[i] > '9') {
            return false;
        }
    }
    *out = pl_u32(pl);
    return true;
}

struct require_scan {
    const char *supported;
    struct blend__sip_reply *reply;
    uint32_t unsupported;
};

/* One Require value (libre splits the comma-separated list): an option tag Blend does not
 * support is listed in Unsupported (RFC 3261 8.2.2.3), as many as fit. */
static bool require_hdr_handler(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    struct require_scan *rs = arg;
    (void)msg;
    if (rs->supported && pl_strcasecmp(&hdr->val, rs->supported) == 0) {
        return false;
    }
    struct blend__sip_reply *r = rs->reply;
    size_t room = sizeof(r->hdrs) - r->hdrs_len;
    /* "Unsupported: " + tag + "\r\n", and the Content-Length line the sender appends. */
    if (hdr->val.l < BLEND_SIP_EXTENSION_BYTES_MAX && room > hdr->val.l + 64) {
        char tag[BLEND_SIP_EXTENSION_BYTES_MAX];
        blend__sip_pl_copy(&hdr->val, tag, sizeof(tag));
        reply_addf(r, "Unsupported: %s\r\n", tag);
    }
    rs->unsupported++;
    return false;
}

/* Whether every double quote of a header value is closed (a backslash escapes the next
 * character): libre decodes `"Mr. J. User <sip:...>` (RFC 4475 quotbal) as an address. */
static bool quotes_balanced(const struct pl *v)
{
    bool open = false;
    for (size_t i = 0; i < v->l; i++) {
        if (open && v->p[i] == '\\') {
            i++;
        } else if (v->p[i] == '"') {
            open = !open;
        }
    }
    return !open;
}

/* The checks every request gets before its method's rules (RFC 3261 8.2 and RFC 4475): the
 * mandatory header fields once each, quotes closed in To and From, the CSeq method equal to the
 * request's, a numeric Content-Length no larger than the datagram, a sip: Request-URI without
 * headers, no Require option tag but `supported` (NULL: none). Returns true, or false with the
 * answer in reply (400, 416 or 420). */
bool blend__sip_request_ok(const struct sip_msg *msg, const char *supported,
                           struct blend__sip_reply *reply)
{
    static const enum sip_hdrid required[] = {SIP_HDR_VIA, SIP_HDR_FROM, SIP_HDR_TO,
                                              SIP_HDR_CALL_ID, SIP_HDR_CSEQ};
    static const enum sip_hdrid single[] = {SIP_HDR_FROM,         SIP_HDR_TO,
                                            SIP_HDR_CALL_ID,      SIP_HDR_CSEQ,
                                            SIP_HDR_MAX_FORWARDS, SIP_HDR_CONTENT_LENGTH,
                                            SIP_HDR_CONTENT_TYPE, SIP_HDR_EXPIRES};
    BLEND_ASSERT(msg && msg->req && reply);
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!sip_msg_hdr(msg, required[i])) {
            reply_set(reply, 400, "Missing Header Field");
            return false;
        }
    }
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        if (sip_msg_hdr_count(msg, single[i]) > 1) {
            reply_set(reply, 400, "Header Field Repeated");
            return false;
        }
    }
    if (!quotes_balanced(&msg->to.val) || !quotes_balanced(&msg->from.val)) {
        reply_set(reply, 400, "Unterminated Quoted String");
        return false;
    }
    if (pl_cmp(&msg->cseq.met, &msg->met) != 0) {
        reply_set(reply, 400, "CSeq Method Mismatch");
        return false;
    }
    uint32_t clen = 0;
    if (pl_isset(&msg->clen) && !parse_u32(&msg->clen, &clen)) {
        reply_set(reply, 400, "Bad Content-Length");
        return false;
    }
    /* Over TCP libre framed the body by Content-Length; a datagram must hold all of it. */
    if (pl_isset(&msg->clen) && mbuf_get_left(msg->mb) < clen) {
        reply_set(reply, 400, "Content-Length Too Large");
        return false;
    }
    if (pl_strcasecmp(&msg->uri.scheme, "sip") != 0) {
        reply_set(reply, 416, "Unsupported URI Scheme");
        return false;
    }
    if (pl_isset(&msg->uri.headers)) {
        reply_set(reply, 400, "Headers In Request-URI");
        return false;
    }
    struct require_scan rs = {.supported = supported, .reply = reply, .unsupported = 0};
    (void)sip_msg_hdr_apply(msg, true, SIP_HDR_REQUIRE, require_hdr_handler, &rs);
    if (rs.unsupported > 0) {
        reply_set(reply, 420, "Bad Extension");
        return false;
    }
    return true;
}

static bool contact_hdr_handler(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    struct contacts *c = arg;
    struct sip_addr addr;
    struct pl v;
    (void)msg;
    if (pl_strcmp(&hdr->val, "*") == 0) {
        c->star = true;
        return false;
    }
    if (c->n >= BLEND_SIP_CONTACTS_PER_REQUEST_MAX) {
        c->too_many = true;
        return true;
    }
    /* A URI with headers (?Route=...) would carry them into the Request-URI of the requests
     * Blend sends to the binding, which RFC 3261 19.1.5 forbids: refused, not stored. */
    if (sip_addr_decode(&addr, &hdr->val) != 0 || pl_strcasecmp(&addr.uri.scheme, "sip") != 0 ||
        addr.auri.l >= BLEND_SIP_URI_BYTES_MAX || pl_isset(&addr.uri.headers)) {
        c->invalid = true;
        return true;
    }
    struct contact_req *cr = &c->v[c->n++];
    cr->auri = addr.auri;
    cr->expires_s = UINT32_MAX; /* none given */
    if (msg_param_decode(&addr.params, "expires", &v) == 0 && !parse_u32(&v, &cr->expires_s)) {
        c->invalid = true;
        return true;
    }
    return false;
}

static struct binding *binding_find(const struct account *acc, const struct pl *auri)
{
    for (struct le *le = acc->bindings.head; le; le = le->next) {
        struct binding *b = le->data;
        if (pl_strcmp(auri, b->contact) == 0) {
            return b;
        }
    }
    return NULL;
}

static void reply_bindings(const struct account *acc, uint64_t now_ms,
                           struct blend__sip_reply *reply)
{
    reply_set(reply, 200, "OK");
    for (struct le *le = acc->bindings.head; le; le = le->next) {
        const struct binding *b = le->data;
        uint64_t left_ms = b->expires_at_ms > now_ms ? b->expires_at_ms - now_ms : 0;
        reply_addf(reply, "Contact: <%s>;expires=%llu\r\n", b->contact,
                   (unsigned long long)((left_ms + 999) / 1000));
    }
}

/* Validates every contact against the rules; answers and returns false on the first error. */
static bool contacts_check(struct blend__sip_reg *reg, struct account *acc,
                           const struct sip_msg *msg, struct contacts *c, uint32_t hdr_expires,
                           struct blend__sip_reply *reply)
{
    const struct blend__sip_settings *set = reg->set;
    uint32_t added = 0;
    if (c->invalid || c->too_many || (c->star && (c->n > 0 || hdr_expires != 0))) {
        reply_set(reply, 400, c->too_many ? "Too Many Contacts" : "Invalid Contact");
        return false;
    }
    if (msg->callid.l >= BLEND_SIP_URI_BYTES_MAX) {
        reply_set(reply, 400, "Call-ID Too Long");
        return false;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        struct contact_req *cr = &c->v[i];
        if (cr->expires_s == UINT32_MAX) {
            cr->expires_s = hdr_expires != UINT32_MAX ? hdr_expires : set->expires_default_s;
        }
        if (cr->expires_s != 0 && cr->expires_s < set->expires_min_s) {
            reply_set(reply, 423, "Interval Too Brief");
            reply_addf(reply, "Min-Expires: %u\r\n", set->expires_min_s);
            return false;
        }
        if (cr->expires_s > set->expires_max_s) {
            cr->expires_s = set->expires_max_s;
        }
        cr->existing = binding_find(acc, &cr->auri);
        if (cr->existing && pl_strcmp(&msg->callid, cr->existing->callid) == 0 &&
            msg->cseq.num <= cr->existing->cseq) {
            reply_set(reply, 500, "Out Of Order");
            return false;
        }
        added += (!cr->existing && cr->expires_s != 0);
    }
    if (list_count(&acc->bindings) + added > BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX ||
        reg->bindings_count + added > BLEND_SIP_BINDINGS_MAX) {
        reply_set(reply, 503, "Too Many Bindings");
        return false;
    }
    return true;
}

/* Adds or refreshes the binding of one contact. Returns false when memory ran out. */
static bool binding_upsert(struct blend__sip_reg *reg, struct account *acc,
                           const struct sip_msg *msg, const struct contact_req *cr, uint64_t now_ms)
{
    /* Looked up again: an earlier contact of the same request may have added it. */
    struct binding *b = binding_find(acc, &cr->auri);
    char ua[BLEND_SIP_UA_BYTES_MAX];
    const struct sip_hdr *uah = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
    blend__sip_pl_copy(uah ? &uah->val : NULL, ua, sizeof(ua));
    bool changed =
        !b || b->tp != msg->tp || !sa_cmp(&b->src, &msg->src, SA_ALL) || strcmp(b->ua, ua) != 0;
    /* The new source IP is counted before the old one is released (it may be the same). */
    if (!source_ip_ref(reg, &msg->src)) {
        BLEND_LOG_ERROR("sip", "out of memory adding a binding for %s", acc->ext);
        return false;
    }
    if (!b) {
        b = blend_calloc(1, sizeof(*b));
        if (!b) {
            source_ip_unref(reg, &msg->src);
            BLEND_LOG_ERROR("sip", "out of memory adding a binding for %s", acc->ext);
            return false;
        }
        b->acc = acc;
        blend__sip_pl_copy(&cr->auri, b->contact, sizeof(b->contact));
        tmr_init(&b->expire_tmr);
        tmr_init(&b->options_tmr);
        list_append(&acc->bindings, &b->le, b);
        reg->bindings_count++;
    } else {
        source_ip_unref(reg, &b->src);
    }
    BLEND_ASSERT(cr->expires_s >= reg->set->expires_min_s &&
                 cr->expires_s <= reg->set->expires_max_s);
    blend__sip_pl_copy(&msg->callid, b->callid, sizeof(b->callid));
    str_ncpy(b->ua, ua, sizeof(b->ua));
    b->cseq = msg->cseq.num;
    b->tp = msg->tp;
    b->src = msg->src;
    b->expires_s = cr->expires_s;
    b->expires_at_ms = now_ms + (uint64_t)cr->expires_s * 1000;
    tmr_start(&b->expire_tmr, (uint64_t)cr->expires_s * 1000, expire_handler, b);
    options_schedule(b);
    if (changed) {
        emit_binding(reg, BLEND_SIP_EV_REGISTERED, acc, b, NULL);
    }
    return true;
}

static void bindings_apply(struct blend__sip_reg *reg, struct account *acc,
                           const struct sip_msg *msg, uint64_t now_ms,
                           struct blend__sip_reply *reply)
{
    struct contacts c;
    uint32_t hdr_expires = UINT32_MAX;
    memset(&c, 0, sizeof(c));
    if (pl_isset(&msg->expires) && !parse_u32(&msg->expires, &hdr_expires)) {
        reply_set(reply, 400, "Invalid Expires");
        return;
    }
    (void)sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_hdr_handler, &c);
    if (!contacts_check(reg, acc, msg, &c, hdr_expires, reply)) {
        return;
    }
    if (c.star) {
        while (acc->bindings.head) {
            binding_remove(acc->bindings.head->data, "unregistered");
        }
    }
    for (uint32_t i = 0; i < c.n; i++) {
        if (c.v[i].expires_s == 0) {
            /* Looked up again: the same contact may appear twice in one request. */
            struct binding *b = binding_find(acc, &c.v[i].auri);
            if (b) {
                binding_remove(b, "unregistered");
            }
            continue;
        }
        if (!binding_upsert(reg, acc, msg, &c.v[i], now_ms)) {
            reply_set(reply, 500, "Out Of Memory");
            return;
        }
    }
    atomic_fetch_add(&reg->counters->registers_ok, 1);
    reply_bindings(acc, now_ms, reply);
}

/* The digest rules shared by REGISTER and INVITE. Returns the account, or NULL with the answer
 * in reply. */
static struct account *authenticate(struct blend__sip_reg *reg, const struct sip_msg *msg,
                                    uint64_t now_ms, struct blend__sip_reply *reply)
{
    struct auth_find f;
    memset(&f, 0, sizeof(f));
    f.realm = reg->set->realm;
    (void)sip_msg_hdr_apply(msg, true, SIP_HDR_AUTHORIZATION, auth_hdr_handler, &f);
    if (!f.found) {
        challenge(reg, now_ms, false, reply);
        return NULL;
    }
    const struct httpauth_digest_resp *resp = &f.resp;
    struct account *acc = account_find(reg, &resp->username);
    /* An unknown user costs the same digest computation as a known one (no timing oracle). */
    static const uint8_t no_ha1[MD5_SIZE];
    bool digest_ok = httpauth_digest_response_auth(resp, &msg->met, acc ? acc->ha1 : no_ha1) == 0;
    bool ok = acc && digest_ok && pl_strcmp(&resp->qop, "auth") == 0 && pl_isset(&resp->cnonce) &&
              pl_casecmp(&resp->uri, &msg->ruri) == 0;
    if (!ok) {
        auth_fail(reg, msg, &resp->username, now_ms, reply);
        return NULL;
    }
    if (blend__sip_nonce_check(reg->auth, &resp->nonce, &resp->nc, now_ms) != BLEND__SIP_NONCE_OK) {
        challenge(reg, now_ms, true, reply);
        return NULL;
    }
    return acc;
}

bool blend__sip_reg_authenticate(struct blend__sip_reg *reg, const struct sip_msg *msg,
                                 uint64_t now_ms, struct blend__sip_reply *reply, int64_t *agent_id,
                                 char ext[BLEND_SIP_EXTENSION_BYTES_MAX])
{
    BLEND_ASSERT(reg && msg && reply && agent_id && ext);
    const struct account *acc = authenticate(reg, msg, now_ms, reply);
    if (!acc) {
        return false;
    }
    *agent_id = acc->agent_id;
    str_ncpy(ext, acc->ext, BLEND_SIP_EXTENSION_BYTES_MAX);
    return true;
}

static void handle_register(struct blend__sip_reg *reg, const struct sip_msg *msg, uint64_t now_ms,
                            struct blend__sip_reply *reply)
{
    struct account *acc = authenticate(reg, msg, now_ms, reply);
    if (!acc) {
        return;
    }
    if (pl_strcmp(&msg->to.uri.user, acc->ext) != 0) {
        reply_set(reply, 403, "Forbidden");
        return;
    }
    bindings_apply(reg, acc, msg, now_ms, reply);
}

struct targets_find {
    int64_t agent_id;
    struct blend__sip_target *out;
    uint32_t cap, n;
};

static bool targets_apply(struct le *le, void *arg)
{
    const struct account *acc = le->data;
    struct targets_find *t = arg;
    if (acc->agent_id != t->agent_id) {
        return false;
    }
    for (struct le *bl = acc->bindings.head; bl && t->n < t->cap; bl = bl->next) {
        const struct binding *b = bl->data;
        struct blend__sip_target *o = &t->out[t->n++];
        str_ncpy(o->contact, b->contact, sizeof(o->contact));
        o->tp = b->tp;
        o->src = b->src;
    }
    return t->n >= t->cap;
}

uint32_t blend__sip_reg_agent_targets(const struct blend__sip_reg *reg, int64_t agent_id,
                                      struct blend__sip_target *out, uint32_t cap)
{
    BLEND_ASSERT(reg && out);
    struct targets_find t = {.agent_id = agent_id, .out = out, .cap = cap, .n = 0};
    /* A scan of the accounts: an offer is rare next to the packets of a call. */
    (void)hash_apply(reg->accounts, targets_apply, &t);
    return t.n;
}

bool blend__sip_reg_locked(struct blend__sip_reg *reg, const struct sip_msg *msg, uint64_t now_ms,
                           struct blend__sip_reply *reply)
{
    if (!blend__sip_source_is_locked(reg->auth, &msg->src, now_ms)) {
        return false;
    }
    atomic_fetch_add(&reg->counters->locked_rejects, 1);
    reply_set(reply, 403, "Forbidden");
    return true;
}

void blend__sip_reg_handle(struct blend__sip_reg *reg, const struct sip_msg *msg, uint64_t now_ms,
                           struct blend__sip_reply *reply)
{
    BLEND_ASSERT(reg && msg && reply);
    reply->scode = 0;
    reply->reason = NULL;
    reply->hdrs_len = 0;
    reply->hdrs[0] = '\0';
    if (!msg->req || pl_strcmp(&msg->met, "ACK") == 0) {
        return;
    }
    if (blend__sip_reg_locked(reg, msg, now_ms, reply)) {
        return;
    }
    bool known = pl_strcmp(&msg->met, "REGISTER") == 0 || pl_strcmp(&msg->met, "OPTIONS") == 0 ||
                 pl_strcmp(&msg->met, "CANCEL") == 0;
    /* An unknown method is 501 whatever else is wrong with it (RFC 4475 mismatch02). */
    if (known && !blend__sip_request_ok(msg, NULL, reply)) {
        return;
    }
    if (pl_strcmp(&msg->met, "REGISTER") == 0) {
        handle_register(reg, msg, now_ms, reply);
    } else if (pl_strcmp(&msg->met, "OPTIONS") == 0) {
        reply_set(reply, 200, "OK");
        reply_addf(reply, "Allow: INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS\r\n");
    } else if (pl_strcmp(&msg->met, "CANCEL") == 0) {
        /* A CANCEL matching a live INVITE transaction is answered by libre before listeners. */
        reply_set(reply, 481, "Call/Transaction Does Not Exist");
    } else {
        reply_set(reply, 501, "Not Implemented");
    }
}
