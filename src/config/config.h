/*
 * The bootstrap configuration of `blend serve`: where to listen, where the data lives, the log
 * level, TLS files and a few auth and store knobs. Everything else is provisioned at run time.
 *
 * Layers, applied in this order, each one overriding the previous:
 *   1. blend_config_defaults()   - built-in defaults, enough to run with no file at all;
 *   2. blend_config_load_file()  - the INI-like file (our own small format, see below);
 *   3. blend_config_apply_env()  - BLEND_<SECTION>_<KEY> environment variables;
 *   4. blend_config_validate()   - rules that span options (tls.cert with tls.key), checked once
 *                                  on the final result.
 *
 * One table of option descriptors (blend_config_option_at()) drives defaults, parsing, the
 * environment names and formatting; there is no per-key code. docs/configuration.md lists the
 * same options and a unit test keeps it complete.
 *
 * File format (UTF-8, at most BLEND_CONFIG_FILE_BYTES_MAX bytes, lines of at most
 * BLEND_CONFIG_LINE_BYTES_MAX bytes, LF or CRLF line ends, an optional UTF-8 BOM):
 *     # a comment
 *     [section]
 *     key = value            # a comment after a value
 *     key = "a quoted value" # \" and \\ are the only escapes inside quotes
 * A bare value is one word: no spaces, no '"' and no '#' ('#' always starts a comment outside
 * quotes). Quote values that are empty or contain spaces or '#'. Integers are decimal. NUL bytes,
 * control characters other than tab, invalid UTF-8, keys outside a section, unknown sections or
 * keys and a key set twice in one file are errors.
 *
 * Invariants: every function that fails leaves the struct blend_config untouched (it works on a
 * copy), so a config always holds values that passed their option's checks; strings in it are
 * NUL-terminated UTF-8 without control characters other than tab. No allocation except the read
 * buffer of blend_config_load_file(). Thread-safe (no global state).
 */
#ifndef BLEND_CONFIG_CONFIG_H
#define BLEND_CONFIG_CONFIG_H

#include "base/error.h"
#include "base/limits.h"
#include "base/log.h"

#include <stddef.h>

/* Argon2id cost presets (libsodium's OPSLIMIT/MEMLIMIT pairs; the api layer maps them). `min` is
 * libsodium's minimum: for tests only, never for real passwords. */
enum blend_config_password_cost {
    BLEND_CONFIG_PASSWORD_COST_MIN = 0,
    BLEND_CONFIG_PASSWORD_COST_INTERACTIVE,
    BLEND_CONFIG_PASSWORD_COST_MODERATE,
    BLEND_CONFIG_PASSWORD_COST_SENSITIVE,
};

/* More mailboxes beside [email] (docs/email.md §Mailboxes): sections [email.NAME] with the same
 * keys as [email]; NAME is 1..31 characters of [a-z0-9_-]. An empty smtp_url sends that
 * mailbox's replies through [email]'s SMTP server and credentials. */
#define BLEND_CONFIG_MAILBOXES_MAX 8
#define BLEND_CONFIG_MAILBOX_NAME_BYTES 32

struct blend_config_mailbox {
    char name[BLEND_CONFIG_MAILBOX_NAME_BYTES]; /* "sales" */
    char imap_url[BLEND_CONFIG_URL_BYTES_MAX];  /* required */
    char username[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char password[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    int poll_s; /* 1..3600 */
    char queue[BLEND_SIP_TRUNK_CRED_BYTES_MAX]; /* required */
    char smtp_url[BLEND_CONFIG_URL_BYTES_MAX];  /* "" = [email]'s */
    char smtp_username[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char smtp_password[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char from[BLEND_SIP_TRUNK_CRED_BYTES_MAX]; /* required */
    char from_name[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    int starttls; /* 0 no, 1 yes */
};

struct blend_config {
    char http_listen[BLEND_CONFIG_HOSTPORT_BYTES_MAX];  /* "host:port" or "[v6]:port" */
    char http_web_dir[BLEND_PATH_BYTES_MAX];            /* static files of the web UI */
    char sip_listen[BLEND_CONFIG_HOSTPORT_BYTES_MAX];   /* "host:port" or "[v6]:port" */
    char sip_realm[BLEND_SIP_REALM_BYTES_MAX];          /* digest realm */
    int sip_voice_requires_phone;                       /* 0 no, 1 yes */
    int sip_auth_failures_max;                          /* 1..1000 */
    int sip_auth_lockout_s;                             /* 1..86400 */
    int sip_options_interval_s;                         /* 0..3600, 0 = no keep-alive */
    char sip_trunk_allow[BLEND_CONFIG_TRUNK_ALLOW_BYTES_MAX]; /* "a, b/cidr"; "" = none */
    int sip_rtp_port_min;                               /* 1024..65534 */
    int sip_rtp_port_max;                               /* 1025..65535, > min */
    char sip_trunk_uri[BLEND_CONFIG_HOSTPORT_BYTES_MAX];   /* "" = no outbound trunk */
    char sip_trunk_user[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char sip_trunk_password[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    int sip_session_expires_s;                          /* 0 = off */
    char sip_moh_path[BLEND_PATH_BYTES_MAX];            /* "" = silence on hold */
    int sip_trunk_register;                             /* 0 no, 1 yes */
    int sip_trunk_register_expires_s;                   /* 60..86400 */
    char sip_trunk_caller_id[BLEND_SIP_EXTENSION_BYTES_MAX]; /* "" = none */
    int sip_trunk_pai;                                       /* 0 no, 1 yes */
    char sip_tls_listen[BLEND_CONFIG_HOSTPORT_BYTES_MAX];    /* "" = no SIP over TLS */
    char sip_tls_cert[BLEND_PATH_BYTES_MAX];                 /* PEM chain + key; "" = none */
    char store_url[BLEND_CONFIG_URL_BYTES_MAX];         /* "sqlite:PATH" (see store.h) */
    int store_batch_max;                                /* 1..BLEND_STORE_BATCH_MAX */
    char data_dir[BLEND_PATH_BYTES_MAX];                /* runtime data directory */
    char ivr_prompts_dir[BLEND_PATH_BYTES_MAX];         /* base of play nodes' files */
    char ivr_tts_command[BLEND_PATH_BYTES_MAX];         /* espeak-ng */
    int ivr_tts_wpm;                                    /* 80..400 */
    char ivr_http_allow[BLEND_CONFIG_URL_BYTES_MAX];    /* URL prefixes; "" = none */
    /* The email channel (docs/email.md); email_imap_url "" = off. */
    char email_imap_url[BLEND_CONFIG_URL_BYTES_MAX];
    char email_username[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char email_password[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    int email_poll_s; /* 1..3600 */
    char email_queue[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char email_smtp_url[BLEND_CONFIG_URL_BYTES_MAX];
    char email_smtp_username[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char email_smtp_password[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char email_from[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char email_from_name[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    int email_starttls; /* 0 no, 1 yes */
    /* [email.NAME] sections, in the order they first appear. */
    struct blend_config_mailbox email_mailboxes[BLEND_CONFIG_MAILBOXES_MAX];
    int email_mailboxes_count;
    /* The webhook channel (SMS, social; docs/webhooks.md); webhook_secret "" = off. */
    char webhook_secret[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char webhook_provider_url[BLEND_CONFIG_URL_BYTES_MAX];
    char webhook_provider_token[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char webhook_sms_queue[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char webhook_social_queue[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    int webhook_country_code; /* 1..999 */
    int webhook_sms_preset;   /* 0 blend, 1 twilio */
    char webhook_public_url[BLEND_CONFIG_URL_BYTES_MAX];
    char webhook_account_sid[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char webhook_auth_token[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char webhook_sms_from[BLEND_SIP_TRUNK_CRED_BYTES_MAX];
    char webhook_sms_provider_url[BLEND_CONFIG_URL_BYTES_MAX];
    /* The web chat (docs/chat-protocol.md): origins allowed besides the server's own. */
    char chat_allowed_origins[BLEND_CONFIG_URL_BYTES_MAX];
    enum blend_log_level log_level;                     /* DEBUG..ERROR */
    char tls_cert[BLEND_PATH_BYTES_MAX];                /* PEM file; "" = no TLS */
    char tls_key[BLEND_PATH_BYTES_MAX];                 /* PEM file; "" = no TLS */
    char provision_file[BLEND_PATH_BYTES_MAX];          /* applied at start and SIGHUP; "" = none */
    enum blend_config_password_cost auth_password_cost; /* Argon2id preset */
    int auth_session_idle_s;     /* session lifetime without use, 60..2592000 */
    int auth_login_failures_max; /* failed logins before lock-out, 1..BLEND_LOGIN_FAILURES_MAX */
    int auth_lockout_s;          /* lock-out length, 1..86400 */
    int shutdown_drain_s;        /* grace period for in-flight work on shutdown, 1..30 */
};

enum blend_config_type {
    BLEND_CONFIG_TYPE_STRING,   /* UTF-8 text of at most size - 1 bytes */
    BLEND_CONFIG_TYPE_HOSTPORT, /* text accepted by blend_config_split_hostport() */
    BLEND_CONFIG_TYPE_INT,      /* decimal integer within [min, max], stored as int */
    BLEND_CONFIG_TYPE_ENUM,     /* one of `names`, stored as its index (an int-sized enum) */
};

/* One option: where it lives in the file and in struct blend_config, and its checks. */
struct blend_config_option {
    const char *section; /* "http" */
    const char *key;     /* "listen" */
    enum blend_config_type type;
    size_t offset;   /* of the field in struct blend_config */
    size_t size;     /* of the field (strings: capacity including the NUL) */
    int is_empty_ok; /* strings: whether "" is allowed */
    long min;        /* ints: inclusive range */
    long max;
    const char *const *names; /* enums: names by value, NULL-terminated */
    const char *default_text; /* the default, as it would be written in the file */
    const char *help;         /* one sentence, for `blend` help and the docs */
};

/* The option table, in file order (grouped by section). index < blend_config_options_count(). */
size_t blend_config_options_count(void);
const struct blend_config_option *blend_config_option_at(size_t index);
/* Writes the option's environment variable name ("BLEND_HTTP_LISTEN") into out (outlen bytes;
 * BLEND_CONFIG_ENV_NAME_BYTES_MAX always suffices). Returns 0 or BLEND_ELIMIT. */
BLEND_MUST_USE int blend_config_env_name(const struct blend_config_option *o, char *out,
                                         size_t outlen);

/* Fills c with the defaults of every option. */
void blend_config_defaults(struct blend_config *c);

/*
 * Parses text (len bytes, need not be NUL-terminated) read from `file` (a name used in messages
 * only) into c, which holds defaults or earlier values; options the text does not mention keep
 * their value. Returns 0, or on error leaves c untouched, writes one message into err (errlen
 * bytes, truncated to fit; err may be NULL when errlen is 0) naming file, line and key, and
 * returns:
 *   BLEND_ELIMIT  file larger than BLEND_CONFIG_FILE_BYTES_MAX, or a line longer than
 *                 BLEND_CONFIG_LINE_BYTES_MAX (line terminator excluded);
 *   BLEND_EPARSE  malformed text: NUL byte, control character, invalid UTF-8, malformed section
 *                 header or key line, bad quoting, a key outside any section;
 *   BLEND_EINVAL  well-formed but wrong: unknown section, unknown key, a key set twice, or a
 *                 value its option refuses.
 * Messages look like
 *   "blend.conf:7: [http] listen: port must be 1..65535"
 *   "blend.conf:3: unknown key 'lisen' in [http]"
 *   "blend.conf:9: unknown section [htp]"
 *   "blend.conf:8: duplicate key 'listen' in [http] (first set on line 2)"
 */
BLEND_MUST_USE int blend_config_parse(struct blend_config *c, const char *file, const char *text,
                                      size_t len, char *err, size_t errlen);

/* Reads the file at path and parses it as above (messages name path). Besides the codes of
 * blend_config_parse() it returns BLEND_ENOENT when the file does not exist (callers decide
 * whether a missing file matters), BLEND_EIO when it cannot be read, BLEND_ENOMEM. */
BLEND_MUST_USE int blend_config_load_file(struct blend_config *c, const char *path, char *err,
                                          size_t errlen);

/*
 * Applies environment overrides BLEND_<SECTION>_<KEY> (e.g. BLEND_HTTP_LISTEN, BLEND_STORE_URL,
 * BLEND_LOG_LEVEL) for every option, and BLEND_EMAIL_<NAME>_<KEY> for the keys of each
 * [email.NAME] mailbox the file declared (NAME upper-cased, '-' as '_'; a name that would
 * share one with another option or mailbox is refused by the parser); get(name, arg) returns
 * the value or NULL when unset (an empty value sets the option to ""). Values are taken literally: no quotes, no comments. A bad
 * value leaves c untouched, writes "BLEND_HTTP_LISTEN: port must be 1..65535" into err and
 * returns BLEND_EINVAL (BLEND_ELIMIT when longer than BLEND_CONFIG_ENV_VALUE_BYTES_MAX bytes).
 */
BLEND_MUST_USE int blend_config_apply_env(struct blend_config *c,
                                          const char *(*get)(const char *name, void *arg),
                                          void *arg, char *err, size_t errlen);

/* Checks rules between options on the final config: tls.cert and tls.key both set or both
 * empty; each [email.NAME] mailbox has imap_url, queue and from. Returns 0 or BLEND_EINVAL with
 * a message in err. */
BLEND_MUST_USE int blend_config_validate(const struct blend_config *c, char *err, size_t errlen);

/*
 * Splits "host:port" (host name or IPv4 address) or "[v6]:port" (an IPv6 address, without zone)
 * into host (hostlen bytes; brackets removed) and *port_out (1..65535). Returns 0, BLEND_EINVAL
 * when s is malformed, or BLEND_ELIMIT when the host does not fit in hostlen; outputs are
 * written only on success.
 */
BLEND_MUST_USE int blend_config_split_hostport(const char *s, char *host, size_t hostlen,
                                               int *port_out);

/* Writes c in the file format, every option, sections in table order, into out (outlen bytes,
 * NUL included): the effective configuration for `blend config show`. Values are bare words
 * when they can be, quoted otherwise; a value with long escapes may make a line longer than
 * BLEND_CONFIG_LINE_BYTES_MAX. Returns 0 or BLEND_ELIMIT (then out holds ""). */
BLEND_MUST_USE int blend_config_format(const struct blend_config *c, char *out, size_t outlen);

#endif
