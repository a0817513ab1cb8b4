/*
 * The outbound trunk's side of the telephony thread: Blend's own registration at the provider
 * (libre's sipreg: digest answered with trunk_user / trunk_password, refreshed at 90% of the
 * granted interval, retried after a failure with libre's back-off) and the caller ID Blend
 * presents on the INVITEs it sends to the trunk (a configured default number, optionally
 * repeated in P-Asserted-Identity).
 *
 * Invariants: only the telephony thread touches a struct blend__sip_trunk; the status it
 * publishes (atomics) always describes the last outcome libre reported, so `registered` is 1
 * exactly between a 2xx and the next failure; every change of state or status code is logged
 * once. The caller-ID helpers are pure (settings in, text out).
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

enum {
    /* The interval Blend asks the trunk for. Below a minute providers answer 423 and refreshes
     * would crowd the link; the upper bound is the registrar's own (BLEND_SIP_EXPIRES_S_MAX). */
    TRUNK_EXPIRES_S_MIN = 60,
    TRUNK_EXPIRES_S_DEFAULT = 600,
    /* Back-off when a REGISTER could not even be sent (libre retries the others itself, with
     * the same shape): 30 s doubling up to 30 min, each wait drawn in [50%, 100%]. */
    TRUNK_RETRY_S_BASE = 30,
    TRUNK_RETRY_S_MAX = 1800,
    TRUNK_RETRY_DOUBLINGS_MAX = 6,
    /* Status codes standing for outcomes without an answer: no answer within Timer F, and a
     * REGISTER that could not go out. */
    TRUNK_CODE_TIMEOUT = 408,
    TRUNK_CODE_SEND_FAILED = 503,
};

struct blend__sip_trunk {
    const struct blend__sip_settings *set;
    struct sip *stack;
    struct blend__sip_trunk_status *status;
    struct sipreg *reg;
    struct tmr retry; /* only while no sipreg exists (sending the first REGISTER failed) */
    uint32_t send_failures;
    char reg_uri[BLEND_SIP_URI_BYTES_MAX + 8];
    char aor[BLEND_SIP_URI_BYTES_MAX + BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    bool registered;
    uint16_t code;
};

int blend__sip_trunk_settings_resolve(const struct blend_sip_config *cfg,
                                      struct blend__sip_settings *set)
{
    BLEND_ASSERT(cfg && set);
    if (cfg->trunk_register < 0 || cfg->trunk_register > 1 || cfg->trunk_pai < 0 ||
        cfg->trunk_pai > 1) {
        return BLEND_EINVAL;
    }
    int expires_s = cfg->trunk_register_expires_s == 0 ? TRUNK_EXPIRES_S_DEFAULT
                                                       : cfg->trunk_register_expires_s;
    if (expires_s < TRUNK_EXPIRES_S_MIN || expires_s > BLEND_SIP_EXPIRES_S_MAX) {
        BLEND_LOG_ERROR("sip", "trunk_register_expires_s %d is outside %d..%d",
                        cfg->trunk_register_expires_s, TRUNK_EXPIRES_S_MIN,
                        BLEND_SIP_EXPIRES_S_MAX);
        return BLEND_EINVAL;
    }
    if (cfg->trunk_register && (set->trunk_hostport[0] == '\0' || set->trunk_user[0] == '\0')) {
        BLEND_LOG_ERROR("sip", "trunk_register needs trunk_uri and trunk_user");
        return BLEND_EINVAL;
    }
    const char *cid = cfg->trunk_caller_id ? cfg->trunk_caller_id : "";
    if (cid[0] != '\0' &&
        (strlen(cid) >= sizeof(set->trunk_caller_id) || !blend__sip_dial_string_ok(cid))) {
        BLEND_LOG_ERROR("sip", "bad trunk_caller_id (want a number: 0-9 + * # . - _ letters)");
        return BLEND_EINVAL;
    }
    set->trunk_register = cfg->trunk_register == 1;
    set->trunk_register_expires_s = (uint32_t)expires_s;
    str_ncpy(set->trunk_caller_id, cid, sizeof(set->trunk_caller_id));
    set->trunk_pai = cfg->trunk_pai == 1;
    return 0;
}

static bool caller_absent(const char *caller)
{
    return !caller || !blend__sip_dial_string_ok(caller) || strcasecmp(caller, "anonymous") == 0;
}

void blend__sip_trunk_caller_id(const struct blend__sip_settings *set, const char *caller,
                                char *out, size_t cap)
{
    BLEND_ASSERT(set && out && cap > 0);
    const char *pick = caller ? caller : "";
    if (caller_absent(caller) && set->trunk_caller_id[0] != '\0') {
        pick = set->trunk_caller_id;
    }
    str_ncpy(out, pick, cap);
}

void blend__sip_trunk_pai_hdr(const struct blend__sip_settings *set, const char *number,
                              const struct sa *host, char *buf, size_t cap)
{
    BLEND_ASSERT(set && host && buf && cap > 0);
    buf[0] = '\0';
    if (!set->trunk_pai || !number || !blend__sip_dial_string_ok(number)) {
        return;
    }
    int n = re_snprintf(buf, cap, "P-Asserted-Identity: <sip:%s@%j>\r\n", number, host);
    if (n < 0 || (size_t)n >= cap) {
        /* A cut header line would corrupt the request: none at all instead. */
        buf[0] = '\0';
    }
}

void blend__sip_trunk_stats(struct blend__sip_trunk_status *status, struct blend_sip_stats *out)
{
    BLEND_ASSERT(status && out);
    out->trunk_registered = atomic_load(&status->registered);
    out->trunk_registers_ok = atomic_load(&status->registers_ok);
    out->trunk_register_failures = atomic_load(&status->failures);
    out->trunk_register_code = atomic_load(&status->last_code);
}

/* Publishes one outcome and logs it when the state or the code changed. */
static void outcome(struct blend__sip_trunk *t, bool ok, uint16_t code, uint32_t granted_s)
{
    atomic_fetch_add(ok ? &t->status->registers_ok : &t->status->failures, 1);
    atomic_store(&t->status->last_code, code);
    atomic_store(&t->status->registered, ok ? 1 : 0);
    bool changed = ok != t->registered || code != t->code;
    t->registered = ok;
    t->code = code;
    if (!changed) {
        return;
    }
    if (ok) {
        BLEND_LOG_INFO("sip", "trunk registration of %s at %s: registered (%u), %u s", t->aor,
                       t->reg_uri, code, granted_s);
    } else {
        BLEND_LOG_WARN("sip", "trunk registration of %s at %s: failed (%u), retrying later", t->aor,
                       t->reg_uri, code);
    }
}

static int auth_handler(char **user, char **password, const char *realm, void *arg)
{
    const struct blend__sip_trunk *t = arg;
    (void)realm;
    int err = str_dup(user, t->set->trunk_user);
    return err ? err : str_dup(password, t->set->trunk_password);
}

/* libre's final word on one REGISTER (after its digest retry and 423 handling); it has already
 * armed the refresh or the retry. */
static void response_handler(int err, const struct sip_msg *msg, void *arg)
{
    struct blend__sip_trunk *t = arg;
    if (msg && msg->scode >= 200 && msg->scode < 300) {
        outcome(t, sipreg_registered(t->reg), msg->scode, sipreg_proxy_expires(t->reg));
        return;
    }
    uint16_t code = msg                ? msg->scode
                    : err == ETIMEDOUT ? TRUNK_CODE_TIMEOUT
                                       : TRUNK_CODE_SEND_FAILED;
    outcome(t, false, code, 0);
}

static void retry_handler(void *arg);

static int register_start(struct blend__sip_trunk *t)
{
    BLEND_ASSERT(!t->reg);
    int err = sipreg_register(&t->reg, t->stack, t->reg_uri, t->aor, NULL, t->aor,
                              t->set->trunk_register_expires_s, t->set->trunk_user, NULL, 0, 0,
                              auth_handler, t, false, response_handler, t, NULL, NULL);
    if (err == ENOMEM) {
        return BLEND_ENOMEM;
    }
    if (err == EINVAL || err == EPROTONOSUPPORT || err == EAFNOSUPPORT) {
        /* Blend has no transport for the trunk's (e.g. ;transport=tls without tls_addr). */
        BLEND_LOG_ERROR("sip", "trunk registration at %s cannot start: %s", t->reg_uri,
                        strerror(err));
        return BLEND_EINVAL;
    }
    if (err) {
        /* Not sent (e.g. no route yet): count it, try again after the back-off. */
        t->send_failures++;
        uint32_t doublings = t->send_failures < TRUNK_RETRY_DOUBLINGS_MAX
                                 ? t->send_failures
                                 : TRUNK_RETRY_DOUBLINGS_MAX;
        uint64_t wait_s = (uint64_t)TRUNK_RETRY_S_BASE << doublings;
        wait_s = wait_s > TRUNK_RETRY_S_MAX ? TRUNK_RETRY_S_MAX : wait_s;
        uint64_t wait_ms = wait_s * (500 + rand_u16() % 501);
        outcome(t, false, TRUNK_CODE_SEND_FAILED, 0);
        tmr_start(&t->retry, wait_ms, retry_handler, t);
        return 0;
    }
    t->send_failures = 0;
    return 0;
}

static void retry_handler(void *arg)
{
    struct blend__sip_trunk *t = arg;
    int err = register_start(t);
    if (err) {
        /* Configuration errors were caught at start; this is memory: try once more later. */
        BLEND_LOG_ERROR("sip", "trunk registration not restarted: %s", blend_strerror(err));
        tmr_start(&t->retry, (uint64_t)TRUNK_RETRY_S_MAX * 1000, retry_handler, t);
    }
}

/* The Request-URI is trunk_uri itself; the address of record is trunk_user at the trunk's host
 * and port (without the URI's parameters). */
static int uris_make(struct blend__sip_trunk *t)
{
    const char *hostport = t->set->trunk_hostport;
    size_t hp_len = strcspn(hostport, ";");
    int n = re_snprintf(t->reg_uri, sizeof(t->reg_uri), "sip:%s", hostport);
    int m = re_snprintf(t->aor, sizeof(t->aor), "sip:%s@%b", t->set->trunk_user, hostport, hp_len);
    if (n < 0 || (size_t)n >= sizeof(t->reg_uri) || m < 0 || (size_t)m >= sizeof(t->aor)) {
        return BLEND_EINVAL;
    }
    return 0;
}

int blend__sip_trunk_create(const struct blend__sip_settings *set, struct sip *stack,
                            struct blend__sip_trunk_status *status, struct blend__sip_trunk **out)
{
    BLEND_ASSERT(set && stack && status && out);
    if (!set->trunk_register) {
        *out = NULL;
        return 0;
    }
    BLEND_ASSERT(set->trunk_hostport[0] != '\0' && set->trunk_user[0] != '\0');
    struct blend__sip_trunk *t = blend_calloc(1, sizeof(*t));
    if (!t) {
        return BLEND_ENOMEM;
    }
    t->set = set;
    t->stack = stack;
    t->status = status;
    tmr_init(&t->retry);
    int err = uris_make(t);
    if (!err) {
        BLEND_LOG_INFO("sip", "trunk registration of %s at %s, expires %u s", t->aor, t->reg_uri,
                       set->trunk_register_expires_s);
        err = register_start(t);
    }
    if (err) {
        blend__sip_trunk_destroy(t);
        return err;
    }
    *out = t;
    return 0;
}

void blend__sip_trunk_destroy(struct blend__sip_trunk *trunk)
{
    if (!trunk) {
        return;
    }
    tmr_cancel(&trunk->retry);
    /* libre sends the un-REGISTER (Expires 0) when it holds a registration, and keeps its own
     * reference until that transaction ends (at the latest when the stack is closed); our
     * response handler is no longer called. */
    trunk->reg = mem_deref(trunk->reg);
    atomic_store(&trunk->status->registered, 0);
    blend_free(trunk);
}
