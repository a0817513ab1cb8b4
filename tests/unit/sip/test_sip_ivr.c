/*
 * The caller before an agent, through Blend against SIPp on loopback, the test playing the host:
 * Blend answers the customer itself (200 OK with telephone-event, G.711 silence after it), plays
 * sequences of prompts (exactly their frames, in order, on one RTP stream, then PLAY_DONE
 * "done"; music or silence after it), a play replaced, stopped, refused before the answer, cut
 * by the end of the call (no leak: the thread holds the prompts' references, the host releases
 * its own at once), keys of the unbridged customer (RFC 4733 and in-band) while a prompt plays,
 * voicemail (a mono WAV of the customer, ended by record_stop or by the call), a customer kept
 * when the agent hangs up (AGENT_LEFT, then a prompt, keys and the customer's BYE), and an
 * answered customer offered to an agent (the play ends "stopped" before AGENT_ANSWERED).
 * Where the customer only listens, its media address is a socket of the test, which reads
 * every packet Blend sent there once the call is over. Every wait is bounded; media-paced waits
 * count packets, not time.
 */
#include "base/alloc.h"
#include "media/media.h"
#include "sip/sip.h"

#include <spandsp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "call_harness.h"
#include "inband_pcap.h"

#define PCAP_DTMF_1 "/usr/share/sip-tester/dtmf_2833_1.pcap"
#define AGENT 7

/* --- Helpers ------------------------------------------------------------------------------- */

/* A customer running scenario with "-d pause_ms" and "-key rtpport port" (the test's socket;
 * scenarios that send media ignore it). */
static pid_t customer(struct harness *h, const char *scenario, const char *pause_ms, int rtpport)
{
    char target[64], sf[PATH_MAX + 64], mport[16], rport[16];
    target_of(h, target, sizeof(target));
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    snprintf(mport, sizeof(mport), "%d", free_port());
    snprintf(rport, sizeof(rport), "%d", rtpport > 0 ? rtpport : 9);
    const char *args[] = {"-sf", sf,   "-s", DIALLED,  "-key", "caller",  CALLER, "-mp",  mport,
                          "-t",  "u1", "-d", pause_ms, "-key", "rtpport", rport,  target, NULL};
    return sipp_spawn(h, "customer", args);
}

/* A mono 8 kHz WAV of ms milliseconds of a tone at hz whose level steps every 100 ms (so
 * consecutive frames differ); ms a multiple of 20 gives exactly ms / 20 frames. */
static void write_tone(const char *path, int ms, int hz)
{
    SF_INFO info = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    int n = ms * 8;
    short *pcm = calloc((size_t)n, sizeof(*pcm));
    assert_non_null(pcm);
    for (int i = 0; i < n; i++) {
        double level = 2000.0 + 1500.0 * (double)((i / 800) % 10);
        pcm[i] = (short)(level * sin(2.0 * 3.14159265358979 * hz * (double)i / 8000.0));
    }
    assert_int_equal(sf_writef_short(f, pcm, n), n);
    assert_int_equal(sf_close(f), 0);
    free(pcm);
}

/* A prompt of ms milliseconds at hz, loaded from a WAV written in dir. */
static struct blend_media_prompt *tone_prompt(const char *dir, const char *name, int ms, int hz)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    write_tone(path, ms, hz);
    struct blend_media_prompt *p = NULL;
    assert_int_equal(blend_media_prompt_load(path, &p), 0);
    assert_int_equal(blend_media_prompt_frames(p), (size_t)ms / 20);
    return p;
}

/* The host plays prompts and releases its own references at once. */
static void play_released(struct harness *h, uint64_t call, struct blend_media_prompt **prompts,
                          size_t count, uint32_t tag)
{
    assert_int_equal(blend_sip_call_play(h->sip, call, prompts, count, tag), 0);
    for (size_t i = 0; i < count; i++) {
        blend_media_prompt_free(prompts[i]);
        prompts[i] = NULL;
    }
}

/* The counter at offset `field` of the stats. */
static uint64_t stat_of(struct harness *h, size_t field)
{
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    uint64_t v;
    memcpy(&v, (const char *)&st + field, sizeof(v));
    return v;
}

/* Waits (bounded) until the counter at `field` reaches at least target; returns its value. */
static uint64_t wait_stat(struct harness *h, size_t field, uint64_t target)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    uint64_t v = stat_of(h, field);
    while (v < target && mono_ms() < deadline) {
        usleep(5000);
        v = stat_of(h, field);
    }
    if (v < target) {
        fail_msg("counter at %zu stayed at %llu (< %llu)", field, (unsigned long long)v,
                 (unsigned long long)target);
    }
    return v;
}

#define STAT(name) offsetof(struct blend_sip_stats, name)

/* Waits (bounded) for PLAY_DONE of tag; returns its index. */
static int wait_play_done(struct harness *h, uint32_t tag)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        drain(h);
        for (int i = 0; i < h->log_n; i++) {
            if (h->log[i].kind == BLEND_SIP_EV_PLAY_DONE && h->log[i].play_tag == tag) {
                return i;
            }
        }
        if (mono_ms() > deadline) {
            fail_msg("no PLAY_DONE for tag %u", tag);
        }
        usleep(5000);
    }
}

/* The DTMF events of the customer leg, in order, as a string; each names call and agent 0. */
static void customer_digits(struct harness *h, uint64_t call, int after, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < h->log_n; i++) {
        const struct blend_sip_event *ev = &h->log[i];
        if (ev->kind != BLEND_SIP_EV_DTMF) {
            continue;
        }
        assert_true(i > after);
        assert_int_equal(ev->call, call);
        assert_string_equal(ev->leg, "customer");
        assert_int_equal(ev->agent_id, 0);
        assert_true(n + 1 < cap);
        out[n++] = ev->digit;
    }
    out[n] = '\0';
}

/* Checks the stream the customer got: one SSRC, sequence + 1 and timestamp + 160 all along
 * (nothing stalled on loopback), A-law, full frames. */
static void check_stream(const struct rtp_pkt *pkts, int n)
{
    assert_true(n > 0);
    assert_true(pkts[0].marker);
    for (int i = 0; i < n; i++) {
        assert_int_equal(pkts[i].pt, 8);
        assert_int_equal(pkts[i].len, BLEND_MEDIA_FRAME_BYTES);
        assert_int_equal(pkts[i].ssrc, pkts[0].ssrc);
        if (i > 0) {
            assert_int_equal((uint16_t)(pkts[i].seq - pkts[i - 1].seq), 1);
        }
    }
}

static bool is_silence(const struct rtp_pkt *p)
{
    for (size_t k = 0; k < p->len; k++) {
        if (p->payload[k] != blend_media_silence_byte(BLEND_MEDIA_PCMA)) {
            return false;
        }
    }
    return true;
}

static bool is_frame(const struct rtp_pkt *p, const struct blend_media_prompt *prompt, size_t i)
{
    uint8_t want[BLEND_MEDIA_FRAME_BYTES];
    assert_int_equal(blend_media_prompt_frame(prompt, i, BLEND_MEDIA_PCMA, want), 0);
    return memcmp(p->payload, want, sizeof(want)) == 0;
}

static struct rtp_pkt pkts[2048];

/* --- Answer and silence; a play before the answer --------------------------------------- */

static void answer_gives_silence(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    int port;
    int fd = media_socket(&port);
    pid_t cust = customer(h, "ivr_listen.xml", "0", port);
    uint64_t call = incoming(h);
    /* Not answered yet: a play fails at once and takes no reference for good. */
    struct blend_media_prompt *p[1] = {tone_prompt(h->tmpdir, "early.wav", 200, 700)};
    play_released(h, call, p, 1, 1);
    int fail = wait_play_done(h, 1);
    assert_string_equal(h->log[fail].cause, "failed");
    assert_int_equal(h->log[fail].call, call);
    /* moh before the answer is ignored: the customer hears silence, not music. */
    assert_int_equal(blend_sip_call_moh(h->sip, call, 1), 0);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0); /* ignored: answered */
    wait_stat(h, STAT(rtp_silence), 20);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > fail);
    assert_string_equal(h->log[end].leg, "blend");
    /* SIPp checked the 200's SDP (telephone-event/8000) and answered Blend's BYE. */
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.rtp_prompt, 0);
    assert_int_equal(st.rtp_moh, 0);
    int n = read_rtp(fd, pkts, 2048);
    close(fd);
    assert_int_equal((uint64_t)n, st.rtp_silence);
    check_stream(pkts, n);
    for (int i = 0; i < n; i++) {
        assert_true(is_silence(&pkts[i]));
    }
    assert_int_equal(count_events(h, BLEND_SIP_EV_PLAY_DONE), 1);
}

/* --- A sequence of prompts, then music, then silence ------------------------------------- */

static void play_sequence_then_music_then_silence(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    char dir[] = "/tmp/blend-ivr-XXXXXX", moh[128];
    assert_non_null(mkdtemp(dir));
    snprintf(moh, sizeof(moh), "%s/moh.wav", dir);
    write_tone(moh, 2000, 440);
    cfg.moh_path = moh;
    harness_start(h, &cfg);
    struct blend_media_prompt *music = NULL;
    assert_int_equal(blend_media_prompt_load(moh, &music), 0);
    int port;
    int fd = media_socket(&port);
    pid_t cust = customer(h, "ivr_listen.xml", "0", port);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    assert_int_equal(blend_sip_call_moh(h->sip, call, 1), 0);
    /* Three prompts of 10, 15 and 5 frames; the test keeps a reference of each to compare. */
    struct blend_media_prompt *mine[3] = {
        tone_prompt(h->tmpdir, "a.wav", 200, 500),
        tone_prompt(h->tmpdir, "b.wav", 300, 900),
        tone_prompt(h->tmpdir, "c.wav", 100, 1300),
    };
    struct blend_media_prompt *host[3];
    for (int i = 0; i < 3; i++) {
        host[i] = blend_media_prompt_ref(mine[i]);
    }
    play_released(h, call, host, 3, 42);
    int done = wait_play_done(h, 42);
    assert_string_equal(h->log[done].cause, "done");
    assert_int_equal(h->log[done].call, call);
    assert_int_equal(h->log[done].agent_id, 0);
    /* Exactly the prompts' frames went out, one packet each. */
    assert_int_equal(stat_of(h, STAT(rtp_prompt)), 30);
    /* Music after the play, then silence once it is off. */
    uint64_t moh0 = stat_of(h, STAT(rtp_moh));
    wait_stat(h, STAT(rtp_moh), moh0 + 10);
    assert_int_equal(blend_sip_call_moh(h->sip, call, 0), 0);
    uint64_t sil0 = stat_of(h, STAT(rtp_silence));
    wait_stat(h, STAT(rtp_silence), sil0 + 10);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1) > done);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.rtp_prompt, 30);
    int n = read_rtp(fd, pkts, 2048);
    close(fd);
    assert_int_equal((uint64_t)n, st.rtp_prompt + st.rtp_moh + st.rtp_silence);
    check_stream(pkts, n);
    /* Silence until the play starts (the answer comes first), then the 30 frames in order with
     * a marker on the first, then the music from its first frame (marker), then silence
     * (marker). */
    int i = 0;
    while (i < n && is_silence(&pkts[i]) && !is_frame(&pkts[i], mine[0], 0)) {
        i++;
    }
    assert_true(i + 30 < n);
    assert_true(pkts[i].marker);
    const size_t frames[3] = {10, 15, 5};
    for (int k = 0; k < 3; k++) {
        for (size_t f = 0; f < frames[k]; f++, i++) {
            assert_true(is_frame(&pkts[i], mine[k], f));
        }
    }
    assert_true(pkts[i].marker);
    size_t m = 0;
    for (; i < n && !is_silence(&pkts[i]); i++, m++) {
        assert_true(is_frame(&pkts[i], music, m % blend_media_prompt_frames(music)));
    }
    assert_int_equal(m, st.rtp_moh);
    assert_true(i < n && pkts[i].marker);
    for (; i < n; i++) {
        assert_true(is_silence(&pkts[i]));
    }
    for (int k = 0; k < 3; k++) {
        blend_media_prompt_free(mine[k]);
    }
    blend_media_prompt_free(music);
    assert_int_equal(unlink(moh), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* --- Replaced, stopped, cut by the end of the call ---------------------------------------- */

static void play_replaced_stopped_and_cut(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    int port;
    int fd = media_socket(&port);
    pid_t cust = customer(h, "ivr_listen.xml", "0", port);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    struct blend_media_prompt *p[2];
    /* Bad arguments: refused, no reference taken. */
    p[0] = tone_prompt(h->tmpdir, "long.wav", 5000, 600);
    p[1] = NULL;
    assert_int_equal(blend_sip_call_play(h->sip, call, p, 2, 1), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_play(h->sip, call, p, 0, 1), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_play(h->sip, call, p, BLEND_SIP_PLAY_PROMPTS_MAX + 1, 1),
                     BLEND_EINVAL);
    struct blend_media_prompt *keep = blend_media_prompt_ref(p[0]);
    struct blend_media_prompt *verify = blend_media_prompt_ref(p[0]);
    play_released(h, call, p, 1, 1);
    wait_stat(h, STAT(rtp_prompt), 5);
    /* A second play replaces the first, whose tag ends "replaced". */
    p[0] = blend_media_prompt_ref(keep);
    play_released(h, call, p, 1, 2);
    int rep = wait_play_done(h, 1);
    assert_string_equal(h->log[rep].cause, "replaced");
    uint64_t at = stat_of(h, STAT(rtp_prompt));
    wait_stat(h, STAT(rtp_prompt), at + 5);
    assert_int_equal(blend_sip_call_play_stop(h->sip, call), 0);
    int stop = wait_play_done(h, 2);
    assert_string_equal(h->log[stop].cause, "stopped");
    assert_true(stop > rep);
    assert_int_equal(blend_sip_call_play_stop(h->sip, call), 0); /* ignored: none */
    /* After the stop: silence (music is off). */
    uint64_t sil = stat_of(h, STAT(rtp_silence));
    wait_stat(h, STAT(rtp_silence), sil + 5);
    /* A third play is cut by the end of the call: no PLAY_DONE, the references go with it. */
    p[0] = keep;
    play_released(h, call, p, 1, 3);
    at = stat_of(h, STAT(rtp_prompt));
    wait_stat(h, STAT(rtp_prompt), at + 5);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > stop);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_PLAY_DONE), 2);
    /* Every packet of the three plays was a frame of the prompt's, each play from frame 0. */
    int n = read_rtp(fd, pkts, 2048);
    close(fd);
    check_stream(pkts, n);
    int plays = 0;
    size_t f = 0;
    for (int i = 0; i < n; i++) {
        if (is_silence(&pkts[i])) {
            continue;
        }
        plays += pkts[i].marker;
        f = pkts[i].marker ? 0 : f + 1;
        assert_true(is_frame(&pkts[i], verify, f));
    }
    assert_int_equal(plays, 3);
    blend_media_prompt_free(verify);
    /* harness_stop checks that nothing is left allocated (the prompt included). */
}

/* --- Keys of the unbridged customer -------------------------------------------------------- */

/* RFC 4733 keys while a 10 s prompt plays; the customer hangs up mid-play. */
static void keys_during_play_then_customer_hangs_up(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    pid_t cust = customer(h, "ivr_keys.xml", "300", 0);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    struct blend_media_prompt *p[1] = {tone_prompt(h->tmpdir, "menu.wav", 10000, 800)};
    play_released(h, call, p, 1, 9);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end >= 0);
    assert_string_equal(h->log[end].leg, "customer");
    assert_int_equal(h->log[end].agent_id, 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    char got[16];
    customer_digits(h, call, 0, got, sizeof(got));
    assert_string_equal(got, "1#1");
    for (int i = 0; i < h->log_n; i++) {
        if (h->log[i].kind == BLEND_SIP_EV_DTMF) {
            assert_int_equal(h->log[i].dtmf_duration_ms, 280);
            assert_true(i < end);
        }
    }
    /* The prompt was still playing when the customer left: no PLAY_DONE, nothing leaked. */
    assert_int_equal(count_events(h, BLEND_SIP_EV_PLAY_DONE), 0);
    assert_true(stat_of(h, STAT(rtp_prompt)) > 10);
    assert_int_equal(stat_of(h, STAT(rtp_to_agent)), 0);
}

/* A customer without telephone-event: its tones are detected in-band while unbridged. */
static void inband_keys_unbridged(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    write_inband_pcap(h->tmpdir, "4#4", 30);
    pid_t cust = customer(h, "customer_inband.xml", "1500", 0);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0); /* the scenario wants 180 */
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end >= 0);
    assert_string_equal(h->log[end].leg, "customer");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    char got[16];
    customer_digits(h, call, 0, got, sizeof(got));
    assert_string_equal(got, "4#4");
}

/* --- Voicemail -------------------------------------------------------------------------- */

struct mono {
    SF_INFO info;
    short *pcm;
};

static void mono_read(const char *path, struct mono *w)
{
    memset(w, 0, sizeof(*w));
    SNDFILE *f = sf_open(path, SFM_READ, &w->info);
    assert_non_null(f);
    assert_int_equal(w->info.channels, 1);
    assert_int_equal(w->info.samplerate, 8000);
    assert_int_equal(w->info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    w->pcm = calloc((size_t)w->info.frames + 1, sizeof(short));
    assert_non_null(w->pcm);
    assert_int_equal(sf_readf_short(f, w->pcm, w->info.frames), w->info.frames);
    sf_close(f);
}

static double mean_level(const struct mono *w)
{
    double sum = 0;
    for (sf_count_t i = 0; i < w->info.frames; i++) {
        sum += abs(w->pcm[i]);
    }
    return w->info.frames > 0 ? sum / (double)w->info.frames : 0;
}

static const struct blend_sip_event *recording_ended(struct harness *h, const char *path, int *at)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline) {
        drain(h);
        for (int i = 0; i < h->log_n; i++) {
            if (h->log[i].kind == BLEND_SIP_EV_RECORDING_ENDED &&
                strcmp(h->log[i].recording_path, path) == 0) {
                *at = i;
                return &h->log[i];
            }
        }
        usleep(5000);
    }
    fail_msg("no RECORDING_ENDED for %s", path);
    return NULL;
}

/* Two voicemails of the answered customer (speech for 3 s, then keys): the first ended by
 * record_stop, the second by the customer's BYE (its RECORDING_ENDED before CALL_ENDED). */
static void voicemail_records_the_customer(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    pid_t cust = customer(h, "ivr_keys.xml", "3000", 0);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    char one[160], two[160];
    snprintf(one, sizeof(one), "%s/vm1.wav", h->tmpdir);
    snprintf(two, sizeof(two), "%s/vm2.wav", h->tmpdir);
    assert_int_equal(blend_sip_call_voicemail_start(h->sip, call, one), 0);
    /* Paced by the customer's own packets (30 ms each, not relayed: counted as dropped). About
     * 0.4 s of the pcap are near silence: wait for 1.5 s of it. */
    uint64_t d0 = stat_of(h, STAT(rtp_dropped));
    wait_stat(h, STAT(rtp_dropped), d0 + 50);
    assert_int_equal(blend_sip_call_record_stop(h->sip, call), 0);
    int at1;
    const struct blend_sip_event *ev = recording_ended(h, one, &at1);
    assert_int_equal(ev->call, call);
    assert_int_equal(ev->agent_id, 0);
    assert_int_equal(ev->rec_error, 0);
    assert_true(ev->duration_ms >= 1000 && ev->duration_ms <= 10000);
    uint64_t dur1 = ev->duration_ms;
    /* The slot is free again: a second voicemail, ended by the call. */
    assert_int_equal(blend_sip_call_voicemail_start(h->sip, call, two), 0);
    /* A second one while it runs is refused (one recording per call). */
    assert_int_equal(blend_sip_call_record_start(h->sip, call, one), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > at1);
    int at2;
    ev = recording_ended(h, two, &at2);
    assert_true(at2 > at1 && at2 < end);
    assert_int_equal(ev->rec_error, 0);
    assert_true(ev->duration_ms >= 1000);
    uint64_t dur2 = ev->duration_ms;
    int refused = find_event(h, at1 + 1, BLEND_SIP_EV_RECORDING_ENDED, -1);
    assert_true(refused > at1 && refused < at2);
    assert_int_equal(h->log[refused].rec_error, BLEND_ESTATE);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.recordings, 2);
    struct stat sb;
    assert_int_equal(stat(one, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    struct mono w;
    mono_read(one, &w);
    assert_int_equal((uint64_t)w.info.frames / 8, dur1);
    assert_true(mean_level(&w) > 50); /* the customer's speech */
    free(w.pcm);
    mono_read(two, &w);
    assert_int_equal((uint64_t)w.info.frames / 8, dur2);
    free(w.pcm);
}

/* --- The customer kept when the agent leaves (post-call survey) ------------------------------ */

static void agent_leaves_customer_stays(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", AGENT);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", AGENT, "agent_hangup.xml", "8", "500");
    /* The customer talks for 3 s (the agent leaves after 0.5 s), then presses its keys. */
    pid_t cust = customer(h, "ivr_keys.xml", "3000", 0);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_keep_customer(h->sip, call, 1), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT, 30), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT);
    assert_true(an >= 0);
    int left = wait_event(h, BLEND_SIP_EV_AGENT_LEFT, AGENT);
    assert_true(left > an);
    assert_int_equal(h->log[left].call, call);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* The survey: a prompt to the customer, played to the end. */
    struct blend_media_prompt *p[2] = {tone_prompt(h->tmpdir, "q1.wav", 200, 700),
                                       tone_prompt(h->tmpdir, "q2.wav", 100, 900)};
    play_released(h, call, p, 2, 77);
    int done = wait_play_done(h, 77);
    assert_string_equal(h->log[done].cause, "done");
    assert_int_equal(h->log[done].agent_id, 0);
    assert_int_equal(stat_of(h, STAT(rtp_prompt)), 15);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > done);
    assert_string_equal(h->log[end].leg, "customer");
    assert_int_equal(h->log[end].agent_id, 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 1);
    char got[16];
    customer_digits(h, call, left, got, sizeof(got));
    assert_string_equal(got, "1#1");
}

/* --- An answered customer offered to an agent --------------------------------------------- */

static void offer_after_answer_stops_the_play(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", AGENT);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", AGENT, "agent_answer.xml", "8", "0");
    int port;
    int fd = media_socket(&port);
    pid_t cust = customer(h, "ivr_listen.xml", "0", port);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    struct blend_media_prompt *p[1] = {tone_prompt(h->tmpdir, "hold.wav", 10000, 600)};
    play_released(h, call, p, 1, 5);
    wait_stat(h, STAT(rtp_prompt), 5);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT, 30), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT);
    assert_true(an >= 0);
    int stop = wait_play_done(h, 5);
    assert_string_equal(h->log[stop].cause, "stopped");
    assert_true(stop < an);
    /* Bridged: a play now fails, and the prompt stream has ended. */
    uint64_t played = stat_of(h, STAT(rtp_prompt));
    p[0] = tone_prompt(h->tmpdir, "late.wav", 200, 600);
    play_released(h, call, p, 1, 6);
    int fail = wait_play_done(h, 6);
    assert_string_equal(h->log[fail].cause, "failed");
    assert_int_equal(h->log[fail].agent_id, AGENT);
    assert_int_equal(stat_of(h, STAT(rtp_prompt)), played);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > fail);
    assert_int_equal(h->log[end].agent_id, AGENT);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    close(fd);
}

/* --- Transfer to a number from the answered, unbridged state ------------------------------ */

/* A number through the trunk (a SIPp UAS on its own port that answers and sends A-law RTP)
 * takes the answered customer: the play ends "stopped" before OUTBOUND_PROGRESS 200, and the
 * two are bridged. */
static void transfer_after_answer_stops_the_play(void **state)
{
    (void)state;
    struct harness *h = &H;
    char tport[8], tmport[8], turi[64], sf[PATH_MAX + 64];
    snprintf(tport, sizeof(tport), "%d", free_port());
    snprintf(tmport, sizeof(tmport), "%d", free_port());
    snprintf(turi, sizeof(turi), "sip:127.0.0.1:%s", tport);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = turi;
    harness_start(h, &cfg);
    snprintf(sf, sizeof(sf), "%s/trunk_answer.xml", scenario_dir);
    const char *targs[] = {"-sf", sf,   "-s",   "trunk", "-p", tport,       "-mp", tmport,
                           "-t",  "u1", "-key", "codec", "8",  "-rtp_echo", NULL};
    pid_t trunk = sipp_spawn(h, "trunk", targs);
    int port;
    int fd = media_socket(&port);
    pid_t cust = customer(h, "ivr_listen.xml", "0", port);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_answer(h->sip, call), 0);
    struct blend_media_prompt *p[1] = {tone_prompt(h->tmpdir, "wait.wav", 10000, 600)};
    play_released(h, call, p, 1, 3);
    wait_stat(h, STAT(rtp_prompt), 5);
    assert_int_equal(blend_sip_call_transfer_number(h->sip, call, "+3312345"), 0);
    int64_t deadline = mono_ms() + WAIT_MS;
    int ok = -1;
    while (ok < 0 && mono_ms() < deadline) {
        drain(h);
        for (int i = 0; i < h->log_n; i++) {
            if (h->log[i].kind == BLEND_SIP_EV_OUTBOUND_PROGRESS && h->log[i].sip_code == 200) {
                ok = i;
            }
        }
        usleep(5000);
    }
    assert_true(ok >= 0);
    assert_string_equal(h->log[ok].leg, "transfer");
    int stop = wait_play_done(h, 3);
    assert_string_equal(h->log[stop].cause, "stopped");
    assert_true(stop < ok);
    /* The trunk's RTP (echoed) now reaches the customer through the relay. */
    wait_stat(h, STAT(rtp_to_customer), 5);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > ok);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, trunk, "trunk"), 0);
    close(fd);
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    if (access(PCAP_DTMF_1, R_OK) != 0) {
        fprintf(stderr, "%s is missing (package sip-tester)\n", PCAP_DTMF_1);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(answer_gives_silence, harness_stop),
        cmocka_unit_test_teardown(play_sequence_then_music_then_silence, harness_stop),
        cmocka_unit_test_teardown(play_replaced_stopped_and_cut, harness_stop),
        cmocka_unit_test_teardown(keys_during_play_then_customer_hangs_up, harness_stop),
        cmocka_unit_test_teardown(inband_keys_unbridged, harness_stop),
        cmocka_unit_test_teardown(voicemail_records_the_customer, harness_stop),
        cmocka_unit_test_teardown(agent_leaves_customer_stays, harness_stop),
        cmocka_unit_test_teardown(offer_after_answer_stops_the_play, harness_stop),
        cmocka_unit_test_teardown(transfer_after_answer_stops_the_play, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
