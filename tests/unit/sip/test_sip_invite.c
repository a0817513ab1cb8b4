/*
 * INVITE admission without sockets: trunk lists (CIDR matching), SDP offers negotiated by
 * libre's SDP, and blend__sip_invite_check() on decoded INVITEs from trunks, registered phones
 * (digest through the registrar, with chosen times) and unknown sources.
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

static const char SDP_ALAW[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n"
                               "t=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\n"
                               "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
                               "a=rtcp-mux\r\n";
static const char SDP_ULAW[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n"
                               "t=0 0\r\nm=audio 4002 RTP/AVP 18 0\r\n";
static const char SDP_G729[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n"
                               "t=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
static const char SDP_SAVP[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n"
                               "t=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n";
static const char SDP_VIDEO[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n"
                                "t=0 0\r\nm=video 4000 RTP/AVP 96\r\n";

struct fixture {
    struct blend__sip_settings set;
    struct blend__sip_counters counters;
    struct blend__sip_reg *reg;
    struct blend__sip_reply reply;
    struct blend__sip_invite inv;
    bool admitted;
    int ev_n;
    char nonce[64];
    uint32_t cseq;
};

static void on_event(const struct blend_sip_event *ev, void *arg)
{
    struct fixture *f = arg;
    (void)ev;
    f->ev_n++;
}

static int setup(void **state)
{
    struct blend_sip_config cfg = {.udp_addr = "127.0.0.1:0",
                                   .realm = REALM,
                                   .auth_fail_max = 3,
                                   .trunk_allow = "192.0.2.10, 198.51.100.0/24 2001:db8::/32"};
    struct fixture *f = blend_calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(blend__sip_settings_resolve(&cfg, &f->set), 0);
    assert_int_equal(blend__sip_reg_create(&f->set, NULL, on_event, f, &f->counters, &f->reg), 0);
    uint8_t ha1[MD5_SIZE];
    char hex[33];
    assert_int_equal(blend_sip_ha1("1001", REALM, "secret1", hex), 0);
    assert_int_equal(blend__sip_hex_md5(hex, ha1), 0);
    assert_int_equal(blend__sip_reg_account_set(f->reg, "1001", ha1, 42), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    blend__sip_reg_destroy(f->reg);
    blend_free(f);
    assert_int_equal(blend_alloc_live(), 0);
    return 0;
}

static struct sip_msg *decode(const char *src, const char *fmt, va_list ap, struct mbuf **mbp)
{
    char text[4096];
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    struct mbuf *mb = mbuf_alloc((size_t)n);
    assert_non_null(mb);
    assert_int_equal(mbuf_write_mem(mb, (const uint8_t *)text, (size_t)n), 0);
    mb->pos = 0;
    struct sip_msg *msg = NULL;
    assert_int_equal(sip_msg_decode(&msg, mb), 0);
    assert_int_equal(sa_decode(&msg->src, src, strlen(src)), 0);
    msg->tp = SIP_TRANSP_UDP;
    *mbp = mb;
    return msg;
}

static void keep_nonce(struct fixture *f)
{
    const char *p = strstr(f->reply.hdrs, "nonce=\"");
    if (p) {
        p += 7;
        const char *e = strchr(p, '"');
        assert_non_null(e);
        memcpy(f->nonce, p, (size_t)(e - p));
        f->nonce[e - p] = '\0';
    }
}

static void invite(struct fixture *f, const char *src, const char *fmt, ...)
{
    struct mbuf *mb;
    va_list ap;
    va_start(ap, fmt);
    struct sip_msg *msg = decode(src, fmt, ap, &mb);
    va_end(ap);
    f->admitted =
        blend__sip_invite_check(f->reg, &f->set.trunks, msg, T0 + f->cseq, &f->reply, &f->inv);
    keep_nonce(f);
    mem_deref(msg);
    mem_deref(mb);
}

static void registrar(struct fixture *f, const char *src, const char *fmt, ...)
{
    struct mbuf *mb;
    va_list ap;
    va_start(ap, fmt);
    struct sip_msg *msg = decode(src, fmt, ap, &mb);
    va_end(ap);
    blend__sip_reg_handle(f->reg, msg, T0 + f->cseq, &f->reply);
    keep_nonce(f);
    mem_deref(msg);
    mem_deref(mb);
}

static void authorization(char *out, size_t cap, const char *method, const char *uri,
                          const char *password, const char *nonce, unsigned nc)
{
    uint8_t ha1[MD5_SIZE], ha2[MD5_SIZE], resp[MD5_SIZE];
    char ncs[9];
    snprintf(ncs, sizeof(ncs), "%08x", nc);
    assert_int_equal(md5_printf(ha1, "1001:%s:%s", REALM, password), 0);
    assert_int_equal(md5_printf(ha2, "%s:%s", method, uri), 0);
    assert_int_equal(
        md5_printf(resp, "%w:%s:%s:cn:auth:%w", ha1, sizeof(ha1), nonce, ncs, ha2, sizeof(ha2)), 0);
    assert_true(re_snprintf(out, cap,
                            "Authorization: Digest username=\"1001\", realm=\"" REALM "\", "
                            "nonce=\"%s\", uri=\"%s\", response=\"%w\", qop=auth, "
                            "nc=%s, cnonce=\"cn\", algorithm=MD5\r\n",
                            nonce, uri, resp, sizeof(resp), ncs) > 0);
}

/* An INVITE to `to` with extra headers and an SDP body (NULL: no body). */
#define INVITE_FMT                                                                                 \
    "INVITE sip:%s@blend SIP/2.0\r\n"                                                              \
    "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKi%u\r\n"                                         \
    "From: \"Bob Caller\" <sip:%s@10.0.0.1>;tag=f1\r\nTo: <sip:%s@blend>\r\n"                      \
    "Call-ID: inv-%u\r\nCSeq: 1 INVITE\r\nContact: <sip:%s@10.0.0.1:5062>\r\n%s"                   \
    "%sContent-Length: %zu\r\n\r\n%s"

static void call(struct fixture *f, const char *src, const char *to, const char *from,
                 const char *hdrs, const char *sdp)
{
    f->cseq++;
    invite(f, src, INVITE_FMT, to, f->cseq, from, to, f->cseq, from, hdrs,
           sdp ? "Content-Type: application/sdp\r\n" : "", sdp ? strlen(sdp) : (size_t)0,
           sdp ? sdp : "");
}

static void acl_rules(void **state)
{
    struct fixture *f = *state;
    struct sa a;
    struct blend__sip_acl acl;
    const struct blend__sip_acl *t = &f->set.trunks;
    assert_int_equal(t->n, 3);
    const char *yes[] = {"192.0.2.10", "198.51.100.0", "198.51.100.255", "2001:db8::1"};
    const char *no[] = {"192.0.2.11", "198.51.101.1", "2001:db9::1", "10.0.0.1"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sa_set_str(&a, yes[i], 5060), 0);
        assert_true(blend__sip_acl_match(t, &a));
        assert_int_equal(sa_set_str(&a, no[i], 5060), 0);
        assert_false(blend__sip_acl_match(t, &a));
    }
    assert_int_equal(blend__sip_acl_parse(NULL, &acl), 0);
    assert_int_equal(acl.n, 0);
    assert_int_equal(blend__sip_acl_parse(" , ", &acl), 0);
    assert_int_equal(acl.n, 0);
    assert_int_equal(blend__sip_acl_parse("0.0.0.0/0", &acl), 0);
    assert_int_equal(sa_set_str(&a, "203.0.113.7", 1), 0);
    assert_true(blend__sip_acl_match(&acl, &a));
    assert_int_equal(blend__sip_acl_parse("10.0.0.0/12", &acl), 0);
    assert_int_equal(sa_set_str(&a, "10.15.255.255", 1), 0);
    assert_true(blend__sip_acl_match(&acl, &a));
    assert_int_equal(sa_set_str(&a, "10.16.0.0", 1), 0);
    assert_false(blend__sip_acl_match(&acl, &a));
    const char *bad[] = {"host.example", "10.0.0.0/33", "::1/129",  "10.0.0.0/",
                         "10.0.0.0/-1",  "10.0.0.0/8x", "1.2.3.4.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(blend__sip_acl_parse(bad[i], &acl), BLEND_EINVAL);
    }
    char many[BLEND_SIP_TRUNK_ALLOW_BYTES_MAX];
    many[0] = '\0';
    for (int i = 0; i <= BLEND_SIP_TRUNKS_MAX; i++) {
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
    }
    assert_int_equal(blend__sip_acl_parse(many, &acl), BLEND_EINVAL);
}

static void parse_sdp(const char *text, struct blend__sip_offer *o, int expect)
{
    struct mbuf *mb = mbuf_alloc(strlen(text) + 1);
    assert_non_null(mb);
    assert_int_equal(mbuf_write_str(mb, text), 0);
    mb->pos = 0;
    assert_int_equal(blend__sip_sdp_offer_parse(mb, o), expect);
    assert_int_equal(mb->pos, 0);
    mem_deref(mb);
}

static void sdp_offers(void **state)
{
    (void)state;
    struct blend__sip_offer o;
    parse_sdp(SDP_ALAW, &o, 0);
    assert_int_equal(o.codec_pt, BLEND__SIP_PT_PCMA);
    assert_int_equal(o.dtmf_pt, 101);
    assert_true(o.rtcp_mux);
    assert_int_equal(sa_port(&o.raddr), 4000);
    char ip[64];
    assert_int_equal(re_snprintf(ip, sizeof(ip), "%j", &o.raddr) > 0, 1);
    assert_string_equal(ip, "10.0.0.9");
    parse_sdp(SDP_ULAW, &o, 0);
    assert_int_equal(o.codec_pt, BLEND__SIP_PT_PCMU);
    assert_int_equal(o.dtmf_pt, -1);
    assert_false(o.rtcp_mux);
    parse_sdp(SDP_G729, &o, BLEND_ENOENT);
    parse_sdp(SDP_SAVP, &o, BLEND_ENOENT);
    parse_sdp(SDP_VIDEO, &o, BLEND_ENOENT);
    parse_sdp("", &o, BLEND_ENOENT);
    parse_sdp("v=1\r\n", &o, BLEND_EPARSE);
    parse_sdp("this is not sdp", &o, BLEND_EPARSE);
}

static void trunk_calls(void **state)
{
    struct fixture *f = *state;
    call(f, "192.0.2.10:5060", "+8225550101", "5551234", "", SDP_ALAW);
    assert_true(f->admitted);
    assert_true(f->inv.from_trunk);
    assert_int_equal(f->inv.agent_id, 0);
    assert_string_equal(f->inv.dialled, "+8225550101");
    assert_string_equal(f->inv.caller, "5551234");
    assert_string_equal(f->inv.caller_name, "Bob Caller");
    assert_int_equal(f->inv.offer.codec_pt, BLEND__SIP_PT_PCMA);
    /* From a trunk, P-Asserted-Identity names the caller. */
    call(f, "198.51.100.7:5060", "100", "anonymous",
         "P-Asserted-Identity: \"Carol\" <sip:+4930123@carrier.example>\r\n", SDP_ULAW);
    assert_true(f->admitted);
    assert_string_equal(f->inv.caller, "+4930123");
    assert_string_equal(f->inv.caller_name, "Carol");
    /* No common codec, no SDP at all, a broken SDP. */
    call(f, "192.0.2.10:5060", "100", "5551234", "", SDP_G729);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 488);
    call(f, "192.0.2.10:5060", "100", "5551234", "", NULL);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 488);
    call(f, "192.0.2.10:5060", "100", "5551234", "", "garbage");
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 400);
    assert_int_equal(f->ev_n, 0);
}

static void unknown_source_and_phones(void **state)
{
    struct fixture *f = *state;
    /* Neither a trunk nor a registered phone: 403, no challenge, not a failure. */
    call(f, "10.0.0.1:5062", "100", "1001", "", SDP_ALAW);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 403);
    assert_int_equal(f->ev_n, 0);
    /* The phone registers from 10.0.0.1; its INVITEs are then challenged like REGISTER. */
    char auth[512];
    const char *regfmt =
        "REGISTER sip:blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=r%d\r\n"
        "From: <sip:1001@blend>;tag=r\r\nTo: <sip:1001@blend>\r\nCall-ID: r\r\n"
        "CSeq: %d REGISTER\r\nContact: <sip:1001@10.0.0.1:5062>\r\n%s"
        "Content-Length: 0\r\n\r\n";
    registrar(f, "10.0.0.1:5062", regfmt, 1, 1, "");
    assert_int_equal(f->reply.scode, 401);
    authorization(auth, sizeof(auth), "REGISTER", "sip:blend", "secret1", f->nonce, 1);
    registrar(f, "10.0.0.1:5062", regfmt, 2, 2, auth);
    assert_int_equal(f->reply.scode, 200);
    int registered = f->ev_n;
    /* Another port of the same IP counts as the phone's address. */
    call(f, "10.0.0.1:5999", "+8225550101", "1001", "", SDP_ALAW);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 401);
    assert_non_null(strstr(f->reply.hdrs, "WWW-Authenticate: Digest"));
    authorization(auth, sizeof(auth), "INVITE", "sip:+8225550101@blend", "secret1", f->nonce, 1);
    call(f, "10.0.0.1:5062", "+8225550101", "1001", auth, SDP_ALAW);
    assert_true(f->admitted);
    assert_false(f->inv.from_trunk);
    assert_int_equal(f->inv.agent_id, 42);
    assert_string_equal(f->inv.caller, "1001");
    /* A wrong password is a failure (AUTH_FAILED), answered with a new challenge. */
    authorization(auth, sizeof(auth), "INVITE", "sip:+8225550101@blend", "wrong", f->nonce, 2);
    call(f, "10.0.0.1:5062", "+8225550101", "1001", auth, SDP_ALAW);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 401);
    assert_int_equal(f->ev_n, registered + 1);
    /* Credentials from an unknown source are checked too (and fail the same way). */
    call(f, "10.9.9.9:5062", "100", "1001", auth, SDP_ALAW);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 401);
    /* Once the binding goes, the source is unknown again. */
    authorization(auth, sizeof(auth), "REGISTER", "sip:blend", "secret1", f->nonce, 1);
    registrar(f, "10.0.0.1:5062",
              "REGISTER sip:blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=r3\r\n"
              "From: <sip:1001@blend>;tag=r\r\nTo: <sip:1001@blend>\r\nCall-ID: r\r\n"
              "CSeq: 3 REGISTER\r\nContact: *\r\nExpires: 0\r\n%sContent-Length: 0\r\n\r\n",
              auth);
    assert_int_equal(f->reply.scode, 200);
    call(f, "10.0.0.1:5062", "100", "1001", "", SDP_ALAW);
    assert_int_equal(f->reply.scode, 403);
}

/* A phone registered from an address trunk_allow admits (phones and the trunk on one host): its
 * INVITEs from its binding's very address and port are a phone's (challenged, then the agent's
 * call); the trunk's, from another port or naming another caller, stay trunk calls. */
static void phone_on_a_trunk_address(void **state)
{
    struct fixture *f = *state;
    char auth[512];
    const char *regfmt =
        "REGISTER sip:blend SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=r%d\r\n"
        "From: <sip:1001@blend>;tag=r\r\nTo: <sip:1001@blend>\r\nCall-ID: r\r\n"
        "CSeq: %d REGISTER\r\nContact: <sip:1001@192.0.2.10:5070>\r\n%s"
        "Content-Length: 0\r\n\r\n";
    registrar(f, "192.0.2.10:5070", regfmt, 1, 1, "");
    assert_int_equal(f->reply.scode, 401);
    authorization(auth, sizeof(auth), "REGISTER", "sip:blend", "secret1", f->nonce, 1);
    registrar(f, "192.0.2.10:5070", regfmt, 2, 2, auth);
    assert_int_equal(f->reply.scode, 200);
    call(f, "192.0.2.10:5070", "1002", "1001", "", SDP_ALAW);
    assert_false(f->admitted);
    assert_int_equal(f->reply.scode, 401);
    authorization(auth, sizeof(auth), "INVITE", "sip:1002@blend", "secret1", f->nonce, 1);
    call(f, "192.0.2.10:5070", "1002", "1001", auth, SDP_ALAW);
    assert_true(f->admitted);
    assert_false(f->inv.from_trunk);
    assert_int_equal(f->inv.agent_id, 42);
    call(f, "192.0.2.10:5060", "+8225550101", "1001", "", SDP_ALAW);
    assert_true(f->admitted);
    assert_true(f->inv.from_trunk);
    assert_int_equal(f->inv.agent_id, 0);
    call(f, "192.0.2.10:5070", "+8225550101", "5551234", "", SDP_ALAW);
    assert_true(f->admitted);
    assert_true(f->inv.from_trunk);
}

static void agent_targets(void **state)
{
    struct fixture *f = *state;
    struct blend__sip_target t[4];
    assert_int_equal(blend__sip_reg_agent_targets(f->reg, 42, t, 4), 0);
    char auth[512];
    const char *regfmt =
        "REGISTER sip:blend SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=t%d\r\n"
        "From: <sip:1001@blend>;tag=r\r\nTo: <sip:1001@blend>\r\nCall-ID: t\r\n"
        "CSeq: %d REGISTER\r\nContact: <sip:1001@192.168.1.5:5062>\r\n"
        "Contact: <sip:1001@192.168.1.6:5062;transport=udp>\r\n%s"
        "Content-Length: 0\r\n\r\n";
    registrar(f, "203.0.113.1:40000", regfmt, 1, 1, "");
    authorization(auth, sizeof(auth), "REGISTER", "sip:blend", "secret1", f->nonce, 1);
    registrar(f, "203.0.113.1:40000", regfmt, 2, 2, auth);
    assert_int_equal(f->reply.scode, 200);
    assert_int_equal(blend__sip_reg_agent_targets(f->reg, 42, t, 4), 2);
    assert_string_equal(t[0].contact, "sip:1001@192.168.1.5:5062");
    assert_string_equal(t[1].contact, "sip:1001@192.168.1.6:5062;transport=udp");
    char src[64];
    assert_true(re_snprintf(src, sizeof(src), "%J", &t[0].src) > 0);
    assert_string_equal(src, "203.0.113.1:40000");
    assert_int_equal(blend__sip_reg_agent_targets(f->reg, 42, t, 1), 1);
    assert_int_equal(blend__sip_reg_agent_targets(f->reg, 43, t, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(acl_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(sdp_offers, setup, teardown),
        cmocka_unit_test_setup_teardown(trunk_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_source_and_phones, setup, teardown),
        cmocka_unit_test_setup_teardown(phone_on_a_trunk_address, setup, teardown),
        cmocka_unit_test_setup_teardown(agent_targets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
