/*
 * ACD engine: a group of waiting contacts (acd_int.h struct acd_group) keeps the contacts that
 * arrive in time order in a list and those entering with an earlier key (first join, id) than
 * the list's tail in a treap; its head, and an agent's skips over contacts it declined, merge
 * the two. Whichever structure holds a contact, agents must take a group's contacts in key
 * order. blend_acd_check() (after every step) asserts the list's order, links and tail, the
 * treap's order and that the head is the first of both.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Queue 1 (longest idle, no skill), contacts 11..15 arriving at 1000..1004 with nobody ready:
 * all five in the group's list, in key order. */
static void five_waiting(struct world *w)
{
    struct blend_acd_queue_config q = q_basic(1);
    q.reoffer_delay_ms = 60000;
    assert_int_equal(w_queue(w, 0, q), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(w_at(w, 1000 + i, ev_arrive(11 + i, 1, BLEND_CH_VOICE, 0, 0)), 0);
        assert_int_equal(w_offered_to(w, 11 + i), 0);
    }
}

/* A rejected head re-enters with its first join, earlier than the tail: it goes to the treap,
 * stays the group's head for everyone but the agent who declined it, who takes the list's
 * next instead; a second agent takes it. */
static void reentry_before_tail(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 16, 4);
    five_waiting(&w);
    w_ready_agent(&w, 2000, a_basic(1));
    assert_int_equal(w_offered_to(&w, 11), 1);
    assert_int_equal(w_at(&w, 3000, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 11, 1)), 0);
    /* Agent 1 declined 11 (held 60 s): its best is now 12, the first of the list. */
    assert_int_equal(w_offered_to(&w, 11), 0);
    assert_int_equal(w_offered_to(&w, 12), 1);
    w_ready_agent(&w, 4000, a_basic(2));
    assert_int_equal(w_offered_to(&w, 11), 2);
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Contacts leave the list from its middle (abandon) and from both structures; the agent still
 * takes the others in key order, the re-entered one (treap) before the later listed ones. */
static void leave_from_middle(void **state)
{
    (void)state;
    struct world w;
    w_init(&w, 4, 2, 16, 4);
    five_waiting(&w);
    w_ready_agent(&w, 2000, a_basic(1));
    assert_int_equal(w_offered_to(&w, 11), 1);
    assert_int_equal(w_at(&w, 2500, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 11, 1)), 0);
    /* 13 leaves from the middle of the list, then 12 is offered and rejected by agent 2
     * (re-entering the treap ahead of 14 and 15). */
    assert_int_equal(w_at(&w, 2600, ev_ca(BLEND_ACD_EV_CONTACT_ABANDON, 13, 0)), 0);
    w_ready_agent(&w, 2700, a_basic(2));
    assert_int_equal(w_offered_to(&w, 12), 2);
    assert_int_equal(w_at(&w, 2800, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 12, 2)), 0);
    assert_int_equal(w_offered_to(&w, 14), 2); /* agent 2 declined 12: it takes 14 */
    assert_int_equal(w_at(&w, 2900, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 14, 2)), 0);
    /* 16 arrives after the tail (15): listed. Agent 1, freed, takes 12 (treap), then 15, 16. */
    assert_int_equal(w_at(&w, 3000, ev_arrive(16, 1, BLEND_CH_VOICE, 0, 0)), 0);
    int64_t order[] = {12, 15, 16};
    int64_t prev = 11;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w_at(&w, 4000 + 100 * i, ev_ca(BLEND_ACD_EV_CONTACT_END, prev, 0)), 0);
        assert_int_equal(w_offered_to(&w, order[i]), 1);
        assert_int_equal(w_at(&w, 4050 + 100 * i, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, order[i], 1)),
                         0);
        prev = order[i];
    }
    w_deinit(&w);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reentry_before_tail),
        cmocka_unit_test(leave_from_middle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
