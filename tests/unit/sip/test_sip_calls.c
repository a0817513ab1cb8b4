/*
 * Calls through Blend (B2BUA and RTP relay) against real peers on loopback. The test plays the
 * host: it drains the module's events and sends its commands the way the server does. Two kinds
 * of SIPp processes are the peers: agent phones (they REGISTER with digest through
 * tests/sip/register.xml from a chosen port, then a UAS scenario on that same port answers,
 * rings, is busy or waits for CANCEL; -rtp_echo sends back the RTP they get) and a customer on a
 * trunk (a UAC scenario that calls +8225550101 and plays G.711 A-law RTP from a pcap).
 * Every wait is bounded; nothing asserts on speed.
 */
#include "base/alloc.h"
#include "sip/sip.h"

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

static void customer_hangs_up_after_bridge(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_answer.xml", "8", "0");
    pid_t cust = customer_start(h, "customer_call.xml", "2000");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    int r = wait_event(h, BLEND_SIP_EV_AGENT_RINGING, 7);
    assert_true(r >= 0);
    assert_int_equal(h->log[r].call, call);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7);
    assert_true(an >= 0 && an > r);
    assert_int_equal(h->log[an].call, call);
    assert_non_null(strstr(h->log[an].contact, "sip:2001@127.0.0.1:"));
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > an);
    const struct blend_sip_event *ev = &h->log[e];
    assert_int_equal(ev->call, call);
    assert_string_equal(ev->leg, "customer");
    assert_int_equal(ev->sip_code, 0);
    assert_string_equal(ev->cause, "bye");
    assert_int_equal(ev->agent_id, 7);
    /* The customer's RTP reached the agent, and the agent's echo came back through Blend. */
    assert_true(ev->rtp_to_agent > 0);
    assert_true(ev->rtp_to_customer > 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    /* The agent phone got Blend's BYE (its scenario ends with it). */
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.calls_total, 1);
    assert_int_equal(st.calls_active, 0);
    assert_true(st.rtp_to_agent >= ev->rtp_to_agent && st.rtp_to_customer > 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_AGENT_FAILED), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 1);
}

static void agent_hangs_up(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    /* The agent accepts only µ-law: Blend transcodes A-law <-> µ-law between the legs. */
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_hangup.xml", "0", "2000");
    pid_t cust = customer_start(h, "customer_wait_bye.xml", "0");
    uint64_t call = incoming(h);
    /* No ringing first: the agent's answer is the customer's first final answer. */
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7);
    assert_true(an >= 0);
    assert_string_equal(h->log[an].cause, "pcmu");
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > an);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "agent");
    assert_int_equal(h->log[e].sip_code, 0);
    assert_true(h->log[e].rtp_to_agent > 0);
    assert_true(h->log[e].rtp_to_customer > 0);
    /* The customer got Blend's BYE. */
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

static void busy_agent_fails_customer_waits(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_busy.xml", "8", "0");
    pid_t cust = customer_start(h, "customer_480.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    int f = wait_event(h, BLEND_SIP_EV_AGENT_FAILED, 7);
    assert_true(f >= 0);
    assert_int_equal(h->log[f].call, call);
    assert_int_equal(h->log[f].sip_code, 486);
    assert_string_equal(h->log[f].cause, "busy");
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    /* An agent without any registered phone fails at once: 408 "no-binding". */
    assert_int_equal(blend_sip_call_offer(h->sip, call, 99, 30), 0);
    int nb = wait_event(h, BLEND_SIP_EV_AGENT_FAILED, 99);
    assert_true(nb >= 0);
    assert_int_equal(h->log[nb].sip_code, 408);
    assert_string_equal(h->log[nb].cause, "no-binding");
    /* The customer is still waiting: the host ends it, the customer gets 480. */
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, "queue-closed"), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_string_equal(h->log[e].leg, "blend");
    assert_string_equal(h->log[e].cause, "queue-closed");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    /* Commands naming the ended call are ignored. */
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
}

static void withdraw_cancels_agent(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_ring_cancel.xml", "8", "0");
    pid_t cust = customer_start(h, "customer_480.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_RINGING, 7) >= 0);
    assert_int_equal(blend_sip_call_withdraw(h->sip, call, 7), 0);
    /* The phone's scenario ends only after Blend's CANCEL. */
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_AGENT_FAILED), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 0);
    assert_int_equal(blend_sip_call_reject(h->sip, call, 480, "Closed"), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_string_equal(h->log[e].leg, "blend");
    assert_int_equal(h->log[e].sip_code, 480);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
}

static void ring_all_second_answers(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    add_account(h, "2002", "agentpw2", 8);
    struct phone a, b;
    phone_start(h, &a, "agent_a", "2001", "agentpw1", 7, "agent_ring_cancel.xml", "8", "0");
    phone_start(h, &b, "agent_b", "2002", "agentpw2", 8, "agent_answer.xml", "8", "0");
    pid_t cust = customer_start(h, "customer_call.xml", "1500");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_RINGING, 7) >= 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 8, 30), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 8);
    assert_true(an >= 0);
    /* The host withdraws the other offer: agent A's phone sees CANCEL. */
    assert_int_equal(blend_sip_call_withdraw(h->sip, call, 7), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > an);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(h->log[e].agent_id, 8);
    assert_true(h->log[e].rtp_to_agent > 0 && h->log[e].rtp_to_customer > 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, b.pid, b.tag), 0);
    assert_int_equal(count_events(h, BLEND_SIP_EV_AGENT_ANSWERED), 1);
    assert_int_equal(count_events(h, BLEND_SIP_EV_AGENT_FAILED), 0);
}

static void tcp_customer_refreshes_session(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_reinvite.xml", "8", "300");
    /* The customer's trunk speaks TCP; its re-INVITE (same SDP) after the answer gets 200, and
     * so does the agent phone's (agent_reinvite.xml: refresh after 300 ms, then wait for BYE). */
    pid_t cust = customer_start_on(h, "customer_reinvite.xml", "1500", 1);
    uint64_t call = incoming_on(h, "tcp");
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 0), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7) >= 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(h->log[e].sip_code, 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

static void customer_cancels_while_agent_rings(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_ring_cancel.xml", "8", "0");
    /* The customer CANCELs after Blend's 180, which the host sends once the agent rings. */
    pid_t cust = customer_start(h, "customer_cancel.xml", "200");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_RINGING, 7) >= 0);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(h->log[e].sip_code, 487);
    assert_string_equal(h->log[e].cause, "cancel");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    /* The ringing agent phone was CANCELled; no event follows CALL_ENDED. */
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    drain(h);
    assert_int_equal(h->log_n, e + 1);
}

static void offer_times_out(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_ring_cancel.xml", "8", "0");
    pid_t cust = customer_start(h, "customer_480.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 1), 0);
    int f = wait_event(h, BLEND_SIP_EV_AGENT_FAILED, 7);
    assert_true(f >= 0);
    assert_int_equal(h->log[f].sip_code, 408);
    assert_string_equal(h->log[f].cause, "timeout");
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, call, NULL), 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > f);
    assert_string_equal(h->log[e].cause, "hangup");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
}

static void stop_hangs_up_calls(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_answer.xml", "8", "0");
    pid_t cust = customer_start(h, "customer_wait_bye.xml", "0");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7) >= 0);
    /* Media flows both ways before the stop (bounded poll of the counters). */
    struct blend_sip_stats st;
    int64_t deadline = mono_ms() + WAIT_MS;
    do {
        blend_sip_stats_get(h->sip, &st);
    } while ((st.rtp_to_customer == 0 || st.rtp_to_agent == 0) && mono_ms() < deadline &&
             usleep(10000) == 0);
    assert_true(st.rtp_to_customer > 0 && st.rtp_to_agent > 0);
    assert_int_equal(st.calls_active, 1);
    /* Stopping the module with a call up sends BYE on both legs and frees everything. */
    blend_sip_stop(h->sip);
    h->sip = NULL;
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    assert_int_equal(blend_alloc_live(), 0);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", h->tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void unknown_source_is_forbidden(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = {.trunk_allow = "10.0.0.0/8"};
    harness_start(h, &cfg);
    pid_t cust = customer_start(h, "customer_403.xml", "0");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_INCOMING), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_true(st.calls_refused >= 1);
    assert_int_equal(st.calls_total, 0);
}

static void no_common_codec_is_488(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    pid_t cust = customer_start(h, "customer_488.xml", "0");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_INCOMING), 0);
}

static void bad_commands_are_refused(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    assert_int_equal(blend_sip_call_reject(h->sip, 0, 486, NULL), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_reject(h->sip, 5, 200, NULL), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_offer(h->sip, 5, 7, -1), BLEND_EINVAL);
    assert_int_equal(blend_sip_call_offer(h->sip, 5, 7, BLEND_SIP_OFFER_TIMEOUT_S_MAX + 1),
                     BLEND_EINVAL);
    assert_int_equal(blend_sip_call_hangup(NULL, 5, NULL), BLEND_EINVAL);
    /* Unknown calls are ignored on the thread. */
    assert_int_equal(blend_sip_call_withdraw(h->sip, 5, 7), 0);
    assert_int_equal(blend_sip_call_hangup(h->sip, 5, "x"), 0);
    blend_sip_stop(h->sip);
    h->sip = NULL;
    /* Bad trunk lists and port ranges refuse to start. */
    struct blend_sip_config bad[] = {
        {.trunk_allow = "not-an-ip"},
        {.trunk_allow = "10.0.0.0/33"},
        {.trunk_allow = "10.0.0.0/"},
        {.rtp_port_min = 30000, .rtp_port_max = 30000},
        {.rtp_port_min = 100, .rtp_port_max = 200},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct blend_sip *s = NULL;
        bad[i].udp_addr = "127.0.0.1:0";
        assert_int_equal(blend_sip_start(&bad[i], &s), BLEND_EINVAL);
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", h->tmpdir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(customer_hangs_up_after_bridge, harness_stop),
        cmocka_unit_test_teardown(agent_hangs_up, harness_stop),
        cmocka_unit_test_teardown(busy_agent_fails_customer_waits, harness_stop),
        cmocka_unit_test_teardown(withdraw_cancels_agent, harness_stop),
        cmocka_unit_test_teardown(ring_all_second_answers, harness_stop),
        cmocka_unit_test_teardown(tcp_customer_refreshes_session, harness_stop),
        cmocka_unit_test_teardown(customer_cancels_while_agent_rings, harness_stop),
        cmocka_unit_test_teardown(offer_times_out, harness_stop),
        cmocka_unit_test_teardown(stop_hangs_up_calls, harness_stop),
        cmocka_unit_test_teardown(unknown_source_is_forbidden, harness_stop),
        cmocka_unit_test_teardown(no_common_codec_is_488, harness_stop),
        cmocka_unit_test_teardown(bad_commands_are_refused, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
