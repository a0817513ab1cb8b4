/*
 * Engine tests: agent presence transitions step by step with an injected clock, and a
 * randomized run checked against a tiny reference model of the documented rules (docs/routing.md
 * §Agent states), with the engine's own invariant check after every step.
 */
#include "base/alloc.h"
#include "engine/engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static struct blend_event agent_ev(enum blend_event_type t, int64_t id, int64_t now,
                                   const char *reason)
{
    struct blend_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = t;
    ev.now_ms = now;
    ev.wall_ms = 1700000000000 + now;
    ev.u.agent.agent_id = id;
    if (reason) {
        snprintf(ev.u.agent.reason, sizeof ev.u.agent.reason, "%s", reason);
    }
    return ev;
}

static struct blend_engine *make(size_t max)
{
    struct blend_engine_config cfg = {.agents_max = max};
    struct blend_engine *e = NULL;
    assert_int_equal(blend_engine_create(&cfg, &e), 0);
    return e;
}

static void login_ready_pause_logout(void **state)
{
    struct blend_engine *e = make(8);
    struct blend_effects fx;
    struct blend_event ev = agent_ev(BLEND_EV_AGENT_LOGIN, 7, 1000, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(fx.count, 1);
    assert_int_equal(fx.items[0].type, BLEND_FX_AGENT_STATE);
    assert_int_equal(fx.items[0].u.agent_state.from, BLEND_AGENT_LOGGED_OUT);
    assert_int_equal(fx.items[0].u.agent_state.to, BLEND_AGENT_NOT_READY);
    assert_string_equal(fx.items[0].u.agent_state.reason, "login");

    ev = agent_ev(BLEND_EV_AGENT_READY, 7, 4000, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(fx.count, 1);
    assert_int_equal(fx.items[0].u.agent_state.in_previous_ms, 3000);
    assert_int_equal(fx.items[0].u.agent_state.wall_ms, 1700000004000);

    /* Ready again: nothing changes, nothing is recorded. */
    ev = agent_ev(BLEND_EV_AGENT_READY, 7, 4500, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(fx.count, 0);

    ev = agent_ev(BLEND_EV_AGENT_NOT_READY, 7, 9000, "lunch");
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(fx.count, 1);
    assert_int_equal(fx.items[0].u.agent_state.in_previous_ms, 5000);
    struct blend_agent_view v;
    blend_engine_agent(e, 7, &v);
    assert_int_equal(v.state, BLEND_AGENT_NOT_READY);
    assert_string_equal(v.reason, "lunch");
    assert_int_equal(v.since_ms, 9000);

    ev = agent_ev(BLEND_EV_AGENT_LOGOUT, 7, 10000, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(fx.items[0].u.agent_state.to, BLEND_AGENT_LOGGED_OUT);
    blend_engine_agent(e, 7, &v);
    assert_string_equal(v.reason, "");
    blend_engine_check(e);
    blend_engine_destroy(e);
}

static void refusals_change_nothing(void **state)
{
    struct blend_engine *e = make(2);
    struct blend_effects fx;
    struct blend_event ev = agent_ev(BLEND_EV_AGENT_NOT_READY, 1, 10, "break");
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_ESTATE);
    assert_int_equal(blend_engine_agents_count(e), 0);
    ev = agent_ev(BLEND_EV_AGENT_LOGIN, 1, 20, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_ESTATE);
    assert_int_equal(fx.count, 0);
    ev = agent_ev(BLEND_EV_AGENT_NOT_READY, 1, 30, "Bad Reason!");
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_EINVAL);
    ev = agent_ev(BLEND_EV_AGENT_NOT_READY, 1, 30, "");
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_EINVAL);
    ev = agent_ev(BLEND_EV_AGENT_WRAP_UP_END, 1, 40, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_ESTATE);
    ev = agent_ev(BLEND_EV_AGENT_READY, 2, 50, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    ev = agent_ev(BLEND_EV_AGENT_READY, 3, 60, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_ELIMIT);
    ev = agent_ev(BLEND_EV_AGENT_LOGIN, 0, 60, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), BLEND_EINVAL);
    struct blend_agent_view v;
    blend_engine_agent(e, 1, &v);
    assert_int_equal(v.state, BLEND_AGENT_NOT_READY);
    assert_string_equal(v.reason, "login");
    blend_engine_check(e);
    blend_engine_destroy(e);
}

static void restore_then_continue(void **state)
{
    struct blend_engine *e = make(4);
    struct blend_agent_view v = {.agent_id = 5, .state = BLEND_AGENT_NOT_READY, .since_ms = 100};
    snprintf(v.reason, sizeof v.reason, "training");
    assert_int_equal(blend_engine_restore_agent(e, &v), 0);
    struct blend_effects fx;
    struct blend_event ev = agent_ev(BLEND_EV_AGENT_READY, 5, 400, NULL);
    assert_int_equal(blend_engine_step(e, &ev, &fx), 0);
    assert_int_equal(fx.items[0].u.agent_state.from, BLEND_AGENT_NOT_READY);
    assert_int_equal(fx.items[0].u.agent_state.in_previous_ms, 300);
    v.state = (enum blend_agent_state)9;
    assert_int_equal(blend_engine_restore_agent(e, &v), BLEND_EINVAL);
    blend_engine_check(e);
    blend_engine_destroy(e);
}

/* Reference model: the rules in their plainest form. */
struct ref_agent {
    enum blend_agent_state state;
    char reason[16];
};

static int ref_step(struct ref_agent *a, enum blend_event_type t, const char *reason, int *changed)
{
    *changed = 0;
    enum blend_agent_state to = a->state;
    const char *r = "";
    switch (t) {
    case BLEND_EV_AGENT_LOGIN:
        if (a->state != BLEND_AGENT_LOGGED_OUT) {
            return BLEND_ESTATE;
        }
        to = BLEND_AGENT_NOT_READY;
        r = "login";
        break;
    case BLEND_EV_AGENT_READY:
        to = BLEND_AGENT_READY;
        break;
    case BLEND_EV_AGENT_NOT_READY:
        if (a->state == BLEND_AGENT_LOGGED_OUT) {
            return BLEND_ESTATE;
        }
        to = BLEND_AGENT_NOT_READY;
        r = reason;
        break;
    case BLEND_EV_AGENT_LOGOUT:
        to = BLEND_AGENT_LOGGED_OUT;
        break;
    default:
        return BLEND_EINVAL;
    }
    *changed = to != a->state || strcmp(r, a->reason) != 0;
    a->state = to;
    snprintf(a->reason, sizeof a->reason, "%s", r);
    return 0;
}

static void randomized_against_reference(void **state)
{
    enum { AGENTS = 12, STEPS = 20000 };
    struct blend_engine *e = make(AGENTS);
    struct ref_agent ref[AGENTS + 1];
    memset(ref, 0, sizeof ref);
    static const enum blend_event_type kinds[] = {BLEND_EV_AGENT_LOGIN, BLEND_EV_AGENT_READY,
                                                  BLEND_EV_AGENT_NOT_READY, BLEND_EV_AGENT_LOGOUT};
    static const char *const reasons[] = {"break", "lunch", "training"};
    uint64_t x = 0x9E3779B97F4A7C15ull; /* xorshift64: fixed seed, same run every time */
    int64_t now = 0;
    for (int i = 0; i < STEPS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t id = 1 + (int64_t)(x % AGENTS);
        enum blend_event_type t = kinds[(x >> 8) % 4];
        const char *reason = reasons[(x >> 16) % 3];
        now += (int64_t)((x >> 24) % 5000);
        struct blend_event ev = agent_ev(t, id, now, reason);
        struct blend_effects fx;
        int changed;
        int want = ref_step(&ref[id], t, reason, &changed);
        int got = blend_engine_step(e, &ev, &fx);
        assert_int_equal(got, want);
        assert_int_equal(fx.count, (size_t)changed);
        struct blend_agent_view v;
        blend_engine_agent(e, id, &v);
        assert_int_equal(v.state, ref[id].state);
        assert_string_equal(v.reason, ref[id].reason);
        if (changed) {
            assert_int_equal(fx.items[0].u.agent_state.to, ref[id].state);
            assert_int_equal(v.since_ms, now);
        }
        blend_engine_check(e);
    }
    blend_engine_destroy(e);
    assert_int_equal(blend_alloc_live(), 0);
}

static void state_names_round_trip(void **state)
{
    for (int s = BLEND_AGENT_LOGGED_OUT; s <= BLEND_AGENT_WRAP_UP; s++) {
        enum blend_agent_state back;
        assert_int_equal(blend_agent_state_parse(blend_agent_state_name(s), &back), 0);
        assert_int_equal(back, s);
    }
    enum blend_agent_state x;
    assert_int_equal(blend_agent_state_parse("busy", &x), BLEND_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_ready_pause_logout),
        cmocka_unit_test(refusals_change_nothing),
        cmocka_unit_test(restore_then_continue),
        cmocka_unit_test(randomized_against_reference),
        cmocka_unit_test(state_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
