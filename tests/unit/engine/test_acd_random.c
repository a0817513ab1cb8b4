/*
 * ACD engine, randomized: small random worlds (up to 20 agents, 6 queues, 6 skills, every
 * strategy, relaxation with added skills and added queues, overflow to queue/voicemail/callback,
 * ring-all, sticky, callbacks, abandons, rejects, timeouts, priority changes, capacity and skill
 * changes at run time) driven by fixed seeds for well over 200,000 external events, with
 * blend_acd_check() (every invariant of docs/routing.md, and the indexes against the plain
 * state) after every step, timers included. A second test replays one seed twice and requires
 * byte-identical effects (determinism).
 */
#include "test_acd_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define SEEDS 40
#define EVENTS_PER_SEED 5100
#define SKILLS 6

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static int pick(struct rng *r, int n)
{
    return (int)(rnd(r) % (uint64_t)n);
}

struct sim {
    struct world w;
    struct rng r;
    int agents, queues;
    unsigned channels[8]; /* per queue id */
    int64_t next_contact;
    int64_t t;
    uint64_t hash;
    long events, errors, offers, connects;
};

static struct blend_acd_queue_config rand_queue(struct sim *s, int64_t id)
{
    struct rng *r = &s->r;
    struct blend_acd_queue_config q = q_basic(id);
    q.channels = 1u + (unsigned)pick(r, (1 << BLEND_CH_COUNT) - 1);
    s->channels[id] = q.channels;
    int n = pick(r, 3);
    for (int i = 0; i < n; i++) {
        q_skill(&q, (uint16_t)(1 + i * 2 + pick(r, 2)), (uint8_t)(1 + pick(r, 5)));
    }
    q.strategy = (enum blend_acd_strategy)pick(r, BLEND_STRAT_STICKY + 1);
    q.sticky_fallback = (enum blend_acd_strategy)pick(r, BLEND_STRAT_ROUND_ROBIN + 1);
    q.sticky_ms = pick(r, 3) * 4000;
    q.priority = pick(r, 4) * 5;
    q.acceleration_per_min = pick(r, 3) * 10;
    q.max_priority = pick(r, 2) ? 0 : 20 + pick(r, 20);
    q.wrapup_ms = pick(r, 3) * 1500;
    q.offer_timeout_ms = 1000 + pick(r, 4) * 1000;
    q.max_no_answer = pick(r, 3);
    q.reoffer_delay_ms = pick(r, 3) * 1500;
    q.max_wait_ms = pick(r, 2) ? 0 : 5000 + pick(r, 10) * 1000;
    q.overflow = (enum blend_acd_overflow)pick(r, 4);
    q.overflow_queue = 1 + pick(r, s->queues);
    q.relax_count = (uint8_t)pick(r, 4);
    int64_t after = 0;
    for (int k = 0; k < q.relax_count; k++) {
        struct blend_acd_relax_step *st = &q.relax[k];
        after += 1000 + pick(r, 4000);
        st->after_ms = after;
        st->has_skills = pick(r, 2);
        if (st->has_skills) {
            st->skills_count = (uint8_t)pick(r, 3);
            for (int i = 0; i < st->skills_count; i++) {
                st->skills[i].skill = (uint16_t)(1 + i * 2 + pick(r, 2));
                st->skills[i].min_proficiency = (uint8_t)(1 + pick(r, 6));
            }
        }
        st->add_queue_agents = pick(r, 3) ? 0 : 1 + pick(r, s->queues);
        if (st->add_queue_agents == id) {
            /* A step adding its own queue is refused (test_acd_rules checks that): the next
             * queue instead, with no extra draw so that seeds keep their worlds. */
            st->add_queue_agents = s->queues > 1 ? id % s->queues + 1 : 0;
        }
    }
    return q;
}

static struct blend_acd_agent_config rand_agent(struct sim *s, int64_t id)
{
    struct rng *r = &s->r;
    struct blend_acd_agent_config a = a_basic(id);
    for (int sk = 1; sk <= SKILLS; sk++) {
        if (pick(r, 2)) {
            a_skill(&a, (uint16_t)sk, (uint8_t)(1 + pick(r, 10)));
        }
    }
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        a.capacity[c] = (uint8_t)pick(r, 4);
    }
    a.capacity[BLEND_CH_VOICE] = (uint8_t)pick(r, 2);
    a.voice_exclusive = pick(r, 4) != 0;
    return a;
}

/* An id among recent contacts (some may be gone: the engine answers EINVAL). */
static int64_t some_contact(struct sim *s)
{
    int64_t span = s->next_contact < 50 ? s->next_contact : 50;
    return s->next_contact - pick(&s->r, (int)span + 1);
}

/* A random live contact in `state` among the last 400 ids (most of the time), else a recent
 * id whatever its state (the engine refuses what does not apply). */
static int64_t contact_in(struct sim *s, enum blend_acd_contact_state state, int64_t *agent)
{
    static int64_t found[400];
    static int64_t agents[400];
    int n = 0;
    struct blend_acd_contact_view v;
    for (int64_t c = s->next_contact; c > 0 && c > s->next_contact - 400; c--) {
        if (blend_acd_contact(s->w.acd, c, &v) == 0 && v.state == state) {
            found[n] = c;
            agents[n] = v.agent;
            n++;
        }
    }
    if (n == 0 || !pick(&s->r, 16)) {
        *agent = 0;
        return some_contact(s);
    }
    int i = pick(&s->r, n);
    *agent = agents[i];
    return found[i];
}

static struct blend_acd_event offer_event(struct sim *s, enum blend_acd_event_type t)
{
    int64_t agent;
    int64_t c = contact_in(s, BLEND_CONTACT_OFFERED, &agent);
    if (!agent || !pick(&s->r, 10)) {
        agent = 1 + pick(&s->r, s->agents); /* ring-all, or a wrong agent: ESTATE */
    }
    return ev_ca(t, c, agent);
}

static struct blend_acd_event rand_event(struct sim *s)
{
    struct rng *r = &s->r;
    int64_t agent = 1 + pick(r, s->agents);
    int k = pick(r, 100);
    if (k < 22) {
        int64_t c = ++s->next_contact;
        int q = 1 + pick(r, s->queues);
        int ch = pick(r, BLEND_CH_COUNT);
        for (int i = 0; i < BLEND_CH_COUNT && pick(r, 10) && !(s->channels[q] & (1u << ch)); i++) {
            ch = (ch + 1) % BLEND_CH_COUNT; /* mostly a channel the queue takes */
        }
        return ev_arrive(c, q, (enum blend_channel)ch, pick(r, 3) * 3,
                         pick(r, 3) ? 1 + pick(r, 6) : 0);
    }
    if (k < 42) {
        return offer_event(s, BLEND_ACD_EV_OFFER_ACCEPT);
    }
    if (k < 48) {
        return offer_event(s, BLEND_ACD_EV_OFFER_REJECT);
    }
    if (k < 62) {
        int64_t agent_unused;
        return ev_ca(BLEND_ACD_EV_CONTACT_END, contact_in(s, BLEND_CONTACT_CONNECTED, &agent_unused),
                     0);
    }
    if (k < 68) {
        int64_t unused;
        return ev_ca(BLEND_ACD_EV_CONTACT_ABANDON, contact_in(s, BLEND_CONTACT_WAITING, &unused), 0);
    }
    if (k < 70) {
        return ev_ca(BLEND_ACD_EV_CALLBACK_REQUEST, some_contact(s), 0);
    }
    if (k < 71) {
        struct blend_acd_event ev = ev_ca(BLEND_ACD_EV_CONTACT_PRIORITY, some_contact(s), 0);
        ev.u.contact.priority = pick(r, 4) * 4;
        return ev;
    }
    if (k < 78) {
        return ev_id(BLEND_ACD_EV_AGENT_READY, agent);
    }
    if (k < 82) {
        return ev_nr(agent, pick(r, 2) ? "break" : "lunch");
    }
    if (k < 85) {
        return ev_id(BLEND_ACD_EV_AGENT_LOGIN, agent);
    }
    if (k < 87) {
        return ev_id(BLEND_ACD_EV_AGENT_LOGOUT, agent);
    }
    if (k < 91) {
        return ev_id(BLEND_ACD_EV_WRAPUP_END, agent);
    }
    if (k < 94) {
        struct blend_acd_event ev = ev_id(BLEND_ACD_EV_AGENT_SET, 0);
        ev.u.agent = rand_agent(s, agent);
        return ev;
    }
    if (k < 96) {
        struct blend_acd_event ev = ev_id(BLEND_ACD_EV_QUEUE_SET, 0);
        ev.u.queue = rand_queue(s, 1 + pick(r, s->queues));
        return ev;
    }
    if (k < 97) {
        return ev_id(pick(r, 2) ? BLEND_ACD_EV_AGENT_REMOVE : BLEND_ACD_EV_QUEUE_REMOVE,
                     1 + pick(r, pick(r, 2) ? s->agents : s->queues));
    }
    return ev_id(BLEND_ACD_EV_AGENT_LOGIN, 1000); /* unknown agent: EINVAL */
}

static void hash_effects(struct sim *s)
{
    for (size_t i = 0; i < s->w.seen_count; i++) {
        const struct blend_acd_effect *e = &s->w.seen[i];
        uint64_t v[] = {(uint64_t)e->type, (uint64_t)e->at_ms, (uint64_t)e->contact,
                        (uint64_t)e->agent, (uint64_t)e->queue, (uint64_t)e->withdraw,
                        (uint64_t)e->step, (uint64_t)e->wait_ms};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
            s->hash = (s->hash ^ v[j]) * 1099511628211ull;
        }
        s->offers += e->type == BLEND_ACD_FX_OFFER;
        s->connects += e->type == BLEND_ACD_FX_CONNECTED;
    }
}

static void run_seed(struct sim *s, uint64_t seed, int events)
{
    memset(s, 0, sizeof *s);
    s->r.s = seed * 0x9E3779B97F4A7C15ull + 1;
    s->agents = 1 + pick(&s->r, 20);
    s->queues = 1 + pick(&s->r, 6);
    w_init(&s->w, (size_t)s->agents, (size_t)s->queues, 40, 8);
    s->hash = 1469598103934665603ull;
    for (int q = 1; q <= s->queues; q++) {
        assert_int_equal(w_queue(&s->w, 0, rand_queue(s, q)), 0);
    }
    for (int a = 1; a <= s->agents; a++) {
        assert_int_equal(w_agent(&s->w, 0, rand_agent(s, a)), 0);
    }
    for (int i = 0; i < events; i++) {
        s->t += pick(&s->r, 4) ? pick(&s->r, 1500) : 0;
        struct blend_acd_event ev = rand_event(s);
        int rc = w_at(&s->w, s->t, ev);
        assert_true(rc == 0 || rc == BLEND_EINVAL || rc == BLEND_ESTATE || rc == BLEND_ELIMIT);
        s->errors += rc != 0;
        if (ev.type == BLEND_ACD_EV_CONTACT_ARRIVE && rc != 0) {
            s->next_contact--; /* keep recent ids dense with live contacts */
        }
        s->events++;
        hash_effects(s);
        s->hash = (s->hash ^ (uint64_t)(rc + 2000)) * 1099511628211ull;
    }
    /* Drain: end every connected contact and fire the remaining timers. */
    w_advance(&s->w, s->t + 10 * 3600 * 1000);
    w_deinit(&s->w);
}

static void random_worlds(void **state)
{
    static struct sim s;
    long events = 0, errors = 0, offers = 0, connects = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        run_seed(&s, seed, EVENTS_PER_SEED);
        events += s.events;
        errors += s.errors;
        offers += s.offers;
        connects += s.connects;
    }
    printf("acd random: %ld external events, %ld refused, %ld offers, %ld connected\n", events,
           errors, offers, connects);
    assert_true(events >= 200000);
    /* The worlds must exercise routing, not only refusals. */
    assert_true(offers > events / 20);
    assert_true(connects > events / 40);
}

static void deterministic_replay(void **state)
{
    static struct sim a, b;
    run_seed(&a, 77, 3000);
    run_seed(&b, 77, 3000);
    assert_true(a.hash == b.hash);
    run_seed(&b, 78, 3000);
    assert_true(a.hash != b.hash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_worlds),
        cmocka_unit_test(deterministic_replay),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return rc;
}
