/*
 * ACD engine: a contact's own required skills (docs/routing.md §Queues and eligibility). One
 * test per rule: a stricter own minimum than the queue's, an own skill the queue does not ask
 * for (and most-skilled ranking over the combined requirement), relaxation that does not relax
 * own skills, add_queue_agents that still requires them, own skills kept through overflow,
 * transfer to a queue and callback (a transfer to an agent ignores them), the sticky rule,
 * restore with own skills, and invalid input (EINVAL, nothing changed). Time is injected;
 * blend_acd_check() runs after every step.
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define V BLEND_CH_VOICE

/* An arrival in queue q carrying own skills (skill, min) pairs. */
static struct blend_acd_event ev_arrive_own(int64_t contact, int64_t queue, int64_t customer, int n,
                                            const uint16_t *skill, const uint8_t *min)
{
    struct blend_acd_event ev = ev_arrive(contact, queue, V, 0, customer);
    for (int i = 0; i < n; i++) {
        ev.u.arrive.skills[i].skill = skill[i];
        ev.u.arrive.skills[i].min_proficiency = min[i];
    }
    ev.u.arrive.skills_count = (uint8_t)n;
    return ev;
}

/* An arrival with one own skill. */
static struct blend_acd_event ev_arrive1(int64_t contact, int64_t queue, uint16_t skill,
                                         uint8_t min)
{
    return ev_arrive_own(contact, queue, 0, 1, &skill, &min);
}

static struct blend_acd_agent_config agent_with(int64_t id, uint16_t skill, uint8_t prof)
{
    struct blend_acd_agent_config a = a_basic(id);
    if (skill) {
        a_skill(&a, skill, prof);
    }
    return a;
}

/* The queue asks skill 1 >= 3, the contact 1 >= 7: the higher minimum holds, on both sides of
 * the decision (a contact arriving, an agent freeing up). */
static void stricter_own_minimum(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q_skill(&q, 1, 3);
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, agent_with(1, 1, 4)); /* longest idle, meets the queue only */
    w_ready_agent(&w, 5, agent_with(2, 1, 8));
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 1, 7)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    /* Agent 2 busy: the next such contact waits although agent 1 is idle... */
    assert_int_equal(w_at(&w, 20, ev_arrive1(101, 1, 1, 7)), 0);
    assert_int_equal(w_offered_to(&w, 101), 0);
    /* ...while a contact without own skills goes to agent 1 at once. */
    assert_int_equal(w_at(&w, 21, ev_arrive(102, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 102), 1);
    /* Agent 2 frees up and takes the waiting contact. */
    assert_int_equal(w_at(&w, 30, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), 2);
    w_deinit(&w);
}

/* An own skill the queue does not ask for is required as it is; most-skilled sums the
 * proficiencies over the combined requirement (each skill once); position counts every waiting
 * contact of the queue, own skills or not. */
static void own_skill_not_in_queue(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 5, agent_with(2, 9, 1));
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 9, 1)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    /* Agent 1 busy with a plain contact, then one own-skill contact and one plain wait. */
    assert_int_equal(w_at(&w, 13, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), 1);
    assert_int_equal(w_at(&w, 14, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, 1)), 0);
    assert_int_equal(w_at(&w, 20, ev_arrive1(102, 1, 9, 1)), 0);
    assert_int_equal(w_at(&w, 21, ev_arrive(103, 1, V, 0, 0)), 0);
    struct blend_acd_contact_view v;
    assert_int_equal(blend_acd_contact(w.acd, 103, &v), 0);
    assert_int_equal(v.position, 2);
    /* Agent 1 frees up: it cannot take 102 (ranked first), so it takes 103. */
    assert_int_equal(w_at(&w, 30, ev_ca(BLEND_ACD_EV_CONTACT_END, 101, 0)), 0);
    assert_int_equal(w_offered_to(&w, 103), 1);
    assert_int_equal(w_offered_to(&w, 102), 0);

    /* Most-skilled: queue 2 asks skill 1; agent 3 (1:9, 2:1) beats agent 4 (1:5, 2:9) for a
     * plain contact (9 > 5), agent 4 wins for a contact also asking skill 2 (14 > 10). */
    struct blend_acd_queue_config q2 = q_basic(2);
    q2.strategy = BLEND_STRAT_MOST_SKILLED;
    q_skill(&q2, 1, 1);
    assert_int_equal(w_queue(&w, 40, q2), 0);
    struct blend_acd_agent_config a3 = agent_with(3, 1, 9), a4 = agent_with(4, 1, 5);
    a_skill(&a3, 2, 1);
    a_skill(&a4, 2, 9);
    w_ready_agent(&w, 40, a3);
    w_ready_agent(&w, 40, a4);
    uint16_t sk[2] = {2, 1};
    uint8_t mn[2] = {1, 1}; /* skill 1 in both the queue and the contact: counted once */
    assert_int_equal(w_at(&w, 50, ev_arrive_own(200, 2, 0, 2, sk, mn)), 0);
    assert_int_equal(w_offered_to(&w, 200), 4);
    assert_int_equal(w_at(&w, 51, ev_arrive(201, 2, V, 0, 0)), 0);
    assert_int_equal(w_offered_to(&w, 201), 3);
    w_deinit(&w);
}

/* A relaxation step lowers the queue's part only: the contact's own skill still holds. */
static void relaxation_keeps_own(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    struct blend_acd_queue_config q = q_basic(1);
    q_skill(&q, 1, 8);
    q.relax_count = 1;
    q.relax[0].after_ms = 10000;
    q.relax[0].has_skills = 1; /* drops every skill */
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, agent_with(2, 5, 3));
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 5, 4)), 0); /* agent 2 is below 4 too */
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 10010, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_RELAXED, 100)->step, 1);
    assert_int_equal(w_offered_to(&w, 100), 0); /* skill 5 >= 4 still required */
    struct blend_acd_agent_config a3 = agent_with(3, 5, 4);
    w_ready_agent(&w, 10020, a3);
    assert_int_equal(w_offered_to(&w, 100), 3);
    w_deinit(&w);
}

/* add_queue_agents: an agent of the added queue must also meet the contact's own skills. */
static void add_queue_agents_needs_own(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    struct blend_acd_queue_config q2 = q_basic(2);
    q_skill(&q2, 2, 1);
    assert_int_equal(w_queue(&w, 0, q2), 0);
    struct blend_acd_queue_config q1 = q_basic(1);
    q_skill(&q1, 1, 5);
    q1.relax_count = 1;
    q1.relax[0].after_ms = 10000;
    q1.relax[0].add_queue_agents = 2;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    w_ready_agent(&w, 0, agent_with(1, 2, 5)); /* longest idle, queue 2's agent */
    struct blend_acd_agent_config a2 = agent_with(2, 2, 5);
    a_skill(&a2, 7, 5);
    w_ready_agent(&w, 1, a2);
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 7, 1)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 10010, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 100), 2);
    /* A plain contact of queue 1 past the step goes to the longest idle, agent 1. */
    assert_int_equal(w_at(&w, 10020, ev_arrive(101, 1, V, 0, 0)), 0);
    assert_int_equal(w_at(&w, 20030, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 101), 1);
    w_deinit(&w);
}

/* Overflow to another queue keeps the own skills. */
static void overflow_keeps_own(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    struct blend_acd_queue_config q1 = q_basic(1);
    q_skill(&q1, 3, 1); /* nobody has skill 3 */
    q1.max_wait_ms = 5000;
    q1.overflow = BLEND_OVERFLOW_QUEUE;
    q1.overflow_queue = 2;
    assert_int_equal(w_queue(&w, 0, q1), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, agent_with(2, 7, 5));
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 7, 5)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 5010, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_OVERFLOW, 100)->queue, 1);
    assert_int_equal(w_find(&w, BLEND_ACD_FX_QUEUED, 100)->queue, 2);
    assert_int_equal(w_offered_to(&w, 100), 2);
    w_deinit(&w);
}

/* A transfer to a queue keeps the own skills; a transfer to an agent ignores them. */
static void transfer_keeps_own(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, agent_with(2, 7, 5));
    w_ready_agent(&w, 2, agent_with(3, 7, 5));
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 7, 5)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    struct blend_acd_event x = ev_id(BLEND_ACD_EV_CONTACT_TRANSFER, 0);
    x.u.transfer.contact = 100;
    x.u.transfer.agent = 2;
    x.u.transfer.to_queue = 2;
    assert_int_equal(w_at(&w, 20, x), 0);
    assert_int_equal(w_offered_to(&w, 100), 3); /* not agent 1, the longest idle */
    assert_int_equal(w_at(&w, 21, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 3)), 0);
    x.u.transfer.agent = 3;
    x.u.transfer.to_queue = 0;
    x.u.transfer.to_agent = 1;
    assert_int_equal(w_at(&w, 30, x), 0);
    assert_int_equal(w_offered_to(&w, 100), 1); /* direct offer: any skills */
    /* Rejected: it waits in queue 2 with its own skills again; agent 3 (holding off for the
     * reoffer delay as the transferring agent) and agent 1 (who rejected) are held: agent 2
     * takes it. */
    assert_int_equal(w_at(&w, 31, ev_ca(BLEND_ACD_EV_OFFER_REJECT, 100, 1)), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    w_deinit(&w);
}

/* A callback keeps its own skills. */
static void callback_keeps_own(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    assert_int_equal(w_at(&w, 10, ev_arrive1(100, 1, 7, 5)), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    assert_int_equal(w_at(&w, 20, ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, 100, 0)), 0);
    assert_int_equal(w_count(&w, BLEND_ACD_FX_CALLBACK, 100, 0), 1);
    assert_int_equal(w_offered_to(&w, 100), 0);
    w_ready_agent(&w, 30, agent_with(2, 7, 5));
    const struct blend_acd_effect *e = w_find(&w, BLEND_ACD_FX_OFFER, 100);
    assert_non_null(e);
    assert_int_equal(e->agent, 2);
    assert_int_equal(e->is_callback, 1);
    w_deinit(&w);
}

/* Sticky: a contact with own skills is bound to its customer's last agent only when that agent
 * meets them at the join; otherwise there is no sticky phase (the fallback applies at once). */
static void sticky_rule(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 8);
    struct blend_acd_queue_config q = q_basic(1);
    q.strategy = BLEND_STRAT_STICKY;
    q.sticky_ms = 30000;
    q.sticky_fallback = BLEND_STRAT_LONGEST_IDLE;
    assert_int_equal(w_queue(&w, 0, q), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, agent_with(2, 7, 5));
    /* Customer 77 is served by agent 1 (longest idle). */
    assert_int_equal(w_at(&w, 10, ev_arrive(100, 1, V, 0, 77)), 0);
    assert_int_equal(w_offered_to(&w, 100), 1);
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 1)), 0);
    /* Agent 1 busy: customer 77 asking skill 7 is not bound to agent 1 (who lacks it) and goes
     * to agent 2 at once. */
    uint16_t sk = 7;
    uint8_t mn = 1;
    assert_int_equal(w_at(&w, 20, ev_arrive_own(101, 1, 77, 1, &sk, &mn)), 0);
    assert_int_equal(w_offered_to(&w, 101), 2);
    assert_int_equal(w_at(&w, 21, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 101, 2)), 0);
    /* Agent 1 ends; agent 2 ends: customer 77's last agent is now agent 2 (who has skill 7). */
    assert_int_equal(w_at(&w, 30, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_at(&w, 31, ev_ca(BLEND_ACD_EV_CONTACT_END, 101, 0)), 0);
    /* Agent 2 busy with another contact: customer 77 asking skill 7 is bound to agent 2 and
     * waits for them although agent 1 is idle... (agent 1 lacks skill 7 anyway) */
    assert_int_equal(w_at(&w, 40, ev_arrive(102, 1, V, 0, 5)), 0);
    assert_int_equal(w_offered_to(&w, 102), 1); /* longest idle since 30 */
    assert_int_equal(w_at(&w, 41, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 102, 1)), 0);
    assert_int_equal(w_at(&w, 42, ev_arrive(103, 1, V, 0, 6)), 0);
    assert_int_equal(w_offered_to(&w, 103), 2);
    assert_int_equal(w_at(&w, 43, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 103, 2)), 0);
    assert_int_equal(w_at(&w, 50, ev_arrive_own(104, 1, 77, 1, &sk, &mn)), 0);
    assert_int_equal(w_offered_to(&w, 104), 0);
    /* ...and a third agent with skill 7 who frees up is not offered it (bound to agent 2). */
    w_ready_agent(&w, 60, agent_with(3, 7, 9));
    assert_int_equal(w_offered_to(&w, 104), 0);
    assert_int_equal(w_at(&w, 70, ev_ca(BLEND_ACD_EV_CONTACT_END, 103, 0)), 0);
    assert_int_equal(w_offered_to(&w, 104), 2);
    w_deinit(&w);
}

/* A waiting contact restored with its own skills is offered only to agents meeting them; a
 * connected restore carries them too (they matter if it is transferred to a queue later). */
static void restore_with_own(void **state)
{
    struct world w;
    w_init(&w, 4, 2, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    assert_int_equal(w_queue(&w, 0, q_basic(2)), 0);
    w_ready_agent(&w, 0, a_basic(1));
    w_ready_agent(&w, 1, agent_with(2, 7, 5));
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_CONTACT_RESTORE, 0);
    struct blend_acd_contact_restore *r = &ev.u.contact_restore;
    r->contact = 100;
    r->queue = 1;
    r->channel = V;
    r->enqueued_ms = -5000;
    r->skills_count = 1;
    r->skills[0].skill = 7;
    r->skills[0].min_proficiency = 5;
    assert_int_equal(w_at(&w, 10, ev), 0);
    assert_int_equal(w_offered_to(&w, 100), 2);
    /* Connected restore to agent 1 with own skill 7, then transferred to queue 2: agent 2 is
     * busy with 100 and agent 1 is held off (the transferring agent): it waits until an agent
     * with skill 7 frees up. */
    assert_int_equal(w_at(&w, 11, ev_ca(BLEND_ACD_EV_OFFER_ACCEPT, 100, 2)), 0);
    r->contact = 101;
    r->agent = 1;
    assert_int_equal(w_at(&w, 12, ev), 0);
    assert_int_equal(w.seen_count, 0);
    struct blend_acd_event x = ev_id(BLEND_ACD_EV_CONTACT_TRANSFER, 0);
    x.u.transfer.contact = 101;
    x.u.transfer.agent = 1;
    x.u.transfer.to_queue = 2;
    assert_int_equal(w_at(&w, 20, x), 0);
    assert_int_equal(w_offered_to(&w, 101), 0);
    /* After the hold (20 s), agent 1 is still not offered it: it lacks skill 7. */
    assert_int_equal(w_at(&w, 20030, ev_id(BLEND_ACD_EV_WRAPUP_END, 1)), BLEND_ESTATE);
    assert_int_equal(w_offered_to(&w, 101), 0);
    assert_int_equal(w_at(&w, 20040, ev_ca(BLEND_ACD_EV_CONTACT_END, 100, 0)), 0);
    assert_int_equal(w_offered_to(&w, 101), 2);
    w_deinit(&w);
}

/* Invalid own skills are refused with EINVAL at ARRIVE and CONTACT_RESTORE; nothing changes. */
static void invalid_input(void **state)
{
    struct world w;
    w_init(&w, 4, 1, 8, 0);
    assert_int_equal(w_queue(&w, 0, q_basic(1)), 0);
    w_ready_agent(&w, 0, agent_with(1, 7, 5));
    struct {
        uint16_t skill[BLEND_ACD_QUEUE_SKILLS_MAX + 1];
        uint8_t min[BLEND_ACD_QUEUE_SKILLS_MAX + 1];
        int n;
    } cases[] = {
        {{0}, {1}, 1},                                                 /* skill 0 */
        {{BLEND_ACD_SKILLS_MAX + 1}, {1}, 1},                          /* skill beyond the limit */
        {{7}, {0}, 1},                                                 /* min 0 */
        {{7}, {11}, 1},                                                /* min 11 */
        {{7, 7}, {1, 2}, 2},                                           /* a skill twice */
        {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 9}, /* too many */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blend_acd_event ev = ev_arrive(100, 1, V, 0, 0);
        for (int k = 0; k < cases[i].n; k++) {
            ev.u.arrive.skills[k % BLEND_ACD_QUEUE_SKILLS_MAX].skill = cases[i].skill[k];
            ev.u.arrive.skills[k % BLEND_ACD_QUEUE_SKILLS_MAX].min_proficiency = cases[i].min[k];
        }
        ev.u.arrive.skills_count = (uint8_t)cases[i].n;
        assert_int_equal(w_at(&w, 10, ev), BLEND_EINVAL);
        assert_int_equal(w.seen_count, 0);
        struct blend_acd_event rs = ev_id(BLEND_ACD_EV_CONTACT_RESTORE, 0);
        rs.u.contact_restore.contact = 100;
        rs.u.contact_restore.queue = 1;
        rs.u.contact_restore.channel = V;
        rs.u.contact_restore.enqueued_ms = 0;
        memcpy(rs.u.contact_restore.skills, ev.u.arrive.skills, sizeof ev.u.arrive.skills);
        rs.u.contact_restore.skills_count = ev.u.arrive.skills_count;
        assert_int_equal(w_at(&w, 10, rs), BLEND_EINVAL);
        assert_int_equal(w.seen_count, 0);
        struct blend_acd_contact_view v;
        assert_int_equal(blend_acd_contact(w.acd, 100, &v), BLEND_ENOENT);
    }
    /* The limits themselves are accepted: 8 distinct skills, skill 1024, min 10. */
    struct blend_acd_event ev = ev_arrive(100, 1, V, 0, 0);
    for (int k = 0; k < BLEND_ACD_QUEUE_SKILLS_MAX; k++) {
        ev.u.arrive.skills[k].skill = (uint16_t)(k == 0 ? BLEND_ACD_SKILLS_MAX : k + 1);
        ev.u.arrive.skills[k].min_proficiency = 10;
    }
    ev.u.arrive.skills_count = BLEND_ACD_QUEUE_SKILLS_MAX;
    assert_int_equal(w_at(&w, 20, ev), 0);
    assert_int_equal(w_offered_to(&w, 100), 0);
    struct blend_acd_agent_view av;
    assert_int_equal(blend_acd_agent(w.acd, 1, &av), 0);
    assert_int_equal(av.offered[V], 0);
    w_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stricter_own_minimum), cmocka_unit_test(own_skill_not_in_queue),
        cmocka_unit_test(relaxation_keeps_own), cmocka_unit_test(add_queue_agents_needs_own),
        cmocka_unit_test(overflow_keeps_own),   cmocka_unit_test(transfer_keeps_own),
        cmocka_unit_test(callback_keeps_own),   cmocka_unit_test(sticky_rule),
        cmocka_unit_test(restore_with_own),     cmocka_unit_test(invalid_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return rc;
}
