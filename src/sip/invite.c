/*
 * Admission of new INVITEs, decided from a decoded libre sip_msg without sockets (so the fuzz
 * target and unit tests run the same code as the telephony thread): the source must be a trunk
 * (trunk_allow) or a registered phone's IP with correct digest credentials; the SDP offer must
 * name G.711 µ-law or A-law (telephone-event is taken along when offered). SDP is parsed and
 * negotiated by libre's sdp module; this file only reads the outcome.
 *
 * Invariants: a refusal always fills the reply (400, 401, 403, 404, 406, 415, 416, 420, 488); an
 * admitted INVITE yields plain data (struct blend__sip_invite) and nothing is kept from the
 * message.
 */
#include "sip/sip_int.h"

#include "base/assert.h"
#include "base/log.h"

#include <string.h>

static bool acl_entry_parse(const struct pl *tok, struct sa *net, uint8_t *bits)
{
    struct pl addr = *tok, len = PL_INIT;
    const char *slash = pl_strchr(tok, '/');
    if (slash) {
        addr.l = (size_t)(slash - tok->p);
        len.p = slash + 1;
        len.l = tok->l - addr.l - 1;
    }
    if (sa_set(net, &addr, 0) != 0) {
        return false;
    }
    uint32_t max = sa_af(net) == AF_INET ? 32 : 128;
    if (!slash) {
        *bits = (uint8_t)max;
        return true;
    }
    if (len.l == 0 || len.l > 3 || pl_strchr(&len, '+') || pl_strchr(&len, '-')) {
        return false;
    }
    for (size_t i = 0; i < len.l; i++) {
        if (len.p[i] < '0' || len.p[i] > '9') {
            return false;
        }
    }
    uint32_t n = pl_u32(&len);
    if (n > max) {
        return false;
    }
    *bits = (uint8_t)n;
    return true;
}

int blend__sip_acl_parse(const char *text, struct blend__sip_acl *out)
{
    struct blend__sip_acl acl;
    memset(&acl, 0, sizeof(acl));
    if (text && strlen(text) >= BLEND_SIP_TRUNK_ALLOW_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    const char *p = text ? text : "";
    while (*p) {
        size_t skip = strspn(p, ", \t");
        p += skip;
        size_t n = strcspn(p, ", \t");
        if (n == 0) {
            break;
        }
        struct pl tok = {.p = p, .l = n};
        if (acl.n >= BLEND_SIP_TRUNKS_MAX ||
            !acl_entry_parse(&tok, &acl.v[acl.n].net, &acl.v[acl.n].bits)) {
            return BLEND_EINVAL;
        }
        acl.n++;
        p += n;
    }
    *out = acl;
    return 0;
}

/* The address bytes of sa (4 or 16), or NULL for another family. */
static const uint8_t *addr_bytes(const struct sa *sa, size_t *len)
{
    if (sa_af(sa) == AF_INET) {
        *len = 4;
        return (const uint8_t *)&sa->u.in.sin_addr;
    }
    if (sa_af(sa) == AF_INET6) {
        *len = 16;
        return (const uint8_t *)&sa->u.in6.sin6_addr;
    }
    return NULL;
}

static bool prefix_match(const struct sa *net, uint8_t bits, const struct sa *src)
{
    size_t na, sl;
    const uint8_t *a = addr_bytes(net, &na);
    const uint8_t *b = addr_bytes(src, &sl);
    if (!a || !b || na != sl) {
        return false;
    }
    size_t full = bits / 8u;
    if (memcmp(a, b, full) != 0) {
        return false;
    }
    uint8_t rest = bits % 8u;
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xffu << (8u - rest));
    return (a[full] & mask) == (b[full] & mask);
}

bool blend__sip_acl_match(const struct blend__sip_acl *acl, const struct sa *src)
{
    BLEND_ASSERT(acl && src);
    for (uint32_t i = 0; i < acl->n; i++) {
        if (prefix_match(&acl->v[i].net, acl->v[i].bits, src)) {
            return true;
        }
    }
    return false;
}

static int sdp_probe_alloc(struct sdp_session **sessp, struct sdp_media **mp)
{
    struct sa any;
    struct sdp_session *sess = NULL;
    struct sdp_media *m = NULL;
    (void)sa_set_str(&any, "0.0.0.0", 0);
    int err = sdp_session_alloc(&sess, &any);
    err = err ? err : sdp_media_add(&m, sess, sdp_media_audio, 9, sdp_proto_rtpavp);
    err = err ? err
              : sdp_format_add(NULL, m, false, "0", "PCMU", 8000, 1, NULL, NULL, NULL, false, NULL);
    err = err ? err
              : sdp_format_add(NULL, m, false, "8", "PCMA", 8000, 1, NULL, NULL, NULL, false, NULL);
    err = err ? err
              : sdp_format_add(NULL, m, false, NULL, "telephone-event", 8000, 1, NULL, NULL, NULL,
                               false, "0-15");
    if (err) {
        mem_deref(sess);
        return BLEND_ENOMEM;
    }
    *sessp = sess;
    *mp = m;
    return 0;
}

int blend__sip_sdp_offer_parse(struct mbuf *body, struct blend__sip_offer *out)
{
    struct sdp_session *sess;
    struct sdp_media *m;
    struct blend__sip_offer o = {.codec_pt = -1, .dtmf_pt = -1};
    BLEND_ASSERT(body && out);
    if (mbuf_get_left(body) == 0) {
        return BLEND_ENOENT;
    }
    int err = sdp_probe_alloc(&sess, &m);
    if (err) {
        return err;
    }
    size_t pos = body->pos;
    int derr = sdp_decode(sess, body, true);
    body->pos = pos;
    if (derr == ENOMEM) {
        err = BLEND_ENOMEM;
    } else if (derr) {
        err = BLEND_EPARSE;
    } else if (sdp_media_rport(m) == 0) {
        /* No audio, a disabled one, or a profile we do not speak (RTP/SAVP): libre sets no
         * remote port then. */
        err = BLEND_ENOENT;
    }
    if (!err) {
        /* The remote list is in the offerer's order of preference; libre marked what matched. */
        for (struct le *le = sdp_media_format_lst(m, false)->head; le; le = le->next) {
            const struct sdp_format *f = le->data;
            if (!f->sup) {
                continue;
            }
            if (o.codec_pt < 0 && (f->pt == BLEND__SIP_PT_PCMU || f->pt == BLEND__SIP_PT_PCMA)) {
                o.codec_pt = f->pt;
            } else if (o.dtmf_pt < 0 && f->pt >= 96 && f->pt <= 127 && f->name &&
                       str_casecmp(f->name, "telephone-event") == 0) {
                o.dtmf_pt = f->pt;
            }
        }
        o.rtcp_mux = sdp_media_rattr(m, "rtcp-mux") != NULL;
        o.raddr = *sdp_media_raddr(m);
        err = o.codec_pt < 0 ? BLEND_ENOENT : 0;
    }
    mem_deref(sess);
    if (!err) {
        *out = o;
    }
    return err;
}

int blend__sip_sdp_make(const struct sa *laddr, int first_pt, int second_pt, int dtmf_pt,
                        struct sdp_session **sessp, struct sdp_media **mp)
{
    struct sdp_session *sess = NULL;
    struct sdp_media *m = NULL;
    char dtmf_id[8];
    int err = sdp_session_alloc(&sess, laddr);
    err = err ? err : sdp_media_add(&m, sess, sdp_media_audio, sa_port(laddr), sdp_proto_rtpavp);
    err = err ? err
              : sdp_format_add(NULL, m, false, first_pt ? "8" : "0", first_pt ? "PCMA" : "PCMU",
                               8000, 1, NULL, NULL, NULL, false, NULL);
    if (!err && second_pt >= 0) {
        err = sdp_format_add(NULL, m, false, second_pt ? "8" : "0", second_pt ? "PCMA" : "PCMU",
                             8000, 1, NULL, NULL, NULL, false, NULL);
    }
    if (!err && dtmf_pt >= 0) {
        (void)re_snprintf(dtmf_id, sizeof(dtmf_id), "%d", dtmf_pt);
        err = sdp_format_add(NULL, m, false, dtmf_id, "telephone-event", 8000, 1, NULL, NULL, NULL,
                             false, "0-15");
    }
    if (err) {
        mem_deref(sess);
        return err;
    }
    *sessp = sess;
    *mp = m;
    return 0;
}

/* The codec and telephone-event payload types the peer's SDP settled on (remote list). */
void blend__sip_sdp_chosen(const struct sdp_media *m, int *codec_pt, int *dtmf_pt)
{
    *codec_pt = -1;
    *dtmf_pt = -1;
    for (struct le *le = sdp_media_format_lst(m, false)->head; le; le = le->next) {
        const struct sdp_format *f = le->data;
        if (!f->sup) {
            continue;
        }
        if (*codec_pt < 0 && (f->pt == BLEND__SIP_PT_PCMU || f->pt == BLEND__SIP_PT_PCMA)) {
            *codec_pt = f->pt;
        } else if (*dtmf_pt < 0 && f->name && str_casecmp(f->name, "telephone-event") == 0) {
            *dtmf_pt = f->pt;
        }
    }
}

static void reply_set(struct blend__sip_reply *r, uint16_t scode, const char *reason)
{
    r->scode = scode;
    r->reason = reason;
}

/* Caller identity: P-Asserted-Identity from a trunk when present, else From. */
static void caller_get(const struct sip_msg *msg, bool from_trunk, struct blend__sip_invite *inv)
{
    struct sip_addr pai;
    const struct sip_hdr *h = from_trunk ? sip_msg_hdr(msg, SIP_HDR_P_ASSERTED_IDENTITY) : NULL;
    if (h && sip_addr_decode(&pai, &h->val) == 0 && pl_isset(&pai.uri.user)) {
        blend__sip_pl_copy(&pai.uri.user, inv->caller, sizeof(inv->caller));
        blend__sip_pl_copy(&pai.dname, inv->caller_name, sizeof(inv->caller_name));
        return;
    }
    blend__sip_pl_copy(&msg->from.uri.user, inv->caller, sizeof(inv->caller));
    blend__sip_pl_copy(&msg->from.dname, inv->caller_name, sizeof(inv->caller_name));
}

/* One Accept value (libre splits the list): whether it admits application/sdp. */
static bool accept_hdr_handler(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    struct pl type, sub;
    (void)msg;
    (void)arg;
    if (re_regex(hdr->val.p, hdr->val.l, "[ \t]*[^ \t/]+[ \t]*/[ \t]*[^ \t;]+", NULL, &type, NULL,
                 NULL, &sub) != 0) {
        return false;
    }
    return (pl_strcmp(&type, "*") == 0 && pl_strcmp(&sub, "*") == 0) ||
           (pl_strcasecmp(&type, "application") == 0 &&
            (pl_strcmp(&sub, "*") == 0 || pl_strcasecmp(&sub, "sdp") == 0));
}

/* The body Blend can use: SDP (else 415 with Accept), and an answer the caller accepts (an
 * Accept header without application/sdp: 406). No body at all is 488 (below). */
static bool content_ok(const struct sip_msg *msg, struct blend__sip_reply *reply)
{
    if (mbuf_get_left(msg->mb) > 0 && !msg_ctype_cmp(&msg->ctyp, "application", "sdp")) {
        reply_set(reply, 415, "Unsupported Media Type");
        reply->hdrs_len =
            (size_t)re_snprintf(reply->hdrs, sizeof(reply->hdrs), "Accept: application/sdp\r\n");
        return false;
    }
    if (sip_msg_hdr(msg, SIP_HDR_ACCEPT) &&
        !sip_msg_hdr_apply(msg, true, SIP_HDR_ACCEPT, accept_hdr_handler, NULL)) {
        reply_set(reply, 406, "Not Acceptable");
        return false;
    }
    return true;
}

/* The display name may come quoted; the quotes are not part of the name. */
static void unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

bool blend__sip_invite_check(struct blend__sip_reg *reg, const struct blend__sip_acl *trunks,
                             const struct sip_msg *msg, uint64_t now_ms,
                             struct blend__sip_reply *reply, struct blend__sip_invite *out)
{
    BLEND_ASSERT(reg && trunks && msg && reply && out);
    struct blend__sip_invite inv;
    memset(&inv, 0, sizeof(inv));
    reply->scode = 0;
    reply->reason = NULL;
    reply->hdrs_len = 0;
    reply->hdrs[0] = '\0';
    if (blend__sip_reg_locked(reg, msg, now_ms, reply)) {
        return false;
    }
    /* Malformed requests are refused before anything else (RFC 3261 8.2, RFC 4475). Session
     * timers are the one extension a caller may require. */
    if (!blend__sip_request_ok(msg, "timer", reply)) {
        return false;
    }
    /* A registered phone sending from its binding's very address is a phone, even on an address
     * trunk_allow admits (phones and a trunk on one host, as in the demo on loopback). */
    inv.from_trunk = blend__sip_acl_match(trunks, &msg->src) &&
                     !blend__sip_reg_phone_at(reg, &msg->from.uri.user, &msg->src);
    if (!inv.from_trunk) {
        bool has_creds = sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION) != NULL;
        if (!has_creds && !blend__sip_reg_source_known(reg, &msg->src)) {
            reply_set(reply, 403, "Forbidden");
            return false;
        }
        char ext[BLEND_SIP_EXTENSION_BYTES_MAX];
        if (!blend__sip_reg_authenticate(reg, msg, now_ms, reply, &inv.agent_id, ext)) {
            return false;
        }
    }
    if (!pl_isset(&msg->uri.user) || msg->uri.user.l >= sizeof(inv.dialled)) {
        reply_set(reply, 404, "Not Found");
        return false;
    }
    blend__sip_pl_copy(&msg->uri.user, inv.dialled, sizeof(inv.dialled));
    caller_get(msg, inv.from_trunk, &inv);
    unquote(inv.caller_name);
    if (!content_ok(msg, reply)) {
        return false;
    }
    if (msg_ctype_cmp(&msg->ctyp, "application", "sdp") == false) {
        /* No offer in the INVITE (offer in the 200, answer in the ACK) is not supported. */
        reply_set(reply, 488, "Not Acceptable Here");
        return false;
    }
    int err = blend__sip_sdp_offer_parse(msg->mb, &inv.offer);
    if (err) {
        reply_set(reply,
                  err == BLEND_EPARSE   ? 400
                  : err == BLEND_ENOMEM ? 500
                                        : 488,
                  err == BLEND_EPARSE   ? "Bad SDP"
                  : err == BLEND_ENOMEM ? "Server Error"
                                        : "Not Acceptable Here");
        return false;
    }
    *out = inv;
    return true;
}
