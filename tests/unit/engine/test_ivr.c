/*
 * IVR engine: every node type driven event by event with an injected clock (no wall time), menu
 * retries and timeouts, collect validation and masking, the step budget, language switching,
 * branches on calendar/holiday and other host facts, and the validator naming each node at
 * fault. Flows are built through the C API (the JSON loader has its own tests in model/).
 */
#include "base/alloc.h"
#include "engine/ivr/ivr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static struct blend_ivr_effects fx;

static void tgt(struct blend_ivr_target *t, const char *name)
{
    snprintf(t->name, sizeof t->name, "%s", name);
}

static struct blend_ivr_node *add(struct blend_ivr_flow *f, const char *name,
                                  enum blend_ivr_node_type type)
{
    struct blend_ivr_node *n = NULL;
    assert_int_equal(blend_ivr_flow_add(f, name, type, &n), 0);
    n->timeout_s = 5;
    return n;
}

static struct blend_ivr_flow *new_flow(const char *start)
{
    struct blend_ivr_flow *f = NULL;
    assert_int_equal(blend_ivr_flow_create(&f), 0);
    snprintf(f->language, sizeof f->language, "en");
    tgt(&f->start, start);
    return f;
}

static void add_play(struct blend_ivr_flow *f, const char *name, const char *text, const char *next,
                     int barge_in)
{
    struct blend_ivr_node *n = add(f, name, BLEND_IVR_PLAY);
    snprintf(n->text, sizeof n->text, "%s", text);
    n->is_barge_in = barge_in;
    tgt(&n->next, next);
}

static void add_hangup(struct blend_ivr_flow *f, const char *name)
{
    add(f, name, BLEND_IVR_HANGUP);
}

static void add_set(struct blend_ivr_flow *f, const char *name, const char *var, const char *value,
                    const char *next)
{
    struct blend_ivr_node *n = add(f, name, BLEND_IVR_SET);
    snprintf(n->sets[0].var, sizeof n->sets[0].var, "%s", var);
    snprintf(n->sets[0].value, sizeof n->sets[0].value, "%s", value);
    n->sets_count = 1;
    tgt(&n->next, next);
}

static struct blend_ivr_session *start(struct blend_ivr_flow *f,
                                       const struct blend_ivr_facts *facts)
{
    blend_ivr_flow_link(f);
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .now_ms = 1000, .facts = facts};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    return s;
}

static void send(struct blend_ivr_session *s, enum blend_ivr_event_kind kind, int64_t now_ms)
{
    struct blend_ivr_event ev = {.kind = kind, .now_ms = now_ms};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
}

static void digit(struct blend_ivr_session *s, char c)
{
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_DIGIT, .now_ms = 2000, .digit = c};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
}

static void timer(struct blend_ivr_session *s, uint32_t id, int64_t now_ms)
{
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_TIMER, .now_ms = now_ms, .timer_id = id};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
}

/* The first effect of a kind in the last batch (fails the test when absent). */
static const struct blend_ivr_effect *find(enum blend_ivr_effect_kind kind)
{
    for (size_t i = 0; i < fx.count; i++) {
        if (fx.items[i].kind == kind) {
            return &fx.items[i];
        }
    }
    fail_msg("effect %d not emitted", (int)kind);
    return NULL;
}

static int has(enum blend_ivr_effect_kind kind)
{
    for (size_t i = 0; i < fx.count; i++) {
        if (fx.items[i].kind == kind) {
            return 1;
        }
    }
    return 0;
}

/* The node of the last STEP effect. */
static const char *last_step(void)
{
    const char *name = NULL;
    for (size_t i = 0; i < fx.count; i++) {
        name = fx.items[i].kind == BLEND_IVR_FX_STEP ? fx.items[i].node : name;
    }
    assert_non_null(name);
    return name;
}

static void finish(struct blend_ivr_session *s, struct blend_ivr_flow *f)
{
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
    assert_int_equal(blend_alloc_live(), 0);
}

static void play_then_hangup(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("welcome");
    add_play(f, "welcome", "Welcome to Blend.", "bye", 0);
    add_hangup(f, "bye");
    struct blend_ivr_session *s = start(f, NULL);
    assert_string_equal(find(BLEND_IVR_FX_STEP)->node, "welcome");
    const struct blend_ivr_effect *p = find(BLEND_IVR_FX_PLAY);
    assert_string_equal(p->text, "Welcome to Blend.");
    assert_string_equal(p->language, "en");
    assert_false(p->is_barge_in);
    digit(s, '5'); /* no barge-in: ignored */
    assert_int_equal(fx.count, 0);
    send(s, BLEND_IVR_EV_PLAYED, 3000);
    assert_string_equal(last_step(), "bye");
    assert_true(has(BLEND_IVR_FX_HANGUP));
    assert_string_equal(find(BLEND_IVR_FX_EXIT)->reason, "hangup");
    assert_true(blend_ivr_session_is_ended(s));
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_PLAYED};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), BLEND_ESTATE);
    finish(s, f);
}

static void events_before_start_are_refused(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("bye");
    add_hangup(f, "bye");
    blend_ivr_flow_link(f);
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_DIGIT, .digit = '1'};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), BLEND_ESTATE);
    assert_null(blend_ivr_session_exit_reason(s));
    finish(s, f);
}

/* lang: 1 -> one, 2 -> two; invalid and timeout back to the menu; 2 retries then agent. */
static struct blend_ivr_flow *menu_flow(void)
{
    struct blend_ivr_flow *f = new_flow("lang");
    struct blend_ivr_node *m = add(f, "lang", BLEND_IVR_MENU);
    snprintf(m->text, sizeof m->text, "For English press 1.");
    m->options[0].key = '1';
    tgt(&m->options[0].target, "one");
    m->options[1].key = '2';
    tgt(&m->options[1].target, "two");
    m->options_count = 2;
    m->retries = 2;
    tgt(&m->exhausted, "agent");
    add_play(f, "one", "one", "bye", 0);
    add_play(f, "two", "two", "bye", 0);
    add_play(f, "agent", "agent", "bye", 0);
    add_hangup(f, "bye");
    return f;
}

static void menu_option(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = menu_flow();
    struct blend_ivr_session *s = start(f, NULL);
    assert_true(find(BLEND_IVR_FX_PLAY)->is_barge_in);
    send(s, BLEND_IVR_EV_PLAYED, 4000);
    const struct blend_ivr_effect *t = find(BLEND_IVR_FX_ARM_TIMER);
    assert_int_equal(t->due_ms, 4000 + 5000);
    digit(s, '2');
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '2');
    assert_string_equal(last_step(), "two");
    finish(s, f);
}

static void menu_invalid_and_timeout_exhaust_retries(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = menu_flow();
    struct blend_ivr_session *s = start(f, NULL);
    digit(s, '9'); /* invalid during the prompt: attempt 1, the menu again */
    assert_string_equal(last_step(), "lang");
    assert_true(has(BLEND_IVR_FX_PLAY));
    send(s, BLEND_IVR_EV_PLAYED, 5000);
    uint32_t first = find(BLEND_IVR_FX_ARM_TIMER)->timer_id;
    timer(s, first, 10000); /* attempt 2 */
    assert_string_equal(last_step(), "lang");
    timer(s, first, 10001); /* stale: ignored */
    assert_int_equal(fx.count, 0);
    send(s, BLEND_IVR_EV_PLAYED, 11000);
    uint32_t second = find(BLEND_IVR_FX_ARM_TIMER)->timer_id;
    assert_int_not_equal(first, second);
    timer(s, second, 16000); /* attempt 3 > 2 retries */
    assert_string_equal(last_step(), "agent");
    finish(s, f);
}

static struct blend_ivr_flow *collect_flow(enum blend_ivr_validate_kind v, int masked)
{
    struct blend_ivr_flow *f = new_flow("acct");
    struct blend_ivr_node *n = add(f, "acct", BLEND_IVR_COLLECT);
    snprintf(n->text, sizeof n->text, "Enter your account number");
    snprintf(n->var, sizeof n->var, "account");
    n->digits_min = 4;
    n->digits_max = 6;
    n->terminator = '#';
    n->validate = v;
    n->is_masked = masked;
    n->timeout_s = 8;
    tgt(&n->next, "ok");
    tgt(&n->invalid, "bad");
    tgt(&n->timeout, "slow");
    add_play(f, "ok", "ok", "bye", 0);
    add_play(f, "bad", "bad", "bye", 0);
    add_play(f, "slow", "slow", "bye", 0);
    add_hangup(f, "bye");
    return f;
}

static void type(struct blend_ivr_session *s, const char *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        digit(s, keys[i]);
    }
}

static void collect_luhn_masked(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = collect_flow(BLEND_IVR_VALIDATE_LUHN, 1);
    struct blend_ivr_session *s = start(f, NULL);
    send(s, BLEND_IVR_EV_PLAYED, 2000);
    digit(s, '7');
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '*');
    assert_int_equal(find(BLEND_IVR_FX_ARM_TIMER)->due_ms, 2000 + 8000); /* inter-digit */
    type(s, "99273"); /* the sixth digit ends input: 799273 fails the Luhn check */
    assert_string_equal(last_step(), "bad");
    assert_null(blend_ivr_session_var(s, "account"));
    finish(s, f);

    f = collect_flow(BLEND_IVR_VALIDATE_LUHN, 0);
    s = start(f, NULL);
    type(s, "4242#"); /* 4242: 2+8+2+8 = 20, valid */
    assert_string_equal(last_step(), "ok");
    assert_string_equal(blend_ivr_session_var(s, "account"), "4242");
    finish(s, f);
}

static void collect_digits_min_max_timeout(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = collect_flow(BLEND_IVR_VALIDATE_DIGITS, 0);
    struct blend_ivr_session *s = start(f, NULL);
    type(s, "12#"); /* below min */
    assert_string_equal(last_step(), "bad");
    finish(s, f);

    f = collect_flow(BLEND_IVR_VALIDATE_DIGITS, 0);
    s = start(f, NULL);
    type(s, "123456"); /* max reached ends input */
    assert_string_equal(last_step(), "ok");
    assert_string_equal(blend_ivr_session_var(s, "account"), "123456");
    finish(s, f);

    f = collect_flow(BLEND_IVR_VALIDATE_DIGITS, 0);
    s = start(f, NULL);
    type(s, "12*4");
    uint32_t id = find(BLEND_IVR_FX_ARM_TIMER)->timer_id;
    timer(s, id, 20000); /* enough digits, but '*' is not a digit */
    assert_string_equal(last_step(), "bad");
    finish(s, f);

    f = collect_flow(BLEND_IVR_VALIDATE_DIGITS, 0);
    s = start(f, NULL);
    send(s, BLEND_IVR_EV_PLAYED, 3000);
    timer(s, find(BLEND_IVR_FX_ARM_TIMER)->timer_id, 11000); /* nothing typed */
    assert_string_equal(last_step(), "slow");
    finish(s, f);
}

static struct blend_ivr_flow *branch_flow(void)
{
    struct blend_ivr_flow *f = new_flow("check");
    struct blend_ivr_node *n = add(f, "check", BLEND_IVR_BRANCH);
    n->cases[0].calendar = BLEND_IVR_CAL_HOLIDAY;
    tgt(&n->cases[0].next, "holiday");
    snprintf(n->cases[1].var, sizeof n->cases[1].var, "caller");
    n->cases[1].op = BLEND_IVR_PREFIX;
    snprintf(n->cases[1].value, sizeof n->cases[1].value, "+8210");
    tgt(&n->cases[1].next, "mobile");
    snprintf(n->cases[2].var, sizeof n->cases[2].var, "ewt_s");
    n->cases[2].op = BLEND_IVR_GT;
    snprintf(n->cases[2].value, sizeof n->cases[2].value, "300");
    tgt(&n->cases[2].next, "busy");
    n->cases[3].calendar = BLEND_IVR_CAL_OPEN;
    tgt(&n->cases[3].next, "open");
    n->cases_count = 4;
    tgt(&n->else_, "closed");
    const char *ends[] = {"holiday", "mobile", "busy", "open", "closed"};
    for (size_t i = 0; i < 5; i++) {
        add_play(f, ends[i], ends[i], "bye", 0);
    }
    add_hangup(f, "bye");
    return f;
}

static void branch_on_facts(void **state)
{
    (void)state;
    struct {
        enum blend_ivr_calendar cal;
        const char *caller;
        int ewt_s;
        const char *expect;
    } rows[] = {
        {BLEND_IVR_CAL_HOLIDAY, "+821055", 0, "holiday"},
        {BLEND_IVR_CAL_OPEN, "+821055", 0, "mobile"},
        {BLEND_IVR_CAL_OPEN, "+8225550", 301, "busy"},
        {BLEND_IVR_CAL_OPEN, "+8225550", 300, "open"},
        {BLEND_IVR_CAL_CLOSED, "+8225550", 0, "closed"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct blend_ivr_facts facts = {.calendar = rows[i].cal, .ewt_s = rows[i].ewt_s};
        snprintf(facts.caller, sizeof facts.caller, "%s", rows[i].caller);
        struct blend_ivr_flow *f = branch_flow();
        struct blend_ivr_session *s = start(f, &facts);
        assert_string_equal(last_step(), rows[i].expect);
        finish(s, f);
    }
}

static void set_language_switches_prompts(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("ko-set");
    add_set(f, "ko-set", "language", "ko", "hello");
    add_play(f, "hello", "안녕하세요", "bye", 0);
    add_hangup(f, "bye");
    struct blend_ivr_session *s = start(f, NULL);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->language, "ko");
    assert_string_equal(blend_ivr_session_var(s, "language"), "ko");
    finish(s, f);
}

static struct blend_ivr_flow *http_flow(void)
{
    struct blend_ivr_flow *f = new_flow("lookup");
    struct blend_ivr_node *n = add(f, "lookup", BLEND_IVR_HTTP);
    snprintf(n->file, sizeof n->file, "https://crm.example/balance");
    n->timeout_ms = 2000;
    tgt(&n->next, "say");
    tgt(&n->failure, "sorry");
    add_play(f, "say", "balance", "bye", 0);
    add_play(f, "sorry", "sorry", "bye", 0);
    add_hangup(f, "bye");
    return f;
}

static void http_answer_and_failure(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = http_flow();
    struct blend_ivr_session *s = start(f, NULL);
    const struct blend_ivr_effect *h = find(BLEND_IVR_FX_HTTP);
    assert_string_equal(h->text, "https://crm.example/balance");
    assert_int_equal(h->timeout_ms, 2000);
    digit(s, '1'); /* ignored while waiting for the host */
    assert_int_equal(fx.count, 0);
    struct blend_ivr_assign fields[] = {{"balance", "1200"}};
    struct blend_ivr_event ev = {
        .kind = BLEND_IVR_EV_HTTP_RESULT, .is_ok = 1, .fields = fields, .fields_count = 1};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    assert_string_equal(last_step(), "say");
    assert_string_equal(blend_ivr_session_var(s, "balance"), "1200");
    finish(s, f);

    f = http_flow();
    s = start(f, NULL);
    struct blend_ivr_event bad = {.kind = BLEND_IVR_EV_HTTP_RESULT, .is_ok = 0};
    assert_int_equal(blend_ivr_session_step(s, &bad, &fx), 0);
    assert_string_equal(last_step(), "sorry");
    finish(s, f);
}

static struct blend_ivr_flow *queue_flow(void)
{
    struct blend_ivr_flow *f = new_flow("prio");
    add_set(f, "prio", "priority", "7", "agent");
    struct blend_ivr_node *n = add(f, "agent", BLEND_IVR_QUEUE);
    snprintf(n->queue, sizeof n->queue, "billing");
    n->announce_every_s = 30;
    n->callback_key = '1';
    n->voicemail_key = '2';
    n->max_wait_s = 600;
    tgt(&n->overflow, "vm");
    n = add(f, "vm", BLEND_IVR_VOICEMAIL);
    snprintf(n->queue, sizeof n->queue, "billing");
    n->max_s = 120;
    tgt(&n->next, "bye");
    add_hangup(f, "bye");
    return f;
}

static void queue_join_callback_voicemail_maxwait(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = queue_flow();
    struct blend_ivr_session *s = start(f, NULL);
    const struct blend_ivr_effect *j = find(BLEND_IVR_FX_JOIN_QUEUE);
    assert_string_equal(j->queue, "billing");
    assert_int_equal(j->value, 7);
    assert_int_equal(j->announce_every_s, 30);
    assert_int_equal(j->callback_key, '1');
    assert_int_equal(find(BLEND_IVR_FX_ARM_TIMER)->due_ms, 1000 + 600000);
    digit(s, '1');
    assert_string_equal(find(BLEND_IVR_FX_CALLBACK)->queue, "billing");
    assert_string_equal(blend_ivr_session_exit_reason(s), "callback");
    finish(s, f);

    f = queue_flow();
    s = start(f, NULL);
    digit(s, '2');
    assert_true(has(BLEND_IVR_FX_LEAVE_QUEUE));
    const struct blend_ivr_effect *v = find(BLEND_IVR_FX_RECORD_VOICEMAIL);
    assert_int_equal(v->value, 120);
    send(s, BLEND_IVR_EV_RECORDED, 90000);
    assert_string_equal(blend_ivr_session_exit_reason(s), "hangup");
    finish(s, f);

    f = queue_flow();
    s = start(f, NULL);
    timer(s, find(BLEND_IVR_FX_ARM_TIMER)->timer_id, 601000);
    assert_true(has(BLEND_IVR_FX_LEAVE_QUEUE));
    assert_string_equal(last_step(), "vm");
    finish(s, f);

    f = queue_flow();
    s = start(f, NULL);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_QUEUE,
                                 .queue_event = BLEND_IVR_QUEUE_ANSWERED};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    assert_string_equal(blend_ivr_session_exit_reason(s), "answered");
    assert_false(has(BLEND_IVR_FX_HANGUP));
    finish(s, f);
}

/* A queue node with `after`: the session waits through the conversation and goes on when the
 * agent hangs up first (a post-call survey); the max-wait timer no longer applies. */
static void queue_after_runs_when_agent_leaves(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("agent");
    struct blend_ivr_node *n = add(f, "agent", BLEND_IVR_QUEUE);
    snprintf(n->queue, sizeof n->queue, "billing");
    n->max_wait_s = 60;
    tgt(&n->after, "thanks");
    add_play(f, "thanks", "Thank you", "bye", 0);
    add_hangup(f, "bye");
    blend_ivr_flow_link(f);
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), 0);
    struct blend_ivr_session *s = start(f, NULL);
    uint32_t wait_timer = find(BLEND_IVR_FX_ARM_TIMER)->timer_id;
    struct blend_ivr_event left = {
        .kind = BLEND_IVR_EV_QUEUE, .now_ms = 2000, .queue_event = BLEND_IVR_QUEUE_AGENT_LEFT};
    assert_int_equal(blend_ivr_session_step(s, &left, &fx), 0);
    assert_int_equal(fx.count, 0); /* not answered yet: ignored */
    struct blend_ivr_event ans = {
        .kind = BLEND_IVR_EV_QUEUE, .now_ms = 3000, .queue_event = BLEND_IVR_QUEUE_ANSWERED};
    assert_int_equal(blend_ivr_session_step(s, &ans, &fx), 0);
    assert_false(blend_ivr_session_is_ended(s));
    assert_true(blend_ivr_session_is_connected(s));
    timer(s, wait_timer, 61000 + 3000);
    assert_int_equal(fx.count, 0); /* the wait timer is stale once connected */
    digit(s, '5');
    assert_int_equal(fx.count, 0);
    left.now_ms = 120000;
    assert_int_equal(blend_ivr_session_step(s, &left, &fx), 0);
    assert_false(blend_ivr_session_is_connected(s));
    assert_string_equal(last_step(), "thanks");
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->text, "Thank you");
    send(s, BLEND_IVR_EV_PLAYED, 121000);
    assert_string_equal(blend_ivr_session_exit_reason(s), "hangup");
    finish(s, f);
}

/* A play or menu node may name its text's language; the session's language stays. */
static void node_language_overrides_for_its_text(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("ko-hello");
    add_play(f, "ko-hello", "안녕하세요", "en-hello", 0);
    snprintf(f->nodes[0].language, sizeof f->nodes[0].language, "ko");
    add_play(f, "en-hello", "Hello", "bye", 0);
    add_hangup(f, "bye");
    snprintf(f->language, sizeof f->language, "en");
    struct blend_ivr_session *s = start(f, NULL);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->language, "ko");
    send(s, BLEND_IVR_EV_PLAYED, 2000);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->language, "en");
    assert_null(blend_ivr_session_var(s, "language"));
    finish(s, f);
}

/* Announcements: rounding, never growing for the same caller, the three languages. */
static void announcements_round_and_never_grow(void **state)
{
    (void)state;
    assert_int_equal(blend_ivr_wait_minutes(0, -1), 0);
    assert_int_equal(blend_ivr_wait_minutes(60000, -1), 0);
    assert_int_equal(blend_ivr_wait_minutes(60001, -1), 2);
    assert_int_equal(blend_ivr_wait_minutes(9 * 60000 + 1, -1), 10);
    assert_int_equal(blend_ivr_wait_minutes(10 * 60000 + 1, -1), 15);
    assert_int_equal(blend_ivr_wait_minutes(23 * 60000, -1), 25);
    assert_int_equal(blend_ivr_wait_minutes(23 * 60000, 10), 10); /* never grows */
    assert_int_equal(blend_ivr_wait_minutes(3 * 60000, 10), 3);   /* may shrink */
    assert_int_equal(blend_ivr_wait_minutes(INT64_MAX / 2, -1), 24 * 60);
    char t[256];
    assert_int_equal(blend_ivr_announce_text("en", 3, 5, t, sizeof t), 0);
    assert_string_equal(t, "You are number 3 in line. Your expected wait is about 5 minutes.");
    assert_int_equal(blend_ivr_announce_text("en-GB", 1, 1, t, sizeof t), 0);
    assert_string_equal(t, "You are number 1 in line. Your expected wait is about 1 minute.");
    assert_int_equal(blend_ivr_announce_text("en", 2, 0, t, sizeof t), 0);
    assert_non_null(strstr(t, "less than a minute"));
    assert_int_equal(blend_ivr_announce_text("ko", 4, 3, t, sizeof t), 0);
    assert_non_null(strstr(t, "4번"));
    assert_non_null(strstr(t, "3분"));
    assert_int_equal(blend_ivr_announce_text("yue", 2, 7, t, sizeof t), 0);
    assert_non_null(strstr(t, "第2位"));
    assert_int_equal(blend_ivr_announce_text("en", 0, 1, t, sizeof t), BLEND_EINVAL);
    struct blend_ivr_announcement a;
    assert_int_equal(blend_ivr_announce("en", 12, 25, &a), 0);
    assert_int_equal(a.count, 5); /* the numbers stand alone: one render each, ever */
    assert_string_equal(a.parts[1], "12");
    assert_string_equal(a.parts[3], "25");
    assert_int_equal(blend_ivr_announce("ko", 2, 0, &a), 0);
    assert_int_equal(a.count, 3);
    assert_string_equal(a.parts[1], "2");
    assert_int_equal(blend_ivr_announce("zh", 1, -1, &a), BLEND_EINVAL);
    assert_int_equal(blend_ivr_announce_text("en", 1, 1, t, 10), BLEND_ELIMIT);
    assert_int_equal(blend_ivr_lang_of("zh-CN"), BLEND_IVR_LANG_ZH);
    assert_int_equal(blend_ivr_lang_of("fr"), BLEND_IVR_LANG_EN);
    assert_non_null(strstr(blend_ivr_callback_text("ko"), "전화"));
    assert_non_null(strstr(blend_ivr_callback_text(NULL), "call you back"));
}

/* The host sets what it knows before the first node; contact.* variables are the host's and
 * never a validation error. */
static void host_variables_and_contact_facts(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("vip");
    struct blend_ivr_node *n = add(f, "vip", BLEND_IVR_BRANCH);
    snprintf(n->cases[0].var, sizeof n->cases[0].var, "contact.tier");
    snprintf(n->cases[0].value, sizeof n->cases[0].value, "gold");
    n->cases[0].op = BLEND_IVR_EQ;
    tgt(&n->cases[0].next, "gold");
    n->cases_count = 1;
    tgt(&n->else_, "bye");
    add_play(f, "gold", "Welcome back", "bye", 0);
    add_hangup(f, "bye");
    blend_ivr_flow_link(f);
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), 0);
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    assert_int_equal(blend_ivr_session_var_set(s, "contact.tier", "gold"), 0);
    assert_int_equal(blend_ivr_session_var_set(s, "", "x"), BLEND_EINVAL);
    char big[BLEND_IVR_VALUE_BYTES + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(blend_ivr_session_var_set(s, "contact.x", big), BLEND_EINVAL);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .now_ms = 1000};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->text, "Welcome back");
    for (int i = 0; i < BLEND_IVR_VARS_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        int rc = blend_ivr_session_var_set(s, name, "1");
        assert_true(rc == 0 || rc == BLEND_ELIMIT);
    }
    assert_int_equal(blend_ivr_session_var_set(s, "one-too-many", "1"), BLEND_ELIMIT);
    assert_int_equal(blend_ivr_session_var_set(s, "contact.tier", "silver"), 0); /* existing */
    finish(s, f);
}

/* A collect pattern is a POSIX extended expression matched against the whole input; one that
 * does not compile is a validation error naming the node. */
static void collect_pattern_matches_whole_input(void **state)
{
    (void)state;
    const char *cases[][2] = {{"2345#", "bad"}, {"12345#", "ok"}, {"123456#", "bad"}};
    for (size_t i = 0; i < 3; i++) {
        struct blend_ivr_flow *f = collect_flow(BLEND_IVR_VALIDATE_PATTERN, 0);
        f->nodes[0].digits_max = 7;
        snprintf(f->nodes[0].pattern, sizeof f->nodes[0].pattern, "1[0-9]{3,4}");
        blend_ivr_flow_link(f);
        struct blend_ivr_errors errs;
        assert_int_equal(blend_ivr_validate(f, &errs), 0);
        struct blend_ivr_session *s = start(f, NULL);
        send(s, BLEND_IVR_EV_PLAYED, 2000);
        type(s, cases[i][0]);
        assert_string_equal(last_step(), cases[i][1]);
        finish(s, f);
    }
    struct blend_ivr_flow *f = collect_flow(BLEND_IVR_VALIDATE_PATTERN, 0);
    snprintf(f->nodes[0].pattern, sizeof f->nodes[0].pattern, "([0-9]");
    blend_ivr_flow_link(f);
    blend_ivr_flow_link(f); /* linking again recompiles without leaking */
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), BLEND_EINVAL);
    assert_string_equal(errs.items[0].node, "acct");
    assert_non_null(strstr(errs.items[0].message, "pattern"));
    blend_ivr_flow_destroy(f);
    assert_int_equal(blend_alloc_live(), 0);
}

static void transfer_ends_session(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("xfer");
    struct blend_ivr_node *n = add(f, "xfer", BLEND_IVR_TRANSFER);
    snprintf(n->number, sizeof n->number, "+8225550199");
    struct blend_ivr_session *s = start(f, NULL);
    assert_string_equal(find(BLEND_IVR_FX_TRANSFER)->text, "+8225550199");
    assert_string_equal(blend_ivr_session_exit_reason(s), "transfer");
    finish(s, f);
}

static struct blend_ivr_flow *survey_flow(void)
{
    struct blend_ivr_flow *f = new_flow("survey");
    struct blend_ivr_node *n = add(f, "survey", BLEND_IVR_SURVEY);
    const char *ids[] = {"csat", "nps", "ces"};
    for (int i = 0; i < 3; i++) {
        snprintf(n->questions[i].id, sizeof n->questions[i].id, "%s", ids[i]);
        snprintf(n->questions[i].prompt, sizeof n->questions[i].prompt, "Rate %s", ids[i]);
        n->questions[i].kind = (enum blend_ivr_survey_kind)(i + 1);
    }
    n->questions_count = 3;
    tgt(&n->next, "bye");
    add_hangup(f, "bye");
    return f;
}

static void survey_scales(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = survey_flow();
    struct blend_ivr_session *s = start(f, NULL);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->text, "Rate csat");
    digit(s, '6'); /* out of CSAT's 1-5: ignored */
    assert_false(has(BLEND_IVR_FX_SURVEY_ANSWER));
    digit(s, '5');
    assert_string_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->text, "csat");
    assert_int_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->value, 5);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->text, "Rate nps");
    digit(s, '1');
    assert_false(has(BLEND_IVR_FX_SURVEY_ANSWER)); /* maybe "10" */
    digit(s, '0');
    assert_int_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->value, 10);
    digit(s, '8'); /* CES 1-7 */
    assert_false(has(BLEND_IVR_FX_SURVEY_ANSWER));
    digit(s, '7');
    assert_int_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->value, 7);
    assert_string_equal(blend_ivr_session_exit_reason(s), "hangup");
    finish(s, f);

    f = survey_flow();
    s = start(f, NULL);
    digit(s, '3');
    digit(s, '1'); /* NPS "1", then the timer: a 1 */
    timer(s, find(BLEND_IVR_FX_ARM_TIMER)->timer_id, 9000);
    assert_string_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->text, "nps");
    assert_int_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->value, 1);
    send(s, BLEND_IVR_EV_PLAYED, 9500); /* CES prompt ends; no answer by the timer: skipped */
    timer(s, find(BLEND_IVR_FX_ARM_TIMER)->timer_id, 15000);
    assert_false(has(BLEND_IVR_FX_SURVEY_ANSWER));
    assert_string_equal(blend_ivr_session_exit_reason(s), "hangup");
    finish(s, f);
}

static void barge_in_types_ahead(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = menu_flow();
    struct blend_ivr_node *n = NULL;
    /* A welcome that can be interrupted, in front of the menu. */
    assert_int_equal(blend_ivr_flow_add(f, "welcome", BLEND_IVR_PLAY, &n), 0);
    snprintf(n->text, sizeof n->text, "Welcome");
    n->is_barge_in = 1;
    tgt(&n->next, "lang");
    tgt(&f->start, "welcome");
    struct blend_ivr_session *s = start(f, NULL);
    digit(s, '1');
    assert_string_equal(last_step(), "one");
    finish(s, f);
}

static void step_budget_stops_loops(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("a");
    add_set(f, "a", "x", "1", "b");
    struct blend_ivr_node *b = add(f, "b", BLEND_IVR_BRANCH);
    tgt(&b->else_, "a");
    blend_ivr_flow_link(f);
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), BLEND_EINVAL);
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.items[0].node, "a");
    assert_non_null(strstr(errs.items[0].message, "loop without input"));
    assert_string_equal(errs.items[1].node, "b");
    struct blend_ivr_session *s = start(f, NULL);
    const struct blend_ivr_effect *e = find(BLEND_IVR_FX_EXIT);
    assert_string_equal(e->reason, "step-budget");
    size_t steps = 0;
    for (size_t i = 0; i < fx.count; i++) {
        steps += fx.items[i].kind == BLEND_IVR_FX_STEP;
    }
    assert_int_equal(steps, BLEND_IVR_STEP_BUDGET);
    assert_true(has(BLEND_IVR_FX_HANGUP));
    finish(s, f);
}

static int has_error(const struct blend_ivr_errors *errs, const char *node, const char *text)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].node, node) == 0 && strstr(errs->items[i].message, text)) {
            return 1;
        }
    }
    return 0;
}

static void validator_names_nodes(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = new_flow("welcome");
    add_play(f, "welcome", "hi", "check", 0);
    struct blend_ivr_node *n = add(f, "check", BLEND_IVR_BRANCH);
    snprintf(n->cases[0].var, sizeof n->cases[0].var, "account");
    snprintf(n->cases[0].value, sizeof n->cases[0].value, "1");
    tgt(&n->cases[0].next, "vip");
    snprintf(n->cases[1].var, sizeof n->cases[1].var, "caller");
    tgt(&n->cases[1].next, "nowhere");
    n->cases_count = 2;
    /* no else */
    add_hangup(f, "vip");
    n = add(f, "odd", BLEND_IVR_UNKNOWN);
    snprintf(n->type_name, sizeof n->type_name, "dance");
    add_play(f, "orphan", "never", "vip", 0);
    blend_ivr_flow_link(f);
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), BLEND_EINVAL);
    assert_true(has_error(&errs, "check", "variable 'account' is read before"));
    assert_true(has_error(&errs, "check", "unknown node 'nowhere'"));
    assert_true(has_error(&errs, "check", "needs 'else'"));
    assert_true(has_error(&errs, "odd", "unknown node type 'dance'"));
    assert_true(has_error(&errs, "odd", "unreachable"));
    assert_true(has_error(&errs, "orphan", "unreachable"));
    assert_false(has_error(&errs, "check", "'caller'")); /* host-provided */
    assert_int_equal(errs.count, 6);
    blend_ivr_flow_destroy(f);

    f = new_flow("");
    add_hangup(f, "bye");
    blend_ivr_flow_link(f);
    assert_int_equal(blend_ivr_validate(f, &errs), BLEND_EINVAL);
    assert_true(has_error(&errs, "", "needs 'start'"));
    blend_ivr_flow_destroy(f);
    assert_int_equal(blend_alloc_live(), 0);
}

static void validator_accepts_a_good_flow(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = collect_flow(BLEND_IVR_VALIDATE_DIGITS, 0);
    struct blend_ivr_node *n = NULL;
    /* A branch reading what the collect set, reached only through it. */
    assert_int_equal(blend_ivr_flow_add(f, "check", BLEND_IVR_BRANCH, &n), 0);
    snprintf(n->cases[0].var, sizeof n->cases[0].var, "account");
    tgt(&n->cases[0].next, "bye");
    n->cases_count = 1;
    tgt(&n->else_, "bye");
    tgt(&f->nodes[blend_ivr_flow_find(f, "ok")].next, "check");
    blend_ivr_flow_link(f);
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), 0);
    assert_int_equal(errs.count, 0);
    /* A menu loop through itself waits for input: not a loop error. */
    blend_ivr_flow_destroy(f);
    f = menu_flow();
    blend_ivr_flow_link(f);
    assert_int_equal(blend_ivr_validate(f, &errs), 0);
    blend_ivr_flow_destroy(f);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(play_then_hangup),
        cmocka_unit_test(events_before_start_are_refused),
        cmocka_unit_test(menu_option),
        cmocka_unit_test(menu_invalid_and_timeout_exhaust_retries),
        cmocka_unit_test(collect_luhn_masked),
        cmocka_unit_test(collect_digits_min_max_timeout),
        cmocka_unit_test(branch_on_facts),
        cmocka_unit_test(set_language_switches_prompts),
        cmocka_unit_test(http_answer_and_failure),
        cmocka_unit_test(queue_join_callback_voicemail_maxwait),
        cmocka_unit_test(transfer_ends_session),
        cmocka_unit_test(survey_scales),
        cmocka_unit_test(barge_in_types_ahead),
        cmocka_unit_test(queue_after_runs_when_agent_leaves),
        cmocka_unit_test(node_language_overrides_for_its_text),
        cmocka_unit_test(announcements_round_and_never_grow),
        cmocka_unit_test(collect_pattern_matches_whole_input),
        cmocka_unit_test(host_variables_and_contact_facts),
        cmocka_unit_test(step_budget_stops_loops),
        cmocka_unit_test(validator_names_nodes),
        cmocka_unit_test(validator_accepts_a_good_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
