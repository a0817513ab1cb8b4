/*
 * IVR flows, interpreted purely. A flow is a graph of named nodes (play, menu, collect, branch,
 * set, http, queue, voicemail, transfer, survey, hangup; docs/flows.md is the specification)
 * compiled into an array: every target is resolved to a node index by blend_ivr_flow_link().
 * blend_ivr_validate() finds what would make a flow misbehave on a live call and names the node.
 *
 * A session interprets one call through a linked flow, one event at a time: events carry `now_ms`
 * (the host's clock; nothing here reads one), outputs are effects the host carries out (play a
 * prompt, arm a timer, call a URL, join a queue, ...). Same events in, same effects out.
 *
 * Text channels (chat) feed TEXT instead of DIGIT: a menu takes its option's key or label, a
 * collect takes the whole message as its value (same validation); TO_AGENT leaves the flow for
 * the queue from any node (JOIN_QUEUE, then exit "to-agent"). Everything else is shared.
 *
 * Invariants:
 *   - A flow is immutable once linked; sessions borrow it and must be destroyed first.
 *   - A session visits at most BLEND_IVR_STEP_BUDGET nodes per event; beyond it the session ends
 *     with exit reason "step-budget", so even an unvalidated flow cannot spin.
 *   - Timers are identified by a per-session counter; a TIMER event whose id is not the one
 *     currently armed is stale and ignored (the host never has to cancel a timer).
 *   - Strings in effects are borrowed from the flow or the session and stay valid until the next
 *     call on that session.
 */
#ifndef BLEND_ENGINE_IVR_IVR_H
#define BLEND_ENGINE_IVR_IVR_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

/* Nodes of one flow: a large menu tree has a few dozen; the cap bounds validation work. */
#define BLEND_IVR_NODES_MAX 128
/* Node, variable and question names, queue names, NUL included. */
#define BLEND_IVR_NAME_BYTES 64
/* A prompt's text (TTS), a file path or URL, a variable's value, NUL included. */
#define BLEND_IVR_TEXT_BYTES 256
#define BLEND_IVR_VALUE_BYTES 128
/* Options of one menu (keys 0-9, *, #). */
#define BLEND_IVR_OPTIONS_MAX 12
/* Cases of one branch, assignments of one set node, questions of one survey. */
#define BLEND_IVR_CASES_MAX 8
#define BLEND_IVR_SETS_MAX 8
#define BLEND_IVR_QUESTIONS_MAX 5
/* Periodic messages of one queue node (played in turn while the caller waits). */
#define BLEND_IVR_MESSAGES_MAX 4
/* Variables one session holds (flow variables and http answers together). */
#define BLEND_IVR_VARS_MAX 32
/* Distinct variable names one flow may mention (the validator tracks them as a 64-bit set). */
#define BLEND_IVR_FLOW_VARS_MAX 64
/* Digits one collect node gathers (a card number is 19). */
#define BLEND_IVR_DIGITS_MAX 32
/* Node visits per input event: far above any real chain of set/branch nodes. */
#define BLEND_IVR_STEP_BUDGET 64
/* Effects one event may produce: each visit emits at most three, plus the exit. */
#define BLEND_IVR_EFFECTS_MAX (BLEND_IVR_STEP_BUDGET * 3 + 8)
/* Validation errors kept (the rest are counted). */
#define BLEND_IVR_ERRORS_MAX 32
/* Timeouts (seconds) accepted for menus, collects, queue waits, voicemail. */
#define BLEND_IVR_TIMEOUT_S_MAX 3600
#define BLEND_IVR_HTTP_TIMEOUT_MS_MAX 30000

enum blend_ivr_node_type {
    BLEND_IVR_UNKNOWN = 0, /* a type name the engine does not know (validation error) */
    BLEND_IVR_PLAY,
    BLEND_IVR_MENU,
    BLEND_IVR_COLLECT,
    BLEND_IVR_BRANCH,
    BLEND_IVR_SET,
    BLEND_IVR_HTTP,
    BLEND_IVR_QUEUE,
    BLEND_IVR_VOICEMAIL,
    BLEND_IVR_TRANSFER,
    BLEND_IVR_SURVEY,
    BLEND_IVR_HANGUP,
};

/* A reference to another node: `name` as written ("" = none), `index` set by link (-1 when the
 * name is empty or unknown). */
struct blend_ivr_target {
    char name[BLEND_IVR_NAME_BYTES];
    int32_t index;
};

enum blend_ivr_op { BLEND_IVR_EQ, BLEND_IVR_NE, BLEND_IVR_LT, BLEND_IVR_GT, BLEND_IVR_PREFIX };
enum blend_ivr_calendar { BLEND_IVR_CAL_OPEN = 1, BLEND_IVR_CAL_CLOSED, BLEND_IVR_CAL_HOLIDAY };
enum blend_ivr_validate_kind {
    BLEND_IVR_VALIDATE_NONE,
    BLEND_IVR_VALIDATE_DIGITS,
    BLEND_IVR_VALIDATE_LUHN,
    BLEND_IVR_VALIDATE_PATTERN /* `pattern`: a POSIX extended regular expression, whole input */
};
enum blend_ivr_survey_kind { BLEND_IVR_CSAT = 1, BLEND_IVR_NPS, BLEND_IVR_CES };

/* A branch case: `calendar` != 0 tests the calendar fact; otherwise `var` (a variable or a host
 * fact: caller, hour, ewt_s, waiting, agents_ready) is compared with `value`. */
struct blend_ivr_case {
    int calendar; /* enum blend_ivr_calendar, or 0 */
    char var[BLEND_IVR_NAME_BYTES];
    enum blend_ivr_op op;
    char value[BLEND_IVR_VALUE_BYTES];
    struct blend_ivr_target next;
};

struct blend_ivr_assign {
    char var[BLEND_IVR_NAME_BYTES];
    char value[BLEND_IVR_VALUE_BYTES];
};

struct blend_ivr_question {
    char id[BLEND_IVR_NAME_BYTES];
    char prompt[BLEND_IVR_TEXT_BYTES];
    enum blend_ivr_survey_kind kind;
};

struct blend_ivr_option {
    char key;                         /* '0'..'9', '*', '#' */
    char label[BLEND_IVR_NAME_BYTES]; /* text channels: the quick reply's text ("" = the key) */
    struct blend_ivr_target target;
};

/* One node. Fields a type does not use stay zero. */
struct blend_ivr_node {
    char name[BLEND_IVR_NAME_BYTES];
    char type_name[BLEND_IVR_NAME_BYTES]; /* as written, for errors about unknown types */
    enum blend_ivr_node_type type;
    char text[BLEND_IVR_TEXT_BYTES]; /* play text, menu/collect prompt */
    char language[16];               /* play, menu: the text's language ("" = the session's) */
    char file[BLEND_IVR_TEXT_BYTES]; /* play file; url of http */
    int is_barge_in;                 /* play */
    int timeout_s;                   /* menu, collect, survey (per question) */
    int retries;                     /* menu: failed attempts allowed before `exhausted` */
    int digits_min, digits_max;      /* collect */
    char terminator;                 /* collect: 0 = none */
    enum blend_ivr_validate_kind validate;
    int is_masked;                       /* collect: digits are logged as '*' */
    char pattern[BLEND_IVR_VALUE_BYTES]; /* collect: BLEND_IVR_VALIDATE_PATTERN's expression */
    void *pattern_re; /* collect: `pattern` compiled by blend_ivr_flow_link (a regex_t, owned by
                         the flow); NULL when it does not compile (a validation error) */
    char var[BLEND_IVR_NAME_BYTES];                              /* collect: where the digits go */
    int timeout_ms;                                              /* http */
    char queue[BLEND_IVR_NAME_BYTES];                            /* queue, voicemail */
    int announce_every_s, max_wait_s;                            /* queue */
    char callback_key, voicemail_key;                            /* queue: 0 = none */
    char messages[BLEND_IVR_MESSAGES_MAX][BLEND_IVR_TEXT_BYTES]; /* queue: spoken in turn */
    size_t messages_count;
    int message_every_s;               /* queue: period of the messages (0 = none) */
    int max_s;                         /* voicemail */
    char number[BLEND_IVR_NAME_BYTES]; /* transfer */
    struct blend_ivr_option options[BLEND_IVR_OPTIONS_MAX];
    size_t options_count;
    struct blend_ivr_case cases[BLEND_IVR_CASES_MAX];
    size_t cases_count;
    struct blend_ivr_assign sets[BLEND_IVR_SETS_MAX]; /* set; http: variables the answer gives */
    size_t sets_count;
    struct blend_ivr_question questions[BLEND_IVR_QUESTIONS_MAX];
    size_t questions_count;
    /* Targets. */
    struct blend_ivr_target next;      /* play, collect, set, http, voicemail, survey */
    struct blend_ivr_target invalid;   /* menu (default: the menu), collect */
    struct blend_ivr_target timeout;   /* menu (default: the menu), collect */
    struct blend_ivr_target exhausted; /* menu */
    struct blend_ivr_target failure;   /* http */
    struct blend_ivr_target overflow;  /* queue (optional) */
    struct blend_ivr_target after;     /* queue (optional): where the caller goes when the
                                          agent hangs up first (a post-call survey) */
    struct blend_ivr_target else_;     /* branch */
};

struct blend_ivr_flow {
    char name[BLEND_IVR_NAME_BYTES];
    int version;
    char language[BLEND_IVR_NAME_BYTES]; /* default language of prompts */
    struct blend_ivr_target start;
    struct blend_ivr_node *nodes; /* owned, nodes_count used */
    size_t nodes_count, nodes_cap;
    int is_linked;
};

/* Creates an empty flow (owned; free with blend_ivr_flow_destroy). BLEND_ENOMEM. */
BLEND_MUST_USE int blend_ivr_flow_create(struct blend_ivr_flow **out);
void blend_ivr_flow_destroy(struct blend_ivr_flow *flow);
/* Appends a zeroed node named `name` of type `type`; *out is valid until the next add.
 * BLEND_EINVAL (empty or too long name), BLEND_EEXIST (name taken), BLEND_ELIMIT, BLEND_ENOMEM. */
BLEND_MUST_USE int blend_ivr_flow_add(struct blend_ivr_flow *flow, const char *name,
                                      enum blend_ivr_node_type type, struct blend_ivr_node **out);
/* Index of the node named `name`, or -1. */
int32_t blend_ivr_flow_find(const struct blend_ivr_flow *flow, const char *name);
/* Resolves every target name to an index (unknown names stay -1: the validator reports them)
 * and marks the flow linked. Sessions need a linked flow. */
void blend_ivr_flow_link(struct blend_ivr_flow *flow);

const char *blend_ivr_type_name(enum blend_ivr_node_type type);
/* BLEND_IVR_UNKNOWN for names the engine does not know. */
enum blend_ivr_node_type blend_ivr_type_parse(const char *name);

/* ---- Validation --------------------------------------------------------------------------- */

struct blend_ivr_error {
    char node[BLEND_IVR_NAME_BYTES]; /* the node at fault ("" for the flow itself) */
    char message[160];
};

struct blend_ivr_errors {
    struct blend_ivr_error items[BLEND_IVR_ERRORS_MAX];
    size_t count, count_total;
};

/* Checks a linked flow: missing start, unknown node types, missing or unknown targets, nodes no
 * path from the start reaches, variables read where no path from the start can have set them
 * (host-provided ones excepted: caller, language, priority, queue, skills, hour, ewt_s,
 * waiting, agents_ready, and "contact.*": what the CRM knows of the caller), and loops of nodes
 * none of which waits for the caller or the host. Returns 0, or BLEND_EINVAL with `errs` filled
 * (each naming its node). */
BLEND_MUST_USE int blend_ivr_validate(const struct blend_ivr_flow *flow,
                                      struct blend_ivr_errors *errs);

/* ---- Sessions ----------------------------------------------------------------------------- */

/* Facts the host knows about the call and the center, refreshed with any event. */
struct blend_ivr_facts {
    char caller[BLEND_IVR_NAME_BYTES];
    enum blend_ivr_calendar calendar; /* 0 = unknown: calendar cases are false */
    int hour;                         /* 0..23 in the center's zone */
    int ewt_s, waiting, agents_ready; /* of the queue the flow routes to */
};

enum blend_ivr_event_kind {
    BLEND_IVR_EV_START = 1,
    BLEND_IVR_EV_DIGIT,       /* digit */
    BLEND_IVR_EV_TIMER,       /* timer_id */
    BLEND_IVR_EV_PLAYED,      /* the prompt asked for finished */
    BLEND_IVR_EV_HTTP_RESULT, /* is_ok, fields */
    BLEND_IVR_EV_QUEUE,       /* queue_event */
    BLEND_IVR_EV_RECORDED,    /* the voicemail finished */
    BLEND_IVR_EV_TEXT,        /* text: a message on a text channel (chat) */
    BLEND_IVR_EV_TO_AGENT,    /* the customer asked for a person: queue now, from any node */
};

/* ANSWERED: an agent took the call; OVERFLOW: routing moved it out of the queue; AGENT_LEFT:
 * the agent hung up and the caller is still on the line (only after ANSWERED on a queue node
 * with `after`). */
enum blend_ivr_queue_event {
    BLEND_IVR_QUEUE_ANSWERED = 1,
    BLEND_IVR_QUEUE_OVERFLOW,
    BLEND_IVR_QUEUE_AGENT_LEFT
};

struct blend_ivr_event {
    enum blend_ivr_event_kind kind;
    int64_t now_ms;
    const struct blend_ivr_facts *facts; /* optional: replaces the session's facts */
    char digit;
    uint32_t timer_id;
    int is_ok;
    const struct blend_ivr_assign *fields; /* http answer, fields_count entries */
    size_t fields_count;
    enum blend_ivr_queue_event queue_event;
    const char *text; /* TEXT: the message (NUL-terminated, borrowed for the call) */
};

enum blend_ivr_effect_kind {
    BLEND_IVR_FX_PLAY = 1,         /* text or file, language, is_barge_in */
    BLEND_IVR_FX_ARM_TIMER,        /* timer_id, due_ms */
    BLEND_IVR_FX_HTTP,             /* url (text), timeout_ms */
    BLEND_IVR_FX_JOIN_QUEUE,       /* queue, priority, skills, announce_every_s, keys */
    BLEND_IVR_FX_LEAVE_QUEUE,      /* queue */
    BLEND_IVR_FX_CALLBACK,         /* queue: the caller asked to be called back */
    BLEND_IVR_FX_RECORD_VOICEMAIL, /* queue, max_s */
    BLEND_IVR_FX_TRANSFER,         /* text = number */
    BLEND_IVR_FX_SURVEY_ANSWER,    /* text = question id, value */
    BLEND_IVR_FX_HANGUP,
    BLEND_IVR_FX_STEP,  /* node: entered (event log) */
    BLEND_IVR_FX_INPUT, /* node, digit ('*' when masked) */
    BLEND_IVR_FX_EXIT,  /* node, reason */
};

struct blend_ivr_effect {
    enum blend_ivr_effect_kind kind;
    const char *node;
    const char *text;     /* PLAY text, TRANSFER number, SURVEY question id, HTTP url */
    const char *file;     /* PLAY file */
    const char *language; /* PLAY */
    const char *queue;
    const char *skills; /* JOIN_QUEUE: the "skills" variable, "" when unset */
    const char *reason; /* EXIT */
    int is_barge_in;
    uint32_t timer_id;
    int64_t due_ms;
    int timeout_ms;
    int value; /* SURVEY_ANSWER value, JOIN_QUEUE priority, voicemail max_s */
    int announce_every_s, max_wait_s;
    char callback_key, voicemail_key;
    char digit;
};

struct blend_ivr_effects {
    struct blend_ivr_effect items[BLEND_IVR_EFFECTS_MAX];
    size_t count;
};

struct blend_ivr_session;

/* Creates a session on a linked flow (borrowed: it must outlive the session). BLEND_ENOMEM. */
BLEND_MUST_USE int blend_ivr_session_create(const struct blend_ivr_flow *flow,
                                            struct blend_ivr_session **out);
void blend_ivr_session_destroy(struct blend_ivr_session *s);
/* Feeds one event; `fx` is reset and receives the effects. BLEND_ESTATE when the session has
 * ended (or START comes twice, or another event comes before START); events a node does not
 * expect (a digit during a play without barge-in) are ignored and return 0. */
BLEND_MUST_USE int blend_ivr_session_step(struct blend_ivr_session *s,
                                          const struct blend_ivr_event *ev,
                                          struct blend_ivr_effects *fx);
int blend_ivr_session_is_ended(const struct blend_ivr_session *s);
/* 1 while the caller talks to an agent and the flow waits to go on at the queue node's `after`
 * (a post-call survey): the host keeps the customer when the agent hangs up. */
int blend_ivr_session_is_connected(const struct blend_ivr_session *s);
/* The exit reason once ended ("hangup", "transfer", "answered", "callback", "max-wait",
 * "overflow", "step-budget", "dead-end", "to-agent"), else NULL. */
const char *blend_ivr_session_exit_reason(const struct blend_ivr_session *s);
/* Sets a variable from the host (what it knows of the caller before the first node, e.g.
 * "contact.name"). BLEND_EINVAL empty or too long name, too long value; BLEND_ELIMIT when
 * BLEND_IVR_VARS_MAX variables are set already. */
BLEND_MUST_USE int blend_ivr_session_var_set(struct blend_ivr_session *s, const char *name,
                                             const char *value);
/* A variable's value, or NULL when unset. */
const char *blend_ivr_session_var(const struct blend_ivr_session *s, const char *name);

/* ---- What Blend itself says to a caller in a queue (announce.c) --------------------------- */

/* Languages with built-in sentences: English, Korean, Chinese (Mandarin and Cantonese read the
 * same characters). A language tag maps by prefix ("ko", "ko-KR" -> Korean; "zh", "cmn",
 * "yue" -> Chinese); anything else is English. */
enum blend_ivr_lang { BLEND_IVR_LANG_EN, BLEND_IVR_LANG_KO, BLEND_IVR_LANG_ZH };
enum blend_ivr_lang blend_ivr_lang_of(const char *language);

/* The expected wait as announced, in minutes: 0 means "less than a minute" (up to 60 s), then
 * whole minutes rounded up to 10, then rounded up to 5-minute steps. `last_min` is what the same
 * caller heard last (-1 for none): the announcement never grows (a caller is never told the
 * wait got longer while their place in line did not change). */
int blend_ivr_wait_minutes(int64_t ewt_ms, int last_min);
/* The announcement of a caller's position (1 = next) and wait (from blend_ivr_wait_minutes), in
 * pieces: fixed phrases and the numbers alone, so that a prompt cache renders each phrase once
 * and each number once, whatever the queue's length ("You are number " "3" " in line. Your
 * expected wait is about " "5" " minutes."). Concatenated, the pieces are the sentence. */
#define BLEND_IVR_ANNOUNCE_PARTS_MAX 5
#define BLEND_IVR_ANNOUNCE_PART_BYTES 128
struct blend_ivr_announcement {
    size_t count;
    char parts[BLEND_IVR_ANNOUNCE_PARTS_MAX][BLEND_IVR_ANNOUNCE_PART_BYTES];
};
/* BLEND_EINVAL for a position below 1 or negative minutes. */
BLEND_MUST_USE int blend_ivr_announce(const char *language, int position, int minutes,
                                      struct blend_ivr_announcement *out);
/* The whole sentence (the pieces concatenated), at most cap bytes with the NUL; BLEND_ELIMIT
 * when it does not fit, BLEND_EINVAL as blend_ivr_announce. */
BLEND_MUST_USE int blend_ivr_announce_text(const char *language, int position, int minutes,
                                           char *out, size_t cap);
/* The confirmation a caller hears after asking for a callback, in the language. */
const char *blend_ivr_callback_text(const char *language);

/* ---- The "skills" variable (docs/flows.md) ------------------------------------------------ */

/* A caller's own required skills as a flow sets them: a comma-separated list of `name[:min]`,
 * e.g. "vip" or "vip:5,korean:3" (spaces around items allowed); a name is 1..63 bytes of a-z,
 * 0-9, '.', '_' and '-' (a skill's name), min an integer 1..10 (default 1); at most
 * BLEND_IVR_SKILLS_MAX names, none twice. "" (or only spaces) is no skills. */
#define BLEND_IVR_SKILLS_MAX 8 /* the routing engine's BLEND_ACD_QUEUE_SKILLS_MAX */
struct blend_ivr_skill {
    char name[BLEND_IVR_NAME_BYTES];
    uint8_t min_proficiency;
};
/* Parses `text` (NUL-terminated) into out[BLEND_IVR_SKILLS_MAX]: 0 with *count set, or
 * BLEND_EINVAL (malformed: out and *count untouched). */
BLEND_MUST_USE int blend_ivr_skills_parse(const char *text, struct blend_ivr_skill *out,
                                          size_t *count);

#endif
