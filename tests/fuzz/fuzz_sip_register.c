/*
 * Fuzz target for the registrar's input path: bytes are decoded by libre's sip_msg_decode (as
 * the transport does) and handed to blend__sip_reg_handle(), the same call the telephony thread
 * makes, without sockets. A fresh registrar with one account (1001 / secret1) per input keeps
 * runs independent. So that mutations reach past digest authentication, the literal line
 * "AUTHZ" in the input is replaced by a correct Authorization header for user 1001 over a nonce
 * the registrar has just issued (uri "sip:blend"; nc 00000001 on the first run of the input,
 * 00000002 on the second, so the second run meets the bindings the first one left).
 */
#include "base/alloc.h"
#include "base/log.h"
#include "sip/sip_int.h"

#include <stdio.h>
#include <string.h>

#define INPUT_BYTES_MAX 8192

static void on_event(const struct blend_sip_event *ev, void *arg)
{
    /* Events are plain data: reading every field catches unterminated strings. */
    size_t *n = arg;
    *n += strlen(ev->extension) + strlen(ev->contact) + strlen(ev->source) +
          strlen(ev->user_agent) + strlen(ev->cause) + strlen(ev->transport);
}

/* cseq_bump raises the decoded CSeq, so a second run of the same text is a later request. */
static void run(struct blend__sip_reg *reg, const char *text, size_t len, uint64_t now_ms,
                uint32_t cseq_bump, struct blend__sip_reply *reply)
{
    struct mbuf *mb = mbuf_alloc(len + 1);
    struct sip_msg *msg = NULL;
    reply->scode = 0;
    reply->hdrs[0] = '\0';
    if (!mb || mbuf_write_mem(mb, (const uint8_t *)text, len) != 0) {
        mem_deref(mb);
        return;
    }
    mb->pos = 0;
    if (sip_msg_decode(&msg, mb) == 0) {
        (void)sa_set_str(&msg->src, "10.0.0.1", 5062);
        msg->tp = SIP_TRANSP_UDP;
        msg->cseq.num += cseq_bump;
        if (msg->req) {
            blend__sip_reg_handle(reg, msg, now_ms, reply);
        }
    }
    mem_deref(msg);
    mem_deref(mb);
}

static void issue_nonce(struct blend__sip_reg *reg, struct blend__sip_reply *reply, char *nonce,
                        size_t cap)
{
    static const char challenge[] = "REGISTER sip:blend SIP/2.0\r\n"
                                    "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKf\r\n"
                                    "From: <sip:1001@blend>;tag=f\r\nTo: <sip:1001@blend>\r\n"
                                    "Call-ID: f\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
    nonce[0] = '\0';
    run(reg, challenge, sizeof(challenge) - 1, 1000000, 0, reply);
    const char *p = strstr(reply->hdrs, "nonce=\"");
    if (p) {
        p += 7;
        const char *e = strchr(p, '"');
        if (e && (size_t)(e - p) < cap) {
            memcpy(nonce, p, (size_t)(e - p));
            nonce[e - p] = '\0';
        }
    }
}

static size_t authz(const char *nonce, unsigned nc, char *out, size_t cap)
{
    uint8_t ha1[MD5_SIZE], ha2[MD5_SIZE], resp[MD5_SIZE];
    (void)md5_printf(ha1, "1001:blend:secret1");
    (void)md5_printf(ha2, "REGISTER:sip:blend");
    (void)md5_printf(resp, "%w:%s:%08x:c:auth:%w", ha1, sizeof(ha1), nonce, nc, ha2, sizeof(ha2));
    int n = re_snprintf(out, cap,
                        "Authorization: Digest username=\"1001\", realm=\"blend\", nonce=\"%s\", "
                        "uri=\"sip:blend\", response=\"%w\", qop=auth, nc=%08x, cnonce=\"c\"",
                        nonce, resp, sizeof(resp), nc);
    return n > 0 ? (size_t)n : 0;
}

/* Copies the input into text, replacing the first "AUTHZ" by the header. Returns the length. */
static size_t build(const uint8_t *data, size_t size, const char *nonce, unsigned nc, char *text)
{
    char line[512];
    size_t line_len = authz(nonce, nc, line, sizeof(line));
    const uint8_t *hit = size >= 5 ? memmem(data, size, "AUTHZ", 5) : NULL;
    if (!hit) {
        memcpy(text, data, size);
        return size;
    }
    size_t pre = (size_t)(hit - data);
    memcpy(text, data, pre);
    memcpy(text + pre, line, line_len);
    memcpy(text + pre + line_len, hit + 5, size - pre - 5);
    return size - 5 + line_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct blend__sip_reply reply;
    static char text[INPUT_BYTES_MAX + 512];
    if (size > INPUT_BYTES_MAX) {
        return 0;
    }
    blend_log_set_level(BLEND_LOG_OFF);
    struct blend_sip_config cfg = {
        .udp_addr = "127.0.0.1:0", .realm = "blend", .expires_min_s = 1, .auth_fail_max = 3};
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
        char nonce[64];
        issue_nonce(reg, &reply, nonce, sizeof(nonce));
        /* Twice: the second run meets the bindings and nonce-count the first one left. */
        run(reg, text, build(data, size, nonce, 1, text), 1000100, 0, &reply);
        run(reg, text, build(data, size, nonce, 2, text), 1000200, 1, &reply);
        blend__sip_reg_account_remove(reg, "1001");
    }
    blend__sip_reg_destroy(reg);
    return 0;
}
