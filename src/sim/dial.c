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
        blend_free(m->inbound_rates);
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

/* A number (every interval) or one number per interval, each in [lo, hi], into *out (owned). */
static int parse_per_interval(struct blend__sim_mparser *p, json_t *v, const char *path,
                              size_t count, double lo, double hi, double **out)
{
    double *rates = blend_calloc(count, sizeof *rates);
    if (!rates) {
        p->is_oom = 1;
        return BLEND_ENOMEM;
    }
    *out = rates;
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if (!(x >= lo && x <= hi)) {
            return blend__sim_merr(p, path, "must be a number in [%g, %g]", lo, hi);
        }
        for (size_t i = 0; i < count; i++) {
            rates[i] = x;
        }
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) != count) {
        return blend__sim_merr(
            p, path, "must be a number or an array of %zu numbers (one per interval)", count);
    }
    for (size_t i = 0; i < count; i++) {
        double x = json_number_value(json_array_get(v, i));
        if (!json_is_number(json_array_get(v, i)) || !(x >= lo && x <= hi)) {
            return blend__sim_merr(p, path, "item %zu must be a number in [%g, %g]", i, lo, hi);
        }
        rates[i] = x;
    }
    return 0;
}

static int parse_inbound(struct blend__sim_mparser *p, json_t *v, struct blend_sim_dial_model *m)
{
    static const char *const keys[] = {"calls_per_hour", "handle",          "patience",
                                       "sl_threshold_s", "short_abandon_s", NULL};
    const char *path = "$.outbound.inbound";
    if (!json_is_object(v)) {
        return blend__sim_merr(p, path, "must be an object");
    }
    double threshold = 20, short_abandon = 5;
    int rc = blend__sim_mcheck_keys(p, v, path, keys);
    json_t *rates = json_object_get(v, "calls_per_hour");
    if (!rc && !rates) {
        rc = blend__sim_merr(p, path, "missing \"calls_per_hour\"");
    }
    rc = rc ? rc
            : parse_per_interval(p, rates, "$.outbound.inbound.calls_per_hour", m->intervals_count,
                                 0, 100000, &m->inbound_rates);
    json_t *handle = json_object_get(v, "handle");
    if (!rc && !handle) {
        rc = blend__sim_merr(p, path, "missing \"handle\"");
    }
    rc = rc ? rc
            : blend__sim_parse_distribution(p, handle, "$.outbound.inbound.handle", 0,
                                            &m->inbound_handle);
    json_t *patience = json_object_get(v, "patience");
    m->inbound_patience = (struct blend_sim_distribution){BLEND_SIM_DIST_NONE, 0, 0};
    rc = rc || !patience ? rc
                         : blend__sim_parse_distribution(p, patience, "$.outbound.inbound.patience",
                                                         1, &m->inbound_patience);
    rc = rc ? rc : blend__sim_mget_number(p, v, path, "sl_threshold_s", 0, 0, 0, 3600, &threshold);
    rc = rc ? rc
            : blend__sim_mget_number(p, v, path, "short_abandon_s", 0, 0, 0, 60, &short_abandon);
    m->sl_threshold_ms = blend__sim_s_to_ms(threshold);
    m->short_abandon_ms = blend__sim_s_to_ms(short_abandon);
    m->has_inbound = rc == 0;
    return rc;
}

/* {"policy": "reserve", "reserve_agents": N} or {"policy": "service_level", "sl_target",
 * "margin_agents"} (the threshold and patience are inbound's). Default: service level 80%. */
static int parse_blending(struct blend__sim_mparser *p, json_t *v, struct blend_sim_dial_model *m)
{
    static const char *const keys[] = {"policy", "reserve_agents", "sl_target", "margin_agents",
                                       NULL};
    const char *path = "$.outbound.blending";
    struct blend_blending_params *b = &m->blending;
    *b = (struct blend_blending_params){.policy = BLEND_BLENDING_SERVICE_LEVEL, .sl_target = 0.8};
    b->sl_threshold_s = (double)m->sl_threshold_ms / 1000.0;
    b->patience_s =
        m->inbound_patience.dist == BLEND_SIM_DIST_EXPONENTIAL ? m->inbound_patience.mean_s : 0;
    if (!v) {
        return 0;
    }
    if (!json_is_object(v)) {
        return blend__sim_merr(p, path, "must be an object");
    }
    if (!m->has_inbound) {
        return blend__sim_merr(p, path, "applies with \"inbound\" only");
    }
    int rc = blend__sim_mcheck_keys(p, v, path, keys);
    const char *policy = json_string_value(json_object_get(v, "policy"));
    double reserve = 0, margin = 0;
    if (!rc && policy && strcmp(policy, "reserve") == 0) {
        b->policy = BLEND_BLENDING_RESERVE;
        rc = blend__sim_mget_number(p, v, path, "reserve_agents", 1, 0, 0,
                                    BLEND_SIM_DIAL_AGENTS_MAX, &reserve);
        b->reserve_agents = (int)reserve;
    } else if (!rc && policy && strcmp(policy, "service_level") == 0) {
        rc = blend__sim_mget_number(p, v, path, "sl_target", 0, 0, 1, 0.999, &b->sl_target);
        rc = rc ? rc : blend__sim_mget_number(p, v, path, "margin_agents", 0, 0, 0, 1000, &margin);
        b->margin_agents = (int)margin;
    } else if (!rc) {
        rc = blend__sim_merr(p, path, "\"policy\" must be \"reserve\" or \"service_level\"");
    }
    if (!rc && (reserve != floor(reserve) || margin != floor(margin))) {
        rc = blend__sim_merr(p, path, "agent counts must be whole numbers");
    }
    if (!rc && blend_blending_check(b) != 0) {
        rc = blend__sim_merr(p, path, "out of range");
    }
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
                                       "inbound",
                                       "blending",
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
    json_t *inbound = json_object_get(o, "inbound");
    rc = rc || !inbound ? rc : parse_inbound(p, inbound, m);
    rc = rc ? rc : parse_blending(p, json_object_get(o, "blending"), m);
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
    int is_inbound; /* busy with an inbound call */
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

/* An inbound caller waiting for an agent. */
struct caller {
    int64_t arrived_ms, gives_up_ms, handle_ms; /* all drawn at arrival */
};

/* Inbound arrivals are counted per minute over the last LIVE_MINUTES for the live rate. */
#define LIVE_MINUTES 15

struct run {
    const struct blend_sim_dial_model *m;
    struct blend_sim_rng rng;
    struct blend_sim_rng in_rng; /* inbound's own stream: the same callers in every mode */
    struct blend_pacer pacer;
    struct agent *agents;
    struct call *calls;
    int calls_count, calls_cap;
    struct waiting *waiting;
    int waiting_count, waiting_cap;
    int64_t *busy_ms, *ringing_ms;
    struct caller *callers;
    int callers_count, callers_cap;
    int64_t next_arrival_ms;
    uint32_t arrivals_per_minute[LIVE_MINUTES];
    int64_t minute_of[LIVE_MINUTES];
    double in_handle_ms_sum;
    uint64_t in_handled;
    struct blend_sim_dial_figures f;
};

static int64_t draw_from(struct blend_sim_rng *g, const struct blend_sim_distribution *d)
{
    double s = d->dist == BLEND_SIM_DIST_LOGNORMAL ? blend_sim_rng_lognormal(g, d->mean_s, d->sd_s)
                                                   : blend_sim_rng_exponential(g, d->mean_s);
    int64_t ms = blend__sim_s_to_ms(s);
    return ms < DRAW_MS_MIN ? DRAW_MS_MIN : ms > 86400000 ? 86400000 : ms;
}

static int64_t draw_ms(struct run *r, const struct blend_sim_distribution *d)
{
    return draw_from(&r->rng, d);
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
    g->is_inbound = 0;
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

/* ---- Inbound (blended models) ---- */

static int free_agent(const struct run *r)
{
    for (int k = 0; k < r->m->agents; k++) {
        if (r->agents[k].state == A_FREE) {
            return k;
        }
    }
    return -1;
}

static double inbound_rate(const struct run *r, int64_t now_ms)
{
    size_t i = (size_t)(now_ms / r->m->interval_ms);
    return r->m->inbound_rates[i < r->m->intervals_count ? i : r->m->intervals_count - 1];
}

/* The next arrival after `from_ms`: Poisson at the interval's rate; an interval without calls
 * moves on to the next one. INT64_MAX when no call comes before the end. */
static int64_t next_arrival(struct run *r, int64_t from_ms)
{
    const struct blend_sim_dial_model *m = r->m;
    for (int64_t t = from_ms; t < m->duration_ms;) {
        double rate = inbound_rate(r, t);
        int64_t interval_end = (t / m->interval_ms + 1) * m->interval_ms;
        if (rate <= 0) {
            t = interval_end;
            continue;
        }
        int64_t gap = blend__sim_s_to_ms(blend_sim_rng_exponential(&r->in_rng, 3600.0 / rate));
        if (t + gap < interval_end) {
            return t + (gap < 1 ? 1 : gap);
        }
        t = interval_end; /* memoryless: draw again at the next interval's rate */
    }
    return INT64_MAX;
}

static void count_arrival(struct run *r, int64_t now_ms)
{
    int64_t minute = now_ms / 60000;
    int slot = (int)(minute % LIVE_MINUTES);
    if (r->minute_of[slot] != minute) {
        r->minute_of[slot] = minute;
        r->arrivals_per_minute[slot] = 0;
    }
    r->arrivals_per_minute[slot]++;
}

/* Inbound's live rate (calls per hour over the last 15 minutes, or since the start); the
 * model's rate in the first minute, before any traffic is seen. */
static double inbound_live_rate(const struct run *r, int64_t now_ms)
{
    if (now_ms < 60000) {
        return inbound_rate(r, now_ms);
    }
    int64_t minute = now_ms / 60000;
    uint64_t n = 0;
    for (int i = 0; i < LIVE_MINUTES; i++) {
        n += r->minute_of[i] > minute - LIVE_MINUTES && r->minute_of[i] <= minute
                 ? r->arrivals_per_minute[i]
                 : 0;
    }
    double span_s = now_ms < LIVE_MINUTES * 60000 ? (double)now_ms / 1000.0 : LIVE_MINUTES * 60.0;
    return (double)n * 3600.0 / span_s;
}

/* Arrivals up to now join the line; callers who gave up leave it; the line takes free agents
 * first, in order of arrival (inbound always wins a free agent). */
static int inbound_step(struct run *r, int64_t now_ms)
{
    const struct blend_sim_dial_model *m = r->m;
    while (r->next_arrival_ms <= now_ms) {
        if (r->callers_count == r->callers_cap) {
            return BLEND_ELIMIT;
        }
        struct caller *c = &r->callers[r->callers_count++];
        c->arrived_ms = r->next_arrival_ms;
        c->gives_up_ms = m->inbound_patience.dist == BLEND_SIM_DIST_NONE
                             ? INT64_MAX
                             : c->arrived_ms + draw_from(&r->in_rng, &m->inbound_patience);
        c->handle_ms = draw_from(&r->in_rng, &m->inbound_handle);
        count_arrival(r, c->arrived_ms);
        r->f.in_offered++;
        r->next_arrival_ms = next_arrival(r, r->next_arrival_ms);
    }
    int kept = 0;
    for (int i = 0; i < r->callers_count; i++) {
        struct caller c = r->callers[i];
        int a = c.gives_up_ms > now_ms ? free_agent(r) : -1;
        if (c.gives_up_ms <= now_ms) {
            r->f.in_abandoned += c.gives_up_ms - c.arrived_ms > m->short_abandon_ms;
        } else if (a >= 0) {
            int64_t wait = now_ms - c.arrived_ms;
            r->f.in_answered++;
            r->f.in_answered_in_sl += wait <= m->sl_threshold_ms;
            r->f.in_wait_s += (double)wait / 1000.0;
            occupy(r, a, now_ms, c.handle_ms + m->wrapup_ms, A_BUSY);
            r->agents[a].is_inbound = 1;
        } else {
            r->callers[kept++] = c;
        }
    }
    r->callers_count = kept;
    return 0;
}

/* The free agents outbound may use now (all of them in an outbound-only day). */
static int outbound_free(struct run *r, int64_t now_ms, int free_agents)
{
    const struct blend_sim_dial_model *m = r->m;
    if (!m->has_inbound) {
        return free_agents;
    }
    int inbound_busy = 0;
    for (int a = 0; a < m->agents; a++) {
        inbound_busy += r->agents[a].state == A_BUSY && r->agents[a].is_inbound;
    }
    double aht_s = r->in_handled ? r->in_handle_ms_sum / (double)r->in_handled / 1000.0
                                 : m->inbound_handle.mean_s + (double)m->wrapup_ms / 1000.0;
    struct blend_blending_view v = {.free_agents = free_agents,
                                    .inbound_busy = inbound_busy,
                                    .inbound_waiting = r->callers_count,
                                    .inbound_per_hour = inbound_live_rate(r, now_ms),
                                    .inbound_aht_s = aht_s > 0.001 ? aht_s : 0.001,
                                    .horizon_s =
                                        (double)blend_pacer_horizon_ms(&r->pacer) / 1000.0};
    struct blend_blending_decision d;
    if (blend_blending_decide(&m->blending, &v, &d) != 0) {
        return 0; /* traffic beyond Erlang's range: inbound keeps everyone */
    }
    return d.outbound;
}

static int step(struct run *r, int64_t now_ms)
{
    const struct blend_sim_dial_model *m = r->m;
    for (int a = 0; a < m->agents; a++) {
        struct agent *g = &r->agents[a];
        if (g->state == A_BUSY && g->until_ms <= now_ms) {
            if (g->is_inbound) {
                r->in_handle_ms_sum += (double)g->handle_ms;
                r->in_handled++;
            } else {
                blend_pacer_handled(&r->pacer, g->handle_ms);
            }
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
    int rc = m->has_inbound ? inbound_step(r, now_ms) : 0;
    if (rc) {
        return rc;
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
        int free_agents = 0;
        for (int a = 0; a < m->agents; a++) {
            free_agents += r->agents[a].state == A_FREE;
        }
        int may = outbound_free(r, now_ms, free_agents);
        for (int a = 0; a < m->agents && left > 0 && may > 0; a++) {
            if (r->agents[a].state == A_FREE) {
                occupy(r, a, now_ms, m->preview_ms, A_PREVIEW);
                left--;
                may--;
            }
        }
        r->f.is_list_exhausted |= left <= 0;
        return 0;
    }
    int free_agents = 0, busy = 0;
    for (int a = 0; a < m->agents; a++) {
        if (r->agents[a].state == A_FREE) {
            free_agents++;
        } else if (!r->agents[a].is_inbound) { /* inbound's agents may not come back to us */
            r->busy_ms[busy++] = now_ms - r->agents[a].since_ms;
        }
    }
    free_agents = outbound_free(r, now_ms, free_agents);
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
    blend_sim_rng_seed(&r.in_rng, seed ^ 0x9e3779b97f4a7c15u);
    r.calls_cap = BLEND_PACER_CALLS_MAX;
    r.waiting_cap = BLEND_PACER_CALLS_MAX;
    r.agents = blend_calloc((size_t)m->agents, sizeof *r.agents);
    r.calls = blend_calloc((size_t)r.calls_cap, sizeof *r.calls);
    r.waiting = blend_calloc((size_t)r.waiting_cap, sizeof *r.waiting);
    r.busy_ms = blend_calloc((size_t)m->agents, sizeof *r.busy_ms);
    r.ringing_ms = blend_calloc((size_t)r.calls_cap, sizeof *r.ringing_ms);
    r.callers_cap = m->has_inbound ? BLEND_SIM_DIAL_INBOUND_WAITING_MAX : 0;
    r.callers = m->has_inbound ? blend_calloc((size_t)r.callers_cap, sizeof *r.callers) : NULL;
    if (!r.agents || !r.calls || !r.waiting || !r.busy_ms || !r.ringing_ms ||
        (m->has_inbound && !r.callers)) {
        rc = BLEND_ENOMEM;
        goto out;
    }
    r.f.mode = mode;
    for (int i = 0; i < LIVE_MINUTES; i++) {
        r.minute_of[i] = -1;
    }
    r.next_arrival_ms = m->has_inbound ? next_arrival(&r, 0) : INT64_MAX;
    for (int64_t now = 0; !rc && now < m->duration_ms; now += STEP_MS) {
        rc = step(&r, now);
        if (!rc && now % DECIDE_EVERY_MS == 0) {
            rc = decide(&r, now, mode);
        }
    }
    if (!rc) {
        /* Progressive and preview never drop, unless inbound took the agent first. */
        BLEND_ASSERT((mode != BLEND_DIAL_PROGRESSIVE && mode != BLEND_DIAL_PREVIEW) ||
                     r.f.dropped == 0 || m->is_uk || m->has_inbound);
        double hours = (double)m->duration_ms / 3600000.0;
        r.f.talk_min_per_agent_hour = r.f.talk_s / 60.0 / (m->agents * hours);
        r.f.occupancy = r.f.busy_s / (m->agents * (double)m->duration_ms / 1000.0);
        r.f.abandon_rate = r.f.lives ? (double)r.f.dropped / (double)r.f.lives : 0.0;
        r.f.dials_per_hour = (double)r.f.dials / hours;
        uint64_t counted = r.f.in_answered + r.f.in_abandoned;
        r.f.in_service_level = counted ? (double)r.f.in_answered_in_sl / (double)counted : 0;
        r.f.in_abandon_rate = counted ? (double)r.f.in_abandoned / (double)counted : 0;
        r.f.in_asa_s = r.f.in_answered ? r.f.in_wait_s / (double)r.f.in_answered : 0;
        *out = r.f;
    }
out:
    blend_free(r.agents);
    blend_free(r.calls);
    blend_free(r.waiting);
    blend_free(r.busy_ms);
    blend_free(r.ringing_ms);
    blend_free(r.callers);
    return rc;
}

/* ---- Output --------------------------------------------------------------------------------- */

int blend_sim_dial_format(const struct blend_sim_dial_model *m,
                          const struct blend_sim_dial_figures *figures, size_t count, int is_json,
                          blend_sim_write_fn *write, void *arg)
{
    double hours = (double)m->duration_ms / 3600000.0;
    if (!is_json) {
        char line[768];
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
            if (m->has_inbound && n > 0 && (size_t)n < sizeof line) {
                n += snprintf(line + n, sizeof line - (size_t)n,
                              " inbound_offered=%" PRIu64 " inbound_service_level=%.4f"
                              " inbound_asa_s=%.1f inbound_abandon_rate=%.4f",
                              f->in_offered, f->in_service_level, f->in_asa_s, f->in_abandon_rate);
            }
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
        if (m->has_inbound) {
            json_object_set_new(
                json_array_get(modes, i), "inbound",
                json_pack("{s:I, s:I, s:I, s:f, s:f, s:f}", "offered", (json_int_t)f->in_offered,
                          "answered", (json_int_t)f->in_answered, "abandoned",
                          (json_int_t)f->in_abandoned, "service_level", f->in_service_level,
                          "asa_s", f->in_asa_s, "abandon_rate", f->in_abandon_rate));
        }
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
