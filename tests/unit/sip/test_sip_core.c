/*
 * The registrar core without sockets: requests are decoded by libre from text, handed to
 * blend__sip_reg_handle() with a chosen `now`, and the answer and events are checked. Time is
 * an input here, so nonce expiry, brute-force windows and lock-outs are tested exactly.
 */
#include "base/alloc.h"
#include "sip/sip_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define REALM "blend"
#define T0 1000000u

struct fixture {
    struct blend__sip_settings set;
    struct blend__sip_counters counters;
    struct blend__sip_reg *reg;
    struct blend__sip_reply reply;
    struct blend_sip_event ev[64];
    int ev_n;
    char nonce[64];
    uint32_t cseq;
    const char *src;
};

static void on_event(const struct blend_sip_event *ev, void *arg)
{
    struct fixture *f = arg;
    assert_true(f->ev_n < 64);
    f->ev[f->ev_n++] = *ev;
}

static int setup_with(void **state, const struct blend_sip_config *cfg)
{
    struct fixture *f = blend_calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(blend__sip_settings_resolve(cfg, &f->set), 0);
    assert_int_equal(blend__sip_reg_create(&f->set, NULL, on_event, f, &f->counters, &f->reg), 0);
    uint8_t ha1[MD5_SIZE];
    char hex[33];
    assert_int_equal(blend_sip_ha1("1001", REALM, "secret1", hex), 0);
    assert_int_equal(blend__sip_hex_md5(hex, ha1), 0);
    assert_int_equal(blend__sip_reg_account_set(f->reg, "1001", ha1, 42), 0);
    assert_int_equal(blend_sip_ha1("1002", REALM, "secret2", hex), 0);
    assert_int_equal(blend__sip_hex_md5(hex, ha1), 0);
    assert_int_equal(blend__sip_reg_account_set(f->reg, "1002", ha1, 43), 0);
    f->src = "10.0.0.1:5062";
    *state = f;
    return 0;
}

static int setup(void **state)
{
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .realm = REALM,
                                   .nonce_ttl_s = 30,
                                   .expires_min_s = 60,
                                   .expires_max_s = 600,
                                   .auth_fail_max = 3,
                                   .auth_fail_window_s = 60,
                                   .auth_lock_s = 100};
    return setup_with(state, &cfg);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    blend__sip_reg_destroy(f->reg);
    blend_free(f);
    assert_int_equal(blend_alloc_live(), 0);
    return 0;
}

/* Decodes the request text (headers joined with CRLF) from f->src and handles it at now. */
static void handle(struct fixture *f, uint64_t now_ms, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    struct mbuf *mb = mbuf_alloc((size_t)n);
    assert_non_null(mb);
    assert_int_equal(mbuf_write_mem(mb, (const uint8_t *)text, (size_t)n), 0);
    mb->pos = 0;
    struct sip_msg *msg = NULL;
    assert_int_equal(sip_msg_decode(&msg, mb), 0);
    assert_int_equal(sa_decode(&msg->src, f->src, strlen(f->src)), 0);
    msg->tp = SIP_TRANSP_UDP;
    blend__sip_reg_handle(f->reg, msg, now_ms, &f->reply);
    mem_deref(msg);
    mem_deref(mb);
    /* Keep the last nonce offered, as a phone would. */
    const char *p = strstr(f->reply.hdrs, "nonce=\"");
    if (p) {
        p += 7;
        const char *e = strchr(p, '"');
        assert_non_null(e);
        assert_true(e - p < 64);
        memcpy(f->nonce, p, (size_t)(e - p));
        f->nonce[e - p] = '\0';
    }
}

/* The Authorization header a phone would compute for REGISTER sip:blend. */
static void authorization(char *out, size_t cap, const char *user, const char *password,
                          const char *nonce, unsigned nc)
{
    uint8_t ha1[MD5_SIZE], ha2[MD5_SIZE], resp[MD5_SIZE];
    char ncs[9];
    snprintf(ncs, sizeof(ncs), "%08x", nc);
    assert_int_equal(md5_printf(ha1, "%s:%s:%s", user, REALM, password), 0);
    assert_int_equal(md5_printf(ha2, "REGISTER:sip:blend"), 0);
    assert_int_equal(
        md5_printf(resp, "%w:%s:%s:cn0nce:auth:%w", ha1, sizeof(ha1), nonce, ncs, ha2, sizeof(ha2)),
        0);
    assert_true(re_snprintf(out, cap,
                            "Authorization: Digest username=\"%s\", realm=\"" REALM "\", "
                            "nonce=\"%s\", uri=\"sip:blend\", response=\"%w\", qop=auth, "
                            "nc=%s, cnonce=\"cn0nce\", algorithm=MD5\r\n",
                            user, nonce, resp, sizeof(resp), ncs) > 0);
}

/* A REGISTER for `to_user`; auth and extra headers may be "". */
static void reg(struct fixture *f, uint64_t now_ms, const char *to_user, const char *contact,
                const char *expires, const char *auth)
{
    f->cseq++;
    handle(f, now_ms,
           "REGISTER sip:blend SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK%u;rport\r\n"
           "From: <sip:%s@blend>;tag=a1\r\n"
           "To: <sip:%s@blend>\r\n"
           "Call-ID: call-1\r\n"
           "CSeq: %u REGISTER\r\n"
           "%s%s%s"
           "%s%s%s"
           "User-Agent: TestPhone 1.0\r\n"
           "%s"
           "Content-Length: 0\r\n\r\n",
           f->cseq, to_user, to_user, f->cseq, contact ? "Contact: " : "", contact ? contact : "",
           contact ? "\r\n" : "", expires ? "Expires: " : "", expires ? expires : "",
           expires ? "\r\n" : "", auth);
}

/* Challenge then authenticated REGISTER, as a phone does. */
static void reg_auth(struct fixture *f, uint64_t now_ms, const char *user, const char *password,
                     const char *contact, const char *expires)
{
    char auth[512];
    reg(f, now_ms, user, contact, expires, "");
    assert_int_equal(f->reply.scode, 401);
    authorization(auth, sizeof(auth), user, password, f->nonce, 1);
    reg(f, now_ms, user, contact, expires, auth);
}

static void challenge_then_register(void **state)
{
    struct fixture *f = *state;
    reg(f, T0, "1001", "<sip:1001@10.0.0.1:5062>", "120", "");
    assert_int_equal(f->reply.scode, 401);
    assert_non_null(strstr(f->reply.hdrs, "realm=\"blend\""));
    assert_non_null(strstr(f->reply.hdrs, "qop=\"auth\""));
    assert_null(strstr(f->reply.hdrs, "stale"));
    assert_int_equal(f->ev_n, 0);
    char auth[512];
    authorization(auth, sizeof(auth), "1001", "secret1", f->nonce, 1);
    reg(f, T0 + 10, "1001", "<sip:1001@10.0.0.1:5062>", "120", auth);
    assert_int_equal(f->reply.scode, 200);
    assert_string_equal(f->reply.hdrs, "Contact: <sip:1001@10.0.0.1:5062>;expires=120\r\n");
    assert_int_equal(f->ev_n, 1);
    assert_int_equal(f->ev[0].kind, BLEND_SIP_EV_REGISTERED);
    assert_int_equal(f->ev[0].agent_id, 42);
    assert_string_equal(f->ev[0].source, "10.0.0.1:5062");
    assert_string_equal(f->ev[0].user_agent, "TestPhone 1.0");
    assert_string_equal(f->ev[0].transport, "udp");
    assert_int_equal(f->ev[0].expires_s, 120);
    /* The same nonce-count again is a replay: stale, not a failure. */
    reg(f, T0 + 20, "1001", "<sip:1001@10.0.0.1:5062>", "120", auth);
    assert_int_equal(f->reply.scode, 401);
    assert_non_null(strstr(f->reply.hdrs, "stale=true"));
    /* The fresh nonce works, and again with a higher count; an unchanged binding emits
     * nothing. */
    char nonce1[64];
    authorization(auth, sizeof(auth), "1001", "secret1", f->nonce, 1);
    strcpy(nonce1, f->nonce);
    reg(f, T0 + 30, "1001", "<sip:1001@10.0.0.1:5062>", "120", auth);
    assert_int_equal(f->reply.scode, 200);
    authorization(auth, sizeof(auth), "1001", "secret1", nonce1, 2);
    reg(f, T0 + 40, "1001", "<sip:1001@10.0.0.1:5062>", "300", auth);
    assert_int_equal(f->reply.scode, 200);
    assert_string_equal(f->reply.hdrs, "Contact: <sip:1001@10.0.0.1:5062>;expires=300\r\n");
    assert_int_equal(f->ev_n, 1);
    assert_int_equal(atomic_load(&f->counters.auth_failures), 0);
    assert_int_equal(atomic_load(&f->counters.registers_ok), 3);
}

static void stale_and_forged_nonces(void **state)
{
    struct fixture *f = *state;
    char auth[512];
    reg(f, T0, "1001", "<sip:1001@10.0.0.1:5062>", NULL, "");
    authorization(auth, sizeof(auth), "1001", "secret1", f->nonce, 1);
    /* 30 s TTL: one millisecond too late. */
    reg(f, T0 + 30001, "1001", "<sip:1001@10.0.0.1:5062>", NULL, auth);
    assert_int_equal(f->reply.scode, 401);
    assert_non_null(strstr(f->reply.hdrs, "stale=true"));
    /* A nonce we never issued, with a correct digest over it. */
    authorization(auth, sizeof(auth), "1001", "secret1",
                  "00000000000f4240aaaaaaaa0123456789abcdef01234567", 1);
    reg(f, T0, "1001", "<sip:1001@10.0.0.1:5062>", NULL, auth);
    assert_int_equal(f->reply.scode, 401);
    assert_non_null(strstr(f->reply.hdrs, "stale=true"));
    assert_int_equal(f->ev_n, 0);
    assert_int_equal(atomic_load(&f->counters.auth_failures), 0);
    /* Default interval 3600 s is lowered to the 600 s maximum. */
    reg_auth(f, T0 + 30001, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 200);
    assert_int_equal(f->ev[0].expires_s, 600);
}

static void failures_lock_the_source(void **state)
{
    struct fixture *f = *state;
    /* Unknown extension and wrong password: the same answer. */
    reg_auth(f, T0, "9999", "secret1", "<sip:9999@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 401);
    assert_null(strstr(f->reply.hdrs, "stale"));
    reg_auth(f, T0 + 1, "1001", "bad", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 401);
    assert_null(strstr(f->reply.hdrs, "stale"));
    assert_int_equal(f->ev_n, 2);
    assert_int_equal(f->ev[0].kind, BLEND_SIP_EV_AUTH_FAILED);
    assert_string_equal(f->ev[0].extension, "9999");
    assert_string_equal(f->ev[1].extension, "1001");
    /* Another port of the same IP is the same source; the third failure locks it. */
    f->src = "10.0.0.1:6000";
    reg_auth(f, T0 + 2, "1001", "bad", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 403);
    assert_int_equal(f->ev_n, 4);
    assert_int_equal(f->ev[3].kind, BLEND_SIP_EV_SOURCE_LOCKED);
    assert_string_equal(f->ev[3].source, "10.0.0.1");
    assert_int_equal(f->ev[3].locked_until_ms, T0 + 2 + 100000);
    /* Locked: 403 without a challenge for everything, right password included. */
    reg(f, T0 + 3, "1001", "<sip:1001@10.0.0.1:5062>", NULL, "");
    assert_int_equal(f->reply.scode, 403);
    assert_int_equal(f->reply.hdrs_len, 0);
    handle(f, T0 + 4,
           "OPTIONS sip:blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKo\r\n"
           "From: <sip:a@b>;tag=1\r\nTo: <sip:blend>\r\nCall-ID: o1\r\n"
           "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(f->reply.scode, 403);
    /* Another IP is not affected. */
    f->src = "10.0.0.2:5060";
    reg_auth(f, T0 + 5, "1002", "secret2", "<sip:1002@10.0.0.2:5060>", NULL);
    assert_int_equal(f->reply.scode, 200);
    /* The lock ends after 100 s. */
    f->src = "10.0.0.1:5062";
    reg(f, T0 + 2 + 100000, "1001", "<sip:1001@10.0.0.1:5062>", NULL, "");
    assert_int_equal(f->reply.scode, 401);
    assert_int_equal(atomic_load(&f->counters.locked_rejects), 2);
    assert_int_equal(atomic_load(&f->counters.auth_failures), 3);
}

static void failures_outside_the_window_do_not_add_up(void **state)
{
    struct fixture *f = *state;
    reg_auth(f, T0, "1001", "bad", "<sip:1001@10.0.0.1:5062>", NULL);
    reg_auth(f, T0 + 1, "1001", "bad", "<sip:1001@10.0.0.1:5062>", NULL);
    /* 60 s window: the third failure comes too late to lock. */
    reg_auth(f, T0 + 60001, "1001", "bad", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 401);
    for (int i = 0; i < f->ev_n; i++) {
        assert_int_not_equal(f->ev[i].kind, BLEND_SIP_EV_SOURCE_LOCKED);
    }
}

static void to_user_must_match(void **state)
{
    struct fixture *f = *state;
    char auth[512];
    reg(f, T0, "1002", "<sip:1002@10.0.0.1:5062>", NULL, "");
    authorization(auth, sizeof(auth), "1001", "secret1", f->nonce, 1);
    reg(f, T0, "1002", "<sip:1002@10.0.0.1:5062>", NULL, auth);
    assert_int_equal(f->reply.scode, 403);
    assert_int_equal(f->ev_n, 0);
}

static void expires_rules(void **state)
{
    struct fixture *f = *state;
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", "59");
    assert_int_equal(f->reply.scode, 423);
    assert_string_equal(f->reply.hdrs, "Min-Expires: 60\r\n");
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", "abc");
    assert_int_equal(f->reply.scode, 400);
    /* Two phones; the contact parameter wins over the header. */
    reg_auth(f, T0, "1001", "secret1",
             "<sip:1001@10.0.0.1:5062>;expires=90, <sip:1001@10.0.0.9:5060;transport=tcp>", "120");
    assert_int_equal(f->reply.scode, 200);
    assert_string_equal(f->reply.hdrs, "Contact: <sip:1001@10.0.0.1:5062>;expires=90\r\n"
                                       "Contact: <sip:1001@10.0.0.9:5060;transport=tcp>;"
                                       "expires=120\r\n");
    assert_int_equal(blend__sip_reg_bindings_count(f->reg, "1001"), 2);
    assert_int_equal(f->ev_n, 2);
    /* A query (no Contact) lists the bindings with the time left. */
    reg_auth(f, T0 + 30000, "1001", "secret1", NULL, NULL);
    assert_int_equal(f->reply.scode, 200);
    assert_non_null(strstr(f->reply.hdrs, "5062>;expires=60\r\n"));
    /* "*" needs Expires: 0. */
    reg_auth(f, T0 + 30000, "1001", "secret1", "*", "60");
    assert_int_equal(f->reply.scode, 400);
    reg_auth(f, T0 + 30000, "1001", "secret1", "*", "0");
    assert_int_equal(f->reply.scode, 200);
    assert_int_equal(f->reply.hdrs_len, 0);
    assert_int_equal(blend__sip_reg_bindings_count(f->reg, "1001"), 0);
    assert_int_equal(f->ev_n, 3);
    assert_int_equal(f->ev[2].kind, BLEND_SIP_EV_UNREGISTERED);
    assert_string_equal(f->ev[2].cause, "unregistered");
    assert_int_equal(f->ev[2].agent_id, 42);
}

static void same_contact_twice_in_one_request(void **state)
{
    struct fixture *f = *state;
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 200);
    reg_auth(f, T0, "1001", "secret1",
             "<sip:1001@10.0.0.1:5062>;expires=0, <sip:1001@10.0.0.1:5062>;expires=0", NULL);
    assert_int_equal(f->reply.scode, 200);
    assert_int_equal(blend__sip_reg_bindings_count(f->reg, "1001"), 0);
    assert_int_equal(f->ev_n, 2);
    /* Added twice in one request: one binding. */
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.7>, <sip:1001@10.0.0.7>", NULL);
    assert_int_equal(f->reply.scode, 200);
    assert_int_equal(blend__sip_reg_bindings_count(f->reg, "1001"), 1);
    assert_int_equal(f->ev_n, 3);
}

static void out_of_order_cseq_and_limits(void **state)
{
    struct fixture *f = *state;
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 200);
    f->cseq = 0; /* same Call-ID, CSeq going back */
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 500);
    f->cseq = 100;
    char contacts[2048] = "";
    for (int i = 0; i < BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX; i++) {
        char one[64];
        snprintf(one, sizeof(one), "%s<sip:1001@10.0.1.%d:5060>", i ? ", " : "", i);
        strcat(contacts, one);
    }
    /* One existing binding plus eight new ones is one too many. */
    reg_auth(f, T0, "1001", "secret1", contacts, NULL);
    assert_int_equal(f->reply.scode, 503);
    assert_int_equal(blend__sip_reg_bindings_count(f->reg, "1001"), 1);
    strcat(contacts, ", <sip:1001@10.0.2.1:5060>");
    reg_auth(f, T0, "1001", "secret1", contacts, NULL);
    assert_int_equal(f->reply.scode, 400);
}

static void other_methods_and_account_removal(void **state)
{
    struct fixture *f = *state;
    handle(f, T0,
           "OPTIONS sip:blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKo\r\n"
           "From: <sip:a@b>;tag=1\r\nTo: <sip:blend>\r\nCall-ID: o1\r\n"
           "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(f->reply.scode, 200);
    assert_string_equal(f->reply.hdrs, "Allow: INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS\r\n");
    handle(f, T0,
           "INVITE sip:1001@blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKi\r\n"
           "From: <sip:a@b>;tag=1\r\nTo: <sip:1001@blend>\r\nCall-ID: i1\r\n"
           "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(f->reply.scode, 501);
    handle(f, T0,
           "ACK sip:1001@blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKi\r\n"
           "From: <sip:a@b>;tag=1\r\nTo: <sip:1001@blend>\r\nCall-ID: i1\r\n"
           "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(f->reply.scode, 0);
    reg_auth(f, T0, "1001", "secret1", "<sip:1001@10.0.0.1:5062>", NULL);
    assert_int_equal(f->reply.scode, 200);
    blend__sip_reg_account_remove(f->reg, "1001");
    assert_int_equal(f->ev_n, 2);
    assert_int_equal(f->ev[1].kind, BLEND_SIP_EV_UNREGISTERED);
    assert_string_equal(f->ev[1].cause, "account-removed");
    assert_int_equal(blend__sip_reg_bindings_count(f->reg, "1001"), -1);
    blend__sip_reg_account_remove(f->reg, "1001");
    assert_int_equal(f->ev_n, 2);
}

static void config_and_helpers(void **state)
{
    struct blend__sip_settings set;
    struct blend_sip_config cfg = {0};
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), BLEND_EINVAL); /* no transport */
    cfg.udp_addr = "127.0.0.1:0";
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), 0);
    assert_string_equal(set.realm, "blend");
    assert_int_equal(set.nonce_ttl_ms, 300000);
    assert_int_equal(set.options_timeout_ms, 32000);
    cfg.expires_min_s = 700; /* above the 3600 default max is fine, above max_s is not */
    cfg.expires_max_s = 600;
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), BLEND_EINVAL);
    cfg.expires_min_s = 0;
    cfg.realm = "bad\"realm";
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), BLEND_EINVAL);
    cfg.realm = NULL;
    cfg.options_timeout_s = 33; /* beyond libre's own transaction timeout */
    assert_int_equal(blend__sip_settings_resolve(&cfg, &set), BLEND_EINVAL);
    char hex[33];
    /* RFC 2617 style check value computed independently: md5("1001:blend:secret1"). */
    assert_int_equal(blend_sip_ha1("1001", "blend", "secret1", hex), 0);
    uint8_t md[MD5_SIZE];
    char expect[33];
    md5((const uint8_t *)"1001:blend:secret1", 18, md);
    for (int i = 0; i < MD5_SIZE; i++) {
        snprintf(expect + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(hex, expect);
    assert_int_equal(blend__sip_hex_md5("zz", md), BLEND_EINVAL);
    assert_int_equal(blend_sip_ha1(NULL, "blend", "x", hex), BLEND_EINVAL);
    assert_string_equal(blend_sip_event_kind_name(BLEND_SIP_EV_SOURCE_LOCKED), "source-locked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(challenge_then_register, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_and_forged_nonces, setup, teardown),
        cmocka_unit_test_setup_teardown(failures_lock_the_source, setup, teardown),
        cmocka_unit_test_setup_teardown(failures_outside_the_window_do_not_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(to_user_must_match, setup, teardown),
        cmocka_unit_test_setup_teardown(expires_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_order_cseq_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(same_contact_twice_in_one_request, setup, teardown),
        cmocka_unit_test_setup_teardown(other_methods_and_account_removal, setup, teardown),
        cmocka_unit_test(config_and_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
