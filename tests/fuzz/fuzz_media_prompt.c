/*
 * Fuzz target for the prompt loader: bytes are handed to libsndfile through the loader's virtual
 * I/O (blend_media_prompt_load_memory), so every container and codec sndfile recognises is
 * reachable from the input. Beyond not crashing, it checks the loader's promises: a failure is
 * one of the documented codes and writes nothing out; a success has at least one frame, no more
 * than the longest prompt, a duration that fits its frames, every frame readable in both laws and
 * none past the end; and nothing allocated through blend_malloc outlives the prompt.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "base/error.h"
#include "media/media.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct blend_media_prompt *const untouched = (struct blend_media_prompt *)&size;
    struct blend_media_prompt *p = untouched;
    int err = blend_media_prompt_load_memory(data, size, &p);
    if (err != 0) {
        BLEND_ASSERT(p == untouched);
        BLEND_ASSERT(err == BLEND_EPARSE || err == BLEND_EINVAL || err == BLEND_ELIMIT ||
                     err == BLEND_EIO || err == BLEND_ENOMEM);
        BLEND_ASSERT(blend_alloc_live() == 0);
        return 0;
    }
    size_t frames = blend_media_prompt_frames(p);
    uint64_t ms = blend_media_prompt_duration_ms(p);
    BLEND_ASSERT(frames >= 1);
    BLEND_ASSERT(frames * BLEND_MEDIA_FRAME_MS <= BLEND_MEDIA_PROMPT_MS_MAX + BLEND_MEDIA_FRAME_MS);
    BLEND_ASSERT(ms <= (uint64_t)frames * BLEND_MEDIA_FRAME_MS);
    BLEND_ASSERT(ms + BLEND_MEDIA_FRAME_MS >= (uint64_t)frames * BLEND_MEDIA_FRAME_MS);
    uint8_t f[BLEND_MEDIA_FRAME_BYTES];
    for (size_t i = 0; i < frames; i++) {
        BLEND_ASSERT(blend_media_prompt_frame(p, i, BLEND_MEDIA_PCMU, f) == 0);
        BLEND_ASSERT(blend_media_prompt_frame(p, i, BLEND_MEDIA_PCMA, f) == 0);
    }
    BLEND_ASSERT(blend_media_prompt_frame(p, frames, BLEND_MEDIA_PCMU, f) == BLEND_EINVAL);
    blend_media_prompt_free(p);
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
