/*
 * DTMF from calls through Blend against real peers on loopback, the test playing the host. A SIPp
 * customer on a trunk presses keys while bridged to a SIPp agent phone that echoes the RTP it
 * gets (-rtp_echo): with RFC 4733 telephone-events (SIPp's dtmf_2833 pcaps: "1", "#", "1"),
 * each press gives exactly one DTMF event {leg customer, digit, duration from the end packet},
 * and the echo of the forwarded events comes back from the agent side as the same digits (so
 * they were relayed, once each); without telephone-event, a pcap written by the test (SIPp's
 * A-law pcap with its payloads replaced by spandsp-generated DTMF tones) is detected in-band.
 * Every wait is bounded; nothing asserts on speed.
 */
#include "base/alloc.h"
#include "sip/sip.h"

#include <spandsp.h>

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
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "call_harness.h"
#include "inband_pcap.h"

#define PCAP_DTMF_1 "/usr/share/sip-tester/dtmf_2833_1.pcap"

/* The DTMF events of one leg, in order, as a string; durations into dur (cap entries). */
static void digits_of(struct harness *h, uint64_t call, const char *leg, char *out, size_t cap,
                      int *dur)
{
    size_t n = 0;
    for (int i = 0; i < h->log_n; i++) {
        const struct blend_sip_event *ev = &h->log[i];
        if (ev->kind == BLEND_SIP_EV_DTMF && strcmp(ev->leg, leg) == 0) {
            assert_int_equal(ev->call, call);
            assert_int_equal(ev->agent_id, 7);
            assert_true(n + 1 < cap);
            dur[n] = ev->dtmf_duration_ms;
            out[n++] = ev->digit;
        }
    }
    out[n] = '\0';
}

/* Runs a bridged call: the agent phone answers and echoes, the customer runs scenario. Returns
 * the call id once CALL_ENDED (customer BYE) came. */
static uint64_t bridged_call(struct harness *h, const char *scenario)
{
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_answer.xml", "8", "0");
    pid_t cust = customer_start(h, scenario, "1000");
    uint64_t call = incoming(h); /* A-law, as both scenarios offer it first */
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, 7, 30), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7);
    assert_true(an >= 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > an);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "customer");
    assert_true(h->log[e].rtp_to_agent > 0);
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
    drain(h);
    assert_int_equal(count_events(h, BLEND_SIP_EV_CALL_ENDED), 1);
    /* No DTMF event after CALL_ENDED, none before the answer. */
    for (int i = 0; i < h->log_n; i++) {
        if (h->log[i].kind == BLEND_SIP_EV_DTMF) {
            assert_true(i > an && i < e);
        }
    }
    return call;
}

static void rfc4733_events_once_each(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    uint64_t call = bridged_call(h, "customer_dtmf.xml");
    char got[32];
    int dur[32];
    digits_of(h, call, "customer", got, sizeof(got), dur);
    assert_string_equal(got, "1#1");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dur[i], 280); /* the pcaps' end packets: 2240 units of 8 kHz */
    }
    /* The agent phone echoed what Blend relayed to it: the same presses, once each. */
    digits_of(h, call, "agent", got, sizeof(got), dur);
    assert_string_equal(got, "1#1");
    /* Between presses the customer is silent for 700 ms: the agent got comfort silence. */
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_true(st.rtp_comfort > 0);
}

static void inband_tones_detected(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = trunk_config();
    harness_start(h, &cfg);
    /* 30 packets of 30 ms: three digits of 200 ms, then 300 ms of silence, all played before
     * the customer's BYE (after 1000 ms). */
    write_inband_pcap(h->tmpdir, "4#4", 30);
    uint64_t call = bridged_call(h, "customer_inband.xml");
    char got[32];
    int dur[32];
    digits_of(h, call, "customer", got, sizeof(got), dur);
    assert_string_equal(got, "4#4");
    assert_int_equal(dur[0], 0); /* in-band: not measured */
    /* The agent negotiated telephone-event: its echo of the tones is not searched. */
    digits_of(h, call, "agent", got, sizeof(got), dur);
    assert_string_equal(got, "");
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
        cmocka_unit_test_teardown(rfc4733_events_once_each, harness_stop),
        cmocka_unit_test_teardown(inband_tones_detected, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
