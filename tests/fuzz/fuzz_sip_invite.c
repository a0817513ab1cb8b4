/*
 * Fuzz target for INVITE admission and SDP handling: bytes are decoded by libre's sip_msg_decode
 * (as the transport does) and handed to blend__sip_invite_check(), the call the telephony thread
 * makes for a new INVITE, without sockets. The source address is picked by the first input byte
 * so that trunk (192.0.2.10, in trunk_allow), registered-phone (10.0.0.1, a binding made at
 * start) and unknown sources are all reached. When the INVITE is admitted, its body goes through
 * the customer-side answer (libre SDP decode + encode, as calls.c does), and the body is also
 * decoded as an agent phone's SDP answer to Blend's agent-side offer.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "sip/sip_int.h"

#include <stdio.h>
#include <string.h>

#define INPUT_BYTES_MAX 8192

static void on_event(const struct blend_sip_event *ev, void *arg)
{
    size_t *n = arg;
    *n += strlen(ev->extension) + strlen(ev->source);
}

static void reg_text(struct blend__sip_reg *reg, const char *text, uint64_t now_ms,
                     struct blend__sip_reply *reply)
{
    struct mbuf *mb = mbuf_alloc(strlen(text));
    struct sip_msg *msg = NULL;
    if (mb && mbuf_write_str(mb, text) == 0) {
        mb->pos = 0;
        if (sip_msg_decode(&msg, mb) == 0) {
            (void)sa_set_str(&msg->src, "10.0.0.1", 5062);
            msg->tp = SIP_TRANSP_UDP;
            blend__sip_reg_handle(reg, msg, now_ms, reply);
        }
    }
    mem_deref(msg);
    mem_deref(mb);
}

/* Registers 1001 from 10.0.0.1 (challenge, then the digest a phone computes). */
static void register_phone(struct blend__sip_reg *reg, struct blend__sip_reply *reply)
{
    static const char fmt[] = "REGISTER sip:blend SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKr%u\r\n"
                              "From: <sip:1001@blend>;tag=f\r\nTo: <sip:1001@blend>\r\n"
                              "Call-ID: r\r\nCSeq: %u REGISTER\r\n"
                              "Contact: <sip:1001@10.0.0.1:5062>\r\n%s"
                              "Content-Length: 0\r\n\r\n";
    char text[1024], authz[512], nonce[64] = "";
    (void)re_snprintf(text, sizeof(text), fmt, 1u, 1u, "");
    reg_text(reg, text, 1000000, reply);
    const char *p = strstr(reply->hdrs, "nonce=\"");
    const char *e = p ? strchr(p + 7, '"') : NULL;
    if (!e || (size_t)(e - p - 7) >= sizeof(nonce)) {
        return;
    }
    memcpy(nonce, p + 7, (size_t)(e - p - 7));
    nonce[e - p - 7] = '\0';
    uint8_t ha1[MD5_SIZE], ha2[MD5_SIZE], resp[MD5_SIZE];
    (void)md5_printf(ha1, "1001:blend:secret1");
    (void)md5_printf(ha2, "REGISTER:sip:blend");
    (void)md5_printf(resp, "%w:%s:00000001:c:auth:%w", ha1, sizeof(ha1), nonce, ha2, sizeof(ha2));
    (void)re_snprintf(authz, sizeof(authz),
                      "Authorization: Digest username=\"1001\", realm=\"blend\", nonce=\"%s\", "
                      "uri=\"sip:blend\", response=\"%w\", qop=auth, nc=00000001, cnonce=\"c\"\r\n",
                      nonce, resp, sizeof(resp));
    (void)re_snprintf(text, sizeof(text), fmt, 2u, 2u, authz);
    reg_text(reg, text, 1000001, reply);
}

/* The customer-side answer and the agent-side answer decode, as calls.c runs them. */
static void sdp_paths(const struct blend__sip_invite *inv, struct mbuf *body)
{
    struct sa laddr;
    struct sdp_session *sess = NULL;
    struct sdp_media *m = NULL;
    struct mbuf *out = NULL;
    int codec_pt, dtmf_pt;
    size_t pos = body->pos;
    (void)sa_set_str(&laddr, "127.0.0.1", 20000);
    if (blend__sip_sdp_make(&laddr, inv->offer.codec_pt, -1, inv->offer.dtmf_pt, &sess, &m) == 0) {
        if (sdp_decode(sess, body, true) == 0) {
            blend__sip_sdp_chosen(m, &codec_pt, &dtmf_pt);
            (void)sdp_encode(&out, sess, false);
        }
        body->pos = pos;
        out = mem_deref(out);
        sess = mem_deref(sess);
    }
    if (blend__sip_sdp_make(&laddr, BLEND__SIP_PT_PCMA, BLEND__SIP_PT_PCMU, 101, &sess, &m) == 0) {
        if (sdp_encode(&out, sess, true) == 0 && sdp_decode(sess, body, false) == 0) {
            blend__sip_sdp_chosen(m, &codec_pt, &dtmf_pt);
        }
        body->pos = pos;
        mem_deref(out);
        mem_deref(sess);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct blend__sip_reply reply;
    static const char *const sources[] = {"192.0.2.10", "10.0.0.1", "203.0.113.9"};
    if (size < 1 || size > INPUT_BYTES_MAX) {
        return 0;
    }
    blend_log_set_level(BLEND_LOG_OFF);
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .realm = "blend",
                                   .auth_fail_max = 3,
                                   .trunk_allow = "192.0.2.0/24, 2001:db8::/32"};
    struct blend__sip_settings set;
    struct blend__sip_counters counters;
    struct blend__sip_reg *reg = NULL;
    size_t seen = 0;
    memset(&counters, 0, sizeof(counters));
    if (blend__sip_settings_resolve(&cfg, &set) != 0 ||
        blend__sip_reg_create(&set, NULL, on_event, &seen, &counters, &reg) != 0) {
        return 0;
    }
    uint8_t ha1[MD5_SIZE];
    (void)md5_printf(ha1, "1001:blend:secret1");
    if (blend__sip_reg_account_set(reg, "1001", ha1, 1) == 0) {
        register_phone(reg, &reply);
        struct mbuf *mb = mbuf_alloc(size);
        struct sip_msg *msg = NULL;
        if (mb && mbuf_write_mem(mb, data + 1, size - 1) == 0) {
            mb->pos = 0;
            if (sip_msg_decode(&msg, mb) == 0 && msg->req) {
                struct blend__sip_invite inv;
                (void)sa_set_str(&msg->src, sources[data[0] % 3], 5060);
                msg->tp = SIP_TRANSP_UDP;
                if (blend__sip_invite_check(reg, &set.trunks, msg, 1000100, &reply, &inv)) {
                    sdp_paths(&inv, msg->mb);
                }
            }
        }
        mem_deref(msg);
        mem_deref(mb);
        blend__sip_reg_account_remove(reg, "1001");
    }
    blend__sip_reg_destroy(reg);
    return 0;
}
