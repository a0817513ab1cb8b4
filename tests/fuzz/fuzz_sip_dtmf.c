/*
 * Fuzz target for the relay's DTMF inspection: the bytes the relay hands to its RFC 4733 decoder
 * and to the in-band detector come from the phones. The input is a run of packets, each a side
 * byte (bit 0: agent), a length byte, then that many bytes (an RTP packet as it arrives: header,
 * telephone-event payload or G.711 audio, padding), fed through blend__sip_relay_dtmf_rx on a
 * bridged relay whose customer side negotiated A-law with telephone-event 101 and whose agent side
 * µ-law without it (so both decoders are reached). Each digit reported must be a key, with a
 * duration that is not negative. A fresh relay per input keeps runs reproducible; libre is
 * initialised once.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "sip/sip_int.h"

#include <string.h>

#define INPUT_BYTES_MAX 8192

static void on_dtmf(void *arg, enum blend__sip_side side, char digit, int duration_ms)
{
    size_t *n = arg;
    BLEND_ASSERT(side == BLEND__SIP_CUSTOMER || side == BLEND__SIP_AGENT);
    BLEND_ASSERT(digit != '\0' && strchr("0123456789*#ABCD", digit) != NULL);
    BLEND_ASSERT(duration_ms >= 0);
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static struct blend__sip_settings set;
    static struct blend__sip_counters counters;
    static struct sa addr;
    if (!ready) {
        blend_log_set_level(BLEND_LOG_OFF);
        struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0"};
        if (libre_init() != 0 || blend__sip_settings_resolve(&cfg, &set) != 0 ||
            sa_set_str(&addr, "127.0.0.1", 0) != 0) {
            return 0;
        }
        ready = true;
    }
    if (size > INPUT_BYTES_MAX) {
        return 0;
    }
    struct blend__sip_relay *r = NULL;
    if (blend__sip_relay_create(&set, &addr, NULL, &counters, &r) != 0) {
        return 0;
    }
    size_t digits = 0;
    blend__sip_relay_on_dtmf(r, on_dtmf, &digits);
    struct sa none;
    sa_init(&none, AF_UNSPEC);
    blend__sip_relay_peer(r, BLEND__SIP_CUSTOMER, BLEND__SIP_PT_PCMA, 101, false, &none);
    blend__sip_relay_peer(r, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMU, -1, false, &none);
    blend__sip_relay_bridge(r, true);
    struct mbuf *mb = mbuf_alloc(BLEND_SIP_RTP_PACKET_BYTES_MAX);
    size_t off = 0;
    while (mb && off < size) {
        if (size - off < 2) {
            break;
        }
        enum blend__sip_side side = data[off] & 1u ? BLEND__SIP_AGENT : BLEND__SIP_CUSTOMER;
        size_t len = data[off + 1];
        off += 2;
        len = len < size - off ? len : size - off;
        mbuf_rewind(mb);
        if (mbuf_write_mem(mb, &data[off], len) != 0) {
            break;
        }
        mb->pos = 0;
        blend__sip_relay_dtmf_rx(r, side, mb);
        off += len;
    }
    mem_deref(mb);
    blend__sip_relay_destroy(r);
    return 0;
}
