/*
 * The recorder of one call: a stereo 8 kHz 16-bit PCM WAV (libsndfile), customer on the left,
 * agent on the right, both on one timeline whose zero is the recording's start; or, for
 * voicemail (blend_media_recorder_open_mono), a mono WAV of the customer side alone, where the
 * agent side's packets are ignored. Everything below holds for both: the ring and the file
 * have `channels` interleaved samples per frame, and a side's sample sits at index side.
 *
 * Placement. The first packet of a side is placed at its arrival time; later ones by their RTP
 * timestamp relative to that anchor, so arrival jitter neither cuts nor stretches the audio. A
 * packet whose timestamp disagrees with its arrival by more than BLEND_MEDIA_REC_RESYNC_MS (new
 * SSRC, sender clock restart) re-anchors the side at its arrival. Each side has a high-water mark
 * (the end of its placed audio): a packet entirely behind it is a duplicate or came late and is
 * dropped; one partly behind it keeps only its new part. A jump forward leaves silence.
 *
 * Buffering. Audio lives in a ring of BLEND_MEDIA_REC_JITTER_MS + BLEND_MEDIA_REC_BLOCK_MS of
 * stereo frames covering [flushed, flushed + window). Slots start as silence, so a side that sends
 * nothing is silent. When a packet needs room, the oldest part is written to the file in one
 * sf_writef_short per contiguous run (at least a block), i.e. about one write per second of call,
 * never one per packet; packets up to the jitter allowance late still find their place.
 *
 * Pause (card capture). Packets arriving while paused are dropped, and every sample of a paused
 * span [start, end) is zeroed when its block is written, whatever reached the ring, so the file is
 * silent exactly over the reported spans and the timeline keeps its length. A pause cannot start
 * before audio already written: its start is moved to the first ms not yet on disk.
 *
 * Failure. The header is rewritten after every write (SFC_SET_UPDATE_HEADER_AUTO), so the file is
 * a valid WAV of what was written after a write error and even after a crash; a write error is
 * sticky (every later push returns it) and close still finalises the file.
 */
#include "media/media.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define SAMPLES_PER_MS (BLEND_MEDIA_RATE_HZ / 1000)
#define WINDOW_SAMPLES ((BLEND_MEDIA_REC_JITTER_MS + BLEND_MEDIA_REC_BLOCK_MS) * SAMPLES_PER_MS)
#define BLOCK_SAMPLES (BLEND_MEDIA_REC_BLOCK_MS * SAMPLES_PER_MS)
#define RESYNC_SAMPLES ((int64_t)BLEND_MEDIA_REC_RESYNC_MS * SAMPLES_PER_MS)
#define REC_SAMPLES_MAX ((int64_t)BLEND_MEDIA_REC_MS_MAX * SAMPLES_PER_MS)
/* An open pause masks everything after its start. */
#define SPAN_OPEN UINT64_MAX

_Static_assert(BLEND_MEDIA_PAYLOAD_BYTES_MAX < WINDOW_SAMPLES - BLOCK_SAMPLES,
               "a packet must fit in the ring after a block is written");

struct side {
    bool anchored;
    uint32_t anchor_ts;
    int64_t anchor_pos; /* samples from the start */
    int64_t hwm;        /* end of the audio placed on this side */
};

struct blend_media_recorder {
    SNDFILE *sf;
    int fd;
    int channels; /* 2: customer left, agent right; 1: the customer alone (voicemail) */
    uint64_t start_ms;
    int64_t flushed; /* samples already handed to the file */
    int16_t *ring;   /* WINDOW_SAMPLES frames of `channels` interleaved samples */
    struct side side[2];
    bool paused, closed;
    struct blend_media_rec_summary sum;
};

static int errno_to_blend(int e)
{
    switch (e) {
    case EEXIST:
        return BLEND_EEXIST;
    case ENOENT:
    case ENOTDIR:
        return BLEND_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return BLEND_EPERM;
    default:
        return BLEND_EIO;
    }
}

static int recorder_open(const char *path, uint64_t start_ms, int channels,
                         struct blend_media_recorder **out)
{
    BLEND_ASSERT(path != NULL && out != NULL && (channels == 1 || channels == 2));
    struct blend_media_recorder *r = blend_calloc(1, sizeof *r);
    int16_t *ring = blend_calloc((size_t)WINDOW_SAMPLES * (size_t)channels, sizeof *ring);
    if (r == NULL || ring == NULL) {
        blend_free(r);
        blend_free(ring);
        return BLEND_ENOMEM;
    }
    /* Recordings may hold personal data: never overwrite, readable by the owner only. */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno_to_blend(errno);
        blend_free(r);
        blend_free(ring);
        return err;
    }
    SF_INFO info = {.samplerate = BLEND_MEDIA_RATE_HZ,
                    .channels = channels,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
    if (sf == NULL) {
        close(fd);
        unlink(path);
        blend_free(r);
        blend_free(ring);
        return BLEND_EIO;
    }
    sf_command(sf, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
    r->sf = sf;
    r->fd = fd;
    r->ring = ring;
    r->channels = channels;
    r->start_ms = start_ms;
    *out = r;
    return 0;
}

int blend_media_recorder_open(const char *path, uint64_t start_ms,
                              struct blend_media_recorder **out)
{
    return recorder_open(path, start_ms, 2, out);
}

int blend_media_recorder_open_mono(const char *path, uint64_t start_ms,
                                   struct blend_media_recorder **out)
{
    return recorder_open(path, start_ms, 1, out);
}

/* Zeroes the frames of [pos, pos + n) that fall in a paused span (frames at p, interleaved). */
static void mask_paused(const struct blend_media_recorder *r, int64_t pos, int64_t n, int16_t *p)
{
    for (size_t i = 0; i < r->sum.pauses_count; i++) {
        const struct blend_media_span *s = &r->sum.pauses[i];
        int64_t a = (int64_t)s->start_ms * SAMPLES_PER_MS;
        int64_t b = s->end_ms == SPAN_OPEN ? INT64_MAX : (int64_t)s->end_ms * SAMPLES_PER_MS;
        int64_t lo = a > pos ? a : pos;
        int64_t hi = b < pos + n ? b : pos + n;
        if (lo < hi) {
            memset(p + (lo - pos) * r->channels, 0,
                   (size_t)(hi - lo) * (size_t)r->channels * sizeof *p);
        }
    }
}

/* Writes the ring up to sample `upto` (silence where nothing was placed), run by run. */
static void flush_to(struct blend_media_recorder *r, int64_t upto)
{
    while (r->flushed < upto && r->sum.error == 0) {
        int64_t idx = r->flushed % WINDOW_SAMPLES;
        int64_t n = upto - r->flushed;
        if (n > WINDOW_SAMPLES - idx) {
            n = WINDOW_SAMPLES - idx;
        }
        int16_t *p = r->ring + idx * r->channels;
        mask_paused(r, r->flushed, n, p);
        sf_count_t w = sf_writef_short(r->sf, p, n);
        memset(p, 0, (size_t)n * (size_t)r->channels * sizeof *p);
        if (w > 0) {
            r->sum.frames += (uint64_t)w;
        }
        r->flushed += n;
        if (w != n) {
            r->sum.error = BLEND_EIO;
        }
    }
}

/* Where a packet goes on its side's channel (samples from the start); false to drop it. */
static bool place(struct blend_media_recorder *r, const struct blend_media_packet *pk,
                  int64_t arrival_pos, int64_t *pos_out)
{
    struct side *s = &r->side[pk->side];
    int64_t n = (int64_t)pk->payload_bytes;
    int64_t pos = arrival_pos;
    if (s->anchored) {
        pos = s->anchor_pos + (int32_t)(pk->rtp_ts - s->anchor_ts);
        if (pos + n <= s->hwm && s->hwm - pos <= RESYNC_SAMPLES) {
            r->sum.dropped_late[pk->side]++; /* a duplicate, or overtaken by newer packets */
            return false;
        }
        int64_t off = pos - arrival_pos;
        if (pos < 0 || off > RESYNC_SAMPLES || off < -RESYNC_SAMPLES) {
            r->sum.resyncs[pk->side]++;
            s->anchored = false;
            pos = arrival_pos;
        }
    }
    if (!s->anchored) {
        s->anchored = true;
        s->anchor_ts = pk->rtp_ts;
        s->anchor_pos = arrival_pos;
    }
    int64_t floor = s->hwm > r->flushed ? s->hwm : r->flushed;
    if (pos + n <= floor) {
        r->sum.dropped_late[pk->side]++;
        return false;
    }
    *pos_out = pos;
    return true;
}

int blend_media_recorder_push(struct blend_media_recorder *r, const struct blend_media_packet *pk)
{
    BLEND_ASSERT(r != NULL && pk != NULL);
    BLEND_ASSERT(pk->side == BLEND_MEDIA_CUSTOMER || pk->side == BLEND_MEDIA_AGENT);
    BLEND_ASSERT(pk->payload != NULL || pk->payload_bytes == 0);
    if (r->closed) {
        return BLEND_ECLOSED;
    }
    if (r->sum.error != 0) {
        return r->sum.error;
    }
    if (pk->payload_bytes > BLEND_MEDIA_PAYLOAD_BYTES_MAX) {
        return BLEND_ELIMIT;
    }
    if (pk->arrival_ms < r->start_ms) {
        return BLEND_EINVAL;
    }
    if (pk->arrival_ms - r->start_ms > (uint64_t)BLEND_MEDIA_REC_MS_MAX) {
        return BLEND_ELIMIT;
    }
    if (r->paused) {
        r->sum.dropped_paused[pk->side]++;
        return 0;
    }
    if (pk->payload_bytes == 0 || (int)pk->side >= r->channels) {
        return 0; /* nothing, or the agent side of a mono (customer-only) recording */
    }
    int64_t pos;
    if (!place(r, pk, (int64_t)(pk->arrival_ms - r->start_ms) * SAMPLES_PER_MS, &pos)) {
        return 0;
    }
    int64_t n = (int64_t)pk->payload_bytes;
    if (pos + n > REC_SAMPLES_MAX) {
        return BLEND_ELIMIT;
    }
    if (pos + n > r->flushed + WINDOW_SAMPLES) {
        int64_t need = pos + n - WINDOW_SAMPLES;
        flush_to(r, need > r->flushed + BLOCK_SAMPLES ? need : r->flushed + BLOCK_SAMPLES);
        if (r->sum.error != 0) {
            return r->sum.error;
        }
    }
    struct side *s = &r->side[pk->side];
    int64_t floor = s->hwm > r->flushed ? s->hwm : r->flushed;
    int64_t skip = floor > pos ? floor - pos : 0;
    BLEND_ASSERT(skip < n && pos + n <= r->flushed + WINDOW_SAMPLES);
    int16_t pcm[BLEND_MEDIA_PAYLOAD_BYTES_MAX];
    blend_media_decode(pk->codec, pk->payload + skip, (size_t)(n - skip), pcm);
    for (int64_t i = 0; i < n - skip; i++) {
        int64_t idx = (pos + skip + i) % WINDOW_SAMPLES;
        r->ring[idx * r->channels + (int64_t)pk->side] = pcm[i];
    }
    s->hwm = pos + n;
    r->sum.packets[pk->side]++;
    return 0;
}

int blend_media_recorder_pause(struct blend_media_recorder *r, uint64_t now_ms)
{
    BLEND_ASSERT(r != NULL);
    if (r->closed || r->paused) {
        return BLEND_ESTATE;
    }
    if (r->sum.pauses_count == BLEND_MEDIA_REC_PAUSES_MAX) {
        return BLEND_ELIMIT;
    }
    if (now_ms < r->start_ms) {
        return BLEND_EINVAL;
    }
    uint64_t at = now_ms - r->start_ms;
    if (r->sum.pauses_count > 0 && at < r->sum.pauses[r->sum.pauses_count - 1].end_ms) {
        return BLEND_EINVAL;
    }
    /* Audio already on disk cannot be silenced: start at the first whole ms not written. */
    uint64_t written_ms = ((uint64_t)r->flushed + SAMPLES_PER_MS - 1) / SAMPLES_PER_MS;
    if (at < written_ms) {
        at = written_ms;
    }
    r->sum.pauses[r->sum.pauses_count++] = (struct blend_media_span){at, SPAN_OPEN};
    r->paused = true;
    return 0;
}

static void end_pause(struct blend_media_recorder *r, uint64_t at)
{
    struct blend_media_span *s = &r->sum.pauses[r->sum.pauses_count - 1];
    BLEND_ASSERT(r->paused && s->end_ms == SPAN_OPEN);
    s->end_ms = at > s->start_ms ? at : s->start_ms;
    r->paused = false;
}

int blend_media_recorder_resume(struct blend_media_recorder *r, uint64_t now_ms)
{
    BLEND_ASSERT(r != NULL);
    if (r->closed || !r->paused) {
        return BLEND_ESTATE;
    }
    if (now_ms < r->start_ms) {
        return BLEND_EINVAL;
    }
    end_pause(r, now_ms - r->start_ms);
    return 0;
}

int blend_media_recorder_close(struct blend_media_recorder *r, uint64_t now_ms)
{
    BLEND_ASSERT(r != NULL);
    if (r->closed) {
        return BLEND_ESTATE;
    }
    int64_t end = now_ms > r->start_ms ? (int64_t)(now_ms - r->start_ms) * SAMPLES_PER_MS : 0;
    if (now_ms > r->start_ms && now_ms - r->start_ms > (uint64_t)BLEND_MEDIA_REC_MS_MAX) {
        end = REC_SAMPLES_MAX;
    }
    for (int k = 0; k < 2; k++) {
        end = r->side[k].hwm > end ? r->side[k].hwm : end;
    }
    if (r->paused) {
        end_pause(r, (uint64_t)(end + SAMPLES_PER_MS - 1) / SAMPLES_PER_MS);
    }
    flush_to(r, end);
    if (sf_close(r->sf) != 0 && r->sum.error == 0) {
        r->sum.error = BLEND_EIO;
    }
    if (close(r->fd) != 0 && r->sum.error == 0) {
        r->sum.error = BLEND_EIO;
    }
    r->sf = NULL;
    r->fd = -1;
    r->closed = true;
    blend_free(r->ring);
    r->ring = NULL;
    return r->sum.error;
}

void blend_media_recorder_summary(const struct blend_media_recorder *r,
                                  struct blend_media_rec_summary *out)
{
    BLEND_ASSERT(r != NULL && out != NULL);
    *out = r->sum;
    out->duration_ms = r->sum.frames / SAMPLES_PER_MS;
}

void blend_media_recorder_destroy(struct blend_media_recorder *r)
{
    if (r == NULL) {
        return;
    }
    if (!r->closed) {
        /* The caller gave no end time: the file ends with the audio placed so far (an error
         * closing it was counted by the recorder already). */
        int rc = blend_media_recorder_close(r, r->start_ms);
        (void)rc;
    }
    blend_free(r);
}
