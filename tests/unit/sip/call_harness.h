/*
 * The harness shared by the SIP layer's call tests (test_sip_calls.c, test_sip_features.c,
 * test_sip_dtmf.c, test_sip_media.c, test_sip_party.c, test_sip_ivr.c, test_sip_trunk.c,
 * test_sip_attended.c, test_sip_tls.c): the telephony thread started on loopback with the test as its host (events
 * collected under a lock, bounded waits), accounts, SIPp processes as customers, agent phones
 * and trunks, and a socket of the test's own standing in for a phone's media.
 * Included by exactly those test files (one translation unit each), after their system and
 * cmocka includes and sip/sip.h.
 */
#ifndef BLEND_TESTS_UNIT_SIP_CALL_HARNESS_H
#define BLEND_TESTS_UNIT_SIP_CALL_HARNESS_H
#include "media/media.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define WAIT_MS 15000
#define REALM "blend"
#define DIALLED "+8225550101"
#define CALLER "5551234"
#define PCAP "/usr/share/sip-tester/g711a.pcap"
#define PROCS_MAX 8

struct harness {
    struct blend_sip *sip;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned wakeups;
    struct blend_sip_event log[256];
    int log_n;
    char tmpdir[64];
    pid_t procs[PROCS_MAX]; /* SIPp processes still running (killed at teardown) */
    int procs_n;
};

static char scenario_dir[PATH_MAX];
static struct harness H;

static inline void wakeup(void *arg)
{
    struct harness *h = arg;
    pthread_mutex_lock(&h->lock);
    h->wakeups++;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static inline int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void drain(struct harness *h)
{
    struct blend_sip_event ev;
    while (blend_sip_poll(h->sip, &ev) == 1) {
        assert_true(h->log_n < (int)(sizeof(h->log) / sizeof(h->log[0])));
        h->log[h->log_n++] = ev;
    }
}

static inline int find_event(struct harness *h, int from, enum blend_sip_event_kind kind,
                             int64_t agent)
{
    for (int i = from; i < h->log_n; i++) {
        if (h->log[i].kind == kind && (agent < 0 || h->log[i].agent_id == agent)) {
            return i;
        }
    }
    return -1;
}

static inline int count_events(struct harness *h, enum blend_sip_event_kind kind)
{
    int n = 0;
    for (int i = 0; i < h->log_n; i++) {
        n += h->log[i].kind == kind;
    }
    return n;
}

/* Waits (bounded) for an event of kind (for agent, when agent >= 0); returns its index. */
static inline int wait_event(struct harness *h, enum blend_sip_event_kind kind, int64_t agent)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        unsigned seen = h->wakeups;
        pthread_mutex_unlock(&h->lock);
        drain(h);
        int i = find_event(h, 0, kind, agent);
        if (i >= 0) {
            return i;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            fprintf(stderr, "no %s event within %d ms; events so far:\n",
                    blend_sip_event_kind_name(kind), WAIT_MS);
            for (int k = 0; k < h->log_n; k++) {
                fprintf(stderr, "  %s call=%llu agent=%lld code=%d cause=%s leg=%s\n",
                        blend_sip_event_kind_name(h->log[k].kind),
                        (unsigned long long)h->log[k].call, (long long)h->log[k].agent_id,
                        h->log[k].sip_code, h->log[k].cause, h->log[k].leg);
            }
            return -1;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (left < 100 ? left : 100) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&h->lock);
        if (h->wakeups == seen) {
            pthread_cond_timedwait(&h->cond, &h->lock, &ts);
        }
        pthread_mutex_unlock(&h->lock);
    }
}

static inline void harness_start(struct harness *h, struct blend_sip_config *cfg)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    strcpy(h->tmpdir, "/tmp/blend-sip-test-XXXXXX");
    assert_non_null(mkdtemp(h->tmpdir));
    cfg->udp_addr = "127.0.0.1:0";
    cfg->tcp_addr = "127.0.0.1:0";
    cfg->realm = REALM;
    cfg->wakeup = wakeup;
    cfg->wakeup_arg = h;
    assert_int_equal(blend_sip_start(cfg, &h->sip), 0);
}

static inline void add_account(struct harness *h, const char *ext, const char *password,
                               int64_t agent)
{
    char ha1[33];
    assert_int_equal(blend_sip_ha1(ext, REALM, password, ha1), 0);
    assert_int_equal(blend_sip_account_set(h->sip, ext, ha1, agent), 0);
}

static inline int harness_stop(void **state)
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
    if (!h->sip) {
        return 0;
    }
    blend_sip_stop(h->sip);
    h->sip = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", h->tmpdir);
    /* BLEND_TEST_KEEP=1 keeps the SIPp logs for a look after a failure. */
    if (!getenv("BLEND_TEST_KEEP")) {
        assert_int_equal(system(cmd), 0);
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live after stop\n", blend_alloc_live());
        return -1;
    }
    return 0;
}

/* What every call test's main() does first: find the scenarios (run from the repository
 * root), ignore SIGPIPE (SIPp may close sockets first), apply BLEND_TEST_FILTER, and check
 * SIPp's pcaps are installed. Returns 0, or 1 after saying what is missing. */
static inline int harness_main_setup(void)
{
    if (!realpath("tests/sip", scenario_dir)) {
        fprintf(stderr, "run from the repository root (tests/sip not found)\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (getenv("BLEND_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("BLEND_TEST_FILTER"));
    }
    if (access(PCAP, R_OK) != 0) {
        fprintf(stderr, "%s is missing (package sip-tester)\n", PCAP);
        return 1;
    }
    return 0;
}

static inline void require_binary(const char *path)
{
    if (access(path, X_OK) != 0) {
        fail_msg("peer binary %s is missing: install it (scripts/deps.sh) to run this test", path);
    }
}

/* A free UDP port on 127.0.0.1 (the kernel's pick; SIPp binds it right after). */
static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts SIPp with argv (NULL-terminated, without the program name); stdout and errors go to
 * files named after tag in the harness directory. */
static inline pid_t sipp_spawn(struct harness *h, const char *tag, const char *const *args)
{
    require_binary("/usr/bin/sipp");
    char errfile[160], outfile[160];
    snprintf(errfile, sizeof(errfile), "%s/%s_errors.log", h->tmpdir, tag);
    snprintf(outfile, sizeof(outfile), "%s/%s_stdout.log", h->tmpdir, tag);
    const char *argv[64];
    int n = 0;
    argv[n++] = "sipp";
    for (int i = 0; args[i]; i++) {
        argv[n++] = args[i];
    }
    const char *tail[] = {"-i",       "127.0.0.1",  "-m",          "1",     "-timeout", "30",
                          "-nostdin", "-trace_err", "-error_file", errfile, NULL};
    for (int i = 0; tail[i]; i++) {
        argv[n++] = tail[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(h->tmpdir) != 0) {
            _exit(126);
        }
        int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv("/usr/bin/sipp", (char *const *)argv);
        _exit(127);
    }
    assert_true(h->procs_n < PROCS_MAX);
    h->procs[h->procs_n++] = pid;
    return pid;
}

static inline void print_file(const char *dir, const char *tag)
{
    char path[256], line[512];
    snprintf(path, sizeof(path), "%s/%s_errors.log", dir, tag);
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        fprintf(stderr, "  | %s", line);
    }
    fclose(f);
}

/* Waits (bounded: SIPp's own -timeout ends it) for a SIPp process; returns its exit code. */
static inline int sipp_wait(struct harness *h, pid_t pid, const char *tag)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (int i = 0; i < h->procs_n; i++) {
        if (h->procs[i] == pid) {
            h->procs[i] = -1;
        }
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) {
        fprintf(stderr, "sipp %s exited %d; its error log:\n", tag, code);
        print_file(h->tmpdir, tag);
    }
    return code;
}

static inline void target_of(struct harness *h, char *out, size_t cap)
{
    snprintf(out, cap, "127.0.0.1:%d", blend_sip_local_port(h->sip, 0));
}

/* An agent phone: registers ext from port, then runs the UAS scenario on the same port. */
struct phone {
    char port[8], mport[8];
    pid_t pid;
    const char *tag;
};

static inline void phone_start(struct harness *h, struct phone *p, const char *tag, const char *ext,
                               const char *password, int64_t agent, const char *scenario,
                               const char *codec, const char *pause_ms)
{
    char target[64], sf[PATH_MAX + 64];
    p->tag = tag;
    snprintf(p->port, sizeof(p->port), "%d", free_port());
    snprintf(p->mport, sizeof(p->mport), "%d", free_port());
    target_of(h, target, sizeof(target));
    snprintf(sf, sizeof(sf), "%s/register.xml", scenario_dir);
    const char *reg[] = {"-sf",   sf,   "-au", ext,    "-ap",     password, "-s",   ext, "-p",
                         p->port, "-t", "u1",  "-key", "expires", "60",     target, NULL};
    char regtag[32];
    snprintf(regtag, sizeof(regtag), "%s_register", tag);
    assert_int_equal(sipp_wait(h, sipp_spawn(h, regtag, reg), regtag), 0);
    int64_t seen = -1;
    for (int i = 0; i < h->log_n; i++) {
        seen = h->log[i].kind == BLEND_SIP_EV_REGISTERED && h->log[i].agent_id == agent ? i : seen;
    }
    if (seen < 0) {
        assert_true(wait_event(h, BLEND_SIP_EV_REGISTERED, agent) >= 0);
    }
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    const char *uas[] = {"-sf", sf,     "-s",    ext,   "-p", p->port,  "-mp",       p->mport, "-t",
                         "u1",  "-key", "codec", codec, "-d", pause_ms, "-rtp_echo", NULL};
    p->pid = sipp_spawn(h, tag, uas);
}

static inline pid_t customer_start_on(struct harness *h, const char *scenario, const char *pause_ms,
                                      int tcp)
{
    char target[64], sf[PATH_MAX + 64], mport[8];
    /* TCP usually gets the UDP port, but not when another process holds it. */
    snprintf(target, sizeof(target), "127.0.0.1:%d", blend_sip_local_port(h->sip, tcp));
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    snprintf(mport, sizeof(mport), "%d", free_port());
    /* Copied into the child by fork before this frame ends. */
    const char *args[] = {"-sf", sf,    "-s", DIALLED,           "-key", "caller", CALLER,
                          "-mp", mport, "-t", tcp ? "t1" : "u1", "-d",   pause_ms, target,
                          NULL};
    return sipp_spawn(h, "customer", args);
}

static inline pid_t customer_start(struct harness *h, const char *scenario, const char *pause_ms)
{
    return customer_start_on(h, scenario, pause_ms, 0);
}

static inline struct blend_sip_config trunk_config(void)
{
    struct blend_sip_config cfg = {.trunk_allow = "10.1.2.3, 127.0.0.0/8"};
    return cfg;
}

/* The customer calls; returns the call id after checking CALL_INCOMING's fields. */
static inline uint64_t incoming_on(struct harness *h, const char *transport)
{
    int i = wait_event(h, BLEND_SIP_EV_CALL_INCOMING, -1);
    assert_true(i >= 0);
    const struct blend_sip_event *ev = &h->log[i];
    assert_true(ev->call != 0);
    assert_string_equal(ev->dialled, DIALLED);
    assert_string_equal(ev->caller, CALLER);
    assert_string_equal(ev->caller_name, "Alice Customer");
    assert_int_equal(strncmp(ev->source, "127.0.0.1:", 10), 0);
    assert_string_equal(ev->transport, transport);
    assert_int_equal(ev->agent_id, 0);
    assert_string_equal(ev->cause, "pcma");
    return ev->call;
}

static inline uint64_t incoming(struct harness *h)
{
    return incoming_on(h, "udp");
}

/* ---- Media seen by a test's own socket ---------------------------------------------------- */

/* A UDP socket on 127.0.0.1 standing in for the customer's phone media; its port in *port. */
static inline int media_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    int rcvbuf = 1 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct rtp_pkt {
    bool marker;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts, ssrc;
    uint8_t payload[BLEND_MEDIA_FRAME_BYTES];
    size_t len;
};

/* Reads every datagram waiting on fd (the call is over: nothing more comes). */
static inline int read_rtp(int fd, struct rtp_pkt *out, int cap)
{
    int n = 0;
    uint8_t buf[2048];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (got < 0) {
            break;
        }
        assert_true(n < cap);
        assert_true(got >= 12);
        struct rtp_pkt *p = &out[n++];
        assert_int_equal(buf[0] >> 6, 2);
        p->marker = (buf[1] & 0x80) != 0;
        p->pt = buf[1] & 0x7f;
        p->seq = (uint16_t)(buf[2] << 8 | buf[3]);
        p->ts = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
        p->ssrc =
            (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
        p->len = (size_t)got - 12;
        assert_true(p->len <= sizeof(p->payload));
        memcpy(p->payload, buf + 12, p->len);
    }
    return n;
}

#endif
