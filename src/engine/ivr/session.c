/*
 * IVR sessions: one call interpreted through a linked flow, event by event. The session is in
 * one phase at a time: running nodes (only inside blend_ivr_session_step), waiting for a prompt
 * to finish, for a key press (a timer armed), for the host (http answer, queue outcome, recorded
 * voicemail), or ended. Invariants: at most BLEND_IVR_STEP_BUDGET node visits per event; the
 * armed timer id is the only one honoured; an ended session accepts no event; effects never
 * exceed BLEND_IVR_EFFECTS_MAX (asserted: each visit emits at most three). Text channels feed
 * whole messages (TEXT) where a phone feeds keys: a menu matches a key or a label, a collect
 * takes the message at once; TO_AGENT joins the queue from wherever the session waits.
 */
#include "engine/ivr/ivr.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A handler's answer meaning "stay on this node and wait for the next event". */
#define WAIT INT32_MIN

enum phase {
    PH_IDLE,   /* before START */
    PH_PROMPT, /* a prompt is playing */
    PH_INPUT,  /* waiting for a key press, timer armed */
    PH_HTTP,
    PH_QUEUE,
    PH_CONNECTED, /* answered by an agent; goes on at the queue node's `after` */
    PH_RECORD,
    PH_ENDED,
};

struct var {
    char name[BLEND_IVR_NAME_BYTES];
    char value[BLEND_IVR_VALUE_BYTES];
};

struct blend_ivr_session {
    const struct blend_ivr_flow *flow;
    struct blend_ivr_facts facts;
    struct var vars[BLEND_IVR_VARS_MAX];
    size_t vars_count;
    int32_t node;
    enum phase phase;
    uint32_t timer_id; /* armed timer, 0 = none */
    uint32_t timer_seq;
    int *attempts; /* failed attempts per node (menus) */
    char digits[BLEND_IVR_DIGITS_MAX + 1];
    size_t digits_count;
    size_t question;
    int is_nps_one; /* survey: "1" pressed on an NPS question, waiting for a possible "0" */
    const char *exit_reason;
    int64_t now_ms;
    int steps;
    struct blend_ivr_effects *fx;
};

int blend_ivr_session_create(const struct blend_ivr_flow *flow, struct blend_ivr_session **out)
{
    BLEND_ASSERT(flow && out);
    BLEND_ASSERT(flow->is_linked);
    struct blend_ivr_session *s = blend_calloc(1, sizeof *s);
    if (!s) {
        return BLEND_ENOMEM;
    }
    s->attempts = blend_calloc(flow->nodes_count ? flow->nodes_count : 1, sizeof *s->attempts);
    if (!s->attempts) {
        blend_free(s);
        return BLEND_ENOMEM;
    }
    s->flow = flow;
    s->node = -1;
    *out = s;
    return 0;
}

void blend_ivr_session_destroy(struct blend_ivr_session *s)
{
    if (!s) {
        return;
    }
    blend_free(s->attempts);
    blend_free(s);
}

int blend_ivr_session_is_ended(const struct blend_ivr_session *s)
{
    BLEND_ASSERT(s);
    return s->phase == PH_ENDED;
}

const char *blend_ivr_session_exit_reason(const struct blend_ivr_session *s)
{
    BLEND_ASSERT(s);
    return s->phase == PH_ENDED ? s->exit_reason : NULL;
}

const char *blend_ivr_session_var(const struct blend_ivr_session *s, const char *name)
{
    BLEND_ASSERT(s && name);
    for (size_t i = 0; i < s->vars_count; i++) {
        if (strcmp(s->vars[i].name, name) == 0) {
            return s->vars[i].value;
        }
    }
    return NULL;
}

/* Equal texts, ASCII letters compared without case (other bytes, UTF-8 included, as they are). */
static int same_text_ascii_case(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y) {
            return 0;
        }
    }
    return *a == *b;
}

/* Sets a variable; a new one beyond BLEND_IVR_VARS_MAX is dropped (the flow reads it unset). */
static void var_set(struct blend_ivr_session *s, const char *name, const char *value)
{
    struct var *v = NULL;
    for (size_t i = 0; i < s->vars_count && !v; i++) {
        if (strcmp(s->vars[i].name, name) == 0) {
            v = &s->vars[i];
        }
    }
    if (!v) {
        if (s->vars_count >= BLEND_IVR_VARS_MAX || !name[0]) {
            return;
        }
        v = &s->vars[s->vars_count++];
        snprintf(v->name, sizeof v->name, "%s", name);
    }
    snprintf(v->value, sizeof v->value, "%s", value);
}

/* ---- Effects ------------------------------------------------------------------------------ */

static const struct blend_ivr_node *cur(const struct blend_ivr_session *s)
{
    BLEND_ASSERT(s->node >= 0 && (size_t)s->node < s->flow->nodes_count);
    return &s->flow->nodes[s->node];
}

static struct blend_ivr_effect *emit(struct blend_ivr_session *s, enum blend_ivr_effect_kind k)
{
    BLEND_ASSERT(s->fx->count < BLEND_IVR_EFFECTS_MAX);
    struct blend_ivr_effect *e = &s->fx->items[s->fx->count++];
    memset(e, 0, sizeof *e);
    e->kind = k;
    e->node = s->node >= 0 ? cur(s)->name : "";
    return e;
}

static const char *language(const struct blend_ivr_session *s)
{
    const char *l = blend_ivr_session_var(s, "language");
    return l ? l : s->flow->language;
}

static void play(struct blend_ivr_session *s, const char *text, const char *file, int barge_in)
{
    struct blend_ivr_effect *e = emit(s, BLEND_IVR_FX_PLAY);
    e->text = text;
    e->file = file;
    const struct blend_ivr_node *n = s->node >= 0 ? cur(s) : NULL;
    e->language = n && n->language[0] && (n->type == BLEND_IVR_PLAY || n->type == BLEND_IVR_MENU)
                      ? n->language
                      : language(s);
    e->is_barge_in = barge_in;
    s->phase = PH_PROMPT;
}

static void arm(struct blend_ivr_session *s, int timeout_s)
{
    s->timer_id = ++s->timer_seq;
    struct blend_ivr_effect *e = emit(s, BLEND_IVR_FX_ARM_TIMER);
    e->timer_id = s->timer_id;
    e->due_ms = s->now_ms + (int64_t)timeout_s * 1000;
}

static void finish(struct blend_ivr_session *s, const char *reason, int hangup)
{
    if (hangup) {
        emit(s, BLEND_IVR_FX_HANGUP);
    }
    emit(s, BLEND_IVR_FX_EXIT)->reason = reason;
    s->exit_reason = reason;
    s->phase = PH_ENDED;
    s->timer_id = 0;
}

/* ---- Branch conditions -------------------------------------------------------------------- */

/* The value a condition reads: a variable, else a host fact. NULL when neither exists. */
static const char *lookup(const struct blend_ivr_session *s, const char *name, char *buf,
                          size_t len)
{
    const char *v = blend_ivr_session_var(s, name);
    if (v) {
        return v;
    }
    const struct blend_ivr_facts *f = &s->facts;
    if (strcmp(name, "caller") == 0) {
        return f->caller;
    }
    const char *const names[] = {"hour", "ewt_s", "waiting", "agents_ready"};
    const int values[] = {f->hour, f->ewt_s, f->waiting, f->agents_ready};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            snprintf(buf, len, "%d", values[i]);
            return buf;
        }
    }
    return NULL;
}

static int as_int(const char *s, long long *out)
{
    char *end;
    if (!s[0]) {
        return 0;
    }
    long long v = strtoll(s, &end, 10);
    if (*end) {
        return 0;
    }
    *out = v;
    return 1;
}

static int case_holds(const struct blend_ivr_session *s, const struct blend_ivr_case *c)
{
    if (c->calendar) {
        return s->facts.calendar == (enum blend_ivr_calendar)c->calendar;
    }
    char buf[32];
    const char *v = lookup(s, c->var, buf, sizeof buf);
    long long a, b;
    if (!v) {
        return 0;
    }
    switch (c->op) {
    case BLEND_IVR_EQ:
        return strcmp(v, c->value) == 0;
    case BLEND_IVR_NE:
        return strcmp(v, c->value) != 0;
    case BLEND_IVR_PREFIX:
        return strncmp(v, c->value, strlen(c->value)) == 0;
    case BLEND_IVR_LT:
        return as_int(v, &a) && as_int(c->value, &b) && a < b;
    case BLEND_IVR_GT:
        return as_int(v, &a) && as_int(c->value, &b) && a > b;
    }
    return 0;
}

/* ---- Running nodes ------------------------------------------------------------------------ */

static int32_t visit_queue(struct blend_ivr_session *s, const struct blend_ivr_node *n)
{
    struct blend_ivr_effect *e = emit(s, BLEND_IVR_FX_JOIN_QUEUE);
    const char *q = blend_ivr_session_var(s, "queue");
    const char *skills = blend_ivr_session_var(s, "skills");
    const char *prio = blend_ivr_session_var(s, "priority");
    long long p = 0;
    e->queue = n->queue[0] || !q ? n->queue : q;
    e->skills = skills ? skills : "";
    e->value = prio && as_int(prio, &p) && p >= -1000000 && p <= 1000000 ? (int)p : 0;
    e->announce_every_s = n->announce_every_s;
    e->max_wait_s = n->max_wait_s;
    e->callback_key = n->callback_key;
    e->voicemail_key = n->voicemail_key;
    s->phase = PH_QUEUE;
    if (n->max_wait_s > 0) {
        arm(s, n->max_wait_s);
    }
    return WAIT;
}

/* Runs the node just entered; returns the next node to enter, or WAIT. */
static int32_t visit(struct blend_ivr_session *s, const struct blend_ivr_node *n)
{
    struct blend_ivr_effect *e;
    switch (n->type) {
    case BLEND_IVR_PLAY:
        play(s, n->text[0] ? n->text : NULL, n->file[0] ? n->file : NULL, n->is_barge_in);
        return WAIT;
    case BLEND_IVR_MENU:
    case BLEND_IVR_COLLECT:
        s->digits_count = 0;
        play(s, n->text, NULL, 1);
        return WAIT;
    case BLEND_IVR_SURVEY:
        s->question = 0;
        s->is_nps_one = 0;
        if (n->questions_count == 0) {
            return n->next.index;
        }
        play(s, n->questions[0].prompt, NULL, 1);
        return WAIT;
    case BLEND_IVR_BRANCH:
        for (size_t i = 0; i < n->cases_count; i++) {
            if (case_holds(s, &n->cases[i])) {
                return n->cases[i].next.index;
            }
        }
        return n->else_.index;
    case BLEND_IVR_SET:
        for (size_t i = 0; i < n->sets_count; i++) {
            var_set(s, n->sets[i].var, n->sets[i].value);
        }
        return n->next.index;
    case BLEND_IVR_HTTP:
        e = emit(s, BLEND_IVR_FX_HTTP);
        e->text = n->file;
        e->timeout_ms = n->timeout_ms;
        s->phase = PH_HTTP;
        return WAIT;
    case BLEND_IVR_QUEUE:
        return visit_queue(s, n);
    case BLEND_IVR_VOICEMAIL:
        e = emit(s, BLEND_IVR_FX_RECORD_VOICEMAIL);
        e->queue = n->queue;
        e->value = n->max_s;
        s->phase = PH_RECORD;
        return WAIT;
    case BLEND_IVR_TRANSFER:
        emit(s, BLEND_IVR_FX_TRANSFER)->text = n->number;
        finish(s, "transfer", 0);
        return WAIT;
    case BLEND_IVR_HANGUP:
        finish(s, "hangup", 1);
        return WAIT;
    case BLEND_IVR_UNKNOWN:
        break;
    }
    finish(s, "dead-end", 1);
    return WAIT;
}

/* Enters node idx and runs on until a node waits, the session ends or the budget is spent. */
static void run(struct blend_ivr_session *s, int32_t idx)
{
    while (s->phase != PH_ENDED) {
        if (idx < 0 || (size_t)idx >= s->flow->nodes_count) {
            finish(s, "dead-end", 1);
            return;
        }
        if (++s->steps > BLEND_IVR_STEP_BUDGET) {
            finish(s, "step-budget", 1);
            return;
        }
        s->node = idx;
        s->timer_id = 0;
        emit(s, BLEND_IVR_FX_STEP);
        idx = visit(s, cur(s));
        if (idx == WAIT) {
            return;
        }
    }
}

/* ---- Input -------------------------------------------------------------------------------- */

/* A failed menu attempt: back to `alt` (the menu itself when unset) or, past the retries, to
 * `exhausted`. */
static void menu_fail(struct blend_ivr_session *s, const struct blend_ivr_target *alt)
{
    const struct blend_ivr_node *n = cur(s);
    if (++s->attempts[s->node] > n->retries) {
        s->attempts[s->node] = 0;
        run(s, n->exhausted.index);
        return;
    }
    run(s, alt->name[0] ? alt->index : s->node);
}

static int luhn_ok(const char *d, size_t len)
{
    int sum = 0;
    for (size_t i = 0; i < len; i++) {
        int v = d[len - 1 - i] - '0';
        if (i % 2 == 1) {
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static int collected_ok(const struct blend_ivr_node *n, const char *d, size_t len)
{
    if (len < (size_t)n->digits_min || len == 0) {
        return 0;
    }
    if (n->validate == BLEND_IVR_VALIDATE_NONE) {
        return 1;
    }
    if (n->validate == BLEND_IVR_VALIDATE_PATTERN) {
        return n->pattern_re && regexec(n->pattern_re, d, 0, NULL, 0) == 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (d[i] < '0' || d[i] > '9') {
            return 0;
        }
    }
    return n->validate == BLEND_IVR_VALIDATE_DIGITS || luhn_ok(d, len);
}

static void collect_end(struct blend_ivr_session *s)
{
    const struct blend_ivr_node *n = cur(s);
    s->digits[s->digits_count] = '\0';
    if (!collected_ok(n, s->digits, s->digits_count)) {
        run(s, n->invalid.index);
        return;
    }
    var_set(s, n->var, s->digits);
    run(s, n->next.index);
}

static void survey_next(struct blend_ivr_session *s)
{
    const struct blend_ivr_node *n = cur(s);
    s->is_nps_one = 0;
    s->timer_id = 0;
    if (++s->question >= n->questions_count) {
        run(s, n->next.index);
        return;
    }
    play(s, n->questions[s->question].prompt, NULL, 1);
}

static void survey_answer(struct blend_ivr_session *s, int value)
{
    struct blend_ivr_effect *e = emit(s, BLEND_IVR_FX_SURVEY_ANSWER);
    e->text = cur(s)->questions[s->question].id;
    e->value = value;
    survey_next(s);
}

static void survey_digit(struct blend_ivr_session *s, char c)
{
    const struct blend_ivr_question *q = &cur(s)->questions[s->question];
    if (c < '0' || c > '9') {
        return;
    }
    int v = c - '0';
    if (s->is_nps_one) {
        survey_answer(s, v == 0 ? 10 : 1);
        return;
    }
    int lo = q->kind == BLEND_IVR_NPS ? 0 : 1;
    int hi = q->kind == BLEND_IVR_CSAT ? 5 : q->kind == BLEND_IVR_CES ? 7 : 9;
    if (v < lo || v > hi) {
        return;
    }
    if (q->kind == BLEND_IVR_NPS && v == 1) {
        s->is_nps_one = 1;
        s->phase = PH_INPUT;
        arm(s, cur(s)->timeout_s);
        return;
    }
    survey_answer(s, v);
}

static void input(struct blend_ivr_session *s, char c)
{
    const struct blend_ivr_node *n = cur(s);
    emit(s, BLEND_IVR_FX_INPUT)->digit = n->is_masked ? '*' : c;
}

static void on_digit(struct blend_ivr_session *s, char c)
{
    const struct blend_ivr_node *n = cur(s);
    if (n->type == BLEND_IVR_PLAY && s->phase == PH_PROMPT && n->is_barge_in) {
        /* Barge-in: the key skips the prompt and is typed ahead into the next node. */
        run(s, n->next.index);
        n = s->phase == PH_ENDED ? NULL : cur(s);
        if (n && (n->type == BLEND_IVR_MENU || n->type == BLEND_IVR_COLLECT ||
                  n->type == BLEND_IVR_SURVEY)) {
            on_digit(s, c);
        }
        return;
    }
    if (s->phase == PH_QUEUE) {
        if (c && c == n->callback_key) {
            emit(s, BLEND_IVR_FX_CALLBACK)->queue = n->queue;
            finish(s, "callback", 0);
        } else if (c && c == n->voicemail_key && n->overflow.index >= 0) {
            emit(s, BLEND_IVR_FX_LEAVE_QUEUE)->queue = n->queue;
            run(s, n->overflow.index);
        }
        return;
    }
    if (s->phase != PH_PROMPT && s->phase != PH_INPUT) {
        return;
    }
    if (n->type == BLEND_IVR_MENU) {
        input(s, c);
        for (size_t i = 0; i < n->options_count; i++) {
            if (n->options[i].key == c) {
                s->attempts[s->node] = 0;
                run(s, n->options[i].target.index);
                return;
            }
        }
        menu_fail(s, &n->invalid);
    } else if (n->type == BLEND_IVR_COLLECT) {
        input(s, c);
        if (n->terminator && c == n->terminator) {
            collect_end(s);
            return;
        }
        if (s->digits_count < BLEND_IVR_DIGITS_MAX) {
            s->digits[s->digits_count++] = c;
        }
        if (s->digits_count >= (size_t)n->digits_max || s->digits_count >= BLEND_IVR_DIGITS_MAX) {
            collect_end(s);
            return;
        }
        s->phase = PH_INPUT;
        arm(s, n->timeout_s); /* inter-digit timeout */
    } else if (n->type == BLEND_IVR_SURVEY) {
        input(s, c);
        survey_digit(s, c);
    }
}

/* ---- Text (chat) -------------------------------------------------------------------------- */

/* The message without surrounding spaces, into out (cap bytes); 0 when it does not fit. */
static int trimmed(const char *text, char *out, size_t cap)
{
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') {
        text++;
    }
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' ||
                     text[n - 1] == '\r')) {
        n--;
    }
    if (n >= cap) {
        return 0;
    }
    memcpy(out, text, n);
    out[n] = '\0';
    return 1;
}

/* A menu's answer: the option whose key is the message, or whose label it is (ASCII letters
 * compared without case). Anything else is a failed attempt, like a wrong key. */
static void menu_text(struct blend_ivr_session *s, const char *t)
{
    const struct blend_ivr_node *n = cur(s);
    for (size_t i = 0; i < n->options_count; i++) {
        const struct blend_ivr_option *o = &n->options[i];
        if ((t[0] == o->key && t[1] == '\0') ||
            (o->label[0] && same_text_ascii_case(t, o->label))) {
            emit(s, BLEND_IVR_FX_INPUT)->digit = o->key;
            s->attempts[s->node] = 0;
            run(s, o->target.index);
            return;
        }
    }
    emit(s, BLEND_IVR_FX_INPUT)->digit = '?';
    menu_fail(s, &n->invalid);
}

/* A collect's answer: the whole message is the value; `min`/`max` bound its length in bytes and
 * `validate` applies as to keys. */
static void collect_text(struct blend_ivr_session *s, const char *t)
{
    const struct blend_ivr_node *n = cur(s);
    size_t len = strlen(t);
    emit(s, BLEND_IVR_FX_INPUT)->digit = n->is_masked ? '*' : '?';
    if ((n->digits_max > 0 && len > (size_t)n->digits_max) || !collected_ok(n, t, len)) {
        run(s, n->invalid.index);
        return;
    }
    var_set(s, n->var, t);
    run(s, n->next.index);
}

/* A survey's answer on a text channel: the number itself ("10" included). */
static void survey_text(struct blend_ivr_session *s, const char *t)
{
    const struct blend_ivr_question *q = &cur(s)->questions[s->question];
    long long v;
    if (!as_int(t, &v)) {
        return;
    }
    int lo = q->kind == BLEND_IVR_NPS ? 0 : 1;
    int hi = q->kind == BLEND_IVR_CSAT ? 5 : q->kind == BLEND_IVR_CES ? 7 : 10;
    if (v >= lo && v <= hi) {
        emit(s, BLEND_IVR_FX_INPUT)->digit = '?';
        survey_answer(s, (int)v);
    }
}

static void on_text(struct blend_ivr_session *s, const char *text)
{
    BLEND_ASSERT(text);
    const struct blend_ivr_node *n = cur(s);
    char t[BLEND_IVR_VALUE_BYTES];
    if (s->phase != PH_PROMPT && s->phase != PH_INPUT) {
        return; /* nothing asked: a play, a webhook or a queue does not read messages */
    }
    if (!trimmed(text, t, sizeof t)) {
        t[0] = '\0'; /* longer than any value: matches no option, fails every collect */
        if (n->type == BLEND_IVR_COLLECT) {
            emit(s, BLEND_IVR_FX_INPUT)->digit = n->is_masked ? '*' : '?';
            run(s, n->invalid.index);
            return;
        }
    }
    s->timer_id = 0; /* the answer came: a pending timeout is stale */
    if (n->type == BLEND_IVR_MENU) {
        menu_text(s, t);
    } else if (n->type == BLEND_IVR_COLLECT) {
        collect_text(s, t);
    } else if (n->type == BLEND_IVR_SURVEY) {
        survey_text(s, t);
    }
}

/* The customer asked for a person: the flow's queue (the `queue` variable, "" for the host's
 * default) with the flow's priority and skills, and the session ends. */
static void on_to_agent(struct blend_ivr_session *s)
{
    if (s->phase == PH_QUEUE || s->phase == PH_CONNECTED) {
        return; /* already there */
    }
    struct blend_ivr_effect *e = emit(s, BLEND_IVR_FX_JOIN_QUEUE);
    const char *q = blend_ivr_session_var(s, "queue");
    const char *skills = blend_ivr_session_var(s, "skills");
    const char *prio = blend_ivr_session_var(s, "priority");
    long long p = 0;
    e->queue = q ? q : "";
    e->skills = skills ? skills : "";
    e->value = prio && as_int(prio, &p) && p >= -1000000 && p <= 1000000 ? (int)p : 0;
    finish(s, "to-agent", 0);
}

static void on_timer(struct blend_ivr_session *s, uint32_t id)
{
    if (id == 0 || id != s->timer_id) {
        return; /* stale: the node it was armed for is gone */
    }
    s->timer_id = 0;
    const struct blend_ivr_node *n = cur(s);
    if (s->phase == PH_QUEUE) {
        emit(s, BLEND_IVR_FX_LEAVE_QUEUE)->queue = n->queue;
        if (n->overflow.index >= 0) {
            run(s, n->overflow.index);
        } else {
            finish(s, "max-wait", 1);
        }
    } else if (n->type == BLEND_IVR_MENU) {
        menu_fail(s, &n->timeout);
    } else if (n->type == BLEND_IVR_COLLECT) {
        if (s->digits_count > 0 && s->digits_count >= (size_t)n->digits_min) {
            collect_end(s);
        } else {
            run(s, n->timeout.index);
        }
    } else if (n->type == BLEND_IVR_SURVEY) {
        if (s->is_nps_one) {
            survey_answer(s, 1);
        } else {
            survey_next(s); /* no answer to this question */
        }
    }
}

static void on_played(struct blend_ivr_session *s)
{
    const struct blend_ivr_node *n = cur(s);
    if (s->phase != PH_PROMPT) {
        return;
    }
    if (n->type == BLEND_IVR_PLAY) {
        run(s, n->next.index);
    } else {
        s->phase = PH_INPUT;
        arm(s, n->timeout_s);
    }
}

static void on_host(struct blend_ivr_session *s, const struct blend_ivr_event *ev)
{
    const struct blend_ivr_node *n = cur(s);
    if (ev->kind == BLEND_IVR_EV_HTTP_RESULT && s->phase == PH_HTTP) {
        if (!ev->is_ok) {
            run(s, n->failure.index);
            return;
        }
        for (size_t i = 0; i < ev->fields_count; i++) {
            BLEND_ASSERT(ev->fields);
            var_set(s, ev->fields[i].var, ev->fields[i].value);
        }
        run(s, n->next.index);
    } else if (ev->kind == BLEND_IVR_EV_QUEUE && s->phase == PH_QUEUE) {
        if (ev->queue_event == BLEND_IVR_QUEUE_ANSWERED) {
            if (n->after.index >= 0) {
                s->phase = PH_CONNECTED;
                s->timer_id = 0; /* the max wait no longer applies */
            } else {
                finish(s, "answered", 0);
            }
        } else if (ev->queue_event == BLEND_IVR_QUEUE_AGENT_LEFT) {
            /* Not answered yet: nothing to go on from. */
        } else if (n->overflow.index >= 0) {
            run(s, n->overflow.index);
        } else {
            finish(s, "overflow", 1);
        }
    } else if (ev->kind == BLEND_IVR_EV_QUEUE && s->phase == PH_CONNECTED &&
               ev->queue_event == BLEND_IVR_QUEUE_AGENT_LEFT) {
        run(s, n->after.index);
    } else if (ev->kind == BLEND_IVR_EV_RECORDED && s->phase == PH_RECORD) {
        run(s, n->next.index);
    }
}

int blend_ivr_session_step(struct blend_ivr_session *s, const struct blend_ivr_event *ev,
                           struct blend_ivr_effects *fx)
{
    BLEND_ASSERT(s && ev && fx);
    fx->count = 0;
    if (s->phase == PH_ENDED || (s->phase == PH_IDLE) != (ev->kind == BLEND_IVR_EV_START)) {
        return BLEND_ESTATE;
    }
    s->fx = fx;
    s->now_ms = ev->now_ms;
    s->steps = 0;
    if (ev->facts) {
        s->facts = *ev->facts;
    }
    switch (ev->kind) {
    case BLEND_IVR_EV_START:
        run(s, s->flow->start.index);
        break;
    case BLEND_IVR_EV_DIGIT:
        on_digit(s, ev->digit);
        break;
    case BLEND_IVR_EV_TIMER:
        on_timer(s, ev->timer_id);
        break;
    case BLEND_IVR_EV_PLAYED:
        on_played(s);
        break;
    case BLEND_IVR_EV_HTTP_RESULT:
    case BLEND_IVR_EV_QUEUE:
    case BLEND_IVR_EV_RECORDED:
        on_host(s, ev);
        break;
    case BLEND_IVR_EV_TEXT:
        on_text(s, ev->text ? ev->text : "");
        break;
    case BLEND_IVR_EV_TO_AGENT:
        on_to_agent(s);
        break;
    }
    s->fx = NULL;
    BLEND_ASSERT(s->phase != PH_IDLE);
    BLEND_ASSERT(s->steps <= BLEND_IVR_STEP_BUDGET + 1);
    return 0;
}

int blend_ivr_session_is_connected(const struct blend_ivr_session *s)
{
    BLEND_ASSERT(s);
    return s->phase == PH_CONNECTED;
}

int blend_ivr_session_var_set(struct blend_ivr_session *s, const char *name, const char *value)
{
    BLEND_ASSERT(s && name && value);
    size_t nl = strlen(name), vl = strlen(value);
    if (nl == 0 || nl >= BLEND_IVR_NAME_BYTES || vl >= BLEND_IVR_VALUE_BYTES) {
        return BLEND_EINVAL;
    }
    int known = blend_ivr_session_var(s, name) != NULL;
    if (!known && s->vars_count >= BLEND_IVR_VARS_MAX) {
        return BLEND_ELIMIT;
    }
    var_set(s, name, value);
    return 0;
}
