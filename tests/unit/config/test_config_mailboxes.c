/*
 * Tests for the [email.NAME] mailboxes of the bootstrap configuration (config.h): sections read
 * into slots in order with [email]'s keys and their defaults, names checked, a duplicate section
 * or key refused with file and line, the limit of mailboxes, environment overrides for declared
 * mailboxes (BLEND_EMAIL_<NAME>_<KEY>), the required keys checked by validation, and formatting
 * that parses back to the same text.
 */
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static char fmt_a[64 * 1024], fmt_b[64 * 1024];

static int parse(struct blend_config *c, const char *text, char *err, size_t errlen)
{
    blend_config_defaults(c);
    return blend_config_parse(c, "t.conf", text, strlen(text), err, errlen);
}

static void sections_read_in_order(void **state)
{
    (void)state;
    struct blend_config c;
    char err[256] = "";
    const char *text = "[email]\nimap_url = imap://127.0.0.1:143/INBOX\nqueue = support\n"
                       "from = support@example.com\n"
                       "[email.sales]\nimap_url = imap://127.0.0.1:143/INBOX\nusername = sales\n"
                       "queue = sales\nfrom = sales@example.com\npoll_s = 2\n"
                       "[log]\nlevel = warn\n"
                       "[email.kr-help_2]\nimap_url = imaps://mail/INBOX\nqueue = kr\n"
                       "from = help@example.kr\nsmtp_url = smtp://mail:587\nstarttls = yes\n";
    assert_int_equal(parse(&c, text, err, sizeof err), 0);
    assert_int_equal(c.email_mailboxes_count, 2);
    assert_string_equal(c.email_mailboxes[0].name, "sales");
    assert_string_equal(c.email_mailboxes[0].username, "sales");
    assert_int_equal(c.email_mailboxes[0].poll_s, 2);
    assert_string_equal(c.email_mailboxes[0].smtp_url, "");
    assert_int_equal(c.email_mailboxes[0].starttls, 0);
    assert_string_equal(c.email_mailboxes[1].name, "kr-help_2");
    assert_int_equal(c.email_mailboxes[1].poll_s, 30); /* the default */
    assert_int_equal(c.email_mailboxes[1].starttls, 1);
    assert_int_equal(c.log_level, BLEND_LOG_WARN); /* a plain section after a mailbox */
    assert_string_equal(c.email_from, "support@example.com");
    assert_int_equal(blend_config_validate(&c, err, sizeof err), 0);
    /* Formatting parses back to the same text. */
    assert_int_equal(blend_config_format(&c, fmt_a, sizeof fmt_a), 0);
    assert_non_null(strstr(fmt_a, "[email.kr-help_2]\nimap_url = imaps://mail/INBOX\n"));
    struct blend_config back;
    assert_int_equal(parse(&back, fmt_a, err, sizeof err), 0);
    assert_int_equal(blend_config_format(&back, fmt_b, sizeof fmt_b), 0);
    assert_string_equal(fmt_a, fmt_b);
}

static void refused(const char *text, int rc, const char *want)
{
    struct blend_config c;
    char err[256] = "";
    assert_int_equal(parse(&c, text, err, sizeof err), rc);
    if (!strstr(err, want)) {
        print_error("error '%s' lacks '%s'\n", err, want);
        fail();
    }
}

static void bad_sections(void **state)
{
    (void)state;
    refused("[email.Sales]\n", BLEND_EINVAL, "t.conf:1: mailbox name");
    refused("[email.]\n", BLEND_EINVAL, "unknown section");
    refused("[email.a b]\n", BLEND_EINVAL, "mailbox name");
    refused("[email.abcdefghijklmnopqrstuvwxyz0123456]\n", BLEND_EINVAL, "mailbox name");
    refused("[email.a]\n[email.a]\n", BLEND_EINVAL, "t.conf:2: duplicate section [email.a]");
    refused("[email.a]\nqueue = x\nqueue = y\n", BLEND_EINVAL,
            "t.conf:3: duplicate key 'queue' in [email.a] (first set on line 2)");
    refused("[email.a]\nlisten = x\n", BLEND_EINVAL, "unknown key 'listen' in [email.a]");
    refused("[email.a]\npoll_s = 0\n", BLEND_EINVAL, "t.conf:2: [email.a] poll_s");
    refused("[email.a]\nfrom = \"x\n", BLEND_EPARSE, "[email.a] from: unterminated");
    /* Environment names must stay unambiguous: [email.smtp]'s username would be
     * BLEND_EMAIL_SMTP_USERNAME, [email]'s smtp_username; a-b and a_b are both A_B. */
    refused("[email.smtp]\n", BLEND_EINVAL, "t.conf:1: [email.smtp] would share environment");
    refused("[email.a-b]\n[email.a_b]\n", BLEND_EINVAL, "t.conf:2: [email.a_b] would share");
    refused("[email.x]\n[email.x_smtp]\n", BLEND_EINVAL, "[email.x_smtp] would share");
    char many[512] = "";
    for (int i = 0; i <= BLEND_CONFIG_MAILBOXES_MAX; i++) {
        char line[32];
        snprintf(line, sizeof line, "[email.m%d]\n", i);
        strcat(many, line);
    }
    refused(many, BLEND_ELIMIT, "more than 8");
    /* A key of [email] in a mailbox section set once per section, not across sections. */
    struct blend_config c;
    char err[256] = "";
    assert_int_equal(parse(&c, "[email.a]\nqueue = x\n[email.b]\nqueue = y\n", err, sizeof err), 0);
    /* Required keys are checked on the final config: [email] first, then each mailbox's. */
    assert_int_equal(blend_config_validate(&c, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "[email.a] needs [email] (imap_url) too");
    snprintf(c.email_imap_url, sizeof c.email_imap_url, "imap://h/INBOX");
    assert_int_equal(blend_config_validate(&c, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "[email.a] needs imap_url, queue and from");
}

static const char *env_get(const char *name, void *arg)
{
    const char *const *pairs = arg;
    for (size_t i = 0; pairs[i]; i += 2) {
        if (strcmp(pairs[i], name) == 0) {
            return pairs[i + 1];
        }
    }
    return NULL;
}

static void environment(void **state)
{
    (void)state;
    struct blend_config c;
    char err[256] = "";
    assert_int_equal(parse(&c, "[email.kr-help]\nqueue = kr\n", err, sizeof err), 0);
    const char *env[] = {"BLEND_EMAIL_KR_HELP_PASSWORD",
                         "s3cret",
                         "BLEND_EMAIL_KR_HELP_POLL_S",
                         "5",
                         "BLEND_EMAIL_OTHER_QUEUE",
                         "ignored",
                         NULL};
    assert_int_equal(blend_config_apply_env(&c, env_get, env, err, sizeof err), 0);
    assert_string_equal(c.email_mailboxes[0].password, "s3cret");
    assert_int_equal(c.email_mailboxes[0].poll_s, 5);
    assert_string_equal(c.email_mailboxes[0].queue, "kr");
    const char *bad[] = {"BLEND_EMAIL_KR_HELP_POLL_S", "0", NULL};
    assert_int_equal(blend_config_apply_env(&c, env_get, bad, err, sizeof err), BLEND_EINVAL);
    assert_non_null(strstr(err, "BLEND_EMAIL_KR_HELP_POLL_S: "));
    assert_int_equal(c.email_mailboxes[0].poll_s, 5); /* untouched */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sections_read_in_order),
        cmocka_unit_test(bad_sections),
        cmocka_unit_test(environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
