/*
 * Fuzz target for the call-feature rules that read peer-supplied headers: bytes are decoded by
 * libre's sip_msg_decode (as the transport does) and handed, without sockets, to the RFC 4028
 * negotiation Blend runs as UAS on a customer's INVITE (Session-Expires, Min-SE, Supported) or as
 * UAC on a 2xx, the header lines it then writes, and the Refer-To reading of a blind transfer.
 * The first byte picks Blend's configured session interval (off, 2 s, 90 s, 1800 s).
 * Invariants checked: a UAS interval is 0 or within Min-SE..BLEND_SIP_SESSION_EXPIRES_S_MAX, a
 * refused interval is 422 or 400, and an accepted Refer-To user is a dial string.
 */
#include "base/assert.h"
#include "base/log.h"
#include "sip/sip_int.h"

#include <string.h>

#define INPUT_BYTES_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int intervals[] = {0, 2, 90, 1800};
    if (size < 1 || size > INPUT_BYTES_MAX) {
        return 0;
    }
    blend_log_set_level(BLEND_LOG_OFF);
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .session_expires_s = intervals[data[0] % 4]};
    struct blend__sip_settings set;
    if (blend__sip_settings_resolve(&cfg, &set) != 0) {
        return 0;
    }
    struct mbuf *mb = mbuf_alloc(size);
    struct sip_msg *msg = NULL;
    if (mb && mbuf_write_mem(mb, data + 1, size - 1) == 0) {
        mb->pos = 0;
        if (sip_msg_decode(&msg, mb) == 0) {
            struct blend__sip_se se;
            char hdrs[160], user[BLEND_SIP_EXTENSION_BYTES_MAX];
            if (msg->req) {
                int code = blend__sip_se_uas(&set, msg, &se);
                BLEND_ASSERT(code == 0 || code == 422 || code == 400);
                if (code == 0) {
                    BLEND_ASSERT(se.interval_s == 0 ||
                                 (se.interval_s >= set.min_se_s &&
                                  se.interval_s <= BLEND_SIP_SESSION_EXPIRES_S_MAX));
                    BLEND_ASSERT(set.session_expires_s > 0 || se.interval_s == 0);
                    blend__sip_se_uas_hdrs(&se, hdrs, sizeof(hdrs));
                }
                struct blend__sip_replaces rep;
                enum blend__sip_refer_verdict v =
                    blend__sip_refer_target(msg, user, sizeof(user), &rep);
                if (v == BLEND__SIP_REFER_OK) {
                    BLEND_ASSERT(blend__sip_dial_string_ok(user) && rep.call_id[0] == '\0');
                } else if (v == BLEND__SIP_REFER_REPLACES) {
                    BLEND_ASSERT(rep.call_id[0] && rep.to_tag[0] && rep.from_tag[0]);
                    BLEND_ASSERT(user[0] == '\0' || blend__sip_dial_string_ok(user));
                } else {
                    BLEND_ASSERT(user[0] == '\0' && rep.call_id[0] == '\0');
                }
            } else {
                blend__sip_se_uac(&set, msg, &se);
                BLEND_ASSERT(se.interval_s <= BLEND_SIP_SESSION_EXPIRES_S_MAX);
                blend__sip_se_uac_hdrs(&set, hdrs, sizeof(hdrs));
            }
        }
    }
    mem_deref(msg);
    mem_deref(mb);
    return 0;
}
