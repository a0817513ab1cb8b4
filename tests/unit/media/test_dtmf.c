/*
 * Tests for in-band DTMF detection: the sixteen digits generated two ways (spandsp's dtmf_tx at
 * 8 kHz, and sox mixing two sines per digit at 16 kHz, converted by the prompt loader) and carried
 * as µ-law and A-law, fed frame by frame or in odd-sized pieces: exactly those digits, in order.
 * Silence and a 440 Hz tone give none.
 */
#include "media/media.h"

#include "base/alloc.h"
#include "base/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <spandsp.h>

static const char ALL_DIGITS[] = "1234567890*#ABCD";

/* Feeds `len` bytes in pieces of `piece` and returns the digits found (static buffer). */
static const char *detect(enum blend_media_codec codec, const uint8_t *g711, size_t len,
                          size_t piece)
{
    static char found[256];
    size_t n = 0;
    struct blend_media_dtmf *d = NULL;
    assert_int_equal(blend_media_dtmf_create(codec, &d), 0);
    for (size_t at = 0; at < len; at += piece) {
        struct blend_media_digits got;
        size_t m = len - at < piece ? len - at : piece;
        assert_int_equal(blend_media_dtmf_feed(d, g711 + at, m, &got), 0);
        assert_int_equal(strlen(got.digits), got.count);
        assert_true(n + got.count < sizeof found);
        memcpy(found + n, got.digits, got.count);
        n += got.count;
    }
    found[n] = '\0';
    blend_media_dtmf_destroy(d);
    return found;
}

/* The digits from spandsp's generator, 50 ms on and 55 ms off, then 200 ms of silence. */
static uint8_t *generated(enum blend_media_codec codec, size_t *len)
{
    enum { CAP = 8000 * 3 };
    int16_t *pcm = calloc(CAP, sizeof *pcm);
    uint8_t *g711 = malloc(CAP);
    assert_non_null(pcm);
    assert_non_null(g711);
    dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
    assert_non_null(tx);
    /* Returns how many digits did not fit (the buffer is loaded all or nothing). */
    assert_int_equal(dtmf_tx_put(tx, ALL_DIGITS, -1), 0);
    size_t n = 0;
    for (;;) {
        int got = dtmf_tx(tx, pcm + n, BLEND_MEDIA_FRAME_SAMPLES);
        if (got <= 0) {
            break;
        }
        n += (size_t)got;
        assert_true(n + BLEND_MEDIA_FRAME_SAMPLES < CAP);
    }
    dtmf_tx_free(tx);
    n += 1600; /* already zero: trailing silence */
    blend_media_encode(codec, pcm, n, g711);
    free(pcm);
    *len = n;
    return g711;
}

static void generated_digits_are_found_in_both_laws(void **state)
{
    for (enum blend_media_codec c = BLEND_MEDIA_PCMU; c <= BLEND_MEDIA_PCMA; c++) {
        size_t len;
        uint8_t *g711 = generated(c, &len);
        assert_string_equal(detect(c, g711, len, BLEND_MEDIA_FRAME_BYTES), ALL_DIGITS);
        /* State is kept across feeds: odd pieces and large packets find the same digits. */
        assert_string_equal(detect(c, g711, len, 37), ALL_DIGITS);
        assert_string_equal(detect(c, g711, len, BLEND_MEDIA_PAYLOAD_BYTES_MAX), ALL_DIGITS);
        free(g711);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

static void sox_digits_through_the_prompt_loader(void **state)
{
    static const int row[] = {697, 770, 852, 941};
    static const int col[] = {1209, 1336, 1477, 1633};
    static const char keys[4][5] = {"123A", "456B", "789C", "*0#D"};
    char dir[] = "/tmp/blend-media-dtmf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[4096];
    size_t off = (size_t)snprintf(cmd, sizeof cmd, "cd %s", dir);
    char list[1024] = "";
    for (size_t i = 0; ALL_DIGITS[i] != '\0'; i++) {
        int r = -1, c = -1;
        for (int y = 0; y < 4; y++) {
            const char *k = strchr(keys[y], ALL_DIGITS[i]);
            if (k != NULL) {
                r = row[y];
                c = col[k - keys[y]];
            }
        }
        assert_true(r > 0 && c > 0);
        /* 70 ms of the two tones at -13 dBFS each, then 70 ms of silence, at 16 kHz. */
        off += (size_t)snprintf(cmd + off, sizeof cmd - off,
                                " && sox -D -n -r 16000 -c 1 -b 16 d%zu.wav synth 0.07 sine %d "
                                "sine mix %d vol 0.45 pad 0 0.07",
                                i, r, c);
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, " d%zu.wav", i);
    }
    snprintf(cmd + off, sizeof cmd - off, " && sox%s all.wav", list);
    assert_int_equal(system(cmd), 0);

    char path[128];
    snprintf(path, sizeof path, "%s/all.wav", dir);
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(path, &p), 0);
    size_t frames = blend_media_prompt_frames(p);
    uint8_t *g711 = malloc(frames * BLEND_MEDIA_FRAME_BYTES);
    assert_non_null(g711);
    for (enum blend_media_codec c = BLEND_MEDIA_PCMU; c <= BLEND_MEDIA_PCMA; c++) {
        for (size_t i = 0; i < frames; i++) {
            assert_int_equal(blend_media_prompt_frame(p, i, c, g711 + i * BLEND_MEDIA_FRAME_BYTES),
                             0);
        }
        assert_string_equal(detect(c, g711, frames * BLEND_MEDIA_FRAME_BYTES, 160), ALL_DIGITS);
    }
    free(g711);
    blend_media_prompt_free(p);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(blend_alloc_live(), 0);
}

static void silence_and_a_tone_give_no_digits(void **state)
{
    enum { N = 8000 * 2 };
    int16_t *pcm = calloc(N, sizeof *pcm);
    uint8_t *g711 = malloc(N);
    assert_non_null(pcm);
    assert_non_null(g711);
    for (enum blend_media_codec c = BLEND_MEDIA_PCMU; c <= BLEND_MEDIA_PCMA; c++) {
        for (size_t i = 0; i < N; i += BLEND_MEDIA_FRAME_BYTES) {
            blend_media_silence_frame(c, g711 + i);
        }
        assert_string_equal(detect(c, g711, N, 160), "");
        /* A loud 440 Hz tone (dial tone's frequency, on its own). */
        tone_gen_descriptor_t *desc =
            tone_gen_descriptor_init(NULL, 440, -6, 0, 0, 3000, 0, 0, 0, 0);
        assert_non_null(desc);
        tone_gen_state_t *tg = tone_gen_init(NULL, desc);
        assert_non_null(tg);
        assert_int_equal(tone_gen(tg, pcm, N), N);
        tone_gen_free(tg);
        tone_gen_descriptor_free(desc);
        blend_media_encode(c, pcm, N, g711);
        assert_string_equal(detect(c, g711, N, 160), "");
    }
    free(pcm);
    free(g711);
    assert_int_equal(blend_alloc_live(), 0);
}

static void feed_limits_and_oom(void **state)
{
    struct blend_media_dtmf *d = NULL;
    blend_alloc_fail_nth(1);
    assert_int_equal(blend_media_dtmf_create(BLEND_MEDIA_PCMU, &d), BLEND_ENOMEM);
    assert_null(d);
    assert_int_equal(blend_media_dtmf_create(BLEND_MEDIA_PCMU, &d), 0);
    static uint8_t big[BLEND_MEDIA_PAYLOAD_BYTES_MAX + 1];
    struct blend_media_digits got = {.count = 99};
    assert_int_equal(blend_media_dtmf_feed(d, big, sizeof big, &got), BLEND_ELIMIT);
    assert_int_equal(got.count, 99);
    assert_int_equal(blend_media_dtmf_feed(d, big, 0, &got), 0);
    assert_int_equal(got.count, 0);
    assert_string_equal(got.digits, "");
    blend_media_dtmf_destroy(d);
    blend_media_dtmf_destroy(NULL);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_digits_are_found_in_both_laws),
        cmocka_unit_test(sox_digits_through_the_prompt_loader),
        cmocka_unit_test(silence_and_a_tone_give_no_digits),
        cmocka_unit_test(feed_limits_and_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
