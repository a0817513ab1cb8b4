/*
 * Tests for prompt loading: fixtures made at test time with sox in a temporary directory (tones at
 * other rates, channel counts and sample formats), converted to 8 kHz G.711 frames, decoded back
 * and measured (frequency by zero crossings, amplitude by peak); looping, padding, G.711 silence,
 * error codes, loading from memory, and every allocation failing in turn.
 */
#include "media/media.h"

#include "base/alloc.h"
#include "base/error.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sndfile.h>
#include <cmocka.h>

static char tmpdir[64];

static const char *fixture(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* Runs sox writing `name` (format options `fmt`) in the temp dir with the effects `fx`; -D: no
 * dither, so the output is exactly the synthesised signal. */
static const char *sox(const char *name, const char *fmt, const char *fx)
{
    char cmd[1024];
    const char *path = fixture(name);
    snprintf(cmd, sizeof cmd, "sox -D -n %s %s %s", fmt, path, fx);
    int rc = system(cmd);
    assert_int_equal(rc, 0);
    return path;
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/blend-media-prompt-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Decodes every frame of the prompt in the codec into a new array of frames * 160 samples. */
static int16_t *decode_all(const struct blend_media_prompt *p, enum blend_media_codec codec)
{
    size_t frames = blend_media_prompt_frames(p);
    int16_t *pcm = calloc(frames * BLEND_MEDIA_FRAME_SAMPLES, sizeof *pcm);
    assert_non_null(pcm);
    for (size_t i = 0; i < frames; i++) {
        uint8_t f[BLEND_MEDIA_FRAME_BYTES];
        assert_int_equal(blend_media_prompt_frame(p, i, codec, f), 0);
        blend_media_decode(codec, f, BLEND_MEDIA_FRAME_BYTES, pcm + i * BLEND_MEDIA_FRAME_SAMPLES);
    }
    return pcm;
}

/* Sign changes in pcm[from, to): twice the frequency times the duration for a clean tone. */
static int zero_crossings(const int16_t *pcm, size_t from, size_t to)
{
    int n = 0;
    for (size_t i = from + 1; i < to; i++) {
        if ((pcm[i - 1] < 0) != (pcm[i] < 0)) {
            n++;
        }
    }
    return n;
}

static int peak(const int16_t *pcm, size_t from, size_t to)
{
    int m = 0;
    for (size_t i = from; i < to; i++) {
        int v = abs(pcm[i]);
        m = v > m ? v : m;
    }
    return m;
}

/* Checks a tone of `hz` at `amp` (of full scale) over the steady middle of the decoded prompt. */
static void check_tone(const struct blend_media_prompt *p, enum blend_media_codec codec, int hz,
                       double amp)
{
    int16_t *pcm = decode_all(p, codec);
    size_t n = blend_media_prompt_duration_ms(p) * 8;
    size_t from = 800, to = n - 800; /* skip 100 ms at each end (filter edges) */
    double seconds = (double)(to - from) / 8000.0;
    int zc = zero_crossings(pcm, from, to);
    double expect = 2.0 * hz * seconds;
    assert_true(zc > expect * 0.99 - 2 && zc < expect * 1.01 + 2);
    int pk = peak(pcm, from, to);
    double want = amp * 32767.0;
    assert_true(pk > want * 0.95 && pk < want * 1.05);
    free(pcm);
}

static void stereo_22k_s16_loads_and_downmixes(void **state)
{
    /* Left: 440 Hz at half scale; right: silence. The mono mix is the average: quarter scale. */
    const char *path = sox("s22.wav", "-r 22050 -c 2 -b 16 -e signed-integer",
                           "synth 2 sine 440 vol 0.5 remix 1 0");
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(path, &p), 0);
    assert_int_equal(blend_media_prompt_frames(p), 100);
    assert_int_equal(blend_media_prompt_duration_ms(p), 2000);
    check_tone(p, BLEND_MEDIA_PCMU, 440, 0.25);
    check_tone(p, BLEND_MEDIA_PCMA, 440, 0.25);
    blend_media_prompt_free(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void mono_44k_float_loads(void **state)
{
    const char *path =
        sox("f44.wav", "-r 44100 -c 1 -b 32 -e floating-point", "synth 1.5 sine 1000 vol 0.5");
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(path, &p), 0);
    assert_int_equal(blend_media_prompt_frames(p), 75);
    assert_int_equal(blend_media_prompt_duration_ms(p), 1500);
    check_tone(p, BLEND_MEDIA_PCMU, 1000, 0.5);
    check_tone(p, BLEND_MEDIA_PCMA, 1000, 0.5);

    /* The two laws carry the same signal: decoded, they differ only by quantisation. */
    int16_t *u = decode_all(p, BLEND_MEDIA_PCMU);
    int16_t *a = decode_all(p, BLEND_MEDIA_PCMA);
    for (size_t i = 0; i < 75 * 160; i++) {
        assert_true(abs(u[i] - a[i]) <= 1024);
    }
    free(u);
    free(a);
    blend_media_prompt_free(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void other_formats_load(void **state)
{
    /* 48 kHz 24-bit stereo FLAC, 16 kHz 8-bit AIFF: anything sndfile reads. */
    const char *flac = sox("t48.flac", "-r 48000 -c 2 -b 24", "synth 1 sine 600 vol 0.5");
    const char *aiff = sox("t16.aiff", "-r 16000 -c 1 -b 8", "synth 1 sine 600 vol 0.5");
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(flac, &p), 0);
    assert_int_equal(blend_media_prompt_frames(p), 50);
    check_tone(p, BLEND_MEDIA_PCMU, 600, 0.5);
    blend_media_prompt_free(p);
    assert_int_equal(blend_media_prompt_load(aiff, &p), 0);
    assert_int_equal(blend_media_prompt_frames(p), 50);
    assert_int_equal(blend_media_prompt_duration_ms(p), 1000);
    blend_media_prompt_free(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void moh_loops_and_last_frame_is_padded(void **state)
{
    /* 170 samples at 8 kHz: two frames, the second holding 10 samples and 150 of silence. */
    const char *path = sox("short.wav", "-r 8000 -c 1 -b 16", "synth 0.02125 sine 300 vol 0.5");
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(path, &p), 0);
    size_t frames = blend_media_prompt_frames(p);
    assert_int_equal(frames, 2);
    assert_int_equal(blend_media_prompt_duration_ms(p), 21);

    uint8_t f[BLEND_MEDIA_FRAME_BYTES], g[BLEND_MEDIA_FRAME_BYTES];
    for (enum blend_media_codec c = BLEND_MEDIA_PCMU; c <= BLEND_MEDIA_PCMA; c++) {
        assert_int_equal(blend_media_prompt_frame(p, 1, c, f), 0);
        for (size_t i = 10; i < BLEND_MEDIA_FRAME_BYTES; i++) {
            assert_int_equal(f[i], blend_media_silence_byte(c));
        }
        /* Music on hold: frame index i % frames, forever. */
        for (size_t i = 0; i < 7; i++) {
            assert_int_equal(blend_media_prompt_frame(p, i % frames, c, f), 0);
            assert_int_equal(blend_media_prompt_frame(p, (i + 2 * frames) % frames, c, g), 0);
            assert_memory_equal(f, g, sizeof f);
        }
    }
    /* Past the end: an error, out untouched. */
    memset(f, 0x42, sizeof f);
    assert_int_equal(blend_media_prompt_frame(p, frames, BLEND_MEDIA_PCMU, f), BLEND_EINVAL);
    assert_int_equal(f[0], 0x42);
    blend_media_prompt_free(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void silence_frames(void **state)
{
    uint8_t f[BLEND_MEDIA_FRAME_BYTES];
    int16_t pcm[BLEND_MEDIA_FRAME_SAMPLES];
    assert_int_equal(blend_media_silence_byte(BLEND_MEDIA_PCMU), 0xFF);
    assert_int_equal(blend_media_silence_byte(BLEND_MEDIA_PCMA), 0xD5);
    for (enum blend_media_codec c = BLEND_MEDIA_PCMU; c <= BLEND_MEDIA_PCMA; c++) {
        memset(f, 0x11, sizeof f);
        blend_media_silence_frame(c, f);
        blend_media_decode(c, f, sizeof f, pcm);
        for (size_t i = 0; i < BLEND_MEDIA_FRAME_SAMPLES; i++) {
            assert_true(abs(pcm[i]) <= 8);
        }
    }
}

static void errors_have_their_codes(void **state)
{
    struct blend_media_prompt *p = (struct blend_media_prompt *)&p; /* must stay untouched */
    struct blend_media_prompt *const sentinel = p;
    assert_int_equal(blend_media_prompt_load(fixture("missing.wav"), &p), BLEND_ENOENT);

    FILE *f = fopen(fixture("notes.txt"), "w");
    assert_non_null(f);
    fputs("This is not a sound file, just a few words of text.\n", f);
    fclose(f);
    assert_int_equal(blend_media_prompt_load(fixture("notes.txt"), &p), BLEND_EPARSE);

    /* A valid WAV with no audio in it, written by sndfile itself. */
    SF_INFO info = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(fixture("empty.wav"), SFM_WRITE, &info);
    assert_non_null(sf);
    sf_close(sf);
    assert_int_equal(blend_media_prompt_load(fixture("empty.wav"), &p), BLEND_EINVAL);

    const char *longp = sox("long.wav", "-r 8000 -c 1 -b 8", "synth 601 sine 440");
    assert_int_equal(blend_media_prompt_load(longp, &p), BLEND_ELIMIT);
    /* A directory is not a file. */
    assert_int_equal(blend_media_prompt_load(tmpdir, &p), BLEND_EIO);
    assert_ptr_equal(p, sentinel);
    assert_int_equal(blend_alloc_live(), 0);
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    void *data = malloc((size_t)n);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void memory_load_matches_file_load(void **state)
{
    const char *path = sox("m.wav", "-r 11025 -c 2 -b 16", "synth 0.5 sine 800 vol 0.3");
    size_t len;
    uint8_t *data = slurp(path, &len);
    struct blend_media_prompt *a = NULL, *b = NULL;
    assert_int_equal(blend_media_prompt_load(path, &a), 0);
    assert_int_equal(blend_media_prompt_load_memory(data, len, &b), 0);
    assert_int_equal(blend_media_prompt_frames(a), 25);
    assert_int_equal(blend_media_prompt_frames(a), blend_media_prompt_frames(b));
    for (size_t i = 0; i < blend_media_prompt_frames(a); i++) {
        uint8_t fa[BLEND_MEDIA_FRAME_BYTES], fb[BLEND_MEDIA_FRAME_BYTES];
        assert_int_equal(blend_media_prompt_frame(a, i, BLEND_MEDIA_PCMA, fa), 0);
        assert_int_equal(blend_media_prompt_frame(b, i, BLEND_MEDIA_PCMA, fb), 0);
        assert_memory_equal(fa, fb, sizeof fa);
    }
    blend_media_prompt_free(a);
    blend_media_prompt_free(b);
    /* Truncated images: an error or a shorter prompt, never a crash. */
    assert_int_equal(blend_media_prompt_load_memory(data, 20, &b), BLEND_EPARSE);
    assert_int_equal(blend_media_prompt_load_memory(data, 0, &b), BLEND_EPARSE);
    free(data);
    assert_int_equal(blend_alloc_live(), 0);
}

static void every_allocation_failure_is_clean(void **state)
{
    const char *path = sox("oom.wav", "-r 16000 -c 1 -b 16", "synth 0.3 sine 500");
    int failures = 0;
    for (long nth = 1;; nth++) {
        struct blend_media_prompt *p = NULL;
        blend_alloc_fail_nth(nth);
        int err = blend_media_prompt_load(path, &p);
        blend_alloc_fail_nth(0);
        if (err == 0) {
            assert_int_equal(blend_media_prompt_frames(p), 15);
            blend_media_prompt_free(p);
            break;
        }
        assert_int_equal(err, BLEND_ENOMEM);
        assert_null(p);
        assert_int_equal(blend_alloc_live(), 0);
        failures++;
    }
    assert_true(failures >= 3);
    assert_int_equal(blend_alloc_live(), 0);
}

/* References: each ref needs one free; the prompt stays readable until the last one, and
 * threads taking and dropping references at once neither lose nor free it early (ASan checks
 * the reads, the allocation count the final free). */
enum { REF_THREADS = 4, REF_ROUNDS = 20000 };

static void *ref_worker(void *arg)
{
    struct blend_media_prompt *p = arg;
    uint8_t frame[BLEND_MEDIA_FRAME_BYTES];
    for (int i = 0; i < REF_ROUNDS; i++) {
        struct blend_media_prompt *mine = blend_media_prompt_ref(p);
        if (mine != p || blend_media_prompt_frame(mine, 0, BLEND_MEDIA_PCMU, frame) != 0) {
            return (void *)1;
        }
        blend_media_prompt_free(mine);
    }
    return NULL;
}

static void references_share_one_prompt(void **state)
{
    const char *path = sox("ref.wav", "-r 8000 -c 1 -b 16", "synth 0.1 sine 600");
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(path, &p), 0);
    long live = blend_alloc_live();
    assert_ptr_equal(blend_media_prompt_ref(p), p);
    assert_ptr_equal(blend_media_prompt_ref(p), p);
    blend_media_prompt_free(p);
    blend_media_prompt_free(p);
    /* Two taken, two released: still the loader's, still readable. */
    assert_int_equal(blend_alloc_live(), live);
    assert_int_equal(blend_media_prompt_frames(p), 5);
    pthread_t t[REF_THREADS];
    for (int i = 0; i < REF_THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, ref_worker, p), 0);
    }
    for (int i = 0; i < REF_THREADS; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(blend_alloc_live(), live);
    /* The host lets go first, a player later: the last release frees. */
    struct blend_media_prompt *player = blend_media_prompt_ref(p);
    blend_media_prompt_free(p);
    assert_int_equal(blend_media_prompt_frames(player), 5);
    blend_media_prompt_free(player);
    assert_int_equal(blend_alloc_live(), 0);
    /* NULL is accepted by both. */
    assert_null(blend_media_prompt_ref(NULL));
    blend_media_prompt_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stereo_22k_s16_loads_and_downmixes),
        cmocka_unit_test(mono_44k_float_loads),
        cmocka_unit_test(other_formats_load),
        cmocka_unit_test(moh_loops_and_last_frame_is_padded),
        cmocka_unit_test(silence_frames),
        cmocka_unit_test(errors_have_their_codes),
        cmocka_unit_test(memory_load_matches_file_load),
        cmocka_unit_test(every_allocation_failure_is_clean),
        cmocka_unit_test(references_share_one_prompt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
