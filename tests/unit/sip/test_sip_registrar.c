/*
 * The telephony thread and registrar against real peers on loopback: SIPp (scenarios in
 * tests/sip/) and baresip. Each test starts its own module on 127.0.0.1 with free UDP and TCP
 * ports, pushes accounts, runs the peer as a subprocess and waits, with a generous bound, for the
 * events the registrar must report. A missing peer binary fails the test with a clear message.
 */
#include "base/alloc.h"
#include "sip/sip.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define WAIT_MS 10000
#define REALM "blend"

/* Events seen so far, so a test can look for one kind without losing the others. */
struct harness {
    struct blend_sip *sip;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned wakeups;
    struct blend_sip_event log[256];
    int log_n;
    char tmpdir[64];
};

static char scenario_dir[PATH_MAX];
/* The harness of the running test; the group teardown stops it even after a failed assert. */
static struct harness H;

static void wakeup(void *arg)
{
    struct harness *h = arg;
    pthread_mutex_lock(&h->lock);
    h->wakeups++;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain(struct harness *h)
{
    struct blend_sip_event ev;
    while (blend_sip_poll(h->sip, &ev) == 1) {
        assert_true(h->log_n < (int)(sizeof(h->log) / sizeof(h->log[0])));
        h->log[h->log_n++] = ev;
    }
}

/* Index of the first logged event of kind (and cause, when given) at or after from, or -1. */
static int find_event(struct harness *h, int from, enum blend_sip_event_kind kind,
                      const char *cause)
{
    for (int i = from; i < h->log_n; i++) {
        if (h->log[i].kind == kind && (!cause || strcmp(h->log[i].cause, cause) == 0)) {
            return i;
        }
    }
    return -1;
}

static int count_events(struct harness *h, enum blend_sip_event_kind kind)
{
    int n = 0;
    for (int i = 0; i < h->log_n; i++) {
        n += h->log[i].kind == kind;
    }
    return n;
}

/* Waits (bounded) until an event of kind has been logged; returns its index or -1. */
static int wait_event(struct harness *h, enum blend_sip_event_kind kind, const char *cause)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        unsigned seen = h->wakeups;
        pthread_mutex_unlock(&h->lock);
        drain(h);
        int i = find_event(h, 0, kind, cause);
        if (i >= 0) {
            return i;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
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

static void harness_start(struct harness *h, struct blend_sip_config *cfg)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    strcpy(h->tmpdir, "/tmp/blend-sip-XXXXXX");
    assert_non_null(mkdtemp(h->tmpdir));
    cfg->udp_addr = "127.0.0.1:0";
    cfg->tcp_addr = "127.0.0.1:0";
    cfg->realm = REALM;
    cfg->wakeup = wakeup;
    cfg->wakeup_arg = h;
    assert_int_equal(blend_sip_start(cfg, &h->sip), 0);
    assert_true(blend_sip_local_port(h->sip, 0) > 0);
    /* One "ip:0" for both transports: TCP takes the port UDP got when nobody else holds it
     * (tests run in parallel), else another one. */
    assert_true(blend_sip_local_port(h->sip, 1) > 0);
}

static void add_account(struct harness *h, const char *ext, const char *password, int64_t agent)
{
    char ha1[33];
    assert_int_equal(blend_sip_ha1(ext, REALM, password, ha1), 0);
    assert_int_equal(blend_sip_account_set(h->sip, ext, ha1, agent), 0);
}

static int harness_stop(void **state)
{
    struct harness *h = &H;
    if (!h->sip) {
        return 0;
    }
    blend_sip_stop(h->sip);
    h->sip = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", h->tmpdir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live after stop\n", blend_alloc_live());
        return -1;
    }
    return 0;
}

static void require_binary(const char *path)
{
    if (access(path, X_OK) != 0) {
        fail_msg("peer binary %s is missing: install it (scripts/deps.sh) to run this test", path);
    }
}

/* Starts SIPp on a scenario of tests/sip/ in the harness's directory; argv ends with NULL. */
static pid_t sipp_spawn(struct harness *h, const char *scenario, const char *user,
                        const char *password, int tcp, const char *const *extra)
{
    /* "-key expires N" in extra picks the interval (SIPp keeps the first value given). */
    const char *expires = "60";
    for (int i = 0; extra && extra[i] && extra[i + 1]; i++) {
        if (strcmp(extra[i], "expires") == 0) {
            expires = extra[i + 1];
        }
    }
    require_binary("/usr/bin/sipp");
    char sf[PATH_MAX + 64], target[64], errfile[128];
    snprintf(sf, sizeof(sf), "%s/%s", scenario_dir, scenario);
    snprintf(target, sizeof(target), "127.0.0.1:%d", blend_sip_local_port(h->sip, tcp));
    snprintf(errfile, sizeof(errfile), "%s/sipp_errors.log", h->tmpdir);
    const char *argv[48];
    int n = 0;
    const char *base[] = {"sipp",     "-sf",  sf,          "-m",         "1",
                          "-au",      user,   "-ap",       password,     "-s",
                          user,       "-i",   "127.0.0.1", "-t",         tcp ? "t1" : "u1",
                          "-timeout", "10",   "-nostdin",  "-trace_err", "-error_file",
                          errfile,    "-key", "expires",   expires};
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
        argv[n++] = base[i];
    }
    for (int i = 0; extra && extra[i]; i++) {
        if (strcmp(extra[i], "-key") == 0 && extra[i + 1] && strcmp(extra[i + 1], "expires") == 0) {
            i += 2;
            continue;
        }
        argv[n++] = extra[i];
    }
    argv[n++] = target;
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(h->tmpdir) != 0) {
            _exit(126);
        }
        int fd = open("sipp_stdout.log", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv("/usr/bin/sipp", (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void print_file(const char *dir, const char *name)
{
    char path[256], line[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        fprintf(stderr, "  | %s", line);
    }
    fclose(f);
}

/* Runs a scenario to its end; returns SIPp's exit code (0: passed, 1: the call failed). */
static int sipp_run_expect(struct harness *h, const char *scenario, const char *user,
                           const char *password, int tcp, const char *const *extra, int expected)
{
    int code = wait_exit(sipp_spawn(h, scenario, user, password, tcp, extra));
    if (code != expected) {
        fprintf(stderr, "sipp %s exited %d (expected %d); its error log:\n", scenario, code,
                expected);
        print_file(h->tmpdir, "sipp_errors.log");
        fprintf(stderr, "\n");
    }
    return code;
}

#define sipp_run(h, sc, user, pw, tcp, extra) sipp_run_expect(h, sc, user, pw, tcp, extra, 0)
#define sipp_run_failing(h, sc, user, pw, tcp, extra)                                              \
    sipp_run_expect(h, sc, user, pw, tcp, extra, 1)

static void register_ok(struct harness *h, int tcp)
{
    assert_int_equal(sipp_run(h, "register.xml", "1001", "secret1", tcp, NULL), 0);
    int i = wait_event(h, BLEND_SIP_EV_REGISTERED, NULL);
    assert_true(i >= 0);
    const struct blend_sip_event *ev = &h->log[i];
    assert_int_equal(ev->agent_id, 42);
    assert_string_equal(ev->extension, "1001");
    assert_string_equal(ev->transport, tcp ? "tcp" : "udp");
    assert_non_null(strstr(ev->contact, "sip:1001@127.0.0.1:"));
    assert_int_equal(strncmp(ev->source, "127.0.0.1:", 10), 0);
    assert_int_equal(ev->expires_s, 60);
    assert_string_equal(ev->user_agent, "SIPp blend-test");
    assert_int_equal(ev->bindings_count, 1);
}

static void registers_over_udp(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {0};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    register_ok(hp, 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(hp->sip, &st);
    assert_int_equal(st.registers_ok, 1);
    assert_int_equal(st.auth_failures, 0);
}

static void registers_over_tcp(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {0};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    register_ok(hp, 1);
}

static void wrong_password_fails(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {0};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    /* The authenticated REGISTER gets a second 401: the scenario (expecting 200) fails. */
    assert_int_equal(sipp_run_failing(hp, "register.xml", "1001", "wrong", 0, NULL), 1);
    int i = wait_event(hp, BLEND_SIP_EV_AUTH_FAILED, NULL);
    assert_true(i >= 0);
    assert_string_equal(hp->log[i].extension, "1001");
    assert_int_equal(strncmp(hp->log[i].source, "127.0.0.1:", 10), 0);
    /* An unknown extension is answered and counted the same way. */
    assert_int_equal(sipp_run_failing(hp, "register.xml", "9999", "secret1", 0, NULL), 1);
    drain(hp);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_AUTH_FAILED), 2);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_REGISTERED), 0);
    assert_true(find_event(hp, 0, BLEND_SIP_EV_AUTH_FAILED, NULL) >= 0);
    assert_string_equal(hp->log[find_event(hp, i + 1, BLEND_SIP_EV_AUTH_FAILED, NULL)].extension,
                        "9999");
}

static void brute_force_locks_source(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {
        .auth_fail_max = 3, .auth_fail_window_s = 60, .auth_lock_s = 120};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sipp_run_failing(hp, "register.xml", "1001", "wrong", 0, NULL), 1);
    }
    int i = wait_event(hp, BLEND_SIP_EV_SOURCE_LOCKED, NULL);
    assert_true(i >= 0);
    assert_string_equal(hp->log[i].source, "127.0.0.1");
    assert_int_equal(hp->log[i].lock_s, 120);
    assert_true(hp->log[i].locked_until_ms > 0);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_AUTH_FAILED), 3);
    /* Now even the right password gets 403 at once, without a challenge, over UDP and TCP. */
    assert_int_equal(sipp_run(hp, "locked.xml", "1001", "secret1", 0, NULL), 0);
    assert_int_equal(sipp_run(hp, "locked.xml", "1001", "secret1", 1, NULL), 0);
    drain(hp);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_SOURCE_LOCKED), 1);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_REGISTERED), 0);
    struct blend_sip_stats st;
    blend_sip_stats_get(hp->sip, &st);
    /* The two REGISTERs, and the BYE SIPp sends when it aborts the third failing call. */
    assert_int_equal(st.locked_rejects, 3);
}

static void unregister_removes_binding(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {0};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    assert_int_equal(sipp_run(hp, "unregister.xml", "1001", "secret1", 0, NULL), 0);
    int i = wait_event(hp, BLEND_SIP_EV_UNREGISTERED, "unregistered");
    assert_true(i >= 0);
    assert_int_equal(hp->log[i].agent_id, 42);
    assert_string_equal(hp->log[i].extension, "1001");
    assert_int_equal(hp->log[i].bindings_count, 0);
    int r = find_event(hp, 0, BLEND_SIP_EV_REGISTERED, NULL);
    assert_true(r >= 0 && r < i);
}

static void short_expiry_expires(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {.expires_min_s = 1};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    const char *extra[] = {"-key", "expires", "1", NULL};
    assert_int_equal(sipp_run(hp, "register.xml", "1001", "secret1", 0, extra), 0);
    assert_true(wait_event(hp, BLEND_SIP_EV_REGISTERED, NULL) >= 0);
    int i = wait_event(hp, BLEND_SIP_EV_UNREGISTERED, "expired");
    assert_true(i >= 0);
    assert_string_equal(hp->log[i].extension, "1001");
}

static void interval_too_brief(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {.expires_min_s = 120};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    /* 60 s < 120 s: the scenario expects 423 with Min-Expires; nothing is registered. */
    assert_int_equal(sipp_run(hp, "too_brief.xml", "1001", "secret1", 0, NULL), 0);
    drain(hp);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_REGISTERED), 0);
    assert_int_equal(count_events(hp, BLEND_SIP_EV_AUTH_FAILED), 0);
}

static void stale_nonce_is_rechallenged(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {.nonce_ttl_s = 1};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    /* The scenario itself checks the stale=true challenge, then registers with the new nonce. */
    const char *extra[] = {"-d", "1600", NULL};
    assert_int_equal(sipp_run(hp, "stale.xml", "1001", "secret1", 0, extra), 0);
    assert_true(wait_event(hp, BLEND_SIP_EV_REGISTERED, NULL) >= 0);
    /* A stale nonce with the right password is not a failure. */
    assert_int_equal(count_events(hp, BLEND_SIP_EV_AUTH_FAILED), 0);
}

static void unanswered_keepalive_is_unreachable(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {.options_interval_s = 1, .options_timeout_s = 1};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    /* SIPp stays up but discards the OPTIONS (an out-of-call request without -aa). */
    const char *extra[] = {"-d", "8000", NULL};
    pid_t pid = sipp_spawn(hp, "register.xml", "1001", "secret1", 0, extra);
    assert_true(wait_event(hp, BLEND_SIP_EV_REGISTERED, NULL) >= 0);
    int i = wait_event(hp, BLEND_SIP_EV_UNREGISTERED, "unreachable");
    kill(pid, SIGKILL);
    (void)wait_exit(pid);
    assert_true(i >= 0);
    assert_string_equal(hp->log[i].extension, "1001");
    struct blend_sip_stats st;
    blend_sip_stats_get(hp->sip, &st);
    assert_true(st.options_sent >= 1);
    assert_int_equal(st.unreachable, 1);
}

static void answered_keepalive(int tcp)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {.options_interval_s = 1, .options_timeout_s = 2};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    /* -aa: SIPp answers OPTIONS with 200. A second OPTIONS is only sent after the first one
     * was answered, so reaching two proves the answer kept the binding. */
    const char *extra[] = {"-d", "9000", "-aa", NULL};
    pid_t pid = sipp_spawn(hp, "register.xml", "1001", "secret1", tcp, extra);
    assert_true(wait_event(hp, BLEND_SIP_EV_REGISTERED, NULL) >= 0);
    int64_t deadline = mono_ms() + WAIT_MS;
    struct blend_sip_stats st;
    do {
        blend_sip_stats_get(hp->sip, &st);
        if (st.options_sent >= 3) {
            break;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    } while (mono_ms() < deadline);
    kill(pid, SIGKILL);
    (void)wait_exit(pid);
    assert_true(st.options_sent >= 3);
    drain(hp);
    assert_int_equal(find_event(hp, 0, BLEND_SIP_EV_UNREGISTERED, NULL), -1);
}

static void answered_keepalive_keeps_binding(void **state)
{
    answered_keepalive(0);
}

/* Over TCP the OPTIONS must reuse the phone's own connection: its source port is an ephemeral
 * one nobody listens on, so a new connection would fail and make the binding unreachable. */
static void answered_keepalive_over_tcp(void **state)
{
    answered_keepalive(1);
}

static void removing_account_unregisters(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {0};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    register_ok(hp, 0);
    assert_int_equal(blend_sip_account_remove(hp->sip, "1001"), 0);
    int i = wait_event(hp, BLEND_SIP_EV_UNREGISTERED, "account-removed");
    assert_true(i >= 0);
    assert_int_equal(hp->log[i].agent_id, 42);
    /* The account is gone: registering again is an authentication failure. */
    assert_int_equal(sipp_run_failing(hp, "register.xml", "1001", "secret1", 0, NULL), 1);
    assert_true(wait_event(hp, BLEND_SIP_EV_AUTH_FAILED, NULL) >= 0);
}

static void write_text(const char *dir, const char *name, const char *fmt, ...)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
}

static void baresip_registers(void **state)
{
    require_binary("/usr/bin/baresip");
    struct harness *hp = &H;
    struct blend_sip_config cfg = {0};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 7);
    write_text(hp->tmpdir, "accounts",
               "<sip:1001@127.0.0.1:%d;transport=udp>;auth_pass=secret1;regint=60\n",
               blend_sip_local_port(hp->sip, 0));
    /* Registration needs no media: load only the module that reads the accounts file. */
    write_text(hp->tmpdir, "config",
               "sip_listen\t127.0.0.1:0\n"
               "net_interface\t127.0.0.1\n"
               "module_path\t/usr/lib/baresip/modules\n"
               "module_app\taccount.so\n");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        char log[128];
        snprintf(log, sizeof(log), "%s/baresip.log", hp->tmpdir);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in >= 0 && out >= 0) {
            dup2(in, 0);
            dup2(out, 1);
            dup2(out, 2);
        }
        execl("/usr/bin/baresip", "baresip", "-f", hp->tmpdir, (char *)NULL);
        _exit(127);
    }
    int i = wait_event(hp, BLEND_SIP_EV_REGISTERED, NULL);
    kill(pid, SIGKILL);
    (void)wait_exit(pid);
    if (i < 0) {
        fprintf(stderr, "baresip log:\n");
        print_file(hp->tmpdir, "baresip.log");
    }
    assert_true(i >= 0);
    assert_int_equal(hp->log[i].agent_id, 7);
    assert_string_equal(hp->log[i].transport, "udp");
    assert_non_null(strstr(hp->log[i].user_agent, "baresip"));
}

static void start_errors_are_returned(void **state)
{
    struct blend_sip *a = NULL, *b = NULL;
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0"};
    assert_int_equal(blend_sip_start(&cfg, &a), 0);
    assert_int_equal(blend_sip_local_port(a, 1), 0);
    char taken[32];
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", blend_sip_local_port(a, 0));
    cfg.udp_addr = taken;
    assert_int_equal(blend_sip_start(&cfg, &b), BLEND_EIO);
    cfg.udp_addr = "not-an-address";
    assert_int_equal(blend_sip_start(&cfg, &b), BLEND_EINVAL);
    cfg.udp_addr = NULL;
    assert_int_equal(blend_sip_start(&cfg, &b), BLEND_EINVAL);
    assert_null(b);
    assert_int_equal(blend_sip_account_set(a, "1001", "xyz", 1), BLEND_EINVAL);
    assert_int_equal(blend_sip_account_remove(a, ""), BLEND_EINVAL);
    blend_sip_stop(a);
    assert_int_equal(blend_alloc_live(), 0);
}

static void full_event_queue_counts_drops(void **state)
{
    struct harness *hp = &H;
    struct blend_sip_config cfg = {.events_max = 1};
    harness_start(hp, &cfg);
    add_account(hp, "1001", "secret1", 42);
    /* Two failures, two AUTH_FAILED events, room for one: the second is counted, not lost
     * silently. */
    assert_int_equal(sipp_run_failing(hp, "register.xml", "1001", "wrong", 0, NULL), 1);
    assert_int_equal(sipp_run_failing(hp, "register.xml", "1001", "wrong", 0, NULL), 1);
    struct blend_sip_stats st;
    blend_sip_stats_get(hp->sip, &st);
    assert_int_equal(st.auth_failures, 2);
    assert_int_equal(st.events_dropped, 1);
    drain(hp);
    assert_int_equal(hp->log_n, 1);
}

int main(void)
{
    if (!realpath("tests/sip", scenario_dir)) {
        fprintf(stderr, "run from the repository root (tests/sip not found)\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(registers_over_udp, harness_stop),
        cmocka_unit_test_teardown(registers_over_tcp, harness_stop),
        cmocka_unit_test_teardown(wrong_password_fails, harness_stop),
        cmocka_unit_test_teardown(brute_force_locks_source, harness_stop),
        cmocka_unit_test_teardown(unregister_removes_binding, harness_stop),
        cmocka_unit_test_teardown(short_expiry_expires, harness_stop),
        cmocka_unit_test_teardown(interval_too_brief, harness_stop),
        cmocka_unit_test_teardown(stale_nonce_is_rechallenged, harness_stop),
        cmocka_unit_test_teardown(unanswered_keepalive_is_unreachable, harness_stop),
        cmocka_unit_test_teardown(answered_keepalive_keeps_binding, harness_stop),
        cmocka_unit_test_teardown(answered_keepalive_over_tcp, harness_stop),
        cmocka_unit_test_teardown(removing_account_unregisters, harness_stop),
        cmocka_unit_test_teardown(baresip_registers, harness_stop),
        cmocka_unit_test(start_errors_are_returned),
        cmocka_unit_test_teardown(full_event_queue_counts_drops, harness_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
