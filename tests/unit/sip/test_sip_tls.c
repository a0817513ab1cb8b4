/*
 * SIP over TLS (tls_addr / tls_cert_path): Blend listens on a TLS transport with a self-signed
 * certificate the test makes with the openssl command; the phone is a libre user agent on its
 * own thread (SIPp 3.6.1 as packaged is built without TLS: "To use a TLS transport you must
 * compile SIPp with OpenSSL"). The phone registers over TLS with digest and answers the INVITE
 * Blend sends it for a customer's call (the customer is SIPp over UDP); the INVITE and the
 * final BYE must reach it over its TLS connection.
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

#define PHONE_EXT "3001"
#define PHONE_PASSWORD "tlsphonepw"
#define PHONE_AGENT 9

/* --- The TLS phone: a libre UA on its own thread ----------------------------------------- */

enum { PHONE_CMD_STOP = 1 };

struct tls_phone {
    int blend_port; /* Blend's TLS port */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ready;
    int start_err;
    /* Written by the phone's thread under lock. */
    int reg_code;      /* last REGISTER outcome */
    int invites_tls;   /* INVITEs received over TLS */
    int invites_other; /* INVITEs received over anything else */
    int byes_tls;      /* BYEs received (over TLS: the phone has no other transport) */
    int answered;      /* 200 OK sent */
    /* The phone thread's libre state. */
    struct mqueue *mq;
    struct tls *tls;
    struct sip *stack;
    struct sipreg *reg;
    struct sipsess_sock *sock;
    struct sipsess *sess;
};

static struct tls_phone P;

static void phone_note(struct tls_phone *p, int *field, int value, bool add)
{
    pthread_mutex_lock(&p->lock);
    *field = add ? *field + value : value;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static int phone_auth(char **user, char **password, const char *realm, void *arg)
{
    (void)realm;
    (void)arg;
    int err = str_dup(user, PHONE_EXT);
    return err ? err : str_dup(password, PHONE_PASSWORD);
}

static void phone_reg_resp(int err, const struct sip_msg *msg, void *arg)
{
    struct tls_phone *p = arg;
    phone_note(p, &p->reg_code, msg ? msg->scode : (err ? 999 : 0), false);
}

static void phone_close(int err, const struct sip_msg *msg, void *arg)
{
    struct tls_phone *p = arg;
    (void)msg; /* NULL for a BYE: libre has answered it already */
    if (err == ECONNRESET) {
        /* The phone has no transport but TLS: the BYE came over it. */
        phone_note(p, &p->byes_tls, 1, true);
    }
    p->sess = mem_deref(p->sess);
}

static int phone_answer_sdp(struct mbuf **out)
{
    struct mbuf *mb = mbuf_alloc(256);
    if (!mb) {
        return ENOMEM;
    }
    int err = mbuf_printf(mb, "v=0\r\n"
                              "o=- 1 1 IN IP4 127.0.0.1\r\n"
                              "s=-\r\n"
                              "c=IN IP4 127.0.0.1\r\n"
                              "t=0 0\r\n"
                              "m=audio 40000 RTP/AVP 8 0\r\n"
                              "a=rtpmap:8 PCMA/8000\r\n"
                              "a=rtpmap:0 PCMU/8000\r\n"
                              "a=sendrecv\r\n");
    mb->pos = 0;
    if (err) {
        mem_deref(mb);
        return err;
    }
    *out = mb;
    return 0;
}

static void phone_conn(const struct sip_msg *msg, void *arg)
{
    struct tls_phone *p = arg;
    bool tls = msg->tp == SIP_TRANSP_TLS;
    phone_note(p, tls ? &p->invites_tls : &p->invites_other, 1, true);
    struct mbuf *sdp = NULL;
    if (!tls || p->sess || phone_answer_sdp(&sdp) != 0) {
        (void)sip_treply(NULL, p->stack, msg, 486, "Busy Here");
        return;
    }
    int err = sipsess_accept(&p->sess, p->sock, msg, 200, "OK", PHONE_EXT, "application/sdp", sdp,
                             NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, phone_close, p, NULL);
    mem_deref(sdp);
    if (!err) {
        phone_note(p, &p->answered, 1, true);
    }
}

static void phone_cmd(int id, void *data, void *arg)
{
    (void)data;
    (void)arg;
    if (id == PHONE_CMD_STOP) {
        re_cancel();
    }
}

static int phone_setup(struct tls_phone *p)
{
    struct sa laddr;
    char reg_uri[64];
    int err = fd_setsize(1024);
    err = err ? err : mqueue_alloc(&p->mq, phone_cmd, p);
    err = err ? err : tls_alloc(&p->tls, TLS_METHOD_SSLV23, NULL, NULL);
    err = err ? err : sip_alloc(&p->stack, NULL, 16, 16, 16, "Blend test TLS phone", NULL, NULL);
    err = err ? err : sa_set_str(&laddr, "127.0.0.1", 0);
    err = err ? err : sip_transp_add(p->stack, SIP_TRANSP_TLS, &laddr, p->tls);
    err = err ? err : sipsess_listen(&p->sock, p->stack, 16, phone_conn, p);
    (void)re_snprintf(reg_uri, sizeof(reg_uri), "sip:127.0.0.1:%d;transport=tls", p->blend_port);
    err = err ? err
              : sipreg_register(&p->reg, p->stack, reg_uri, "sip:" PHONE_EXT "@127.0.0.1", NULL,
                                "sip:" PHONE_EXT "@127.0.0.1", 300, PHONE_EXT, NULL, 0, 0,
                                phone_auth, p, false, phone_reg_resp, p, NULL, NULL);
    return err;
}

static void *phone_main(void *arg)
{
    struct tls_phone *p = arg;
    int err = re_thread_init();
    err = err ? err : phone_setup(p);
    pthread_mutex_lock(&p->lock);
    p->ready = true;
    p->start_err = err;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (!err) {
        (void)re_main(NULL);
    }
    p->sess = mem_deref(p->sess);
    p->reg = mem_deref(p->reg);
    p->sock = mem_deref(p->sock);
    if (p->stack) {
        sip_close(p->stack, true);
        p->stack = mem_deref(p->stack);
    }
    p->tls = mem_deref(p->tls);
    p->mq = mem_deref(p->mq);
    re_thread_close();
    return NULL;
}

static void tphone_start(struct tls_phone *p, int blend_port)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->blend_port = blend_port;
    assert_int_equal(pthread_create(&p->thread, NULL, phone_main, p), 0);
    pthread_mutex_lock(&p->lock);
    while (!p->ready) {
        pthread_cond_wait(&p->cond, &p->lock);
    }
    int err = p->start_err;
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(err, 0);
}

/* Waits (bounded) until *field reaches at least value; returns what it holds then. */
static int tphone_wait(struct tls_phone *p, const int *field, int value)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    pthread_mutex_lock(&p->lock);
    while (*field < value && mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    int got = *field;
    pthread_mutex_unlock(&p->lock);
    return got;
}

static void tphone_stop(struct tls_phone *p)
{
    if (!p->ready) {
        return;
    }
    if (p->start_err == 0) {
        assert_int_equal(mqueue_push(p->mq, PHONE_CMD_STOP, NULL), 0);
    }
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    p->ready = false;
}

/* --- Certificates and Blend ---------------------------------------------------------------- */

/* A self-signed certificate for 127.0.0.1 and its key, both in dir/blend.pem. */
static void make_cert(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 "
             ">openssl.log 2>&1 && cat cert.pem key.pem >blend.pem",
             dir);
    require_binary("/usr/bin/openssl");
    assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
    (void)state;
    tphone_stop(&P);
    return harness_stop(state);
}

static void tls_needs_a_readable_certificate(void **state)
{
    (void)state;
    char dir[] = "/tmp/blend-sip-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], cmd[160];
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0", .tls_addr = "127.0.0.1:0"};
    struct blend_sip *sip = NULL;
    /* No certificate at all, a missing file, a file that is not PEM. */
    assert_int_equal(blend_sip_start(&cfg, &sip), BLEND_EINVAL);
    snprintf(path, sizeof(path), "%s/missing.pem", dir);
    cfg.tls_cert_path = path;
    assert_int_equal(blend_sip_start(&cfg, &sip), BLEND_EINVAL);
    snprintf(path, sizeof(path), "%s/garbage.pem", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    assert_int_equal(blend_sip_start(&cfg, &sip), BLEND_EINVAL);
    assert_null(sip);
    /* A bad address. */
    make_cert(dir);
    snprintf(path, sizeof(path), "%s/blend.pem", dir);
    cfg.tls_addr = "localhost";
    assert_int_equal(blend_sip_start(&cfg, &sip), BLEND_EINVAL);
    /* The good one: the TLS port is its own; "" is no TLS. */
    cfg.tls_addr = "127.0.0.1:0";
    assert_int_equal(blend_sip_start(&cfg, &sip), 0);
    assert_true(blend_sip_local_port(sip, 2) > 0);
    assert_true(blend_sip_local_port(sip, 0) > 0);
    blend_sip_stop(sip);
    cfg.tls_addr = "";
    assert_int_equal(blend_sip_start(&cfg, &sip), 0);
    assert_int_equal(blend_sip_local_port(sip, 2), 0);
    blend_sip_stop(sip);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(blend_alloc_live(), 0);
}

static void phone_registers_and_takes_a_call_over_tls(void **state)
{
    (void)state;
    struct harness *h = &H;
    char dir[] = "/tmp/blend-sip-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    make_cert(dir);
    char cert[128];
    snprintf(cert, sizeof(cert), "%s/blend.pem", dir);
    struct blend_sip_config cfg = trunk_config();
    cfg.tls_addr = "127.0.0.1:0";
    cfg.tls_cert_path = cert;
    harness_start(h, &cfg);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0); /* loaded at start: the files are no longer needed */
    int tls_port = blend_sip_local_port(h->sip, 2);
    assert_true(tls_port > 0);
    add_account(h, PHONE_EXT, PHONE_PASSWORD, PHONE_AGENT);

    tphone_start(&P, tls_port);
    assert_int_equal(tphone_wait(&P, &P.reg_code, 200), 200);
    int r = wait_event(h, BLEND_SIP_EV_REGISTERED, PHONE_AGENT);
    assert_true(r >= 0);
    assert_string_equal(h->log[r].extension, PHONE_EXT);
    assert_string_equal(h->log[r].transport, "tls");
    assert_non_null(strstr(h->log[r].contact, ";transport=tls"));

    /* A customer calls over UDP; the agent's phone is offered the call over its TLS link. */
    pid_t cust = customer_start(h, "customer_call.xml", "1500");
    uint64_t call = incoming(h);
    assert_int_equal(blend_sip_call_ringing(h->sip, call), 0);
    assert_int_equal(blend_sip_call_offer(h->sip, call, PHONE_AGENT, 30), 0);
    int an = wait_event(h, BLEND_SIP_EV_AGENT_ANSWERED, PHONE_AGENT);
    assert_true(an >= 0);
    assert_int_equal(h->log[an].call, call);
    assert_non_null(strstr(h->log[an].contact, ";transport=tls"));
    assert_int_equal(tphone_wait(&P, &P.invites_tls, 1), 1);
    /* The customer hangs up: Blend's BYE reaches the phone over TLS. */
    int e = wait_event(h, BLEND_SIP_EV_CALL_ENDED, -1);
    assert_true(e > an);
    assert_string_equal(h->log[e].leg, "customer");
    assert_int_equal(sipp_wait(h, cust, "customer"), 0);
    assert_int_equal(tphone_wait(&P, &P.byes_tls, 1), 1);
    pthread_mutex_lock(&P.lock);
    int other = P.invites_other, answered = P.answered;
    pthread_mutex_unlock(&P.lock);
    assert_int_equal(other, 0);
    assert_int_equal(answered, 1);
}

int main(void)
{
    if (harness_main_setup() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls_needs_a_readable_certificate),
        cmocka_unit_test_teardown(phone_registers_and_takes_a_call_over_tls, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
