/*
 * Tests for the call recorder: packets of both sides pushed with jittered arrival times, a gap,
 * duplicates, a late packet and a pause; the file read back with sndfile must have exactly the
 * decoded samples where audio was sent, silence in the gap and the paused span, and the paused
 * span reported. Also: re-anchoring on a timestamp jump, state errors, limits, a write error in
 * the middle (file size limit) leaving a valid WAV, and allocation failures.
 */
#include "media/media.h"

#include "base/alloc.h"
#include "base/error.h"

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sndfile.h>
#include <cmocka.h>

#define START_MS 1000000u /* an arbitrary monotonic clock reading at the recording's start */

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/blend-media-rec-XXXXXX");
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

/* One 20 ms packet of a sine at `hz`, sample k of the side's stream at `k0`. */
static void tone_packet(enum blend_media_codec codec, int hz, size_t k0, uint8_t out[160])
{
    int16_t pcm[160];
    for (size_t i = 0; i < 160; i++) {
        pcm[i] = (int16_t)lrint(8000.0 * sin(2.0 * M_PI * hz * (double)(k0 + i) / 8000.0));
    }
    blend_media_encode(codec, pcm, 160, out);
}

/* The file's samples, interleaved; checks the format on the way. */
static int16_t *read_wav(const char *path, sf_count_t *frames)
{
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    assert_non_null(sf);
    assert_int_equal(info.channels, 2);
    assert_int_equal(info.samplerate, 8000);
    assert_int_equal(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    int16_t *s = calloc((size_t)info.frames * 2 + 2, sizeof *s);
    assert_non_null(s);
    assert_int_equal(sf_readf_short(sf, s, info.frames), info.frames);
    sf_close(sf);
    *frames = info.frames;
    return s;
}

static double mean_abs(const int16_t *s, int channel, size_t from, size_t to)
{
    double sum = 0;
    for (size_t k = from; k < to; k++) {
        sum += abs(s[k * 2 + (size_t)channel]);
    }
    return sum / (double)(to - from);
}

static void push_ok(struct blend_media_recorder *r, enum blend_media_side side,
                    enum blend_media_codec codec, uint32_t ts, uint64_t arrival_ms,
                    const uint8_t *payload, size_t len)
{
    struct blend_media_packet pk = {side, codec, ts, arrival_ms, payload, len};
    assert_int_equal(blend_media_recorder_push(r, &pk), 0);
}

static void two_sides_gap_duplicates_and_pause(void **state)
{
    enum { N = 24000 };
    int16_t *want = calloc(N * 2, sizeof *want); /* the expected file, interleaved */
    assert_non_null(want);
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("call.wav"), START_MS, &r), 0);
    uint8_t cust[150][160];
    uint64_t paused = 0, late = 0;
    for (size_t i = 0; i < 150; i++) {
        uint64_t t = 20 * i;
        uint64_t jitter = (i * 7) % 4; /* 0..3 ms late, 0 for the first packet */
        if (t == 1500) {
            assert_int_equal(blend_media_recorder_pause(r, START_MS + 1500), 0);
        }
        if (t == 2000) {
            assert_int_equal(blend_media_recorder_resume(r, START_MS + 2000), 0);
        }
        bool is_paused = t >= 1500 && t < 2000;
        /* Customer: 3 s of 440 Hz, µ-law, every tenth packet sent twice. */
        tone_packet(BLEND_MEDIA_PCMU, 440, 160 * i, cust[i]);
        uint32_t cts = 1000 + 160 * (uint32_t)i;
        push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, cts, START_MS + t + jitter, cust[i],
                160);
        if (i % 10 == 0) {
            push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, cts, START_MS + t + jitter + 1,
                    cust[i], 160);
            paused += is_paused;
            late += !is_paused;
        }
        if (!is_paused) {
            int16_t pcm[160];
            blend_media_decode(BLEND_MEDIA_PCMU, cust[i], 160, pcm);
            for (size_t k = 0; k < 160; k++) {
                want[(160 * i + k) * 2] = pcm[k];
            }
        } else {
            paused++;
        }
        if (i == 120) {
            /* A packet from 1.4 s ago arriving now: its place is written or covered. */
            push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 1000 + 160 * 50,
                    START_MS + t + jitter, cust[50], 160);
            late++;
        }
        /* Agent: 1 kHz A-law for 0..1 s and 2..3 s; nothing for 1..2 s (the gap). */
        if (t < 1000 || t >= 2000) {
            uint8_t ag[160];
            int16_t pcm[160];
            tone_packet(BLEND_MEDIA_PCMA, 1000, 160 * i, ag);
            push_ok(r, BLEND_MEDIA_AGENT, BLEND_MEDIA_PCMA, 777 + 160 * (uint32_t)i,
                    START_MS + t + (i * 3) % 5, ag, 160);
            blend_media_decode(BLEND_MEDIA_PCMA, ag, 160, pcm);
            for (size_t k = 0; k < 160; k++) {
                want[(160 * i + k) * 2 + 1] = pcm[k];
            }
        }
    }
    assert_int_equal(blend_media_recorder_close(r, START_MS + 3000), 0);
    struct blend_media_rec_summary s;
    blend_media_recorder_summary(r, &s);
    blend_media_recorder_destroy(r);

    assert_int_equal(s.frames, N);
    assert_int_equal(s.duration_ms, 3000);
    assert_int_equal(s.pauses_count, 1);
    assert_int_equal(s.pauses[0].start_ms, 1500);
    assert_int_equal(s.pauses[0].end_ms, 2000);
    assert_int_equal(s.packets[BLEND_MEDIA_CUSTOMER], 125);
    assert_int_equal(s.packets[BLEND_MEDIA_AGENT], 100);
    assert_int_equal(s.dropped_paused[BLEND_MEDIA_CUSTOMER], paused);
    assert_int_equal(s.dropped_late[BLEND_MEDIA_CUSTOMER], late);
    assert_int_equal(s.dropped_late[BLEND_MEDIA_AGENT], 0);
    assert_int_equal(s.resyncs[0] + s.resyncs[1], 0);
    assert_int_equal(s.error, 0);

    sf_count_t frames;
    int16_t *got = read_wav(tmp("call.wav"), &frames);
    assert_int_equal(frames, N);
    /* Exactly the decoded samples: left and right content, silence in the gap and the pause. */
    assert_memory_equal(got, want, N * 2 * sizeof *got);
    for (size_t k = 12000; k < 16000; k++) {
        assert_int_equal(got[k * 2], 0);
        assert_int_equal(got[k * 2 + 1], 0);
    }
    for (size_t k = 8000; k < 16000; k++) {
        assert_int_equal(got[k * 2 + 1], 0);
    }
    /* And the tones are there at their level (8000 peak: mean |x| is 2/pi of it). */
    assert_true(mean_abs(got, 0, 0, 12000) > 4500 && mean_abs(got, 0, 16000, N) > 4500);
    assert_true(mean_abs(got, 1, 0, 8000) > 4500 && mean_abs(got, 1, 16000, N) > 4500);
    free(got);
    free(want);
    assert_int_equal(blend_alloc_live(), 0);
}

static void timestamp_jump_reanchors_and_silent_side_is_silence(void **state)
{
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("jump.wav"), START_MS, &r), 0);
    uint8_t p[160];
    memset(p, 0x10, sizeof p); /* a loud constant in µ-law */
    /* 0.5 s of packets, then the sender restarts its timestamps (new SSRC) 5 s later. */
    for (uint32_t i = 0; i < 25; i++) {
        push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 4000000000u + 160 * i, START_MS + 20 * i,
                p, 160);
    }
    for (uint32_t i = 0; i < 25; i++) {
        push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 12345 + 160 * i,
                START_MS + 5000 + 20 * i, p, 160);
    }
    assert_int_equal(blend_media_recorder_close(r, START_MS + 5500), 0);
    struct blend_media_rec_summary s;
    blend_media_recorder_summary(r, &s);
    blend_media_recorder_destroy(r);
    assert_int_equal(s.resyncs[BLEND_MEDIA_CUSTOMER], 1);
    assert_int_equal(s.frames, 44000);
    assert_int_equal(s.pauses_count, 0);

    sf_count_t frames;
    int16_t *got = read_wav(tmp("jump.wav"), &frames);
    assert_int_equal(frames, 44000);
    int16_t loud;
    blend_media_decode(BLEND_MEDIA_PCMU, p, 1, &loud);
    for (sf_count_t k = 0; k < frames; k++) {
        bool on = k < 4000 || k >= 40000;
        assert_int_equal(got[k * 2], on ? loud : 0);
        assert_int_equal(got[k * 2 + 1], 0); /* the agent sent nothing */
    }
    free(got);
    assert_int_equal(blend_alloc_live(), 0);
}

static void open_pause_ends_at_close_and_state_errors(void **state)
{
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("p.wav"), START_MS, &r), 0);
    assert_int_equal(blend_media_recorder_resume(r, START_MS + 10), BLEND_ESTATE);
    assert_int_equal(blend_media_recorder_pause(r, START_MS - 1), BLEND_EINVAL);
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 100), 0);
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 200), BLEND_ESTATE);
    uint8_t p[160];
    memset(p, 0x10, sizeof p);
    push_ok(r, BLEND_MEDIA_AGENT, BLEND_MEDIA_PCMU, 0, START_MS + 300, p, 160);
    assert_int_equal(blend_media_recorder_resume(r, START_MS + 400), 0);
    /* A pause may not start inside the previous one. */
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 399), BLEND_EINVAL);
    push_ok(r, BLEND_MEDIA_AGENT, BLEND_MEDIA_PCMU, 0, START_MS + 400, p, 160);
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 500), 0);
    assert_int_equal(blend_media_recorder_close(r, START_MS + 800), 0);
    struct blend_media_packet pk = {BLEND_MEDIA_AGENT, BLEND_MEDIA_PCMU, 0, START_MS + 900, p, 160};
    assert_int_equal(blend_media_recorder_push(r, &pk), BLEND_ECLOSED);
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 900), BLEND_ESTATE);
    assert_int_equal(blend_media_recorder_close(r, START_MS + 900), BLEND_ESTATE);
    struct blend_media_rec_summary s;
    blend_media_recorder_summary(r, &s);
    blend_media_recorder_destroy(r);
    assert_int_equal(s.pauses_count, 2);
    assert_int_equal(s.pauses[0].start_ms, 100);
    assert_int_equal(s.pauses[0].end_ms, 400);
    assert_int_equal(s.pauses[1].start_ms, 500);
    assert_int_equal(s.pauses[1].end_ms, 800);
    assert_int_equal(s.dropped_paused[BLEND_MEDIA_AGENT], 1);
    assert_int_equal(s.frames, 6400);

    sf_count_t frames;
    int16_t *got = read_wav(tmp("p.wav"), &frames);
    for (sf_count_t k = 0; k < frames; k++) {
        bool on = k >= 3200 && k < 3360;
        assert_true((got[k * 2 + 1] != 0) == on);
    }
    free(got);
    assert_int_equal(blend_alloc_live(), 0);
}

static void audio_placed_inside_a_pause_is_masked(void **state)
{
    /* Packets every 20 ms; the pause [1010, 1030) starts inside the packet of 1000 (already
     * placed) and the packet of 1020 arrives after the resume: both are silenced in the span. */
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("mask.wav"), START_MS, &r), 0);
    uint8_t p[160];
    memset(p, 0x10, sizeof p);
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t t = 20 * (uint64_t)i;
        uint64_t arrival = i == 51 ? t + 11 : t;
        if (t == 1020) {
            assert_int_equal(blend_media_recorder_pause(r, START_MS + 1010), 0);
            assert_int_equal(blend_media_recorder_resume(r, START_MS + 1030), 0);
        }
        push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 160 * i, START_MS + arrival, p, 160);
    }
    assert_int_equal(blend_media_recorder_close(r, START_MS + 2000), 0);
    struct blend_media_rec_summary s;
    blend_media_recorder_summary(r, &s);
    blend_media_recorder_destroy(r);
    assert_int_equal(s.packets[0], 100);
    assert_int_equal(s.pauses_count, 1);
    assert_int_equal(s.pauses[0].start_ms, 1010);
    assert_int_equal(s.pauses[0].end_ms, 1030);
    sf_count_t frames;
    int16_t *got = read_wav(tmp("mask.wav"), &frames);
    assert_int_equal(frames, 16000);
    for (sf_count_t k = 0; k < frames; k++) {
        bool silent = k >= 8080 && k < 8240;
        assert_true((got[k * 2] == 0) == silent);
    }
    free(got);
    assert_int_equal(blend_alloc_live(), 0);
}

static uint32_t lcg(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* Seeded random calls: jitter, duplicates, swapped pairs, lost packets, holds (no packets for a
 * few seconds, timestamps running on), pauses. Every sample must be silence or the value of the
 * packet its timestamp puts there, paused spans silent, the length exact, every push counted. */
static void randomized_calls_keep_the_invariants(void **state)
{
    enum { PACKETS = 500, MS = PACKETS * 20 + 100 };
    size_t pauses = 0, dropped = 0;
    for (uint32_t seed0 = 1; seed0 <= 12; seed0++) {
        uint32_t seed = seed0;
        char name[32];
        snprintf(name, sizeof name, "rand%u.wav", seed0);
        struct blend_media_recorder *r = NULL;
        assert_int_equal(blend_media_recorder_open(tmp(name), START_MS, &r), 0);
        uint64_t pushes[2] = {0, 0};
        bool paused = false;
        uint64_t last_ctl = 0;
        for (uint32_t i = 0; i < PACKETS; i++) {
            uint64_t t = 20 * (uint64_t)i;
            if (t > last_ctl + 200 && lcg(&seed) % 40 == 0) {
                int err = paused ? blend_media_recorder_resume(r, START_MS + t)
                                 : blend_media_recorder_pause(r, START_MS + t);
                if (err == 0) {
                    paused = !paused;
                    last_ctl = t;
                }
            }
            for (int side = 0; side < 2; side++) {
                uint32_t roll = lcg(&seed) % 100;
                if (roll < 3 || (i / 100) % 5 == (uint32_t)(side + 2)) {
                    continue; /* lost, or on hold for 2 s */
                }
                /* Packet i carries the constant µ-law byte i % 200 + 1 (never silence). */
                uint8_t p[160];
                memset(p, (int)(i % 200 + 1), sizeof p);
                uint32_t ts = 5000u * (uint32_t)side + 160 * i;
                uint64_t arrival = START_MS + t + lcg(&seed) % 15;
                int copies = roll < 8 ? 2 : 1;
                for (int c = 0; c < copies; c++) {
                    push_ok(r, (enum blend_media_side)side, BLEND_MEDIA_PCMU, ts, arrival, p, 160);
                    pushes[side]++;
                }
            }
        }
        assert_int_equal(blend_media_recorder_close(r, START_MS + MS), 0);
        struct blend_media_rec_summary s;
        blend_media_recorder_summary(r, &s);
        blend_media_recorder_destroy(r);
        assert_int_equal(s.frames, MS * 8);
        pauses += s.pauses_count;
        for (int side = 0; side < 2; side++) {
            dropped += s.dropped_late[side];
            assert_int_equal(s.packets[side] + s.dropped_late[side] + s.dropped_paused[side],
                             pushes[side]);
            assert_true(s.packets[side] > 0);
        }
        sf_count_t frames;
        int16_t *got = read_wav(tmp(name), &frames);
        assert_int_equal(frames, MS * 8);
        for (sf_count_t k = 0; k < frames; k++) {
            bool in_pause = false;
            for (size_t j = 0; j < s.pauses_count; j++) {
                in_pause |=
                    (uint64_t)k >= s.pauses[j].start_ms * 8 && (uint64_t)k < s.pauses[j].end_ms * 8;
            }
            for (int side = 0; side < 2; side++) {
                int16_t v = got[k * 2 + side];
                /* The first packet of a side anchors at its arrival (up to 14 ms late). */
                if (in_pause || v == 0) {
                    assert_int_equal(v, 0);
                    continue;
                }
                int16_t cand[16];
                size_t nc = 0;
                for (int64_t shift = 0; shift <= 14 * 8; shift += 8) {
                    int64_t pos = (int64_t)k - shift;
                    if (pos >= 0 && pos / 160 < PACKETS) {
                        uint8_t b = (uint8_t)(pos / 160 % 200 + 1);
                        blend_media_decode(BLEND_MEDIA_PCMU, &b, 1, &cand[nc++]);
                    }
                }
                bool ok = false;
                for (size_t c = 0; c < nc; c++) {
                    ok |= cand[c] == v;
                }
                assert_true(ok);
            }
        }
        free(got);
    }
    assert_true(pauses >= 12 && dropped >= 12); /* the scenarios did exercise both */
    assert_int_equal(blend_alloc_live(), 0);
}

static void limits_and_bad_input(void **state)
{
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("l.wav"), START_MS, &r), 0);
    static uint8_t big[BLEND_MEDIA_PAYLOAD_BYTES_MAX + 1];
    struct blend_media_packet pk = {
        BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMA, 0, START_MS, big, sizeof big};
    assert_int_equal(blend_media_recorder_push(r, &pk), BLEND_ELIMIT);
    pk.payload_bytes = 160;
    pk.arrival_ms = START_MS - 1;
    assert_int_equal(blend_media_recorder_push(r, &pk), BLEND_EINVAL);
    pk.arrival_ms = START_MS + BLEND_MEDIA_REC_MS_MAX + 1;
    assert_int_equal(blend_media_recorder_push(r, &pk), BLEND_ELIMIT);
    pk.arrival_ms = START_MS;
    pk.payload_bytes = 0;
    assert_int_equal(blend_media_recorder_push(r, &pk), 0);
    for (int i = 0; i < BLEND_MEDIA_REC_PAUSES_MAX; i++) {
        assert_int_equal(blend_media_recorder_pause(r, START_MS + 10 * (uint64_t)i), 0);
        assert_int_equal(blend_media_recorder_resume(r, START_MS + 10 * (uint64_t)i + 5), 0);
    }
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 10000), BLEND_ELIMIT);
    /* Destroy without close: the file ends with what was placed (nothing) and is valid. */
    blend_media_recorder_destroy(r);
    sf_count_t frames;
    free(read_wav(tmp("l.wav"), &frames));
    assert_int_equal(frames, 0);
    assert_int_equal(blend_alloc_live(), 0);
}

static void open_errors(void **state)
{
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("e.wav"), 0, &r), 0);
    struct blend_media_recorder *r2 = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("e.wav"), 0, &r2), BLEND_EEXIST);
    assert_int_equal(blend_media_recorder_open(tmp("nodir/e.wav"), 0, &r2), BLEND_ENOENT);
    assert_null(r2);
    blend_media_recorder_destroy(r);
    for (long nth = 1; nth <= 2; nth++) {
        blend_alloc_fail_nth(nth);
        assert_int_equal(blend_media_recorder_open(tmp("oom.wav"), 0, &r2), BLEND_ENOMEM);
        blend_alloc_fail_nth(0);
        assert_null(r2);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

static void write_error_leaves_a_valid_wav(void **state)
{
    /* Files may not grow past 40,000 bytes: the second one-second block (32,000 bytes after a
     * 44-byte header and the first block) fails part way. */
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {40000, old.rlim_max};
    struct blend_media_recorder *r = NULL;
    assert_int_equal(blend_media_recorder_open(tmp("full.wav"), START_MS, &r), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint8_t p[160];
    memset(p, 0x10, sizeof p);
    int err = 0;
    uint32_t i = 0;
    for (; i < 500 && err == 0; i++) {
        struct blend_media_packet pk = {
            BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 160 * i, START_MS + 20 * i, p, 160};
        err = blend_media_recorder_push(r, &pk);
    }
    assert_int_equal(err, BLEND_EIO);
    assert_true(i < 500);
    /* Sticky: later pushes report it; close finalises the file anyway. */
    struct blend_media_packet pk = {
        BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 160 * i, START_MS + 20 * i, p, 160};
    assert_int_equal(blend_media_recorder_push(r, &pk), BLEND_EIO);
    assert_int_equal(blend_media_recorder_close(r, START_MS + 20 * i), BLEND_EIO);
    struct blend_media_rec_summary s;
    blend_media_recorder_summary(r, &s);
    blend_media_recorder_destroy(r);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(s.error, BLEND_EIO);

    sf_count_t frames;
    int16_t *got = read_wav(tmp("full.wav"), &frames);
    assert_true(frames >= 8000 && frames < 16000);
    assert_true((uint64_t)frames >= s.frames - 1 && (uint64_t)frames <= s.frames);
    int16_t loud;
    blend_media_decode(BLEND_MEDIA_PCMU, p, 1, &loud);
    assert_int_equal(got[0], loud);
    assert_int_equal(got[(frames - 1) * 2], loud);
    free(got);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Voicemail: a mono WAV of the customer alone. The agent side's packets change nothing; the
 * customer's land where they belong (a gap is silence), a pause is silent, and the file and the
 * summary count mono frames. */
static void mono_records_the_customer_alone(void **state)
{
    struct blend_media_recorder *r;
    assert_int_equal(blend_media_recorder_open_mono(tmp("vm.wav"), START_MS, &r), 0);
    uint8_t tone[160], other[160];
    /* 0..400 ms: customer tone; the agent side sends too (ignored). */
    for (uint32_t k = 0; k < 20; k++) {
        tone_packet(BLEND_MEDIA_PCMU, 1000, k * 160, tone);
        push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 5000 + k * 160, START_MS + k * 20, tone,
                160);
        tone_packet(BLEND_MEDIA_PCMA, 300, k * 160, other);
        push_ok(r, BLEND_MEDIA_AGENT, BLEND_MEDIA_PCMA, 9000 + k * 160, START_MS + k * 20, other,
                160);
    }
    /* 400..600 ms nothing; 600..800 ms tone again (RTP timestamps follow the gap). */
    for (uint32_t k = 30; k < 40; k++) {
        tone_packet(BLEND_MEDIA_PCMU, 1000, k * 160, tone);
        push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 5000 + k * 160, START_MS + k * 20, tone,
                160);
    }
    /* 800..1000 ms paused: what comes is dropped. */
    assert_int_equal(blend_media_recorder_pause(r, START_MS + 800), 0);
    push_ok(r, BLEND_MEDIA_CUSTOMER, BLEND_MEDIA_PCMU, 5000 + 40 * 160, START_MS + 820, tone, 160);
    assert_int_equal(blend_media_recorder_resume(r, START_MS + 1000), 0);
    assert_int_equal(blend_media_recorder_close(r, START_MS + 1000), 0);
    struct blend_media_rec_summary sum;
    blend_media_recorder_summary(r, &sum);
    assert_int_equal(sum.frames, 8000);
    assert_int_equal(sum.duration_ms, 1000);
    assert_int_equal(sum.packets[BLEND_MEDIA_CUSTOMER], 30);
    assert_int_equal(sum.packets[BLEND_MEDIA_AGENT], 0);
    assert_int_equal(sum.dropped_paused[BLEND_MEDIA_CUSTOMER], 1);
    assert_int_equal(sum.pauses_count, 1);
    blend_media_recorder_destroy(r);

    SF_INFO info = {0};
    SNDFILE *sf = sf_open(tmp("vm.wav"), SFM_READ, &info);
    assert_non_null(sf);
    assert_int_equal(info.channels, 1);
    assert_int_equal(info.samplerate, 8000);
    assert_int_equal(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    assert_int_equal(info.frames, 8000);
    static int16_t pcm[8000];
    assert_int_equal(sf_readf_short(sf, pcm, 8000), 8000);
    sf_close(sf);
    /* Exactly the customer's decoded samples (no agent audio mixed in), silence elsewhere. */
    for (uint32_t k = 0; k < 50; k++) {
        int16_t want[160] = {0};
        if (k < 20 || (k >= 30 && k < 40)) {
            tone_packet(BLEND_MEDIA_PCMU, 1000, k * 160, tone);
            blend_media_decode(BLEND_MEDIA_PCMU, tone, 160, want);
        }
        assert_memory_equal(&pcm[k * 160], want, sizeof want);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_sides_gap_duplicates_and_pause),
        cmocka_unit_test(timestamp_jump_reanchors_and_silent_side_is_silence),
        cmocka_unit_test(open_pause_ends_at_close_and_state_errors),
        cmocka_unit_test(audio_placed_inside_a_pause_is_masked),
        cmocka_unit_test(randomized_calls_keep_the_invariants),
        cmocka_unit_test(limits_and_bad_input),
        cmocka_unit_test(open_errors),
        cmocka_unit_test(write_error_leaves_a_valid_wav),
        cmocka_unit_test(mono_records_the_customer_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
