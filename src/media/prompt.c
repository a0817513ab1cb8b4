/*
 * Prompts and music on hold. A sound file is converted once, at load: libsndfile decodes it (any
 * container, rate, channel count and sample format it knows) to normalised float, the channels
 * are averaged to mono, speexdsp resamples to 8 kHz, the result is rounded to 16-bit and encoded
 * to both G.711 laws in 20 ms frames. Playing a prompt is then a copy of 160 ready bytes, so a
 * thousand callers on hold cost no DSP at all.
 *
 * A prompt is reference counted (C11 atomics) so the host's cache and the telephony thread
 * playing it can share it without copying: blend_media_prompt_ref adds one, blend_media_prompt_free
 * drops one and the last frees it. The count is the only mutable field.
 *
 * Invariants: a loaded prompt is immutable apart from its count (safe to share between threads),
 * its count is at least 1 while anyone holds it, it has at least one
 * frame and at most BLEND_MEDIA_PROMPT_MS_MAX of audio; its last frame is padded with silence.
 * The output length is exactly round(input frames * 8000 / input rate): the resampler's delay is
 * skipped at the start and flushed with zeros at the end. Input is never trusted: rates, channel
 * counts and lengths are checked before and while decoding, non-finite samples become silence and
 * out-of-range ones are clipped.
 */
#include "media/media.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Input frames decoded per sndfile read. */
enum { IN_BLOCK_FRAMES = 4096 };
/* Most output samples: the longest prompt at 8 kHz. */
#define OUT_SAMPLES_MAX ((int64_t)BLEND_MEDIA_PROMPT_MS_MAX * BLEND_MEDIA_RATE_HZ / 1000)

struct blend_media_prompt {
    atomic_size_t refs; /* holders; the last blend_media_prompt_free frees */
    size_t frames;
    uint64_t samples; /* audio samples at 8 kHz, before padding */
    uint8_t *law[2];  /* indexed by enum blend_media_codec; frames * 160 bytes each */
};

/* The 8 kHz float samples produced so far, growing up to OUT_SAMPLES_MAX (+ one chunk). */
struct pcm {
    float *s;
    size_t len, cap;
};

/* Everything one conversion needs; freed in one place. */
struct convert {
    SNDFILE *sf;
    SF_INFO info;
    SpeexResamplerState *rs;
    float *in;   /* IN_BLOCK_FRAMES * channels */
    float *mono; /* IN_BLOCK_FRAMES */
    int64_t in_total;
    struct pcm out;
};

static int pcm_reserve(struct pcm *p, size_t extra)
{
    if (p->len + extra <= p->cap) {
        return 0;
    }
    size_t cap = p->cap ? p->cap : 8192;
    while (cap < p->len + extra) {
        cap *= 2;
    }
    float *s = blend_realloc(p->s, cap * sizeof *s);
    if (s == NULL) {
        return BLEND_ENOMEM;
    }
    p->s = s;
    p->cap = cap;
    return 0;
}

/* Runs `n` mono samples through the resampler (or copies them at 8 kHz) onto the output. */
static int resample(struct convert *c, const float *mono, size_t n)
{
    if (c->rs == NULL) {
        int err = pcm_reserve(&c->out, n);
        if (err == 0) {
            memcpy(c->out.s + c->out.len, mono, n * sizeof *mono);
            c->out.len += n;
        }
        return err;
    }
    while (n > 0) {
        /* Downsampling never makes more than n + 1 outputs; upsampling at most 8x (1 kHz in). */
        size_t room = n * 8 + 64;
        int err = pcm_reserve(&c->out, room);
        if (err != 0) {
            return err;
        }
        spx_uint32_t in_len = (spx_uint32_t)n;
        spx_uint32_t out_len = (spx_uint32_t)room;
        if (speex_resampler_process_float(c->rs, 0, mono, &in_len, c->out.s + c->out.len,
                                          &out_len) != RESAMPLER_ERR_SUCCESS) {
            return BLEND_EINTERNAL;
        }
        BLEND_ASSERT(in_len <= n && out_len <= room);
        c->out.len += out_len;
        mono += in_len;
        n -= in_len;
        if (in_len == 0 && out_len == 0) {
            return BLEND_EINTERNAL; /* no progress: cannot happen with room > 0 */
        }
    }
    return 0;
}

static int64_t target_samples(const struct convert *c)
{
    int64_t rate = c->info.samplerate;
    return (c->in_total * BLEND_MEDIA_RATE_HZ + rate / 2) / rate;
}

/* Decodes the whole file, down-mixing and resampling block by block. */
static int decode_all(struct convert *c)
{
    int ch = c->info.channels;
    for (;;) {
        sf_count_t got = sf_readf_float(c->sf, c->in, IN_BLOCK_FRAMES);
        if (got <= 0) {
            break;
        }
        for (sf_count_t i = 0; i < got; i++) {
            float sum = 0.0f;
            for (int k = 0; k < ch; k++) {
                float v = c->in[i * ch + k];
                sum += isfinite(v) ? fmaxf(-2.0f, fminf(2.0f, v)) : 0.0f;
            }
            c->mono[i] = sum / (float)ch;
        }
        c->in_total += got;
        int err = resample(c, c->mono, (size_t)got);
        if (err != 0) {
            return err;
        }
        if (target_samples(c) > OUT_SAMPLES_MAX) {
            return BLEND_ELIMIT;
        }
    }
    if (sf_error(c->sf) != SF_ERR_NO_ERROR) {
        return BLEND_EPARSE;
    }
    if (c->rs != NULL) {
        /* Push the filter's delay out with zeros so the tail of the audio is not lost. */
        memset(c->mono, 0, IN_BLOCK_FRAMES * sizeof *c->mono);
        int64_t flush = speex_resampler_get_input_latency(c->rs);
        while (flush > 0) {
            size_t n = flush > IN_BLOCK_FRAMES ? IN_BLOCK_FRAMES : (size_t)flush;
            int err = resample(c, c->mono, n);
            if (err != 0) {
                return err;
            }
            flush -= (int64_t)n;
        }
    }
    return 0;
}

static int16_t to_s16(float v)
{
    if (!isfinite(v)) {
        return 0;
    }
    float s = v * 32767.0f;
    if (s >= 32767.0f) {
        return 32767;
    }
    if (s <= -32768.0f) {
        return -32768;
    }
    return (int16_t)lrintf(s);
}

/* Builds the prompt from the converted samples: exactly `samples` long, padded to whole frames. */
static int build(const struct convert *c, size_t samples, struct blend_media_prompt **out)
{
    size_t frames = (samples + BLEND_MEDIA_FRAME_SAMPLES - 1) / BLEND_MEDIA_FRAME_SAMPLES;
    size_t bytes = frames * BLEND_MEDIA_FRAME_BYTES;
    struct blend_media_prompt *p = blend_malloc(sizeof *p + 2 * bytes);
    int16_t *pcm = blend_calloc(bytes, sizeof *pcm);
    if (p == NULL || pcm == NULL) {
        blend_free(p);
        blend_free(pcm);
        return BLEND_ENOMEM;
    }
    for (size_t i = 0; i < samples; i++) {
        pcm[i] = to_s16(i < c->out.len ? c->out.s[i] : 0.0f);
    }
    atomic_init(&p->refs, 1);
    p->frames = frames;
    p->samples = samples;
    p->law[BLEND_MEDIA_PCMU] = (uint8_t *)(p + 1);
    p->law[BLEND_MEDIA_PCMA] = p->law[BLEND_MEDIA_PCMU] + bytes;
    blend_media_encode(BLEND_MEDIA_PCMU, pcm, bytes, p->law[BLEND_MEDIA_PCMU]);
    blend_media_encode(BLEND_MEDIA_PCMA, pcm, bytes, p->law[BLEND_MEDIA_PCMA]);
    blend_free(pcm);
    *out = p;
    return 0;
}

/* Converts an opened file (c->sf, c->info) into a prompt. */
static int convert_run(struct convert *c, struct blend_media_prompt **out)
{
    const SF_INFO *in = &c->info;
    if (in->channels < 1 || in->channels > BLEND_MEDIA_PROMPT_CHANNELS_MAX ||
        in->samplerate < BLEND_MEDIA_PROMPT_RATE_HZ_MIN ||
        in->samplerate > BLEND_MEDIA_PROMPT_RATE_HZ_MAX) {
        return BLEND_EPARSE;
    }
    /* Refuse what the header already says is too long, before decoding a byte of it. */
    if (in->frames > 0 && in->frames / in->samplerate > BLEND_MEDIA_PROMPT_MS_MAX / 1000 + 1) {
        return BLEND_ELIMIT;
    }
    c->in = blend_malloc((size_t)IN_BLOCK_FRAMES * (size_t)in->channels * sizeof *c->in);
    c->mono = blend_malloc(IN_BLOCK_FRAMES * sizeof *c->mono);
    if (c->in == NULL || c->mono == NULL) {
        return BLEND_ENOMEM;
    }
    if (in->samplerate != BLEND_MEDIA_RATE_HZ) {
        int rerr = 0;
        c->rs = speex_resampler_init(1, (spx_uint32_t)in->samplerate, BLEND_MEDIA_RATE_HZ,
                                     BLEND_MEDIA_RESAMPLE_QUALITY, &rerr);
        if (c->rs == NULL) {
            return rerr == RESAMPLER_ERR_ALLOC_FAILED ? BLEND_ENOMEM : BLEND_EPARSE;
        }
        speex_resampler_skip_zeros(c->rs);
    }
    int err = decode_all(c);
    if (err != 0) {
        return err;
    }
    int64_t samples = target_samples(c);
    if (samples == 0) {
        return BLEND_EINVAL;
    }
    if (samples > OUT_SAMPLES_MAX) {
        return BLEND_ELIMIT;
    }
    return build(c, (size_t)samples, out);
}

static void convert_free(struct convert *c)
{
    if (c->rs != NULL) {
        speex_resampler_destroy(c->rs);
    }
    if (c->sf != NULL) {
        sf_close(c->sf);
    }
    blend_free(c->in);
    blend_free(c->mono);
    blend_free(c->out.s);
}

/* Maps a failed sf_open* to our codes: only a system error is I/O, the rest is the content. */
static int open_error(void)
{
    return sf_error(NULL) == SF_ERR_SYSTEM ? BLEND_EIO : BLEND_EPARSE;
}

static int errno_to_blend(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return BLEND_ENOENT;
    case EACCES:
    case EPERM:
        return BLEND_EPERM;
    case ENOMEM:
        return BLEND_ENOMEM;
    default:
        return BLEND_EIO;
    }
}

/* libsndfile keeps the error of a failed open in a process-wide variable (sf_error(NULL)): a
 * failing load on one thread turned good loads on another into errors. Loads are rare (music on
 * hold at start, prompts once each), so they take turns. */
static pthread_mutex_t sf_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_fd(int fd, const char *path, struct blend_media_prompt **out);

int blend_media_prompt_load(const char *path, struct blend_media_prompt **out)
{
    BLEND_ASSERT(path != NULL && out != NULL);
    /* O_NONBLOCK: opening a FIFO must not hang the caller; it is then refused as not regular. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return errno_to_blend(errno);
    }
    int err = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = BLEND_EIO;
        goto done;
    }
    err = load_fd(fd, path, out);
done:
    close(fd);
    return err;
}

static int load_fd(int fd, const char *path, struct blend_media_prompt **out)
{
    struct convert c = {0};
    pthread_mutex_lock(&sf_lock);
    int err;
    c.sf = sf_open_fd(fd, SFM_READ, &c.info, SF_FALSE);
    if (c.sf == NULL) {
        err = open_error();
        BLEND_LOG_WARN("media", "prompt %s: %s", path, sf_strerror(NULL));
    } else {
        err = convert_run(&c, out);
    }
    convert_free(&c);
    pthread_mutex_unlock(&sf_lock);
    return err;
}

/* --- Reading from memory through sndfile's virtual I/O --------------------------------------- */
struct mem {
    const uint8_t *data;
    sf_count_t len, pos;
};

static sf_count_t mem_len(void *user)
{
    return ((struct mem *)user)->len;
}

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user)
{
    struct mem *m = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
    if ((offset > 0 && base > m->len - offset) || base + offset < 0) {
        return -1;
    }
    m->pos = base + offset;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user)
{
    struct mem *m = user;
    sf_count_t n = count < m->len - m->pos ? count : m->len - m->pos;
    if (n <= 0) {
        return 0;
    }
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user)
{
    return 0; /* read-only */
}

static sf_count_t mem_tell(void *user)
{
    return ((struct mem *)user)->pos;
}

int blend_media_prompt_load_memory(const void *data, size_t len, struct blend_media_prompt **out)
{
    BLEND_ASSERT(out != NULL && (data != NULL || len == 0));
    if (len > BLEND_MEDIA_PROMPT_MEMORY_BYTES_MAX) {
        return BLEND_ELIMIT;
    }
    struct mem m = {.data = data, .len = (sf_count_t)len, .pos = 0};
    SF_VIRTUAL_IO io = {.get_filelen = mem_len,
                        .seek = mem_seek,
                        .read = mem_read,
                        .write = mem_write,
                        .tell = mem_tell};
    struct convert c = {0};
    pthread_mutex_lock(&sf_lock);
    c.sf = sf_open_virtual(&io, SFM_READ, &c.info, &m);
    int err = c.sf == NULL ? open_error() : convert_run(&c, out);
    convert_free(&c);
    pthread_mutex_unlock(&sf_lock);
    return err;
}

struct blend_media_prompt *blend_media_prompt_ref(struct blend_media_prompt *prompt)
{
    if (prompt != NULL) {
        /* A new holder comes from an existing one: no ordering is needed to add. */
        size_t was = atomic_fetch_add_explicit(&prompt->refs, 1, memory_order_relaxed);
        BLEND_ASSERT(was > 0 && was < SIZE_MAX);
    }
    return prompt;
}

void blend_media_prompt_free(struct blend_media_prompt *prompt)
{
    if (prompt == NULL) {
        return;
    }
    /* Release/acquire: every holder's reads happen before the last one frees. */
    size_t was = atomic_fetch_sub_explicit(&prompt->refs, 1, memory_order_acq_rel);
    BLEND_ASSERT(was > 0);
    if (was == 1) {
        blend_free(prompt);
    }
}

size_t blend_media_prompt_frames(const struct blend_media_prompt *prompt)
{
    BLEND_ASSERT(prompt != NULL && prompt->frames > 0);
    return prompt->frames;
}

uint64_t blend_media_prompt_duration_ms(const struct blend_media_prompt *prompt)
{
    BLEND_ASSERT(prompt != NULL);
    return prompt->samples * 1000 / BLEND_MEDIA_RATE_HZ;
}

int blend_media_prompt_frame(const struct blend_media_prompt *prompt, size_t index,
                             enum blend_media_codec codec, uint8_t out[BLEND_MEDIA_FRAME_BYTES])
{
    BLEND_ASSERT(prompt != NULL && out != NULL);
    BLEND_ASSERT(codec == BLEND_MEDIA_PCMU || codec == BLEND_MEDIA_PCMA);
    if (index >= prompt->frames) {
        return BLEND_EINVAL;
    }
    memcpy(out, prompt->law[codec] + index * BLEND_MEDIA_FRAME_BYTES, BLEND_MEDIA_FRAME_BYTES);
    return 0;
}
