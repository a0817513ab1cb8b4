/*
 * Tests of the bootstrap configuration: defaults, the file format (every error class with its
 * exact message), layering of file and environment, the cross-option rule, host:port splitting,
 * formatting and reading files. Every failing call must leave the config untouched, which the
 * tests check by comparing the formatted config before and after.
 */
#include "base/alloc.h"
#include "base/error.h"
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

/* Large enough for any formatted config (six paths of BLEND_PATH_BYTES_MAX, all escaped). */
#define FORMAT_BYTES (16 * BLEND_CONFIG_URL_BYTES_MAX)

static char fmt_a[FORMAT_BYTES];
static char fmt_b[FORMAT_BYTES];

static int parse_text(struct blend_config *c, const char *text, char *err, size_t errlen)
{
    return blend_config_parse(c, "t.conf", text, strlen(text), err, errlen);
}

/* Asserts that a and b hold the same values, through their formatted text. */
static void assert_same_config(const struct blend_config *a, const struct blend_config *b)
{
    assert_int_equal(blend_config_format(a, fmt_a, sizeof fmt_a), 0);
    assert_int_equal(blend_config_format(b, fmt_b, sizeof fmt_b), 0);
    assert_string_equal(fmt_a, fmt_b);
}

static void defaults_are_documented_values(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    assert_string_equal(c.http_listen, "127.0.0.1:8080");
    assert_string_equal(c.http_web_dir, "web");
    assert_string_equal(c.sip_listen, "127.0.0.1:5060");
    assert_string_equal(c.store_url, "sqlite:var/blend.db");
    assert_int_equal(c.store_batch_max, BLEND_STORE_BATCH_MAX);
    assert_string_equal(c.data_dir, "var");
    assert_int_equal(c.log_level, BLEND_LOG_INFO);
    assert_string_equal(c.tls_cert, "");
    assert_string_equal(c.tls_key, "");
    assert_string_equal(c.provision_file, "");
    assert_int_equal(c.auth_password_cost, BLEND_CONFIG_PASSWORD_COST_INTERACTIVE);
    assert_int_equal(c.auth_session_idle_s, 43200);
    assert_int_equal(c.auth_login_failures_max, 5);
    assert_int_equal(c.auth_lockout_s, 300);
    assert_int_equal(c.shutdown_drain_s, 4);
    char err[256] = "";
    assert_int_equal(blend_config_validate(&c, err, sizeof err), 0);
}

static void empty_and_comment_only_texts_keep_defaults(void **state)
{
    struct blend_config d;
    struct blend_config c;
    blend_config_defaults(&d);
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(blend_config_parse(&c, "t.conf", NULL, 0, err, sizeof err), 0);
    assert_int_equal(
        parse_text(&c, "\n\n   \n# only a comment\n\t# indented\n[http]\n", err, sizeof err), 0);
    assert_same_config(&c, &d);
}

static void parses_every_option(void **state)
{
    const char *text = "\xEF\xBB\xBF# Blend\r\n"
                       "[http]\r\n"
                       "listen = [::1]:8443   # IPv6\r\n"
                       "  web_dir=\"/srv/blend web\"\r\n"
                       "[sip]\n"
                       "listen\t=\t0.0.0.0:5080\n"
                       "[store]\n"
                       "url = sqlite:/var/lib/blend/blend.db\n"
                       "batch_max = 64\n"
                       "[data]\n"
                       "dir = \"/var/lib/blend\"\n"
                       "[log]\n"
                       "level = debug\n"
                       "[tls]\n"
                       "cert = /etc/blend/cert.pem\n"
                       "key = /etc/blend/key.pem\n"
                       "[provision]\n"
                       "file = \"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E.json\"\n"
                       "[auth]\n"
                       "password_cost = min\n"
                       "session_idle_s = 60\n"
                       "login_failures_max = 1\n"
                       "lockout_s = 86400\n"
                       "[shutdown]\n"
                       "drain_s = 30"; /* no final newline */
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(parse_text(&c, text, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(c.http_listen, "[::1]:8443");
    assert_string_equal(c.http_web_dir, "/srv/blend web");
    assert_string_equal(c.sip_listen, "0.0.0.0:5080");
    assert_string_equal(c.store_url, "sqlite:/var/lib/blend/blend.db");
    assert_int_equal(c.store_batch_max, 64);
    assert_string_equal(c.data_dir, "/var/lib/blend");
    assert_int_equal(c.log_level, BLEND_LOG_DEBUG);
    assert_string_equal(c.tls_cert, "/etc/blend/cert.pem");
    assert_string_equal(c.tls_key, "/etc/blend/key.pem");
    assert_string_equal(c.provision_file, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E.json");
    assert_int_equal(c.auth_password_cost, BLEND_CONFIG_PASSWORD_COST_MIN);
    assert_int_equal(c.auth_session_idle_s, 60);
    assert_int_equal(c.auth_login_failures_max, 1);
    assert_int_equal(c.auth_lockout_s, 86400);
    assert_int_equal(c.shutdown_drain_s, 30);
    assert_int_equal(blend_config_validate(&c, err, sizeof err), 0);
}

static void quoted_values_unescape(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(parse_text(&c,
                                "[data]\ndir = \"a \\\"b\\\" \\\\c # not a comment\" # comment\n"
                                "[tls]\ncert = \"\"\nkey = \"\"\n"
                                "[http]\nweb_dir = C:\\web\\\n",
                                err, sizeof err),
                     0);
    assert_string_equal(c.data_dir, "a \"b\" \\c # not a comment");
    assert_string_equal(c.tls_cert, "");
    /* Backslashes are literal in bare values. */
    assert_string_equal(c.http_web_dir, "C:\\web\\");
}

static void layers_keep_earlier_values_and_sections_may_repeat(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(parse_text(&c,
                                "[http]\nlisten = 10.0.0.1:80\n[sip]\nlisten = h:1\n"
                                "[http]\nweb_dir = w\n",
                                err, sizeof err),
                     0);
    assert_int_equal(parse_text(&c, "[log]\nlevel = error\n", err, sizeof err), 0);
    assert_string_equal(c.http_listen, "10.0.0.1:80");
    assert_string_equal(c.sip_listen, "h:1");
    assert_string_equal(c.http_web_dir, "w");
    assert_int_equal(c.log_level, BLEND_LOG_ERROR);
    /* The second text may set what the first set: duplicates are per text. */
    assert_int_equal(parse_text(&c, "[http]\nlisten = 10.0.0.2:80\n", err, sizeof err), 0);
    assert_string_equal(c.http_listen, "10.0.0.2:80");
}

struct bad_case {
    const char *text;
    int rc;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    /* Structure. */
    {"listen = 1.2.3.4:80\n", BLEND_EPARSE, "t.conf:1: key 'listen' outside any section"},
    {"# x\n[htp]\n", BLEND_EINVAL, "t.conf:2: unknown section [htp]"},
    {"[HTTP]\n", BLEND_EINVAL, "t.conf:1: unknown section [HTTP]"},
    {"[http\n", BLEND_EPARSE, "t.conf:1: malformed section header (expected [name])"},
    {"[]\n", BLEND_EPARSE, "t.conf:1: malformed section header (expected [name])"},
    {"[http] x\n", BLEND_EPARSE, "t.conf:1: malformed section header (expected [name])"},
    {"[http]\n\n\nlisen = 1.2.3.4:80\n", BLEND_EINVAL, "t.conf:4: unknown key 'lisen' in [http]"},
    {"[sip]\nweb_dir = x\n", BLEND_EINVAL, "t.conf:2: unknown key 'web_dir' in [sip]"},
    {"[http]\nlisten = a:1\n[sip]\nlisten = b:2\n[http]\nlisten = c:3\n", BLEND_EINVAL,
     "t.conf:6: duplicate key 'listen' in [http] (first set on line 2)"},
    {"[http]\nlisten 8080\n", BLEND_EPARSE, "t.conf:2: expected 'key = value' or '[section]'"},
    {"[http]\n= 8080\n", BLEND_EPARSE, "t.conf:2: expected 'key = value' or '[section]'"},
    {"[http]\nlisten\n", BLEND_EPARSE, "t.conf:2: expected 'key = value' or '[section]'"},
    /* Quoting. */
    {"[data]\ndir = \"abc\n", BLEND_EPARSE, "t.conf:2: [data] dir: unterminated quoted string"},
    {"[data]\ndir = \"a\\nb\"\n", BLEND_EPARSE,
     "t.conf:2: [data] dir: invalid escape in quoted string (only \\\" and \\\\)"},
    {"[data]\ndir = \"a\\", BLEND_EPARSE,
     "t.conf:2: [data] dir: invalid escape in quoted string (only \\\" and \\\\)"},
    {"[data]\ndir = \"a\" b\n", BLEND_EPARSE,
     "t.conf:2: [data] dir: unexpected text after quoted value"},
    {"[data]\ndir = my dir\n", BLEND_EPARSE,
     "t.conf:2: [data] dir: unexpected text after value (quote values with spaces, '\"' or '#')"},
    {"[data]\ndir = a\"b\"\n", BLEND_EPARSE,
     "t.conf:2: [data] dir: unexpected text after value (quote values with spaces, '\"' or '#')"},
    /* Bytes. */
    {"[http]\r\nlisten = a:1\rx\n", BLEND_EPARSE, "t.conf:2: control character"},
    {"[http]\n\x1b[31m\n", BLEND_EPARSE, "t.conf:2: control character"},
    {"# \x7f\n", BLEND_EPARSE, "t.conf:1: control character"},
    {"# \xC0\xAF overlong\n", BLEND_EPARSE, "t.conf:1: invalid UTF-8"},
    {"# \xED\xA0\x80 surrogate\n", BLEND_EPARSE, "t.conf:1: invalid UTF-8"},
    {"# \xF4\x90\x80\x80 above U+10FFFF\n", BLEND_EPARSE, "t.conf:1: invalid UTF-8"},
    {"# \xE2\x82", BLEND_EPARSE, "t.conf:1: invalid UTF-8"},
    {"# \x80\n", BLEND_EPARSE, "t.conf:1: invalid UTF-8"},
    /* Values. */
    {"[http]\nlisten = 127.0.0.1:0\n", BLEND_EINVAL,
     "t.conf:2: [http] listen: port must be 1..65535"},
    {"[http]\nlisten = 127.0.0.1:65536\n", BLEND_EINVAL,
     "t.conf:2: [http] listen: port must be 1..65535"},
    {"[http]\nlisten = 127.0.0.1\n", BLEND_EINVAL,
     "t.conf:2: [http] listen: missing port (expected host:port)"},
    {"[http]\nlisten = ::1:8080\n", BLEND_EINVAL,
     "t.conf:2: [http] listen: IPv6 address must be in brackets, e.g. [::1]:8080"},
    {"[sip]\nlisten = [::g]:5060\n", BLEND_EINVAL, "t.conf:2: [sip] listen: invalid IPv6 address"},
    {"[sip]\nlisten = 1.2.3.256:5060\n", BLEND_EINVAL,
     "t.conf:2: [sip] listen: invalid IPv4 address"},
    {"[sip]\nlisten = \"\"\n", BLEND_EINVAL, "t.conf:2: [sip] listen: must not be empty"},
    {"[http]\nweb_dir =\n", BLEND_EINVAL, "t.conf:2: [http] web_dir: must not be empty"},
    {"[store]\nurl = \"\"  # none\n", BLEND_EINVAL, "t.conf:2: [store] url: must not be empty"},
    {"[auth]\nsession_idle_s = 59\n", BLEND_EINVAL,
     "t.conf:2: [auth] session_idle_s: must be 60..2592000"},
    {"[auth]\nsession_idle_s = 2592001\n", BLEND_EINVAL,
     "t.conf:2: [auth] session_idle_s: must be 60..2592000"},
    {"[auth]\nlockout_s = -5\n", BLEND_EINVAL, "t.conf:2: [auth] lockout_s: must be 1..86400"},
    {"[auth]\nlockout_s = 99999999999999999999999\n", BLEND_EINVAL,
     "t.conf:2: [auth] lockout_s: must be 1..86400"},
    {"[auth]\nlockout_s = 5m\n", BLEND_EINVAL, "t.conf:2: [auth] lockout_s: must be an integer"},
    {"[auth]\nlockout_s = \"\"\n", BLEND_EINVAL, "t.conf:2: [auth] lockout_s: must be an integer"},
    {"[auth]\nlockout_s = +5\n", BLEND_EINVAL, "t.conf:2: [auth] lockout_s: must be an integer"},
    {"[auth]\nlogin_failures_max = 6\n", BLEND_EINVAL,
     "t.conf:2: [auth] login_failures_max: must be 1..5"},
    {"[store]\nbatch_max = 513\n", BLEND_EINVAL, "t.conf:2: [store] batch_max: must be 1..512"},
    {"[shutdown]\ndrain_s = 0\n", BLEND_EINVAL, "t.conf:2: [shutdown] drain_s: must be 1..30"},
    {"[log]\nlevel = verbose\n", BLEND_EINVAL,
     "t.conf:2: [log] level: must be one of debug, info, warn, error"},
    {"[log]\nlevel = INFO\n", BLEND_EINVAL,
     "t.conf:2: [log] level: must be one of debug, info, warn, error"},
    {"[auth]\npassword_cost = low\n", BLEND_EINVAL,
     "t.conf:2: [auth] password_cost: must be one of min, interactive, moderate, sensitive"},
};

static void every_error_has_its_message_and_leaves_config_untouched(void **state)
{
    struct blend_config d;
    blend_config_defaults(&d);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        struct blend_config c;
        blend_config_defaults(&c);
        char err[512] = "";
        print_message("case %zu\n", i);
        assert_int_equal(parse_text(&c, b->text, err, sizeof err), b->rc);
        assert_string_equal(err, b->msg);
        assert_same_config(&c, &d);
    }
}

static void bad_text_after_good_lines_changes_nothing(void **state)
{
    struct blend_config d;
    struct blend_config c;
    blend_config_defaults(&d);
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(parse_text(&c, "[http]\nlisten = 1.1.1.1:1\n[log]\nlevel = debug\nlevel = x\n",
                                err, sizeof err),
                     BLEND_EINVAL);
    assert_string_equal(err, "t.conf:5: duplicate key 'level' in [log] (first set on line 4)");
    assert_same_config(&c, &d);
}

static void nul_byte_is_an_error(void **state)
{
    static const char text[] = "[http]\nlisten = a:1\0\n";
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(blend_config_parse(&c, "t.conf", text, sizeof text - 1, err, sizeof err),
                     BLEND_EPARSE);
    assert_string_equal(err, "t.conf:2: NUL byte");
}

static void size_limits(void **state)
{
    static char text[BLEND_CONFIG_FILE_BYTES_MAX + 2];
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";

    /* Exactly the file limit, made of full-length comment lines: accepted. */
    memset(text, '#', sizeof text);
    for (size_t i = BLEND_CONFIG_LINE_BYTES_MAX; i < BLEND_CONFIG_FILE_BYTES_MAX;
         i += BLEND_CONFIG_LINE_BYTES_MAX + 1) {
        text[i] = '\n';
    }
    assert_int_equal(
        blend_config_parse(&c, "t.conf", text, BLEND_CONFIG_FILE_BYTES_MAX, err, sizeof err), 0);
    assert_int_equal(
        blend_config_parse(&c, "t.conf", text, BLEND_CONFIG_FILE_BYTES_MAX + 1, err, sizeof err),
        BLEND_ELIMIT);
    assert_string_equal(err, "t.conf: file larger than 65536 bytes");

    /* A line of exactly the limit (CR of CRLF excluded) is fine, one byte more is not. */
    memset(text, '#', sizeof text);
    memcpy(text, "[http]\n", 7);
    text[7 + BLEND_CONFIG_LINE_BYTES_MAX] = '\r';
    text[8 + BLEND_CONFIG_LINE_BYTES_MAX] = '\n';
    assert_int_equal(
        blend_config_parse(&c, "t.conf", text, 9 + BLEND_CONFIG_LINE_BYTES_MAX, err, sizeof err),
        0);
    text[7 + BLEND_CONFIG_LINE_BYTES_MAX] = '#';
    assert_int_equal(
        blend_config_parse(&c, "t.conf", text, 9 + BLEND_CONFIG_LINE_BYTES_MAX, err, sizeof err),
        BLEND_ELIMIT);
    assert_string_equal(err, "t.conf:2: line longer than 1024 bytes");
}

static void value_longer_than_field_is_refused(void **state)
{
    /* A host:port field holds BLEND_CONFIG_HOSTPORT_BYTES_MAX - 1 bytes. */
    static char text[BLEND_CONFIG_LINE_BYTES_MAX + 1];
    size_t n = (size_t)snprintf(text, sizeof text, "[http]\nlisten = ");
    memset(text + n, 'a', BLEND_CONFIG_HOSTPORT_BYTES_MAX);
    text[n + BLEND_CONFIG_HOSTPORT_BYTES_MAX] = '\0';
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(parse_text(&c, text, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "t.conf:2: [http] listen: longer than 263 bytes");
}

static void messages_truncate_and_may_be_dropped(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(parse_text(&c, "[htp]\n", err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "t.conf:");
    assert_int_equal(parse_text(&c, "[htp]\n", NULL, 0), BLEND_EINVAL);
}

/* --- Environment --------------------------------------------------------------------------- */

struct fake_env {
    const char *const *pairs; /* name, value, name, value, ..., NULL */
    char asked[96][BLEND_CONFIG_ENV_NAME_BYTES_MAX];
    int asked_count;
};

static const char *fake_get(const char *name, void *arg)
{
    struct fake_env *env = arg;
    if (env->asked_count < (int)(sizeof env->asked / sizeof env->asked[0])) {
        snprintf(env->asked[env->asked_count++], BLEND_CONFIG_ENV_NAME_BYTES_MAX, "%s", name);
    }
    for (int i = 0; env->pairs[i]; i += 2) {
        if (strcmp(env->pairs[i], name) == 0) {
            return env->pairs[i + 1];
        }
    }
    return NULL;
}

static void env_names_come_from_the_table(void **state)
{
    static const char *const none[] = {NULL};
    struct fake_env env = {.pairs = none};
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(blend_config_apply_env(&c, fake_get, &env, err, sizeof err), 0);
    static const char *const expected[] = {
        "BLEND_HTTP_LISTEN",
        "BLEND_HTTP_WEB_DIR",
        "BLEND_SIP_LISTEN",
        "BLEND_SIP_REALM",
        "BLEND_SIP_VOICE_REQUIRES_PHONE",
        "BLEND_SIP_AUTH_FAILURES_MAX",
        "BLEND_SIP_AUTH_LOCKOUT_S",
        "BLEND_SIP_OPTIONS_INTERVAL_S",
        "BLEND_SIP_TRUNK_ALLOW",
        "BLEND_SIP_RTP_PORT_MIN",
        "BLEND_SIP_RTP_PORT_MAX",
        "BLEND_SIP_TRUNK_URI",
        "BLEND_SIP_TRUNK_USER",
        "BLEND_SIP_TRUNK_PASSWORD",
        "BLEND_SIP_MOH_PATH",
        "BLEND_SIP_SESSION_EXPIRES_S",
        "BLEND_SIP_TRUNK_REGISTER",
        "BLEND_SIP_TRUNK_REGISTER_EXPIRES_S",
        "BLEND_SIP_TRUNK_CALLER_ID",
        "BLEND_SIP_TRUNK_PAI",
        "BLEND_SIP_TLS_LISTEN",
        "BLEND_SIP_TLS_CERT",
        "BLEND_STORE_URL",
        "BLEND_STORE_BATCH_MAX",
        "BLEND_DATA_DIR",
        "BLEND_IVR_PROMPTS_DIR",
        "BLEND_IVR_TTS_COMMAND",
        "BLEND_IVR_TTS_WORDS_PER_MINUTE",
        "BLEND_IVR_HTTP_ALLOW",
        "BLEND_EMAIL_IMAP_URL",
        "BLEND_EMAIL_USERNAME",
        "BLEND_EMAIL_PASSWORD",
        "BLEND_EMAIL_POLL_S",
        "BLEND_EMAIL_QUEUE",
        "BLEND_EMAIL_SMTP_URL",
        "BLEND_EMAIL_SMTP_USERNAME",
        "BLEND_EMAIL_SMTP_PASSWORD",
        "BLEND_EMAIL_FROM",
        "BLEND_EMAIL_FROM_NAME",
        "BLEND_EMAIL_STARTTLS",
        "BLEND_WEBHOOK_SECRET",
        "BLEND_WEBHOOK_PROVIDER_URL",
        "BLEND_WEBHOOK_PROVIDER_TOKEN",
        "BLEND_WEBHOOK_SMS_QUEUE",
        "BLEND_WEBHOOK_SOCIAL_QUEUE",
        "BLEND_WEBHOOK_COUNTRY_CODE",
        "BLEND_WEBHOOK_SMS_PRESET",
        "BLEND_WEBHOOK_PUBLIC_URL",
        "BLEND_WEBHOOK_ACCOUNT_SID",
        "BLEND_WEBHOOK_AUTH_TOKEN",
        "BLEND_WEBHOOK_SMS_FROM",
        "BLEND_WEBHOOK_SMS_PROVIDER_URL",
        "BLEND_CHAT_ALLOWED_ORIGINS",
        "BLEND_LOG_LEVEL",
        "BLEND_TLS_CERT",
        "BLEND_TLS_KEY",
        "BLEND_PROVISION_FILE",
        "BLEND_AUTH_PASSWORD_COST",
        "BLEND_AUTH_SESSION_IDLE_S",
        "BLEND_AUTH_LOGIN_FAILURES_MAX",
        "BLEND_AUTH_LOCKOUT_S",
        "BLEND_SHUTDOWN_DRAIN_S",
    };
    size_t count = sizeof expected / sizeof expected[0];
    assert_int_equal(blend_config_options_count(), count);
    assert_int_equal(env.asked_count, (int)count);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(env.asked[i], expected[i]);
        char name[BLEND_CONFIG_ENV_NAME_BYTES_MAX];
        assert_int_equal(blend_config_env_name(blend_config_option_at(i), name, sizeof name), 0);
        assert_string_equal(name, expected[i]);
    }
    char tiny[8];
    assert_int_equal(blend_config_env_name(blend_config_option_at(0), tiny, sizeof tiny),
                     BLEND_ELIMIT);
}

static void env_overrides_beat_the_file(void **state)
{
    static const char *const pairs[] = {"BLEND_HTTP_LISTEN",
                                        "[::]:9090",
                                        "BLEND_LOG_LEVEL",
                                        "warn",
                                        "BLEND_TLS_CERT",
                                        "",
                                        "BLEND_TLS_KEY",
                                        "",
                                        "BLEND_DATA_DIR",
                                        "\"quoted\" # literally",
                                        "BLEND_SHUTDOWN_DRAIN_S",
                                        "7",
                                        "UNRELATED",
                                        "x",
                                        NULL};
    struct fake_env env = {.pairs = pairs};
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(parse_text(&c,
                                "[http]\nlisten = 127.0.0.1:1\nweb_dir = fromfile\n"
                                "[log]\nlevel = error\n[tls]\ncert = c.pem\nkey = k.pem\n",
                                err, sizeof err),
                     0);
    assert_int_equal(blend_config_apply_env(&c, fake_get, &env, err, sizeof err), 0);
    assert_string_equal(c.http_listen, "[::]:9090");
    assert_string_equal(c.http_web_dir, "fromfile");
    assert_int_equal(c.log_level, BLEND_LOG_WARN);
    assert_string_equal(c.tls_cert, "");
    assert_string_equal(c.tls_key, "");
    assert_string_equal(c.data_dir, "\"quoted\" # literally");
    assert_int_equal(c.shutdown_drain_s, 7);
}

static void bad_env_value_names_the_variable(void **state)
{
    static char too_long[BLEND_CONFIG_ENV_VALUE_BYTES_MAX + 2];
    memset(too_long, 'a', sizeof too_long - 1);
    struct {
        const char *name;
        const char *value;
        int rc;
        const char *msg;
    } cases[] = {
        {"BLEND_HTTP_LISTEN", "127.0.0.1:70000", BLEND_EINVAL,
         "BLEND_HTTP_LISTEN: port must be 1..65535"},
        {"BLEND_HTTP_LISTEN", "", BLEND_EINVAL, "BLEND_HTTP_LISTEN: must not be empty"},
        {"BLEND_STORE_URL", too_long, BLEND_ELIMIT, "BLEND_STORE_URL: longer than 4160 bytes"},
        {"BLEND_HTTP_WEB_DIR", too_long + sizeof too_long - 1 - BLEND_PATH_BYTES_MAX, BLEND_EINVAL,
         "BLEND_HTTP_WEB_DIR: longer than 4095 bytes"},
        {"BLEND_LOG_LEVEL", "loud", BLEND_EINVAL,
         "BLEND_LOG_LEVEL: must be one of debug, info, warn, error"},
        {"BLEND_AUTH_LOCKOUT_S", "0", BLEND_EINVAL, "BLEND_AUTH_LOCKOUT_S: must be 1..86400"},
        {"BLEND_DATA_DIR", "a\nb", BLEND_EINVAL, "BLEND_DATA_DIR: control character"},
        {"BLEND_DATA_DIR", "\xff", BLEND_EINVAL, "BLEND_DATA_DIR: invalid UTF-8"},
    };
    struct blend_config d;
    blend_config_defaults(&d);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* A valid override comes first: the failure must undo it too. */
        const char *pairs[] = {"BLEND_SIP_LISTEN", "10.1.1.1:5061", cases[i].name, cases[i].value,
                               NULL};
        struct fake_env env = {.pairs = pairs};
        struct blend_config c;
        blend_config_defaults(&c);
        char err[256] = "";
        print_message("case %zu\n", i);
        assert_int_equal(blend_config_apply_env(&c, fake_get, &env, err, sizeof err), cases[i].rc);
        assert_string_equal(err, cases[i].msg);
        assert_same_config(&c, &d);
    }
}

/* --- Cross-option rules ------------------------------------------------------------------------
 */

static void tls_needs_cert_and_key_together(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    strcpy(c.tls_cert, "c.pem");
    assert_int_equal(blend_config_validate(&c, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "tls.cert and tls.key must be set together (both or neither)");
    c.tls_cert[0] = '\0';
    strcpy(c.tls_key, "k.pem");
    err[0] = '\0';
    assert_int_equal(blend_config_validate(&c, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "tls.cert and tls.key must be set together (both or neither)");
    strcpy(c.tls_cert, "c.pem");
    assert_int_equal(blend_config_validate(&c, err, sizeof err), 0);
}

static void rtp_port_range_must_hold_a_pair(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    c.sip_rtp_port_min = 30000;
    c.sip_rtp_port_max = 30000;
    assert_int_equal(blend_config_validate(&c, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "sip.rtp_port_max must be above sip.rtp_port_min");
    c.sip_rtp_port_max = 30001;
    assert_int_equal(blend_config_validate(&c, err, sizeof err), 0);
    c.sip_session_expires_s = 30;
    assert_int_equal(blend_config_validate(&c, err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "sip.session_expires_s must be 0 (off) or at least 90");
    c.sip_session_expires_s = 0;
    assert_int_equal(blend_config_validate(&c, err, sizeof err), 0);
}

/* --- host:port ---------------------------------------------------------------------------------
 */

static void hostport_forms(void **state)
{
    struct {
        const char *s;
        const char *host;
        int port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"[::1]:8080", "::1", 8080},
        {"[::]:1", "::", 1},
        {"localhost:65535", "localhost", 65535},
        {"pbx-1.example.com:5060", "pbx-1.example.com", 5060},
        {"0.0.0.0:05060", "0.0.0.0", 5060},
        {"[fe80::1:2]:443", "fe80::1:2", 443},
        {"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char host[BLEND_CONFIG_HOST_BYTES_MAX];
        int port = 0;
        assert_int_equal(blend_config_split_hostport(good[i].s, host, sizeof host, &port), 0);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const char *const bad[] = {
        "",
        ":80",
        "host",
        "host:",
        "::1:80",
        "[::1]",
        "[::1]80",
        "[::1:80",
        "[]:80",
        "[zz]:80",
        "[fe80::1%eth0]:80",
        "host:0",
        "host:65536",
        "host:8x",
        "host:-1",
        "host: 80",
        "host:+80",
        "1.2.3:80",
        "300.1.1.1:80",
        "ho st:80",
        "ho_st:80",
        "host:1234567",
        "h:99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char host[BLEND_CONFIG_HOST_BYTES_MAX] = "untouched";
        int port = -7;
        print_message("bad %zu: %s\n", i, bad[i]);
        assert_int_equal(blend_config_split_hostport(bad[i], host, sizeof host, &port),
                         BLEND_EINVAL);
        assert_string_equal(host, "untouched");
        assert_int_equal(port, -7);
    }
    char small[4] = "abc";
    int port = -7;
    assert_int_equal(blend_config_split_hostport("[::1]:80", small, sizeof small, &port), 0);
    assert_int_equal(blend_config_split_hostport("host:80", small, sizeof small, &port),
                     BLEND_ELIMIT);
    assert_string_equal(small, "::1");
    assert_int_equal(port, 80);
}

static void hostport_refuses_long_host_names(void **state)
{
    char s[300];
    char host[BLEND_CONFIG_HOST_BYTES_MAX];
    int port = 0;
    memset(s, 'a', 253);
    strcpy(s + 253, ":1");
    assert_int_equal(blend_config_split_hostport(s, host, sizeof host, &port), 0);
    memset(s, 'a', 254);
    strcpy(s + 254, ":1");
    assert_int_equal(blend_config_split_hostport(s, host, sizeof host, &port), BLEND_EINVAL);
}

/* --- Formatting --------------------------------------------------------------------------------
 */

static void defaults_format_as_expected(void **state)
{
    struct blend_config c;
    blend_config_defaults(&c);
    assert_int_equal(blend_config_format(&c, fmt_a, sizeof fmt_a), 0);
    assert_string_equal(fmt_a, "[http]\n"
                               "listen = 127.0.0.1:8080\n"
                               "web_dir = web\n"
                               "\n[sip]\n"
                               "listen = 127.0.0.1:5060\n"
                               "realm = blend\n"
                               "voice_requires_phone = yes\n"
                               "auth_failures_max = 10\n"
                               "auth_lockout_s = 300\n"
                               "options_interval_s = 30\n"
                               "trunk_allow = \"127.0.0.1, ::1\"\n"
                               "rtp_port_min = 20000\n"
                               "rtp_port_max = 29999\n"
                               "trunk_uri = \"\"\n"
                               "trunk_user = \"\"\n"
                               "trunk_password = \"\"\n"
                               "moh_path = \"\"\n"
                               "session_expires_s = 1800\n"
                               "trunk_register = no\n"
                               "trunk_register_expires_s = 600\n"
                               "trunk_caller_id = \"\"\n"
                               "trunk_pai = no\n"
                               "tls_listen = \"\"\n"
                               "tls_cert = \"\"\n"
                               "\n[store]\n"
                               "url = sqlite:var/blend.db\n"
                               "batch_max = 512\n"
                               "\n[data]\n"
                               "dir = var\n"
                               "\n[ivr]\n"
                               "prompts_dir = prompts\n"
                               "tts_command = espeak-ng\n"
                               "tts_words_per_minute = 150\n"
                               "http_allow = \"\"\n"
                               "\n[email]\n"
                               "imap_url = \"\"\n"
                               "username = \"\"\n"
                               "password = \"\"\n"
                               "poll_s = 30\n"
                               "queue = \"\"\n"
                               "smtp_url = \"\"\n"
                               "smtp_username = \"\"\n"
                               "smtp_password = \"\"\n"
                               "from = \"\"\n"
                               "from_name = \"\"\n"
                               "starttls = no\n"
                               "\n[webhook]\n"
                               "secret = \"\"\n"
                               "provider_url = \"\"\n"
                               "provider_token = \"\"\n"
                               "sms_queue = \"\"\n"
                               "social_queue = \"\"\n"
                               "country_code = 82\n"
                               "sms_preset = blend\n"
                               "public_url = \"\"\n"
                               "account_sid = \"\"\n"
                               "auth_token = \"\"\n"
                               "sms_from = \"\"\n"
                               "sms_provider_url = \"\"\n"
                               "\n[chat]\n"
                               "allowed_origins = \"\"\n"
                               "\n[log]\n"
                               "level = info\n"
                               "\n[tls]\n"
                               "cert = \"\"\n"
                               "key = \"\"\n"
                               "\n[provision]\n"
                               "file = \"\"\n"
                               "\n[auth]\n"
                               "password_cost = interactive\n"
                               "session_idle_s = 43200\n"
                               "login_failures_max = 5\n"
                               "lockout_s = 300\n"
                               "\n[shutdown]\n"
                               "drain_s = 4\n");
    /* Every prefix that does not hold the whole text is refused, with out left empty. */
    size_t need = strlen(fmt_a) + 1;
    for (size_t len = 1; len < need; len++) {
        char *out = malloc(len);
        assert_non_null(out);
        assert_int_equal(blend_config_format(&c, out, len), BLEND_ELIMIT);
        assert_string_equal(out, "");
        free(out);
    }
    char *out = malloc(need);
    assert_non_null(out);
    assert_int_equal(blend_config_format(&c, out, need), 0);
    assert_string_equal(out, fmt_a);
    free(out);
}

static void formatted_config_parses_back(void **state)
{
    static const char *const pairs[] = {"BLEND_DATA_DIR",
                                        "a \"b\" \\c #d\te",
                                        "BLEND_HTTP_WEB_DIR",
                                        "C:\\web",
                                        "BLEND_PROVISION_FILE",
                                        "p.json",
                                        "BLEND_AUTH_PASSWORD_COST",
                                        "sensitive",
                                        NULL};
    struct fake_env env = {.pairs = pairs};
    struct blend_config c;
    blend_config_defaults(&c);
    char err[256] = "";
    assert_int_equal(blend_config_apply_env(&c, fake_get, &env, err, sizeof err), 0);
    assert_int_equal(blend_config_format(&c, fmt_a, sizeof fmt_a), 0);
    assert_non_null(strstr(fmt_a, "dir = \"a \\\"b\\\" \\\\c #d\te\"\n"));
    assert_non_null(strstr(fmt_a, "web_dir = C:\\web\n"));
    struct blend_config back;
    blend_config_defaults(&back);
    strcpy(back.data_dir, "other");
    assert_int_equal(parse_text(&back, fmt_a, err, sizeof err), 0);
    assert_same_config(&back, &c);
}

/* --- Files -------------------------------------------------------------------------------------
 */

/* Writes len bytes of text into a new temporary file and returns its path in path. */
static void write_temp(char *path, size_t pathlen, const char *text, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/blend-config-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void loads_files(void **state)
{
    char path[256];
    char err[512] = "";
    struct blend_config c;
    blend_config_defaults(&c);
    const char *text = "[http]\nlisten = 127.0.0.1:9\n[auth]\nlockout_s = 0\n";
    write_temp(path, sizeof path, text, strlen(text));
    assert_int_equal(blend_config_load_file(&c, path, err, sizeof err), BLEND_EINVAL);
    char expect[512];
    snprintf(expect, sizeof expect, "%s:4: [auth] lockout_s: must be 1..86400", path);
    assert_string_equal(err, expect);
    assert_string_equal(c.http_listen, "127.0.0.1:8080");
    unlink(path);

    text = "[http]\nlisten = 127.0.0.1:9\n";
    write_temp(path, sizeof path, text, strlen(text));
    assert_int_equal(blend_config_load_file(&c, path, err, sizeof err), 0);
    assert_string_equal(c.http_listen, "127.0.0.1:9");

    /* Out of memory for the read buffer. */
    blend_alloc_fail_nth(1);
    assert_int_equal(blend_config_load_file(&c, path, err, sizeof err), BLEND_ENOMEM);
    blend_alloc_fail_nth(0);
    snprintf(expect, sizeof expect, "%s: out of memory", path);
    assert_string_equal(err, expect);
    unlink(path);

    assert_int_equal(blend_config_load_file(&c, path, err, sizeof err), BLEND_ENOENT);
    snprintf(expect, sizeof expect, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, expect);

    /* A directory opens but cannot be read. */
    assert_int_equal(blend_config_load_file(&c, "/", err, sizeof err), BLEND_EIO);
    assert_string_equal(err, "/: cannot read: Is a directory");
    assert_int_equal(blend_alloc_live(), 0);
}

static void loads_files_up_to_the_size_limit(void **state)
{
    static char text[BLEND_CONFIG_FILE_BYTES_MAX + 1];
    memset(text, '#', sizeof text);
    for (size_t i = 1000; i < sizeof text; i += 1001) {
        text[i] = '\n';
    }
    char path[256];
    char err[512] = "";
    struct blend_config c;
    blend_config_defaults(&c);
    write_temp(path, sizeof path, text, BLEND_CONFIG_FILE_BYTES_MAX);
    assert_int_equal(blend_config_load_file(&c, path, err, sizeof err), 0);
    unlink(path);
    write_temp(path, sizeof path, text, BLEND_CONFIG_FILE_BYTES_MAX + 1);
    assert_int_equal(blend_config_load_file(&c, path, err, sizeof err), BLEND_ELIMIT);
    char expect[512];
    snprintf(expect, sizeof expect, "%s: file larger than 65536 bytes", path);
    assert_string_equal(err, expect);
    unlink(path);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_documented_values),
        cmocka_unit_test(empty_and_comment_only_texts_keep_defaults),
        cmocka_unit_test(parses_every_option),
        cmocka_unit_test(quoted_values_unescape),
        cmocka_unit_test(layers_keep_earlier_values_and_sections_may_repeat),
        cmocka_unit_test(every_error_has_its_message_and_leaves_config_untouched),
        cmocka_unit_test(bad_text_after_good_lines_changes_nothing),
        cmocka_unit_test(nul_byte_is_an_error),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(value_longer_than_field_is_refused),
        cmocka_unit_test(messages_truncate_and_may_be_dropped),
        cmocka_unit_test(env_names_come_from_the_table),
        cmocka_unit_test(env_overrides_beat_the_file),
        cmocka_unit_test(bad_env_value_names_the_variable),
        cmocka_unit_test(tls_needs_cert_and_key_together),
        cmocka_unit_test(rtp_port_range_must_hold_a_pair),
        cmocka_unit_test(hostport_forms),
        cmocka_unit_test(hostport_refuses_long_host_names),
        cmocka_unit_test(defaults_format_as_expected),
        cmocka_unit_test(formatted_config_parses_back),
        cmocka_unit_test(loads_files),
        cmocka_unit_test(loads_files_up_to_the_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
