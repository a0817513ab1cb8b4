/*
 * The mixer's pure rules: who hears whom when a call has a third party (docs/sip.md "A third
 * party"), and the sum of 20 ms frames of 16-bit linear audio. relay.c decodes each leg's G.711
 * into one frame per source, asks blend__sip_mix_hears which sources a listener may hear in the
 * current mode, sums them here, and encodes the result in the listener's codec. No sockets, no
 * clock: the unit test checks every mode and listener against the rules written out by hand.
 *
 * Invariants: a listener never hears itself; a side that holds is nobody's source; music on
 * hold reaches only the customer or the agent, never a listener that holds; sums saturate at
 * the int16 range instead of wrapping.
 */
#include "sip/sip_int.h"

#include "base/assert.h"

#include <string.h>

static uint32_t bit(int source)
{
    return 1u << (unsigned)source;
}

/* The mode's table, holds aside. */
static uint32_t mode_hears(int mode, enum blend__sip_side listener)
{
    bool three_way = mode == BLEND_SIP_PARTY_BARGE || mode == BLEND_SIP_PARTY_CONFERENCE;
    switch (listener) {
    case BLEND__SIP_CUSTOMER:
        if (mode == BLEND_SIP_PARTY_CONSULT) {
            return bit(BLEND__SIP_MIX_MOH);
        }
        return bit(BLEND__SIP_AGENT) | (three_way ? bit(BLEND__SIP_PARTY) : 0);
    case BLEND__SIP_AGENT:
        if (mode == BLEND_SIP_PARTY_CONSULT) {
            return bit(BLEND__SIP_PARTY);
        }
        return bit(BLEND__SIP_CUSTOMER) |
               (mode == BLEND_SIP_PARTY_LISTEN ? 0 : bit(BLEND__SIP_PARTY));
    case BLEND__SIP_PARTY:
        return bit(BLEND__SIP_AGENT) |
               (mode == BLEND_SIP_PARTY_CONSULT ? 0 : bit(BLEND__SIP_CUSTOMER));
    }
    BLEND_ASSERT(!"unknown listener");
    return 0;
}

uint32_t blend__sip_mix_hears(int mode, enum blend__sip_side listener, const bool held[3])
{
    BLEND_ASSERT(mode >= BLEND_SIP_PARTY_LISTEN && mode <= BLEND_SIP_PARTY_CONFERENCE);
    BLEND_ASSERT(held && listener <= BLEND__SIP_PARTY);
    uint32_t m = mode_hears(mode, listener);
    bool main_side = listener == BLEND__SIP_CUSTOMER || listener == BLEND__SIP_AGENT;
    for (int s = BLEND__SIP_CUSTOMER; s <= BLEND__SIP_AGENT; s++) {
        /* The other main side holds: music takes its place (as without a party). */
        if (main_side && (m & bit(s)) && held[s]) {
            m |= bit(BLEND__SIP_MIX_MOH);
        }
    }
    for (int s = BLEND__SIP_CUSTOMER; s <= BLEND__SIP_PARTY; s++) {
        if (held[s]) {
            m &= ~bit(s);
        }
    }
    if (held[listener]) {
        m &= ~bit(BLEND__SIP_MIX_MOH);
    }
    BLEND_ASSERT(!(m & bit(listener)));
    return m;
}

void blend__sip_mix(uint32_t mask, const int16_t *const frames[BLEND__SIP_MIX_SOURCES],
                    int16_t out[BLEND_MEDIA_FRAME_SAMPLES])
{
    BLEND_ASSERT(frames && out);
    int32_t acc[BLEND_MEDIA_FRAME_SAMPLES];
    memset(acc, 0, sizeof(acc));
    for (int s = 0; s < BLEND__SIP_MIX_SOURCES; s++) {
        if (!(mask & bit(s)) || !frames[s]) {
            continue;
        }
        for (size_t i = 0; i < BLEND_MEDIA_FRAME_SAMPLES; i++) {
            acc[i] += frames[s][i];
        }
    }
    /* Four int16 sources cannot overflow an int32: clamp once at the end. */
    for (size_t i = 0; i < BLEND_MEDIA_FRAME_SAMPLES; i++) {
        int32_t v = acc[i];
        out[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
    }
}
