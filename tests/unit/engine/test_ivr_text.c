/*
 * IVR engine on text channels (chat): a menu answered by its key or its label (any case), a
 * wrong answer counted as a failed attempt, a collect taking the whole message with the same
 * validation (min/max as a length, luhn, pattern, masking), a survey answered by the number,
 * and TO_AGENT leaving the flow for the queue from any node. Deterministic: the clock is the
 * events' now_ms, flows are built through the C API.
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

/* welcome (play) -> menu {1 "Billing" -> acct, 2 "Sales" -> sales-q, retries 1, exhausted
 * agent}; acct (collect, luhn, masked, 6..10) -> agent; agent/sales-q: queue; bye: hangup. */
static struct blend_ivr_flow *chat_flow(void)
{
    struct blend_ivr_flow *f = NULL;
    assert_int_equal(blend_ivr_flow_create(&f), 0);
    snprintf(f->language, sizeof f->language, "en");
    tgt(&f->start, "welcome");
    struct blend_ivr_node *n = add(f, "welcome", BLEND_IVR_PLAY);
    snprintf(n->text, sizeof n->text, "Hello!");
    tgt(&n->next, "menu");
    n = add(f, "menu", BLEND_IVR_MENU);
    snprintf(n->text, sizeof n->text, "Billing or sales?");
    n->retries = 1;
    n->options[0].key = '1';
    snprintf(n->options[0].label, sizeof n->options[0].label, "Billing");
    tgt(&n->options[0].target, "acct");
    n->options[1].key = '2';
    snprintf(n->options[1].label, sizeof n->options[1].label, "Sales");
    tgt(&n->options[1].target, "sales-q");
    n->options_count = 2;
    tgt(&n->exhausted, "agent");
    n = add(f, "acct", BLEND_IVR_COLLECT);
    snprintf(n->text, sizeof n->text, "Your account number?");
    snprintf(n->var, sizeof n->var, "account");
    n->digits_min = 6;
    n->digits_max = 10;
    n->validate = BLEND_IVR_VALIDATE_LUHN;
    n->is_masked = 1;
    tgt(&n->next, "agent");
    tgt(&n->invalid, "acct");
    tgt(&n->timeout, "agent");
    n = add(f, "agent", BLEND_IVR_QUEUE);
    snprintf(n->queue, sizeof n->queue, "billing");
    n = add(f, "sales-q", BLEND_IVR_QUEUE);
    snprintf(n->queue, sizeof n->queue, "sales");
    blend_ivr_flow_link(f);
    struct blend_ivr_errors errs;
    assert_int_equal(blend_ivr_validate(f, &errs), 0);
    return f;
}

static void step(struct blend_ivr_session *s, enum blend_ivr_event_kind kind, const char *text,
                 int64_t now_ms)
{
    struct blend_ivr_event ev = {.kind = kind, .now_ms = now_ms, .text = text};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
}

static const struct blend_ivr_effect *find(enum blend_ivr_effect_kind k)
{
    for (size_t i = 0; i < fx.count; i++) {
        if (fx.items[i].kind == k) {
            return &fx.items[i];
        }
    }
    return NULL;
}

/* Started and the welcome played: the menu's prompt is out and the session waits. */
static struct blend_ivr_session *at_menu(const struct blend_ivr_flow *f)
{
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    step(s, BLEND_IVR_EV_START, NULL, 1000);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->text, "Hello!");
    step(s, BLEND_IVR_EV_PLAYED, NULL, 1000);
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->text, "Billing or sales?");
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->node, "menu");
    return s;
}

static void menu_by_label_any_case(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = chat_flow();
    struct blend_ivr_session *s = at_menu(f);
    step(s, BLEND_IVR_EV_TEXT, "  sALes \n", 2000); /* during the prompt: barge-in like a key */
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '2');
    const struct blend_ivr_effect *j = find(BLEND_IVR_FX_JOIN_QUEUE);
    assert_non_null(j);
    assert_string_equal(j->queue, "sales");
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
}

static void menu_by_key_and_wrong_answers(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = chat_flow();
    struct blend_ivr_session *s = at_menu(f);
    step(s, BLEND_IVR_EV_PLAYED, NULL, 1500); /* waiting for the answer */
    step(s, BLEND_IVR_EV_TEXT, "what?", 2000);
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '?');
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->node, "menu"); /* asked again */
    step(s, BLEND_IVR_EV_TEXT, "1", 3000);
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '1');
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->node, "acct");
    blend_ivr_session_destroy(s);
    /* Past the retries: exhausted. */
    s = at_menu(f);
    step(s, BLEND_IVR_EV_TEXT, "Billingz", 2000);
    step(s, BLEND_IVR_EV_TEXT, "", 2000);
    assert_string_equal(find(BLEND_IVR_FX_JOIN_QUEUE)->queue, "billing");
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
}

static void collect_takes_the_message(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = chat_flow();
    struct blend_ivr_session *s = at_menu(f);
    step(s, BLEND_IVR_EV_TEXT, "billing", 2000);
    step(s, BLEND_IVR_EV_PLAYED, NULL, 2100);
    step(s, BLEND_IVR_EV_TEXT, "123456", 3000); /* fails luhn: asked again */
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '*');
    assert_string_equal(find(BLEND_IVR_FX_PLAY)->node, "acct");
    assert_null(blend_ivr_session_var(s, "account"));
    step(s, BLEND_IVR_EV_TEXT, "12345678903", 3500); /* 11 bytes: over max */
    assert_null(blend_ivr_session_var(s, "account"));
    step(s, BLEND_IVR_EV_TEXT, "12-34", 3600); /* not digits */
    assert_null(blend_ivr_session_var(s, "account"));
    step(s, BLEND_IVR_EV_TEXT, " 123455 ", 4000); /* luhn-valid, spaces trimmed */
    assert_string_equal(blend_ivr_session_var(s, "account"), "123455");
    assert_string_equal(find(BLEND_IVR_FX_JOIN_QUEUE)->queue, "billing");
    /* Queued: messages are the agent's now, not the flow's. */
    step(s, BLEND_IVR_EV_TEXT, "1", 5000);
    assert_null(find(BLEND_IVR_FX_INPUT));
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
}

static void collect_pattern_text(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = NULL;
    assert_int_equal(blend_ivr_flow_create(&f), 0);
    tgt(&f->start, "ask");
    struct blend_ivr_node *n = add(f, "ask", BLEND_IVR_COLLECT);
    snprintf(n->text, sizeof n->text, "Order number (AB-1234)?");
    snprintf(n->var, sizeof n->var, "order");
    n->digits_min = 1;
    n->validate = BLEND_IVR_VALIDATE_PATTERN;
    snprintf(n->pattern, sizeof n->pattern, "[A-Z]{2}-[0-9]{4}");
    tgt(&n->next, "bye");
    tgt(&n->invalid, "ask");
    tgt(&n->timeout, "bye");
    add(f, "bye", BLEND_IVR_HANGUP);
    blend_ivr_flow_link(f);
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    step(s, BLEND_IVR_EV_START, NULL, 0);
    step(s, BLEND_IVR_EV_TEXT, "AB-12345", 10);
    assert_null(blend_ivr_session_var(s, "order"));
    step(s, BLEND_IVR_EV_TEXT, "AB-1234", 20);
    assert_string_equal(blend_ivr_session_var(s, "order"), "AB-1234");
    assert_int_equal(find(BLEND_IVR_FX_INPUT)->digit, '?'); /* not masked: text not in the log */
    assert_true(blend_ivr_session_is_ended(s));
    assert_string_equal(blend_ivr_session_exit_reason(s), "hangup");
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
}

static void to_agent_from_any_node(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = chat_flow();
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    assert_int_equal(blend_ivr_session_var_set(s, "priority", "7"), 0);
    step(s, BLEND_IVR_EV_START, NULL, 0);     /* the welcome plays */
    step(s, BLEND_IVR_EV_TO_AGENT, NULL, 10); /* before any question */
    const struct blend_ivr_effect *j = find(BLEND_IVR_FX_JOIN_QUEUE);
    assert_non_null(j);
    assert_string_equal(j->queue, ""); /* the host's default queue */
    assert_int_equal(j->value, 7);
    assert_string_equal(find(BLEND_IVR_FX_EXIT)->reason, "to-agent");
    assert_true(blend_ivr_session_is_ended(s));
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_TEXT, .text = "1"};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), BLEND_ESTATE);
    blend_ivr_session_destroy(s);
    /* With the queue variable set, that queue. */
    s = at_menu(f);
    assert_int_equal(blend_ivr_session_var_set(s, "queue", "vip"), 0);
    step(s, BLEND_IVR_EV_TO_AGENT, NULL, 10);
    assert_string_equal(find(BLEND_IVR_FX_JOIN_QUEUE)->queue, "vip");
    blend_ivr_session_destroy(s);
    /* Already queued: nothing to do. */
    s = at_menu(f);
    step(s, BLEND_IVR_EV_TEXT, "2", 10);
    step(s, BLEND_IVR_EV_TO_AGENT, NULL, 20);
    assert_int_equal(fx.count, 0);
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
}

static void survey_by_number(void **state)
{
    (void)state;
    struct blend_ivr_flow *f = NULL;
    assert_int_equal(blend_ivr_flow_create(&f), 0);
    tgt(&f->start, "sv");
    struct blend_ivr_node *n = add(f, "sv", BLEND_IVR_SURVEY);
    snprintf(n->questions[0].id, sizeof n->questions[0].id, "nps");
    snprintf(n->questions[0].prompt, sizeof n->questions[0].prompt, "0 to 10?");
    n->questions[0].kind = BLEND_IVR_NPS;
    n->questions_count = 1;
    tgt(&n->next, "bye");
    add(f, "bye", BLEND_IVR_HANGUP);
    blend_ivr_flow_link(f);
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(f, &s), 0);
    step(s, BLEND_IVR_EV_START, NULL, 0);
    step(s, BLEND_IVR_EV_TEXT, "11", 10); /* out of the scale: ignored */
    assert_null(find(BLEND_IVR_FX_SURVEY_ANSWER));
    step(s, BLEND_IVR_EV_TEXT, "10", 20);
    assert_int_equal(find(BLEND_IVR_FX_SURVEY_ANSWER)->value, 10);
    assert_true(blend_ivr_session_is_ended(s));
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(menu_by_label_any_case),
        cmocka_unit_test(menu_by_key_and_wrong_answers),
        cmocka_unit_test(collect_takes_the_message),
        cmocka_unit_test(collect_pattern_text),
        cmocka_unit_test(to_agent_from_any_node),
        cmocka_unit_test(survey_by_number),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    assert_int_equal(blend_alloc_live(), 0);
    return rc;
}
