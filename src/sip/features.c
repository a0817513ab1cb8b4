/*
 * Pure decisions behind the call features, taken from decoded libre messages without sockets (so
 * unit tests and the fuzz target run the same code as the telephony thread): RFC 4028 session
 * timer negotiation for Blend as UAS (the customer's INVITE) and as UAC (INVITEs Blend sends),
 * the header lines that carry it, the target of a REFER (blind transfer, or the dialog an
 * attended transfer's Replaces names), and which dial
 * strings Blend puts into URIs it builds. libre parses the messages; this file only reads
 * header values.
 *
 * Invariants: nothing is kept from a message; an interval is never below Blend's Min-SE as UAS
 * nor above BLEND_SIP_SESSION_EXPIRES_S_MAX; timers are off whenever session_expires_s is 0.
 */
#include "sip/sip_int.h"

#include "base/assert.h"

#include <string.h>

bool blend__sip_dial_string_ok(const char *s)
{
    if (!s || !s[0] || strlen(s) >= BLEND_SIP_EXTENSION_BYTES_MAX) {
        return false;
    }
    for (; *s; s++) {
        if (!strchr("0123456789+*#.-_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *s)) {
            return false;
        }
    }
    return true;
}

/* Reads "delta-seconds *(;param)"; returns false when the value is not a number that fits. */
static bool se_decode(const struct pl *val, uint32_t *secs, struct pl *refresher)
{
    struct pl num, params;
    if (re_regex(val->p, val->l, "[ \t]*[0-9]+[^]*", NULL, &num, &params) != 0 || num.l == 0 ||
        num.l > 9) {
        return false;
    }
    *secs = pl_u32(&num);
    if (refresher) {
        *refresher = pl_null;
        (void)msg_param_decode(&params, "refresher", refresher);
    }
    return true;
}

static uint32_t peer_min_se(const struct sip_msg *msg)
{
    const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_MIN_SE);
    uint32_t v = 0;
    if (h && !se_decode(&h->val, &v, NULL)) {
        v = 0;
    }
    return v > BLEND_SIP_SESSION_EXPIRES_S_MAX ? BLEND_SIP_SESSION_EXPIRES_S_MAX : v;
}

int blend__sip_se_uas(const struct blend__sip_settings *set, const struct sip_msg *req,
                      struct blend__sip_se *out)
{
    BLEND_ASSERT(set && req && out);
    struct blend__sip_se se = {0};
    if (set->session_expires_s == 0) {
        *out = se;
        return 0;
    }
    se.peer_supports = sip_msg_hdr_has_value(req, SIP_HDR_SUPPORTED, "timer");
    uint32_t floor = peer_min_se(req);
    floor = floor > set->min_se_s ? floor : set->min_se_s;
    const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_SESSION_EXPIRES);
    if (!h) {
        /* The caller asked for nothing: Blend refreshes, at its own interval. */
        se.interval_s = set->session_expires_s > floor ? set->session_expires_s : floor;
        se.we_refresh = true;
        *out = se;
        return 0;
    }
    uint32_t asked;
    struct pl refresher;
    if (!se_decode(&h->val, &asked, &refresher)) {
        return 400;
    }
    if (asked < set->min_se_s) {
        return 422;
    }
    /* A UAS may lower the interval, never below either side's Min-SE. */
    uint32_t v = asked < set->session_expires_s ? asked : set->session_expires_s;
    se.interval_s = v > floor ? v : floor;
    if (se.interval_s > BLEND_SIP_SESSION_EXPIRES_S_MAX) {
        se.interval_s = BLEND_SIP_SESSION_EXPIRES_S_MAX;
    }
    if (pl_isset(&refresher)) {
        se.we_refresh = pl_strcasecmp(&refresher, "uas") == 0;
    } else {
        /* Unchosen: the caller refreshes when it knows how, else Blend does. */
        se.we_refresh = !se.peer_supports;
    }
    *out = se;
    return 0;
}

void blend__sip_se_uac(const struct blend__sip_settings *set, const struct sip_msg *resp,
                       struct blend__sip_se *out)
{
    BLEND_ASSERT(set && resp && out);
    struct blend__sip_se se = {0};
    if (set->session_expires_s == 0) {
        *out = se;
        return;
    }
    const struct sip_hdr *h = sip_msg_hdr(resp, SIP_HDR_SESSION_EXPIRES);
    uint32_t v;
    struct pl refresher;
    se.peer_supports = h != NULL;
    if (h && se_decode(&h->val, &v, &refresher) && v >= 1) {
        se.interval_s = v > BLEND_SIP_SESSION_EXPIRES_S_MAX ? BLEND_SIP_SESSION_EXPIRES_S_MAX : v;
        se.we_refresh = !pl_isset(&refresher) || pl_strcasecmp(&refresher, "uac") == 0;
    } else {
        /* The peer does not do session timers (or said nonsense): Blend, as UAC, refreshes at
         * its own interval, which still detects a peer that has gone. */
        se.interval_s = set->session_expires_s;
        se.we_refresh = true;
    }
    *out = se;
}

void blend__sip_se_uas_hdrs(const struct blend__sip_se *se, char *buf, size_t cap)
{
    BLEND_ASSERT(se && buf && cap > 0);
    buf[0] = '\0';
    if (se->interval_s == 0) {
        return;
    }
    (void)re_snprintf(buf, cap, "Session-Expires: %u;refresher=%s\r\n%s", se->interval_s,
                      se->we_refresh ? "uas" : "uac",
                      se->peer_supports ? "Require: timer\r\n" : "");
}

void blend__sip_se_uac_hdrs(const struct blend__sip_settings *set, char *buf, size_t cap)
{
    BLEND_ASSERT(set && buf && cap > 0);
    buf[0] = '\0';
    if (set->session_expires_s == 0) {
        return;
    }
    (void)re_snprintf(buf, cap, "Session-Expires: %u\r\nMin-SE: %u\r\n", set->session_expires_s,
                      set->min_se_s);
}

/* uri_headers_apply() callback: the first Replaces header's (escaped) value. */
static int replaces_of(const struct pl *name, const struct pl *val, void *arg)
{
    struct pl *out = arg;
    if (pl_strcasecmp(name, "replaces") == 0 && !pl_isset(out)) {
        *out = *val;
    }
    return 0;
}

/* Copies pl into out when it fits (and is not empty): true; false otherwise. */
static bool pl_fits(const struct pl *pl, char *out, size_t cap)
{
    if (!pl_isset(pl) || pl->l == 0 || pl->l >= cap) {
        return false;
    }
    blend__sip_pl_copy(pl, out, cap);
    return true;
}

/* The Replaces header of a Refer-To URI (RFC 3891: "call-id;to-tag=X;from-tag=Y", URI-escaped
 * inside the URI): 1 found and decoded into rep, 0 none, -1 present but unusable. */
static int refer_replaces(const struct pl *headers, struct blend__sip_replaces *rep)
{
    /* libre's header walker wants the leading '?' that the decoded URI may not keep. */
    char hdrs[BLEND_SIP_URI_BYTES_MAX + 2];
    if (!pl_isset(headers) || headers->l == 0) {
        return 0;
    }
    if (headers->l + 2 > sizeof(hdrs)) {
        return -1;
    }
    bool lead = headers->p[0] == '?' || headers->p[0] == '&';
    hdrs[0] = '?';
    memcpy(hdrs + (lead ? 0 : 1), headers->p, headers->l);
    struct pl all = {.p = hdrs, .l = headers->l + (lead ? 0 : 1)};
    struct pl val = PL_INIT;
    (void)uri_headers_apply(&all, replaces_of, &val);
    if (!pl_isset(&val)) {
        return 0;
    }
    char text[BLEND_SIP_URI_BYTES_MAX];
    if (re_snprintf(text, sizeof(text), "%H", uri_header_unescape, &val) < 0) {
        return -1;
    }
    struct pl callid, params, to_tag, from_tag;
    if (re_regex(text, strlen(text), "[^;]+[^]*", &callid, &params) != 0 ||
        uri_param_get(&params, &(struct pl)PL("to-tag"), &to_tag) != 0 ||
        uri_param_get(&params, &(struct pl)PL("from-tag"), &from_tag) != 0) {
        return -1;
    }
    struct blend__sip_replaces r;
    if (!pl_fits(&callid, r.call_id, sizeof(r.call_id)) ||
        !pl_fits(&to_tag, r.to_tag, sizeof(r.to_tag)) ||
        !pl_fits(&from_tag, r.from_tag, sizeof(r.from_tag))) {
        return -1;
    }
    *rep = r;
    return 1;
}

enum blend__sip_refer_verdict blend__sip_refer_target(const struct sip_msg *msg, char *user,
                                                      size_t cap, struct blend__sip_replaces *rep)
{
    BLEND_ASSERT(msg && user && cap > 0 && rep);
    user[0] = '\0';
    memset(rep, 0, sizeof(*rep));
    const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_REFER_TO);
    struct sip_addr addr;
    if (!h || sip_msg_hdr_count(msg, SIP_HDR_REFER_TO) != 1 || sip_addr_decode(&addr, &h->val)) {
        return BLEND__SIP_REFER_BAD;
    }
    /* Only INVITE is done (RFC 3515 allows others through method=). */
    struct pl method;
    if (uri_param_get(&addr.uri.params, &(struct pl)PL("method"), &method) == 0 &&
        pl_strcasecmp(&method, "INVITE") != 0) {
        return BLEND__SIP_REFER_UNSUPPORTED;
    }
    int replaces = refer_replaces(&addr.uri.headers, rep);
    if (replaces < 0) {
        memset(rep, 0, sizeof(*rep));
        return BLEND__SIP_REFER_BAD;
    }
    if (replaces > 0) {
        /* Attended transfer: the dialog named is what counts; the user part is informative. */
        if (pl_isset(&addr.uri.user) && addr.uri.user.l < cap) {
            blend__sip_pl_copy(&addr.uri.user, user, cap);
            if (!blend__sip_dial_string_ok(user)) {
                user[0] = '\0';
            }
        }
        return BLEND__SIP_REFER_REPLACES;
    }
    if (!pl_isset(&addr.uri.user) || addr.uri.user.l >= cap) {
        return BLEND__SIP_REFER_BAD;
    }
    blend__sip_pl_copy(&addr.uri.user, user, cap);
    if (!blend__sip_dial_string_ok(user)) {
        user[0] = '\0';
        return BLEND__SIP_REFER_BAD;
    }
    return BLEND__SIP_REFER_OK;
}
