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
 * (counted as held); that is where the media layer's music on hold will be fed to the other side.
 *
 * Invariants: only the telephony thread touches a relay; nothing is relayed unless bridged;
 * datagrams larger than BLEND_SIP_RTP_PACKET_BYTES_MAX are dropped and counted.
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include <string.h>

enum { RTP_HEADER_BYTES = 12 };

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
};

struct blend__sip_relay {
    struct side s[2];
    bool bridged;
    uint64_t to[2]; /* RTP packets sent to each side */
    struct blend__sip_counters *counters;
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

/* Rewrites an RTP packet from side `from` for side `to` in place. Returns false to drop it. */
static bool rtp_adapt(const struct side *from, const struct side *to, struct mbuf *mb)
{
    struct rtp_header hdr;
    size_t start = mb->pos;
    if (rtp_hdr_decode(&hdr, mb) != 0 || hdr.ver != 2) {
        return false;
    }
    size_t payload = mb->pos;
    mb->pos = start;
    int pt = hdr.pt;
    uint8_t *b1 = &mb->buf[start + 1];
    if (pt == from->codec_pt && to->codec_pt >= 0 && to->codec_pt != pt) {
        size_t end = mb->end;
        if (hdr.pad && end > payload) {
            size_t padn = mb->buf[end - 1];
            end = padn <= end - payload ? end - padn : payload;
        }
        bool to_alaw = to->codec_pt == BLEND__SIP_PT_PCMA;
        for (size_t i = payload; i < end; i++) {
            mb->buf[i] = to_alaw ? linear_to_alaw(ulaw_to_linear(mb->buf[i]))
                                 : linear_to_ulaw(alaw_to_linear(mb->buf[i]));
        }
        *b1 = (uint8_t)((*b1 & 0x80u) | (uint8_t)to->codec_pt);
    } else if (pt == from->dtmf_pt && to->dtmf_pt >= 0 && to->dtmf_pt != pt) {
        *b1 = (uint8_t)((*b1 & 0x80u) | (uint8_t)to->dtmf_pt);
    }
    return true;
}

static void forward(struct side *from, bool rtcp, struct mbuf *mb)
{
    struct blend__sip_relay *r = from->r;
    struct side *to = &r->s[1 - from->id];
    if (!r->bridged) {
        drop(r);
        return;
    }
    if (from->held) {
        /* Hold: the holding side's media stops here. MOH hook: the media layer will send its
         * music-on-hold frames to `to` (to->rtp_peer, in to->codec_pt) from a timer while
         * from->held; nothing of the holding side reaches the held party meanwhile. */
        atomic_fetch_add(&r->counters->rtp_held, 1);
        return;
    }
    struct udp_sock *us = rtcp && !to->mux ? to->rtcp : to->rtp;
    const struct sa *dst = rtcp && !to->mux ? &to->rtcp_peer : &to->rtp_peer;
    if (!sa_isset(dst, SA_ALL) || (!rtcp && !rtp_adapt(from, to, mb))) {
        drop(r);
        return;
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
    return s->id == BLEND__SIP_CUSTOMER || s->r->bridged;
}

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
    if (may_latch(s)) {
        if (!rtcp && !s->rtp_latched) {
            s->rtp_peer = *src;
            s->rtp_latched = true;
        } else if (rtcp && !s->rtcp_latched) {
            s->rtcp_peer = *src;
            s->rtcp_latched = true;
        }
    }
    forward(s, rtcp, mb);
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
    forward(s, true, mb);
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
                            struct blend__sip_counters *counters, struct blend__sip_relay **out)
{
    BLEND_ASSERT(set && addr && counters && out);
    struct blend__sip_relay *r = blend_calloc(1, sizeof(*r));
    if (!r) {
        return BLEND_ENOMEM;
    }
    r->counters = counters;
    int err = 0;
    for (int i = 0; i < 2 && !err; i++) {
        struct side *s = &r->s[i];
        s->r = r;
        s->id = (enum blend__sip_side)i;
        s->codec_pt = -1;
        s->dtmf_pt = -1;
        err = side_bind(set, addr, s);
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
    for (int i = 0; i < 2; i++) {
        mem_deref(r->s[i].rtp);
        mem_deref(r->s[i].rtcp);
    }
    blend_free(r);
}

const struct sa *blend__sip_relay_laddr(const struct blend__sip_relay *r, enum blend__sip_side side)
{
    BLEND_ASSERT(r && (side == BLEND__SIP_CUSTOMER || side == BLEND__SIP_AGENT));
    return &r->s[side].laddr;
}

void blend__sip_relay_peer(struct blend__sip_relay *r, enum blend__sip_side side, int codec_pt,
                           int dtmf_pt, bool rtcp_mux, const struct sa *raddr)
{
    BLEND_ASSERT(r && raddr && (side == BLEND__SIP_CUSTOMER || side == BLEND__SIP_AGENT));
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
}

void blend__sip_relay_hold(struct blend__sip_relay *r, enum blend__sip_side side, bool held)
{
    BLEND_ASSERT(r && (side == BLEND__SIP_CUSTOMER || side == BLEND__SIP_AGENT));
    r->s[side].held = held;
}

void blend__sip_relay_bridge(struct blend__sip_relay *r, bool bridged)
{
    BLEND_ASSERT(r);
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
    }
    r->bridged = bridged;
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

void blend__sip_relay_counts(const struct blend__sip_relay *r, uint64_t *to_agent,
                             uint64_t *to_customer)
{
    BLEND_ASSERT(r && to_agent && to_customer);
    *to_agent = r->to[BLEND__SIP_AGENT];
    *to_customer = r->to[BLEND__SIP_CUSTOMER];
}
