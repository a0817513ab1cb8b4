/*
 * Call features through Blend against real peers on loopback: hold/resume from either side
 * (re-INVITEs mirrored to the other leg), blind transfer by REFER to an external number on the
 * outbound trunk (NOTIFY progress, BYE to the agent, media to the new party), unbridge and offer
 * to a second agent, click-to-call (agent first, then the number through the trunk with the
 * caller ID), RFC 4028 session timers (Blend refreshing both legs, a session that expires, 422
 * below Min-SE), and the pure negotiation and REFER-target rules on decoded messages. The test
 * plays the host; SIPp processes are the phones, the customer and the trunk's far end.
 * Every wait is bounded; nothing asserts on speed.
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

/* The far end of the trunk: a SIPp UAS on its own port (trunk_uri points there). */
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
                          "-t",  "u1", "-key", "codec", "8",  "-rtp_echo", NULL};
    t->pid = sipp_spawn(h, "trunk", args);
}

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

/* Waits (bounded) until RTP went both ways after the snapshot `before`. */
static void wait_rtp_both_ways(struct harness *h, const struct blend_sip_stats *before)
{
    struct blend_sip_stats st;
    int64_t deadline = mono_ms() + WAIT_MS;
    do {
        blend_sip_stats_get(h->sip, &st);
    } while ((st.rtp_to_customer <= before->rtp_to_customer ||
              st.rtp_to_agent <= before->rtp_to_agent) &&
             mono_ms() < deadline && usleep(10000) == 0);
    assert_true(st.rtp_to_customer > before->rtp_to_customer);
    assert_true(st.rtp_to_agent > before->rtp_to_agent);
}

/* Waits until the counter at byte offset `field` of the stats exceeds `above`; returns it. */
static uint64_t wait_stat_above(struct harness *h, size_t field, uint64_t above)
{
    struct blend_sip_stats st;
    uint64_t v;
    int64_t deadline = mono_ms() + WAIT_MS;
    do {
        blend_sip_stats_get(h->sip, &st);
        memcpy(&v, (const char *)&st + field, sizeof v);
    } while (v <= above && mono_ms() < deadline && usleep(10000) == 0);
    assert_true(v > above);
    return v;
}

/* Waits for the index-th event (0-based) of kind. */
static int wait_nth(struct harness *h, enum blend_sip_event_kind kind, int nth)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        int seen = 0;
        drain(h);
        for (int i = 0; i < h->log_n; i++) {
            if (h->log[i].kind == kind && seen++ == nth) {
                return i;
            }
        }
        if (mono_ms() > deadline) {
            fprintf(stderr, "no %s #%d\n", blend_sip_event_kind_name(kind), nth);
            return -1;
        }
        usleep(5000);
    }
}

static uint64_t bridged_call(struct harness *h, struct phone *a, const char *agent_scenario,
                             const char *agent_pause, const char *cust_scenario,
                             const char *cust_pause, pid_t *cust)
{
    add_account(h, "2001", "agentpw1", 7);
    phone_start(h, a, "agent", "2001", "agentpw1", 7, agent_scenario, "8", agent_pause);
    *cust = customer_start(h, cust_scenario, cust_pause);
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7) >= 0);
    return call;
}

static void customer_holds_and_resumes(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    /* The customer holds 500 ms after the answer; the agent phone must see sendonly then
     * sendrecv (agent_held.xml fails otherwise). */
    uint64_t call = bridged_call(h, &a, "agent_held.xml", "0", "customer_hold.xml", "500", &cust);
    int held = wait_event(h, BLEND_SIP_EV_CALL_HELD, -1);
    assert_true(held >= 0);
    assert_int_equal(h->log[held].call, call);
    assert_string_equal(h->log[held].leg, "customer");
    assert_int_equal(h->log[held].agent_id, 7);
    int res = wait_event(h, BLEND_SIP_EV_CALL_RESUMED, -1);
    assert_true(res > held);
    assert_string_equal(h->log[res].leg, "customer");
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > res);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* The holding customer kept sending: that media stopped at Blend. */
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_true(st.rtp_held > 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_HELD), 1);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_RESUMED), 1);
}

static void agent_holds_and_resumes(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    /* The agent phone holds 500 ms after answering; the customer must get sendonly then
     * sendrecv (customer_held.xml), then hangs up. */
    uint64_t call =
        bridged_call(h, &a, "agent_holds.xml", "500", "customer_held.xml", "300", &cust);
    int held = wait_event(h, BLEND_SIP_EV_CALL_HELD, -1);
    assert_true(held >= 0);
    assert_int_equal(h->log[held].call, call);
    assert_string_equal(h->log[held].leg, "agent");
    int res = wait_event(h, BLEND_SIP_EV_CALL_RESUMED, -1);
    assert_true(res > held);
    assert_string_equal(h->log[res].leg, "agent");
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > res);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

/* The host holds and resumes (the desktop's hold button): the customer gets sendonly then
 * sendrecv (customer_held.xml fails otherwise) and music meanwhile. */
static void host_holds_and_resumes(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    uint64_t call =
        bridged_call(h, &a, "agent_answer.xml", "0", "customer_held.xml", "300", &cust);
    /* The customer's SIPp takes a re-INVITE only once its scenario plays audio (an INVITE
     * arriving on its previous step aborts it): its first relayed packet says it is there. */
    (void)wait_stat_above(h, offsetof(struct blend_sip_stats, rtp_to_agent), 0);
    assert_int_equal(blend_sip_call_hold(h->sip, call, 1), 0);
    int held = wait_event(h, BLEND_SIP_EV_CALL_HELD, 7);
    assert_true(held >= 0);
    assert_int_equal(h->log[held].call, call);
    assert_string_equal(h->log[held].leg, "agent");
    assert_string_equal(h->log[held].cause, "command");
    /* Holding twice changes nothing; resume. */
    assert_int_equal(blend_sip_call_hold(h->sip, call, 1), 0);
    assert_int_equal(blend_sip_call_hold(h->sip, call, 0), 0);
    int res = wait_event(h, BLEND_SIP_EV_CALL_RESUMED, 7);
    assert_true(res > held);
    assert_string_equal(h->log[res].cause, "command");
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > res);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_HELD), 1);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_true(st.rtp_moh > 0);
}

static void agent_refers_to_number(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct trunk t;
    trunk_reserve(&t);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = t.uri;
    harness_start(h, &cfg);
    trunk_start(h, &t, "trunk_answer.xml");
    struct phone a;
    pid_t cust;
    /* The agent phone sends REFER 300 ms after answering. */
    uint64_t call =
        bridged_call(h, &a, "agent_refer.xml", "300", "customer_wait_bye.xml", "0", &cust);
    int tr = wait_event(h, BLEND_SIP_EV_TRANSFER_REQUESTED, 7);
    assert_true(tr >= 0);
    assert_int_equal(h->log[tr].call, call);
    assert_string_equal(h->log[tr].dialled, NUMBER);
    /* The host transfers to the number the phone dialled. */
    assert_int_equal(blend_sip_call_transfer_number(h->sip, call, h->log[tr].dialled), 0);
    int ring = wait_nth(h, BLEND_SIP_EV_OUTBOUND_PROGRESS, 0);
    assert_true(ring > tr);
    assert_string_equal(h->log[ring].leg, "transfer");
    assert_int_equal(h->log[ring].sip_code, 180);
    int ok = wait_nth(h, BLEND_SIP_EV_OUTBOUND_PROGRESS, 1);
    assert_true(ok > ring);
    assert_int_equal(h->log[ok].sip_code, 200);
    assert_string_equal(h->log[ok].cause, "answered");
    /* The agent phone got NOTIFY 100 then 200 (terminated), then BYE: its scenario ends. */
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* The customer and the trunk now talk through Blend (the agent is gone). */
    struct blend_sip_stats before;
    blend_sip_stats_get(h->sip, &before);
    wait_rtp_both_ways(h, &before);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, "done"), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > ok);
    assert_string_equal(h->log[e].leg, "blend");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, t.pid, "trunk"), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 1);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.transfers, 1);
}

static void transfer_to_busy_number_keeps_agent(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct trunk t;
    trunk_reserve(&t);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = t.uri;
    harness_start(h, &cfg);
    trunk_start(h, &t, "agent_busy.xml");
    struct phone a;
    pid_t cust;
    uint64_t call =
        bridged_call(h, &a, "agent_refer_fail.xml", "300", "customer_wait_bye.xml", "0", &cust);
    int tr = wait_event(h, BLEND_SIP_EV_TRANSFER_REQUESTED, 7);
    assert_true(tr >= 0);
    assert_int_equal(blend_sip_call_transfer_number(h->sip, call, h->log[tr].dialled), 0);
    int f = wait_nth(h, BLEND_SIP_EV_OUTBOUND_PROGRESS, 0);
    assert_true(f > tr);
    assert_string_equal(h->log[f].leg, "transfer");
    assert_int_equal(h->log[f].sip_code, 486);
    assert_string_equal(h->log[f].cause, "busy");
    assert_int_equal(sipp_wait(h, t.pid, "trunk"), 0);
    /* The customer is still with the agent (who got NOTIFY 486): media still flows. */
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 0);
    struct blend_sip_stats before;
    blend_sip_stats_get(h->sip, &before);
    wait_rtp_both_ways(h, &before);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > f);
    assert_int_equal(h->log[e].agent_id, 7);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
}

static void unbridge_then_second_agent(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2002", "agentpw2", 8);
    struct phone a, b;
    pid_t cust;
    uint64_t call =
        bridged_call(h, &a, "agent_answer.xml", "0", "customer_wait_bye.xml", "0", &cust);
    struct blend_sip_stats st0;
    blend_sip_stats_get(h->sip, &st0);
    assert_int_equal(blend_sip_call_unbridge_agent(h->sip, call), 0);
    /* Agent A's phone got BYE; the customer stays, and hears music while it waits. */
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    wait_stat_above(h, offsetof(struct blend_sip_stats, rtp_moh), st0.rtp_moh);
    phone_start(h, &b, "agent_b", "2002", "agentpw2", 8, "agent_answer.xml", "8", "0");
    assert_int_equal(blend_sip_call_offer(h->sip, call, 8, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 8) >= 0);
    struct blend_sip_stats before;
    blend_sip_stats_get(h->sip, &before);
    /* Bridged again (the event follows the bridge): the music has stopped. */
    wait_rtp_both_ways(h, &before);
    struct blend_sip_stats after;
    blend_sip_stats_get(h->sip, &after);
    assert_int_equal(after.rtp_moh, before.rtp_moh);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_int_equal(h->log[e].agent_id, 8);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, b.pid, b.tag), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 1);
}

static void click_to_call(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct trunk t;
    trunk_reserve(&t);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = t.uri;
    harness_start(h, &cfg);
    trunk_start(h, &t, "trunk_answer.xml");
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_answer.xml", "0", "0");
    uint64_t call = 0;
    assert_int_equal(blend_sip_originate(h->sip, &call, 7, NUMBER, CALLER), 0);
    assert_true(call != 0);
    int r = wait_event(h, BLEND_SIP_EV_AGENT_RINGING, 7);
    assert_true(r >= 0);
    assert_int_equal(h->log[r].call, call);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7);
    assert_true(an > r);
    /* Then the number rings and answers (trunk_answer.xml checks the caller ID in From). */
    int p1 = wait_nth(h, BLEND_SIP_EV_OUTBOUND_PROGRESS, 0);
    assert_true(p1 > an);
    assert_string_equal(h->log[p1].leg, "customer");
    assert_int_equal(h->log[p1].sip_code, 180);
    int p2 = wait_nth(h, BLEND_SIP_EV_OUTBOUND_PROGRESS, 1);
    assert_int_equal(h->log[p2].sip_code, 200);
    assert_int_equal(h->log[p2].call, call);
    struct blend_sip_stats before = {0};
    wait_rtp_both_ways(h, &before);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > p2);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "blend");
    assert_true(h->log[e].rtp_to_agent > 0 && h->log[e].rtp_to_customer > 0);
    assert_int_equal(sipp_wait(h, t.pid, "trunk"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.calls_originated, 1);
    assert_int_equal(st.calls_active, 0);
}

/* Customer first (agent_id 0): the number is dialled at once; once it answered, the host
 * offers the agent, whose answer bridges the two. */
static void click_to_call_customer_first(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct trunk t;
    trunk_reserve(&t);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = t.uri;
    harness_start(h, &cfg);
    trunk_start(h, &t, "trunk_answer.xml");
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_answer.xml", "0", "0");
    uint64_t call = 0;
    assert_int_equal(blend_sip_originate(h->sip, &call, -1, NUMBER, CALLER), BLEND_EINVAL);
    assert_int_equal(blend_sip_originate(h->sip, &call, 0, NUMBER, CALLER), 0);
    int p2 = wait_nth(h, BLEND_SIP_EV_OUTBOUND_PROGRESS, 1);
    assert_true(p2 >= 0);
    assert_string_equal(h->log[p2].leg, "customer");
    assert_int_equal(h->log[p2].sip_code, 200);
    assert_int_equal(count_events(h, BLEND_SIP_EV_AGENT_RINGING), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 0), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7);
    assert_true(an > p2);
    assert_int_equal(h->log[an].call, call);
    struct blend_sip_stats before = {0};
    wait_rtp_both_ways(h, &before);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > an);
    assert_true(h->log[e].rtp_to_agent > 0 && h->log[e].rtp_to_customer > 0);
    assert_int_equal(sipp_wait(h, t.pid, "trunk"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

static void click_to_call_agent_busy(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = "sip:127.0.0.1:9";
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_busy.xml", "8", "0");
    uint64_t call = 0;
    assert_int_equal(blend_sip_originate(h->sip, &call, 7, NUMBER, CALLER), 0);
    int f = wait_event(h, BLEND_SIP_EV_AGENT_FAILED, 7);
    assert_true(f >= 0);
    assert_int_equal(h->log[f].sip_code, 486);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > f);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "agent");
    assert_int_equal(h->log[e].sip_code, 486);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* Without a trunk the features answer BLEND_ESTATE; bad arguments BLEND_EINVAL. */
    blend_sip_stop(h->sip);
    struct blend_sip_config plain = trunk_config();
    plain.udp_addr = "127.0.0.1:0";
    assert_int_equal(blend_sip_start(&plain, &h->sip), 0);
    assert_int_equal(blend_sip_originate(h->sip, &call, 7, NUMBER, CALLER), BLEND_ESTATE);
    assert_int_equal(blend_sip_call_transfer_number(h->sip, 5, NUMBER), BLEND_ESTATE);
    assert_int_equal(blend_sip_call_transfer_number(h->sip, 5, "12 34"), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_transfer_number(h->sip, 0, NUMBER), BLEND_EINVAL);
    assert_int_equal(blend_sip_originate(h->sip, &call, 7, "<sip:x>", CALLER), BLEND_EINVAL);
    assert_int_equal(blend_sip_originate(h->sip, &call, 7, NUMBER, "a\"b"), BLEND_EINVAL);
    assert_int_equal(blend_sip_originate(h->sip, NULL, 7, NUMBER, CALLER), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_unbridge_agent(h->sip, 0), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_unbridge_agent(h->sip, 99), 0);
    /* Bad trunk URIs and session intervals refuse to start. */
    struct blend_sip_config bad[] = {
        {.trunk_uri = "sip:trunk.example.com"},
        {.trunk_uri = "sips:127.0.0.1"},
        {.trunk_uri = "sip:user@127.0.0.1"},
        {.trunk_uri = "127.0.0.1:5060"},
        {.session_expires_s = 1},
        {.session_expires_s = -1},
        {.session_expires_s = BLEND_SIP_SESSION_EXPIRES_S_MAX + 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct blend_sip *s = NULL;
        bad[i].udp_addr = "127.0.0.1:0";
        assert_int_equal(blend_sip_start(&bad[i], &s), BLEND_EINVAL);
    }
}

static void session_refreshed_by_blend(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    cfg.session_expires_s = 2;
    harness_start(h, &cfg);
    struct phone a;
    pid_t cust;
    /* Neither side does timers: Blend refreshes both each second; the customer hangs up after
     * its second refresh, the agent phone must have had at least one. */
    uint64_t call =
        bridged_call(h, &a, "agent_refresh.xml", "0", "customer_refresh.xml", "0", &cust);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "customer");
    assert_string_equal(h->log[e].cause, "bye");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

static void session_expires(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    cfg.session_expires_s = 6;
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_refresh.xml", "8", "0");
    /* The customer is the refresher for 6 s and never refreshes: Blend ends the call at
     * 6 - 2 s (the agent leg, refreshed by Blend at 3 s, gets BYE too). */
    pid_t cust = customer_start_key(h, "customer_expire.xml", "0", "se", "6");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7) >= 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(h->log[e].sip_code, 408);
    assert_string_equal(h->log[e].cause, "session-expired");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.session_expired, 1);
}

static void session_interval_too_small(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    cfg.session_expires_s = 2;
    harness_start(h, &cfg);
    pid_t cust = customer_start(h, "customer_422.xml", "0");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_INCOMING), 0);
}

/* --- Pure rules on decoded messages ------------------------------------------------------- */

static struct sip_msg *decode(const char *text)
{
    struct mbuf *mb = mbuf_alloc(strlen(text) + 1);
    assert_non_null(mb);
    assert_int_equal(mbuf_write_str(mb, text), 0);
    mb->pos = 0;
    struct sip_msg *msg = NULL;
    assert_int_equal(sip_msg_decode(&msg, mb), 0);
    mem_deref(mb);
    return msg;
}

static struct sip_msg *invite_with(const char *hdrs)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "INVITE sip:1@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
             "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1@127.0.0.1>\r\n"
             "Call-ID: x\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n",
             hdrs);
    return decode(text);
}

static void se_rules(void **state)
{
    (void)state;
    struct blend__sip_settings set;
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0", .session_expires_s = 1800};
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), 0);
    assert_int_equal(set.min_se_s, 90);
    struct blend__sip_se se;
    struct sip_msg *m = invite_with("");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 0);
    assert_int_equal(se.interval_s, 1800);
    assert_true(se.we_refresh);
    assert_false(se.peer_supports);
    char hdrs[128];
    blend__sip_se_uas_hdrs(&se, hdrs, sizeof(hdrs));
    assert_string_equal(hdrs, "Session-Expires: 1800;refresher=uas\r\n");
    mem_deref(m);
    /* The caller refreshes when it supports timers and chose nothing; Blend lowers to its own. */
    m = invite_with("Supported: timer\r\nSession-Expires: 3600\r\n");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 0);
    assert_int_equal(se.interval_s, 1800);
    assert_false(se.we_refresh);
    blend__sip_se_uas_hdrs(&se, hdrs, sizeof(hdrs));
    assert_string_equal(hdrs, "Session-Expires: 1800;refresher=uac\r\nRequire: timer\r\n");
    mem_deref(m);
    m = invite_with("Session-Expires: 600;refresher=uas\r\nMin-SE: 300\r\n");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 0);
    assert_int_equal(se.interval_s, 600);
    assert_true(se.we_refresh);
    mem_deref(m);
    /* The peer's Min-SE is a floor for Blend's own interval. */
    cfg.session_expires_s = 120;
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), 0);
    m = invite_with("Min-SE: 400\r\n");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 0);
    assert_int_equal(se.interval_s, 400);
    mem_deref(m);
    m = invite_with("Session-Expires: 30\r\n");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 422);
    mem_deref(m);
    m = invite_with("Session-Expires: soon\r\n");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 400);
    mem_deref(m);
    /* UAC: the 2xx decides; without Session-Expires Blend refreshes at its own interval. */
    m = decode("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
               "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: x\r\n"
               "CSeq: 1 INVITE\r\nSession-Expires: 300;refresher=uas\r\nContent-Length: 0\r\n\r\n");
    blend__sip_se_uac(&set, m, &se);
    assert_int_equal(se.interval_s, 300);
    assert_false(se.we_refresh);
    mem_deref(m);
    m = decode("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
               "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: x\r\n"
               "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    blend__sip_se_uac(&set, m, &se);
    assert_int_equal(se.interval_s, 120);
    assert_true(se.we_refresh);
    blend__sip_se_uac_hdrs(&set, hdrs, sizeof(hdrs));
    assert_string_equal(hdrs, "Session-Expires: 120\r\nMin-SE: 90\r\n");
    /* Timers off: nothing is negotiated or sent. */
    cfg.session_expires_s = 0;
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), 0);
    blend__sip_se_uac(&set, m, &se);
    assert_int_equal(se.interval_s, 0);
    blend__sip_se_uac_hdrs(&set, hdrs, sizeof(hdrs));
    assert_string_equal(hdrs, "");
    mem_deref(m);
    m = invite_with("Session-Expires: 10\r\n");
    assert_int_equal(blend__sip_se_uas(&set, m, &se), 0);
    assert_int_equal(se.interval_s, 0);
    mem_deref(m);
}

static struct blend__sip_replaces last_rep;

static enum blend__sip_refer_verdict refer_of(const char *refer_to, char *user, size_t cap)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "REFER sip:blend@127.0.0.1 SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
             "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1@127.0.0.1>;tag=2\r\n"
             "Call-ID: x\r\nCSeq: 2 REFER\r\n%sContent-Length: 0\r\n\r\n",
             refer_to);
    struct sip_msg *m = decode(text);
    enum blend__sip_refer_verdict v = blend__sip_refer_target(m, user, cap, &last_rep);
    mem_deref(m);
    return v;
}

static void refer_rules(void **state)
{
    (void)state;
    char user[BLEND_SIP_EXTENSION_BYTES_MAX];
    assert_int_equal(refer_of("Refer-To: <sip:+3312345@blend>\r\n", user, sizeof(user)),
                     BLEND__SIP_REFER_OK);
    assert_string_equal(user, "+3312345");
    /* As a phone sends it (SIPp's agent_refer.xml). */
    assert_int_equal(refer_of("Refer-To: <sip:+3312345@127.0.0.1>\r\n"
                              "Referred-By: <sip:2001@127.0.0.1>\r\n",
                              user, sizeof(user)),
                     BLEND__SIP_REFER_OK);
    assert_int_equal(refer_of("Refer-To: sip:2002@10.0.0.1;user=phone\r\n", user, sizeof(user)),
                     BLEND__SIP_REFER_OK);
    assert_string_equal(user, "2002");
    /* Attended transfer: the dialog named by Replaces, unescaped (RFC 3891). */
    assert_int_equal(refer_of("Refer-To: <sip:2002@h?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n",
                              user, sizeof(user)),
                     BLEND__SIP_REFER_REPLACES);
    assert_string_equal(user, "2002");
    assert_string_equal(last_rep.call_id, "abc@host");
    assert_string_equal(last_rep.to_tag, "1");
    assert_string_equal(last_rep.from_tag, "2");
    /* Other headers around it, parameters in either order, early-only, no user part. */
    assert_int_equal(refer_of("Refer-To: <sip:h?Require=replaces&replaces=x%3Bfrom-tag%3Df%3Bearly-only"
                              "%3Bto-tag%3Dt&Foo=1>\r\n",
                              user, sizeof(user)),
                     BLEND__SIP_REFER_REPLACES);
    assert_string_equal(user, "");
    assert_string_equal(last_rep.call_id, "x");
    assert_string_equal(last_rep.to_tag, "t");
    assert_string_equal(last_rep.from_tag, "f");
    /* A Replaces without both tags, or with an empty call-id, is a bad Refer-To. */
    assert_int_equal(refer_of("Refer-To: <sip:2002@h?Replaces=abc%3Bto-tag%3D1>\r\n", user,
                              sizeof(user)),
                     BLEND__SIP_REFER_BAD);
    assert_int_equal(last_rep.call_id[0], '\0');
    assert_int_equal(refer_of("Refer-To: <sip:2002@h?Replaces=%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n",
                              user, sizeof(user)),
                     BLEND__SIP_REFER_BAD);
    assert_int_equal(refer_of("Refer-To: <sip:2002@h?Replaces=abc%3Bto-tag%3D%3Bfrom-tag%3D2>\r\n",
                              user, sizeof(user)),
                     BLEND__SIP_REFER_BAD);
    /* Headers without Replaces: a blind transfer as before. */
    assert_int_equal(refer_of("Refer-To: <sip:2002@h?Foo=bar>\r\n", user, sizeof(user)),
                     BLEND__SIP_REFER_OK);
    assert_string_equal(user, "2002");
    assert_int_equal(refer_of("Refer-To: <sip:2002@h;method=BYE>\r\n", user, sizeof(user)),
                     BLEND__SIP_REFER_UNSUPPORTED);
    assert_int_equal(refer_of("", user, sizeof(user)), BLEND__SIP_REFER_BAD);
    assert_int_equal(refer_of("Refer-To: <sip:h>\r\n", user, sizeof(user)), BLEND__SIP_REFER_BAD);
    assert_int_equal(refer_of("Refer-To: <sip:a%22b@h>\r\n", user, sizeof(user)),
                     BLEND__SIP_REFER_BAD);
    assert_int_equal(refer_of("Refer-To: <sip:1@h>\r\nRefer-To: <sip:2@h>\r\n", user, sizeof(user)),
                     BLEND__SIP_REFER_BAD);
    assert_true(blend__sip_dial_string_ok("+1-800.555_0199*#"));
    assert_false(blend__sip_dial_string_ok(""));
    assert_false(blend__sip_dial_string_ok("a b"));
    assert_false(blend__sip_dial_string_ok("a@b"));
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
        cmocka_unit_test_teardown(se_rules, pure_teardown),
        cmocka_unit_test_teardown(refer_rules, pure_teardown),
        cmocka_unit_test_teardown(customer_holds_and_resumes, harness_stop),
        cmocka_unit_test_teardown(agent_holds_and_resumes, harness_stop),
        cmocka_unit_test_teardown(host_holds_and_resumes, harness_stop),
        cmocka_unit_test_teardown(agent_refers_to_number, harness_stop),
        cmocka_unit_test_teardown(transfer_to_busy_number_keeps_agent, harness_stop),
        cmocka_unit_test_teardown(unbridge_then_second_agent, harness_stop),
        cmocka_unit_test_teardown(click_to_call, harness_stop),
        cmocka_unit_test_teardown(click_to_call_customer_first, harness_stop),
        cmocka_unit_test_teardown(click_to_call_agent_busy, harness_stop),
        cmocka_unit_test_teardown(session_refreshed_by_blend, harness_stop),
        cmocka_unit_test_teardown(session_expires, harness_stop),
        cmocka_unit_test_teardown(session_interval_too_small, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
