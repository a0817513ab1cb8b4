/*
 * Bootstrap configuration: the option table and the small, bounded parser of our INI-like
 * format (see config.h). The parser is a single forward pass over the text, one line at a time,
 * with no recursion and no allocation; every line is checked for size, NUL bytes, control
 * characters and UTF-8 before it is interpreted. Each public call works on a copy of the config
 * and commits it only when everything succeeded, so a failed call never leaves half a change.
 */
#include "config/config.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Room for a value's complaint ("must be one of min, interactive, ..."). */
#define WHY_BYTES_MAX 160

_Static_assert(sizeof(enum blend_log_level) == sizeof(int), "enum options are stored as int");
_Static_assert(sizeof(enum blend_config_password_cost) == sizeof(int),
               "enum options are stored as int");
_Static_assert(BLEND_SESSION_IDLE_S == 43200, "the default of auth.session_idle_s");
_Static_assert(BLEND_LOG_DEBUG == 0 && BLEND_LOG_ERROR == 3, "log level names are by value");

static const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
static const char *const no_yes_names[] = {"no", "yes", NULL};
static const char *const sms_preset_names[] = {"blend", "twilio", NULL};
static const char *const password_cost_names[] = {"min", "interactive", "moderate", "sensitive",
                                                  NULL};

#define FIELD(f) offsetof(struct blend_config, f), sizeof(((struct blend_config *)0)->f)
#define OPT_STR(sec, key, f, empty, def, help)                                                     \
    {                                                                                              \
        sec, key, BLEND_CONFIG_TYPE_STRING, FIELD(f), empty, 0, 0, NULL, def, help                 \
    }
#define OPT_HOSTPORT(sec, key, f, def, help)                                                       \
    {                                                                                              \
        sec, key, BLEND_CONFIG_TYPE_HOSTPORT, FIELD(f), 0, 0, 0, NULL, def, help                   \
    }
#define OPT_INT(sec, key, f, lo, hi, def, help)                                                    \
    {                                                                                              \
        sec, key, BLEND_CONFIG_TYPE_INT, FIELD(f), 0, lo, hi, NULL, def, help                      \
    }
#define OPT_ENUM(sec, key, f, names, def, help)                                                    \
    {                                                                                              \
        sec, key, BLEND_CONFIG_TYPE_ENUM, FIELD(f), 0, 0, 0, names, def, help                      \
    }

/* Stringify a limit for the default text of its option. */
#define XSTR(x) STR_(x)
#define STR_(x) #x

static const struct blend_config_option options[] = {
    OPT_HOSTPORT(
        "http", "listen", http_listen, "127.0.0.1:8080",
        "Address of the HTTP API, web UI and WebSocket event stream (host:port, [v6]:port)."),
    OPT_STR("http", "web_dir", http_web_dir, 0, "web", "Directory of the web UI's static files."),
    OPT_HOSTPORT("sip", "listen", sip_listen, "127.0.0.1:5060",
                 "Address of the SIP endpoint, UDP and TCP (host:port, [v6]:port)."),
    OPT_STR("sip", "realm", sip_realm, 0, "blend",
            "Digest realm of the registrar (phones' passwords are checked in it)."),
    OPT_ENUM("sip", "voice_requires_phone", sip_voice_requires_phone, no_yes_names, "yes",
             "yes: an agent with an extension takes voice only while a phone is registered."),
    OPT_INT("sip", "auth_failures_max", sip_auth_failures_max, 1, 1000, "10",
            "Failed SIP authentications from one address (within 60 s) before it is locked."),
    OPT_INT("sip", "auth_lockout_s", sip_auth_lockout_s, 1, 86400, "300",
            "Seconds a locked SIP source address gets 403, 1..86400."),
    OPT_INT("sip", "options_interval_s", sip_options_interval_s, 0, 3600, "30",
            "Seconds between OPTIONS keep-alives to each registered phone; 0 = none."),
    OPT_STR("sip", "trunk_allow", sip_trunk_allow, 1, "127.0.0.1, ::1",
            "Addresses or CIDRs whose INVITEs are taken as trunk calls; empty for none."),
    OPT_INT("sip", "rtp_port_min", sip_rtp_port_min, 1024, 65534, "20000",
            "Lowest UDP port of the RTP sockets Blend anchors calls on."),
    OPT_INT("sip", "rtp_port_max", sip_rtp_port_max, 1025, 65535, "29999",
            "Highest UDP port of the RTP sockets (two per leg: RTP and RTCP)."),
    OPT_STR("sip", "trunk_uri", sip_trunk_uri, 1, "",
            "Outbound trunk for transfers to numbers: sip:IP[:port][;transport=tcp]; empty: none."),
    OPT_STR("sip", "trunk_user", sip_trunk_user, 1, "",
            "Digest user name the outbound trunk may ask for; empty: none."),
    OPT_STR("sip", "trunk_password", sip_trunk_password, 1, "",
            "Digest password for the outbound trunk; empty: none."),
    OPT_STR("sip", "moh_path", sip_moh_path, 1, "",
            "Sound file played to a party on hold (any format, converted once); empty: silence."),
    OPT_INT("sip", "session_expires_s", sip_session_expires_s, 0, 86400, "1800",
            "RFC 4028 session timer in seconds, 90..86400 (a call not refreshed ends); 0 = off."),
    OPT_ENUM("sip", "trunk_register", sip_trunk_register, no_yes_names, "no",
             "yes: keep Blend registered at trunk_uri as trunk_user (needs both)."),
    OPT_INT("sip", "trunk_register_expires_s", sip_trunk_register_expires_s, 60, 86400, "600",
            "Registration interval asked of the trunk in seconds, 60..86400."),
    OPT_STR("sip", "trunk_caller_id", sip_trunk_caller_id, 1, "",
            "Number presented to the trunk when a call has no caller ID; empty: none."),
    OPT_ENUM("sip", "trunk_pai", sip_trunk_pai, no_yes_names, "no",
             "yes: INVITEs to the trunk also carry P-Asserted-Identity."),
    OPT_STR("sip", "tls_listen", sip_tls_listen, 1, "",
            "Address of the SIP over TLS endpoint (host:port, e.g. 127.0.0.1:5061); empty: none."),
    OPT_STR("sip", "tls_cert", sip_tls_cert, 1, "",
            "PEM file with the SIP TLS certificate chain and its private key."),
    OPT_STR("store", "url", store_url, 0, "sqlite:var/blend.db",
            "The database: sqlite:PATH (the file and its directory are created if missing)."),
    OPT_INT("store", "batch_max", store_batch_max, 1, BLEND_STORE_BATCH_MAX,
            XSTR(BLEND_STORE_BATCH_MAX),
            "Writes folded into one transaction (group commit), 1.." XSTR(BLEND_STORE_BATCH_MAX) "."),
    OPT_STR("data", "dir", data_dir, 0, "var", "Directory of runtime data (recordings, spool)."),
    OPT_STR("ivr", "prompts_dir", ivr_prompts_dir, 0, "prompts",
            "Directory of the sound files flows name in play nodes (relative paths only)."),
    OPT_STR("ivr", "tts_command", ivr_tts_command, 0, "espeak-ng",
            "The espeak-ng program that renders spoken prompts (rendered once, cached under "
            "data.dir/prompts)."),
    OPT_INT("ivr", "tts_words_per_minute", ivr_tts_wpm, 80, 400, "150",
            "Speaking rate of rendered prompts, 80..400 words per minute."),
    OPT_STR("ivr", "http_allow", ivr_http_allow, 1, "",
            "URL prefixes flows' http nodes may call, separated by commas; empty: none."),
    OPT_STR("email", "imap_url", email_imap_url, 1, "",
            "IMAP mailbox the email channel reads (imap://host:port/INBOX or imaps://...); "
            "empty: no email channel."),
    OPT_STR("email", "username", email_username, 1, "", "User name for the IMAP server."),
    OPT_STR("email", "password", email_password, 1, "",
            "Password for the IMAP server (keep the file private)."),
    OPT_INT("email", "poll_s", email_poll_s, 1, 3600, "30",
            "Seconds between two looks at the mailbox, 1..3600."),
    OPT_STR("email", "queue", email_queue, 1, "",
            "Queue that new email conversations join (a queue with the email channel)."),
    OPT_STR("email", "smtp_url", email_smtp_url, 1, "",
            "SMTP server replies are sent through (smtp://host:port or smtps://...); empty: "
            "replies stay queued."),
    OPT_STR("email", "smtp_username", email_smtp_username, 1, "",
            "User name for the SMTP server; empty: no login."),
    OPT_STR("email", "smtp_password", email_smtp_password, 1, "",
            "Password for the SMTP server (keep the file private)."),
    OPT_STR("email", "from", email_from, 1, "",
            "Address replies are sent from (the mailbox's own address)."),
    OPT_STR("email", "from_name", email_from_name, 1, "", "Display name replies are sent with."),
    OPT_ENUM("email", "starttls", email_starttls, no_yes_names, "no",
             "yes: STARTTLS is required on imap:// and smtp:// URLs."),
    OPT_STR("webhook", "secret", webhook_secret, 1, "",
            "Shared secret signing the SMS and social webhooks both ways (HMAC-SHA256); empty: "
            "no webhook channel."),
    OPT_STR("webhook", "provider_url", webhook_provider_url, 1, "",
            "URL replies are POSTed to (the provider's send endpoint); empty: replies stay "
            "queued."),
    OPT_STR("webhook", "provider_token", webhook_provider_token, 1, "",
            "Bearer token sent with each reply (keep the file private); empty: none."),
    OPT_STR("webhook", "sms_queue", webhook_sms_queue, 1, "",
            "Queue that new SMS conversations join (a queue with the sms channel)."),
    OPT_STR("webhook", "social_queue", webhook_social_queue, 1, "",
            "Queue that new social conversations join (a queue with the social channel)."),
    OPT_INT("webhook", "country_code", webhook_country_code, 1, 999, "82",
            "Country calling code of national numbers in SMS webhooks, 1..999."),
    OPT_ENUM("webhook", "sms_preset", webhook_sms_preset, sms_preset_names, "blend",
             "SMS webhook format: blend (Blend's signed JSON) or twilio (the provider's form "
             "posts and X-Twilio-Signature, replies to its Messages API)."),
    OPT_STR("webhook", "public_url", webhook_public_url, 1, "",
            "Blend's base URL as the SMS provider calls it (https://blend.example.com): the "
            "twilio preset's signatures cover it, and status callbacks are sent to it."),
    OPT_STR("webhook", "account_sid", webhook_account_sid, 1, "",
            "twilio preset: the account SID (user name of the replies' Basic auth)."),
    OPT_STR("webhook", "auth_token", webhook_auth_token, 1, "",
            "twilio preset: the auth token: verifies X-Twilio-Signature and is the replies' "
            "Basic auth password (keep the file private)."),
    OPT_STR("webhook", "sms_from", webhook_sms_from, 1, "",
            "twilio preset: the number SMS replies are sent from (From)."),
    OPT_STR("webhook", "sms_provider_url", webhook_sms_provider_url, 1, "",
            "twilio preset: URL SMS replies are posted to; empty: "
            "https://api.twilio.com/2010-04-01/Accounts/<account_sid>/Messages.json."),
    OPT_STR("chat", "allowed_origins", chat_allowed_origins, 1, "",
            "Web pages allowed to open the chat socket besides the server's own, comma-separated "
            "origins (https://www.example.com), * for any; empty: the server's own only."),
    OPT_ENUM("log", "level", log_level, log_level_names, "info",
             "Lowest level of logs written: debug, info, warn or error."),
    OPT_STR("tls", "cert", tls_cert, 1, "",
            "PEM certificate chain for HTTPS; empty for plain HTTP. Set both or neither."),
    OPT_STR("tls", "key", tls_key, 1, "", "PEM private key for HTTPS; empty for plain HTTP."),
    OPT_STR("provision", "file", provision_file, 1, "",
            "Provisioning file applied at start and on SIGHUP; empty for none."),
    OPT_ENUM(
        "auth", "password_cost", auth_password_cost, password_cost_names, "interactive",
        "Argon2id cost of password hashes: interactive, moderate or sensitive (min: tests only)."),
    OPT_INT("auth", "session_idle_s", auth_session_idle_s, 60, 2592000, "43200",
            "Seconds a session lives without use, 60..2592000."),
    OPT_INT("auth", "login_failures_max", auth_login_failures_max, 1, BLEND_LOGIN_FAILURES_MAX,
            XSTR(BLEND_LOGIN_FAILURES_MAX),
            "Failed logins of one user before lock-out, 1.." XSTR(BLEND_LOGIN_FAILURES_MAX) "."),
    OPT_INT("auth", "lockout_s", auth_lockout_s, 1, 86400, XSTR(BLEND_LOGIN_LOCKOUT_S),
            "Seconds a locked-out user must wait, 1..86400."),
    OPT_INT("shutdown", "drain_s", shutdown_drain_s, 1, 30, "4",
            "Seconds in-flight work gets to finish on shutdown, 1..30."),
};

#define OPTIONS_COUNT (sizeof options / sizeof options[0])

/* The keys of an [email.NAME] mailbox (config.h), on struct blend_config_mailbox. Strings may be
 * empty here, so a formatted config parses back; blend_config_validate requires imap_url, queue
 * and from. */
#undef FIELD
#define FIELD(f)                                                                                   \
    offsetof(struct blend_config_mailbox, f), sizeof(((struct blend_config_mailbox *)0)->f)
static const struct blend_config_option mailbox_options[] = {
    OPT_STR("email.NAME", "imap_url", imap_url, 1, "", "IMAP mailbox this mailbox reads."),
    OPT_STR("email.NAME", "username", username, 1, "", "User name for its IMAP server."),
    OPT_STR("email.NAME", "password", password, 1, "", "Password for its IMAP server."),
    OPT_INT("email.NAME", "poll_s", poll_s, 1, 3600, "30", "Seconds between its rounds."),
    OPT_STR("email.NAME", "queue", queue, 1, "", "Queue its new conversations join."),
    OPT_STR("email.NAME", "smtp_url", smtp_url, 1, "", "SMTP server of its replies; empty: [email]'s."),
    OPT_STR("email.NAME", "smtp_username", smtp_username, 1, "", "User name for its SMTP server."),
    OPT_STR("email.NAME", "smtp_password", smtp_password, 1, "", "Password for its SMTP server."),
    OPT_STR("email.NAME", "from", from, 1, "", "Address its replies are sent from."),
    OPT_STR("email.NAME", "from_name", from_name, 1, "", "Display name of its replies."),
    OPT_ENUM("email.NAME", "starttls", starttls, no_yes_names, "no",
             "yes: STARTTLS is required on its imap:// and smtp:// URLs."),
};
#undef FIELD

#define MAILBOX_OPTIONS_COUNT (sizeof mailbox_options / sizeof mailbox_options[0])

size_t blend_config_options_count(void)
{
    return OPTIONS_COUNT;
}

const struct blend_config_option *blend_config_option_at(size_t index)
{
    BLEND_ASSERT(index < OPTIONS_COUNT);
    return &options[index];
}

int blend_config_env_name(const struct blend_config_option *o, char *out, size_t outlen)
{
    BLEND_ASSERT(o != NULL && out != NULL);
    int n = snprintf(out, outlen, "BLEND_%s_%s", o->section, o->key);
    if (n < 0 || (size_t)n >= outlen) {
        return BLEND_ELIMIT;
    }
    for (char *p = out; *p; p++) {
        if (*p >= 'a' && *p <= 'z') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
    return 0;
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen == 0) {
        return;
    }
    BLEND_ASSERT(err != NULL);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* --- Text checks ------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when it is invalid
 * (overlong forms, surrogates and code points above U+10FFFF included; RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

/* Checks n bytes of text; returns NULL when clean, or what is wrong with it. */
static const char *text_problem(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (s[i] == 0) {
            return "NUL byte";
        }
        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7F) {
            return "control character";
        }
        size_t k = utf8_seq_len(s + i, n - i);
        if (k == 0) {
            return "invalid UTF-8";
        }
        i += k;
    }
    return NULL;
}

/* --- host:port -------------------------------------------------------------------------------- */

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Checks a host name or IPv4 address (no brackets, n bytes). */
static const char *host_problem(const char *h, size_t n)
{
    int is_numeric = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        int ok = is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 ch == '-' || ch == '.';
        if (!ok) {
            return "invalid host name";
        }
        if (!is_digit(ch) && ch != '.') {
            is_numeric = 0;
        }
    }
    if (n > 253) {
        return "host name longer than 253 bytes";
    }
    if (is_numeric) {
        char buf[16];
        struct in_addr a;
        if (n >= sizeof buf) {
            return "invalid IPv4 address";
        }
        memcpy(buf, h, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET, buf, &a) != 1) {
            return "invalid IPv4 address";
        }
    }
    return NULL;
}

/* The parser behind blend_config_split_hostport(); *why says what is wrong on BLEND_EINVAL. */
static int hostport_split(const char *s, char *host, size_t hostlen, int *port_out,
                          const char **why)
{
    const char *h = s;
    const char *colon;
    size_t hn;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close) {
            *why = "missing ']' after IPv6 address";
            return BLEND_EINVAL;
        }
        h = s + 1;
        hn = (size_t)(close - h);
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a;
        if (hn == 0 || hn >= sizeof buf) {
            *why = "invalid IPv6 address";
            return BLEND_EINVAL;
        }
        memcpy(buf, h, hn);
        buf[hn] = '\0';
        if (inet_pton(AF_INET6, buf, &a) != 1) {
            *why = "invalid IPv6 address";
            return BLEND_EINVAL;
        }
        if (close[1] != ':') {
            *why = "missing port (expected [address]:port)";
            return BLEND_EINVAL;
        }
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        if (!colon) {
            *why = "missing port (expected host:port)";
            return BLEND_EINVAL;
        }
        if (strchr(colon + 1, ':')) {
            *why = "IPv6 address must be in brackets, e.g. [::1]:8080";
            return BLEND_EINVAL;
        }
        hn = (size_t)(colon - s);
        if (hn == 0) {
            *why = "missing host (use 0.0.0.0 or [::] for all addresses)";
            return BLEND_EINVAL;
        }
        const char *p = host_problem(s, hn);
        if (p) {
            *why = p;
            return BLEND_EINVAL;
        }
    }
    const char *d = colon + 1;
    long port = 0;
    size_t nd = 0;
    while (is_digit(d[nd]) && nd < 6) {
        port = port * 10 + (d[nd] - '0');
        nd++;
    }
    if (nd == 0 || d[nd] != '\0' || port < 1 || port > 65535) {
        *why = "port must be 1..65535";
        return BLEND_EINVAL;
    }
    if (hn >= hostlen) {
        *why = "host too long";
        return BLEND_ELIMIT;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port_out = (int)port;
    return 0;
}

int blend_config_split_hostport(const char *s, char *host, size_t hostlen, int *port_out)
{
    BLEND_ASSERT(s != NULL && host != NULL && port_out != NULL);
    const char *why = NULL;
    return hostport_split(s, host, hostlen, port_out, &why);
}

/* --- Setting one option ----------------------------------------------------------------------- */

static int set_int(void *field, const struct blend_config_option *o, const char *v, char *why)
{
    size_t i = v[0] == '-' ? 1 : 0;
    size_t digits = strspn(v + i, "0123456789");
    if (digits == 0 || v[i + digits] != '\0') {
        snprintf(why, WHY_BYTES_MAX, "must be an integer");
        return BLEND_EINVAL;
    }
    errno = 0;
    long long n = strtoll(v, NULL, 10);
    if (errno == ERANGE || n < o->min || n > o->max) {
        snprintf(why, WHY_BYTES_MAX, "must be %ld..%ld", o->min, o->max);
        return BLEND_EINVAL;
    }
    *(int *)field = (int)n;
    return 0;
}

static int set_enum(void *field, const struct blend_config_option *o, const char *v, char *why)
{
    for (int i = 0; o->names[i]; i++) {
        if (strcmp(v, o->names[i]) == 0) {
            *(int *)field = i;
            return 0;
        }
    }
    size_t n = (size_t)snprintf(why, WHY_BYTES_MAX, "must be one of");
    for (int i = 0; o->names[i] && n < WHY_BYTES_MAX; i++) {
        n += (size_t)snprintf(why + n, WHY_BYTES_MAX - n, "%s %s", i ? "," : "", o->names[i]);
    }
    return BLEND_EINVAL;
}

/* Sets option o of c from the text value v (NUL-terminated, already checked by text_problem()).
 * On error writes the reason into why (WHY_BYTES_MAX bytes) and leaves c untouched. */
static int set_option(void *c, const struct blend_config_option *o, const char *v, char *why)
{
    void *field = (char *)c + o->offset;
    switch (o->type) {
    case BLEND_CONFIG_TYPE_INT:
        return set_int(field, o, v, why);
    case BLEND_CONFIG_TYPE_ENUM:
        return set_enum(field, o, v, why);
    case BLEND_CONFIG_TYPE_STRING:
    case BLEND_CONFIG_TYPE_HOSTPORT:
        break;
    }
    size_t n = strlen(v);
    if (n == 0 && !o->is_empty_ok) {
        snprintf(why, WHY_BYTES_MAX, "must not be empty");
        return BLEND_EINVAL;
    }
    if (n >= o->size) {
        snprintf(why, WHY_BYTES_MAX, "longer than %zu bytes", o->size - 1);
        return BLEND_EINVAL;
    }
    if (o->type == BLEND_CONFIG_TYPE_HOSTPORT) {
        char host[BLEND_CONFIG_HOST_BYTES_MAX];
        int port;
        const char *p = NULL;
        if (hostport_split(v, host, sizeof host, &port, &p) != 0) {
            snprintf(why, WHY_BYTES_MAX, "%s", p);
            return BLEND_EINVAL;
        }
    }
    memcpy(field, v, n + 1);
    return 0;
}

void blend_config_defaults(struct blend_config *c)
{
    BLEND_ASSERT(c != NULL);
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        char why[WHY_BYTES_MAX];
        int rc = set_option(c, &options[i], options[i].default_text, why);
        BLEND_ASSERT(rc == 0);
    }
}

/* --- The file parser -------------------------------------------------------------------------- */

/* Parser state for one text. */
struct parse {
    const char *file;
    int line;
    const char *section; /* current section (a name from the table), NULL before the first */
    int first_line[OPTIONS_COUNT]; /* line where each option was set, 0 = not yet */
    int box; /* in an [email.NAME] section: its mailbox's index + 1; 0 = not */
    int box_first_line[MAILBOX_OPTIONS_COUNT]; /* the same for the current mailbox's keys */
    char *err;
    size_t errlen;
};

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p)) {
        p++;
    }
    return p;
}

/* True when [p, end) holds only blanks and maybe a comment. */
static int is_rest_empty(const char *p, const char *end)
{
    p = skip_space(p, end);
    return p == end || *p == '#';
}

/* BLEND_EMAIL_<NAME>_<KEY> of a mailbox's key (NAME upper-cased, '-' as '_'). */
static void mailbox_env_name(const char *box, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "BLEND_EMAIL_%s_%s", box, key);
    for (char *p = out; *p; p++) {
        *p = *p == '-' ? '_' : (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    }
}

/* Whether mailbox `name` (n bytes) would share an environment name with an option or with a
 * mailbox already declared ([email.smtp]'s username is BLEND_EMAIL_SMTP_USERNAME). */
static int mailbox_env_clash(const struct blend_config *c, const char *name, int n)
{
    char box[BLEND_CONFIG_MAILBOX_NAME_BYTES];
    snprintf(box, sizeof box, "%.*s", n, name);
    for (size_t k = 0; k < MAILBOX_OPTIONS_COUNT; k++) {
        char mine[BLEND_CONFIG_ENV_NAME_BYTES_MAX + BLEND_CONFIG_MAILBOX_NAME_BYTES];
        char other[sizeof mine];
        mailbox_env_name(box, mailbox_options[k].key, mine, sizeof mine);
        for (size_t i = 0; i < OPTIONS_COUNT; i++) {
            if (blend_config_env_name(&options[i], other, sizeof other) == 0 &&
                strcmp(mine, other) == 0) {
                return 1;
            }
        }
        for (int b = 0; b < c->email_mailboxes_count; b++) {
            for (size_t j = 0; j < MAILBOX_OPTIONS_COUNT; j++) {
                mailbox_env_name(c->email_mailboxes[b].name, mailbox_options[j].key, other,
                                 sizeof other);
                if (strcmp(mine, other) == 0) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* [email.NAME]: a new mailbox (a name seen before is refused: one section per mailbox). */
static int parse_mailbox_section(struct parse *ps, struct blend_config *c, const char *name,
                                 int n)
{
    int ok = n >= 1 && n < BLEND_CONFIG_MAILBOX_NAME_BYTES;
    for (int i = 0; ok && i < n; i++) {
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_' || name[i] == '-';
    }
    if (!ok) {
        fail(ps->err, ps->errlen, "%s:%d: mailbox name must be 1..31 of a-z 0-9 _ -", ps->file,
             ps->line);
        return BLEND_EINVAL;
    }
    for (int i = 0; i < c->email_mailboxes_count; i++) {
        if (strlen(c->email_mailboxes[i].name) == (size_t)n &&
            memcmp(c->email_mailboxes[i].name, name, (size_t)n) == 0) {
            fail(ps->err, ps->errlen, "%s:%d: duplicate section [email.%.*s]", ps->file, ps->line,
                 n, name);
            return BLEND_EINVAL;
        }
    }
    if (mailbox_env_clash(c, name, n)) {
        fail(ps->err, ps->errlen,
             "%s:%d: [email.%.*s] would share environment variable names with another option "
             "or mailbox: choose another name",
             ps->file, ps->line, n, name);
        return BLEND_EINVAL;
    }
    if (c->email_mailboxes_count >= BLEND_CONFIG_MAILBOXES_MAX) {
        fail(ps->err, ps->errlen, "%s:%d: more than %d [email.NAME] mailboxes", ps->file,
             ps->line, BLEND_CONFIG_MAILBOXES_MAX);
        return BLEND_ELIMIT;
    }
    struct blend_config_mailbox *b = &c->email_mailboxes[c->email_mailboxes_count++];
    memset(b, 0, sizeof *b);
    memcpy(b->name, name, (size_t)n);
    for (size_t i = 0; i < MAILBOX_OPTIONS_COUNT; i++) {
        char why[WHY_BYTES_MAX];
        int rc = set_option(b, &mailbox_options[i], mailbox_options[i].default_text, why);
        BLEND_ASSERT(rc == 0);
    }
    ps->section = "email";
    ps->box = c->email_mailboxes_count;
    memset(ps->box_first_line, 0, sizeof ps->box_first_line);
    return 0;
}

static int parse_section(struct parse *ps, struct blend_config *c, const char *p, const char *end)
{
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (!close || close == p + 1 || !is_rest_empty(close + 1, end)) {
        fail(ps->err, ps->errlen, "%s:%d: malformed section header (expected [name])", ps->file,
             ps->line);
        return BLEND_EPARSE;
    }
    int n = (int)(close - p - 1);
    ps->box = 0;
    if (n > 6 && memcmp(p + 1, "email.", 6) == 0) {
        return parse_mailbox_section(ps, c, p + 7, n - 6);
    }
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        if (strlen(options[i].section) == (size_t)n && memcmp(options[i].section, p + 1, n) == 0) {
            ps->section = options[i].section;
            return 0;
        }
    }
    fail(ps->err, ps->errlen, "%s:%d: unknown section [%.*s]", ps->file, ps->line, n, p + 1);
    return BLEND_EINVAL;
}

/* Decodes the value at [p, end) into out (BLEND_CONFIG_LINE_BYTES_MAX + 1 bytes, so any value of
 * a line fits). Returns 0, or BLEND_EPARSE with the reason in *why. */
static int parse_value(const char *p, const char *end, char *out, const char **why)
{
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++;; p++) {
            if (p == end) {
                *why = "unterminated quoted string";
                return BLEND_EPARSE;
            }
            if (*p == '"') {
                break;
            }
            if (*p == '\\') {
                if (p + 1 == end || (p[1] != '"' && p[1] != '\\')) {
                    *why = "invalid escape in quoted string (only \\\" and \\\\)";
                    return BLEND_EPARSE;
                }
                p++;
            }
            out[n++] = *p;
        }
        p++;
        if (!is_rest_empty(p, end)) {
            *why = "unexpected text after quoted value";
            return BLEND_EPARSE;
        }
    } else {
        while (p < end && !is_space(*p) && *p != '#' && *p != '"') {
            out[n++] = *p++;
        }
        if (!is_rest_empty(p, end)) {
            *why = "unexpected text after value (quote values with spaces, '\"' or '#')";
            return BLEND_EPARSE;
        }
    }
    BLEND_ASSERT(n <= BLEND_CONFIG_LINE_BYTES_MAX);
    out[n] = '\0';
    return 0;
}

static int find_option(const char *section, const char *key, size_t keylen)
{
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        if (strcmp(options[i].section, section) == 0 && strlen(options[i].key) == keylen &&
            memcmp(options[i].key, key, keylen) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* A key of the current [email.NAME] section (p: after the '='). */
static int parse_mailbox_key(struct parse *ps, struct blend_config *c, const char *key, int kn,
                             const char *p, const char *end)
{
    struct blend_config_mailbox *b = &c->email_mailboxes[ps->box - 1];
    int idx = -1;
    for (size_t i = 0; i < MAILBOX_OPTIONS_COUNT && idx < 0; i++) {
        if (strlen(mailbox_options[i].key) == (size_t)kn &&
            memcmp(mailbox_options[i].key, key, (size_t)kn) == 0) {
            idx = (int)i;
        }
    }
    if (idx < 0) {
        fail(ps->err, ps->errlen, "%s:%d: unknown key '%.*s' in [email.%s]", ps->file, ps->line,
             kn, key, b->name);
        return BLEND_EINVAL;
    }
    const struct blend_config_option *o = &mailbox_options[idx];
    if (ps->box_first_line[idx]) {
        fail(ps->err, ps->errlen, "%s:%d: duplicate key '%s' in [email.%s] (first set on line %d)",
             ps->file, ps->line, o->key, b->name, ps->box_first_line[idx]);
        return BLEND_EINVAL;
    }
    ps->box_first_line[idx] = ps->line;
    char value[BLEND_CONFIG_LINE_BYTES_MAX + 1];
    const char *syntax = NULL;
    char why[WHY_BYTES_MAX];
    if (parse_value(skip_space(p, end), end, value, &syntax) != 0) {
        fail(ps->err, ps->errlen, "%s:%d: [email.%s] %s: %s", ps->file, ps->line, b->name, o->key,
             syntax);
        return BLEND_EPARSE;
    }
    if (set_option(b, o, value, why) != 0) {
        fail(ps->err, ps->errlen, "%s:%d: [email.%s] %s: %s", ps->file, ps->line, b->name, o->key,
             why);
        return BLEND_EINVAL;
    }
    return 0;
}

static int parse_key_line(struct parse *ps, struct blend_config *c, const char *p, const char *end)
{
    const char *key = p;
    while (p < end && !is_space(*p) && *p != '=' && *p != '#') {
        p++;
    }
    int kn = (int)(p - key);
    p = skip_space(p, end);
    if (kn == 0 || p == end || *p != '=') {
        fail(ps->err, ps->errlen, "%s:%d: expected 'key = value' or '[section]'", ps->file,
             ps->line);
        return BLEND_EPARSE;
    }
    if (ps->box) {
        return parse_mailbox_key(ps, c, key, kn, p + 1, end);
    }
    if (!ps->section) {
        fail(ps->err, ps->errlen, "%s:%d: key '%.*s' outside any section", ps->file, ps->line, kn,
             key);
        return BLEND_EPARSE;
    }
    int idx = find_option(ps->section, key, (size_t)kn);
    if (idx < 0) {
        fail(ps->err, ps->errlen, "%s:%d: unknown key '%.*s' in [%s]", ps->file, ps->line, kn, key,
             ps->section);
        return BLEND_EINVAL;
    }
    const struct blend_config_option *o = &options[idx];
    if (ps->first_line[idx]) {
        fail(ps->err, ps->errlen, "%s:%d: duplicate key '%s' in [%s] (first set on line %d)",
             ps->file, ps->line, o->key, o->section, ps->first_line[idx]);
        return BLEND_EINVAL;
    }
    ps->first_line[idx] = ps->line;
    char value[BLEND_CONFIG_LINE_BYTES_MAX + 1];
    const char *syntax = NULL;
    if (parse_value(skip_space(p + 1, end), end, value, &syntax) != 0) {
        fail(ps->err, ps->errlen, "%s:%d: [%s] %s: %s", ps->file, ps->line, o->section, o->key,
             syntax);
        return BLEND_EPARSE;
    }
    char why[WHY_BYTES_MAX];
    if (set_option(c, o, value, why) != 0) {
        fail(ps->err, ps->errlen, "%s:%d: [%s] %s: %s", ps->file, ps->line, o->section, o->key,
             why);
        return BLEND_EINVAL;
    }
    return 0;
}

/* Interprets one line [p, end), its terminator removed. */
static int parse_line(struct parse *ps, struct blend_config *c, const char *p, const char *end)
{
    if ((size_t)(end - p) > BLEND_CONFIG_LINE_BYTES_MAX) {
        fail(ps->err, ps->errlen, "%s:%d: line longer than %d bytes", ps->file, ps->line,
             BLEND_CONFIG_LINE_BYTES_MAX);
        return BLEND_ELIMIT;
    }
    const char *problem = text_problem(p, (size_t)(end - p));
    if (problem) {
        fail(ps->err, ps->errlen, "%s:%d: %s", ps->file, ps->line, problem);
        return BLEND_EPARSE;
    }
    p = skip_space(p, end);
    if (p == end || *p == '#') {
        return 0;
    }
    if (*p == '[') {
        return parse_section(ps, c, p, end);
    }
    return parse_key_line(ps, c, p, end);
}

int blend_config_parse(struct blend_config *c, const char *file, const char *text, size_t len,
                       char *err, size_t errlen)
{
    BLEND_ASSERT(c != NULL && file != NULL && (text != NULL || len == 0));
    if (len > BLEND_CONFIG_FILE_BYTES_MAX) {
        fail(err, errlen, "%s: file larger than %d bytes", file, BLEND_CONFIG_FILE_BYTES_MAX);
        return BLEND_ELIMIT;
    }
    if (len == 0) {
        return 0; /* text may be NULL then, and pointer arithmetic on NULL is undefined */
    }
    struct parse ps = {.file = file, .err = err, .errlen = errlen};
    struct blend_config next = *c;
    const char *p = text;
    const char *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *stop = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
        ps.line++;
        int rc = parse_line(&ps, &next, p, stop);
        if (rc != 0) {
            return rc;
        }
        p = nl ? nl + 1 : end;
    }
    *c = next;
    return 0;
}

int blend_config_load_file(struct blend_config *c, const char *path, char *err, size_t errlen)
{
    BLEND_ASSERT(c != NULL && path != NULL);
    int rc = 0;
    size_t len = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? BLEND_ENOENT : BLEND_EIO;
        fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    /* One byte more than the limit tells "too large" apart from "exactly at the limit". */
    buf = blend_malloc(BLEND_CONFIG_FILE_BYTES_MAX + 1);
    if (!buf) {
        rc = BLEND_ENOMEM;
        fail(err, errlen, "%s: out of memory", path);
        goto done;
    }
    while (len <= BLEND_CONFIG_FILE_BYTES_MAX) {
        ssize_t n = read(fd, buf + len, BLEND_CONFIG_FILE_BYTES_MAX + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = BLEND_EIO;
            fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    rc = blend_config_parse(c, path, buf, len, err, errlen);
done:
    if (fd >= 0) {
        close(fd);
    }
    blend_free(buf);
    return rc;
}

/* --- Environment, cross-option rules, formatting ---------------------------------------------- */

/* BLEND_EMAIL_<NAME>_<KEY> for each declared [email.NAME] mailbox (applied to c, a copy). */
static int apply_env_mailboxes(struct blend_config *c,
                               const char *(*get)(const char *name, void *arg), void *arg,
                               char *err, size_t errlen)
{
    for (int b = 0; b < c->email_mailboxes_count; b++) {
        struct blend_config_mailbox *box = &c->email_mailboxes[b];
        for (size_t i = 0; i < MAILBOX_OPTIONS_COUNT; i++) {
            char name[BLEND_CONFIG_ENV_NAME_BYTES_MAX + BLEND_CONFIG_MAILBOX_NAME_BYTES];
            mailbox_env_name(box->name, mailbox_options[i].key, name, sizeof name);
            const char *v = get(name, arg);
            if (!v) {
                continue;
            }
            size_t n = strnlen(v, BLEND_CONFIG_ENV_VALUE_BYTES_MAX + 1);
            if (n > BLEND_CONFIG_ENV_VALUE_BYTES_MAX) {
                fail(err, errlen, "%s: longer than %d bytes", name,
                     BLEND_CONFIG_ENV_VALUE_BYTES_MAX);
                return BLEND_ELIMIT;
            }
            const char *problem = text_problem(v, n);
            char why[WHY_BYTES_MAX];
            if (problem || set_option(box, &mailbox_options[i], v, why) != 0) {
                fail(err, errlen, "%s: %s", name, problem ? problem : why);
                return BLEND_EINVAL;
            }
        }
    }
    return 0;
}

int blend_config_apply_env(struct blend_config *c, const char *(*get)(const char *name, void *arg),
                           void *arg, char *err, size_t errlen)
{
    BLEND_ASSERT(c != NULL && get != NULL);
    struct blend_config next = *c;
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        char name[BLEND_CONFIG_ENV_NAME_BYTES_MAX];
        int rc = blend_config_env_name(&options[i], name, sizeof name);
        BLEND_ASSERT(rc == 0);
        const char *v = get(name, arg);
        if (!v) {
            continue;
        }
        size_t n = strnlen(v, BLEND_CONFIG_ENV_VALUE_BYTES_MAX + 1);
        if (n > BLEND_CONFIG_ENV_VALUE_BYTES_MAX) {
            fail(err, errlen, "%s: longer than %d bytes", name, BLEND_CONFIG_ENV_VALUE_BYTES_MAX);
            return BLEND_ELIMIT;
        }
        const char *problem = text_problem(v, n);
        if (problem) {
            fail(err, errlen, "%s: %s", name, problem);
            return BLEND_EINVAL;
        }
        char why[WHY_BYTES_MAX];
        if (set_option(&next, &options[i], v, why) != 0) {
            fail(err, errlen, "%s: %s", name, why);
            return BLEND_EINVAL;
        }
    }
    int rc = apply_env_mailboxes(&next, get, arg, err, errlen);
    if (rc) {
        return rc;
    }
    *c = next;
    return 0;
}

int blend_config_validate(const struct blend_config *c, char *err, size_t errlen)
{
    BLEND_ASSERT(c != NULL);
    if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
        fail(err, errlen, "tls.cert and tls.key must be set together (both or neither)");
        return BLEND_EINVAL;
    }
    if (c->sip_session_expires_s > 0 && c->sip_session_expires_s < BLEND_SIP_MIN_SE_S) {
        fail(err, errlen, "sip.session_expires_s must be 0 (off) or at least 90");
        return BLEND_EINVAL;
    }
    /* Each call leg takes an even/odd pair (RTP, RTCP): at least one pair must fit. */
    if (c->sip_rtp_port_max - c->sip_rtp_port_min < 1) {
        fail(err, errlen, "sip.rtp_port_max must be above sip.rtp_port_min");
        return BLEND_EINVAL;
    }
    if (c->sip_trunk_register && (c->sip_trunk_uri[0] == '\0' || c->sip_trunk_user[0] == '\0')) {
        fail(err, errlen, "sip.trunk_register needs sip.trunk_uri and sip.trunk_user");
        return BLEND_EINVAL;
    }
    if ((c->sip_tls_listen[0] == '\0') != (c->sip_tls_cert[0] == '\0')) {
        fail(err, errlen, "sip.tls_listen and sip.tls_cert must be set together (both or neither)");
        return BLEND_EINVAL;
    }
    char host[BLEND_CONFIG_HOSTPORT_BYTES_MAX];
    int port = 0;
    if (c->sip_tls_listen[0] != '\0' &&
        blend_config_split_hostport(c->sip_tls_listen, host, sizeof host, &port) != 0) {
        fail(err, errlen, "sip.tls_listen: want host:port or [v6]:port");
        return BLEND_EINVAL;
    }
    if (c->email_mailboxes_count > 0 && !c->email_imap_url[0]) {
        fail(err, errlen, "[email.%s] needs [email] (imap_url) too", c->email_mailboxes[0].name);
        return BLEND_EINVAL;
    }
    for (int i = 0; i < c->email_mailboxes_count; i++) {
        const struct blend_config_mailbox *b = &c->email_mailboxes[i];
        if (!b->imap_url[0] || !b->queue[0] || !b->from[0]) {
            fail(err, errlen, "[email.%s] needs imap_url, queue and from", b->name);
            return BLEND_EINVAL;
        }
    }
    return 0;
}

/* A value can be written bare when it is one non-empty word without '"' or '#'. */
static int needs_quotes(const char *v)
{
    return v[0] == '\0' || strpbrk(v, " \t\"#") != NULL;
}

/* Appends the value of option o to out at *n (outlen bytes). Returns 0 or BLEND_ELIMIT. */
static int format_value(const void *c, const struct blend_config_option *o, char *out,
                        size_t outlen, size_t *n)
{
    const void *field = (const char *)c + o->offset;
    int w;
    if (o->type == BLEND_CONFIG_TYPE_INT) {
        w = snprintf(out + *n, outlen - *n, "%d", *(const int *)field);
    } else if (o->type == BLEND_CONFIG_TYPE_ENUM) {
        w = snprintf(out + *n, outlen - *n, "%s", o->names[*(const int *)field]);
    } else if (!needs_quotes(field)) {
        w = snprintf(out + *n, outlen - *n, "%s", (const char *)field);
    } else {
        size_t k = *n;
        out[k++] = '"';
        for (const char *s = field; *s; s++) {
            size_t need = (*s == '"' || *s == '\\') ? 2 : 1;
            if (k + need + 2 > outlen) { /* room for this char, the closing quote and the NUL */
                return BLEND_ELIMIT;
            }
            if (need == 2) {
                out[k++] = '\\';
            }
            out[k++] = *s;
        }
        if (k + 2 > outlen) {
            return BLEND_ELIMIT;
        }
        out[k++] = '"';
        out[k] = '\0';
        w = (int)(k - *n);
    }
    if (w < 0 || (size_t)w >= outlen - *n) {
        return BLEND_ELIMIT;
    }
    *n += (size_t)w;
    return 0;
}

/* The [email.NAME] sections after the table's, every key written. 0 or BLEND_ELIMIT. */
static int format_mailboxes(const struct blend_config *c, char *out, size_t outlen, size_t *n)
{
    for (int b = 0; b < c->email_mailboxes_count; b++) {
        const struct blend_config_mailbox *box = &c->email_mailboxes[b];
        int w = snprintf(out + *n, outlen - *n, "\n[email.%s]\n", box->name);
        if (w < 0 || (size_t)w >= outlen - *n) {
            return BLEND_ELIMIT;
        }
        *n += (size_t)w;
        for (size_t i = 0; i < MAILBOX_OPTIONS_COUNT; i++) {
            w = snprintf(out + *n, outlen - *n, "%s = ", mailbox_options[i].key);
            if (w < 0 || (size_t)w >= outlen - *n) {
                return BLEND_ELIMIT;
            }
            *n += (size_t)w;
            if (format_value(box, &mailbox_options[i], out, outlen, n) != 0 || *n + 1 >= outlen) {
                return BLEND_ELIMIT;
            }
            out[(*n)++] = '\n';
            out[*n] = '\0';
        }
    }
    return 0;
}

int blend_config_format(const struct blend_config *c, char *out, size_t outlen)
{
    BLEND_ASSERT(c != NULL && out != NULL && outlen > 0);
    size_t n = 0;
    const char *section = NULL;
    out[0] = '\0';
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        const struct blend_config_option *o = &options[i];
        int w = 0;
        if (!section || strcmp(section, o->section) != 0) {
            w = snprintf(out + n, outlen - n, "%s[%s]\n", section ? "\n" : "", o->section);
            section = o->section;
        }
        if (w < 0 || (size_t)w >= outlen - n) {
            goto full;
        }
        n += (size_t)w;
        w = snprintf(out + n, outlen - n, "%s = ", o->key);
        if (w < 0 || (size_t)w >= outlen - n) {
            goto full;
        }
        n += (size_t)w;
        if (format_value(c, o, out, outlen, &n) != 0 || n + 1 >= outlen) {
            goto full;
        }
        out[n++] = '\n';
        out[n] = '\0';
    }
    if (format_mailboxes(c, out, outlen, &n) != 0) {
        goto full;
    }
    return 0;
full:
    out[0] = '\0';
    return BLEND_ELIMIT;
}
