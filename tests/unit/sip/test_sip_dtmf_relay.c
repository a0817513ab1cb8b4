/*
 * DTMF in the relay without peers: RTP packets are built by the test and fed through the relay's
 * inspection entry (blend__sip_relay_dtmf_rx, what the packet handler calls for every RTP packet)
 * on a relay with real sockets but no traffic. RFC 4733: a key press (start packets, then the end
 * packet three times) is reported once, at its end, with the end packet's duration, even when
 * its start packets were lost or the same event is replayed; events that are no key are ignored;
 * nothing is reported before the bridge. In-band: a leg without telephone-event gets a detector
 * while bridged, fed with its G.711 payloads (tones made by spandsp's generator), and loses it when
 * unbridged (no digit then; ASan's leak check covers the free).
 */
#include "base/alloc.h"
#include "sip/sip_int.h"

#include <spandsp.h>

#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define PT_TE 101

struct fixture {
    struct blend__sip_settings set;
    struct blend__sip_counters counters;
    struct blend__sip_relay *relay;
    char digits[2][64]; /* per side, in order */
    int durations[2][64];
    int n[2];
    uint16_t seq;
    uint32_t ts; /* RTP timestamp of the packets fed: one per event */
};

static void on_dtmf(void *arg, enum blend__sip_side side, char digit, int duration_ms)
{
    struct fixture *f = arg;
    assert_true(f->n[side] < 63);
    f->durations[side][f->n[side]] = duration_ms;
    f->digits[side][f->n[side]++] = digit;
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(libre_init(), 0);
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0"};
    assert_int_equal(blend__sip_settings_resolve(&cfg, &f.set), 0);
    struct sa addr;
    assert_int_equal(sa_set_str(&addr, "127.0.0.1", 0), 0);
    assert_int_equal(blend__sip_relay_create(&f.set, &addr, NULL, &f.counters, &f.relay), 0);
    blend__sip_relay_on_dtmf(f.relay, on_dtmf, &f);
    struct sa none;
    sa_init(&none, AF_UNSPEC);
    /* The customer talks A-law with telephone-event 101; the agent µ-law without it. */
    blend__sip_relay_peer(f.relay, BLEND__SIP_CUSTOMER, BLEND__SIP_PT_PCMA, PT_TE, false, &none);
    blend__sip_relay_peer(f.relay, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMU, -1, false, &none);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    blend__sip_relay_destroy(f->relay);
    libre_close();
    return blend_alloc_live() == 0 ? 0 : -1;
}

/* Feeds one RTP packet (header + payload) on side. */
static void feed(struct fixture *f, enum blend__sip_side side, int pt, const uint8_t *payload,
                 size_t len)
{
    struct mbuf *mb = mbuf_alloc(12 + len);
    assert_non_null(mb);
    struct rtp_header hdr = {
        .ver = 2, .pt = (uint8_t)pt, .seq = f->seq++, .ts = f->ts, .ssrc = 0x55aa};
    assert_int_equal(rtp_hdr_encode(mb, &hdr), 0);
    assert_int_equal(mbuf_write_mem(mb, payload, len), 0);
    mb->pos = 0;
    blend__sip_relay_dtmf_rx(f->relay, side, mb);
    assert_int_equal(mb->pos, 0); /* the packet is left as it came (it is forwarded next) */
    mem_deref(mb);
}

/* One RFC 4733 key press: event code, `starts` packets without the end bit, then the end packet
 * `ends` times with duration units (8 kHz). */
static void press(struct fixture *f, enum blend__sip_side side, int code, int starts, int ends,
                  uint16_t units)
{
    f->ts += 8000;
    for (int i = 0; i < starts; i++) {
        uint16_t d = (uint16_t)(160 * i);
        uint8_t p[4] = {(uint8_t)code, 0x0a, (uint8_t)(d >> 8), (uint8_t)d};
        feed(f, side, PT_TE, p, sizeof(p));
    }
    for (int i = 0; i < ends; i++) {
        uint8_t p[4] = {(uint8_t)code, 0x8a, (uint8_t)(units >> 8), (uint8_t)units};
        feed(f, side, PT_TE, p, sizeof(p));
    }
}

static void rfc4733_one_event_per_press(void **state)
{
    struct fixture *f = *state;
    /* Not bridged: nothing is inspected. */
    press(f, BLEND__SIP_CUSTOMER, 5, 3, 3, 800);
    assert_int_equal(f->n[BLEND__SIP_CUSTOMER], 0);
    blend__sip_relay_bridge(f->relay, true);
    press(f, BLEND__SIP_CUSTOMER, 1, 7, 3, 2240);  /* 280 ms */
    press(f, BLEND__SIP_CUSTOMER, 11, 2, 3, 1600); /* '#', 200 ms */
    press(f, BLEND__SIP_CUSTOMER, 1, 4, 3, 960);   /* the same key again: a new press */
    press(f, BLEND__SIP_CUSTOMER, 10, 0, 1, 400);  /* '*': only one end packet survived */
    press(f, BLEND__SIP_CUSTOMER, 15, 1, 3, 800);  /* 'D' */
    press(f, BLEND__SIP_CUSTOMER, 16, 3, 3, 800);  /* flash: no key */
    /* A replay of the same event (same timestamp, start packets again) is a new press; its
     * end packets once more without a start are repeats. */
    f->ts -= 8000;
    press(f, BLEND__SIP_CUSTOMER, 3, 2, 3, 800);
    f->ts -= 8000;
    press(f, BLEND__SIP_CUSTOMER, 3, 2, 3, 800);
    f->ts -= 8000;
    press(f, BLEND__SIP_CUSTOMER, 3, 0, 3, 800);
    /* Short or non-event packets on the telephone-event type are ignored. */
    uint8_t shortp[2] = {3, 0x80};
    feed(f, BLEND__SIP_CUSTOMER, PT_TE, shortp, sizeof(shortp));
    f->digits[BLEND__SIP_CUSTOMER][f->n[BLEND__SIP_CUSTOMER]] = '\0';
    assert_string_equal(f->digits[BLEND__SIP_CUSTOMER], "1#1*D33");
    assert_int_equal(f->durations[BLEND__SIP_CUSTOMER][0], 280);
    assert_int_equal(f->durations[BLEND__SIP_CUSTOMER][1], 200);
    assert_int_equal(f->durations[BLEND__SIP_CUSTOMER][2], 120);
    assert_int_equal(f->durations[BLEND__SIP_CUSTOMER][3], 50);
    assert_int_equal(f->durations[BLEND__SIP_CUSTOMER][4], 100);
    /* The agent negotiated no telephone-event: PT 101 from it is not decoded as an event. */
    press(f, BLEND__SIP_AGENT, 2, 3, 3, 800);
    assert_int_equal(f->n[BLEND__SIP_AGENT], 0);
}

/* G.711 of spandsp-generated tones for `digits`, then silence, in 20 ms packets on side. */
static void play_tones(struct fixture *f, enum blend__sip_side side, int pt, const char *digits)
{
    dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
    assert_non_null(tx);
    assert_int_equal(dtmf_tx_put(tx, digits, -1), 0);
    enum blend_media_codec codec = pt == BLEND__SIP_PT_PCMA ? BLEND_MEDIA_PCMA : BLEND_MEDIA_PCMU;
    /* Each digit takes 50 ms on and 55 ms off (spandsp's defaults): 20 packets a digit is
     * ample, and the trailing silence completes the last one. */
    size_t packets = 20 * strlen(digits) + 10;
    for (size_t i = 0; i < packets; i++) {
        int16_t pcm[160] = {0};
        (void)dtmf_tx(tx, pcm, 160);
        uint8_t g711[160];
        blend_media_encode(codec, pcm, 160, g711);
        feed(f, side, pt, g711, sizeof(g711));
    }
    dtmf_tx_free(tx);
}

static void inband_while_bridged(void **state)
{
    struct fixture *f = *state;
    /* Before the bridge there is no detector. */
    play_tones(f, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMU, "7");
    assert_int_equal(f->n[BLEND__SIP_AGENT], 0);
    blend__sip_relay_bridge(f->relay, true);
    play_tones(f, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMU, "9#9A");
    f->digits[BLEND__SIP_AGENT][f->n[BLEND__SIP_AGENT]] = '\0';
    assert_string_equal(f->digits[BLEND__SIP_AGENT], "9#9A");
    assert_int_equal(f->durations[BLEND__SIP_AGENT][0], 0); /* in-band: not measured */
    /* The customer negotiated telephone-event: its audio is not searched for tones. */
    play_tones(f, BLEND__SIP_CUSTOMER, BLEND__SIP_PT_PCMA, "5");
    assert_int_equal(f->n[BLEND__SIP_CUSTOMER], 0);
    /* Unbridged: the detector is gone. */
    blend__sip_relay_bridge(f->relay, false);
    play_tones(f, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMU, "3");
    assert_int_equal(f->n[BLEND__SIP_AGENT], 4);
    /* Bridged again (a new agent) and the agent re-negotiates A-law: a detector for A-law. */
    blend__sip_relay_bridge(f->relay, true);
    struct sa none;
    sa_init(&none, AF_UNSPEC);
    blend__sip_relay_peer(f->relay, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMA, -1, false, &none);
    play_tones(f, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMA, "*0");
    /* Packets of another payload type than the leg's codec are not audio. */
    play_tones(f, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMU, "");
    f->digits[BLEND__SIP_AGENT][f->n[BLEND__SIP_AGENT]] = '\0';
    assert_string_equal(f->digits[BLEND__SIP_AGENT], "9#9A*0");
    /* The agent now offers telephone-event: the detector goes, events are decoded. */
    blend__sip_relay_peer(f->relay, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMA, PT_TE, false, &none);
    play_tones(f, BLEND__SIP_AGENT, BLEND__SIP_PT_PCMA, "8");
    press(f, BLEND__SIP_AGENT, 4, 2, 3, 800);
    f->digits[BLEND__SIP_AGENT][f->n[BLEND__SIP_AGENT]] = '\0';
    assert_string_equal(f->digits[BLEND__SIP_AGENT], "9#9A*04");
    assert_int_equal(f->durations[BLEND__SIP_AGENT][6], 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rfc4733_one_event_per_press, setup, teardown),
        cmocka_unit_test_setup_teardown(inband_while_bridged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
