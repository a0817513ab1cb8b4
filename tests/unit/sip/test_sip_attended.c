/*
 * Attended transfer started from the agent's phone, through Blend against real peers on
 * loopback (SIPp as the customer, as agent A's phone and as agent B's phone): A answers the
 * customer, holds, places a consultation call to B's extension from the same phone (a second
 * dialog, digest-authenticated), B answers, and A sends REFER with Replaces naming the
 * consultation. The test plays the host: it offers the calls and answers TRANSFER_REQUESTED with
 * blend_sip_call_replace. Then B is re-INVITEd onto the customer's call, the customer's hold is
 * lifted, A gets NOTIFY 200 and BYE on both dialogs, the consultation ends "replaced", and the
 * customer hears B (B's echo reaches the customer through the customer's call). A REFER whose
 * Replaces names no dialog of Blend's gets 481 and starts nothing. Every wait is bounded.
 */
#include "base/alloc.h"
#include "sip/sip.h"
#include <arpa/inet.h>
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

#define AGENT_A 7
#define AGENT_B 8

/* A's phone: registered as 2001, then the attended-transfer scenario on the same port. */
static pid_t phone_a_start(struct harness *h, const char *scenario, const char *pause_ms)
{
    char port[8], mport[8], target[64], sf[PATH_MAX + 64], auth_uri[96];
    snprintf(port, sizeof(port), "%d", free_port());
    snprintf(mport, sizeof(mport), "%d", free_port());
    target_of(h, target, sizeof(target));
    snprintf(sf, sizeof(sf), "%s/register.xml", scenario_dir);
    const char *reg[] = {"-sf", sf,     "-au", "2001",    "-ap", "agentpw1", "-s", "2001",
                         "-p",  port,   "-t",  "u1",      "-key", "expires", "60", target,
                         NULL};
    assert_int_equal(sipp_wait(h, sipp_spawn(h, "a_register", reg), "a_register"), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_REGISTERED, AGENT_A) >= 0);
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    /* The digest uri must be the Request-URI of the consultation's INVITE (docs/sip.md). */
    snprintf(auth_uri, sizeof(auth_uri), "2002@%s", target);
    const char *uas[] = {"-sf",  sf,         "-s",  "2001", "-p",        port,     "-mp",
                         mport,  "-t",       "u1",  "-key", "consult",   "2002",   "-au",
                         "2001", "-ap",      "agentpw1",    "-auth_uri", auth_uri, "-d",
                         pause_ms, target,   NULL};
    return sipp_spawn(h, "agent_a", uas);
}

/* The n-th (0-based) event of kind, waiting for it (bounded); -1 when it never comes. */
static int wait_nth(struct harness *h, enum blend_sip_event_kind kind, int n)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        drain(h);
        int seen = 0;
        for (int i = 0; i < h->log_n; i++) {
            if (h->log[i].kind == kind && seen++ == n) {
                return i;
            }
        }
        if (mono_ms() > deadline) {
            return wait_event(h, (enum blend_sip_event_kind)0, -1); /* prints the log */
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void phone_attended_transfer(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", AGENT_A);
    add_account(h, "2002", "agentpw2", AGENT_B);
    struct phone b;
    /* B answers the consultation, then must be moved by a re-INVITE (agent_moved.xml), and
     * echoes what it hears. */
    phone_start(h, &b, "agent_b", "2002", "agentpw2", AGENT_B, "agent_moved.xml", "8", "0");
    pid_t a = phone_a_start(h, "agent_attended.xml", "300");
    /* The customer must get sendonly (A holds) then sendrecv (the hold lifted when B takes
     * over); it hangs up 2 s after that. */
    pid_t cust = customer_start(h, "customer_held.xml", "2000");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT_A, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT_A) >= 0);
    int held = wait_event(h, BLEND_SIP_EV_CALL_HELD, AGENT_A);
    assert_true(held >= 0);
    assert_int_equal(h->log[held].call, call);
    assert_string_equal(h->log[held].leg, "agent");

    /* The consultation: a call from A's phone to 2002; the host rings B. */
    int in = wait_nth(h, BLEND_SIP_EV_CALL_INCOMING, 1);
    assert_true(in > held);
    uint64_t consult = h->log[in].call;
    assert_true(consult != call);
    assert_int_equal(h->log[in].agent_id, AGENT_A);
    assert_string_equal(h->log[in].dialled, "2002");
    assert_int_equal(blend_sip_call_offer(h->sip, consult, AGENT_B, 30), 0);
    int ans = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT_B);
    assert_true(ans > in);
    assert_int_equal(h->log[ans].call, consult);

    /* A's REFER with Replaces names the consultation. */
    int tr = wait_event(h, BLEND_SIP_EV_TRANSFER_REQUESTED, AGENT_A);
    assert_true(tr > ans);
    assert_int_equal(h->log[tr].call, call);
    assert_int_equal(h->log[tr].other_call, consult);
    assert_string_equal(h->log[tr].dialled, "2002");
    assert_int_equal(blend_sip_call_replace(h->sip, call, consult), 0);

    int rep = wait_event(h, BLEND_SIP_EV_AGENT_REPLACED, AGENT_B);
    assert_true(rep > tr);
    assert_int_equal(h->log[rep].call, call);
    assert_int_equal(h->log[rep].other_call, consult);
    assert_string_equal(h->log[rep].leg, "agent");
    assert_string_equal(h->log[rep].cause, "pcma");
    /* The consultation ends at once, after the takeover and before anything else of it. */
    int ce = wait_nth(h, BLEND_SIP_EV_CALL_ENDED, 0);
    assert_true(ce > rep);
    assert_int_equal(h->log[ce].call, consult);
    assert_string_equal(h->log[ce].leg, "blend");
    assert_string_equal(h->log[ce].cause, "replaced");
    assert_int_equal(h->log[ce].agent_id, 0);
    /* A got 202, NOTIFY 100 and 200, and BYE on both dialogs: its scenario ends well. */
    assert_int_equal(sipp_wait(h, a, "agent_a"), 0);

    /* The customer talks to B now, then hangs up. */
    int end = wait_nth(h, BLEND_SIP_EV_CALL_ENDED, 1);
    assert_true(end > ce);
    assert_int_equal(h->log[end].call, call);
    assert_string_equal(h->log[end].leg, "customer");
    assert_int_equal(h->log[end].agent_id, AGENT_B);
    /* A's phone sends no audio: what reached the customer is B's echo through this call. */
    assert_true(h->log[end].rtp_to_customer > 0);
    assert_true(h->log[end].rtp_to_agent > 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, b.pid, b.tag), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 2);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.transfers, 1);
}

static void replaces_of_unknown_dialog_refused(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", AGENT_A);
    pid_t a = phone_a_start(h, "agent_replaces_unknown.xml", "200");
    pid_t cust = customer_start(h, "customer_wait_bye.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, AGENT_A, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, AGENT_A) >= 0);
    /* The phone got 481 and hung up: the call ends by the agent, with no transfer. */
    int end = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(end >= 0);
    assert_int_equal(h->log[end].call, call);
    assert_string_equal(h->log[end].leg, "agent");
    assert_int_equal(sipp_wait(h, a, "agent_a"), 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_TRANSFER_REQUESTED), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.transfers, 0);
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(phone_attended_transfer, harness_stop),
        cmocka_unit_test_teardown(replaces_of_unknown_dialog_refused, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
