/*
 * Inbound email parsing (src/channels/email): real-world shapes of mail — Korean and Chinese in
 * legacy charsets and RFC 2047 words, multipart/alternative, attachments in base64 and
 * quoted-printable, inline images, forwarded messages — read into UTF-8 fields; threading keys;
 * machine-written mail (auto-replies, out-of-office, lists, bounces) recognised; the HTML
 * allow-list (active content gone, links restricted, text escaped); broken input read as far as
 * possible and flagged, never refused; limits; no allocation left behind.
 */
#include "base/alloc.h"
#include "channels/email/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct blend_email *parse(const char *raw)
{
    struct blend_email *m = NULL;
    assert_int_equal(blend_email_parse(raw, strlen(raw), &m), 0);
    assert_non_null(m);
    return m;
}

static void plain_korean(void **state)
{
    (void)state;
    /* "문의드립니다" (an enquiry) as an RFC 2047 B-word in UTF-8; the body in EUC-KR. */
    const char *raw =
        "From: =?UTF-8?B?6rmA66+87KeA?= <Minji.Kim@Example.COM>\r\n"
        "To: Support <support@blend.example>\r\n"
        "Subject: =?UTF-8?B?66y47J2Y65Oc66a964uI64uk?= [#BL-42]\r\n"
        "Date: Sun, 22 Nov 2026 10:00:00 +0900\r\n"
        "Message-ID: <abc123@example.com>\r\n"
        "In-Reply-To: <reply-1@blend.example>\r\n"
        "References: <first@blend.example> <reply-1@blend.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=euc-kr\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "\xbe\xc8\xb3\xe7\xc7\xcf\xbc\xbc\xbf\xe4\r\n";
    struct blend_email *m = parse(raw);
    assert_string_equal(m->from_addr, "minji.kim@example.com");
    assert_string_equal(m->from_name, "김민지");
    assert_string_equal(m->subject, "문의드립니다 [#BL-42]");
    assert_string_equal(m->token, "BL-42");
    assert_string_equal(m->message_id, "abc123@example.com");
    assert_string_equal(m->in_reply_to, "reply-1@blend.example");
    assert_int_equal(m->references_count, 2);
    assert_string_equal(m->references[0], "first@blend.example");
    assert_string_equal(m->references[1], "reply-1@blend.example");
    assert_true(strstr(m->text, "안녕하세요") != NULL);
    assert_string_equal(m->html, "");
    assert_int_equal(m->date_ms, 1795309200000LL);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->attachments_count, 0);
    blend_email_free(m);
}

static void alternative_and_attachments(void **state)
{
    (void)state;
    const char *raw =
        "From: Wei <wei@example.cn>\r\n"
        "To: support@blend.example\r\n"
        "Subject: =?GB2312?B?z8LU2A==?=\r\n"
        "Message-ID: <m2@example.cn>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
        "\r\n"
        "--outer\r\n"
        "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
        "\r\n"
        "--alt\r\n"
        "Content-Type: text/html; charset=gb2312\r\n"
        "\r\n"
        "<p>\xc4\xe3\xba\xc3<script>alert(1)</script></p>\r\n"
        "--alt--\r\n"
        "--outer\r\n"
        "Content-Type: application/pdf; name=\"invoice.pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "JVBERi0xLjQK\r\n"
        "--outer\r\n"
        "Content-Type: image/png\r\n"
        "Content-Disposition: inline\r\n"
        "Content-ID: <logo@x>\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "iVBORw==\r\n"
        "--outer\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "From: a@b.c\r\n"
        "Subject: inner\r\n"
        "\r\n"
        "forwarded\r\n"
        "--outer--\r\n";
    struct blend_email *m = parse(raw);
    assert_string_equal(m->subject, "下载");
    /* No text part: the text comes from the HTML; the script is gone from both. */
    assert_string_equal(m->text, "你好");
    assert_string_equal(m->html, "<p>你好</p>");
    assert_int_equal(m->attachments_count, 3);
    assert_string_equal(m->attachments[0].filename, "invoice.pdf");
    assert_string_equal(m->attachments[0].content_type, "application/pdf");
    assert_int_equal(m->attachments[0].size, 9);
    assert_memory_equal(m->attachments[0].data, "%PDF-1.4\n", 9);
    assert_false(m->attachments[0].inline_part);
    assert_string_equal(m->attachments[1].content_type, "image/png");
    assert_string_equal(m->attachments[1].content_id, "logo@x");
    assert_true(m->attachments[1].inline_part);
    assert_int_equal(m->attachments[1].size, 4);
    assert_string_equal(m->attachments[2].filename, "message.eml");
    assert_string_equal(m->attachments[2].content_type, "message/rfc822");
    assert_true(m->attachments[2].size > 0);
    assert_true(memmem(m->attachments[2].data, m->attachments[2].size, "forwarded", 9) != NULL);
    assert_int_equal(m->flags & BLEND_EMAIL_MALFORMED, 0);
    blend_email_free(m);
}

static unsigned flags_of(const char *headers)
{
    char raw[1024];
    snprintf(raw, sizeof(raw),
             "From: someone@example.com\r\nSubject: x\r\n%s\r\nbody\r\n", headers);
    struct blend_email *m = parse(raw);
    unsigned f = m->flags;
    blend_email_free(m);
    return f;
}

static void machine_written(void **state)
{
    (void)state;
    assert_int_equal(flags_of(""), 0);
    assert_int_equal(flags_of("Auto-Submitted: no\r\n"), 0);
    assert_int_equal(flags_of("Auto-Submitted: auto-replied\r\n"), BLEND_EMAIL_AUTO_REPLY);
    assert_int_equal(flags_of("X-Auto-Response-Suppress: OOF\r\n"), BLEND_EMAIL_AUTO_REPLY);
    assert_int_equal(flags_of("X-Autoreply: yes\r\n"), BLEND_EMAIL_AUTO_REPLY);
    assert_int_equal(flags_of("Precedence: auto_reply\r\n"), BLEND_EMAIL_AUTO_REPLY);
    assert_int_equal(flags_of("Precedence: bulk\r\n"), BLEND_EMAIL_LIST);
    assert_int_equal(flags_of("List-Id: <news.example.com>\r\n"), BLEND_EMAIL_LIST);
    assert_int_equal(flags_of("Return-Path: <>\r\n"), BLEND_EMAIL_BOUNCE);
    const char *dsn = "From: MAILER-DAEMON@mx.example.com\r\n"
                      "Subject: Undelivered Mail Returned to Sender\r\n"
                      "Content-Type: multipart/report; report-type=delivery-status; "
                      "boundary=\"b\"\r\n\r\n"
                      "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
                      "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
                      "Status: 5.1.1\r\n--b--\r\n";
    struct blend_email *m = parse(dsn);
    assert_true(m->flags & BLEND_EMAIL_BOUNCE);
    assert_string_equal(m->text, "failed");
    blend_email_free(m);
}

static void html_allow_list(void **state)
{
    (void)state;
    char *html = NULL, *text = NULL;
    const char *in =
        "<html><head><title>t</title><style>p{}</style></head><body onload=\"x()\">"
        "<p class=\"c\" onclick=\"evil()\">Hi &amp; <b>bye</b> &lt;3</p>"
        "<a href=\"javascript:alert(1)\">bad</a> <a href=\" https://ex.com/?a=1&amp;b=&quot;2\">ok</a>"
        " <img src=\"https://track.example/p.gif\" alt=\"logo\"><iframe src=x>inside</iframe>"
        "<ul><li>one</li><li>two</li></ul><td colspan=\"2\" rowspan=\"x\">c</td>"
        "<form><input value=1>typed</form><font color=red>red</font></body></html>";
    assert_int_equal(blend_email_html_clean(in, strlen(in), &html, &text), 0);
    assert_null(strstr(html, "script"));
    assert_null(strstr(html, "onclick"));
    assert_null(strstr(html, "onload"));
    assert_null(strstr(html, "javascript"));
    assert_null(strstr(html, "style"));
    assert_null(strstr(html, "track.example"));
    assert_null(strstr(html, "iframe"));
    assert_null(strstr(html, "inside"));
    assert_null(strstr(html, "typed"));
    assert_null(strstr(html, "class"));
    assert_null(strstr(html, "font"));
    assert_non_null(strstr(html, "<p>Hi &amp; <b>bye</b> &lt;3</p>"));
    assert_non_null(strstr(html, "<a>bad</a>")); /* no rel without a link */
    assert_non_null(strstr(html, "<a href=\" https://ex.com/?a=1&amp;b=&quot;2\" "
                                 "rel=\"noopener noreferrer nofollow\">ok</a>"));
    assert_non_null(strstr(html, "logo"));
    assert_non_null(strstr(html, "red"));
    assert_non_null(strstr(html, "<ul><li>one</li><li>two</li></ul>"));
    assert_non_null(strstr(html, "<td colspan=\"2\">c</td>"));
    assert_string_equal(text, "Hi & bye <3\nbad ok logo\n- one\n- two\nc red");
    blend_free(html);
    blend_free(text);
    /* Deep nesting is cut (libxml2 stops at its depth limit, the rebuild keeps at most 256
     * levels), never recursed into without bound. */
    char deep[40000];
    size_t n = 0;
    for (int i = 0; i < 3000; i++) {
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<div>");
    }
    snprintf(deep + n, sizeof(deep) - n, "x");
    assert_int_equal(blend_email_html_clean(deep, strlen(deep), &html, &text), 0);
    int divs = 0;
    for (const char *p = strstr(html, "<div>"); p; p = strstr(p + 1, "<div>")) {
        divs++;
    }
    assert_true(divs > 0 && divs <= 256);
    blend_free(html);
    blend_free(text);
}

static void tokens(void **state)
{
    (void)state;
    char t[BLEND_EMAIL_TOKEN_BYTES];
    assert_int_equal(blend_email_subject_token("Re: help [#BL-7]", t), 1);
    assert_string_equal(t, "BL-7");
    assert_int_equal(blend_email_subject_token("[#A-1] Re: [#BL-9] again", t), 1);
    assert_string_equal(t, "BL-9");
    assert_int_equal(blend_email_subject_token("no token [#] [# x] [#bad token]", t), 0);
    assert_int_equal(blend_email_subject_token("[#12345678901234567890123]", t), 0);
    assert_int_equal(blend_email_subject_token(NULL, t), 0);
}

static void broken_input_is_flagged_not_refused(void **state)
{
    (void)state;
    const char *cases[] = {
        "\x01\x02 this is not mail at all \xff\xfe",
        "From: a@b.c\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n",
        ("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
         "Content-Type: text/plain\r\n\r\ncut in the middle"),
        "Subject: no sender\r\n\r\nbody\r\n",
        "From: a@b.c\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        "From: =?UTF-8?B?!!!?= <a@b.c>\r\nSubject: =?bogus-charset?Q?x?=\r\n\r\n\xc3\x28\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct blend_email *m = parse(cases[i]);
        /* Every field readable, valid UTF-8. */
        assert_non_null(m->subject);
        assert_non_null(m->text);
        assert_non_null(m->from_addr);
        blend_email_free(m);
    }
    struct blend_email *m = parse(cases[0]);
    assert_true(m->flags & BLEND_EMAIL_MALFORMED);
    blend_email_free(m);
    m = parse(cases[1]);
    assert_true(m->flags & BLEND_EMAIL_MALFORMED);
    blend_email_free(m);
    m = parse(cases[3]);
    assert_true(m->flags & BLEND_EMAIL_MALFORMED);
    blend_email_free(m);
    struct blend_email *none = NULL;
    assert_int_equal(blend_email_parse("", 0, &none), BLEND_EINVAL);
    assert_int_equal(blend_email_parse("x", BLEND_EMAIL_RAW_BYTES_MAX + 1, &none), BLEND_EINVAL);
    assert_null(none);
}

static void attachment_cap(void **state)
{
    (void)state;
    static char raw[64 * 1024];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "From: a@b.c\r\nContent-Type: multipart/mixed;"
                                                  " boundary=z\r\n\r\n");
    for (int i = 0; i < BLEND_EMAIL_ATTACHMENTS_MAX + 5; i++) {
        n += (size_t)snprintf(raw + n, sizeof(raw) - n,
                              "--z\r\nContent-Type: application/octet-stream\r\n"
                              "Content-Disposition: attachment; filename=f%d.bin\r\n\r\nx\r\n",
                              i);
    }
    snprintf(raw + n, sizeof(raw) - n, "--z--\r\n");
    struct blend_email *m = parse(raw);
    assert_int_equal(m->attachments_count, BLEND_EMAIL_ATTACHMENTS_MAX);
    assert_true(m->flags & BLEND_EMAIL_TRUNCATED);
    assert_string_equal(m->attachments[0].filename, "f0.bin");
    blend_email_free(m);
}

/* A reply reads back with the same threading keys, sender, subject and Korean body. */
static void compose_round_trip(void **state)
{
    (void)state;
    const char *refs[] = {"first@example.com", "abc123@example.com", NULL};
    struct blend_email_out o = {.from = "support@blend.example",
                                .from_name = "고객센터",
                                .to = "minji.kim@example.com",
                                .subject = "Re: 문의드립니다 [#BL-42]",
                                .message_id = "blend-42-1@blend.example",
                                .in_reply_to = "abc123@example.com",
                                .references = refs,
                                .date_ms = 1795309200000LL,
                                .text = "안녕하세요, 확인했습니다.\n-- \nJiho"};
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(blend_email_compose(&o, &raw, &len), 0);
    assert_int_equal(strlen(raw), len);
    assert_non_null(strstr(raw, "\r\n\r\n")); /* CRLF line ends for SMTP */
    assert_null(strstr(raw, "Auto-Submitted"));
    struct blend_email *m = parse(raw);
    assert_string_equal(m->from_addr, "support@blend.example");
    assert_string_equal(m->from_name, "고객센터");
    assert_string_equal(m->subject, "Re: 문의드립니다 [#BL-42]");
    assert_string_equal(m->token, "BL-42");
    assert_string_equal(m->message_id, "blend-42-1@blend.example");
    assert_string_equal(m->in_reply_to, "abc123@example.com");
    assert_int_equal(m->references_count, 2);
    assert_string_equal(m->references[1], "abc123@example.com");
    assert_string_equal(m->text, "안녕하세요, 확인했습니다.\n-- \nJiho");
    assert_int_equal(m->date_ms, 1795309200000LL);
    assert_int_equal(m->flags, 0);
    blend_email_free(m);
    blend_free(raw);
    /* Header injection through stored data is refused. */
    struct blend_email_out bad = o;
    bad.to = "a@b.c\r\nBcc: everyone@example.com";
    assert_int_equal(blend_email_compose(&bad, &raw, &len), BLEND_EINVAL);
    bad = o;
    bad.message_id = "x>\r\nX: y";
    assert_int_equal(blend_email_compose(&bad, &raw, &len), BLEND_EINVAL);
    bad = o;
    bad.text = NULL;
    assert_int_equal(blend_email_compose(&bad, &raw, &len), BLEND_EINVAL);
}

/* A reply with files is multipart/mixed: the text, then each file with its name and bytes. */
static void compose_with_files(void **state)
{
    (void)state;
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof bin; i++) {
        bin[i] = (unsigned char)(i * 7);
    }
    const struct blend_email_out_file files[] = {
        {.filename = "견적서.pdf", .content_type = "application/pdf", .data = bin,
         .size = sizeof bin},
        {.filename = "notes.txt", .content_type = "not a type", .data = (const unsigned char *)"hi",
         .size = 2},
    };
    struct blend_email_out o = {.from = "support@blend.example",
                                .to = "minji.kim@example.com",
                                .subject = "Re: quote [#BL-7]",
                                .message_id = "blend-7-1@blend.example",
                                .date_ms = 1795309200000LL,
                                .text = "Attached.\n-- \nJiho",
                                .files = files,
                                .files_count = 2};
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(blend_email_compose(&o, &raw, &len), 0);
    assert_non_null(strstr(raw, "multipart/mixed"));
    struct blend_email *m = parse(raw);
    assert_string_equal(m->text, "Attached.\n-- \nJiho");
    assert_int_equal(m->attachments_count, 2);
    assert_string_equal(m->attachments[0].filename, "견적서.pdf");
    assert_string_equal(m->attachments[0].content_type, "application/pdf");
    assert_int_equal(m->attachments[0].size, sizeof bin);
    assert_memory_equal(m->attachments[0].data, bin, sizeof bin);
    assert_string_equal(m->attachments[1].filename, "notes.txt");
    assert_string_equal(m->attachments[1].content_type, "application/octet-stream");
    assert_memory_equal(m->attachments[1].data, "hi", 2);
    assert_int_equal(m->flags & BLEND_EMAIL_MALFORMED, 0);
    blend_email_free(m);
    blend_free(raw);
    /* A file name with a line break would break the header: refused. */
    struct blend_email_out_file bad_file = files[1];
    bad_file.filename = "a\r\nBcc: x@y.z";
    o.files = &bad_file;
    o.files_count = 1;
    assert_int_equal(blend_email_compose(&o, &raw, &len), BLEND_EINVAL);
}

static int leak_check(void **state)
{
    (void)state;
    return blend_alloc_live() == 0 ? 0 : -1;
}

int main(void)
{
    blend_email_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(plain_korean, leak_check),
        cmocka_unit_test_teardown(alternative_and_attachments, leak_check),
        cmocka_unit_test_teardown(machine_written, leak_check),
        cmocka_unit_test_teardown(html_allow_list, leak_check),
        cmocka_unit_test_teardown(tokens, leak_check),
        cmocka_unit_test_teardown(broken_input_is_flagged_not_refused, leak_check),
        cmocka_unit_test_teardown(attachment_cap, leak_check),
        cmocka_unit_test_teardown(compose_round_trip, leak_check),
        cmocka_unit_test_teardown(compose_with_files, leak_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
