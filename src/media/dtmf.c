/*
 * In-band DTMF detection on a G.711 stream: payloads are decoded to linear PCM (spandsp's G.711)
 * and fed to spandsp's dtmf_rx, which keeps its Goertzel state across calls, so a digit whose
 * tone spans several packets is reported once, when it is confirmed. RFC 4733 telephone-events
 * are not handled here: the SIP layer decodes them (libre telev).
 *
 * The detector's state lives in our own allocation: spandsp's structure is exposed
 * (SPANDSP_EXPOSE_INTERNAL_STRUCTURES) so dtmf_rx_init() initialises caller storage instead of
 * calling malloc, and blend_alloc_live() counts it like everything else.
 *
 * Invariants: digits are drained from spandsp's buffer after every block of at most one frame,
 * so its 128-digit buffer never overflows; one feed reports at most BLEND_MEDIA_DTMF_DIGITS_MAX.
 */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <spandsp.h>

#include "media/media.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <string.h>

struct blend_media_dtmf {
    enum blend_media_codec codec;
    dtmf_rx_state_t rx;
};

int blend_media_dtmf_create(enum blend_media_codec codec, struct blend_media_dtmf **out)
{
    BLEND_ASSERT(codec == BLEND_MEDIA_PCMU || codec == BLEND_MEDIA_PCMA);
    BLEND_ASSERT(out != NULL);
    struct blend_media_dtmf *d = blend_calloc(1, sizeof *d);
    if (d == NULL) {
        return BLEND_ENOMEM;
    }
    d->codec = codec;
    if (dtmf_rx_init(&d->rx, NULL, NULL) != &d->rx) {
        blend_free(d);
        return BLEND_EINTERNAL;
    }
    *out = d;
    return 0;
}

int blend_media_dtmf_feed(struct blend_media_dtmf *dtmf, const uint8_t *g711, size_t len,
                          struct blend_media_digits *out)
{
    BLEND_ASSERT(dtmf != NULL && out != NULL && (g711 != NULL || len == 0));
    if (len > BLEND_MEDIA_PAYLOAD_BYTES_MAX) {
        return BLEND_ELIMIT;
    }
    struct blend_media_digits got = {.count = 0};
    int16_t pcm[BLEND_MEDIA_FRAME_SAMPLES];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < BLEND_MEDIA_FRAME_SAMPLES ? len - done : BLEND_MEDIA_FRAME_SAMPLES;
        blend_media_decode(dtmf->codec, g711 + done, n, pcm);
        dtmf_rx(&dtmf->rx, pcm, (int)n);
        done += n;
        size_t room = BLEND_MEDIA_DTMF_DIGITS_MAX - got.count;
        if (room > 0) {
            /* dtmf_rx_get writes a NUL after the digits it returns: room + 1 bytes are free. */
            got.count += dtmf_rx_get(&dtmf->rx, got.digits + got.count, (int)room);
        }
    }
    BLEND_ASSERT(got.count <= BLEND_MEDIA_DTMF_DIGITS_MAX);
    got.digits[got.count] = '\0';
    *out = got;
    return 0;
}

void blend_media_dtmf_destroy(struct blend_media_dtmf *dtmf)
{
    if (dtmf == NULL) {
        return;
    }
    dtmf_rx_release(&dtmf->rx);
    blend_free(dtmf);
}
