/*
 * Fuzz target for the SIP entry point as a sequence of datagrams: the input is a list of
 * records [source: 1 byte][length: 2 bytes, big-endian][datagram], each decoded by libre's
 * sip_msg_decode (as the transport does) and dispatched in the telephony thread's order on one
 * registrar state that lives for the whole input: the lock-out gate first (a locked source gets
 * 403 whatever it sends but ACK), then an INVITE goes to blend__sip_invite_check (trunk or
 * digest admission) and any other request to the registrar (REGISTER, OPTIONS, CANCEL, unknown
 * methods); responses are dropped, as libre drops those matching no transaction. A sequence
 * reaches what single messages cannot: failures piling up to a lock-out, a registration then a
 * call from the registered source, a nonce reused. The source byte picks a trunk address
 * (192.0.2.10), an account's address (10.0.0.1) or an unknown one (203.0.113.9), and UDP or
 * TCP. Seeds: tests/fuzz/corpus/fuzz_sip_datagram/ (the RFC 4475 messages, sequences).
 */
#include "base/alloc.h"
#include "base/log.h"
#include "sip/sip_int.h"

#include <stdio.h>
#include <string.h>

#define INPUT_BYTES_MAX 16384
#define DATAGRAMS_MAX 16

static void on_event(const struct blend_sip_event *ev, void *arg)
{
    /* Events are plain data: reading every field catches unterminated strings. */
    size_t *n = arg;
    *n += strlen(ev->extension) + strlen(ev->contact) + strlen(ev->source) +
          strlen(ev->user_agent) + strlen(ev->cause) + strlen(ev->transport);
}

static void dispatch(struct blend__sip_reg *reg, const struct blend__sip_settings *set,
                     uint8_t source, const uint8_t *bytes, size_t len, uint64_t now_ms)
{
    static const char *const sources[] = {"192.0.2.10", "10.0.0.1", "203.0.113.9"};
    static struct blend__sip_reply reply;
    struct mbuf *mb = mbuf_alloc(len + 1);
    struct sip_msg *msg = NULL;
    if (!mb || mbuf_write_mem(mb, bytes, len) != 0) {
        mem_deref(mb);
        return;
    }
    mb->pos = 0;
    if (sip_msg_decode(&msg, mb) == 0 && msg->req) {
        (void)sa_set_str(&msg->src, sources[source % 3], (uint16_t)(5060 + source % 7));
        msg->tp = source & 0x80 ? SIP_TRANSP_TCP : SIP_TRANSP_UDP;
        reply.scode = 0;
        if (pl_strcmp(&msg->met, "ACK") != 0 &&
            blend__sip_reg_locked(reg, msg, now_ms, &reply)) {
            /* 403: nothing else runs for this datagram. */
        } else if (pl_strcmp(&msg->met, "INVITE") == 0) {
            struct blend__sip_invite inv;
            (void)blend__sip_invite_check(reg, &set->trunks, msg, now_ms, &reply, &inv);
        } else {
            blend__sip_reg_handle(reg, msg, now_ms, &reply);
        }
        /* What would go on the wire: a status and header lines ending in CRLF. */
        if (reply.scode != 0 && (reply.scode < 100 || reply.scode > 699 ||
                                 reply.hdrs_len >= sizeof(reply.hdrs))) {
            __builtin_trap();
        }
    }
    mem_deref(msg);
    mem_deref(mb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_BYTES_MAX) {
        return 0;
    }
    blend_log_set_level(BLEND_LOG_OFF);
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .realm = "blend",
                                   .expires_min_s = 1,
                                   .auth_fail_max = 3,
                                   .trunk_allow = "192.0.2.0/24"};
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
        size_t off = 0;
        uint64_t now_ms = 1000000;
        for (int n = 0; n < DATAGRAMS_MAX && off + 3 <= size; n++) {
            uint8_t source = data[off];
            size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
            off += 3;
            len = len < size - off ? len : size - off;
            dispatch(reg, &set, source, data + off, len, now_ms);
            off += len;
            now_ms += 1000u * (source & 0x0f); /* time moves on: nonces age, locks expire */
        }
        blend__sip_reg_account_remove(reg, "1001");
    }
    blend__sip_reg_destroy(reg);
    return 0;
}
