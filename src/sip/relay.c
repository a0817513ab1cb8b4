/*
 * The RTP relay of one call: a customer-side and an agent-side socket pair (RTP on an even port,
 * RTCP on the next) bound on the SIP listen address. Packets from one side go to the other
 * side's peer without decoding when both sides use the same codec; only what must change is
 * rewritten: the payload of G.711 µ-law <-> A-law when the sides negotiated different codecs
 * (spandsp's inline G.711 conversions) and the payload type of telephone-event when the two
 * sides numbered it differently. SSRC, sequence numbers and timestamps pass through.
 *
 * Symmetric RTP: each side sends to the address its SDP named until the first packet arrives
 * from the peer; from then on it sends to that packet's source (latching, for phones behind NAT).
 * The agent side latches only while bridged, so early media of a losing fork cannot capture it.
 *
 * Hold: a side that put the call on hold (calls.c decides from its SDP) has what it sends dropped
 * (counted as held), and the other side gets music on hold instead: a stream of Blend's own
 * (random SSRC, sequence + 1 and timestamp + 160 per packet, the timestamp advanced by the wall
 * time between holds, marker on the first packet of each hold) carrying the prompt's frames in
 * that side's codec (silence without a prompt). One libre timer per relay ticks every 20 ms
 * while some side gets music, on a deadline kept on the monotonic clock (no drift); the packet
 * is built in one buffer allocated with the relay (nothing is allocated per packet).
 *
 * Recording: while a recorder is attached, every G.711 payload forwarded (before any
 * transcoding, in its sender's codec) is pushed into it with the monotonic clock: the customer
 * side on the left channel, the agent side on the right.
 *
 * DTMF: while bridged, every RTP packet a side sends is inspected before it is forwarded (even
 * while that side holds: a key pressed is still a key pressed). A side that negotiated
 * telephone-event has its RFC 4733 payloads decoded here (event, end bit, duration: four bytes;
 * libre's telev does not fit: it hides the duration and tells repeated end packets from a new
 * event by state alone, so a press whose start packets were lost after another press would be
 * missed). The end of each event is reported once to the relay's DTMF callback, with the end
 * packet's duration, however often the sender repeats it. A side without
 * telephone-event but with G.711 gets an in-band detector (blend_media_dtmf) while bridged: its
 * payloads are fed in its own codec before any transcoding. The packets themselves are still
 * forwarded unchanged (the telephone-event payload type rewritten when the sides differ).
 *
 * A third party (calls.c: monitoring, consultation, conference) gets a third socket pair, bound
 * when it is dialled. Once it answered and a mode is set, the relay mixes: every G.711 packet
 * of the three sides is decoded to 16-bit linear into that side's slot (its last frame; a slot
 * is used by the next tick and then emptied, so no more than one frame per source is ever
 * kept), and a 20 ms timer (deadline on the monotonic clock, like the music) sends each side
 * the saturating sum of the sources its mode lets it hear (mix.c), encoded in that side's
 * codec, as Blend's own RTP stream for that side (random SSRC, sequence + 1, timestamp + 160,
 * marker on the first packet). Music on hold becomes a source of the mix (consultation, or a
 * side that holds). While mixing, RTCP and telephone-event packets are not relayed (the
 * receivers' streams are Blend's own), DTMF of the customer and the agent is still detected,
 * a party's keys are not. The recording then gets, per tick, the customer's frame on the left
 * and the agent's frame plus the party's when the customer hears the party (barge,
 * conference) on the right. Without a party none of this runs: packets are relayed as above,
 * without decoding (rtp_mixed stays 0).
 *
 * The caller before an agent (IVR): once the customer's leg is answered and while no agent is
 * bridged, the customer gets Blend's stream on the same machinery as music on hold (one timer,
 * one stream, one buffer): the frames of a play (a sequence of prompts whose references the
 * relay holds until the play ends), else music (the waiting music is on) or G.711 silence. A
 * play's frames are never skipped: after a stall of the loop the timestamp jumps and the prompt
 * goes on where it was, so exactly its frames are sent (rtp_prompt); after its last frame the
 * relay releases the prompts and reports the end to its play callback. While answered and
 * unbridged, the customer's packets are still inspected for keys (RFC 4733 or in-band) and, for
 * a customer-only recording (voicemail), pushed into the recorder; nothing is relayed. Bridged
 * calls take none of these paths.
 *
 * Invariants: only the telephony thread touches a relay; nothing is relayed unless bridged;
 * datagrams larger than BLEND_SIP_RTP_PACKET_BYTES_MAX are dropped and counted; music goes to a
 * side only while bridged, the other side holds and this side does not (or to the answered,
 * unbridged customer); a play runs only while answered and unbridged, and holds one reference
 * of each of its prompts exactly until it ends (done, stopped, replaced, or the relay freed).
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include <string.h>

enum { RTP_HEADER_BYTES = 12, SIDES = 3 };

/* An RTP stream of Blend's own towards one side (the mix). */
struct stream {
    uint32_t ssrc, ts;
    uint16_t seq;
    bool marker;
};

/* What Blend's own stream to a side carries (each has its counter). */
enum moh_src {
    SRC_MUSIC = 0, /* music on hold (silence without moh_path): rtp_moh */
    SRC_COMFORT,   /* G.711 silence while the other bridged side is silent: rtp_comfort */
    SRC_PROMPT,    /* the frames of a play (customer, answered, unbridged): rtp_prompt */
    SRC_SILENCE,   /* G.711 silence to the answered, unbridged customer: rtp_silence */
};

/* The music-on-hold stream Blend sends to one side. */
struct moh {
    bool on;          /* this side gets Blend's stream now */
    enum moh_src src; /* ... carrying this */
    bool started;     /* ssrc/seq/ts are set (the stream continues across holds) */
    bool marker;      /* the next packet starts a hold */
    uint32_t ssrc, ts;
    uint16_t seq;
    size_t frame;     /* next prompt frame */
    uint64_t last_ms; /* when it last sent (the timestamp follows the clock between holds) */
    uint64_t sent;
};

struct side {
    struct blend__sip_relay *r;
    enum blend__sip_side id;
    struct udp_sock *rtp, *rtcp;
    struct sa laddr;               /* RTP; RTCP is port + 1 */
    struct sa rtp_peer, rtcp_peer; /* where this side's phone gets its packets */
    bool rtp_latched, rtcp_latched;
    int codec_pt, dtmf_pt;
    bool mux;
    bool held; /* this side put the call on hold: what it sends is not relayed */
    struct sa ignore_rtp, ignore_rtcp; /* a replaced peer still sending: dropped */
    struct moh moh;
    /* Comfort: packets received from this side (counted by rtp_recv), the count the watchdog
     * saw last and how many checks in a row it stayed put; fill: the other side is silent and
     * this side gets silence frames meanwhile. */
    uint64_t rx, rx_seen;
    int rx_still;
    bool fill;
    bool te_ended;                 /* RFC 4733: the last event seen has ended ... */
    uint32_t te_end_ts;            /* ... and this was its RTP timestamp */
    struct blend_media_dtmf *tone; /* in-band detector: bridged, no telephone-event, G.711 */
    int tone_pt;                   /* the codec the detector was made for */
    /* Mixing: this side's last decoded frame (full until the next tick uses it) and the
     * stream Blend sends it. */
    int16_t slot[BLEND_MEDIA_FRAME_SAMPLES];
    bool slot_full;
    struct stream mix;
};

struct blend__sip_relay {
    struct side s[SIDES]; /* customer, agent, party (sockets only while a party is dialled) */
    bool bridged;
    uint64_t to[SIDES]; /* RTP packets sent to each side */
    struct blend__sip_counters *counters;
    const struct blend__sip_settings *set; /* borrowed: binds the party side later */
    struct sa addr;
    /* Mixing: the party's mode (0: no party in the mix), whether the mix runs, its 20 ms tick
     * and deadline, the music's next frame, and the recording stream's timestamp. */
    int party_mode;
    bool mixing;
    struct tmr mix_tmr;
    uint64_t mix_due_ms;
    size_t mix_moh_frame;
    uint32_t rec_ts;
    /* Music on hold: the prompt (borrowed, NULL = silence), the 20 ms tick, its next deadline
     * on the monotonic clock, and the one packet buffer. */
    const struct blend_media_prompt *moh;
    bool answered;        /* the customer's leg is answered (music while it waits unbridged) */
    struct tmr watch_tmr; /* comfort watchdog, while bridged */
    struct tmr moh_tmr;
    uint64_t moh_due_ms;
    bool in_moh_tick; /* moh_tick runs: it re-arms the timer itself */
    struct mbuf *moh_mb;
    /* Recording (borrowed recorder, NULL = none) and the first push error. */
    struct blend_media_recorder *rec;
    int rec_err;
    /* Where digits go (NULL = nowhere). */
    blend__sip_dtmf_fn *dtmf_fn;
    void *dtmf_arg;
    /* The answered, unbridged customer: music (wait_music) or silence when no play runs; the
     * play (owned references, the next prompt and frame); where its end is reported. */
    bool wait_music;
    bool rec_customer_alone; /* the recorder takes the customer's audio bridged or not */
    struct blend_media_prompt *play[BLEND_SIP_PLAY_PROMPTS_MAX];
    size_t play_count, play_index, play_frame;
    blend__sip_play_done_fn *play_fn;
    void *play_arg;
};

/* Where the next port search starts: spreads calls over the range (telephony thread only). */
static _Thread_local uint32_t port_cursor;

static bool is_rtcp(const struct mbuf *mb)
{
    /* RFC 5761: RTCP packet types 192..223 sit where RTP has marker + payload type. */
    uint8_t b1 = mb->buf[mb->pos + 1];
    return b1 >= 192 && b1 <= 223;
}

static void drop(struct blend__sip_relay *r)
{
    atomic_fetch_add(&r->counters->rtp_dropped, 1);
}

static enum blend_media_codec media_codec(int pt)
{
    return pt == BLEND__SIP_PT_PCMA ? BLEND_MEDIA_PCMA : BLEND_MEDIA_PCMU;
}

/* Decodes the RTP header without moving mb->pos: the payload is [*payload, *end) (padding
 * removed). Returns false for what is not RTP version 2. */
static bool rtp_parse(struct mbuf *mb, struct rtp_header *hdr, size_t *payload, size_t *end)
{
    size_t start = mb->pos;
    int err = rtp_hdr_decode(hdr, mb);
    *payload = mb->pos;
    mb->pos = start;
    if (err != 0 || hdr->ver != 2) {
        return false;
    }
    *end = mb->end;
    if (hdr->pad && *end > *payload) {
        size_t padn = mb->buf[*end - 1];
        *end = padn <= *end - *payload ? *end - padn : *payload;
    }
    return true;
}

/* Pushes a forwarded G.711 payload into the call's recorder (telephone-event and other payload
 * types are not audio). A push error is kept (the first) and logged once. */
static void record(struct side *from, const struct rtp_header *hdr, const struct mbuf *mb,
                   size_t payload, size_t end)
{
    struct blend__sip_relay *r = from->r;
    if (!r->rec || hdr->pt != from->codec_pt || end <= payload) {
        return;
    }
    struct blend_media_packet p = {
        .side = from->id == BLEND__SIP_CUSTOMER ? BLEND_MEDIA_CUSTOMER : BLEND_MEDIA_AGENT,
        .codec = media_codec(from->codec_pt),
        .rtp_ts = hdr->ts,
        .arrival_ms = blend__sip_now_ms(),
        .payload = &mb->buf[payload],
        .payload_bytes = end - payload,
    };
    int err = blend_media_recorder_push(r->rec, &p);
    if (err && !r->rec_err) {
        r->rec_err = err;
        BLEND_LOG_WARN("sip", "recording: packet not recorded: %s", blend_strerror(err));
    }
}

/* Rewrites an RTP packet from side `from` for side `to` in place. */
static void rtp_adapt(const struct side *from, const struct side *to, struct mbuf *mb,
                      const struct rtp_header *hdr, size_t payload, size_t end)
{
    int pt = hdr->pt;
    uint8_t *b1 = &mb->buf[mb->pos + 1];
    if (pt == from->codec_pt && to->codec_pt >= 0 && to->codec_pt != pt) {
        bool to_alaw = to->codec_pt == BLEND__SIP_PT_PCMA;
        for (size_t i = payload; i < end; i++) {
            mb->buf[i] = to_alaw ? linear_to_alaw(ulaw_to_linear(mb->buf[i]))
                                 : linear_to_ulaw(alaw_to_linear(mb->buf[i]));
        }
        *b1 = (uint8_t)((*b1 & 0x80u) | (uint8_t)to->codec_pt);
    } else if (pt == from->dtmf_pt && to->dtmf_pt >= 0 && to->dtmf_pt != pt) {
        *b1 = (uint8_t)((*b1 & 0x80u) | (uint8_t)to->dtmf_pt);
    }
}

static void dtmf_report(struct side *from, char digit, int duration_ms)
{
    struct blend__sip_relay *r = from->r;
    BLEND_ASSERT(strchr("0123456789*#ABCD", digit) && digit != '\0');
    if (r->dtmf_fn) {
        r->dtmf_fn(r->dtmf_arg, from->id, digit, duration_ms);
    }
}

/* RFC 4733 2.5.1.3/2.5.1.4: one event is identified by its RTP timestamp, and its end packet is
 * sent three times. The end is reported once: a later end packet with the same timestamp is a
 * repeat unless a packet of a new event came in between (a sender replaying the same event). */
static void dtmf_event(struct side *from, const struct mbuf *mb, const struct rtp_header *hdr,
                       size_t payload, size_t end)
{
    enum { EVENT_BYTES = 4, END_BIT = 0x80 };
    if (end - payload < EVENT_BYTES) {
        return;
    }
    const uint8_t *p = &mb->buf[payload];
    if (!(p[1] & END_BIT)) {
        from->te_ended = false;
        return;
    }
    if (from->te_ended && hdr->ts == from->te_end_ts) {
        return; /* a repeated end packet */
    }
    from->te_ended = true;
    from->te_end_ts = hdr->ts;
    int digit = telev_code2digit(p[0]);
    if (digit <= 0) {
        return; /* an event that is no key (flash, tones: codes above 15) */
    }
    /* The duration field counts RTP clock units (8 kHz for telephone-event). */
    uint32_t units = ((uint32_t)p[2] << 8) | p[3];
    dtmf_report(from, (char)digit, (int)(units / (BLEND_MEDIA_RATE_HZ / 1000)));
}

/* In-band: the side's G.711 payload through its detector (in its own codec). */
static void dtmf_tone(struct side *from, const struct mbuf *mb, size_t payload, size_t end)
{
    struct blend_media_digits got;
    if (end <= payload ||
        blend_media_dtmf_feed(from->tone, &mb->buf[payload], end - payload, &got) != 0) {
        return; /* larger than any packetisation in use: not fed */
    }
    for (size_t i = 0; i < got.count; i++) {
        dtmf_report(from, got.digits[i], 0);
    }
}

static void dtmf_detect(struct side *from, struct mbuf *mb, const struct rtp_header *hdr,
                        size_t payload, size_t end)
{
    if (from->dtmf_pt >= 0 && hdr->pt == from->dtmf_pt) {
        dtmf_event(from, mb, hdr, payload, end);
    } else if (from->tone && hdr->pt == from->tone_pt) {
        dtmf_tone(from, mb, payload, end);
    }
}

/* Whether the keys of a side are looked for: while bridged, and the answered customer's always. */
static bool keys_wanted(const struct blend__sip_relay *r, int side)
{
    return r->bridged || (side == BLEND__SIP_CUSTOMER && r->answered);
}

void blend__sip_relay_dtmf_rx(struct blend__sip_relay *r, enum blend__sip_side side,
                              struct mbuf *mb)
{
    BLEND_ASSERT(r && mb && (side == BLEND__SIP_CUSTOMER || side == BLEND__SIP_AGENT));
    struct rtp_header hdr;
    size_t payload = 0, end = 0;
    if (keys_wanted(r, side) && mbuf_get_left(mb) >= RTP_HEADER_BYTES &&
        rtp_parse(mb, &hdr, &payload, &end)) {
        dtmf_detect(&r->s[side], mb, &hdr, payload, end);
    }
}

/* Keeps each side's in-band detector in step with bridge, codec and telephone-event: one while
 * keys are looked for (keys_wanted) on a G.711 side that negotiated no telephone-event, none
 * otherwise. */
static void dtmf_update(struct blend__sip_relay *r)
{
    for (int i = 0; i < 2; i++) {
        struct side *s = &r->s[i];
        bool g711 = s->codec_pt == BLEND__SIP_PT_PCMU || s->codec_pt == BLEND__SIP_PT_PCMA;
        bool want = keys_wanted(r, i) && s->dtmf_pt < 0 && g711;
        if (s->tone && (!want || s->tone_pt != s->codec_pt)) {
            blend_media_dtmf_destroy(s->tone);
            s->tone = NULL;
        }
        if (want && !s->tone) {
            int err = blend_media_dtmf_create(media_codec(s->codec_pt), &s->tone);
            if (err) {
                s->tone = NULL;
                BLEND_LOG_WARN("sip", "in-band DTMF detection off for a leg: %s",
                               blend_strerror(err));
                continue;
            }
            s->tone_pt = s->codec_pt;
        }
    }
}

/* Not bridged: nothing is relayed; the answered customer's RTP is still looked at for keys and,
 * for a customer-only recording (voicemail), recorded. */
static void unbridged_rx(struct side *from, bool rtcp, struct mbuf *mb)
{
    struct blend__sip_relay *r = from->r;
    drop(r);
    if (rtcp || from->id != BLEND__SIP_CUSTOMER || !r->answered) {
        return;
    }
    blend__sip_relay_dtmf_rx(r, from->id, mb);
    struct rtp_header hdr;
    size_t payload = 0, end = 0;
    if (r->rec && r->rec_customer_alone && !from->held && rtp_parse(mb, &hdr, &payload, &end)) {
        record(from, &hdr, mb, payload, end);
    }
}

static void forward(struct side *from, bool rtcp, struct mbuf *mb)
{
    struct blend__sip_relay *r = from->r;
    struct side *to = &r->s[1 - from->id];
    if (!r->bridged) {
        unbridged_rx(from, rtcp, mb);
        return;
    }
    if (!rtcp) {
        blend__sip_relay_dtmf_rx(r, from->id, mb);
    }
    if (from->held) {
        /* Hold: the holding side's media stops here; `to` gets music on hold (moh_tick) and
         * nothing of the holding side reaches it (nor the recording) meanwhile. */
        atomic_fetch_add(&r->counters->rtp_held, 1);
        return;
    }
    struct udp_sock *us = rtcp && !to->mux ? to->rtcp : to->rtp;
    const struct sa *dst = rtcp && !to->mux ? &to->rtcp_peer : &to->rtp_peer;
    struct rtp_header hdr;
    size_t payload = 0, end = 0;
    if (!sa_isset(dst, SA_ALL) || (!rtcp && !rtp_parse(mb, &hdr, &payload, &end))) {
        drop(r);
        return;
    }
    if (!rtcp) {
        record(from, &hdr, mb, payload, end);
        rtp_adapt(from, to, mb, &hdr, payload, end);
    }
    int err = udp_send(us, dst, mb);
    if (err) {
        drop(r);
        return;
    }
    if (!rtcp) {
        r->to[to->id]++;
        atomic_fetch_add(to->id == BLEND__SIP_AGENT ? &r->counters->rtp_to_agent
                                                    : &r->counters->rtp_to_customer,
                         1);
    }
}

static bool may_latch(const struct side *s)
{
    if (s->id == BLEND__SIP_PARTY) {
        return s->r->party_mode != 0;
    }
    return s->id == BLEND__SIP_CUSTOMER || s->r->bridged;
}

static void mix_in(struct side *from, struct mbuf *mb);

static void moh_update(struct blend__sip_relay *r);

static void rtp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
    struct side *s = arg;
    size_t len = mbuf_get_left(mb);
    if (len < RTP_HEADER_BYTES || len > BLEND_SIP_RTP_PACKET_BYTES_MAX) {
        drop(s->r);
        return;
    }
    bool rtcp = s->mux && is_rtcp(mb);
    if (sa_isset(&s->ignore_rtp, SA_ALL) && sa_cmp(src, &s->ignore_rtp, SA_ALL)) {
        drop(s->r);
        return;
    }
    if (!rtcp) {
        s->rx++;
        if (s->id != BLEND__SIP_PARTY && s->r->s[1 - s->id].fill) {
            /* This side speaks again: the other side's comfort stream stops. */
            s->r->s[1 - s->id].fill = false;
            moh_update(s->r);
        }
    }
    if (may_latch(s)) {
        if (!rtcp && !s->rtp_latched) {
            s->rtp_peer = *src;
            s->rtp_latched = true;
        } else if (rtcp && !s->rtcp_latched) {
            s->rtcp_peer = *src;
            s->rtcp_latched = true;
        }
    }
    if (s->r->mixing && !rtcp) {
        mix_in(s, mb);
    } else if (s->r->mixing || s->id == BLEND__SIP_PARTY) {
        drop(s->r); /* RTCP while mixing, or a party not in the mix */
    } else {
        forward(s, rtcp, mb);
    }
}

static void rtcp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
    struct side *s = arg;
    size_t len = mbuf_get_left(mb);
    if (len < 8 || len > BLEND_SIP_RTP_PACKET_BYTES_MAX) {
        drop(s->r);
        return;
    }
    if (sa_isset(&s->ignore_rtcp, SA_ALL) && sa_cmp(src, &s->ignore_rtcp, SA_ALL)) {
        drop(s->r);
        return;
    }
    if (may_latch(s) && !s->rtcp_latched) {
        s->rtcp_peer = *src;
        s->rtcp_latched = true;
    }
    if (s->r->mixing || s->id == BLEND__SIP_PARTY) {
        drop(s->r);
        return;
    }
    forward(s, true, mb);
}

/* --- Music on hold, and the play to the customer without an agent ------------------------- */

/* Releases the play's references (none left afterwards). */
static void play_release(struct blend__sip_relay *r)
{
    for (size_t i = 0; i < r->play_count; i++) {
        blend_media_prompt_free(r->play[i]);
        r->play[i] = NULL;
    }
    r->play_count = r->play_index = r->play_frame = 0;
}

/* The last frame of the play went out: the prompts go, the stream turns to music or silence,
 * and the end is reported (the callback must not destroy the relay). */
static void play_done(struct blend__sip_relay *r)
{
    play_release(r);
    moh_update(r);
    if (r->play_fn) {
        r->play_fn(r->play_arg);
    }
}

/* Sends the next music-on-hold packet to side s (skipped while its address is unknown: the
 * stream's clock still advances). */
static void moh_send(struct side *s)
{
    struct blend__sip_relay *r = s->r;
    struct moh *m = &s->moh;
    struct rtp_header hdr = {.ver = 2,
                             .m = m->marker,
                             .pt = (uint8_t)s->codec_pt,
                             .seq = m->seq,
                             .ts = m->ts,
                             .ssrc = m->ssrc};
    m->seq++;
    m->ts += BLEND_MEDIA_FRAME_SAMPLES;
    m->last_ms = blend__sip_now_ms();
    enum blend_media_codec codec = media_codec(s->codec_pt);
    struct mbuf *mb = r->moh_mb;
    mb->pos = 0;
    mb->end = 0;
    BLEND_ASSERT(mb->size >= RTP_HEADER_BYTES + BLEND_MEDIA_FRAME_BYTES);
    /* The buffer was sized for one packet at creation: encoding cannot fail or reallocate. */
    int err = rtp_hdr_encode(mb, &hdr);
    BLEND_ASSERT(err == 0 && mb->pos == RTP_HEADER_BYTES);
    uint8_t *payload = &mb->buf[RTP_HEADER_BYTES];
    bool play_over = false;
    if (m->src == SRC_PROMPT) {
        BLEND_ASSERT(r->play_index < r->play_count);
        const struct blend_media_prompt *p = r->play[r->play_index];
        err = blend_media_prompt_frame(p, r->play_frame, codec, payload);
        BLEND_ASSERT(err == 0);
        if (++r->play_frame == blend_media_prompt_frames(p)) {
            r->play_frame = 0;
            play_over = ++r->play_index == r->play_count;
        }
    } else if (r->moh && m->src == SRC_MUSIC) {
        size_t frames = blend_media_prompt_frames(r->moh);
        err = blend_media_prompt_frame(r->moh, m->frame % frames, codec, payload);
        BLEND_ASSERT(err == 0);
        m->frame = (m->frame + 1) % frames;
    } else {
        blend_media_silence_frame(codec, payload);
    }
    mb->end = RTP_HEADER_BYTES + BLEND_MEDIA_FRAME_BYTES;
    mb->pos = 0;
    if (!sa_isset(&s->rtp_peer, SA_ALL) || udp_send(s->rtp, &s->rtp_peer, mb) != 0) {
        drop(r);
    } else {
        m->marker = false;
        m->sent++;
        atomic_uint_fast64_t *c = m->src == SRC_PROMPT    ? &r->counters->rtp_prompt
                                  : m->src == SRC_COMFORT ? &r->counters->rtp_comfort
                                  : m->src == SRC_SILENCE ? &r->counters->rtp_silence
                                                          : &r->counters->rtp_moh;
        atomic_fetch_add(c, 1);
    }
    if (play_over) {
        play_done(r);
    }
}

static void moh_tick(void *arg)
{
    struct blend__sip_relay *r = arg;
    uint64_t now = blend__sip_now_ms();
    /* A play ending here changes the streams (moh_update) but leaves the timer to this tick. */
    r->in_moh_tick = true;
    for (int n = 0; r->moh_due_ms <= now && n < BLEND_SIP_MOH_CATCHUP_FRAMES_MAX; n++) {
        for (int i = 0; i < 2; i++) {
            if (r->s[i].moh.on) {
                moh_send(&r->s[i]);
            }
        }
        r->moh_due_ms += BLEND_MEDIA_FRAME_MS;
    }
    if (r->moh_due_ms <= now) {
        /* The loop stalled: skip the missed frames (their time still counts in the RTP
         * timestamps) rather than burst them at the phone. */
        uint64_t missed = (now - r->moh_due_ms) / BLEND_MEDIA_FRAME_MS + 1;
        for (int i = 0; i < 2; i++) {
            if (r->s[i].moh.on) {
                r->s[i].moh.ts += (uint32_t)(missed * BLEND_MEDIA_FRAME_SAMPLES);
            }
        }
        r->moh_due_ms += missed * BLEND_MEDIA_FRAME_MS;
    }
    r->in_moh_tick = false;
    if (r->s[BLEND__SIP_CUSTOMER].moh.on || r->s[BLEND__SIP_AGENT].moh.on) {
        tmr_start(&r->moh_tmr, r->moh_due_ms - now, moh_tick, r);
    }
}

/* Comfort watchdog (every BLEND_SIP_COMFORT_CHECK_MS while bridged): a side that sent RTP and
 * then none over BLEND_SIP_COMFORT_CHECKS checks in a row went silent (muted with silence
 * suppression, a phone that stopped sending): the other side gets G.711 silence meanwhile, so
 * that its phone does not take the call for dead (RTP timeouts) and its jitter buffer keeps a
 * clock. A side that never sent RTP (receive-only) is left alone. */
static void watch_tick(void *arg)
{
    struct blend__sip_relay *r = arg;
    bool changed = false;
    for (int i = 0; i < 2; i++) {
        struct side *s = &r->s[i], *other = &r->s[1 - i];
        if (s->rx != s->rx_seen) {
            s->rx_seen = s->rx;
            s->rx_still = 0;
        } else if (s->rx > 0 && s->rx_still < BLEND_SIP_COMFORT_CHECKS &&
                   ++s->rx_still == BLEND_SIP_COMFORT_CHECKS && !s->held && !other->fill) {
            other->fill = true;
            changed = true;
        }
    }
    if (changed) {
        moh_update(r);
    }
    tmr_start(&r->watch_tmr, BLEND_SIP_COMFORT_CHECK_MS, watch_tick, r);
}

static void watch_update(struct blend__sip_relay *r)
{
    if (r->bridged && !r->mixing) {
        if (!tmr_isrunning(&r->watch_tmr)) {
            for (int i = 0; i < 2; i++) {
                r->s[i].rx_seen = r->s[i].rx;
                r->s[i].rx_still = 0;
            }
            tmr_start(&r->watch_tmr, BLEND_SIP_COMFORT_CHECK_MS, watch_tick, r);
        }
        return;
    }
    tmr_cancel(&r->watch_tmr);
    r->s[0].fill = r->s[1].fill = false;
}

/* What side i's stream carries now; false when it gets none. While mixing, the music is a source
 * of the mix instead. Bridged: music while the other side holds, comfort silence while the other
 * side is silent. The answered customer without an agent: the play, else music or silence. */
static bool moh_want(const struct blend__sip_relay *r, int i, enum moh_src *src)
{
    const struct side *s = &r->s[i];
    bool codec_ok = s->codec_pt == BLEND__SIP_PT_PCMU || s->codec_pt == BLEND__SIP_PT_PCMA;
    if (!codec_ok || s->held) {
        return false;
    }
    if (!r->bridged) {
        if (i != BLEND__SIP_CUSTOMER || !r->answered) {
            return false;
        }
        *src = r->play_count > 0 ? SRC_PROMPT : r->wait_music ? SRC_MUSIC : SRC_SILENCE;
        return true;
    }
    if (r->mixing) {
        return false;
    }
    if (r->s[1 - i].held) {
        *src = SRC_MUSIC;
        return true;
    }
    *src = SRC_COMFORT;
    return s->fill;
}

/* Starts or stops each side's stream after a change of hold, bridge, codec, play or waiting
 * music, and the timer with them. */
static void moh_update(struct blend__sip_relay *r)
{
    bool any = false;
    uint64_t now = blend__sip_now_ms();
    for (int i = 0; i < 2; i++) {
        struct side *s = &r->s[i];
        struct moh *m = &s->moh;
        enum moh_src src = SRC_MUSIC;
        bool want = moh_want(r, i, &src);
        if (want && m->on && m->src != src) {
            m->marker = true; /* the stream changes what it carries */
        }
        if (want) {
            m->src = src;
        }
        if (want && !m->on) {
            if (!m->started) {
                m->ssrc = rand_u32();
                m->seq = rand_u16();
                m->ts = rand_u32();
                m->started = true;
            } else {
                /* The stream continues: its clock ran on between the holds. */
                m->ts += (uint32_t)((now - m->last_ms) * (BLEND_MEDIA_RATE_HZ / 1000));
            }
            m->marker = true;
            m->frame = 0;
            BLEND_LOG_DEBUG("sip", "music on hold to the %s side starts",
                            i == BLEND__SIP_CUSTOMER ? "customer" : "agent");
        }
        m->on = want;
        any = any || want;
    }
    if (r->in_moh_tick) {
        return; /* moh_tick re-arms (or not) when it ends */
    }
    if (!any) {
        tmr_cancel(&r->moh_tmr);
    } else if (!tmr_isrunning(&r->moh_tmr)) {
        r->moh_due_ms = now;
        tmr_start(&r->moh_tmr, 0, moh_tick, r);
    }
}

/* --- Mixing (a third party) ----------------------------------------------------------------- */

static bool is_g711(int pt)
{
    return pt == BLEND__SIP_PT_PCMU || pt == BLEND__SIP_PT_PCMA;
}

/* One packet of a side while mixing: DTMF inspection (customer and agent only), then its audio
 * into the side's slot (a later packet before the tick replaces it: one frame at most). */
static void mix_in(struct side *from, struct mbuf *mb)
{
    struct blend__sip_relay *r = from->r;
    struct rtp_header hdr;
    size_t payload = 0, end = 0;
    if (!rtp_parse(mb, &hdr, &payload, &end)) {
        drop(r);
        return;
    }
    if (from->id != BLEND__SIP_PARTY) {
        dtmf_detect(from, mb, &hdr, payload, end);
    } else {
        atomic_fetch_add(&r->counters->rtp_from_party, 1);
    }
    if (from->held) {
        atomic_fetch_add(&r->counters->rtp_held, 1);
        return;
    }
    if (hdr.pt != from->codec_pt || !is_g711(from->codec_pt) || end <= payload) {
        return; /* telephone-event, comfort noise: not audio for the mix */
    }
    size_t n = end - payload;
    n = n < BLEND_MEDIA_FRAME_SAMPLES ? n : BLEND_MEDIA_FRAME_SAMPLES;
    blend_media_decode(media_codec(from->codec_pt), &mb->buf[payload], n, from->slot);
    memset(&from->slot[n], 0, (BLEND_MEDIA_FRAME_SAMPLES - n) * sizeof(from->slot[0]));
    from->slot_full = true;
}

/* Sends one mixed frame (linear) to side s as Blend's stream for it. */
static void mix_send(struct side *s, const int16_t pcm[BLEND_MEDIA_FRAME_SAMPLES])
{
    struct blend__sip_relay *r = s->r;
    struct stream *st = &s->mix;
    struct rtp_header hdr = {.ver = 2,
                             .m = st->marker,
                             .pt = (uint8_t)s->codec_pt,
                             .seq = st->seq,
                             .ts = st->ts,
                             .ssrc = st->ssrc};
    st->seq++;
    st->ts += BLEND_MEDIA_FRAME_SAMPLES;
    struct mbuf *mb = r->moh_mb;
    mb->pos = 0;
    mb->end = 0;
    int err = rtp_hdr_encode(mb, &hdr);
    BLEND_ASSERT(err == 0 && mb->pos == RTP_HEADER_BYTES);
    blend_media_encode(media_codec(s->codec_pt), pcm, BLEND_MEDIA_FRAME_SAMPLES,
                       &mb->buf[RTP_HEADER_BYTES]);
    mb->end = RTP_HEADER_BYTES + BLEND_MEDIA_FRAME_BYTES;
    mb->pos = 0;
    if (!sa_isset(&s->rtp_peer, SA_ALL) || udp_send(s->rtp, &s->rtp_peer, mb) != 0) {
        drop(r);
        return;
    }
    st->marker = false;
    r->to[s->id]++;
    atomic_fetch_add(&r->counters->rtp_mixed, 1);
    atomic_uint_fast64_t *c = s->id == BLEND__SIP_CUSTOMER ? &r->counters->rtp_to_customer
                              : s->id == BLEND__SIP_AGENT  ? &r->counters->rtp_to_agent
                                                           : &r->counters->rtp_to_party;
    atomic_fetch_add(c, 1);
}

/* The recording while mixing: the customer's frame left; the agent's, plus the party's when the
 * customer hears the party, right. Both on one stream clock of 160 per tick. */
static void mix_record(struct blend__sip_relay *r, const int16_t *const frames[],
                       const bool held[SIDES])
{
    uint8_t g711[BLEND_MEDIA_FRAME_BYTES];
    int16_t pcm[BLEND_MEDIA_FRAME_SAMPLES];
    bool three_way =
        r->party_mode == BLEND_SIP_PARTY_BARGE || r->party_mode == BLEND_SIP_PARTY_CONFERENCE;
    uint32_t masks[2] = {
        1u << BLEND__SIP_CUSTOMER,
        (1u << BLEND__SIP_AGENT) | (three_way ? 1u << BLEND__SIP_PARTY : 0u),
    };
    uint64_t now = blend__sip_now_ms();
    for (int ch = 0; ch < 2; ch++) {
        bool any = false;
        for (int src = 0; src < SIDES; src++) {
            if (held[src]) {
                masks[ch] &= ~(1u << src);
            }
            any = any || ((masks[ch] & (1u << src)) && frames[src]);
        }
        if (!any) {
            continue; /* nothing said: the recorder fills silence */
        }
        blend__sip_mix(masks[ch], frames, pcm);
        blend_media_encode(BLEND_MEDIA_PCMU, pcm, BLEND_MEDIA_FRAME_SAMPLES, g711);
        struct blend_media_packet p = {
            .side = ch == 0 ? BLEND_MEDIA_CUSTOMER : BLEND_MEDIA_AGENT,
            .codec = BLEND_MEDIA_PCMU,
            .rtp_ts = r->rec_ts,
            .arrival_ms = now,
            .payload = g711,
            .payload_bytes = sizeof(g711),
        };
        int err = blend_media_recorder_push(r->rec, &p);
        if (err && !r->rec_err) {
            r->rec_err = err;
            BLEND_LOG_WARN("sip", "recording: mixed frame not recorded: %s", blend_strerror(err));
        }
    }
}

/* One 20 ms step of the mix: every side gets what its mode lets it hear; the slots empty. */
static void mix_step(struct blend__sip_relay *r)
{
    bool held[SIDES];
    const int16_t *frames[BLEND__SIP_MIX_SOURCES] = {NULL, NULL, NULL, NULL};
    uint32_t masks[SIDES];
    uint32_t any = 0;
    for (int i = 0; i < SIDES; i++) {
        held[i] = r->s[i].held;
        frames[i] = r->s[i].slot_full ? r->s[i].slot : NULL;
    }
    for (int i = 0; i < SIDES; i++) {
        masks[i] = blend__sip_mix_hears(r->party_mode, (enum blend__sip_side)i, held);
        any |= masks[i];
    }
    int16_t music[BLEND_MEDIA_FRAME_SAMPLES], pcm[BLEND_MEDIA_FRAME_SAMPLES];
    if ((any & (1u << BLEND__SIP_MIX_MOH)) && r->moh) {
        uint8_t g711[BLEND_MEDIA_FRAME_BYTES];
        size_t count = blend_media_prompt_frames(r->moh);
        int err =
            blend_media_prompt_frame(r->moh, r->mix_moh_frame % count, BLEND_MEDIA_PCMU, g711);
        BLEND_ASSERT(err == 0);
        r->mix_moh_frame = (r->mix_moh_frame + 1) % count;
        blend_media_decode(BLEND_MEDIA_PCMU, g711, BLEND_MEDIA_FRAME_SAMPLES, music);
        frames[BLEND__SIP_MIX_MOH] = music;
    }
    for (int i = 0; i < SIDES; i++) {
        struct side *s = &r->s[i];
        if (!s->rtp || !is_g711(s->codec_pt)) {
            continue;
        }
        blend__sip_mix(masks[i], frames, pcm);
        mix_send(s, pcm);
        if ((masks[i] & (1u << BLEND__SIP_PARTY)) && frames[BLEND__SIP_PARTY] &&
            i != BLEND__SIP_PARTY) {
            atomic_fetch_add(i == BLEND__SIP_CUSTOMER ? &r->counters->mix_party_to_customer
                                                      : &r->counters->mix_party_to_agent,
                             1);
        }
    }
    if (r->rec) {
        mix_record(r, frames, held);
    }
    r->rec_ts += BLEND_MEDIA_FRAME_SAMPLES;
    for (int i = 0; i < SIDES; i++) {
        r->s[i].slot_full = false;
    }
}

static void mix_tick(void *arg)
{
    struct blend__sip_relay *r = arg;
    uint64_t now = blend__sip_now_ms();
    for (int n = 0; r->mix_due_ms <= now && n < BLEND_SIP_MOH_CATCHUP_FRAMES_MAX; n++) {
        mix_step(r);
        r->mix_due_ms += BLEND_MEDIA_FRAME_MS;
    }
    if (r->mix_due_ms <= now) {
        /* A stall: the missed frames are skipped (their time counts in the timestamps). */
        uint64_t missed = (now - r->mix_due_ms) / BLEND_MEDIA_FRAME_MS + 1;
        for (int i = 0; i < SIDES; i++) {
            r->s[i].mix.ts += (uint32_t)(missed * BLEND_MEDIA_FRAME_SAMPLES);
        }
        r->rec_ts += (uint32_t)(missed * BLEND_MEDIA_FRAME_SAMPLES);
        r->mix_due_ms += missed * BLEND_MEDIA_FRAME_MS;
    }
    tmr_start(&r->mix_tmr, r->mix_due_ms - now, mix_tick, r);
}

/* Starts or stops mixing after a change of bridge, party socket or mode. */
static void mix_update(struct blend__sip_relay *r)
{
    bool want = r->bridged && r->party_mode != 0 && r->s[BLEND__SIP_PARTY].rtp != NULL;
    if (want && !r->mixing) {
        for (int i = 0; i < SIDES; i++) {
            struct side *s = &r->s[i];
            s->slot_full = false;
            s->mix.ssrc = rand_u32();
            s->mix.seq = rand_u16();
            s->mix.ts = rand_u32();
            s->mix.marker = true;
        }
        r->rec_ts = rand_u32();
        r->mix_moh_frame = 0;
        r->mix_due_ms = blend__sip_now_ms();
        tmr_start(&r->mix_tmr, 0, mix_tick, r);
        BLEND_LOG_DEBUG("sip", "mixing starts (mode %d)", r->party_mode);
    } else if (!want && r->mixing) {
        tmr_cancel(&r->mix_tmr);
        for (int i = 0; i < SIDES; i++) {
            r->s[i].slot_full = false;
        }
        BLEND_LOG_DEBUG("sip", "mixing stops");
    }
    r->mixing = want;
    watch_update(r);
    moh_update(r);
}

/* Binds the RTP/RTCP pair of one side on the first free even port from the cursor. */
static int side_bind(const struct blend__sip_settings *set, const struct sa *addr, struct side *s)
{
    uint32_t first = set->rtp_port_min + (set->rtp_port_min & 1u);
    uint32_t pairs = (set->rtp_port_max + 1u - first) / 2u;
    if (pairs == 0) {
        return BLEND_ELIMIT;
    }
    uint32_t tries = pairs < BLEND_SIP_RTP_BIND_TRIES_MAX ? pairs : BLEND_SIP_RTP_BIND_TRIES_MAX;
    for (uint32_t i = 0; i < tries; i++) {
        uint32_t port = first + 2u * (port_cursor++ % pairs);
        struct sa a = *addr, b = *addr;
        sa_set_port(&a, (uint16_t)port);
        sa_set_port(&b, (uint16_t)(port + 1u));
        int err = udp_listen(&s->rtp, &a, rtp_recv, s);
        if (!err) {
            err = udp_listen(&s->rtcp, &b, rtcp_recv, s);
        }
        if (!err) {
            s->laddr = a;
            return 0;
        }
        s->rtp = mem_deref(s->rtp);
        s->rtcp = mem_deref(s->rtcp);
        if (err == ENOMEM) {
            return BLEND_ENOMEM;
        }
    }
    return BLEND_ELIMIT;
}

int blend__sip_relay_create(const struct blend__sip_settings *set, const struct sa *addr,
                            const struct blend_media_prompt *moh,
                            struct blend__sip_counters *counters, struct blend__sip_relay **out)
{
    BLEND_ASSERT(set && addr && counters && out);
    struct blend__sip_relay *r = blend_calloc(1, sizeof(*r));
    if (!r) {
        return BLEND_ENOMEM;
    }
    r->counters = counters;
    r->moh = moh;
    r->wait_music = true;
    r->set = set;
    r->addr = *addr;
    tmr_init(&r->moh_tmr);
    tmr_init(&r->mix_tmr);
    r->moh_mb = mbuf_alloc(RTP_HEADER_BYTES + BLEND_MEDIA_FRAME_BYTES);
    if (!r->moh_mb) {
        blend_free(r);
        return BLEND_ENOMEM;
    }
    int err = 0;
    for (int i = 0; i < SIDES; i++) {
        struct side *s = &r->s[i];
        s->r = r;
        s->id = (enum blend__sip_side)i;
        s->codec_pt = -1;
        s->dtmf_pt = -1;
        /* The party side binds only when a party is dialled. */
        if (!err && i != BLEND__SIP_PARTY) {
            err = side_bind(set, addr, s);
        }
    }
    if (err) {
        BLEND_LOG_WARN("sip", "no RTP port pair free in %u..%u", set->rtp_port_min,
                       set->rtp_port_max);
        blend__sip_relay_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

void blend__sip_relay_destroy(struct blend__sip_relay *r)
{
    if (!r) {
        return;
    }
    tmr_cancel(&r->moh_tmr);
    tmr_cancel(&r->mix_tmr);
    tmr_cancel(&r->watch_tmr);
    play_release(r);
    for (int i = 0; i < SIDES; i++) {
        mem_deref(r->s[i].rtp);
        mem_deref(r->s[i].rtcp);
        blend_media_dtmf_destroy(r->s[i].tone);
    }
    mem_deref(r->moh_mb);
    blend_free(r);
}

const struct sa *blend__sip_relay_laddr(const struct blend__sip_relay *r, enum blend__sip_side side)
{
    BLEND_ASSERT(r && side <= BLEND__SIP_PARTY);
    return &r->s[side].laddr;
}

void blend__sip_relay_peer(struct blend__sip_relay *r, enum blend__sip_side side, int codec_pt,
                           int dtmf_pt, bool rtcp_mux, const struct sa *raddr)
{
    BLEND_ASSERT(r && raddr && side <= BLEND__SIP_PARTY);
    struct side *s = &r->s[side];
    s->codec_pt = codec_pt;
    s->dtmf_pt = dtmf_pt;
    s->mux = rtcp_mux;
    if (!s->rtp_latched && sa_isset(raddr, SA_ALL)) {
        s->rtp_peer = *raddr;
    }
    if (!s->rtcp_latched && sa_isset(raddr, SA_ALL)) {
        s->rtcp_peer = *raddr;
        if (!rtcp_mux) {
            sa_set_port(&s->rtcp_peer, (uint16_t)(sa_port(raddr) + 1u));
        }
    }
    moh_update(r);
    dtmf_update(r);
}

void blend__sip_relay_hold(struct blend__sip_relay *r, enum blend__sip_side side, bool held)
{
    BLEND_ASSERT(r && side <= BLEND__SIP_PARTY);
    r->s[side].held = held;
    moh_update(r);
}

void blend__sip_relay_bridge(struct blend__sip_relay *r, bool bridged)
{
    /* The calls layer ends a play (and reports it) before it bridges. */
    BLEND_ASSERT(r && (!bridged || r->play_count == 0));
    if (bridged && !r->bridged) {
        /* A new agent phone: its first packet is latched again. */
        struct side *a = &r->s[BLEND__SIP_AGENT];
        a->rtp_latched = false;
        a->rtcp_latched = false;
        sa_init(&a->rtp_peer, AF_UNSPEC);
        sa_init(&a->rtcp_peer, AF_UNSPEC);
        sa_init(&a->ignore_rtp, AF_UNSPEC);
        sa_init(&a->ignore_rtcp, AF_UNSPEC);
        a->held = false;
        a->te_ended = false; /* the new phone's events are its own */
    }
    r->bridged = bridged;
    mix_update(r);
    dtmf_update(r);
}

void blend__sip_relay_answered(struct blend__sip_relay *r)
{
    BLEND_ASSERT(r);
    r->answered = true;
    moh_update(r);
    dtmf_update(r);
}

void blend__sip_relay_waiting_music(struct blend__sip_relay *r, bool on)
{
    BLEND_ASSERT(r);
    r->wait_music = on;
    moh_update(r);
}

void blend__sip_relay_play(struct blend__sip_relay *r, struct blend_media_prompt *const *prompts,
                           size_t count)
{
    BLEND_ASSERT(r && prompts && count > 0 && count <= BLEND_SIP_PLAY_PROMPTS_MAX);
    BLEND_ASSERT(r->answered && !r->bridged);
    play_release(r);
    for (size_t i = 0; i < count; i++) {
        BLEND_ASSERT(prompts[i]);
        r->play[i] = prompts[i];
    }
    r->play_count = count;
    /* A new play is a new talkspurt on the same stream. */
    r->s[BLEND__SIP_CUSTOMER].moh.marker = true;
    moh_update(r);
}

void blend__sip_relay_play_stop(struct blend__sip_relay *r)
{
    BLEND_ASSERT(r);
    if (r->play_count > 0) {
        play_release(r);
        moh_update(r);
    }
}

bool blend__sip_relay_playing(const struct blend__sip_relay *r)
{
    BLEND_ASSERT(r);
    return r->play_count > 0;
}

void blend__sip_relay_on_play_done(struct blend__sip_relay *r, blend__sip_play_done_fn *fn,
                                   void *arg)
{
    BLEND_ASSERT(r);
    r->play_fn = fn;
    r->play_arg = arg;
}

/* A side without sockets, peer or codec (the party side before and after a party). */
static void side_clear(struct side *s)
{
    s->rtp = mem_deref(s->rtp);
    s->rtcp = mem_deref(s->rtcp);
    blend_media_dtmf_destroy(s->tone);
    struct blend__sip_relay *r = s->r;
    enum blend__sip_side id = s->id;
    memset(s, 0, sizeof(*s));
    s->r = r;
    s->id = id;
    s->codec_pt = -1;
    s->dtmf_pt = -1;
}

int blend__sip_relay_party_open(struct blend__sip_relay *r)
{
    BLEND_ASSERT(r);
    struct side *p = &r->s[BLEND__SIP_PARTY];
    side_clear(p);
    r->party_mode = 0;
    return side_bind(r->set, &r->addr, p);
}

void blend__sip_relay_party_close(struct blend__sip_relay *r)
{
    BLEND_ASSERT(r);
    r->party_mode = 0;
    side_clear(&r->s[BLEND__SIP_PARTY]);
    mix_update(r);
}

void blend__sip_relay_party_mode(struct blend__sip_relay *r, int mode)
{
    BLEND_ASSERT(r && mode >= 0 && mode <= BLEND_SIP_PARTY_CONFERENCE);
    BLEND_ASSERT(mode == 0 || r->s[BLEND__SIP_PARTY].rtp);
    r->party_mode = mode;
    mix_update(r);
}

void blend__sip_relay_party_promote(struct blend__sip_relay *r)
{
    BLEND_ASSERT(r && r->s[BLEND__SIP_PARTY].rtp);
    r->party_mode = 0;
    mix_update(r);
    struct side *a = &r->s[BLEND__SIP_AGENT], *p = &r->s[BLEND__SIP_PARTY];
    side_clear(a);
    /* The party's sockets, peer and codec become the agent side's; libre's handlers now get
     * the agent side as their argument. */
    *a = *p;
    a->id = BLEND__SIP_AGENT;
    a->tone = NULL;
    a->slot_full = false;
    udp_handler_set(a->rtp, rtp_recv, a);
    udp_handler_set(a->rtcp, rtcp_recv, a);
    p->rtp = NULL;
    p->rtcp = NULL;
    side_clear(p);
    moh_update(r);
    dtmf_update(r);
}

void blend__sip_relay_rebridge(struct blend__sip_relay *r)
{
    BLEND_ASSERT(r && r->bridged);
    struct side *a = &r->s[BLEND__SIP_AGENT];
    struct sa old_rtp = a->rtp_peer, old_rtcp = a->rtcp_peer;
    r->bridged = false;
    blend__sip_relay_bridge(r, true);
    a->ignore_rtp = old_rtp;
    a->ignore_rtcp = old_rtcp;
}

void blend__sip_relay_record(struct blend__sip_relay *r, struct blend_media_recorder *rec,
                             bool customer_alone)
{
    BLEND_ASSERT(r);
    r->rec = rec;
    r->rec_customer_alone = rec && customer_alone;
    r->rec_err = 0;
}

void blend__sip_relay_on_dtmf(struct blend__sip_relay *r, blend__sip_dtmf_fn *fn, void *arg)
{
    BLEND_ASSERT(r);
    r->dtmf_fn = fn;
    r->dtmf_arg = arg;
}

int blend__sip_relay_record_error(const struct blend__sip_relay *r)
{
    BLEND_ASSERT(r);
    return r->rec_err;
}

uint64_t blend__sip_relay_moh_sent(const struct blend__sip_relay *r, enum blend__sip_side side)
{
    BLEND_ASSERT(r && (side == BLEND__SIP_CUSTOMER || side == BLEND__SIP_AGENT));
    return r->s[side].moh.sent;
}

void blend__sip_relay_counts(const struct blend__sip_relay *r, uint64_t *to_agent,
                             uint64_t *to_customer)
{
    BLEND_ASSERT(r && to_agent && to_customer);
    *to_agent = r->to[BLEND__SIP_AGENT];
    *to_customer = r->to[BLEND__SIP_CUSTOMER];
}
