/*
 * ACD engine views: a queue's staffing (blend_acd_queue_staff) counts the logged-in agents who
 * meet its base requirement and take one of its channels, each once, as busy (a connected
 * contact or an offer, whatever the presence), ready, not-ready or wrap-up; agents below the
 * requirement, without capacity on the queue's channels, or logged out are not staff. Every
 * waiting contact's view in one pass (blend_acd_waiting) equals its own view.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void expect_staff(struct world *w, int64_t queue, int ready, int busy, int not_ready,
                         int wrap_up)
{
    struct blend_acd_queue_staff st;
    assert_int_equal(blend_acd_queue_staff(w->acd, queue, &st), 0);
    assert_int_equal(st.ready, ready);
    assert_int_equal(st.busy, busy);
    assert_int_equal(st.not_ready, not_ready);
    assert_int_equal(st.wrap_up, wrap_up);
    assert_int_equal(st.logged_in, ready + busy + not_ready + wrap_up);
}

static void queue_staffing(void **state)
{
    (void)state;
    static struct world w;
    w_init(&w, 8, 4, 16, 16);
    struct blend_acd_queue_config voice = q_basic(1);
    voice.channels = 1u << BLEND_CH_VOICE;
    voice.wrapup_ms = 30000;
    q_skill(&voice, 7, 5);
    assert_int_equal(w_queue(&w, 0, voice), 0);
    struct blend_acd_queue_config chat = q_basic(2);
    chat.channels = 1u << BLEND_CH_CHAT;
    assert_int_equal(w_queue(&w, 0, chat), 0);

    struct blend_acd_agent_config a1 = a_basic(11), a2 = a_basic(12), a3 = a_basic(13);
    struct blend_acd_agent_config low = a_basic(14), nochat = a_basic(15);
    a_skill(&a1, 7, 9);
    a_skill(&a2, 7, 6);
    a_skill(&a3, 7, 5);
    a_skill(&low, 7, 4); /* below the minimum of queue 1 */
    a_skill(&nochat, 7, 9);
    nochat.capacity[BLEND_CH_VOICE] = 0; /* takes no voice: not staff of queue 1 */
    w_ready_agent(&w, 0, a1);
    w_ready_agent(&w, 0, a2);
    w_ready_agent(&w, 0, low);
    w_ready_agent(&w, 0, nochat);
    assert_int_equal(w_agent(&w, 0, a3), 0); /* exists, logged out */
    expect_staff(&w, 1, 2, 0, 0, 0);
    expect_staff(&w, 2, 4, 0, 0, 0); /* chat: no requirement, every logged-in agent */

    /* An offer makes its agent busy; connecting keeps it busy. */
    assert_int_equal(w_at(&w, 1000, ev_arrive(100, 1, BLEND_CH_VOICE, 0, 0)), 0);
    int64_t first = w_offered_to(&w, 100);
    assert_true(first == 11 || first == 12);
    expect_staff(&w, 1, 1, 1, 0, 0);
    assert_int_equal(w_at(&w, 2000, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, first)), 0);
    expect_staff(&w, 1, 1, 1, 0, 0);
    /* Not-ready while connected: still busy until the contact ends, then not-ready (no
     * wrap-up: docs/routing.md, precise reading 4). */
    assert_int_equal(w_at(&w, 3000, ev_nr(first, "break")), 0);
    expect_staff(&w, 1, 1, 1, 0, 0);
    assert_int_equal(w_at(&w, 4000, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, first)), 0);
    expect_staff(&w, 1, 1, 0, 1, 0);
    /* The other agent takes a call and ends it: wrap-up; the third logs in (not-ready). */
    int64_t other = first == 11 ? 12 : 11;
    assert_int_equal(w_at(&w, 5000, ev_arrive(101, 1, BLEND_CH_VOICE, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), other);
    assert_int_equal(w_at(&w, 6000, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, other)), 0);
    assert_int_equal(w_at(&w, 7000, ev_ca(BLEND_ACD_EV_CONTACT_END, 101, other)), 0);
    expect_staff(&w, 1, 0, 0, 1, 1);
    assert_int_equal(w_at(&w, 8000, ev_id(BLEND_ACD_EV_AGENT_LOGIN, 13)), 0);
    expect_staff(&w, 1, 0, 0, 2, 1);

    /* EWT of a newcomer: (waiting + 1) x AHT / N. AHT = talk + wrap-up (30 s) of the two
     * contacts ended: (2000 + 30000) and (1000 + 30000). N = logged-in agents meeting the
     * requirement, whatever their channels: 11, 12, 13 and 15 (not 14, below it). */
    struct blend_acd_queue_staff st;
    assert_int_equal(blend_acd_queue_staff(w.acd, 1, &st), 0);
    assert_int_equal(st.waiting, 0);
    int64_t aht = ((4000 - 2000 + 30000) + (7000 - 6000 + 30000)) / 2;
    assert_int_equal(st.ewt_ms, 1 * aht / 4);
    assert_int_equal(w_at(&w, 9000, ev_arrive(102, 1, BLEND_CH_VOICE, 0, 0)), 0);
    assert_int_equal(w_at(&w, 9000, ev_arrive(103, 1, BLEND_CH_VOICE, 0, 0)), 0);
    assert_int_equal(blend_acd_queue_staff(w.acd, 1, &st), 0);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.ewt_ms, 3 * aht / 4);
    assert_int_equal(blend_acd_queue_staff(w.acd, 99, &st), BLEND_ENOENT);
    w_deinit(&w);
}

/* Every waiting contact's view in one pass equals its own view: the same positions (rank
 * among its queue's waiting contacts), EWT and fields, in (queue, rank) order. */
static void waiting_views_in_one_pass(void **state)
{
    (void)state;
    static struct world w;
    w_init(&w, 8, 4, 64, 64);
    struct blend_acd_queue_config q1 = q_basic(1), q2 = q_basic(2);
    q2.priority = 5;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    struct blend_acd_agent_config a = a_basic(11);
    assert_int_equal(w_agent(&w, 0, a), 0); /* logged out: nobody is offered anything */
    /* 40 contacts over two queues, some with their own priority, arriving out of id order. */
    for (int i = 0; i < 40; i++) {
        int64_t id = 1000 + (i * 37) % 40;
        int32_t own = i % 7 == 0 ? 50 : 0;
        assert_int_equal(w_at(&w, 1000 + i * 10, ev_arrive(id, 1 + i % 2, BLEND_CH_VOICE, own, 0)),
                         0);
    }
    static struct blend_acd_contact_view all[64];
    size_t n = 0;
    assert_int_equal(blend_acd_waiting(w.acd, all, 64, &n), 0);
    assert_int_equal(n, 40);
    for (size_t k = 0; k < n; k++) {
        struct blend_acd_contact_view one;
        assert_int_equal(blend_acd_contact(w.acd, all[k].id, &one), 0);
        assert_int_equal(one.position, all[k].position);
        assert_int_equal(one.ewt_ms, all[k].ewt_ms);
        assert_int_equal(one.queue, all[k].queue);
        assert_int_equal(one.priority, all[k].priority);
        assert_int_equal(all[k].state, BLEND_CONTACT_WAITING);
        if (k > 0 && all[k].queue == all[k - 1].queue) {
            assert_int_equal(all[k].position, all[k - 1].position + 1);
        } else {
            assert_int_equal(all[k].position, 1);
        }
    }
    assert_int_equal(blend_acd_waiting(w.acd, all, 39, &n), BLEND_ELIMIT);
    w_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_staffing),
        cmocka_unit_test(waiting_views_in_one_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
