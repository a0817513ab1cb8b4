/*
 * RFC 4475 torture messages against the real telephony thread. The thread listens on
 * 127.0.0.1 (UDP and TCP, port 0) with trunk_allow 127.0.0.1, so every INVITE the test sends is
 * a trunk call, and two accounts ("user", "watson") for the REGISTER cases. Each message of
 * tests/sip/torture/ (raw bytes, CRLF) is sent from a plain socket, its top Via sent-by rewritten
 * to the test's own address so the answer comes back, and the answer is checked against what
 * RFC 4475 expects of a server (the table below; docs/sip.md has it with the reasons).
 *
 * Ordering without timing: over UDP every message is followed by an OPTIONS probe on the same
 * socket. The thread reads datagrams in order and answers each before reading the next, so once
 * the probe's 200 is in, any answer to the torture message has arrived before it: a message
 * with no answer by then was dropped. The probe also proves the thread is alive after every
 * message. INVITEs that become calls get CALL_INCOMING, which the test answers with reject 404
 * and then ACKs. REGISTER cases naming an account are sent again with correct credentials, so
 * the registrar's own checks (Contact, Expires) are reached too. A few framing cases go over
 * TCP as well. At the end the statistics must match what was sent and nothing may leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "sip/sip.h"
#include "sip/sip_int.h"

#define WAIT_MS 10000
#define MSG_BYTES_MAX 16384
#define REALM "blend"

/* What the server must do with one message. */
enum outcome {
    DROP = 0,    /* no answer (libre cannot decode it, or it is a response) */
    CALL = -1,   /* 100 Trying, CALL_INCOMING; the test rejects 404 and gets it */
    CLOSED = -2, /* over TCP: no answer; the connection ends when the test closes its side */
};

struct tcase {
    const char *name;   /* file tests/sip/torture/<name>.sip */
    const char *sentby; /* literal in the top Via replaced by 127.0.0.1:port; NULL: keep */
    int udp;            /* final status over UDP, or DROP / CALL */
    int tcp;            /* 0: not sent over TCP; else the status, or CLOSED */
    int authed;         /* REGISTER sent again with credentials: its status; 0: not */
    int refused;        /* counted in calls_refused (an INVITE refused by the calls layer) */
    int fixed;          /* the RFC's SDP has "a=rtpmap:31 LPC", which RFC 4566 and libre refuse
                         * (400 Bad SDP): sent again with "LPC/8000", this is the outcome (0:
                         * not sent again) */
};

/* Expected outcomes; the RFC's expectation for each is in docs/sip.md. */
static const struct tcase cases[] = {
    /* 3.1.1 valid messages */
    {"wsinv", "192.0.2.2", 481, 0, 0, 0, 481}, /* To-tag: in-dialog INVITE of no dialog */
    {"intmeth", "host1.example.com", 501, 0, 0, 0, 0},
    {"esc01", "host5.example.net", 400, 0, 0, 1, CALL},
    {"escnull", "host5.example.com", 401, 0, 0, 0, 0},
    {"esc02", "host.example.com", 501, 0, 0, 0, 0},
    {"lwsdisp", "funky.example.com", 200, 200, 0, 0, 0},
    {"longreq", "sip33.example.com", DROP, 0, 0, 0, 0},
    {"dblreq", "192.0.2.125", 401, 0, 0, 0, 0},
    {"semiuri", "192.0.2.1", 200, 0, 0, 0, 0},
    {"transports", "t1.example.com", 200, 0, 0, 0, 0},
    {"mpart01", NULL, 501, 0, 0, 0, 0},
    {"unreason", NULL, DROP, 0, 0, 0, 0},
    {"noreason", NULL, DROP, 0, 0, 0, 0},
    /* 3.1.2 invalid messages */
    {"badinv01", "192.0.2.15", DROP, 0, 0, 0, 0},
    {"clerr", "host5.example.com", 400, CLOSED, 0, 1, 0},
    {"ncl", "192.0.2.53", 400, 400, 0, 1, 0},
    {"scalar02", "host129.example.com", 401, 0, 400, 0, 0},
    {"scalarlg", NULL, DROP, 0, 0, 0, 0},
    {"quotbal", "192.0.2.59:5050", 400, 0, 0, 1, 400},
    {"ltgtruri", "192.0.2.5", DROP, 0, 0, 0, 0},
    {"lwsruri", "192.0.2.1:5060", DROP, 0, 0, 0, 0},
    {"lwsstart", "host1.example.com", DROP, 0, 0, 0, 0},
    {"trws", "host1.example.com", DROP, 0, 0, 0, 0},
    {"escruri", "host-of-the-hour.example.com", 400, 0, 0, 1, 0},
    {"baddate", "host.example.com", 400, 0, 0, 1, CALL},
    {"regbadct", "135.180.130.133:5060", 401, 0, 400, 0, 0},
    {"badaspec", "host4.example.com:5060", 200, 0, 0, 0, 0},
    {"baddn", "c.example.com:5060", 200, 0, 0, 0, 0},
    {"badvers", "c.example.com", DROP, 0, 0, 0, 0},
    {"mismatch01", "host.example.com", 400, 0, 0, 0, 0},
    {"mismatch02", "host.example.net", 501, 0, 0, 0, 0},
    {"bigcode", NULL, DROP, 0, 0, 0, 0},
    /* 3.2 transaction layer */
    {"badbranch", "192.0.2.1", 200, 0, 0, 0, 0},
    /* 3.3 application layer */
    {"insuf", "192.0.2.95", 400, 0, 0, 1, 0},
    {"unkscm", "host9.example.net", 416, 0, 0, 0, 0},
    {"novelsc", "host9.example.net", 416, 0, 0, 0, 0},
    {"unksm2", "192.0.2.21:5060", DROP, 0, 0, 0, 0},
    {"bext01", "fold-and-staple.example.com", 420, 0, 0, 0, 0},
    {"invut", "somehost.example.com", 415, 0, 0, 1, 0},
    {"regaut01", "192.0.2.253", 401, 0, 0, 0, 0},
    {"multi01", "192.0.2.25", 400, 0, 0, 1, 0},
    {"mcl01", "host5.example.net", 400, 400, 0, 0, 0},
    {"bcast", NULL, DROP, 0, 0, 0, 0},
    {"zeromf", "host1.example.com", 200, 0, 0, 0, 0},
    {"cparam01", "saturn.example.com:5060", 401, 0, 200, 0, 0},
    {"cparam02", "saturn.example.com:5060", 401, 0, 200, 0, 0},
    {"regescrt", "host5.example.com", 401, 0, 400, 0, 0},
    {"sdp01", "192.0.2.15", 406, 0, 0, 1, 0},
    {"inv2543", "iftgw.example.com", DROP, 0, 0, 0, 0},
};

struct state {
    struct blend_sip *sip;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned wakeups;
    int fd; /* the test's UDP socket */
    int port;
    struct sockaddr_in srv_udp, srv_tcp;
    unsigned probes;
    unsigned branch_seq;
    char dir[512];
};

static struct state S;

static void wakeup(void *arg)
{
    struct state *s = arg;
    pthread_mutex_lock(&s->lock);
    s->wakeups++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (bounded) for the next event, which must be of kind (any other fails the test). */
static void wait_event(enum blend_sip_event_kind kind, struct blend_sip_event *out)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&S.lock);
        unsigned seen = S.wakeups;
        pthread_mutex_unlock(&S.lock);
        while (blend_sip_poll(S.sip, out) == 1) {
            if (out->kind == kind) {
                return;
            }
            fail_msg("unexpected event %s while waiting for %s",
                     blend_sip_event_kind_name(out->kind), blend_sip_event_kind_name(kind));
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            fail_msg("no %s event within %d ms", blend_sip_event_kind_name(kind), WAIT_MS);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (left < 100 ? left : 100) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&S.lock);
        if (S.wakeups == seen) {
            pthread_cond_timedwait(&S.cond, &S.lock, &ts);
        }
        pthread_mutex_unlock(&S.lock);
    }
}

/* No event may be waiting (a message that must not become a call, a binding, ...). */
static void assert_no_event(const char *name)
{
    struct blend_sip_event ev;
    if (blend_sip_poll(S.sip, &ev) == 1) {
        fail_msg("%s: unexpected event %s", name, blend_sip_event_kind_name(ev.kind));
    }
}

static size_t load(const char *name, char *buf, size_t cap)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.sip", S.dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail_msg("cannot open %s", path);
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

/* Where the top Via header (long "Via" or compact "v", any case, folded lines included) sits
 * in buf: [*start, *end). */
static void top_via(const char *buf, size_t len, size_t *start, size_t *end)
{
    const char *p = memchr(buf, '\n', len);
    assert_non_null(p);
    for (p++; p < buf + len && *p != '\r';
         p = (const char *)memchr(p, '\n', (size_t)(buf + len - p)) + 1) {
        size_t n = strcspn(p, ":\r\n");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if ((n == 3 && strncasecmp(p, "via", 3) == 0) || (n == 1 && (*p == 'v' || *p == 'V'))) {
            const char *e = p;
            do {
                e = memchr(e, '\n', (size_t)(buf + len - e));
                assert_non_null(e);
                e++;
            } while (e < buf + len && (*e == ' ' || *e == '\t'));
            *start = (size_t)(p - buf);
            *end = (size_t)(e - buf);
            return;
        }
    }
    fail_msg("no Via header in the message");
}

/* Replaces the first occurrence of from in the top Via by to. Returns the new length. */
static size_t replace(char *buf, size_t len, size_t cap, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), start = 0, end = 0;
    top_via(buf, len, &start, &end);
    char *hit = memmem(buf + start, end - start, from, fl);
    if (!hit) {
        fail_msg("\"%s\" not found in the top Via", from);
    }
    assert_true(len - fl + tl < cap);
    size_t at = (size_t)(hit - buf);
    memmove(buf + at + tl, buf + at + fl, len - at - fl);
    memcpy(buf + at, to, tl);
    return len - fl + tl;
}

/* Decodes one SIP message (a response from the server, or the test's own request). */
static struct sip_msg *decode(const char *data, size_t len)
{
    struct mbuf *mb = mbuf_alloc(len);
    struct sip_msg *msg = NULL;
    assert_non_null(mb);
    assert_int_equal(mbuf_write_mem(mb, (const uint8_t *)data, len), 0);
    mb->pos = 0;
    if (sip_msg_decode(&msg, mb) != 0) {
        msg = NULL;
    }
    mem_deref(mb);
    return msg;
}

static void wire_send(const char *data, size_t len)
{
    ssize_t n = sendto(S.fd, data, len, 0, (const struct sockaddr *)&S.srv_udp, sizeof(S.srv_udp));
    assert_int_equal(n, (ssize_t)len);
}

/* ACKs a final non-2xx answer to an INVITE (ends the server transaction's retransmissions). */
static void ack(const struct sip_msg *resp)
{
    char buf[4096];
    const struct sip_hdr *via = sip_msg_hdr(resp, SIP_HDR_VIA);
    assert_non_null(via);
    int n = re_snprintf(buf, sizeof(buf),
                        "ACK sip:blend@127.0.0.1 SIP/2.0\r\nVia: %r\r\nFrom: %r\r\nTo: %r\r\n"
                        "Call-ID: %r\r\nCSeq: %u ACK\r\nMax-Forwards: 70\r\n"
                        "Content-Length: 0\r\n\r\n",
                        &via->val, &resp->from.val, &resp->to.val, &resp->callid, resp->cseq.num);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    wire_send(buf, (size_t)n);
}

/* Answers to the torture message under test (told apart from the probe by Call-ID). */
struct answers {
    int provisional; /* 1xx count */
    int finals;      /* final answers */
    int code;        /* the first final status, 0 when none */
    char hdrs[2048]; /* its header block, for extra checks */
};

/* Reads one datagram (bounded wait). Returns the decoded response or NULL at the deadline. */
static struct sip_msg *udp_recv(int64_t deadline, char *raw, size_t cap, size_t *raw_len)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            return NULL;
        }
        struct pollfd p = {.fd = S.fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r <= 0) {
            continue;
        }
        ssize_t n = recv(S.fd, raw, cap - 1, 0);
        assert_true(n > 0);
        raw[n] = '\0';
        struct sip_msg *m = decode(raw, (size_t)n);
        if (m && !m->req) {
            *raw_len = (size_t)n;
            return m;
        }
        mem_deref(m);
    }
}

/* Takes one response: ACKs it when needed and files it under the probe or the case. Returns
 * true when it was the probe's 200. */
static bool file_response(struct sip_msg *m, const char *raw, const char *probe_callid,
                          const struct pl *case_callid, struct answers *a)
{
    if (pl_strcmp(&m->cseq.met, "INVITE") == 0 && m->scode >= 300) {
        ack(m);
    }
    if (probe_callid && pl_strcmp(&m->callid, probe_callid) == 0) {
        assert_int_equal(m->scode, 200);
        return true;
    }
    /* An answer to an earlier case (a retransmission) is not this case's. */
    if (case_callid && pl_isset(case_callid) && pl_cmp(&m->callid, case_callid) != 0) {
        return false;
    }
    if (m->scode < 200) {
        a->provisional++;
    } else if (a->finals++ == 0) {
        a->code = (int)m->scode;
        /* Only the start of a longer header block is kept for the checks. */
        size_t n = strnlen(raw, sizeof(a->hdrs) - 1);
        memcpy(a->hdrs, raw, n);
        a->hdrs[n] = '\0';
    }
    return false;
}

/* Sends an OPTIONS probe and collects answers until its 200 (bounded). */
static void probe_collect(const struct pl *case_callid, struct answers *a)
{
    char buf[1024], callid[32], raw[MSG_BYTES_MAX];
    snprintf(callid, sizeof(callid), "probe-%u", ++S.probes);
    int n = snprintf(buf, sizeof(buf),
                     "OPTIONS sip:blend@127.0.0.1 SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKprobe%u;rport\r\n"
                     "Max-Forwards: 70\r\nTo: <sip:blend@127.0.0.1>\r\n"
                     "From: <sip:probe@127.0.0.1>;tag=p%u\r\nCall-ID: %s\r\n"
                     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                     S.port, S.probes, S.probes, callid);
    wire_send(buf, (size_t)n);
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        size_t len;
        struct sip_msg *m = udp_recv(deadline, raw, sizeof(raw), &len);
        if (!m) {
            fail_msg("no answer to the probe %s: the telephony thread is stuck", callid);
        }
        bool done = file_response(m, raw, callid, case_callid, a);
        mem_deref(m);
        if (done) {
            return;
        }
    }
}

/* Waits (bounded) for the case's final answer after the probe (a call rejected by the host). */
static void wait_final(const struct pl *case_callid, struct answers *a)
{
    char raw[MSG_BYTES_MAX];
    int64_t deadline = mono_ms() + WAIT_MS;
    while (a->finals == 0) {
        size_t len;
        struct sip_msg *m = udp_recv(deadline, raw, sizeof(raw), &len);
        if (!m) {
            fail_msg("no final answer within %d ms", WAIT_MS);
        }
        (void)file_response(m, raw, NULL, case_callid, a);
        mem_deref(m);
    }
}

static uint64_t g_calls;
static uint64_t g_refused;
static uint64_t g_registers_ok;

/* The call branch: 100 came before the probe's 200; the host sees CALL_INCOMING, rejects it
 * 404, and the customer gets the 404 (ACKed) and the call ends. */
static void expect_call(const char *name, const struct pl *callid, struct answers *a)
{
    struct blend_sip_event ev;
    if (a->provisional != 1 || a->finals != 0) {
        fail_msg("%s: want 100 Trying only before the host decides, got %d provisional, %d final "
                 "(first %.60s)",
                 name, a->provisional, a->finals, a->hdrs);
    }
    wait_event(BLEND_SIP_EV_CALL_INCOMING, &ev);
    assert_true(ev.call != 0);
    assert_string_equal(ev.transport, "udp");
    assert_int_equal(blend_sip_call_reject(S.sip, ev.call, 404, "Not Found"), 0);
    wait_final(callid, a);
    assert_int_equal(a->code, 404);
    struct blend_sip_event end;
    wait_event(BLEND_SIP_EV_CALL_ENDED, &end);
    assert_true(end.call == ev.call);
    assert_int_equal(end.sip_code, 404);
    g_calls++;
}

/* Gives the message another Call-ID of the same length (its first character becomes the
 * n-th of a few letters, never the one it had): the same request again within 32 s would be a
 * merged request (RFC 3261 8.2.2.2) and get 482 whatever else it carries. */
static void callid_mark(char *buf, size_t len, unsigned n)
{
    static const char marks[] = "TUVWXYZ";
    struct sip_msg *self = decode(buf, len);
    if (self && pl_isset(&self->callid)) {
        char *c = buf + (self->callid.p - (const char *)self->mb->buf);
        char orig = *c;
        *c = marks[n % 6] == orig ? marks[6] : marks[n % 6];
    }
    mem_deref(self);
}

/* Builds the message of a case: loaded, its top Via sent-by pointed at port on 127.0.0.1. */
static size_t build(const struct tcase *tc, int port, char *buf, size_t cap)
{
    size_t len = load(tc->name, buf, cap);
    if (tc->sentby) {
        char me[64];
        snprintf(me, sizeof(me), "127.0.0.1:%d", port);
        len = replace(buf, len, cap, tc->sentby, me);
    }
    return len;
}

static void run_udp(const struct tcase *tc, const char *buf, size_t len)
{
    struct answers a;
    memset(&a, 0, sizeof(a));
    /* The message's own Call-ID (when libre decodes it at all) tells its answers apart. */
    struct sip_msg *self = decode(buf, len);
    struct pl callid = PL_INIT;
    if (self) {
        callid = self->callid;
    }
    wire_send(buf, len);
    probe_collect(self ? &callid : NULL, &a);
    if (tc->udp == CALL) {
        expect_call(tc->name, self ? &callid : NULL, &a);
    } else if (tc->udp == DROP) {
        if (a.finals != 0 || a.provisional != 0) {
            fail_msg("%s: want no answer, got %.60s", tc->name, a.hdrs);
        }
    } else if (a.code != tc->udp || a.finals != 1) {
        fail_msg("%s over UDP: want %d, got %d (%d final answers: %.60s)", tc->name, tc->udp,
                 a.code, a.finals, a.hdrs);
    }
    mem_deref(self);
    assert_no_event(tc->name);
    g_refused += (uint64_t)tc->refused;
}

/* Over TCP: a connection of its own; the answer is read from the stream (or the connection
 * ends without one once the test closes its side: an incomplete message is never answered). */
static void run_tcp(const struct tcase *tc)
{
    static char buf[MSG_BYTES_MAX];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)&S.srv_tcp, sizeof(S.srv_tcp)), 0);
    struct sockaddr_in me;
    socklen_t sl = sizeof(me);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &sl), 0);
    /* The connection's own port as sent-by: not the UDP transaction of the same message. */
    size_t len = build(tc, ntohs(me.sin_port), buf, sizeof(buf));
    callid_mark(buf, len, 0);
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
    if (tc->tcp == CLOSED) {
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
    }
    char in[MSG_BYTES_MAX];
    size_t got = 0;
    int code = 0;
    int64_t deadline = mono_ms() + WAIT_MS;
    while (code == 0) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            fail_msg("%s over TCP: nothing within %d ms", tc->name, WAIT_MS);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, in + got, sizeof(in) - got - 1, 0);
        if (n <= 0) {
            break; /* the server closed the connection */
        }
        got += (size_t)n;
        /* Answers are small and end with an empty body: decode the first one when complete. */
        struct sip_msg *m = decode(in, got);
        if (m && (!m->req) && m->scode >= 200) {
            code = (int)m->scode;
            if (pl_strcmp(&m->cseq.met, "INVITE") == 0) {
                /* ACK on the same connection: the transaction is over. */
                char ackbuf[4096];
                const struct sip_hdr *via = sip_msg_hdr(m, SIP_HDR_VIA);
                int k = re_snprintf(ackbuf, sizeof(ackbuf),
                                    "ACK sip:blend@127.0.0.1 SIP/2.0\r\nVia: %r\r\nFrom: %r\r\n"
                                    "To: %r\r\nCall-ID: %r\r\nCSeq: %u ACK\r\nMax-Forwards: 70\r\n"
                                    "Content-Length: 0\r\n\r\n",
                                    &via->val, &m->from.val, &m->to.val, &m->callid, m->cseq.num);
                (void)send(fd, ackbuf, (size_t)k, MSG_NOSIGNAL);
            }
        }
        mem_deref(m);
    }
    close(fd);
    if (tc->tcp == CLOSED) {
        if (got != 0) {
            fail_msg("%s over TCP: want no answer, got %zu bytes", tc->name, got);
        }
    } else if (code != tc->tcp) {
        fail_msg("%s over TCP: want %d, got %d", tc->name, tc->tcp, code);
    }
    /* Still alive, and the TCP message created nothing. */
    struct answers a;
    memset(&a, 0, sizeof(a));
    probe_collect(NULL, &a);
    assert_no_event(tc->name);
    g_refused += (uint64_t)(tc->refused && tc->tcp != CLOSED);
}

/* An INVITE case once more with its SDP repaired (and another Call-ID: not a merged request),
 * so the SIP torture itself reaches admission. */
static void socket_open(void);

static void run_fixed(const struct tcase *tc)
{
    static const char bad[] = "a=rtpmap:31 LPC\r\n", good[] = "a=rtpmap:31 LPC/8000\r\n";
    static char buf[MSG_BYTES_MAX];
    /* A socket of its own: a sent-by of its own, not the first copy's transaction. */
    close(S.fd);
    socket_open();
    size_t orig_len = build(tc, S.port, buf, sizeof(buf) - 16);
    const char *at = memmem(buf, orig_len, bad, sizeof(bad) - 1);
    assert_non_null(at);
    size_t off = (size_t)(at - buf), grow = sizeof(good) - sizeof(bad);
    memmove(buf + off + sizeof(good) - 1, buf + off + sizeof(bad) - 1,
            orig_len - off - (sizeof(bad) - 1));
    memcpy(buf + off, good, sizeof(good) - 1);
    size_t len = orig_len + grow;
    /* Every such message says 150 or 152 octets; the body grew by `grow`. */
    const char *cl = memmem(buf, len, ": 150\r\n", 7);
    cl = cl ? cl : memmem(buf, len, ": 152\r\n", 7);
    assert_non_null(cl);
    char *digits = buf + (cl - buf) + 2;
    int n = atoi(digits) + (int)grow;
    char num[16];
    snprintf(num, sizeof(num), "%03d", n);
    memcpy(digits, num, 3);
    callid_mark(buf, len, 5);
    struct tcase fixed = *tc;
    fixed.udp = tc->fixed;
    fixed.refused = tc->fixed != CALL && tc->refused;
    run_udp(&fixed, buf, len);
}

/* A REGISTER case once more, with credentials for its To user over a fresh nonce and a Via of
 * the test's own (a new transaction), so the registrar's checks past authentication run. */
static void run_authed(const struct tcase *tc, const char *orig, size_t orig_len)
{
    struct sip_msg *self = decode(orig, orig_len);
    assert_non_null(self);
    char user[64];
    blend__sip_pl_copy(&self->to.uri.user, user, sizeof(user));
    struct pl ruri = self->ruri;

    /* A challenge for a fresh nonce: the same message, a new branch. */
    char buf[MSG_BYTES_MAX], hdr[1024];
    const char *line_end = memchr(orig, '\n', orig_len);
    size_t head = (size_t)(line_end - orig) + 1;
    char nonce[128] = "";
    for (int round = 0; round < 2; round++) {
        int h;
        if (round == 0) {
            h = snprintf(hdr, sizeof(hdr),
                         "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKauth%u;rport\r\n", S.port,
                         ++S.branch_seq);
        } else {
            uint8_t ha1[MD5_SIZE], ha2[MD5_SIZE], resp[MD5_SIZE];
            assert_int_equal(md5_printf(ha1, "%s:%s:secret-%s", user, REALM, user), 0);
            assert_int_equal(md5_printf(ha2, "REGISTER:%r", &ruri), 0);
            assert_int_equal(md5_printf(resp, "%w:%s:00000001:c0ffee:auth:%w", ha1, sizeof(ha1),
                                        nonce, ha2, sizeof(ha2)),
                             0);
            h = re_snprintf(hdr, sizeof(hdr),
                            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKauth%u;rport\r\n"
                            "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
                            "uri=\"%r\", response=\"%w\", qop=auth, nc=00000001, "
                            "cnonce=\"c0ffee\", algorithm=MD5\r\n",
                            S.port, ++S.branch_seq, user, REALM, nonce, &ruri, resp, sizeof(resp));
        }
        assert_true(h > 0 && head + (size_t)h + orig_len < sizeof(buf));
        memcpy(buf, orig, head);
        memcpy(buf + head, hdr, (size_t)h);
        memcpy(buf + head + (size_t)h, orig + head, orig_len - head);
        callid_mark(buf, orig_len + (size_t)h, (unsigned)round + 1);
        wire_send(buf, orig_len + (size_t)h);
        struct answers a;
        memset(&a, 0, sizeof(a));
        struct sip_msg *sent = decode(buf, orig_len + (size_t)h);
        assert_non_null(sent);
        probe_collect(&sent->callid, &a);
        mem_deref(sent);
        assert_int_equal(a.finals, 1);
        if (round == 0) {
            assert_int_equal(a.code, 401);
            struct sip_msg *r = decode(a.hdrs, strlen(a.hdrs));
            assert_non_null(r);
            const struct sip_hdr *wa = sip_msg_hdr(r, SIP_HDR_WWW_AUTHENTICATE);
            struct httpauth_digest_chall ch;
            assert_non_null(wa);
            assert_int_equal(httpauth_digest_challenge_decode(&ch, &wa->val), 0);
            assert_true(ch.nonce.l < sizeof(nonce));
            (void)pl_strcpy(&ch.nonce, nonce, sizeof(nonce));
            mem_deref(r);
            continue;
        }
        if (a.code != tc->authed) {
            fail_msg("%s with credentials: want %d, got %d", tc->name, tc->authed, a.code);
        }
        if (a.code == 200) {
            struct blend_sip_event ev;
            g_registers_ok++;
            wait_event(BLEND_SIP_EV_REGISTERED, &ev);
            assert_string_equal(ev.extension, user);
            /* The Contact URI is stored as sent, without anything outside its brackets. */
            assert_null(strchr(ev.contact, '?'));
            assert_int_equal(strncmp(ev.contact, "sip:", 4), 0);
        }
    }
    mem_deref(self);
    assert_no_event(tc->name);
}

/* A fresh UDP socket on 127.0.0.1 (any port) for the next case. */
static void socket_open(void)
{
    S.fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(S.fd >= 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(S.fd, (struct sockaddr *)&me, sizeof(me)), 0);
    socklen_t sl = sizeof(me);
    assert_int_equal(getsockname(S.fd, (struct sockaddr *)&me, &sl), 0);
    S.port = ntohs(me.sin_port);
}

static void test_torture(void **state)
{
    (void)state;
    char buf[MSG_BYTES_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tcase *tc = &cases[i];
        /* A socket per case: the RFC's messages reuse branches (z9hG4bKkdjuw), and with one
         * sent-by for all they would match each other's server transactions. */
        socket_open();
        size_t len = build(tc, S.port, buf, sizeof(buf));
        print_message("torture %s\n", tc->name);
        run_udp(tc, buf, len);
        if (tc->tcp) {
            run_tcp(tc);
        }
        if (tc->authed) {
            run_authed(tc, buf, len);
        }
        if (tc->fixed) {
            run_fixed(tc);
        }
        close(S.fd);
        S.fd = -1;
    }
    socket_open();
    /* The counters agree with what was sent, and every call is gone. */
    struct blend_sip_stats st;
    int64_t deadline = mono_ms() + WAIT_MS;
    do {
        blend_sip_stats_get(S.sip, &st);
    } while (st.calls_active != 0 && mono_ms() < deadline);
    assert_int_equal(st.calls_active, 0);
    assert_int_equal(st.calls_total, g_calls);
    assert_int_equal(st.calls_refused, g_refused);
    assert_int_equal(st.registers_ok, g_registers_ok);
    assert_int_equal(st.auth_failures, 0);
    assert_int_equal(st.locked_rejects, 0);
    assert_int_equal(st.events_dropped, 0);
    assert_int_equal(st.commands_rejected, 0);
    struct answers a;
    memset(&a, 0, sizeof(a));
    probe_collect(NULL, &a);
    assert_int_equal(a.finals, 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.lock, NULL);
    pthread_cond_init(&S.cond, NULL);
    /* The messages live next to this file's folder: tests/sip/torture/. */
    snprintf(S.dir, sizeof(S.dir), "%s", __FILE__);
    char *slash = strstr(S.dir, "/unit/sip/test_sip_torture.c");
    assert_non_null(slash);
    strcpy(slash, "/sip/torture");
    struct blend_sip_config cfg = {
        .udp_addr = "127.0.0.1:0",
        .tcp_addr = "127.0.0.1:0",
        .realm = REALM,
        .trunk_allow = "127.0.0.1",
        .wakeup = wakeup,
        .wakeup_arg = &S,
    };
    assert_int_equal(blend_sip_start(&cfg, &S.sip), 0);
    const char *const users[] = {"user", "watson"};
    for (size_t i = 0; i < 2; i++) {
        char ha1[33], pw[32];
        snprintf(pw, sizeof(pw), "secret-%s", users[i]);
        assert_int_equal(blend_sip_ha1(users[i], REALM, pw, ha1), 0);
        assert_int_equal(blend_sip_account_set(S.sip, users[i], ha1, (int64_t)i + 1), 0);
    }
    S.fd = -1;
    S.srv_udp.sin_family = AF_INET;
    S.srv_udp.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    S.srv_udp.sin_port = htons((uint16_t)blend_sip_local_port(S.sip, 0));
    S.srv_tcp = S.srv_udp;
    S.srv_tcp.sin_port = htons((uint16_t)blend_sip_local_port(S.sip, 1));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    blend_sip_stop(S.sip);
    if (S.fd >= 0) {
        close(S.fd);
    }
    pthread_mutex_destroy(&S.lock);
    pthread_cond_destroy(&S.cond);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live after stop\n", blend_alloc_live());
        return -1;
    }
    return 0;
}

int main(void)
{
    blend_log_set_level(BLEND_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_torture, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
