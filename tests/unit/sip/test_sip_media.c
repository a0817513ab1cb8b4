/*
 * Music on hold and call recording through Blend against SIPp on loopback. Music on hold: the
 * agent phone holds, the customer's media address is a socket of the test's own, so the test
 * reads every packet Blend sends to the held party (one RTP stream of Blend's: SSRC, sequence,
 * timestamp, marker, payload = the prompt's frames in the customer's codec; silence without a
 * prompt; nothing after the resume) while neither phone sends media; a bad music file fails
 * the start. Recording: the customer plays the A-law pcap and the agent phone echoes it; the
 * WAV files Blend writes are read back with sndfile (stereo 8 kHz, length, audio on both
 * channels, a pause's span silent on both), and RECORDING_ENDED is checked (order before
 * CALL_ENDED, duration, spans, refusals). The test plays the host; every wait is bounded and
 * media-paced waits count packets, not time.
 */
#include "base/alloc.h"
#include "media/media.h"
#include "sip/sip_int.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <math.h>
#include <sndfile.h>

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "call_harness.h"

static pid_t customer_start_key(struct harness *h, const char *scenario, const char *pause_ms,
                                const char *key, const char *value)
{
    char target[64], sf[PATH_MAX + 64], mport[8];
    target_of(h, target, sizeof(target));
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    snprintf(mport, sizeof(mport), "%d", free_port());
    const char *args[] = {"-sf", sf,   "-s", DIALLED,  "-key", "caller", CALLER, "-mp",  mport,
                          "-t",  "u1", "-d", pause_ms, "-key", key,      value,  target, NULL};
    return sipp_spawn(h, "customer", args);
}

/* Waits (bounded) until at least n more RTP packets went to the agent than in `before`. */
static void wait_rtp_to_agent(struct harness *h, uint64_t before, uint64_t n)
{
    struct blend_sip_stats st;
    int64_t deadline = mono_ms() + WAIT_MS;
    do {
        blend_sip_stats_get(h->sip, &st);
    } while (st.rtp_to_agent < before + n && mono_ms() < deadline && usleep(5000) == 0);
    assert_true(st.rtp_to_agent >= before + n);
}

/* A bridged call: agent 7's phone runs agent_scenario (with -rtp_echo), the customer runs
 * cust_scenario with "-key key value"; returns the call id once the agent answered. */
static uint64_t bridged(struct harness *h, struct phone *a, const char *agent_scenario,
                        const char *agent_pause, const char *cust_scenario, const char *cust_pause,
                        const char *key, const char *value, pid_t *cust, bool ringing)
{
    add_account(h, "2001", "agentpw1", 7);
    phone_start(h, a, "agent", "2001", "agentpw1", 7, agent_scenario, "8", agent_pause);
    *cust = customer_start_key(h, cust_scenario, cust_pause, key, value);
    int i = wait_event(h, BLEND_SIP_EV_CALL_INCOMING, -1);
    assert_true(i >= 0);
    uint64_t call = h->log[i].call;
    if (ringing) {
        assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    }
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7) >= 0);
    return call;
}

/* --- Music on hold ------------------------------------------------------------------------ */

/* A mono 16 kHz WAV of a 1 kHz tone whose level changes every 100 ms (so consecutive frames
 * differ and the test can tell which frame a packet carries). */
static void write_tone(const char *path, int seconds)
{
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    static short pcm[16000];
    for (int s = 0; s < seconds; s++) {
        for (int i = 0; i < 16000; i++) {
            double level = 2000.0 + 1500.0 * (double)((i / 1600) % 10);
            pcm[i] = (short)(level * sin(2.0 * 3.14159265358979 * 1000.0 * (double)i / 16000.0));
        }
        assert_int_equal(sf_writef_short(f, pcm, 16000), 16000);
    }
    assert_int_equal(sf_close(f), 0);
}

/* Waits (bounded) until n events of kind were seen; returns the index of the n-th. */
static int wait_count(struct harness *h, enum blend_sip_event_kind kind, int n)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        drain(h);
        for (int i = 0, seen = 0; i < h->log_n; i++) {
            if (h->log[i].kind == kind && ++seen == n) {
                return i;
            }
        }
        if (mono_ms() > deadline) {
            fail_msg("fewer than %d %s events", n, blend_sip_event_kind_name(kind));
        }
        usleep(5000);
    }
}

/* The agent holds `holds` times for 300 ms (agent_scenario), 300 ms apart; the customer
 * (cust_scenario) sends nothing and its media address is the test's socket: every packet there
 * is music on hold. Reads them into pkts and checks the stream: one SSRC, sequence + 1 all
 * along, timestamp + 160 within a hold and advanced by the time between holds, the marker on
 * the first packet of each hold, A-law (the customer's codec); and that the music stopped at
 * each resume while neither phone sent media. Returns the count. */
static int moh_call(struct harness *h, struct rtp_pkt *pkts, int cap, const char *agent_scenario,
                    const char *cust_scenario, int holds)
{
    struct phone a;
    pid_t cust;
    int port;
    int fd = media_socket(&port);
    char port_s[8];
    snprintf(port_s, sizeof(port_s), "%d", port);
    uint64_t call = bridged(h, &a, agent_scenario, "300", cust_scenario, "300", "rtpport", port_s,
                            &cust, false);
    int held = wait_event(h, BLEND_SIP_EV_CALL_HELD, -1);
    assert_true(held >= 0);
    assert_int_equal(h->log[held].call, call);
    assert_string_equal(h->log[held].leg, "agent");
    int res = wait_count(h, BLEND_SIP_EV_CALL_RESUMED, holds);
    /* The music stops with the last resume, in the same step of the thread as the event. */
    struct blend_sip_stats at_resume, st;
    blend_sip_stats_get(h->sip, &at_resume);
    assert_true(wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1) > res);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_HELD), holds);
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.rtp_moh, at_resume.rtp_moh);
    /* Neither phone sent media: the customer has no RTP source, the agent only echoes. */
    assert_int_equal(st.rtp_to_agent, 0);
    assert_int_equal(st.rtp_to_customer, 0);
    int n = read_rtp(fd, pkts, cap);
    close(fd);
    /* About 15 packets per 300 ms hold; a slow machine holds longer, never shorter. */
    assert_true(n >= 5 * holds);
    assert_int_equal((uint64_t)n, st.rtp_moh);
    int markers = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(pkts[i].pt, 8);
        assert_int_equal(pkts[i].len, BLEND_MEDIA_FRAME_BYTES);
        assert_int_equal(pkts[i].ssrc, pkts[0].ssrc);
        markers += pkts[i].marker;
        assert_true(i > 0 || pkts[i].marker);
        if (i == 0) {
            continue;
        }
        assert_int_equal((uint16_t)(pkts[i].seq - pkts[i - 1].seq), 1);
        uint32_t dts = pkts[i].ts - pkts[i - 1].ts;
        if (!pkts[i].marker) {
            assert_int_equal(dts, BLEND_MEDIA_FRAME_SAMPLES);
        } else {
            /* A new hold: the clock ran on through the ~300 ms between the holds. */
            assert_true(dts >= 200 * 8 && dts < WAIT_MS * 8);
        }
    }
    assert_int_equal(markers, holds);
    return n;
}

static struct rtp_pkt moh_pkts[512];

static void moh_plays_prompt_to_held_customer(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    char wav[128];
    /* The harness directory exists only once started: the tone goes in a directory of its own. */
    char dir[] = "/tmp/blend-moh-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(wav, sizeof(wav), "%s/moh.wav", dir);
    write_tone(wav, 3);
    cfg.moh_path = wav;
    harness_start(h, &cfg);
    struct blend_media_prompt *p;
    assert_int_equal(blend_media_prompt_load(wav, &p), 0);
    int n = moh_call(h, moh_pkts, 512, "agent_holds.xml", "customer_moh.xml", 1);
    /* The prompt's frames from the first one, in order, in A-law. */
    for (int i = 0; i < n; i++) {
        uint8_t want[BLEND_MEDIA_FRAME_BYTES];
        assert_int_equal(blend_media_prompt_frame(p, (size_t)i % blend_media_prompt_frames(p),
                                                  BLEND_MEDIA_PCMA, want),
                         0);
        assert_memory_equal(moh_pkts[i].payload, want, BLEND_MEDIA_FRAME_BYTES);
    }
    blend_media_prompt_free(p);
    assert_int_equal(unlink(wav), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Two holds: one stream (SSRC and sequence continue, the timestamp follows the clock between
 * the holds), and the music starts again from its beginning at each hold. */
static void moh_stream_continues_across_holds(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    char wav[128];
    char dir[] = "/tmp/blend-moh-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(wav, sizeof(wav), "%s/moh.wav", dir);
    write_tone(wav, 3);
    cfg.moh_path = wav;
    harness_start(h, &cfg);
    struct blend_media_prompt *p;
    assert_int_equal(blend_media_prompt_load(wav, &p), 0);
    int n = moh_call(h, moh_pkts, 512, "agent_holds_twice.xml", "customer_moh_twice.xml", 2);
    size_t frame = 0;
    for (int i = 0; i < n; i++) {
        frame = moh_pkts[i].marker ? 0 : frame + 1;
        uint8_t want[BLEND_MEDIA_FRAME_BYTES];
        assert_int_equal(blend_media_prompt_frame(p, frame % blend_media_prompt_frames(p),
                                                  BLEND_MEDIA_PCMA, want),
                         0);
        assert_memory_equal(moh_pkts[i].payload, want, BLEND_MEDIA_FRAME_BYTES);
    }
    blend_media_prompt_free(p);
    assert_int_equal(unlink(wav), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void moh_silence_without_prompt(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    cfg.moh_path = "";
    harness_start(h, &cfg);
    int n = moh_call(h, moh_pkts, 512, "agent_holds.xml", "customer_moh.xml", 1);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < BLEND_MEDIA_FRAME_BYTES; k++) {
            assert_int_equal(moh_pkts[i].payload[k], blend_media_silence_byte(BLEND_MEDIA_PCMA));
        }
    }
}

static void moh_bad_file_fails_start(void **state)
{
    (void)state;
    char dir[] = "/tmp/blend-moh-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/missing.wav", dir);
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0", .moh_path = path};
    struct blend_sip *sip = NULL;
    assert_int_equal(blend_sip_start(&cfg, &sip), BLEND_ENOENT);
    assert_null(sip);
    snprintf(path, sizeof(path), "%s/text.wav", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a sound file, whatever its name says\n", f);
    fclose(f);
    assert_int_equal(blend_sip_start(&cfg, &sip), BLEND_EPARSE);
    assert_null(sip);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(blend_alloc_live(), 0);
}

/* --- Recording ---------------------------------------------------------------------------- */

struct wav {
    SF_INFO info;
    short *pcm; /* interleaved: customer left, agent right */
};

static void wav_read(const char *path, struct wav *w)
{
    memset(w, 0, sizeof(*w));
    SNDFILE *f = sf_open(path, SFM_READ, &w->info);
    assert_non_null(f);
    assert_int_equal(w->info.channels, 2);
    assert_int_equal(w->info.samplerate, 8000);
    assert_int_equal(w->info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    w->pcm = calloc((size_t)w->info.frames * 2 + 2, sizeof(short));
    assert_non_null(w->pcm);
    assert_int_equal(sf_readf_short(f, w->pcm, w->info.frames), w->info.frames);
    sf_close(f);
}

/* Mean absolute sample of one channel over frames [from, to). */
static double level(const struct wav *w, int ch, sf_count_t from, sf_count_t to)
{
    double sum = 0;
    for (sf_count_t i = from; i < to; i++) {
        sum += abs(w->pcm[i * 2 + ch]);
    }
    return to > from ? sum / (double)(to - from) : 0;
}

static const struct blend_sip_event *recording_ended(struct harness *h, const char *path)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline) {
        drain(h);
        for (int i = 0; i < h->log_n; i++) {
            if (h->log[i].kind == BLEND_SIP_EV_RECORDING_ENDED &&
                strcmp(h->log[i].recording_path, path) == 0) {
                return &h->log[i];
            }
        }
        usleep(5000);
    }
    fail_msg("no RECORDING_ENDED for %s", path);
    return NULL;
}

/* A 2 s call (the customer plays A-law, the agent echoes) recorded from the answer; the
 * customer's BYE ends the recording, before CALL_ENDED. */
static void record_whole_call(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", "customer_call.xml", "2000", "unused",
                            "0", &cust, true);
    char path[160];
    snprintf(path, sizeof(path), "%s/call.wav", h->tmpdir);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, path), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end >= 0);
    const struct blend_sip_event *ev = recording_ended(h, path);
    assert_true(ev < &h->log[end]);
    assert_int_equal(ev->call, call);
    assert_int_equal(ev->agent_id, 7);
    assert_int_equal(ev->rec_error, 0);
    assert_int_equal(ev->paused_count, 0);
    /* About 2 s: the call lasted 2 s after the answer (a slow machine makes it longer). */
    assert_true(ev->duration_ms >= 1500 && ev->duration_ms <= 6000);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.recordings, 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    struct wav w;
    wav_read(path, &w);
    assert_int_equal((uint64_t)w.info.frames / 8, ev->duration_ms);
    /* Speech on both channels: the customer's pcap left, the agent's echo of it right. */
    assert_true(level(&w, 0, 0, w.info.frames) > 100);
    assert_true(level(&w, 1, 0, w.info.frames) > 100);
    free(w.pcm);
}

/* Pause in the middle: a silent span in the file, reported by the event. */
static void record_pause_gives_silent_span(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", "customer_call.xml", "4000", "unused",
                            "0", &cust, true);
    char path[160];
    snprintf(path, sizeof(path), "%s/paused.wav", h->tmpdir);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, path), 0);
    /* Paced by the media itself (the pcap's packets are 30 ms): ~0.9 s of audio recorded,
     * ~0.9 s paused, then the rest. The pcap starts with ~0.4 s of near silence. */
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    wait_rtp_to_agent(h, st.rtp_to_agent, 30);
    assert_int_equal(blend_sip_call_record_pause(h->sip, call), 0);
    /* A second pause is refused and changes nothing. */
    assert_int_equal(blend_sip_call_record_pause(h->sip, call), 0);
    blend_sip_stats_get(h->sip, &st);
    wait_rtp_to_agent(h, st.rtp_to_agent, 30);
    assert_int_equal(blend_sip_call_record_resume(h->sip, call), 0);
    const struct blend_sip_event *ev = recording_ended(h, path);
    assert_int_equal(ev->rec_error, 0);
    assert_int_equal(ev->paused_count, 1);
    uint64_t s = ev->paused[0].start_ms, e = ev->paused[0].end_ms;
    assert_true(s >= 400 && e > s + 400 && e < ev->duration_ms);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct wav w;
    wav_read(path, &w);
    assert_int_equal((uint64_t)w.info.frames / 8, ev->duration_ms);
    /* Silent exactly over the span, on both channels; audio before and after it. */
    for (sf_count_t i = (sf_count_t)s * 8; i < (sf_count_t)e * 8; i++) {
        assert_int_equal(w.pcm[i * 2], 0);
        assert_int_equal(w.pcm[i * 2 + 1], 0);
    }
    assert_true(level(&w, 0, 0, (sf_count_t)s * 8) > 50);
    assert_true(level(&w, 0, (sf_count_t)e * 8, w.info.frames) > 100);
    assert_true(level(&w, 1, (sf_count_t)e * 8, w.info.frames) > 100);
    free(w.pcm);
}

/* Stop by command while the call goes on, a second recording until the call ends, and the
 * refusals: an existing file, a missing directory, a second start while recording. */
static void record_stop_restart_and_refusals(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", "customer_call.xml", "3000", "unused",
                            "0", &cust, true);
    char first[160], second[160], missing[160];
    snprintf(first, sizeof(first), "%s/first.wav", h->tmpdir);
    snprintf(second, sizeof(second), "%s/second.wav", h->tmpdir);
    snprintf(missing, sizeof(missing), "%s/no/such/dir.wav", h->tmpdir);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, first), 0);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, second), 0); /* busy */
    const struct blend_sip_event *ev = recording_ended(h, second);
    assert_int_equal(ev->rec_error, BLEND_ESTATE);
    assert_int_equal(ev->duration_ms, 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    wait_rtp_to_agent(h, st.rtp_to_agent, 25);
    assert_int_equal(blend_sip_call_record_stop(h->sip, call), 0);
    ev = recording_ended(h, first);
    assert_int_equal(ev->rec_error, 0);
    assert_true(ev->duration_ms >= 400);
    uint64_t first_ms = ev->duration_ms;
    /* The first file exists now: it is never overwritten. */
    assert_int_equal(blend_sip_call_record_start(h->sip, call, first), 0);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, missing), 0);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, second), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end >= 0);
    int refused = 0;
    for (int i = 0; i < end; i++) {
        const struct blend_sip_event *e = &h->log[i];
        if (e->kind == BLEND_SIP_EV_RECORDING_ENDED && strcmp(e->recording_path, first) == 0 &&
            e->rec_error == BLEND_EEXIST) {
            refused++;
        }
        if (e->kind == BLEND_SIP_EV_RECORDING_ENDED && strcmp(e->recording_path, missing) == 0) {
            assert_int_equal(e->rec_error, BLEND_ENOENT);
            refused++;
        }
    }
    assert_int_equal(refused, 2);
    /* The second recording was finalised when the call ended, before CALL_ENDED. */
    int last = -1;
    for (int i = 0; i < h->log_n; i++) {
        if (h->log[i].kind == BLEND_SIP_EV_RECORDING_ENDED &&
            strcmp(h->log[i].recording_path, second) == 0 && h->log[i].rec_error == 0) {
            last = i;
        }
    }
    assert_true(last >= 0 && last < end);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct wav w;
    wav_read(first, &w);
    assert_int_equal((uint64_t)w.info.frames / 8, first_ms);
    free(w.pcm);
    wav_read(second, &w);
    assert_int_equal((uint64_t)w.info.frames / 8, h->log[last].duration_ms);
    assert_true(level(&w, 0, 0, w.info.frames) > 100);
    free(w.pcm);
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.recordings, 2);
}

static void record_bad_arguments(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    char longpath[BLEND_SIP_RECORD_PATH_BYTES_MAX + 8];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(blend_sip_call_record_start(NULL, 1, "/tmp/x.wav"), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_start(h->sip, 0, "/tmp/x.wav"), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_start(h->sip, 1, NULL), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_start(h->sip, 1, ""), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_start(h->sip, 1, longpath), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_pause(NULL, 1), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_resume(h->sip, 0), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_record_stop(h->sip, 0), BLEND_EINVAL);
    /* Commands for a call the thread does not know are ignored: no file, no event. They are
     * applied in order before the stop command, so the file would exist after the stop. */
    char path[160];
    snprintf(path, sizeof(path), "%s/nocall.wav", h->tmpdir);
    assert_int_equal(blend_sip_call_record_start(h->sip, 99, path), 0);
    assert_int_equal(blend_sip_call_record_pause(h->sip, 99), 0);
    assert_int_equal(blend_sip_call_record_stop(h->sip, 99), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.commands_rejected, 0);
    blend_sip_stop(h->sip);
    h->sip = NULL;
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(st.recordings, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", h->tmpdir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(moh_bad_file_fails_start, harness_stop),
        cmocka_unit_test_teardown(moh_plays_prompt_to_held_customer, harness_stop),
        cmocka_unit_test_teardown(moh_stream_continues_across_holds, harness_stop),
        cmocka_unit_test_teardown(moh_silence_without_prompt, harness_stop),
        cmocka_unit_test_teardown(record_bad_arguments, harness_stop),
        cmocka_unit_test_teardown(record_whole_call, harness_stop),
        cmocka_unit_test_teardown(record_pause_gives_silent_span, harness_stop),
        cmocka_unit_test_teardown(record_stop_restart_and_refusals, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
