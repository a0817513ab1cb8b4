/*
 * Scenario parser for `blend sim replay` (format in docs/sim.md). Input is untrusted text: every
 * line is parsed by jansson, every field is type- and range-checked, unknown fields are refused
 * (a typo must not silently change a scenario), and each problem is reported as "FILE:LINE:
 * message" (up to BLEND_SIM_ERRORS_MAX). String ids become integers 1, 2, ... per kind in order
 * of first appearance, so the same file always yields the same engine events.
 *
 * Invariants of a parsed scenario: every queue and agent named anywhere is defined on the
 * config line; action times never decrease; every engine config passes the checks the engine
 * itself makes on ranges (the engine still has the last word at replay).
 */
#include "sim/sim.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest id string (queue, agent, contact, customer, skill, reason). */
#define NAME_BYTES_MAX 256

/* One kind of name: string -> id (1-based, order of first appearance), and back. */
struct names {
    json_t *map;
    char **quoted; /* owned JSON string literals, index id - 1 */
    size_t count;
    size_t cap;
};

struct parser {
    const char *file;
    struct blend_sim_errors *errs;
    struct blend_sim_scenario *s;
    struct names queues, agents, contacts, customers, skills;
    int line;
    int64_t last_at_ms;
    size_t lines_cap;
    int is_oom;
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parser *p, const char *fmt, ...)
{
    if (p->errs->count < BLEND_SIM_ERRORS_MAX) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->errs->items[p->errs->count], sizeof p->errs->items[0], "%s:%d: %s", p->file,
                 p->line, msg);
        p->errs->count++;
    }
    return BLEND_EPARSE;
}

static void names_deinit(struct names *n)
{
    for (size_t i = 0; i < n->count; i++) {
        blend_free(n->quoted[i]);
    }
    blend_free(n->quoted);
    json_decref(n->map);
}

/* The id of `name`, assigned now when it is new. */
static int names_id(struct parser *p, struct names *n, const char *name, int64_t *id)
{
    json_t *v = json_object_get(n->map, name);
    if (v) {
        *id = json_integer_value(v);
        return 0;
    }
    if (n->count >= BLEND_SIM_NAMES_MAX) {
        return perr(p, "too many distinct ids (limit %d)", BLEND_SIM_NAMES_MAX);
    }
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        char **q = blend_realloc(n->quoted, cap * sizeof *q);
        if (!q) {
            p->is_oom = 1;
            return BLEND_ENOMEM;
        }
        n->quoted = q;
        n->cap = cap;
    }
    json_t *str = json_string(name);
    char *dumped = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    char *copy = dumped ? blend_strdup(dumped) : NULL;
    if (dumped) {
        json_free_t free_fn;
        json_get_alloc_funcs(NULL, &free_fn);
        free_fn(dumped);
    }
    if (!copy || json_object_set_new(n->map, name, json_integer((json_int_t)n->count + 1))) {
        blend_free(copy);
        p->is_oom = 1;
        return BLEND_ENOMEM;
    }
    n->quoted[n->count++] = copy;
    *id = (int64_t)n->count;
    return 0;
}

/* ---- Field helpers ------------------------------------------------------------------------- */

static int check_keys(struct parser *p, json_t *obj, const char *what, const char *const *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int known = 0;
        for (size_t i = 0; keys[i] && !known; i++) {
            known = strcmp(key, keys[i]) == 0;
        }
        if (!known) {
            return perr(p, "%s: unknown field \"%s\"", what, key);
        }
    }
    return 0;
}

static int get_string(struct parser *p, json_t *obj, const char *key, int required,
                      const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return required ? perr(p, "missing \"%s\"", key) : 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= NAME_BYTES_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return perr(p, "\"%s\" must be a non-empty string shorter than %d bytes", key,
                    NAME_BYTES_MAX);
    }
    *out = json_string_value(v);
    return 0;
}

static int get_int(struct parser *p, json_t *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        return perr(p, "\"%s\" must be an integer in %lld..%lld", key, (long long)lo,
                    (long long)hi);
    }
    *out = json_integer_value(v);
    return 0;
}

/* Seconds (integer or fraction, >= 0) to milliseconds, rounded. */
static int get_seconds(struct parser *p, json_t *obj, const char *key, int64_t *out_ms)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return 0;
    }
    double s = json_number_value(v);
    if (!json_is_number(v) || !(s >= 0 && s <= BLEND_SIM_SECONDS_MAX)) {
        return perr(p, "\"%s\" must be a number of seconds in 0..%.0f", key, BLEND_SIM_SECONDS_MAX);
    }
    *out_ms = (int64_t)llround(s * 1000.0);
    return 0;
}

/* A time in seconds that may precede the start (restored histories): to milliseconds. */
static int get_time_s(struct parser *p, json_t *obj, const char *key, int64_t *out_ms)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return 0;
    }
    double s = json_number_value(v);
    if (!json_is_number(v) || !(s >= -BLEND_SIM_SECONDS_MAX && s <= BLEND_SIM_SECONDS_MAX)) {
        return perr(p, "\"%s\" must be a time in seconds in %.0f..%.0f", key,
                    -BLEND_SIM_SECONDS_MAX, BLEND_SIM_SECONDS_MAX);
    }
    *out_ms = (int64_t)llround(s * 1000.0);
    return 0;
}

static int parse_channel(struct parser *p, const char *name, enum blend_channel *out)
{
    static const char *const channels[BLEND_CH_COUNT] = {"voice", "chat", "email", "sms", "social"};
    for (int i = 0; i < BLEND_CH_COUNT; i++) {
        if (strcmp(name, channels[i]) == 0) {
            *out = (enum blend_channel)i;
            return 0;
        }
    }
    return perr(p, "unknown channel \"%s\" (voice, chat, email, sms, social)", name);
}

static int parse_strategy(struct parser *p, const char *name, enum blend_acd_strategy *out)
{
    static const char *const names[] = {"longest-idle",    "most-skilled", "least-occupied",
                                        "fewest-contacts", "round-robin",  "ring-all",
                                        "sticky"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum blend_acd_strategy)i;
            return 0;
        }
    }
    return perr(p, "unknown strategy \"%s\"", name);
}

/* {"billing":7,...}: skill names to ids with a level 1..10. */
static int parse_skills(struct parser *p, json_t *v, const char *key, size_t max,
                        struct blend_acd_skill_req *out, uint8_t *count)
{
    if (!v) {
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) > max) {
        return perr(p, "\"%s\" must be an object of at most %zu skills", key, max);
    }
    const char *name;
    json_t *level;
    size_t n = 0;
    json_object_foreach(v, name, level)
    {
        int64_t id;
        if (!json_is_integer(level) || json_integer_value(level) < 1 ||
            json_integer_value(level) > 10) {
            return perr(p, "\"%s\": level of \"%s\" must be an integer in 1..10", key, name);
        }
        if (strlen(name) == 0 || strlen(name) >= NAME_BYTES_MAX) {
            return perr(p, "\"%s\": bad skill name", key);
        }
        int rc = names_id(p, &p->skills, name, &id);
        if (rc) {
            return rc;
        }
        if (id > BLEND_ACD_SKILLS_MAX) {
            return perr(p, "more than %d distinct skills", BLEND_ACD_SKILLS_MAX);
        }
        out[n].skill = (uint16_t)id;
        out[n].min_proficiency = (uint8_t)json_integer_value(level);
        n++;
    }
    *count = (uint8_t)n;
    return 0;
}

/* ---- Config line: queues --------------------------------------------------------------------- */

static int parse_relax(struct parser *p, json_t *v, struct blend_acd_queue_config *q)
{
    static const char *const keys[] = {"after_s", "skills", "add_queue_agents", NULL};
    if (!json_is_array(v) || json_array_size(v) > BLEND_ACD_RELAX_STEPS_MAX) {
        return perr(p, "\"relax\" must be an array of at most %d steps", BLEND_ACD_RELAX_STEPS_MAX);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *st = json_array_get(v, i);
        struct blend_acd_relax_step *r = &q->relax[i];
        const char *add = NULL;
        if (!json_is_object(st) || check_keys(p, st, "relax step", keys)) {
            return perr(p, "\"relax\"[%zu] must be an object with after_s", i);
        }
        int rc = get_seconds(p, st, "after_s", &r->after_ms);
        if (!rc && (!json_object_get(st, "after_s") || r->after_ms <= 0 ||
                    (i > 0 && r->after_ms <= q->relax[i - 1].after_ms))) {
            rc = perr(p, "\"relax\"[%zu].after_s must be > 0 and increasing", i);
        }
        if (!rc && json_object_get(st, "skills")) {
            r->has_skills = 1;
            rc = parse_skills(p, json_object_get(st, "skills"), "skills",
                              BLEND_ACD_QUEUE_SKILLS_MAX, r->skills, &r->skills_count);
        }
        if (!rc) {
            rc = get_string(p, st, "add_queue_agents", 0, &add);
        }
        if (!rc && add) {
            rc = names_id(p, &p->queues, add, &r->add_queue_agents);
        }
        if (rc) {
            return rc;
        }
    }
    q->relax_count = (uint8_t)json_array_size(v);
    return 0;
}

static int parse_overflow(struct parser *p, json_t *v, struct blend_acd_queue_config *q)
{
    const char *target = NULL;
    if (!json_is_object(v) || json_object_size(v) != 1) {
        return perr(p, "\"overflow\" must be {\"queue\":ID}, {\"voicemail\":true} or "
                       "{\"callback\":true}");
    }
    if (json_object_get(v, "queue")) {
        q->overflow = BLEND_OVERFLOW_QUEUE;
        int rc = get_string(p, v, "queue", 1, &target);
        return rc ? rc : names_id(p, &p->queues, target, &q->overflow_queue);
    }
    if (json_is_true(json_object_get(v, "voicemail"))) {
        q->overflow = BLEND_OVERFLOW_VOICEMAIL;
        return 0;
    }
    if (json_is_true(json_object_get(v, "callback"))) {
        q->overflow = BLEND_OVERFLOW_CALLBACK;
        return 0;
    }
    return perr(p, "\"overflow\" must be {\"queue\":ID}, {\"voicemail\":true} or "
                   "{\"callback\":true}");
}

static int parse_channels(struct parser *p, json_t *v, unsigned *out)
{
    if (!v) {
        *out = 1u << BLEND_CH_VOICE;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        return perr(p, "\"channels\" must be a non-empty array of channel names");
    }
    unsigned set = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        enum blend_channel ch = BLEND_CH_VOICE;
        json_t *c = json_array_get(v, i);
        if (!json_is_string(c)) {
            return perr(p, "\"channels\" must hold channel names");
        }
        int rc = parse_channel(p, json_string_value(c), &ch);
        if (rc) {
            return rc;
        }
        set |= 1u << ch;
    }
    *out = set;
    return 0;
}

static int parse_sla(struct parser *p, json_t *v, struct blend_sim_queue_kpi *k)
{
    static const char *const keys[] = {"pct", "within_s", NULL};
    if (!v) {
        return 0;
    }
    json_t *pct = json_object_get(v, "pct");
    if (!json_is_object(v) || check_keys(p, v, "sla", keys) ||
        (pct &&
         (!json_is_number(pct) || json_number_value(pct) < 0 || json_number_value(pct) > 1))) {
        return perr(p, "\"sla\" must be {\"pct\":0..1,\"within_s\":SECONDS}");
    }
    if (pct) {
        k->sla_pct = json_number_value(pct);
    }
    return get_seconds(p, v, "within_s", &k->sla_within_ms);
}

static int parse_queue_numbers(struct parser *p, json_t *o, struct blend_acd_queue_config *q,
                               struct blend_sim_queue_kpi *k)
{
    int64_t priority = 0, accel = 0, cap = 0, no_answer = 0;
    int rc = get_int(p, o, "priority", 0, 1000, &priority);
    rc = rc ? rc : get_int(p, o, "acceleration_per_min", 0, 1000, &accel);
    rc = rc ? rc : get_int(p, o, "max_priority", 0, 1000000, &cap);
    rc = rc ? rc : get_int(p, o, "max_no_answer", 0, 1000, &no_answer);
    rc = rc ? rc : get_seconds(p, o, "wrapup_s", &q->wrapup_ms);
    rc = rc ? rc : get_seconds(p, o, "offer_timeout_s", &q->offer_timeout_ms);
    rc = rc ? rc : get_seconds(p, o, "reoffer_delay_s", &q->reoffer_delay_ms);
    rc = rc ? rc : get_seconds(p, o, "max_wait_s", &q->max_wait_ms);
    rc = rc ? rc : get_seconds(p, o, "sticky_s", &q->sticky_ms);
    rc = rc ? rc : get_seconds(p, o, "short_abandon_s", &k->short_abandon_ms);
    if (!rc && q->offer_timeout_ms <= 0) {
        rc = perr(p, "\"offer_timeout_s\" must be > 0");
    }
    q->priority = (int32_t)priority;
    q->acceleration_per_min = (int32_t)accel;
    q->max_priority = (int32_t)cap;
    q->max_no_answer = (int32_t)no_answer;
    return rc;
}

static int parse_queue(struct parser *p, json_t *o, struct blend_acd_queue_config *q,
                       struct blend_sim_queue_kpi *k)
{
    static const char *const keys[] = {"id",
                                       "channels",
                                       "skills",
                                       "strategy",
                                       "sticky_fallback",
                                       "sticky_s",
                                       "priority",
                                       "acceleration_per_min",
                                       "max_priority",
                                       "wrapup_s",
                                       "offer_timeout_s",
                                       "reoffer_delay_s",
                                       "max_no_answer",
                                       "sla",
                                       "relax",
                                       "max_wait_s",
                                       "overflow",
                                       "short_abandon_s",
                                       NULL};
    const char *id = NULL, *strategy = NULL, *fallback = NULL;
    memset(q, 0, sizeof *q);
    q->offer_timeout_ms = 20000; /* defaults: docs/sim.md */
    q->sticky_ms = 30000;
    k->short_abandon_ms = 5000;
    k->sla_within_ms = 20000;
    k->sla_pct = 0.8;
    if (!json_is_object(o)) {
        return perr(p, "every queue must be an object");
    }
    int rc = check_keys(p, o, "queue", keys);
    rc = rc ? rc : get_string(p, o, "id", 1, &id);
    rc = rc ? rc : names_id(p, &p->queues, id, &q->id);
    rc = rc ? rc : parse_channels(p, json_object_get(o, "channels"), &q->channels);
    rc = rc ? rc
            : parse_skills(p, json_object_get(o, "skills"), "skills", BLEND_ACD_QUEUE_SKILLS_MAX,
                           q->skills, &q->skills_count);
    rc = rc ? rc : get_string(p, o, "strategy", 0, &strategy);
    rc = rc || !strategy ? rc : parse_strategy(p, strategy, &q->strategy);
    rc = rc ? rc : get_string(p, o, "sticky_fallback", 0, &fallback);
    rc = rc || !fallback ? rc : parse_strategy(p, fallback, &q->sticky_fallback);
    if (!rc &&
        (q->sticky_fallback == BLEND_STRAT_RING_ALL || q->sticky_fallback == BLEND_STRAT_STICKY)) {
        rc = perr(p, "\"sticky_fallback\" may not be ring-all or sticky");
    }
    rc = rc ? rc : parse_queue_numbers(p, o, q, k);
    rc = rc ? rc : parse_sla(p, json_object_get(o, "sla"), k);
    rc = rc || !json_object_get(o, "relax") ? rc : parse_relax(p, json_object_get(o, "relax"), q);
    rc = rc || !json_object_get(o, "overflow")
             ? rc
             : parse_overflow(p, json_object_get(o, "overflow"), q);
    if (!rc && q->overflow != BLEND_OVERFLOW_NONE && q->max_wait_ms == 0) {
        rc = perr(p, "queue \"%s\": \"overflow\" needs \"max_wait_s\"", id);
    }
    if (!rc && q->overflow == BLEND_OVERFLOW_QUEUE && q->overflow_queue == q->id) {
        rc = perr(p, "queue \"%s\" overflows to itself", id);
    }
    return rc;
}

/* ---- Config line: agents ------------------------------------------------------------------- */

static int parse_capacity(struct parser *p, json_t *v, struct blend_acd_agent_config *a)
{
    static const uint8_t defaults[BLEND_CH_COUNT] = {1, 3, 5, 3, 3};
    if (!v) {
        memcpy(a->capacity, defaults, sizeof a->capacity);
        return 0;
    }
    if (!json_is_object(v)) {
        return perr(p, "\"capacity\" must be an object of channel: count");
    }
    const char *name;
    json_t *n;
    json_object_foreach(v, name, n)
    {
        enum blend_channel ch = BLEND_CH_VOICE;
        int rc = parse_channel(p, name, &ch);
        if (rc) {
            return rc;
        }
        if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > 255) {
            return perr(p, "capacity of \"%s\" must be an integer in 0..255", name);
        }
        a->capacity[ch] = (uint8_t)json_integer_value(n);
    }
    return 0;
}

static int parse_agent(struct parser *p, json_t *o, struct blend_acd_agent_config *a)
{
    static const char *const keys[] = {"id", "skills", "capacity", "voice_exclusive", NULL};
    const char *id = NULL;
    struct blend_acd_skill_req req[BLEND_ACD_AGENT_SKILLS_MAX];
    memset(a, 0, sizeof *a);
    a->voice_exclusive = 1;
    if (!json_is_object(o)) {
        return perr(p, "every agent must be an object");
    }
    int rc = check_keys(p, o, "agent", keys);
    rc = rc ? rc : get_string(p, o, "id", 1, &id);
    rc = rc ? rc : names_id(p, &p->agents, id, &a->id);
    rc = rc ? rc
            : parse_skills(p, json_object_get(o, "skills"), "skills", BLEND_ACD_AGENT_SKILLS_MAX,
                           req, &a->skills_count);
    for (int i = 0; !rc && i < a->skills_count; i++) {
        a->skills[i].skill = req[i].skill;
        a->skills[i].proficiency = req[i].min_proficiency;
    }
    rc = rc ? rc : parse_capacity(p, json_object_get(o, "capacity"), a);
    json_t *vx = json_object_get(o, "voice_exclusive");
    if (!rc && vx) {
        if (!json_is_boolean(vx)) {
            rc = perr(p, "\"voice_exclusive\" must be true or false");
        }
        a->voice_exclusive = json_is_true(vx);
    }
    return rc;
}

static int parse_config(struct parser *p, json_t *o)
{
    static const char *const keys[] = {"at", "do", "queues", "agents", "accept", "end_s", NULL};
    struct blend_sim_scenario *s = p->s;
    json_t *qs = json_object_get(o, "queues"), *as = json_object_get(o, "agents");
    const char *accept = NULL;
    int rc = check_keys(p, o, "config", keys);
    if (rc) {
        return rc;
    }
    if (!json_is_array(qs) || json_array_size(qs) == 0 || !json_is_array(as)) {
        return perr(p, "config needs \"queues\" (non-empty array) and \"agents\" (array)");
    }
    rc = get_string(p, o, "accept", 0, &accept);
    if (!rc && accept && strcmp(accept, "auto") != 0 && strcmp(accept, "manual") != 0) {
        rc = perr(p, "\"accept\" must be \"auto\" or \"manual\"");
    }
    s->accept =
        accept && strcmp(accept, "auto") == 0 ? BLEND_SIM_ACCEPT_AUTO : BLEND_SIM_ACCEPT_MANUAL;
    rc = rc ? rc : get_seconds(p, o, "end_s", &s->end_ms);
    if (rc) {
        return rc;
    }
    if (json_array_size(qs) > BLEND_SIM_NAMES_MAX || json_array_size(as) > BLEND_SIM_NAMES_MAX) {
        return perr(p, "too many queues or agents");
    }
    s->queues = blend_calloc(json_array_size(qs), sizeof *s->queues);
    s->queue_kpis = blend_calloc(json_array_size(qs), sizeof *s->queue_kpis);
    s->agents = blend_calloc(json_array_size(as) + 1, sizeof *s->agents);
    if (!s->queues || !s->queue_kpis || !s->agents) {
        p->is_oom = 1;
        return BLEND_ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(qs) && !rc; i++) {
        rc = parse_queue(p, json_array_get(qs, i), &s->queues[i], &s->queue_kpis[i]);
        s->queues_count += !rc;
        /* Ids are given in order of first appearance, and a queue may be named (overflow,
         * add_queue_agents) before it is defined, so definitions need not be 1, 2, 3... */
        for (size_t j = 0; j < i && !rc; j++) {
            if (s->queues[j].id == s->queues[i].id) {
                rc = perr(p, "queue defined twice");
            }
        }
    }
    for (size_t i = 0; i < json_array_size(as) && !rc; i++) {
        rc = parse_agent(p, json_array_get(as, i), &s->agents[i]);
        s->agents_count += !rc;
        if (!rc && (size_t)s->agents[i].id != i + 1) {
            rc = perr(p, "agent defined twice");
        }
    }
    if (!rc && p->queues.count != s->queues_count) {
        rc = perr(p, "a queue is named (overflow or add_queue_agents) but never defined");
    }
    return rc;
}

/* ---- Action lines -------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum blend_acd_event_type type;
} actions[] = {
    {"agent.login", BLEND_ACD_EV_AGENT_LOGIN},
    {"agent.ready", BLEND_ACD_EV_AGENT_READY},
    {"agent.not_ready", BLEND_ACD_EV_AGENT_NOT_READY},
    {"agent.logout", BLEND_ACD_EV_AGENT_LOGOUT},
    {"wrapup.end", BLEND_ACD_EV_WRAPUP_END},
    {"contact.arrive", BLEND_ACD_EV_CONTACT_ARRIVE},
    {"offer.accept", BLEND_ACD_EV_OFFER_ACCEPT},
    {"offer.reject", BLEND_ACD_EV_OFFER_REJECT},
    {"contact.end", BLEND_ACD_EV_CONTACT_END},
    {"contact.abandon", BLEND_ACD_EV_CONTACT_ABANDON},
    {"callback.request", BLEND_ACD_EV_CALLBACK_REQUEST},
    {"contact.priority", BLEND_ACD_EV_CONTACT_PRIORITY},
    {"agent.restore", BLEND_ACD_EV_AGENT_RESTORE},
    {"contact.restore", BLEND_ACD_EV_CONTACT_RESTORE},
    {"contact.transfer", BLEND_ACD_EV_CONTACT_TRANSFER},
};

/* An agent or queue named on an action line must be defined on the config line. */
static int defined_id(struct parser *p, struct names *n, json_t *o, const char *key, int64_t *id)
{
    const char *name = NULL;
    int rc = get_string(p, o, key, 1, &name);
    if (rc) {
        return rc;
    }
    json_t *v = json_object_get(n->map, name);
    if (!v) {
        return perr(p, "unknown %s \"%s\" (not in the config line)", key, name);
    }
    *id = json_integer_value(v);
    return 0;
}

static int parse_arrive(struct parser *p, json_t *o, struct blend_sim_line *l)
{
    static const char *const keys[] = {"at",         "do",       "contact",  "queue",
                                       "channel",    "priority", "customer", "handle_s",
                                       "patience_s", "skills",   NULL};
    const char *contact = NULL, *channel = NULL, *customer = NULL;
    int64_t priority = 0;
    int rc = check_keys(p, o, "contact.arrive", keys);
    rc = rc ? rc : get_string(p, o, "contact", 1, &contact);
    rc = rc ? rc : names_id(p, &p->contacts, contact, &l->ev.u.arrive.contact);
    rc = rc ? rc : defined_id(p, &p->queues, o, "queue", &l->ev.u.arrive.queue);
    rc = rc ? rc : get_string(p, o, "channel", 0, &channel);
    l->ev.u.arrive.channel = BLEND_CH_VOICE;
    rc = rc || !channel ? rc : parse_channel(p, channel, &l->ev.u.arrive.channel);
    rc = rc ? rc : get_int(p, o, "priority", 0, 1000, &priority);
    rc = rc ? rc : get_string(p, o, "customer", 0, &customer);
    rc = rc || !customer ? rc : names_id(p, &p->customers, customer, &l->ev.u.arrive.customer);
    rc = rc ? rc : get_seconds(p, o, "handle_s", &l->handle_ms);
    rc = rc ? rc : get_seconds(p, o, "patience_s", &l->patience_ms);
    /* The contact's own required skills (docs/routing.md §Queues and eligibility). */
    rc = rc ? rc
            : parse_skills(p, json_object_get(o, "skills"), "skills", BLEND_ACD_QUEUE_SKILLS_MAX,
                           l->ev.u.arrive.skills, &l->ev.u.arrive.skills_count);
    l->ev.u.arrive.priority = (int32_t)priority;
    return rc;
}

/* agent.restore: state ready / not_ready (+ reason) / wrap_up (+ wrapup_until_s), since_s. */
static int parse_agent_restore(struct parser *p, json_t *o, struct blend_sim_line *l)
{
    static const char *const keys[] = {"at",     "do",      "agent",          "state",
                                       "reason", "since_s", "wrapup_until_s", NULL};
    struct blend_acd_agent_restore *r = &l->ev.u.agent_restore;
    const char *state = NULL, *reason = NULL;
    r->since_ms = l->at_ms;
    int rc = check_keys(p, o, "agent.restore", keys);
    rc = rc ? rc : defined_id(p, &p->agents, o, "agent", &r->agent);
    rc = rc ? rc : get_string(p, o, "state", 1, &state);
    rc = rc ? rc : get_string(p, o, "reason", 0, &reason);
    rc = rc ? rc : get_time_s(p, o, "since_s", &r->since_ms);
    rc = rc ? rc : get_time_s(p, o, "wrapup_until_s", &r->wrapup_until_ms);
    if (rc) {
        return rc;
    }
    int has_until = json_object_get(o, "wrapup_until_s") != NULL;
    if (strcmp(state, "ready") == 0 && !reason && !has_until) {
        r->presence = BLEND_PRESENCE_READY;
    } else if (strcmp(state, "not_ready") == 0 && reason && !has_until) {
        r->presence = BLEND_PRESENCE_NOT_READY;
    } else if (strcmp(state, "wrap_up") == 0 && !reason && has_until) {
        r->presence = BLEND_PRESENCE_WRAP_UP;
    } else {
        return perr(p, "\"state\" must be \"ready\", \"not_ready\" with \"reason\", or "
                       "\"wrap_up\" with \"wrapup_until_s\"");
    }
    if (reason && strlen(reason) >= BLEND_ACD_REASON_BYTES) {
        return perr(p, "\"reason\" is longer than %d bytes", BLEND_ACD_REASON_BYTES - 1);
    }
    if (reason) {
        memcpy(r->reason, reason, strlen(reason) + 1);
    }
    if (r->since_ms > l->at_ms) {
        return perr(p, "\"since_s\" is later than \"at\"");
    }
    return 0;
}

/* contact.restore: the fields of contact.arrive (own skills included) plus enqueued_s,
 * callback and agent. */
static int parse_contact_restore(struct parser *p, json_t *o, struct blend_sim_line *l)
{
    static const char *const keys[] = {
        "at",         "do",       "contact", "queue",    "channel",    "priority", "customer",
        "enqueued_s", "callback", "agent",   "handle_s", "patience_s", "skills",   NULL};
    struct blend_acd_contact_restore *r = &l->ev.u.contact_restore;
    const char *contact = NULL, *channel = NULL, *customer = NULL;
    int64_t priority = 0;
    r->enqueued_ms = l->at_ms;
    r->channel = BLEND_CH_VOICE;
    int rc = check_keys(p, o, "contact.restore", keys);
    rc = rc ? rc : get_string(p, o, "contact", 1, &contact);
    rc = rc ? rc : names_id(p, &p->contacts, contact, &r->contact);
    rc = rc ? rc : defined_id(p, &p->queues, o, "queue", &r->queue);
    rc = rc ? rc : get_string(p, o, "channel", 0, &channel);
    rc = rc || !channel ? rc : parse_channel(p, channel, &r->channel);
    rc = rc ? rc : get_int(p, o, "priority", 0, 1000, &priority);
    rc = rc ? rc : get_string(p, o, "customer", 0, &customer);
    rc = rc || !customer ? rc : names_id(p, &p->customers, customer, &r->customer);
    rc = rc ? rc : get_time_s(p, o, "enqueued_s", &r->enqueued_ms);
    rc = rc || !json_object_get(o, "agent") ? rc : defined_id(p, &p->agents, o, "agent", &r->agent);
    rc = rc ? rc : get_seconds(p, o, "handle_s", &l->handle_ms);
    rc = rc ? rc : get_seconds(p, o, "patience_s", &l->patience_ms);
    rc = rc ? rc
            : parse_skills(p, json_object_get(o, "skills"), "skills", BLEND_ACD_QUEUE_SKILLS_MAX,
                           r->skills, &r->skills_count);
    json_t *cb = json_object_get(o, "callback");
    if (!rc && cb && !json_is_boolean(cb)) {
        rc = perr(p, "\"callback\" must be true or false");
    }
    if (!rc && r->enqueued_ms > l->at_ms) {
        rc = perr(p, "\"enqueued_s\" is later than \"at\"");
    }
    r->is_callback = json_is_true(cb);
    r->priority = (int32_t)priority;
    return rc;
}

/* contact.transfer: by `agent`, to `queue` or to `to_agent` (exactly one). */
static int parse_transfer(struct parser *p, json_t *o, struct blend_sim_line *l)
{
    static const char *const keys[] = {"at", "do", "contact", "agent", "queue", "to_agent", NULL};
    struct blend_acd_transfer *t = &l->ev.u.transfer;
    const char *contact = NULL;
    int rc = check_keys(p, o, "contact.transfer", keys);
    rc = rc ? rc : get_string(p, o, "contact", 1, &contact);
    rc = rc ? rc : names_id(p, &p->contacts, contact, &t->contact);
    rc = rc ? rc : defined_id(p, &p->agents, o, "agent", &t->agent);
    int has_queue = json_object_get(o, "queue") != NULL;
    int has_agent = json_object_get(o, "to_agent") != NULL;
    if (!rc && has_queue == has_agent) {
        rc = perr(p, "contact.transfer needs exactly one of \"queue\" and \"to_agent\"");
    }
    rc = rc || !has_queue ? rc : defined_id(p, &p->queues, o, "queue", &t->to_queue);
    return rc || !has_agent ? rc : defined_id(p, &p->agents, o, "to_agent", &t->to_agent);
}

static int parse_action_fields(struct parser *p, json_t *o, struct blend_sim_line *l)
{
    static const char *const agent_keys[] = {"at", "do", "agent", NULL};
    static const char *const nr_keys[] = {"at", "do", "agent", "reason", NULL};
    static const char *const offer_keys[] = {"at", "do", "contact", "agent", NULL};
    static const char *const contact_keys[] = {"at", "do", "contact", NULL};
    static const char *const prio_keys[] = {"at", "do", "contact", "priority", NULL};
    const char *name = NULL;
    int64_t priority = 0;
    int rc;
    switch (l->ev.type) {
    case BLEND_ACD_EV_CONTACT_ARRIVE:
        return parse_arrive(p, o, l);
    case BLEND_ACD_EV_AGENT_RESTORE:
        return parse_agent_restore(p, o, l);
    case BLEND_ACD_EV_CONTACT_RESTORE:
        return parse_contact_restore(p, o, l);
    case BLEND_ACD_EV_CONTACT_TRANSFER:
        return parse_transfer(p, o, l);
    case BLEND_ACD_EV_AGENT_NOT_READY:
        rc = check_keys(p, o, "agent.not_ready", nr_keys);
        rc = rc ? rc : defined_id(p, &p->agents, o, "agent", &l->ev.u.not_ready.agent);
        rc = rc ? rc : get_string(p, o, "reason", 1, &name);
        if (!rc && strlen(name) >= BLEND_ACD_REASON_BYTES) {
            rc = perr(p, "\"reason\" is longer than %d bytes", BLEND_ACD_REASON_BYTES - 1);
        }
        if (!rc) {
            memcpy(l->ev.u.not_ready.reason, name, strlen(name) + 1);
        }
        return rc;
    case BLEND_ACD_EV_OFFER_ACCEPT:
    case BLEND_ACD_EV_OFFER_REJECT:
        rc = check_keys(p, o, "offer", offer_keys);
        rc = rc ? rc : get_string(p, o, "contact", 1, &name);
        rc = rc ? rc : names_id(p, &p->contacts, name, &l->ev.u.contact.contact);
        return rc ? rc : defined_id(p, &p->agents, o, "agent", &l->ev.u.contact.agent);
    case BLEND_ACD_EV_CONTACT_END:
    case BLEND_ACD_EV_CONTACT_ABANDON:
    case BLEND_ACD_EV_CALLBACK_REQUEST:
    case BLEND_ACD_EV_CONTACT_PRIORITY:
        rc = check_keys(p, o, "contact action",
                        l->ev.type == BLEND_ACD_EV_CONTACT_PRIORITY ? prio_keys : contact_keys);
        rc = rc ? rc : get_string(p, o, "contact", 1, &name);
        rc = rc ? rc : names_id(p, &p->contacts, name, &l->ev.u.contact.contact);
        if (!rc && l->ev.type == BLEND_ACD_EV_CONTACT_PRIORITY) {
            if (!json_object_get(o, "priority")) {
                rc = perr(p, "missing \"priority\"");
            }
            rc = rc ? rc : get_int(p, o, "priority", 0, 1000, &priority);
            l->ev.u.contact.priority = (int32_t)priority;
        }
        return rc;
    default:
        rc = check_keys(p, o, "agent action", agent_keys);
        return rc ? rc : defined_id(p, &p->agents, o, "agent", &l->ev.u.id);
    }
}

static int parse_action(struct parser *p, json_t *o, const char *what, int64_t at_ms)
{
    struct blend_sim_scenario *s = p->s;
    size_t a = 0;
    while (a < sizeof actions / sizeof actions[0] && strcmp(actions[a].name, what) != 0) {
        a++;
    }
    if (a == sizeof actions / sizeof actions[0]) {
        return perr(p, "unknown action \"%s\"", what);
    }
    if (at_ms < p->last_at_ms) {
        return perr(p, "\"at\" goes back in time");
    }
    if (s->lines_count >= BLEND_SIM_LINES_MAX) {
        return perr(p, "too many lines (limit %d)", BLEND_SIM_LINES_MAX);
    }
    if (s->lines_count == p->lines_cap) {
        size_t cap = p->lines_cap ? p->lines_cap * 2 : 64;
        struct blend_sim_line *lines = blend_realloc(s->lines, cap * sizeof *lines);
        if (!lines) {
            p->is_oom = 1;
            return BLEND_ENOMEM;
        }
        s->lines = lines;
        p->lines_cap = cap;
    }
    struct blend_sim_line *l = &s->lines[s->lines_count];
    memset(l, 0, sizeof *l);
    l->line = p->line;
    l->at_ms = at_ms;
    l->ev.type = actions[a].type;
    l->handle_ms = -1;
    l->patience_ms = -1;
    int rc = parse_action_fields(p, o, l);
    if (rc == 0) {
        s->lines_count++;
        p->last_at_ms = at_ms;
    }
    return rc;
}

static int parse_line(struct parser *p, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        return perr(p, "bad JSON: %s", jerr.text);
    }
    int rc = 0;
    int64_t at_ms = -1;
    json_t *what = json_object_get(o, "do");
    if (!json_is_object(o) || !json_is_string(what)) {
        rc = perr(p, "a line must be an object with \"at\" and \"do\"");
    }
    rc = rc ? rc : get_seconds(p, o, "at", &at_ms);
    if (!rc && at_ms < 0) {
        rc = perr(p, "missing \"at\"");
    }
    int is_config = !rc && strcmp(json_string_value(what), "config") == 0;
    int is_first = p->s->queues == NULL;
    if (!rc && is_config != is_first) {
        rc = perr(p, is_first ? "the first line must be {\"at\":0,\"do\":\"config\",...}"
                              : "only the first line may be a config line");
    }
    if (!rc && is_config && at_ms != 0) {
        rc = perr(p, "the config line must be at 0");
    }
    if (!rc) {
        rc = is_config ? parse_config(p, o) : parse_action(p, o, json_string_value(what), at_ms);
    }
    json_decref(o);
    return rc;
}

/* ---- Whole file ------------------------------------------------------------------------------ */

static int names_take(struct names *n, char ***out, size_t *count)
{
    *out = n->quoted;
    *count = n->count;
    n->quoted = NULL;
    n->count = 0;
    return 0;
}

static int parse_all(struct parser *p, const char *text, size_t len)
{
    int rc = 0;
    size_t pos = 0;
    while (pos < len && !p->is_oom && p->errs->count < BLEND_SIM_ERRORS_MAX) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        p->line++;
        size_t b = pos, e = end;
        while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) {
            b++;
        }
        while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) {
            e--;
        }
        if (e > b) {
            int lrc = parse_line(p, text + b, e - b);
            rc = rc ? rc : lrc;
            if (lrc && !p->s->queues) {
                break; /* without a config nothing after it can be checked */
            }
        }
        pos = end + 1;
    }
    if (!rc && !p->s->queues) {
        p->line = p->line ? p->line : 1;
        rc = perr(p, "empty scenario: the first line must be a config line");
    }
    return p->is_oom ? BLEND_ENOMEM : rc;
}

int blend_sim_scenario_parse(const char *text, size_t len, const char *file,
                             struct blend_sim_scenario **out, struct blend_sim_errors *errs)
{
    BLEND_ASSERT(text || len == 0);
    BLEND_ASSERT(file && out && errs);
    errs->count = 0;
    struct parser p = {.file = file, .errs = errs};
    if (len > BLEND_SIM_FILE_BYTES_MAX) {
        p.line = 1;
        perr(&p, "file larger than %d bytes", BLEND_SIM_FILE_BYTES_MAX);
        return BLEND_ELIMIT;
    }
    p.s = blend_calloc(1, sizeof *p.s);
    struct names *all[] = {&p.queues, &p.agents, &p.contacts, &p.customers, &p.skills};
    int rc = p.s ? 0 : BLEND_ENOMEM;
    for (size_t i = 0; i < 5 && !rc; i++) {
        all[i]->map = json_object();
        rc = all[i]->map ? 0 : BLEND_ENOMEM;
    }
    if (!rc) {
        p.s->end_ms = -1;
        rc = parse_all(&p, text, len);
    }
    if (!rc) {
        names_take(&p.queues, &p.s->queue_names, &p.s->queue_names_count);
        names_take(&p.agents, &p.s->agent_names, &p.s->agent_names_count);
        names_take(&p.contacts, &p.s->contact_names, &p.s->contact_names_count);
        p.s->customers_count = p.customers.count;
    }
    for (size_t i = 0; i < 5; i++) {
        names_deinit(all[i]);
    }
    if (rc) {
        blend_sim_scenario_destroy(p.s);
        return rc;
    }
    *out = p.s;
    return 0;
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        blend_free(names[i]);
    }
    blend_free(names);
}

void blend_sim_scenario_destroy(struct blend_sim_scenario *s)
{
    if (!s) {
        return;
    }
    blend_free(s->queues);
    blend_free(s->queue_kpis);
    blend_free(s->agents);
    blend_free(s->lines);
    free_names(s->queue_names, s->queue_names_count);
    free_names(s->agent_names, s->agent_names_count);
    free_names(s->contact_names, s->contact_names_count);
    blend_free(s);
}
