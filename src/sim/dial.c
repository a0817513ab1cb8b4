/*
 * The outbound simulator (dial.h has the world it draws). A fixed 100 ms step moves agents and
 * calls; the pacer is asked every 500 ms, as the server's campaign loop asks it, with the
 * agents free and busy (and for how long) and the calls ringing (and for how long). Invariants
 * checked as it runs: calls ringing never exceed the pacer's limit, an agent holds at most one
 * contact, progressive never drops.
 */
#include "sim/dial.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "sim/model_int.h"

#define STEP_MS 100
#define DECIDE_EVERY_MS 500
/* A busy signal comes back within 1-3 s. */
#define BUSY_MS_MIN 1000
#define BUSY_MS_SPAN 2000
/* Drawn durations are at least this long. */
#define DRAW_MS_MIN 100

static const char *const MODE_NAMES[] = {"preview", "progressive", "power", "predictive"};

const char *blend_sim_dial_mode_name(enum blend_dial_mode mode)
{
    return mode >= BLEND_DIAL_PREVIEW && mode <= BLEND_DIAL_PREDICTIVE ? MODE_NAMES[mode] : "?";
}

int blend_sim_dial_is_model(const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    int yes = json_is_object(root) && json_object_get(root, "outbound") != NULL;
    json_decref(root);
    return yes;
}

/* ---- Model ---------------------------------------------------------------------------------- */

void blend_sim_dial_model_destroy(struct blend_sim_dial_model *m)
{
    if (m) {
        blend_free(m->answer_rates);
        blend_free(m);
    }
}

static int parse_modes(struct blend__sim_mparser *p, json_t *v, unsigned *out)
{
    if (!v) {
        *out = 0xF;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 4) {
        return blend__sim_merr(p, "$.outbound.modes", "must be an array of 1..4 mode names");
    }
    unsigned modes = 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        int found = -1;
        for (int k = 0; s && k < 4 && found < 0; k++) {
            found = strcmp(s, MODE_NAMES[k]) == 0 ? k : -1;
        }
        if (found < 0 || (modes & (1u << found))) {
            return blend__sim_merr(p, "$.outbound.modes",
                                   "each must be one of \"preview\", \"progressive\", "
                                   "\"power\", \"predictive\", once");
        }
        modes |= 1u << found;
    }
    *out = modes;
    return 0;
}

static int parse_answer_rates(struct blend__sim_mparser *p, json_t *v,
                              struct blend_sim_dial_model *m)
{
    const char *path = "$.outbound.answer_rate";
    m->answer_rates = blend_calloc(m->intervals_count, sizeof *m->answer_rates);
    if (!m->answer_rates) {
        p->is_oom = 1;
        return BLEND_ENOMEM;
    }
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if (!(x >= 0.01 && x <= 0.99)) {
            return blend__sim_merr(p, path, "must be a number in [0.01, 0.99]");
        }
        for (size_t i = 0; i < m->intervals_count; i++) {
            m->answer_rates[i] = x;
        }
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) != m->intervals_count) {
        return blend__sim_merr(p, path,
                               "must be a number or an array of %zu numbers (one per interval)",
                               m->intervals_count);
    }
    for (size_t i = 0; i < m->intervals_count; i++) {
        double x = json_number_value(json_array_get(v, i));
        if (!json_is_number(json_array_get(v, i)) || !(x >= 0.01 && x <= 0.99)) {
            return blend__sim_merr(p, path, "item %zu must be a number in [0.01, 0.99]", i);
        }
        m->answer_rates[i] = x;
    }
    return 0;
}

static int parse_amd(struct blend__sim_mparser *p, json_t *v, struct blend_sim_dial_model *m)
{
    static const char *const keys[] = {"human_as_machine", "machine_as_human", "machine_handle_s",
                                       NULL};
    if (!v) {
        return 0;
    }
    if (!json_is_object(v)) {
        return blend__sim_merr(p, "$.outbound.amd", "must be an object");
    }
    double handle = (double)m->machine_handle_ms / 1000.0;
    int rc = blend__sim_mcheck_keys(p, v, "$.outbound.amd", keys);
    rc = rc ? rc
            : blend__sim_mget_number(p, v, "$.outbound.amd", "human_as_machine", 0, 0, 0, 0.5,
                                     &m->amd_human_as_machine);
    rc = rc ? rc
            : blend__sim_mget_number(p, v, "$.outbound.amd", "machine_as_human", 0, 0, 0, 0.5,
                                     &m->amd_machine_as_human);
    rc = rc ? rc
            : blend__sim_mget_number(p, v, "$.outbound.amd", "machine_handle_s", 0, 0, 1, 600,
                                     &handle);
    m->machine_handle_ms = blend__sim_s_to_ms(handle);
    return rc;
}

static int parse_dist_field(struct blend__sim_mparser *p, json_t *o, const char *key,
                            int is_required, struct blend_sim_distribution *out)
{
    char path[64];
    snprintf(path, sizeof path, "$.outbound.%s", key);
    json_t *v = json_object_get(o, key);
    if (!v) {
        return is_required ? blend__sim_merr(p, "$.outbound", "missing \"%s\"", key) : 0;
    }
    return blend__sim_parse_distribution(p, v, path, 0, out);
}

static int parse_outbound(struct blend__sim_mparser *p, json_t *o, struct blend_sim_dial_model *m)
{
    static const char *const keys[] = {"agents",
                                       "modes",
                                       "list_size",
                                       "answer_rate",
                                       "machine_rate",
                                       "busy_rate",
                                       "answer_delay",
                                       "machine_delay",
                                       "no_answer_s",
                                       "talk",
                                       "wrapup_s",
                                       "connect_within_s",
                                       "preview_s",
                                       "amd",
                                       "rule",
                                       "power_ratio",
                                       "abandon_target",
                                       "max_lines_per_agent",
                                       NULL};
    const char *path = "$.outbound";
    if (!json_is_object(o)) {
        return blend__sim_merr(p, path, "must be an object");
    }
    int rc = blend__sim_mcheck_keys(p, o, path, keys);
    double agents = 0, list = 1e6, no_answer = 25, wrap = 10, within = 2, preview = 10;
    m->machine_rate = 0.15;
    m->busy_rate = 0.1;
    m->answer_delay = (struct blend_sim_distribution){BLEND_SIM_DIST_LOGNORMAL, 10, 5};
    m->machine_delay = (struct blend_sim_distribution){BLEND_SIM_DIST_LOGNORMAL, 6, 3};
    m->amd_human_as_machine = 0.02;
    m->amd_machine_as_human = 0.1;
    m->machine_handle_ms = 8000;
    blend_pacer_params_default(&m->pacer);
    rc = rc ? rc
            : blend__sim_mget_number(p, o, path, "agents", 1, 1, 0, BLEND_SIM_DIAL_AGENTS_MAX,
                                     &agents);
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "list_size", 0, 1, 0, 1e9, &list);
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "machine_rate", 0, 0, 0, 1, &m->machine_rate);
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "busy_rate", 0, 0, 0, 1, &m->busy_rate);
    /* The rule: an unanswered call rings at least 15 s (KPIS.md §Rules). */
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "no_answer_s", 0, 15, 0, 120, &no_answer);
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "wrapup_s", 0, 0, 0, 3600, &wrap);
    /* The rule: a live answer without an agent within 2 s is dropped. */
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "connect_within_s", 0, 0, 0, 2, &within);
    rc = rc ? rc : blend__sim_mget_number(p, o, path, "preview_s", 0, 0, 0, 600, &preview);
    rc = rc ? rc
            : blend__sim_mget_number(p, o, path, "power_ratio", 0, 1, 0, BLEND_PACER_LINES_MAX,
                                     &m->pacer.power_ratio);
    rc = rc ? rc
            : blend__sim_mget_number(p, o, path, "abandon_target", 0, 0, 1, 0.2,
                                     &m->pacer.abandon_target);
    rc = rc ? rc
            : blend__sim_mget_number(p, o, path, "max_lines_per_agent", 0, 1, 0,
                                     BLEND_PACER_LINES_MAX, &m->pacer.max_lines_per_agent);
    rc = rc ? rc : parse_modes(p, json_object_get(o, "modes"), &m->modes);
    rc = rc ? rc : parse_dist_field(p, o, "answer_delay", 0, &m->answer_delay);
    rc = rc ? rc : parse_dist_field(p, o, "machine_delay", 0, &m->machine_delay);
    rc = rc ? rc : parse_dist_field(p, o, "talk", 1, &m->talk);
    rc = rc ? rc : parse_amd(p, json_object_get(o, "amd"), m);
    json_t *rule = json_object_get(o, "rule");
    if (!rc && rule &&
        !(json_is_string(rule) && (strcmp(json_string_value(rule), "us") == 0 ||
                                   strcmp(json_string_value(rule), "uk") == 0))) {
        rc = blend__sim_merr(p, path, "\"rule\" must be \"us\" or \"uk\"");
    }
    json_t *rates = json_object_get(o, "answer_rate");
    if (!rc && !rates) {
        rc = blend__sim_merr(p, path, "missing \"answer_rate\"");
    }
    rc = rc ? rc : parse_answer_rates(p, rates, m);
    if (rc) {
        return rc;
    }
    m->agents = (int)agents;
    m->list_size = (int64_t)list;
    m->no_answer_ms = blend__sim_s_to_ms(no_answer);
    m->wrapup_ms = blend__sim_s_to_ms(wrap);
    m->connect_within_ms = blend__sim_s_to_ms(within);
    m->preview_ms = blend__sim_s_to_ms(preview);
    m->is_uk = rule && strcmp(json_string_value(rule), "uk") == 0;
    m->pacer.window_ms = m->is_uk ? (int64_t)24 * 3600 * 1000 : m->pacer.window_ms;
    m->pacer.prior_answer_ms = (int64_t)(m->answer_delay.mean_s * 1000);
    m->pacer.prior_handle_ms = (int64_t)(m->talk.mean_s * 1000) + m->wrapup_ms;
    if (agents != floor(agents) || list != floor(list)) {
        return blend__sim_merr(p, path, "\"agents\" and \"list_size\" must be whole numbers");
    }
    return 0;
}

int blend_sim_dial_model_parse(const char *text, size_t len, const char *file,
                               struct blend_sim_dial_model **out, struct blend_sim_errors *errs)
{
    static const char *const keys[] = {"duration_s", "interval_s", "outbound", NULL};
    BLEND_ASSERT(text && file && out && errs);
    errs->count = 0;
    struct blend__sim_mparser p = {.file = file, .errs = errs};
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return blend__sim_merr(&p, "$", "not a JSON object (%s)", root ? "" : jerr.text);
    }
    struct blend_sim_dial_model *m = blend_calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return BLEND_ENOMEM;
    }
    double duration = 0, interval = 3600;
    int rc = blend__sim_mcheck_keys(&p, root, "$", keys);
    if (!rc && (json_object_get(root, "queues") || json_object_get(root, "agents"))) {
        rc = blend__sim_merr(&p, "$", "an outbound model has no queues or agents of its own");
    }
    rc = rc ? rc
            : blend__sim_mget_number(&p, root, "$", "duration_s", 1, 0, 1, 7 * 86400.0, &duration);
    rc =
        rc ? rc : blend__sim_mget_number(&p, root, "$", "interval_s", 0, 60, 0, 86400.0, &interval);
    if (!rc) {
        m->duration_ms = blend__sim_s_to_ms(duration);
        m->interval_ms = blend__sim_s_to_ms(interval);
        m->intervals_count = (size_t)((m->duration_ms + m->interval_ms - 1) / m->interval_ms);
        rc = parse_outbound(&p, json_object_get(root, "outbound"), m);
    }
    json_decref(root);
    if (rc) {
        blend_sim_dial_model_destroy(m);
        return p.is_oom ? BLEND_ENOMEM : rc;
    }
    *out = m;
    return 0;
}

/* ---- Run ------------------------------------------------------------------------------------ */

enum agent_state { A_FREE, A_PREVIEW, A_WAITING, A_BUSY };

struct agent {
    enum agent_state state;
    int64_t since_ms, until_ms, handle_ms;
};

struct call {
    int64_t dialled_ms, ends_ms;
    enum blend_dial_outcome truth;
    int verdict_human; /* AMD's verdict on an answered call */
    int agent;         /* preview: the agent waiting for it; else -1 */
};

struct waiting {
    int64_t deadline_ms;
    int is_person;
};

struct run {
    const struct blend_sim_dial_model *m;
    struct blend_sim_rng rng;
    struct blend_pacer pacer;
    struct agent *agents;
    struct call *calls;
    int calls_count, calls_cap;
    struct waiting *waiting;
    int waiting_count, waiting_cap;
    int64_t *busy_ms, *ringing_ms;
    struct blend_sim_dial_figures f;
};

static int64_t draw_ms(struct run *r, const struct blend_sim_distribution *d)
{
    double s = d->dist == BLEND_SIM_DIST_LOGNORMAL
                   ? blend_sim_rng_lognormal(&r->rng, d->mean_s, d->sd_s)
                   : blend_sim_rng_exponential(&r->rng, d->mean_s);
    int64_t ms = blend__sim_s_to_ms(s);
    return ms < DRAW_MS_MIN ? DRAW_MS_MIN : ms > 86400000 ? 86400000 : ms;
}

static double answer_rate(const struct run *r, int64_t now_ms)
{
    size_t i = (size_t)(now_ms / r->m->interval_ms);
    return r->m->answer_rates[i < r->m->intervals_count ? i : r->m->intervals_count - 1];
}

/* The agent's contact (or preview) from now for `ms`; busy time counted inside the run. */
static void occupy(struct run *r, int a, int64_t now_ms, int64_t ms, enum agent_state st)
{
    struct agent *g = &r->agents[a];
    g->state = st;
    g->since_ms = now_ms;
    g->until_ms = now_ms + ms;
    g->handle_ms = ms;
    int64_t end = g->until_ms < r->m->duration_ms ? g->until_ms : r->m->duration_ms;
    r->f.busy_s += (double)(end - now_ms) / 1000.0;
}

static int dial(struct run *r, int64_t now_ms, int agent)
{
    if (r->calls_count == r->calls_cap) {
        return BLEND_ELIMIT;
    }
    struct call *c = &r->calls[r->calls_count++];
    c->dialled_ms = now_ms;
    c->agent = agent;
    double u = blend_sim_rng_uniform(&r->rng);
    double p = answer_rate(r, now_ms);
    if (u < p) {
        c->truth = BLEND_DIAL_HUMAN;
        c->ends_ms = now_ms + draw_ms(r, &r->m->answer_delay);
        c->verdict_human = blend_sim_rng_uniform(&r->rng) >= r->m->amd_human_as_machine;
    } else if (blend_sim_rng_uniform(&r->rng) < r->m->machine_rate) {
        c->truth = BLEND_DIAL_MACHINE;
        c->ends_ms = now_ms + draw_ms(r, &r->m->machine_delay);
        c->verdict_human = blend_sim_rng_uniform(&r->rng) < r->m->amd_machine_as_human;
    } else if (blend_sim_rng_uniform(&r->rng) < r->m->busy_rate) {
        c->truth = BLEND_DIAL_BUSY;
        c->ends_ms =
            now_ms + BUSY_MS_MIN + (int64_t)(BUSY_MS_SPAN * blend_sim_rng_uniform(&r->rng));
    } else {
        c->truth = BLEND_DIAL_NO_ANSWER;
        c->ends_ms = now_ms + r->m->no_answer_ms;
    }
    r->f.dials++;
    return 0;
}

/* A person or a machine taken for one starts with agent `a`. */
static void connect(struct run *r, int a, int64_t now_ms, int is_person)
{
    if (is_person) {
        int64_t talk = draw_ms(r, &r->m->talk);
        int64_t end = now_ms + talk < r->m->duration_ms ? now_ms + talk : r->m->duration_ms;
        r->f.talk_s += (double)(end - now_ms) / 1000.0;
        r->f.connected++;
        r->f.lives++;
        blend_pacer_live(&r->pacer, now_ms, 0);
        occupy(r, a, now_ms, talk + r->m->wrapup_ms, A_BUSY);
    } else {
        occupy(r, a, now_ms, r->m->machine_handle_ms, A_BUSY);
    }
}

static void drop(struct run *r, int64_t now_ms)
{
    r->f.lives++;
    r->f.dropped++;
    blend_pacer_live(&r->pacer, now_ms, 1);
}

/* A call's ringing ended at c->ends_ms. */
static int call_ended(struct run *r, const struct call *c, int64_t now_ms)
{
    int answered = c->truth == BLEND_DIAL_HUMAN || c->truth == BLEND_DIAL_MACHINE;
    int is_person = c->truth == BLEND_DIAL_HUMAN;
    enum blend_dial_outcome seen = !answered          ? c->truth
                                   : c->verdict_human ? BLEND_DIAL_HUMAN
                                                      : BLEND_DIAL_MACHINE;
    blend_pacer_attempt(&r->pacer, c->ends_ms, seen, c->ends_ms - c->dialled_ms);
    if (answered && !c->verdict_human) {
        r->f.machines++;
        if (is_person) {
            r->f.amd_false_positives++;
            if (r->m->is_uk) {
                drop(r, now_ms); /* the UK rule counts them as drops */
            }
        }
    }
    if (answered && c->verdict_human && !is_person) {
        r->f.amd_false_negatives++;
    }
    if (c->agent >= 0) { /* preview: the agent waited for this call */
        if (answered && c->verdict_human) {
            connect(r, c->agent, now_ms, is_person);
        } else {
            r->agents[c->agent].state = A_FREE;
        }
        return 0;
    }
    if (answered && c->verdict_human) {
        if (r->waiting_count == r->waiting_cap) {
            return BLEND_ELIMIT;
        }
        r->waiting[r->waiting_count++] = (struct waiting){
            .deadline_ms = c->ends_ms + r->m->connect_within_ms, .is_person = is_person};
    }
    return 0;
}

static int step(struct run *r, int64_t now_ms)
{
    const struct blend_sim_dial_model *m = r->m;
    for (int a = 0; a < m->agents; a++) {
        struct agent *g = &r->agents[a];
        if (g->state == A_BUSY && g->until_ms <= now_ms) {
            blend_pacer_handled(&r->pacer, g->handle_ms);
            g->state = A_FREE;
        } else if (g->state == A_PREVIEW && g->until_ms <= now_ms) {
            g->state = A_WAITING;
            if (dial(r, now_ms, a) != 0) {
                return BLEND_ELIMIT;
            }
        }
    }
    for (int i = 0; i < r->calls_count;) {
        if (r->calls[i].ends_ms > now_ms) {
            i++;
            continue;
        }
        struct call c = r->calls[i];
        r->calls[i] = r->calls[--r->calls_count];
        int rc = call_ended(r, &c, now_ms);
        if (rc) {
            return rc;
        }
    }
    /* Waiting answers take free agents in order of arrival; the late ones are dropped. */
    int kept = 0;
    for (int i = 0; i < r->waiting_count; i++) {
        struct waiting w = r->waiting[i];
        int a = -1;
        for (int k = 0; k < m->agents && a < 0; k++) {
            a = r->agents[k].state == A_FREE ? k : -1;
        }
        if (a >= 0) {
            connect(r, a, now_ms, w.is_person);
        } else if (w.deadline_ms <= now_ms) {
            if (w.is_person) {
                drop(r, now_ms);
            }
        } else {
            r->waiting[kept++] = w;
        }
    }
    r->waiting_count = kept;
    return 0;
}

static int decide(struct run *r, int64_t now_ms, enum blend_dial_mode mode)
{
    const struct blend_sim_dial_model *m = r->m;
    int64_t left = m->list_size - (int64_t)r->f.dials;
    if (mode == BLEND_DIAL_PREVIEW) {
        for (int a = 0; a < m->agents && left > 0; a++) {
            if (r->agents[a].state == A_FREE) {
                occupy(r, a, now_ms, m->preview_ms, A_PREVIEW);
                left--;
            }
        }
        r->f.is_list_exhausted |= left <= 0;
        return 0;
    }
    int free_agents = 0, busy = 0;
    for (int a = 0; a < m->agents; a++) {
        if (r->agents[a].state == A_FREE) {
            free_agents++;
        } else {
            r->busy_ms[busy++] = now_ms - r->agents[a].since_ms;
        }
    }
    /* Answers waiting for an agent hold the free agents they will take. */
    free_agents = free_agents > r->waiting_count ? free_agents - r->waiting_count : 0;
    for (int i = 0; i < r->calls_count; i++) {
        r->ringing_ms[i] = now_ms - r->calls[i].dialled_ms;
    }
    struct blend_pacer_view v = {.free_agents = free_agents,
                                 .busy_count = busy,
                                 .busy_elapsed_ms = r->busy_ms,
                                 .ringing_count = r->calls_count,
                                 .ringing_elapsed_ms = r->ringing_ms,
                                 .records_left = left > INT32_MAX ? INT32_MAX : (int)left};
    struct blend_pacer_decision d;
    int rc = blend_pacer_decide(&r->pacer, now_ms, &v, &d);
    for (int k = 0; !rc && k < d.dial; k++) {
        rc = dial(r, now_ms, -1);
    }
    r->f.is_list_exhausted |= m->list_size - (int64_t)r->f.dials <= 0;
    return rc;
}

int blend_sim_dial_run(const struct blend_sim_dial_model *m, uint64_t seed,
                       enum blend_dial_mode mode, struct blend_sim_dial_figures *out)
{
    BLEND_ASSERT(m && out && m->agents > 0);
    struct run r = {.m = m};
    struct blend_pacer_params pp = m->pacer;
    pp.mode = mode;
    int rc = 0;
    struct blend_pacer *pacer = &r.pacer;
    if (blend_pacer_init(pacer, &pp) != 0) {
        return BLEND_EINVAL;
    }
    blend_sim_rng_seed(&r.rng, seed);
    r.calls_cap = BLEND_PACER_CALLS_MAX;
    r.waiting_cap = BLEND_PACER_CALLS_MAX;
    r.agents = blend_calloc((size_t)m->agents, sizeof *r.agents);
    r.calls = blend_calloc((size_t)r.calls_cap, sizeof *r.calls);
    r.waiting = blend_calloc((size_t)r.waiting_cap, sizeof *r.waiting);
    r.busy_ms = blend_calloc((size_t)m->agents, sizeof *r.busy_ms);
    r.ringing_ms = blend_calloc((size_t)r.calls_cap, sizeof *r.ringing_ms);
    if (!r.agents || !r.calls || !r.waiting || !r.busy_ms || !r.ringing_ms) {
        rc = BLEND_ENOMEM;
        goto out;
    }
    r.f.mode = mode;
    for (int64_t now = 0; !rc && now < m->duration_ms; now += STEP_MS) {
        rc = step(&r, now);
        if (!rc && now % DECIDE_EVERY_MS == 0) {
            rc = decide(&r, now, mode);
        }
    }
    if (!rc) {
        BLEND_ASSERT(mode != BLEND_DIAL_PROGRESSIVE && mode != BLEND_DIAL_PREVIEW ||
                     r.f.dropped == 0 || m->is_uk);
        double hours = (double)m->duration_ms / 3600000.0;
        r.f.talk_min_per_agent_hour = r.f.talk_s / 60.0 / (m->agents * hours);
        r.f.occupancy = r.f.busy_s / (m->agents * (double)m->duration_ms / 1000.0);
        r.f.abandon_rate = r.f.lives ? (double)r.f.dropped / (double)r.f.lives : 0.0;
        r.f.dials_per_hour = (double)r.f.dials / hours;
        *out = r.f;
    }
out:
    blend_free(r.agents);
    blend_free(r.calls);
    blend_free(r.waiting);
    blend_free(r.busy_ms);
    blend_free(r.ringing_ms);
    return rc;
}

/* ---- Output --------------------------------------------------------------------------------- */

int blend_sim_dial_format(const struct blend_sim_dial_model *m,
                          const struct blend_sim_dial_figures *figures, size_t count, int is_json,
                          blend_sim_write_fn *write, void *arg)
{
    double hours = (double)m->duration_ms / 3600000.0;
    if (!is_json) {
        char line[512];
        for (size_t i = 0; i < count; i++) {
            const struct blend_sim_dial_figures *f = &figures[i];
            int n = snprintf(line, sizeof line,
                             "outbound mode=%s rule=%s agents=%d hours=%.2f dials=%" PRIu64
                             " dials_per_hour=%.1f answered_people=%" PRIu64 " connected=%" PRIu64
                             " dropped=%" PRIu64 " abandon_rate=%.4f talk_min_per_agent_hour=%.2f"
                             " occupancy=%.4f machines=%" PRIu64 " amd_false_positives=%" PRIu64
                             " amd_false_negatives=%" PRIu64 " list_exhausted=%s",
                             blend_sim_dial_mode_name(f->mode), m->is_uk ? "uk" : "us", m->agents,
                             hours, f->dials, f->dials_per_hour, f->lives, f->connected, f->dropped,
                             f->abandon_rate, f->talk_min_per_agent_hour, f->occupancy, f->machines,
                             f->amd_false_positives, f->amd_false_negatives,
                             f->is_list_exhausted ? "yes" : "no");
            write(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, arg);
        }
        return 0;
    }
    json_t *modes = json_array();
    for (size_t i = 0; modes && i < count; i++) {
        const struct blend_sim_dial_figures *f = &figures[i];
        json_array_append_new(
            modes,
            json_pack("{s:s, s:I, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:b}", "mode",
                      blend_sim_dial_mode_name(f->mode), "dials", (json_int_t)f->dials,
                      "dials_per_hour", f->dials_per_hour, "answered_people", (json_int_t)f->lives,
                      "connected", (json_int_t)f->connected, "dropped", (json_int_t)f->dropped,
                      "abandon_rate", f->abandon_rate, "talk_min_per_agent_hour",
                      f->talk_min_per_agent_hour, "occupancy", f->occupancy, "machines",
                      (json_int_t)f->machines, "amd_false_positives",
                      (json_int_t)f->amd_false_positives, "amd_false_negatives",
                      (json_int_t)f->amd_false_negatives, "list_exhausted", f->is_list_exhausted));
    }
    json_t *doc =
        modes ? json_pack("{s:{s:s, s:i, s:f, s:o}}", "outbound", "rule", m->is_uk ? "uk" : "us",
                          "agents", m->agents, "hours", hours, "modes", modes)
              : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        return BLEND_ENOMEM;
    }
    write(text, strlen(text), arg);
    json_free_t free_fn;
    json_get_alloc_funcs(NULL, &free_fn);
    free_fn(text);
    return 0;
}
