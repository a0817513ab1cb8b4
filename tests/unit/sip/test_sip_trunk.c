/*
 * The outbound trunk (trunk.c): Blend's registration at a provider, and the caller ID Blend
 * presents to it. SIPp plays the provider's registrar on loopback (tests/sip/trunk_registrar
 * .xml challenges with 401 and checks the digest with its verifyauth, then grants 200 and waits
 * for the un-REGISTER at stop; trunk_registrar_403.xml refuses outright); the test reads the
 * REGISTERs SIPp received from its message log and the outcome from blend_sip_stats. The
 * option checks and caller-ID helpers are pure and tested directly.
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

#define TRUNK_USER "blendtrunk"
#define TRUNK_PASSWORD "trunkpw"

/* --- Options and caller ID (pure) ---------------------------------------------------------- */

static struct blend__sip_settings resolved(const struct blend_sip_config *cfg, int *err)
{
    struct blend__sip_settings set;
    memset(&set, 0, sizeof(set));
    *err = blend__sip_settings_resolve(cfg, &set);
    if (*err == 0) {
        *err = blend__sip_trunk_settings_resolve(cfg, &set);
    }
    return set;
}

static void options_are_checked(void **state)
{
    (void)state;
    int err;
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .trunk_uri = "sip:127.0.0.1:5070",
                                   .trunk_user = TRUNK_USER,
                                   .trunk_register = 1};
    struct blend__sip_settings set = resolved(&cfg, &err);
    assert_int_equal(err, 0);
    assert_true(set.trunk_register);
    assert_int_equal(set.trunk_register_expires_s, 600);
    assert_string_equal(set.trunk_caller_id, "");
    assert_false(set.trunk_pai);

    cfg.trunk_register_expires_s = 59;
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_register_expires_s = BLEND_SIP_EXPIRES_S_MAX + 1;
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_register_expires_s = 60;
    set = resolved(&cfg, &err);
    assert_int_equal(err, 0);
    assert_int_equal(set.trunk_register_expires_s, 60);

    /* Registration needs an address of record: a user and a trunk. */
    cfg.trunk_user = NULL;
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_user = TRUNK_USER;
    cfg.trunk_uri = NULL;
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_register = 2;
    cfg.trunk_uri = "sip:127.0.0.1:5070";
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_register = 0;

    cfg.trunk_caller_id = "+3212345678";
    cfg.trunk_pai = 1;
    set = resolved(&cfg, &err);
    assert_int_equal(err, 0);
    assert_false(set.trunk_register);
    assert_string_equal(set.trunk_caller_id, "+3212345678");
    assert_true(set.trunk_pai);
    cfg.trunk_caller_id = "12 34";
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_caller_id = "1234>";
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);
    cfg.trunk_caller_id = NULL;
    cfg.trunk_pai = 3;
    (void)resolved(&cfg, &err);
    assert_int_equal(err, BLEND_EINVAL);

    /* blend_sip_start refuses the same (before any thread or socket). */
    struct blend_sip_config bad = {.udp_addr = "127.0.0.1:0", .trunk_register = 1};
    struct blend_sip *sip = NULL;
    assert_int_equal(blend_sip_start(&bad, &sip), BLEND_EINVAL);
    assert_null(sip);
    assert_int_equal(blend_alloc_live(), 0);
}

static void caller_id_falls_back_to_the_default(void **state)
{
    (void)state;
    struct blend__sip_settings set;
    memset(&set, 0, sizeof(set));
    char out[BLEND_SIP_EXTENSION_BYTES_MAX];
    /* No default: the caller as it is. */
    blend__sip_trunk_caller_id(&set, "5551234", out, sizeof(out));
    assert_string_equal(out, "5551234");
    blend__sip_trunk_caller_id(&set, "", out, sizeof(out));
    assert_string_equal(out, "");
    blend__sip_trunk_caller_id(&set, "anonymous", out, sizeof(out));
    assert_string_equal(out, "anonymous");
    str_ncpy(set.trunk_caller_id, "+3227000000", sizeof(set.trunk_caller_id));
    blend__sip_trunk_caller_id(&set, "5551234", out, sizeof(out));
    assert_string_equal(out, "5551234");
    blend__sip_trunk_caller_id(&set, "", out, sizeof(out));
    assert_string_equal(out, "+3227000000");
    blend__sip_trunk_caller_id(&set, NULL, out, sizeof(out));
    assert_string_equal(out, "+3227000000");
    blend__sip_trunk_caller_id(&set, "Anonymous", out, sizeof(out));
    assert_string_equal(out, "+3227000000");
    blend__sip_trunk_caller_id(&set, "no way", out, sizeof(out));
    assert_string_equal(out, "+3227000000");
    char small[4];
    blend__sip_trunk_caller_id(&set, "", small, sizeof(small));
    assert_string_equal(small, "+32");
}

static void pai_header_only_when_asked(void **state)
{
    (void)state;
    struct blend__sip_settings set;
    memset(&set, 0, sizeof(set));
    struct sa host;
    assert_int_equal(sa_set_str(&host, "192.0.2.10", 5060), 0);
    char buf[128];
    blend__sip_trunk_pai_hdr(&set, "+3227000000", &host, buf, sizeof(buf));
    assert_string_equal(buf, "");
    set.trunk_pai = true;
    blend__sip_trunk_pai_hdr(&set, "+3227000000", &host, buf, sizeof(buf));
    assert_string_equal(buf, "P-Asserted-Identity: <sip:+3227000000@192.0.2.10>\r\n");
    /* Nothing for a number that is not one, nor a cut line. */
    blend__sip_trunk_pai_hdr(&set, "", &host, buf, sizeof(buf));
    assert_string_equal(buf, "");
    blend__sip_trunk_pai_hdr(&set, "a b", &host, buf, sizeof(buf));
    assert_string_equal(buf, "");
    char small[24];
    blend__sip_trunk_pai_hdr(&set, "+3227000000", &host, small, sizeof(small));
    assert_string_equal(small, "");
}

/* --- Registration against SIPp ------------------------------------------------------------- */

struct registrar {
    char port[8];
    char msgfile[160];
    pid_t pid;
};

/* Starts the provider's registrar (a SIPp UAS) on a free UDP port. */
static void registrar_start(struct harness *h, struct registrar *r, const char *scenario)
{
    char sf[PATH_MAX + 64];
    snprintf(r->port, sizeof(r->port), "%d", free_port());
    snprintf(r->msgfile, sizeof(r->msgfile), "%s/registrar_messages.log", h->tmpdir);
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    const char *args[] = {"-sf",           sf,         "-p", r->port, "-t", "u1", "-trace_msg",
                          "-message_file", r->msgfile, NULL};
    r->pid = sipp_spawn(h, "registrar", args);
}

/* The harness without Blend yet: the registrar needs the directory before Blend starts. */
static void harness_prepare(struct harness *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    strcpy(h->tmpdir, "/tmp/blend-sip-test-XXXXXX");
    assert_non_null(mkdtemp(h->tmpdir));
}

/* Starts Blend registering at the registrar as TRUNK_USER with password (libre retransmits
 * the first REGISTER until SIPp listens). */
static void blend_start(struct harness *h, const struct registrar *r, const char *password)
{
    char uri[64];
    snprintf(uri, sizeof(uri), "sip:127.0.0.1:%s", r->port);
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .tcp_addr = "127.0.0.1:0",
                                   .realm = REALM,
                                   .wakeup = wakeup,
                                   .wakeup_arg = h,
                                   .trunk_uri = uri,
                                   .trunk_user = TRUNK_USER,
                                   .trunk_password = password,
                                   .trunk_register = 1,
                                   .trunk_register_expires_s = 120};
    assert_int_equal(blend_sip_start(&cfg, &h->sip), 0);
}

/* Polls the stats (no event reports the trunk) until the trunk has an outcome; bounded. */
static struct blend_sip_stats wait_outcome(struct harness *h)
{
    struct blend_sip_stats st;
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        blend_sip_stats_get(h->sip, &st);
        if (st.trunk_register_code != 0 || mono_ms() > deadline) {
            return st;
        }
        struct timespec nap = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

/* What the registrar received (its message log, read after SIPp exited, without the responses
 * it sent) into a static buffer. */
static const char *messages(const struct registrar *r)
{
    static char text[65536], received[65536];
    FILE *f = fopen(r->msgfile, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Entries start with a line of dashes; keep those that say "message received". */
    size_t out = 0;
    const char *sep = "-----------------------------------------------";
    for (const char *p = strstr(text, sep); p;) {
        const char *next = strstr(p + 1, sep);
        size_t len = next ? (size_t)(next - p) : strlen(p);
        if (memmem(p, len, "message received", 16) && out + len < sizeof(received)) {
            memcpy(received + out, p, len);
            out += len;
        }
        p = next;
    }
    received[out] = '\0';
    return received;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void stop_blend(struct harness *h)
{
    blend_sip_stop(h->sip);
    h->sip = NULL;
}

static int teardown(void **state)
{
    (void)state;
    struct harness *h = &H;
    for (int i = 0; i < h->procs_n; i++) {
        if (h->procs[i] > 0) {
            kill(h->procs[i], SIGKILL);
            (void)waitpid(h->procs[i], NULL, 0);
        }
    }
    h->procs_n = 0;
    if (h->sip) {
        stop_blend(h);
    }
    if (h->tmpdir[0] && !getenv("BLEND_TEST_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", h->tmpdir);
        assert_int_equal(system(cmd), 0);
    }
    h->tmpdir[0] = '\0';
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live after stop\n", blend_alloc_live());
        return -1;
    }
    return 0;
}

static void registers_with_digest_and_unregisters_at_stop(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct registrar r;
    harness_prepare(h);
    registrar_start(h, &r, "trunk_registrar.xml");
    blend_start(h, &r, TRUNK_PASSWORD);

    struct blend_sip_stats st = wait_outcome(h);
    assert_int_equal(st.trunk_register_code, 200);
    assert_int_equal(st.trunk_registered, 1);
    assert_int_equal(st.trunk_registers_ok, 1);
    assert_int_equal(st.trunk_register_failures, 0);
    int udp_port = blend_sip_local_port(h->sip, 0);
    /* Stopping sends the un-REGISTER the scenario waits for; then SIPp ends with success. */
    stop_blend(h);
    assert_int_equal(sipp_wait(h, r.pid, "registrar"), 0);

    const char *log = messages(&r);
    char want[160];
    /* Three REGISTERs: the challenged one, the authenticated one, the un-REGISTER. */
    snprintf(want, sizeof(want), "REGISTER sip:127.0.0.1:%s SIP/2.0", r.port);
    assert_int_equal(count_of(log, want), 3);
    snprintf(want, sizeof(want), "From: <sip:%s@127.0.0.1:%s>", TRUNK_USER, r.port);
    assert_int_equal(count_of(log, want), 3);
    snprintf(want, sizeof(want), "To: <sip:%s@127.0.0.1:%s>", TRUNK_USER, r.port);
    assert_int_equal(count_of(log, want), 3);
    /* Contact: Blend's own listen address and the interval asked for. */
    snprintf(want, sizeof(want), "Contact: <sip:%s@127.0.0.1:%d>;expires=120", TRUNK_USER,
             udp_port);
    assert_int_equal(count_of(log, want), 2);
    snprintf(want, sizeof(want), "Contact: <sip:%s@127.0.0.1:%d>;expires=0", TRUNK_USER, udp_port);
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "Authorization: Digest username=\"" TRUNK_USER "\""), 1);
    assert_int_equal(count_of(log, "realm=\"provider\", nonce=\"5f3c9a1b7d2e4f60\""), 1);
    assert_int_equal(count_of(log, "User-Agent: Blend "), 3);
}

/* The trunk grants 2 s: libre refreshes at 90% of it (challenged again, answered again). */
static void refreshes_before_the_granted_interval_ends(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct registrar r;
    harness_prepare(h);
    registrar_start(h, &r, "trunk_registrar_refresh.xml");
    blend_start(h, &r, TRUNK_PASSWORD);
    struct blend_sip_stats st;
    int64_t deadline = mono_ms() + WAIT_MS;
    do {
        struct timespec nap = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
        blend_sip_stats_get(h->sip, &st);
    } while (st.trunk_registers_ok < 2 && mono_ms() < deadline);
    assert_int_equal(st.trunk_registers_ok, 2);
    assert_int_equal(st.trunk_registered, 1);
    assert_int_equal(st.trunk_register_failures, 0);
    assert_int_equal(st.trunk_register_code, 200);
    assert_int_equal(sipp_wait(h, r.pid, "registrar"), 0);
    stop_blend(h);
    const char *log = messages(&r);
    assert_int_equal(count_of(log, "Authorization: Digest username=\"" TRUNK_USER "\""), 2);
}

/* Shared by the failure tests: Blend registers (with password) at scenario's registrar, which
 * answers code in the end. */
static void registration_fails(const char *scenario, const char *password, int requests)
{
    struct harness *h = &H;
    struct registrar r;
    harness_prepare(h);
    registrar_start(h, &r, scenario);
    blend_start(h, &r, password);

    struct blend_sip_stats st = wait_outcome(h);
    assert_int_equal(st.trunk_register_code, 403);
    assert_int_equal(st.trunk_registered, 0);
    assert_int_equal(st.trunk_registers_ok, 0);
    assert_int_equal(st.trunk_register_failures, 1);
    /* The scenario ended with its 403; libre retries only 30..60 s later. */
    assert_int_equal(sipp_wait(h, r.pid, "registrar"), 0);
    stop_blend(h);
    const char *log = messages(&r);
    assert_int_equal(count_of(log, "REGISTER sip:127.0.0.1:"), requests);
    /* Nothing to un-register: no REGISTER with expires=0 went out. */
    assert_int_equal(count_of(log, ";expires=0"), 0);
}

static void wrong_password_is_a_failure(void **state)
{
    (void)state;
    registration_fails("trunk_registrar.xml", "not-the-password", 2);
}

static void refused_registration_is_a_failure(void **state)
{
    (void)state;
    registration_fails("trunk_registrar_403.xml", TRUNK_PASSWORD, 1);
}

static void registration_off_leaves_the_stats_at_zero(void **state)
{
    (void)state;
    struct harness *h = &H;
    struct blend_sip_config cfg = {.trunk_uri = "sip:127.0.0.1:9", .trunk_user = TRUNK_USER};
    harness_start(h, &cfg);
    struct blend_sip_stats st;
    blend_sip_stats_get(h->sip, &st);
    assert_int_equal(st.trunk_registered, 0);
    assert_int_equal(st.trunk_registers_ok, 0);
    assert_int_equal(st.trunk_register_failures, 0);
    assert_int_equal(st.trunk_register_code, 0);
}

/* Click-to-call without a caller ID of its own ("anonymous"): the trunk sees trunk_caller_id
 * in From and in P-Asserted-Identity (trunk_caller_id.xml checks both, then answers 486). */
static void originate_presents_the_default_caller_id(void **state)
{
    (void)state;
    struct harness *h = &H;
    char port[8], uri[64], sf[PATH_MAX + 64];
    snprintf(port, sizeof(port), "%d", free_port());
    snprintf(uri, sizeof(uri), "sip:127.0.0.1:%s", port);
    struct blend_sip_config cfg = trunk_config();
    cfg.trunk_uri = uri;
    cfg.trunk_caller_id = "+3227000000";
    cfg.trunk_pai = 1;
    harness_start(h, &cfg);
    snprintf(sf, sizeof(sf), "%s/trunk_caller_id.xml", scenario_dir);
    const char *args[] = {"-sf", sf, "-p", port, "-t", "u1", NULL};
    pid_t trunk = sipp_spawn(h, "trunk", args);
    add_account(h, "2001", "agentpw1", 7);
    struct phone a;
    phone_start(h, &a, "agent", "2001", "agentpw1", 7, "agent_answer.xml", "8", "0");
    uint64_t call = 0;
    assert_int_equal(blend_sip_originate(h->sip, &call, 7, "3225550199", "anonymous"), 0);
    assert_true(wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, 7) >= 0);
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e >= 0);
    assert_int_equal(h->log[e].call, call);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(h->log[e].sip_code, 486);
    /* The scenario's checks of From and P-Asserted-Identity passed. */
    assert_int_equal(sipp_wait(h, trunk, "trunk"), 0);
    assert_int_equal(sipp_wait(h, a.pid, a.tag), 0);
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_are_checked),
        cmocka_unit_test(caller_id_falls_back_to_the_default),
        cmocka_unit_test(pai_header_only_when_asked),
        cmocka_unit_test_teardown(registers_with_digest_and_unregisters_at_stop, teardown),
        cmocka_unit_test_teardown(refreshes_before_the_granted_interval_ends, teardown),
        cmocka_unit_test_teardown(wrong_password_is_a_failure, teardown),
        cmocka_unit_test_teardown(refused_registration_is_a_failure, teardown),
        cmocka_unit_test_teardown(registration_off_leaves_the_stats_at_zero, teardown),
        cmocka_unit_test_teardown(originate_presents_the_default_caller_id, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
