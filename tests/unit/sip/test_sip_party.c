/*
 * A third party on a call, through Blend against real peers on loopback: a supervisor's phone
 * (SIPp, registered as another agent) listening, whispering and barging in, switched live, then
 * dropped; a consultation with a second agent completed as an attended transfer; a
 * consultation with a number on the outbound trunk (SIPp UAS); a busy party, a party that does
 * not answer, a second party refused; the agent hanging up during a conference (the customer
 * stays with the party); the customer hanging up during monitoring (everything ends, in order).
 * Who hears whom is checked on the mixer's counters (packets to a customer / agent that carried
 * party audio), and strictly on the mixer's pure rules: every mode and listener against a table
 * written out here, and the saturating sum of the frames. Every wait is bounded; nothing
 * asserts on speed.
 */
#include "base/alloc.h"
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

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "call_harness.h"

#define NUMBER "+3312345"
#define AGENT 7
#define SUPERVISOR 9
#define AGENT_B 8

/* --- The mixer's rules, strictly --------------------------------------------------------- */

/* Who hears whom, written out per mode (C customer, A agent, P party, M music), no holds. */
static const char *const TABLE[6][3] = {
    [BLEND_SIP_PARTY_LISTEN] = {"A", "C", "CA"},
    [BLEND_SIP_PARTY_WHISPER] = {"A", "CP", "CA"},
    [BLEND_SIP_PARTY_BARGE] = {"AP", "CP", "CA"},
    [BLEND_SIP_PARTY_CONSULT] = {"M", "P", "A"},
    [BLEND_SIP_PARTY_CONFERENCE] = {"AP", "CP", "CA"},
};

static uint32_t mask_of(const char *letters)
{
    uint32_t m = 0;
    for (const char *p = letters; *p; p++) {
        m |= 1u << (*p == 'C'   ? BLEND__SIP_CUSTOMER
                    : *p == 'A' ? BLEND__SIP_AGENT
                    : *p == 'P' ? BLEND__SIP_PARTY
                                : BLEND__SIP_MIX_MOH);
    }
    return m;
}

static void mix_table(void **state)
{
    (void)state;
    const bool none[3] = {false, false, false};
    for (int mode = BLEND_SIP_PARTY_LISTEN; mode <= BLEND_SIP_PARTY_CONFERENCE; mode++) {
        for (int l = 0; l < 3; l++) {
            assert_int_equal(blend__sip_mix_hears(mode, (enum blend__sip_side)l, none),
                             mask_of(TABLE[mode][l]));
        }
    }
    /* Holds: the holding side is nobody's source; the customer or agent hears music in place of
     * the one holding, never while holding itself; a party gets no music. */
    const struct {
        int mode;
        bool held[3];
        const char *hears[3];
    } cases[] = {
        {BLEND_SIP_PARTY_BARGE, {true, false, false}, {"AP", "PM", "A"}},
        {BLEND_SIP_PARTY_BARGE, {false, true, false}, {"PM", "CP", "C"}},
        {BLEND_SIP_PARTY_BARGE, {true, true, false}, {"P", "P", ""}},
        {BLEND_SIP_PARTY_LISTEN, {false, false, true}, {"A", "C", "CA"}},
        {BLEND_SIP_PARTY_WHISPER, {false, false, true}, {"A", "C", "CA"}},
        {BLEND_SIP_PARTY_LISTEN, {true, false, false}, {"A", "M", "A"}},
        {BLEND_SIP_PARTY_CONSULT, {true, false, false}, {"", "P", "A"}},
        {BLEND_SIP_PARTY_CONSULT, {false, true, false}, {"M", "P", ""}},
        {BLEND_SIP_PARTY_CONFERENCE, {false, false, true}, {"A", "C", "CA"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int l = 0; l < 3; l++) {
            uint32_t got =
                blend__sip_mix_hears(cases[i].mode, (enum blend__sip_side)l, cases[i].held);
            if (got != mask_of(cases[i].hears[l])) {
                fail_msg("case %zu listener %d: mask %#x, want %s", i, l, got, cases[i].hears[l]);
            }
        }
    }
}

static int16_t clamp16(int32_t v)
{
    return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

static void mix_sums(void **state)
{
    (void)state;
    static int16_t src[BLEND__SIP_MIX_SOURCES][BLEND_MEDIA_FRAME_SAMPLES];
    uint32_t seed = 12345;
    for (int s = 0; s < BLEND__SIP_MIX_SOURCES; s++) {
        for (int i = 0; i < BLEND_MEDIA_FRAME_SAMPLES; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Loud samples, so sums of two or three often leave the int16 range. */
            src[s][i] = (int16_t)((int32_t)(seed >> 8) % 65536 - 32768);
        }
    }
    src[0][0] = 30000, src[1][0] = 30000, src[2][0] = 30000;
    src[0][1] = -30000, src[1][1] = -30000, src[2][1] = -30000;
    src[0][2] = 30000, src[1][2] = -30000, src[2][2] = 5;
    int16_t out[BLEND_MEDIA_FRAME_SAMPLES];
    const bool none[3] = {false, false, false};
    int saturated = 0;
    for (int missing = -1; missing < BLEND__SIP_MIX_SOURCES; missing++) {
        const int16_t *frames[BLEND__SIP_MIX_SOURCES];
        for (int s = 0; s < BLEND__SIP_MIX_SOURCES; s++) {
            frames[s] = s == missing ? NULL : src[s];
        }
        for (int mode = BLEND_SIP_PARTY_LISTEN; mode <= BLEND_SIP_PARTY_CONFERENCE; mode++) {
            for (int l = 0; l < 3; l++) {
                uint32_t mask = blend__sip_mix_hears(mode, (enum blend__sip_side)l, none);
                blend__sip_mix(mask, frames, out);
                for (int i = 0; i < BLEND_MEDIA_FRAME_SAMPLES; i++) {
                    int32_t want = 0;
                    for (const char *p = TABLE[mode][l]; *p; p++) {
                        int s = (int)__builtin_ctz(mask_of((char[]){*p, 0}));
                        want += frames[s] ? frames[s][i] : 0;
                    }
                    saturated += want > INT16_MAX || want < INT16_MIN;
                    if (out[i] != clamp16(want)) {
                        fail_msg("mode %d listener %d sample %d: %d, want %d", mode, l, i, out[i],
                                 clamp16(want));
                    }
                }
            }
        }
    }
    assert_true(saturated > 0);
    /* The explicit samples: two loud sources clip at the rails, opposite ones cancel. */
    const int16_t *frames[BLEND__SIP_MIX_SOURCES] = {src[0], src[1], src[2], NULL};
    blend__sip_mix(mask_of("CAP"), frames, out);
    assert_int_equal(out[0], INT16_MAX);
    assert_int_equal(out[1], INT16_MIN);
    assert_int_equal(out[2], 5);
    /* Nothing to hear is silence. */
    blend__sip_mix(0, frames, out);
    for (int i = 0; i < BLEND_MEDIA_FRAME_SAMPLES; i++) {
        assert_int_equal(out[i], 0);
    }
}

/* --- Against real peers ------------------------------------------------------------------ */

struct trunk {
    char port[8], mport[8], uri[64];
    pid_t pid;
};

static void trunk_reserve(struct trunk *t)
{
    snprintf(t->port, sizeof(t->port), "%d", free_port());
    snprintf(t->mport, sizeof(t->mport), "%d", free_port());
    snprintf(t->uri, sizeof(t->uri), "sip:127.0.0.1:%s", t->port);
}

static void trunk_start(struct harness *h, struct trunk *t, const char *scenario)
{
    char sf[PATH_MAX + 64];
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    const char *args[] = {"-sf", sf,   "-s",   "trunk", "-p", t->port,     "-mp", t->mport,
                          "-t",  "u1", "-key", "codec", "0",  "-rtp_echo", NULL};
    t->pid = sipp_spawn(h, "trunk", args);
}

static uint64_t stat_of(struct harness *h, size_t offset)
{
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    uint64_t v;
    memcpy(&v, (const char *)&st + offset, sizeof(v));
    return v;
}

#define STAT(h, field) stat_of(h, offsetof(struct blend_sip_stats, field))

/* Waits (bounded) until the counter at offset exceeds value; returns whether it did. */
static bool wait_stat_above(struct harness *h, size_t offset, uint64_t value)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    while (stat_of(h, offset) <= value) {
        if (mono_ms() > deadline) {
            fprintf(stderr, "counter at %zu stayed at %llu\n", offset,
                    (unsigned long long)stat_of(h, offset));
            return false;
        }
        usleep(10000);
    }
    return true;
}

#define WAIT_ABOVE(h, field, value)                                                                \
    assert_true(wait_stat_above(h, offsetof(struct blend_sip_stats, field), value))

/* The index of the first event of kind at or after from (bounded wait). */
static int wait_from(struct harness *h, int from, enum blend_sip_event_kind kind)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        drain(h);
        int i = find_event(h, from, kind, -1);
        if (i >= 0) {
            return i;
        }
        if (mono_ms() > deadline) {
            fprintf(stderr, "no %s after event %d; events so far:\n",
                    blend_sip_event_kind_name(kind), from);
            for (int k = 0; k < h->log_n; k++) {
                fprintf(stderr, "  %s agent=%lld code=%d cause=%s leg=%s\n",
                        blend_sip_event_kind_name(h->log[k].kind), (long long)h->log[k].agent_id,
                        h->log[k].sip_code, h->log[k].cause, h->log[k].leg);
            }
            return -1;
        }
        usleep(5000);
    }
}

/* Customer (party_customer.xml: media until Blend's BYE) bridged to agent 7. */
static uint64_t bridged(struct harness *h, struct phone *a, const char *agent_scenario,
                        const char *agent_pause, pid_t *cust)
{
    add_account(h, "2001", "agentpw1", AGENT);
    phone_start(h, a, "agent", "2001", "agentpw1", AGENT, agent_scenario, "8", agent_pause);
    *cust = customer_start(h, "party_customer.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT) >= 0);
    return call;
}

/* The party answers: PARTY_RINGING then PARTY_ANSWERED for agent (or the number). */
static int party_answered(struct harness *h, uint64_t call, int64_t agent, const char *dialled,
                          int mode)
{
    int r = wait_event(h, BLEND_SIP_EV_PARTY_RINGING, agent);
    assert_true(r >= 0);
    assert_int_equal(h->log[r].call, call);
    assert_string_equal(h->log[r].dialled, dialled);
    int an = wait_event(h, BLEND_SIP_EV_PARTY_ANSWERED, agent);
    assert_true(an > r);
    assert_int_equal(h->log[an].call, call);
    assert_string_equal(h->log[an].dialled, dialled);
    assert_int_equal(h->log[an].party_mode, mode);
    return an;
}

static int switch_mode(struct harness *h, uint64_t call, int64_t party, int from,
                       enum blend_sip_party_mode mode)
{
    assert_int_equal(blend_sip_call_party_mode(h->sip, call, mode), 0);
    int m = wait_from(h, from, BLEND_SIP_EV_PARTY_MODE);
    assert_true(m >= 0);
    assert_int_equal(h->log[m].party_mode, (int)mode);
    assert_int_equal(h->log[m].agent_id, party);
    return m;
}

static void monitor_listen_whisper_barge_drop(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "3001", "superpw", SUPERVISOR);
    struct phone a, s;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", &cust);
    /* Two parties: the relay forwards without decoding (nothing is mixed). */
    WAIT_ABOVE(h, rtp_to_customer, 20);
    WAIT_ABOVE(h, rtp_to_agent, 20);
    assert_int_equal(STAT(h, rtp_mixed), 0);
    /* The recording goes on through the mix (mixed frames on the agent channel). */
    char wav[128];
    snprintf(wav, sizeof(wav), "%s/monitored.wav", h->tmpdir);
    assert_int_equal(blend_sip_call_record_start(h->sip, call, wav), 0);
    phone_start(h, &s, "super", "3001", "superpw", SUPERVISOR, "agent_answer.xml", "0", "0");
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, SUPERVISOR, NULL, BLEND_SIP_PARTY_LISTEN, 30), 0);
    int an = party_answered(h, call, SUPERVISOR, "", BLEND_SIP_PARTY_LISTEN);
    assert_string_equal(h->log[an].cause, "pcmu");
    /* Listen: the supervisor gets the mix and echoes it back; nobody hears it. */
    uint64_t from_party = STAT(h, rtp_from_party);
    WAIT_ABOVE(h, rtp_to_party, 50);
    WAIT_ABOVE(h, rtp_from_party, from_party + 50);
    assert_int_equal(STAT(h, mix_party_to_customer), 0);
    assert_int_equal(STAT(h, mix_party_to_agent), 0);
    /* Whisper: the agent hears the supervisor, the customer still does not. */
    int m = switch_mode(h, call, SUPERVISOR, an, BLEND_SIP_PARTY_WHISPER);
    WAIT_ABOVE(h, mix_party_to_agent, 20);
    assert_int_equal(STAT(h, mix_party_to_customer), 0);
    /* Barge: the customer hears the supervisor too. */
    m = switch_mode(h, call, SUPERVISOR, m + 1, BLEND_SIP_PARTY_BARGE);
    WAIT_ABOVE(h, mix_party_to_customer, 20);
    /* Drop: the supervisor gets BYE; customer and agent go on, relayed without mixing. */
    assert_int_equal(blend_sip_call_party_drop(h->sip, call), 0);
    int e = wait_from(h, m, BLEND_SIP_EV_PARTY_ENDED);
    assert_true(e > m);
    assert_int_equal(h->log[e].agent_id, SUPERVISOR);
    assert_int_equal(h->log[e].sip_code, 0);
    assert_string_equal(h->log[e].cause, "dropped");
    assert_int_equal(sipp_wait(h, s.pid, s.tag), 0);
    uint64_t mixed = STAT(h, rtp_mixed);
    uint64_t to_cust = STAT(h, rtp_to_customer), to_agent = STAT(h, rtp_to_agent);
    WAIT_ABOVE(h, rtp_to_customer, to_cust + 20);
    WAIT_ABOVE(h, rtp_to_agent, to_agent + 20);
    assert_int_equal(STAT(h, rtp_mixed), mixed);
    assert_int_equal(blend_sip_call_record_stop(h->sip, call), 0);
    int rec = wait_event(h, BLEND_SIP_EV_RECORDING_ENDED, -1);
    assert_true(rec > e);
    assert_int_equal(h->log[rec].rec_error, 0);
    assert_true(h->log[rec].duration_ms > 500);
    /* No second PARTY_ENDED, the call is still up. */
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_PARTY_ENDED), 1);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > e);
    assert_int_equal(h->log[end].agent_id, AGENT);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(STAT(h, parties), 1);
}

static void consult_then_complete(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2002", "agentpw2", AGENT_B);
    struct phone a, b;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", &cust);
    phone_start(h, &b, "agent_b", "2002", "agentpw2", AGENT_B, "agent_answer.xml", "8", "0");
    /* Completing before anyone answered is ignored. */
    assert_int_equal(blend_sip_call_party_complete(h->sip, call), 0);
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, AGENT_B, NULL, BLEND_SIP_PARTY_CONSULT, 0), 0);
    int an = party_answered(h, call, AGENT_B, "", BLEND_SIP_PARTY_CONSULT);
    assert_string_equal(h->log[an].cause, "pcma");
    /* Consult: agent and party talk, the customer is held (music or silence) and hears
     * neither the party nor, here, anybody. */
    WAIT_ABOVE(h, mix_party_to_agent, 20);
    assert_int_equal(STAT(h, mix_party_to_customer), 0);
    assert_int_equal(blend_sip_call_party_complete(h->sip, call), 0);
    int done = wait_event(h, BLEND_SIP_EV_PARTY_COMPLETED, AGENT_B);
    assert_true(done > an);
    assert_int_equal(h->log[done].call, call);
    assert_string_equal(h->log[done].cause, "");
    /* The first agent got BYE; the customer talks to agent B, relayed without mixing. */
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    uint64_t mixed = STAT(h, rtp_mixed);
    uint64_t to_cust = STAT(h, rtp_to_customer), to_agent = STAT(h, rtp_to_agent);
    WAIT_ABOVE(h, rtp_to_customer, to_cust + 20);
    WAIT_ABOVE(h, rtp_to_agent, to_agent + 20);
    assert_int_equal(STAT(h, rtp_mixed), mixed);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > done);
    assert_int_equal(h->log[e].agent_id, AGENT_B);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, b.pid, b.tag), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_PARTY_ENDED), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_PARTY_COMPLETED), 1);
}

static void consult_number_then_drop(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct trunk t;
    trunk_reserve(&t);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = t.uri;
    harness_start(h, &cfg);
    /* trunk_answer.xml checks From = the customer's caller ID. */
    trunk_start(h, &t, "trunk_answer.xml");
    struct phone a;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", &cust);
    assert_int_equal(blend_sip_call_party_add(h->sip, call, 0, NUMBER, BLEND_SIP_PARTY_CONSULT, 30),
                     0);
    int an = party_answered(h, call, 0, NUMBER, BLEND_SIP_PARTY_CONSULT);
    assert_string_equal(h->log[an].cause, "pcmu");
    WAIT_ABOVE(h, mix_party_to_agent, 10);
    /* Consult -> conference: now the customer hears the number too. */
    assert_true(switch_mode(h, call, 0, an, BLEND_SIP_PARTY_CONFERENCE) > an);
    WAIT_ABOVE(h, mix_party_to_customer, 10);
    assert_int_equal(blend_sip_call_party_drop(h->sip, call), 0);
    int e = wait_event(h, BLEND_SIP_EV_PARTY_ENDED, 0);
    assert_true(e > an);
    assert_string_equal(h->log[e].dialled, NUMBER);
    assert_string_equal(h->log[e].cause, "dropped");
    assert_int_equal(sipp_wait(h, t.pid, "trunk"), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end > e);
    assert_int_equal(h->log[end].agent_id, AGENT);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

static void party_busy_no_answer_second_refused(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "3001", "superpw", SUPERVISOR);
    add_account(h, "2002", "agentpw2", AGENT_B);
    struct phone a, s, b;
    pid_t cust;
    uint64_t call = bridged(h, &a, "agent_answer.xml", "0", &cust);
    phone_start(h, &s, "super", "3001", "superpw", SUPERVISOR, "agent_busy.xml", "0", "0");
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, SUPERVISOR, NULL, BLEND_SIP_PARTY_BARGE, 30), 0);
    int e = wait_event(h, BLEND_SIP_EV_PARTY_ENDED, SUPERVISOR);
    assert_true(e >= 0);
    assert_int_equal(h->log[e].sip_code, 486);
    assert_string_equal(h->log[e].cause, "busy");
    assert_int_equal(sipp_wait(h, s.pid, s.tag), 0);
    /* Agent B rings and never answers: the party times out (CANCEL). Meanwhile a second party
     * is refused at once. */
    phone_start(h, &b, "agent_b", "2002", "agentpw2", AGENT_B, "agent_ring_cancel.xml", "8", "0");
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, AGENT_B, NULL, BLEND_SIP_PARTY_CONSULT, 2), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_PARTY_RINGING, AGENT_B) >= 0);
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, SUPERVISOR, NULL, BLEND_SIP_PARTY_LISTEN, 0), 0);
    int busy = wait_from(h, e + 1, BLEND_SIP_EV_PARTY_ENDED);
    assert_true(busy > e);
    assert_int_equal(h->log[busy].agent_id, SUPERVISOR);
    assert_int_equal(h->log[busy].sip_code, 491);
    int t = wait_event(h, BLEND_SIP_EV_PARTY_ENDED, AGENT_B);
    assert_true(t > busy);
    assert_int_equal(h->log[t].sip_code, 408);
    assert_string_equal(h->log[t].cause, "timeout");
    assert_int_equal(sipp_wait(h, b.pid, b.tag), 0);
    /* Nothing of that touched the call; nothing was mixed. */
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 0);
    assert_int_equal(STAT(h, rtp_mixed), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1) > t);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* Arguments the host gets wrong. */
    assert_int_equal(blend_sip_call_party_add(h->sip, call, 0, NULL, BLEND_SIP_PARTY_LISTEN, 0),
                     BLEND_EINVAL);
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, AGENT_B, NUMBER, BLEND_SIP_PARTY_LISTEN, 0),
        BLEND_EINVAL);
    assert_int_equal(blend_sip_call_party_add(h->sip, call, AGENT_B, NULL, 0, 0), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_party_add(h->sip, call, AGENT_B, NULL, BLEND_SIP_PARTY_LISTEN,
                                              BLEND_SIP_OFFER_TIMEOUT_S_MAX + 1),
                     BLEND_EINVAL);
    assert_int_equal(blend_sip_call_party_add(h->sip, 0, AGENT_B, NULL, BLEND_SIP_PARTY_LISTEN, 0),
                     BLEND_EINVAL);
    assert_int_equal(blend_sip_call_party_add(h->sip, call, 0, "1 2", BLEND_SIP_PARTY_LISTEN, 0),
                     BLEND_EINVAL);
    /* No trunk_uri: a number cannot be dialled. */
    assert_int_equal(blend_sip_call_party_add(h->sip, call, 0, NUMBER, BLEND_SIP_PARTY_LISTEN, 0),
                     BLEND_ESTATE);
    assert_int_equal(blend_sip_call_party_mode(h->sip, call, 6), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_party_drop(h->sip, 0), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_party_complete(h->sip, 0), BLEND_EINVAL);
}

static void agent_leaves_conference(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2002", "agentpw2", AGENT_B);
    struct phone a, b;
    pid_t cust;
    /* Agent A hangs up 4 s after answering: by then agent B is in the conference. */
    add_account(h, "2001", "agentpw1", AGENT);
    phone_start(h, &b, "agent_b", "2002", "agentpw2", AGENT_B, "agent_answer.xml", "8", "0");
    phone_start(h, &a, "agent", "2001", "agentpw1", AGENT, "agent_hangup.xml", "8", "4000");
    cust = customer_start(h, "party_customer.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT) >= 0);
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, AGENT_B, NULL, BLEND_SIP_PARTY_CONFERENCE, 0), 0);
    int an = party_answered(h, call, AGENT_B, "", BLEND_SIP_PARTY_CONFERENCE);
    int done = wait_event(h, BLEND_SIP_EV_PARTY_COMPLETED, AGENT_B);
    assert_true(done > an);
    assert_string_equal(h->log[done].cause, "agent-left");
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* The customer stays, now with agent B. */
    uint64_t to_cust = STAT(h, rtp_to_customer), to_agent = STAT(h, rtp_to_agent);
    WAIT_ABOVE(h, rtp_to_customer, to_cust + 20);
    WAIT_ABOVE(h, rtp_to_agent, to_agent + 20);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_PARTY_ENDED), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > done);
    assert_int_equal(h->log[e].agent_id, AGENT_B);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, b.pid, b.tag), 0);
}

static void customer_hangs_up_during_monitoring(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "3001", "superpw", SUPERVISOR);
    add_account(h, "2001", "agentpw1", AGENT);
    struct phone a, s;
    phone_start(h, &s, "super", "3001", "superpw", SUPERVISOR, "agent_answer.xml", "0", "0");
    phone_start(h, &a, "agent", "2001", "agentpw1", AGENT, "agent_answer.xml", "8", "0");
    /* The customer hangs up 5 s after the answer: by then the supervisor listens. */
    pid_t cust = customer_start(h, "customer_call.xml", "5000");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT) >= 0);
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, SUPERVISOR, NULL, BLEND_SIP_PARTY_LISTEN, 0), 0);
    int an = party_answered(h, call, SUPERVISOR, "", BLEND_SIP_PARTY_LISTEN);
    int pe = wait_event(h, BLEND_SIP_EV_PARTY_ENDED, SUPERVISOR);
    assert_true(pe > an);
    assert_string_equal(h->log[pe].cause, "call-ended");
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > pe);
    assert_string_equal(h->log[e].leg, "customer");
    assert_string_equal(h->log[e].cause, "bye");
    assert_int_equal(h->log[e].agent_id, AGENT);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(sipp_wait(h, s.pid, s.tag), 0);
    /* Nothing names the call after CALL_ENDED. */
    drain(h);
    assert_int_equal(h->log_n - 1, e);
    assert_int_equal(STAT(h, calls_active), 0);
}

static void customer_holds_during_barge(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "3001", "superpw", SUPERVISOR);
    add_account(h, "2001", "agentpw1", AGENT);
    struct phone a, s;
    phone_start(h, &s, "super", "3001", "superpw", SUPERVISOR, "agent_answer.xml", "0", "0");
    /* agent_held.xml fails unless the hold and the resume are mirrored to the agent. */
    phone_start(h, &a, "agent", "2001", "agentpw1", AGENT, "agent_held.xml", "8", "0");
    /* The customer holds 3 s after the answer (the supervisor barged in by then), resumes 300
     * ms later and hangs up. */
    pid_t cust = customer_start(h, "customer_hold.xml", "3000");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT) >= 0);
    assert_int_equal(
        blend_sip_call_party_add(h->sip, call, SUPERVISOR, NULL, BLEND_SIP_PARTY_BARGE, 0), 0);
    int an = party_answered(h, call, SUPERVISOR, "", BLEND_SIP_PARTY_BARGE);
    uint64_t held = STAT(h, rtp_held);
    int hd = wait_event(h, BLEND_SIP_EV_CALL_HELD, -1);
    assert_true(hd > an);
    assert_string_equal(h->log[hd].leg, "customer");
    int rs = wait_event(h, BLEND_SIP_EV_CALL_RESUMED, -1);
    assert_true(rs > hd);
    int pe = wait_event(h, BLEND_SIP_EV_PARTY_ENDED, SUPERVISOR);
    assert_true(pe > rs);
    assert_string_equal(h->log[pe].cause, "call-ended");
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > pe);
    /* The holding customer's media stopped at Blend, out of the mix. */
    assert_true(STAT(h, rtp_held) > held);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(sipp_wait(h, s.pid, s.tag), 0);
}

static int pure_teardown(void **state)
{
    (void)state;
    return blend_alloc_live() == 0 ? 0 : -1;
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(mix_table, pure_teardown),
        cmocka_unit_test_teardown(mix_sums, pure_teardown),
        cmocka_unit_test_teardown(monitor_listen_whisper_barge_drop, harness_stop),
        cmocka_unit_test_teardown(consult_then_complete, harness_stop),
        cmocka_unit_test_teardown(consult_number_then_drop, harness_stop),
        cmocka_unit_test_teardown(party_busy_no_answer_second_refused, harness_stop),
        cmocka_unit_test_teardown(agent_leaves_conference, harness_stop),
        cmocka_unit_test_teardown(customer_hangs_up_during_monitoring, harness_stop),
        cmocka_unit_test_teardown(customer_holds_during_barge, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
