/*
 * G.711 helpers: buffer conversions between 16-bit linear PCM and µ-law / A-law, and the silence
 * byte of each law. The per-sample work is spandsp's inline conversions (g711.h); this file only
 * loops and picks the law, so the library has one place where a codec value is interpreted.
 *
 * Invariant: a codec value is one of enum blend_media_codec (anything else is a programmer error).
 */
#include "media/media.h"

#include "base/assert.h"

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include <string.h>

uint8_t blend_media_silence_byte(enum blend_media_codec codec)
{
    BLEND_ASSERT(codec == BLEND_MEDIA_PCMU || codec == BLEND_MEDIA_PCMA);
    return codec == BLEND_MEDIA_PCMU ? linear_to_ulaw(0) : linear_to_alaw(0);
}

void blend_media_silence_frame(enum blend_media_codec codec, uint8_t out[BLEND_MEDIA_FRAME_BYTES])
{
    BLEND_ASSERT(out != NULL);
    memset(out, blend_media_silence_byte(codec), BLEND_MEDIA_FRAME_BYTES);
}

void blend_media_encode(enum blend_media_codec codec, const int16_t *pcm, size_t count,
                        uint8_t *out)
{
    BLEND_ASSERT(codec == BLEND_MEDIA_PCMU || codec == BLEND_MEDIA_PCMA);
    BLEND_ASSERT(count == 0 || (pcm != NULL && out != NULL));
    if (codec == BLEND_MEDIA_PCMU) {
        for (size_t i = 0; i < count; i++) {
            out[i] = linear_to_ulaw(pcm[i]);
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            out[i] = linear_to_alaw(pcm[i]);
        }
    }
}

void blend_media_decode(enum blend_media_codec codec, const uint8_t *g711, size_t count,
                        int16_t *out)
{
    BLEND_ASSERT(codec == BLEND_MEDIA_PCMU || codec == BLEND_MEDIA_PCMA);
    BLEND_ASSERT(count == 0 || (g711 != NULL && out != NULL));
    if (codec == BLEND_MEDIA_PCMU) {
        for (size_t i = 0; i < count; i++) {
            out[i] = ulaw_to_linear(g711[i]);
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            out[i] = alaw_to_linear(g711[i]);
        }
    }
}
