/*
 * `blend sim run` (docs/sim-run.md): a seeded generator, the model parser and the
 * discrete-event driver that pushes stochastic traffic through the fast engine.
 *
 * Generator. xoshiro256** seeded with four splitmix64 outputs of the seed (Vigna's reference
 * code, prng.di.unimi.it); the only randomness of a run, drawn in event order, so the same model
 * and seed give the same run on every machine that computes log/exp/sqrt/cos the same way.
 *
 * Model parser. The model is untrusted JSON: parsed by jansson with duplicate keys refused,
 * unknown fields refused, every number range-checked, each problem reported as
 * "FILE: $.path: message". Queue and agent fields shared with scenarios (docs/sim.md) are
 * checked by the scenario parser itself (one config line built from the model), so both formats
 * mean the same thing by the same field; when it refuses, each queue (then each agent) is
 * re-checked alone to name the element's path.
 *
 * Driver. One binary heap holds every future event: engine timers (armed by TIMER_SET, dropped
 * by TIMER_CANCEL or replacement through a generation number) and external events (arrivals,
 * contact ends, abandons, delayed accepts, shift starts and ends, the warm-up's end). Order is
 * (time, timers before external events, timer id or insertion order), so due timers fire in
 * (due, id) order with now = due before any external event at or after their time. After each
 * engine step the driver plays agents and customers: it accepts offers (at once or after the
 * answer delay), schedules the end of connected contacts, and brings agents to the presence
 * their shift asks for (log in and ready; at shift end not-ready, then log out once idle).
 * Every observable effect is folded into blend_stats in engine order and, when asked, printed
 * in the canonical order of `blend sim replay`.
 */
#include "sim/run.h"
#include "sim/model_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ------------------------------------------------------------------------------------ */

uint64_t blend_sim_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void blend_sim_rng_seed(struct blend_sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = blend_sim_splitmix64(&seed);
    }
    BLEND_ASSERT(r->s[0] | r->s[1] | r->s[2] | r->s[3]); /* splitmix64 never gives four zeros */
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t blend_sim_rng_next(struct blend_sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double blend_sim_rng_uniform(struct blend_sim_rng *r)
{
    return (double)(blend_sim_rng_next(r) >> 11) * 0x1.0p-53;
}

double blend_sim_rng_exponential(struct blend_sim_rng *r, double mean)
{
    BLEND_ASSERT(mean > 0);
    /* 1 - u lies in (0, 1], so the logarithm is finite. */
    return -mean * log(1.0 - blend_sim_rng_uniform(r));
}

double blend_sim_rng_lognormal(struct blend_sim_rng *r, double mean, double sd)
{
    BLEND_ASSERT(mean > 0 && sd >= 0);
    double sigma2 = log1p((sd * sd) / (mean * mean));
    double mu = log(mean) - sigma2 / 2;
    /* Box-Muller, one of the pair: u1 in (0, 1], so the logarithm is finite. */
    double u1 = 1.0 - blend_sim_rng_uniform(r), u2 = blend_sim_rng_uniform(r);
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    return exp(mu + sqrt(sigma2) * z);
}

/* ---- Model parser: helpers ---------------------------------------------------------------- */

#define PATH_BYTES 96
/* Longest queue or agent id (as scenarios). */
#define NAME_BYTES_MAX 256
/* Longest answer delay: an hour (an offer timeout longer than that is unusual). */
#define ANSWER_DELAY_S_MAX 3600.0

int blend__sim_merr(struct blend__sim_mparser *p, const char *path, const char *fmt, ...)
{
    if (p->errs->count < BLEND_SIM_ERRORS_MAX) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->errs->items[p->errs->count], sizeof p->errs->items[0], "%s: %s: %s", p->file,
                 path, msg);
        p->errs->count++;
    }
    return BLEND_EPARSE;
}

int blend__sim_mcheck_keys(struct blend__sim_mparser *p, json_t *obj, const char *path,
                           const char *const *keys)
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
            return blend__sim_merr(p, path, "unknown field \"%.60s\"", key);
        }
    }
    return 0;
}

/* A number field in [lo, hi] (lo excluded when is_lo_open). Absent: *out untouched, or an error
 * when required. */
int blend__sim_mget_number(struct blend__sim_mparser *p, json_t *obj, const char *path,
                           const char *key, int is_required, double lo, int is_lo_open, double hi,
                           double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return is_required ? blend__sim_merr(p, path, "missing \"%s\"", key) : 0;
    }
    double x = json_number_value(v);
    if (!json_is_number(v) || !(is_lo_open ? x > lo : x >= lo) || !(x <= hi)) {
        return blend__sim_merr(p, path, "\"%s\" must be a number %s %g and <= %g", key,
                               is_lo_open ? ">" : ">=", lo, hi);
    }
    *out = x;
    return 0;
}

int64_t blend__sim_s_to_ms(double s)
{
    return (int64_t)llround(s * 1000.0);
}

/* A non-empty string id shorter than NAME_BYTES_MAX without NUL bytes. */
static int mget_id(struct blend__sim_mparser *p, json_t *obj, const char *path, const char **out)
{
    json_t *v = json_object_get(obj, "id");
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= NAME_BYTES_MAX - 8 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return blend__sim_merr(p, path, "\"id\" must be a non-empty string shorter than %d bytes",
                               NAME_BYTES_MAX - 8);
    }
    *out = json_string_value(v);
    return 0;
}

/* ---- Model parser: our own fields ------------------------------------------------------------ */

/* {"dist":"exponential","mean_s":M}, {"dist":"lognormal","mean_s":M,"sd_s":S} (handle) or
 * {"dist":"none"} (patience). */
int blend__sim_parse_distribution(struct blend__sim_mparser *p, json_t *v, const char *path,
                                  int is_patience, struct blend_sim_distribution *out)
{
    static const char *const keys[] = {"dist", "mean_s", "sd_s", NULL};
    const char *allowed =
        is_patience ? "\"exponential\" or \"none\"" : "\"exponential\" or \"lognormal\"";
    if (!json_is_object(v)) {
        return blend__sim_merr(p, path, "must be an object with \"dist\" (%s)", allowed);
    }
    int rc = blend__sim_mcheck_keys(p, v, path, keys);
    const char *dist = json_string_value(json_object_get(v, "dist"));
    struct blend_sim_distribution d = {0};
    if (!rc && dist && strcmp(dist, "exponential") == 0) {
        d.dist = BLEND_SIM_DIST_EXPONENTIAL;
    } else if (!rc && dist && strcmp(dist, "lognormal") == 0 && !is_patience) {
        d.dist = BLEND_SIM_DIST_LOGNORMAL;
    } else if (!rc && dist && strcmp(dist, "none") == 0 && is_patience) {
        d.dist = BLEND_SIM_DIST_NONE;
    } else if (!rc) {
        return blend__sim_merr(p, path, "\"dist\" must be %s", allowed);
    }
    if (!rc && d.dist != BLEND_SIM_DIST_NONE) {
        rc = blend__sim_mget_number(p, v, path, "mean_s", 1, 0, 1, 86400, &d.mean_s);
    }
    if (!rc && d.dist == BLEND_SIM_DIST_LOGNORMAL) {
        rc = blend__sim_mget_number(p, v, path, "sd_s", 1, 0, 0, 86400, &d.sd_s);
    } else if (!rc && json_object_get(v, "sd_s")) {
        rc = blend__sim_merr(p, path, "\"sd_s\" applies to \"lognormal\" only");
    }
    if (!rc) {
        *out = d;
    }
    return rc;
}

/* A number (every interval) or an array with one rate per interval. */
static int parse_rates(struct blend__sim_mparser *p, json_t *v, const char *path,
                       struct blend_sim_model_queue *q)
{
    size_t n = p->m->intervals_count;
    q->rates_per_hour = blend_calloc(n, sizeof *q->rates_per_hour);
    if (!q->rates_per_hour) {
        p->is_oom = 1;
        return BLEND_ENOMEM;
    }
    if (json_is_array(v) && json_array_size(v) != n) {
        return blend__sim_merr(p, path, "must hold one rate per interval (%zu), not %zu", n,
                               json_array_size(v));
    }
    if (!json_is_array(v) && !json_is_number(v)) {
        return blend__sim_merr(p, path,
                               "must be a number or an array of numbers (arrivals per hour)");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_is_array(v) ? json_array_get(v, i) : v;
        double x = json_number_value(r);
        if (!json_is_number(r) || !(x >= 0 && x <= 1e7)) {
            char at[PATH_BYTES + 16];
            snprintf(at, sizeof at, json_is_array(v) ? "%s[%zu]" : "%s", path, i);
            return blend__sim_merr(p, at, "must be a number of arrivals per hour in 0..1e7");
        }
        q->rates_per_hour[i] = x;
    }
    return 0;
}

/* Shifts [{"start_s","end_s"}...]: sorted, non-overlapping, within the run. Absent: one shift
 * over the whole run. */
static int parse_shifts(struct blend__sim_mparser *p, json_t *v, const char *path,
                        struct blend_sim_shift **out, size_t *count)
{
    static const char *const keys[] = {"start_s", "end_s", NULL};
    size_t n = v ? json_array_size(v) : 1;
    if (v && (!json_is_array(v) || n > BLEND_SIM_RUN_SHIFTS_MAX)) {
        return blend__sim_merr(p, path, "must be an array of at most %d shifts",
                               BLEND_SIM_RUN_SHIFTS_MAX);
    }
    struct blend_sim_shift *sh = blend_calloc(n ? n : 1, sizeof *sh);
    if (!sh) {
        p->is_oom = 1;
        return BLEND_ENOMEM;
    }
    double dur_s = (double)p->m->duration_ms / 1000.0;
    int rc = 0;
    sh[0].end_ms = p->m->duration_ms;
    for (size_t i = 0; v && i < n && !rc; i++) {
        char at[2 * PATH_BYTES];
        snprintf(at, sizeof at, "%s[%zu]", path, i);
        json_t *o = json_array_get(v, i);
        double start = 0, end = 0;
        rc = json_is_object(o) ? blend__sim_mcheck_keys(p, o, at, keys)
                               : blend__sim_merr(p, at, "must be {\"start_s\",\"end_s\"}");
        rc = rc ? rc : blend__sim_mget_number(p, o, at, "start_s", 1, 0, 0, dur_s, &start);
        rc = rc ? rc
                : blend__sim_mget_number(p, o, at, "end_s", 1, 0, 0, BLEND_SIM_RUN_SECONDS_MAX,
                                         &end);
        sh[i] = (struct blend_sim_shift){blend__sim_s_to_ms(start), blend__sim_s_to_ms(end)};
        if (!rc &&
            (sh[i].end_ms <= sh[i].start_ms || (i > 0 && sh[i].start_ms < sh[i - 1].end_ms))) {
            rc = blend__sim_merr(p, at,
                                 "shifts must have end_s > start_s and not overlap, in order");
        }
    }
    if (rc) {
        blend_free(sh);
        return rc;
    }
    *out = sh;
    *count = n;
    return 0;
}

/* ---- Model parser: queues and agents ----------------------------------------------------------
 */

/* Our fields of queue i; adds a copy without them (for the scenario parser) to `plain`. */
static int parse_model_queue(struct blend__sim_mparser *p, json_t *o, size_t i, json_t *seen,
                             json_t *plain)
{
    struct blend_sim_model_queue *q = &p->m->queues[i];
    char path[PATH_BYTES], sub[PATH_BYTES + 32];
    const char *id = NULL;
    snprintf(path, sizeof path, "$.queues[%zu]", i);
    if (!json_is_object(o)) {
        return blend__sim_merr(p, path, "must be an object");
    }
    int rc = mget_id(p, o, path, &id);
    if (!rc && json_object_get(seen, id)) {
        snprintf(sub, sizeof sub, "%s.id", path);
        rc = blend__sim_merr(p, sub, "queue \"%.60s\" defined twice", id);
    }
    if (!rc && json_object_set_new(seen, id, json_true())) {
        p->is_oom = 1;
        rc = BLEND_ENOMEM;
    }
    snprintf(sub, sizeof sub, "%s.arrivals_per_hour", path);
    json_t *rates = json_object_get(o, "arrivals_per_hour");
    rc = rc      ? rc
         : rates ? parse_rates(p, rates, sub, q)
                 : blend__sim_merr(p, path, "missing \"%s\"", "arrivals_per_hour");
    snprintf(sub, sizeof sub, "%s.handle", path);
    json_t *handle = json_object_get(o, "handle");
    rc = rc       ? rc
         : handle ? blend__sim_parse_distribution(p, handle, sub, 0, &q->handle)
                  : blend__sim_merr(p, path, "missing \"handle\"");
    snprintf(sub, sizeof sub, "%s.patience", path);
    json_t *patience = json_object_get(o, "patience");
    rc = rc || !patience ? rc : blend__sim_parse_distribution(p, patience, sub, 1, &q->patience);
    json_t *copy = rc ? NULL : json_copy(o);
    if (!rc && (!copy || json_array_append_new(plain, copy))) {
        p->is_oom = 1;
        rc = BLEND_ENOMEM;
    }
    if (rc) {
        blend_free(q->rates_per_hour); /* a refused queue is not counted, so not destroyed */
        q->rates_per_hour = NULL;
        return rc;
    }
    json_object_del(copy, "arrivals_per_hour");
    json_object_del(copy, "handle");
    json_object_del(copy, "patience");
    return 0;
}

/* Agent entry i, expanded by "count" into `plain` (ids "<id>-1".. "<id>-N" when counted). */
static int parse_model_agent(struct blend__sim_mparser *p, json_t *o, size_t i, json_t *seen,
                             json_t *plain, json_t *entry_of)
{
    char path[PATH_BYTES], sub[PATH_BYTES + 32];
    const char *id = NULL;
    double count = 1;
    snprintf(path, sizeof path, "$.agents[%zu]", i);
    if (!json_is_object(o)) {
        return blend__sim_merr(p, path, "must be an object");
    }
    int rc = mget_id(p, o, path, &id);
    rc =
        rc ? rc
           : blend__sim_mget_number(p, o, path, "count", 0, 1, 0, BLEND_SIM_RUN_AGENTS_MAX, &count);
    if (!rc && (count != floor(count) ||
                json_array_size(plain) + (size_t)count > BLEND_SIM_RUN_AGENTS_MAX)) {
        rc = blend__sim_merr(p, path, "\"count\" must be an integer; at most %d agents in all",
                             BLEND_SIM_RUN_AGENTS_MAX);
    }
    struct blend_sim_shift *shifts = NULL;
    size_t shifts_count = 0;
    snprintf(sub, sizeof sub, "%s.shifts", path);
    rc = rc ? rc : parse_shifts(p, json_object_get(o, "shifts"), sub, &shifts, &shifts_count);
    for (size_t k = 1; !rc && k <= (size_t)count; k++) {
        char name[NAME_BYTES_MAX];
        snprintf(name, sizeof name, json_object_get(o, "count") ? "%s-%zu" : "%s", id, k);
        json_t *copy = json_copy(o);
        if (json_object_get(seen, name)) {
            json_decref(copy);
            snprintf(sub, sizeof sub, "%s.id", path);
            rc = blend__sim_merr(p, sub, "agent \"%.60s\" defined twice", name);
            break;
        }
        if (!copy || json_object_set_new(copy, "id", json_string(name)) ||
            json_object_set_new(seen, name, json_true()) || json_array_append_new(plain, copy) ||
            json_array_append_new(entry_of, json_integer((json_int_t)i))) {
            p->is_oom = 1;
            rc = BLEND_ENOMEM;
            break;
        }
        json_object_del(copy, "count");
        json_object_del(copy, "shifts");
        struct blend_sim_model_agent *a = &p->m->agents[p->m->agents_count];
        a->shifts = blend_calloc(shifts_count, sizeof *a->shifts);
        if (!a->shifts) {
            p->is_oom = 1;
            rc = BLEND_ENOMEM;
            break;
        }
        memcpy(a->shifts, shifts, shifts_count * sizeof *shifts);
        a->shifts_count = shifts_count;
        p->m->agents_count++;
    }
    blend_free(shifts);
    return rc;
}

/* ---- Model parser: the fields shared with scenarios ------------------------------------------ */

/* Runs the scenario parser on one config line {"queues":queues,"agents":agents}. Returns its
 * code; on refusal copies its first message without the "FILE:LINE: " prefix into msg. */
static int scenario_check(json_t *queues, json_t *agents, struct blend_sim_scenario **out,
                          char *msg, size_t msglen)
{
    json_t *line = json_pack("{s:i,s:s,s:s,s:O,s:O}", "at", 0, "do", "config", "accept", "auto",
                             "queues", queues, "agents", agents);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text) {
        return BLEND_ENOMEM;
    }
    struct blend_sim_errors errs;
    int rc = blend_sim_scenario_parse(text, strlen(text), "model", out, &errs);
    json_free_t free_fn;
    json_get_alloc_funcs(NULL, &free_fn);
    free_fn(text);
    if (rc && errs.count > 0) {
        const char *m = errs.items[0];
        const char *prefix = "model:1: ";
        if (strncmp(m, prefix, strlen(prefix)) == 0) {
            m += strlen(prefix);
        }
        /* Cut to the caller's room: the start still names the field at fault. */
        size_t n = msglen > 0 ? strnlen(m, msglen - 1) : 0;
        if (msglen > 0) {
            memcpy(msg, m, n);
            msg[n] = '\0';
        }
    } else if (rc) {
        snprintf(msg, msglen, "%s", blend_strerror(rc));
    }
    return rc;
}

/* Queues reduced to their ids: a valid stand-in for every queue but the one under test. */
static json_t *queue_stand_ins(json_t *plain, size_t keep)
{
    json_t *stand_ins = json_array();
    for (size_t j = 0; stand_ins && j < json_array_size(plain); j++) {
        json_t *q = json_array_get(plain, j);
        json_t *stand_in =
            j == keep ? json_incref(q) : json_pack("{s:O}", "id", json_object_get(q, "id"));
        if (!stand_in || json_array_append_new(stand_ins, stand_in)) {
            json_decref(stand_ins);
            return NULL;
        }
    }
    return stand_ins;
}

/* After a refusal of the whole config: names the first queue, else the first agent entry, that
 * the scenario parser refuses alone (with the other queues as stand-ins), else "$". */
static int locate_refusal(struct blend__sim_mparser *p, json_t *queues, json_t *agents,
                          json_t *entry_of, const char *whole_msg)
{
    char msg[256], path[PATH_BYTES];
    size_t nq = json_array_size(queues);
    json_t *none = json_array(), *stand_ins = queue_stand_ins(queues, nq);
    int rc = none && stand_ins ? 0 : BLEND_ENOMEM;
    for (size_t i = 0; i < nq && rc == 0; i++) {
        json_t *one = queue_stand_ins(queues, i);
        struct blend_sim_scenario *s = NULL;
        int qrc = one ? scenario_check(one, none, &s, msg, sizeof msg) : BLEND_ENOMEM;
        json_decref(one);
        blend_sim_scenario_destroy(s);
        if (qrc == BLEND_ENOMEM) {
            rc = qrc;
        } else if (qrc) {
            snprintf(path, sizeof path, "$.queues[%zu]", i);
            rc = blend__sim_merr(p, path, "%s", msg);
        }
    }
    for (size_t i = 0; i < json_array_size(agents) && rc == 0; i++) {
        json_t *one = json_pack("[O]", json_array_get(agents, i));
        struct blend_sim_scenario *s = NULL;
        int arc = one ? scenario_check(stand_ins, one, &s, msg, sizeof msg) : BLEND_ENOMEM;
        json_decref(one);
        blend_sim_scenario_destroy(s);
        if (arc == BLEND_ENOMEM) {
            rc = arc;
        } else if (arc) {
            snprintf(path, sizeof path, "$.agents[%" JSON_INTEGER_FORMAT "]",
                     json_integer_value(json_array_get(entry_of, i)));
            rc = blend__sim_merr(p, path, "%s", msg);
        }
    }
    json_decref(none);
    json_decref(stand_ins);
    if (rc == BLEND_ENOMEM) {
        p->is_oom = 1;
        return rc;
    }
    return rc ? rc : blend__sim_merr(p, "$", "%s", whole_msg);
}

/* Takes the engine configs and names the scenario parser produced. */
static int take_scenario(struct blend__sim_mparser *p, struct blend_sim_scenario *s)
{
    struct blend_sim_model *m = p->m;
    BLEND_ASSERT(s->queues_count == m->queues_count && s->agents_count == m->agents_count);
    for (size_t i = 0; i < m->queues_count; i++) {
        struct blend_sim_model_queue *q = &m->queues[i];
        q->config = s->queues[i];
        q->kpi = s->queue_kpis[i];
        q->channel = BLEND_CH_VOICE;
        while (!(q->config.channels & (1u << q->channel))) {
            q->channel++;
        }
    }
    for (size_t i = 0; i < m->agents_count; i++) {
        m->agents[i].config = s->agents[i];
        BLEND_ASSERT(s->agents[i].id == (int64_t)i + 1);
    }
    m->queue_names = s->queue_names;
    m->agent_names = s->agent_names;
    s->queue_names = NULL;
    s->queue_names_count = 0;
    s->agent_names = NULL;
    s->agent_names_count = 0;
    return 0;
}

/* ---- Model parser: the whole model ----------------------------------------------------------- */

static int parse_times(struct blend__sim_mparser *p, json_t *root)
{
    struct blend_sim_model *m = p->m;
    double duration = 0, warmup = 0, interval = 1800, delay = 0;
    double in_system = BLEND_SIM_RUN_IN_SYSTEM_DEFAULT;
    int rc = blend__sim_mget_number(p, root, "$", "duration_s", 1, 0, 1, BLEND_SIM_RUN_SECONDS_MAX,
                                    &duration);
    rc = rc ? rc : blend__sim_mget_number(p, root, "$", "warmup_s", 0, 0, 0, duration, &warmup);
    rc = rc ? rc : blend__sim_mget_number(p, root, "$", "interval_s", 0, 0, 1, duration, &interval);
    rc = rc ? rc
            : blend__sim_mget_number(p, root, "$", "answer_delay_s", 0, 0, 0, ANSWER_DELAY_S_MAX,
                                     &delay);
    rc = rc ? rc
            : blend__sim_mget_number(p, root, "$", "in_system_max", 0, 1, 0,
                                     BLEND_SIM_RUN_IN_SYSTEM_MAX, &in_system);
    if (!rc && in_system != floor(in_system)) {
        rc = blend__sim_merr(p, "$", "\"in_system_max\" must be an integer");
    }
    if (rc) {
        return rc;
    }
    m->in_system_max = (size_t)in_system;
    m->duration_ms = blend__sim_s_to_ms(duration);
    m->warmup_ms = blend__sim_s_to_ms(warmup);
    m->interval_ms = blend__sim_s_to_ms(interval);
    m->answer_delay_ms = blend__sim_s_to_ms(delay);
    if (m->duration_ms <= 0 || m->interval_ms <= 0 || m->warmup_ms >= m->duration_ms) {
        return blend__sim_merr(p, "$",
                               "need duration_s and interval_s of at least 1 ms, warmup_s below "
                               "duration_s");
    }
    m->intervals_count = (size_t)((m->duration_ms + m->interval_ms - 1) / m->interval_ms);
    if (m->intervals_count > BLEND_SIM_RUN_INTERVALS_MAX) {
        return blend__sim_merr(p, "$.interval_s", "more than %d intervals in the run",
                               BLEND_SIM_RUN_INTERVALS_MAX);
    }
    return 0;
}

/* Sum of the agent entries' counts (1 where "count" is absent or not a whole number in range:
 * such an entry is refused before it adds an agent), capped at the limit. */
static size_t agents_total(json_t *agents)
{
    size_t total = 0;
    for (size_t i = 0; i < json_array_size(agents) && total < BLEND_SIM_RUN_AGENTS_MAX; i++) {
        json_t *c = json_object_get(json_array_get(agents, i), "count");
        double x = json_number_value(c);
        total += json_is_number(c) && x >= 1 && x <= BLEND_SIM_RUN_AGENTS_MAX && x == floor(x)
                     ? (size_t)x
                     : 1;
    }
    return total < BLEND_SIM_RUN_AGENTS_MAX ? total : BLEND_SIM_RUN_AGENTS_MAX;
}

static int parse_lists(struct blend__sim_mparser *p, json_t *root, json_t *plain_q, json_t *plain_a,
                       json_t *entry_of)
{
    struct blend_sim_model *m = p->m;
    json_t *qs = json_object_get(root, "queues"), *as = json_object_get(root, "agents");
    if (!json_is_array(qs) || json_array_size(qs) == 0 ||
        json_array_size(qs) > BLEND_SIM_RUN_QUEUES_MAX) {
        return blend__sim_merr(p, "$.queues", "must be an array of 1..%d queues",
                               BLEND_SIM_RUN_QUEUES_MAX);
    }
    if (!json_is_array(as) || json_array_size(as) > BLEND_SIM_RUN_AGENTS_MAX) {
        return blend__sim_merr(p, "$.agents", "must be an array of at most %d agents",
                               BLEND_SIM_RUN_AGENTS_MAX);
    }
    m->queues = blend_calloc(json_array_size(qs), sizeof *m->queues);
    m->agents = blend_calloc(agents_total(as) + 1, sizeof *m->agents);
    json_t *seen_q = json_object(), *seen_a = json_object();
    int rc = m->queues && m->agents && seen_q && seen_a ? 0 : BLEND_ENOMEM;
    for (size_t i = 0; i < json_array_size(qs) && !rc; i++) {
        rc = parse_model_queue(p, json_array_get(qs, i), i, seen_q, plain_q);
        m->queues_count += !rc;
    }
    for (size_t i = 0; i < json_array_size(as) && !rc; i++) {
        rc = parse_model_agent(p, json_array_get(as, i), i, seen_a, plain_a, entry_of);
    }
    json_decref(seen_q);
    json_decref(seen_a);
    p->is_oom |= rc == BLEND_ENOMEM;
    return rc;
}

static int parse_model(struct blend__sim_mparser *p, const char *text, size_t len)
{
    static const char *const keys[] = {"duration_s",    "warmup_s", "interval_s", "answer_delay_s",
                                       "in_system_max", "queues",   "agents",     NULL};
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return blend__sim_merr(p, "$", "bad JSON at line %d column %d: %s", jerr.line, jerr.column,
                               jerr.text);
    }
    json_t *plain_q = json_array(), *plain_a = json_array(), *entry_of = json_array();
    int rc = plain_q && plain_a && entry_of ? 0 : BLEND_ENOMEM;
    rc = rc                     ? rc
         : json_is_object(root) ? blend__sim_mcheck_keys(p, root, "$", keys)
                                : blend__sim_merr(p, "$", "a model must be a JSON object");
    rc = rc ? rc : parse_times(p, root);
    rc = rc ? rc : parse_lists(p, root, plain_q, plain_a, entry_of);
    if (!rc) {
        struct blend_sim_scenario *s = NULL;
        char msg[256];
        rc = scenario_check(plain_q, plain_a, &s, msg, sizeof msg);
        if (rc == 0) {
            rc = take_scenario(p, s);
        } else if (rc != BLEND_ENOMEM) {
            rc = locate_refusal(p, plain_q, plain_a, entry_of, msg);
        }
        blend_sim_scenario_destroy(s);
    }
    json_decref(plain_q);
    json_decref(plain_a);
    json_decref(entry_of);
    json_decref(root);
    return rc == BLEND_ENOMEM || p->is_oom ? BLEND_ENOMEM : rc;
}

int blend_sim_model_parse(const char *text, size_t len, const char *file,
                          struct blend_sim_model **out, struct blend_sim_errors *errs)
{
    BLEND_ASSERT(text || len == 0);
    BLEND_ASSERT(file && out && errs);
    errs->count = 0;
    struct blend__sim_mparser p = {.file = file, .errs = errs};
    if (len > BLEND_SIM_MODEL_BYTES_MAX) {
        return blend__sim_merr(&p, "$", "file larger than %d bytes", BLEND_SIM_MODEL_BYTES_MAX);
    }
    p.m = blend_calloc(1, sizeof *p.m);
    if (!p.m) {
        return BLEND_ENOMEM;
    }
    int rc = parse_model(&p, text ? text : "", len);
    if (rc) {
        blend_sim_model_destroy(p.m);
        BLEND_ASSERT(rc == BLEND_ENOMEM || errs->count > 0);
        return rc;
    }
    *out = p.m;
    return 0;
}

void blend_sim_model_destroy(struct blend_sim_model *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->queues_count; i++) {
        blend_free(m->queues[i].rates_per_hour);
    }
    for (size_t i = 0; m->queue_names && i < m->queues_count; i++) {
        blend_free(m->queue_names[i]);
    }
    for (size_t i = 0; m->agent_names && i < m->agents_count; i++) {
        blend_free(m->agent_names[i]);
    }
    for (size_t i = 0; i < m->agents_count; i++) {
        blend_free(m->agents[i].shifts);
    }
    blend_free(m->queue_names);
    blend_free(m->agent_names);
    blend_free(m->queues);
    blend_free(m->agents);
    blend_free(m);
}

/* ---- Driver: state ----------------------------------------------------------------------------
 */

/* Timer kinds are 1..6 (blend_acd_timer_kind); WRAPUP names an agent, the others a contact. */
#define TIMER_KINDS 8
/* Longest effect line (reasons and names are bounded). */
#define LINE_BYTES_MAX (64 * 1024)

enum ev_kind {
    K_TIMER = 0, /* first at one instant */
    K_WARMUP,
    K_ARRIVE,
    K_END,
    K_ABANDON,
    K_ACCEPT,
    K_SHIFT_START,
    K_SHIFT_END,
};

struct ev {
    int64_t at_ms;
    uint64_t key; /* timer id (K_TIMER) or insertion number */
    enum ev_kind kind;
    uint32_t gen; /* K_TIMER: generation that armed it */
    int64_t a, b;
};

enum contact_state { C_WAITING = 1, C_CONNECTED, C_GONE };

struct rcontact {
    uint32_t timer_gen[TIMER_KINDS];
    int64_t handle_ms;
    int32_t queue; /* model index */
    uint8_t state;
};

struct ragent {
    uint32_t timer_gen[TIMER_KINDS];
    int wants_on;
    int is_touched; /* listed in touched[] */
};

struct driver {
    const struct blend_sim_model *m;
    const struct blend_sim_run_opts *opts;
    struct blend_sim_rng rng;
    struct blend_acd *acd;
    struct blend_stats *stats;
    int64_t now_ms;
    struct blend_acd_effects fx;
    struct blend_acd_effect *sorted;
    struct ev *heap;
    size_t heap_count, heap_cap;
    uint64_t seq;
    uint32_t timer_gen;
    struct rcontact *contacts; /* by contact id - 1 */
    size_t contacts_count, contacts_cap;
    struct ragent *agents; /* by agent id - 1 */
    int64_t *touched;      /* agents to bring to their shift's presence */
    size_t touched_count;
    int64_t *accepts; /* offers to accept at once: contact, agent pairs */
    size_t accepts_count, accepts_cap;
    double *next_arrival_ms; /* per queue, exact (unrounded) */
    int64_t *blocked;        /* per queue */
    struct blend_buf line;
    uint64_t steps;
    int is_over; /* the step guard stopped the run */
    int is_oom;
};

/* ---- Driver: event heap ------------------------------------------------------------------------
 */

static int ev_before(const struct ev *x, const struct ev *y)
{
    if (x->at_ms != y->at_ms) {
        return x->at_ms < y->at_ms;
    }
    if ((x->kind == K_TIMER) != (y->kind == K_TIMER)) {
        return x->kind == K_TIMER;
    }
    return x->key < y->key;
}

static int heap_push(struct driver *d, struct ev e)
{
    if (d->heap_count == d->heap_cap) {
        size_t cap = d->heap_cap ? d->heap_cap * 2 : 256;
        struct ev *h = blend_realloc(d->heap, cap * sizeof *h);
        if (!h) {
            return BLEND_ENOMEM;
        }
        d->heap = h;
        d->heap_cap = cap;
    }
    if (e.kind != K_TIMER) {
        e.key = d->seq++;
    }
    size_t i = d->heap_count++;
    while (i > 0 && ev_before(&e, &d->heap[(i - 1) / 2])) {
        d->heap[i] = d->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    d->heap[i] = e;
    return 0;
}

static struct ev heap_pop(struct driver *d)
{
    BLEND_ASSERT(d->heap_count > 0);
    struct ev top = d->heap[0], last = d->heap[--d->heap_count];
    size_t i = 0, n = d->heap_count;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && ev_before(&d->heap[c + 1], &d->heap[c])) {
            c++;
        }
        if (!ev_before(&d->heap[c], &last)) {
            break;
        }
        d->heap[i] = d->heap[c];
        i = c;
    }
    if (n > 0) {
        d->heap[i] = last;
    }
    return top;
}

/* ---- Driver: timers ---------------------------------------------------------------------------
 */

/* The generation slot of a timer id: agents for WRAPUP, contacts for the other kinds. */
static uint32_t *timer_slot(struct driver *d, uint64_t id)
{
    int kind = BLEND_ACD_TIMER_KIND(id);
    int64_t entity = BLEND_ACD_TIMER_ENTITY(id);
    BLEND_ASSERT(kind >= 1 && kind < TIMER_KINDS && entity >= 1);
    if (kind == BLEND_ACD_TIMER_WRAPUP) {
        BLEND_ASSERT((size_t)entity <= d->m->agents_count);
        return &d->agents[entity - 1].timer_gen[kind];
    }
    BLEND_ASSERT((size_t)entity <= d->contacts_count);
    return &d->contacts[entity - 1].timer_gen[kind];
}

static int timer_apply(struct driver *d, const struct blend_acd_effect *e)
{
    uint32_t *slot = timer_slot(d, e->timer);
    if (e->type == BLEND_ACD_FX_TIMER_CANCEL) {
        *slot = 0;
        return 0;
    }
    BLEND_ASSERT(e->due_ms >= d->now_ms);
    *slot = ++d->timer_gen ? d->timer_gen : ++d->timer_gen; /* 0 means "not armed" */
    struct ev t = {.at_ms = e->due_ms, .key = e->timer, .kind = K_TIMER, .gen = *slot};
    return heap_push(d, t);
}

/* ---- Driver: effect lines (the format of `blend sim replay`, docs/sim.md) -------------------- */

static void line_printf(struct driver *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void line_printf(struct driver *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (blend_buf_vprintf(&d->line, fmt, ap) != 0) {
        d->is_oom = 1;
    }
    va_end(ap);
}

static const char *queue_name(const struct driver *d, int64_t id)
{
    BLEND_ASSERT(id >= 1 && (size_t)id <= d->m->queues_count);
    return d->m->queue_names[id - 1];
}

static void print_state(struct driver *d, const struct blend_acd_effect *e)
{
    static const char *const states[] = {"logged_out", "ready", "not_ready", "wrap_up"};
    if (e->presence == BLEND_PRESENCE_WRAP_UP) {
        return;
    }
    line_printf(d, ",\"state\":\"%s\"", states[e->presence]);
    /* Reasons are the engine's ("login", "missed") or the driver's ("shift-end"): plain. */
    if (e->presence == BLEND_PRESENCE_NOT_READY) {
        line_printf(d, ",\"reason\":\"%.*s\"", (int)strnlen(e->reason, sizeof e->reason),
                    e->reason);
    } else {
        line_printf(d, ",\"reason\":null");
    }
}

static void print_overflow(struct driver *d, const struct blend_acd_effect *e)
{
    const struct blend_acd_queue_config *q = NULL;
    for (size_t i = 0; i < d->m->queues_count && !q; i++) {
        q = d->m->queues[i].config.id == e->queue ? &d->m->queues[i].config : NULL;
    }
    if (e->overflow == BLEND_OVERFLOW_QUEUE && q) {
        line_printf(d, ",\"to\":%s", queue_name(d, q->overflow_queue));
    } else {
        line_printf(d, ",\"to\":\"%s\"",
                    e->overflow == BLEND_OVERFLOW_VOICEMAIL ? "voicemail" : "callback");
    }
}

static void print_effect(struct driver *d, const struct blend_acd_effect *e)
{
    char at[32], wait[32];
    blend_sim_format_seconds(e->at_ms, at, sizeof at);
    line_printf(d, "{\"at\":%s,\"event\":\"%s\"", at, blend_sim_effect_name(e));
    if (e->type != BLEND_ACD_FX_AGENT_STATE) {
        line_printf(d, ",\"contact\":\"c%" PRId64 "\"", e->contact);
    }
    if (e->type == BLEND_ACD_FX_AGENT_STATE || e->agent) {
        BLEND_ASSERT(e->agent >= 1 && (size_t)e->agent <= d->m->agents_count);
        line_printf(d, ",\"agent\":%s", d->m->agent_names[e->agent - 1]);
    }
    if (e->type != BLEND_ACD_FX_AGENT_STATE) {
        line_printf(d, ",\"queue\":%s", queue_name(d, e->queue));
    }
    if (e->type == BLEND_ACD_FX_AGENT_STATE) {
        print_state(d, e);
    } else if (e->type == BLEND_ACD_FX_CONNECTED || e->type == BLEND_ACD_FX_ABANDONED) {
        blend_sim_format_seconds(e->wait_ms, wait, sizeof wait);
        line_printf(d, ",\"wait_s\":%s", wait);
    } else if (e->type == BLEND_ACD_FX_WITHDRAWN) {
        static const char *const why[] = {"", "taken", "abandoned", "unavailable", "moved"};
        line_printf(d, ",\"reason\":\"%s\"",
                    e->withdraw >= 1 && e->withdraw <= 4 ? why[e->withdraw] : "unknown");
    } else if (e->type == BLEND_ACD_FX_RELAXED) {
        line_printf(d, ",\"step\":%d", e->step);
    } else if (e->type == BLEND_ACD_FX_OVERFLOW) {
        print_overflow(d, e);
    }
    if ((e->type == BLEND_ACD_FX_OFFER || e->type == BLEND_ACD_FX_CONNECTED) && e->is_callback) {
        line_printf(d, ",\"callback\":true");
    }
    line_printf(d, "}");
    if (!d->is_oom) {
        d->opts->events(d->line.data, d->line.len, d->opts->arg);
    }
    blend_buf_reset(&d->line);
}

/* ---- Driver: engine steps and the driver's play --------------------------------------------- */

static struct rcontact *rcontact_of(struct driver *d, int64_t id)
{
    BLEND_ASSERT(id >= 1 && (size_t)id <= d->contacts_count);
    return &d->contacts[id - 1];
}

static void touch(struct driver *d, int64_t agent)
{
    BLEND_ASSERT(agent >= 1 && (size_t)agent <= d->m->agents_count);
    struct ragent *a = &d->agents[agent - 1];
    if (!a->is_touched) {
        a->is_touched = 1;
        d->touched[d->touched_count++] = agent;
    }
}

static int push_accept(struct driver *d, int64_t contact, int64_t agent)
{
    if (d->accepts_count + 2 > d->accepts_cap) {
        size_t cap = d->accepts_cap ? d->accepts_cap * 2 : 64;
        int64_t *a = blend_realloc(d->accepts, cap * sizeof *a);
        if (!a) {
            return BLEND_ENOMEM;
        }
        d->accepts = a;
        d->accepts_cap = cap;
    }
    d->accepts[d->accepts_count++] = contact;
    d->accepts[d->accepts_count++] = agent;
    return 0;
}

/* What agents and customers do about one observable effect. */
static int react(struct driver *d, const struct blend_acd_effect *e)
{
    int rc = 0;
    if (e->agent) {
        touch(d, e->agent);
    }
    if (e->type == BLEND_ACD_FX_AGENT_STATE) {
        return 0;
    }
    struct rcontact *c = rcontact_of(d, e->contact);
    switch (e->type) {
    case BLEND_ACD_FX_OFFER:
        if (d->m->answer_delay_ms == 0) {
            rc = push_accept(d, e->contact, e->agent);
        } else {
            struct ev a = {.at_ms = e->at_ms + d->m->answer_delay_ms, .kind = K_ACCEPT};
            a.a = e->contact;
            a.b = e->agent;
            rc = heap_push(d, a);
        }
        break;
    case BLEND_ACD_FX_CONNECTED: {
        c->state = C_CONNECTED;
        struct ev end = {.at_ms = e->at_ms + c->handle_ms, .kind = K_END, .a = e->contact};
        rc = heap_push(d, end);
        break;
    }
    case BLEND_ACD_FX_ABANDONED:
    case BLEND_ACD_FX_ENDED:
        c->state = C_GONE;
        break;
    case BLEND_ACD_FX_OVERFLOW:
        c->state = e->overflow == BLEND_OVERFLOW_VOICEMAIL ? C_GONE : c->state;
        break;
    default:
        break;
    }
    return rc;
}

static void print_step(struct driver *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->fx.count; i++) {
        if (blend_sim_effect_is_observable(&d->fx.items[i])) {
            blend_sim_effect_normalize(&d->fx.items[i], &d->sorted[n++]);
        }
    }
    qsort(d->sorted, n, sizeof d->sorted[0], blend_sim_effect_cmp);
    for (size_t i = 0; i < n; i++) {
        print_effect(d, &d->sorted[i]);
    }
}

/* One engine step. Returns the engine's refusal as is (nothing changed), or 0 with its effects
 * applied: timers recorded, observable effects folded into the stats (engine order), played by
 * the driver and printed (canonical order). */
static int engine_step(struct driver *d, struct blend_acd_event *ev)
{
    if (d->steps >= BLEND_SIM_STEPS_MAX) {
        d->is_over = 1;
        return BLEND_ELIMIT;
    }
    BLEND_ASSERT(ev->now_ms >= d->now_ms);
    d->now_ms = ev->now_ms;
    d->fx.count = 0;
    int rc = blend_acd_step(d->acd, ev, &d->fx);
    d->steps++;
    if (d->opts->is_checked) {
        blend_acd_check(d->acd);
    }
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < d->fx.count && rc == 0; i++) {
        const struct blend_acd_effect *e = &d->fx.items[i];
        BLEND_ASSERT(e->at_ms == d->now_ms);
        if (!blend_sim_effect_is_observable(e)) {
            rc = timer_apply(d, e);
            continue;
        }
        /* The fold accepts every effect of a correct engine fed from the start, and its tables
         * are larger than the engine's. */
        rc = blend_stats_feed(d->stats, e) ? BLEND_EINTERNAL : react(d, e);
    }
    if (rc == 0 && d->opts->events) {
        print_step(d);
    }
    if (d->opts->is_checked) {
        blend_stats_check(d->stats);
    }
    return rc ? rc : d->is_oom ? BLEND_ENOMEM : 0;
}

/* A step the driver may find refused because the world moved on (an offer already taken or
 * withdrawn): BLEND_ESTATE is no error here. */
static int engine_try(struct driver *d, struct blend_acd_event *ev)
{
    int rc = engine_step(d, ev);
    return rc == BLEND_ESTATE ? 0 : rc;
}

static int agent_event(struct driver *d, enum blend_acd_event_type type, int64_t agent)
{
    struct blend_acd_event ev = {.type = type, .now_ms = d->now_ms};
    if (type == BLEND_ACD_EV_AGENT_NOT_READY) {
        ev.u.not_ready.agent = agent;
        snprintf(ev.u.not_ready.reason, sizeof ev.u.not_ready.reason, "shift-end");
    } else {
        ev.u.id = agent;
    }
    return engine_try(d, &ev);
}

/* Brings an agent toward the presence its shift asks for, one step at a time (each step's
 * AGENT_STATE effect touches the agent again, so the next step follows). */
static int reconcile(struct driver *d, int64_t agent)
{
    struct blend_acd_agent_view v;
    int rc = blend_acd_agent(d->acd, agent, &v);
    BLEND_ASSERT(rc == 0);
    int active = 0, offered = 0;
    for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
        active += v.active[ch];
        offered += v.offered[ch];
    }
    if (d->agents[agent - 1].wants_on) {
        if (v.presence == BLEND_PRESENCE_LOGGED_OUT) {
            return agent_event(d, BLEND_ACD_EV_AGENT_LOGIN, agent);
        }
        return v.presence == BLEND_PRESENCE_NOT_READY
                   ? agent_event(d, BLEND_ACD_EV_AGENT_READY, agent)
                   : 0;
    }
    if (v.presence == BLEND_PRESENCE_READY) {
        return agent_event(
            d, active + offered ? BLEND_ACD_EV_AGENT_NOT_READY : BLEND_ACD_EV_AGENT_LOGOUT, agent);
    }
    if (v.presence == BLEND_PRESENCE_NOT_READY && active == 0) {
        return agent_event(d, BLEND_ACD_EV_AGENT_LOGOUT, agent);
    }
    return 0;
}

/* Plays everything an instant asks for after a step: immediate accepts first (in engine order
 * of the offers; under ring-all the first wins and the others find the offer gone), then the
 * agents' presence. Every step it takes may add more of either. */
static int settle(struct driver *d)
{
    size_t ai = 0;
    for (;;) {
        int rc = 0;
        if (ai < d->accepts_count) {
            struct blend_acd_event ev = {.type = BLEND_ACD_EV_OFFER_ACCEPT, .now_ms = d->now_ms};
            ev.u.contact.contact = d->accepts[ai];
            ev.u.contact.agent = d->accepts[ai + 1];
            ai += 2;
            if (rcontact_of(d, ev.u.contact.contact)->state == C_WAITING) {
                rc = engine_try(d, &ev);
            }
        } else if (d->touched_count > 0) {
            d->accepts_count = 0;
            ai = 0;
            int64_t agent = d->touched[--d->touched_count];
            d->agents[agent - 1].is_touched = 0;
            rc = reconcile(d, agent);
        } else {
            d->accepts_count = 0;
            return 0;
        }
        if (rc) {
            return rc;
        }
    }
}

/* ---- Driver: external events ------------------------------------------------------------------
 */

static int64_t sample_ms(struct driver *d, const struct blend_sim_distribution *dist)
{
    double s = dist->dist == BLEND_SIM_DIST_LOGNORMAL
                   ? blend_sim_rng_lognormal(&d->rng, dist->mean_s, dist->sd_s)
                   : blend_sim_rng_exponential(&d->rng, dist->mean_s);
    /* At least 1 ms, at most a day: every contact takes some time and ends within the run's
     * arithmetic (a day is 1e3 standard deviations of any sane handle time). */
    double ms = s * 1000.0;
    return ms < 1 ? 1 : ms > 86400000.0 ? 86400000 : (int64_t)llround(ms);
}

/* Schedules queue qi's next Poisson arrival after its last one: the rate is constant within an
 * interval, and an exponential gap that crosses the interval's end restarts there with the next
 * rate (the process is memoryless). */
static int schedule_arrival(struct driver *d, size_t qi)
{
    const struct blend_sim_model *m = d->m;
    const struct blend_sim_model_queue *q = &m->queues[qi];
    double t = d->next_arrival_ms[qi];
    for (;;) {
        size_t k = (size_t)(t / (double)m->interval_ms);
        if (k >= m->intervals_count || t >= (double)m->duration_ms) {
            return 0;
        }
        double end = (double)(k + 1) * (double)m->interval_ms;
        end = end < (double)m->duration_ms ? end : (double)m->duration_ms;
        double rate_per_ms = q->rates_per_hour[k] / 3600000.0;
        if (rate_per_ms > 0) {
            double gap = blend_sim_rng_exponential(&d->rng, 1.0 / rate_per_ms);
            if (t + gap < end) {
                d->next_arrival_ms[qi] = t + gap;
                struct ev a = {.at_ms = llround(t + gap), .kind = K_ARRIVE, .a = (int64_t)qi};
                return heap_push(d, a);
            }
        }
        t = end;
    }
}

static int new_contact(struct driver *d, size_t qi, int64_t *id)
{
    if (d->contacts_count >= BLEND_SIM_RUN_CONTACTS_MAX) {
        return BLEND_ELIMIT;
    }
    if (d->contacts_count == d->contacts_cap) {
        size_t cap = d->contacts_cap ? d->contacts_cap * 2 : 1024;
        struct rcontact *c = blend_realloc(d->contacts, cap * sizeof *c);
        if (!c) {
            return BLEND_ENOMEM;
        }
        d->contacts = c;
        d->contacts_cap = cap;
    }
    struct rcontact *c = &d->contacts[d->contacts_count++];
    memset(c, 0, sizeof *c);
    c->queue = (int32_t)qi;
    c->state = C_WAITING;
    c->handle_ms = sample_ms(d, &d->m->queues[qi].handle);
    *id = (int64_t)d->contacts_count;
    return 0;
}

static int on_arrive(struct driver *d, size_t qi)
{
    const struct blend_sim_model_queue *q = &d->m->queues[qi];
    int64_t id = 0;
    int rc = new_contact(d, qi, &id);
    if (rc) {
        return rc;
    }
    int64_t patience_ms = -1;
    if (q->patience.dist != BLEND_SIM_DIST_NONE) {
        patience_ms = sample_ms(d, &q->patience);
    }
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_CONTACT_ARRIVE, .now_ms = d->now_ms};
    ev.u.arrive.contact = id;
    ev.u.arrive.queue = q->config.id;
    ev.u.arrive.channel = q->channel;
    rc = engine_step(d, &ev);
    if (rc == BLEND_ELIMIT && !d->is_over) {
        d->blocked[qi]++; /* the engine is full: the caller hears a busy tone */
        rcontact_of(d, id)->state = C_GONE;
        rc = 0;
    } else if (rc == 0 && patience_ms >= 0) {
        struct ev ab = {.at_ms = d->now_ms + patience_ms, .kind = K_ABANDON, .a = id};
        rc = heap_push(d, ab);
    }
    return rc ? rc : schedule_arrival(d, qi);
}

static int on_contact(struct driver *d, const struct ev *e)
{
    struct rcontact *c = rcontact_of(d, e->a);
    struct blend_acd_event ev = {.now_ms = d->now_ms};
    ev.u.contact.contact = e->a;
    if (e->kind == K_END && c->state == C_CONNECTED) {
        ev.type = BLEND_ACD_EV_CONTACT_END;
        return engine_step(d, &ev);
    }
    if (e->kind == K_ABANDON && c->state == C_WAITING) {
        ev.type = BLEND_ACD_EV_CONTACT_ABANDON;
        return engine_step(d, &ev);
    }
    if (e->kind == K_ACCEPT && c->state == C_WAITING) {
        ev.type = BLEND_ACD_EV_OFFER_ACCEPT;
        ev.u.contact.agent = e->b;
        return engine_try(d, &ev);
    }
    return 0; /* the contact moved on before its time came */
}

static int on_shift(struct driver *d, const struct ev *e)
{
    int64_t agent = e->a;
    d->agents[agent - 1].wants_on = e->kind == K_SHIFT_START;
    touch(d, agent);
    if (e->kind == K_SHIFT_END) {
        struct blend_acd_agent_view v;
        int rc = blend_acd_agent(d->acd, agent, &v);
        BLEND_ASSERT(rc == 0);
        /* Asked during wrap-up, not-ready applies when it ends: no contact is offered between
         * the end of wrap-up and the log-out. */
        if (v.presence == BLEND_PRESENCE_WRAP_UP) {
            return agent_event(d, BLEND_ACD_EV_AGENT_NOT_READY, agent);
        }
    }
    return 0;
}

static int on_event(struct driver *d, const struct ev *e)
{
    BLEND_ASSERT(e->at_ms >= d->now_ms);
    d->now_ms = e->at_ms;
    switch (e->kind) {
    case K_TIMER: {
        uint32_t *slot = timer_slot(d, e->key);
        if (*slot != e->gen) {
            return 0; /* cancelled or re-armed since */
        }
        *slot = 0;
        struct blend_acd_event ev = {.type = BLEND_ACD_EV_TIMER, .now_ms = d->now_ms};
        ev.u.timer = e->key;
        return engine_step(d, &ev);
    }
    case K_WARMUP:
        return blend_stats_reset_window(d->stats, d->now_ms);
    case K_ARRIVE:
        return on_arrive(d, (size_t)e->a);
    case K_END:
    case K_ABANDON:
    case K_ACCEPT:
        return on_contact(d, e);
    case K_SHIFT_START:
    case K_SHIFT_END:
        return on_shift(d, e);
    }
    return BLEND_EINTERNAL;
}

/* ---- Driver: setup, loop, figures -------------------------------------------------------------
 */

static int driver_init(struct driver *d)
{
    const struct blend_sim_model *m = d->m;
    size_t nq = m->queues_count, na = m->agents_count;
    d->fx.cap = BLEND_ACD_EFFECTS_MAX;
    d->fx.items = blend_calloc(BLEND_ACD_EFFECTS_MAX, sizeof *d->fx.items);
    d->sorted = blend_calloc(BLEND_ACD_EFFECTS_MAX, sizeof *d->sorted);
    d->agents = blend_calloc(na + 1, sizeof *d->agents);
    d->touched = blend_calloc(na + 1, sizeof *d->touched);
    d->next_arrival_ms = blend_calloc(nq, sizeof *d->next_arrival_ms);
    d->blocked = blend_calloc(nq, sizeof *d->blocked);
    blend_buf_init(&d->line, LINE_BYTES_MAX);
    if (!d->fx.items || !d->sorted || !d->agents || !d->touched || !d->next_arrival_ms ||
        !d->blocked) {
        return BLEND_ENOMEM;
    }
    blend_sim_rng_seed(&d->rng, d->opts->seed);
    struct blend_acd_limits limits = {
        .agents_max = na ? na : 1,
        .queues_max = nq,
        .contacts_max = m->in_system_max,
        .customers_max = 1,
    };
    struct blend_stats_limits slimits = {
        .queues_max = nq, .agents_max = na ? na : 1, .contacts_max = 2 * m->in_system_max};
    int rc = blend_acd_create(&limits, &d->acd);
    return rc ? rc : blend_stats_create(&slimits, &d->stats);
}

static void driver_deinit(struct driver *d)
{
    blend_acd_destroy(d->acd);
    blend_stats_destroy(d->stats);
    blend_free(d->fx.items);
    blend_free(d->sorted);
    blend_free(d->heap);
    blend_free(d->contacts);
    blend_free(d->agents);
    blend_free(d->touched);
    blend_free(d->accepts);
    blend_free(d->next_arrival_ms);
    blend_free(d->blocked);
    blend_buf_deinit(&d->line);
}

/* Queues (in id order, as the replay driver), agents, stats thresholds, then the first events:
 * the warm-up's end, every shift start and end, each queue's first arrival. */
static int configure(struct driver *d)
{
    const struct blend_sim_model *m = d->m;
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_QUEUE_SET};
    int rc = 0;
    for (int64_t id = 1; (size_t)id <= m->queues_count && !rc; id++) {
        for (size_t i = 0; i < m->queues_count && !rc; i++) {
            const struct blend_sim_model_queue *q = &m->queues[i];
            if (q->config.id == id) {
                ev.u.queue = q->config;
                rc = blend_acd_step(d->acd, &ev, &d->fx);
                rc = rc ? rc
                        : blend_stats_queue_config(d->stats, id, q->kpi.short_abandon_ms,
                                                   q->kpi.sla_within_ms, q->kpi.sla_pct * 100.0);
            }
        }
    }
    ev.type = BLEND_ACD_EV_AGENT_SET;
    for (size_t i = 0; i < m->agents_count && !rc; i++) {
        ev.u.agent = m->agents[i].config;
        rc = blend_acd_step(d->acd, &ev, &d->fx);
    }
    if (!rc && m->warmup_ms > 0) {
        rc = heap_push(d, (struct ev){.at_ms = m->warmup_ms, .kind = K_WARMUP});
    }
    for (size_t i = 0; i < m->agents_count && !rc; i++) {
        for (size_t k = 0; k < m->agents[i].shifts_count && !rc; k++) {
            const struct blend_sim_shift *sh = &m->agents[i].shifts[k];
            int64_t agent = (int64_t)i + 1;
            rc =
                heap_push(d, (struct ev){.at_ms = sh->start_ms, .kind = K_SHIFT_START, .a = agent});
            rc = rc ? rc
                    : heap_push(d,
                                (struct ev){.at_ms = sh->end_ms, .kind = K_SHIFT_END, .a = agent});
        }
    }
    for (size_t i = 0; i < m->queues_count && !rc; i++) {
        rc = schedule_arrival(d, i);
    }
    return rc;
}

static int run_loop(struct driver *d)
{
    while (d->heap_count > 0 && d->heap[0].at_ms <= d->m->duration_ms) {
        struct ev e = heap_pop(d);
        int rc = on_event(d, &e);
        rc = rc ? rc : settle(d);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int agent_is_eligible(const struct blend_acd_agent_config *a,
                             const struct blend_acd_queue_config *q)
{
    int has_channel = 0;
    for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
        has_channel |= (q->channels & (1u << ch)) && a->capacity[ch] > 0;
    }
    for (size_t i = 0; i < q->skills_count && has_channel; i++) {
        int ok = 0;
        for (size_t k = 0; k < a->skills_count && !ok; k++) {
            ok = a->skills[k].skill == q->skills[i].skill &&
                 a->skills[k].proficiency >= q->skills[i].min_proficiency;
        }
        has_channel = ok;
    }
    return has_channel;
}

static int collect(struct driver *d, struct blend_sim_run_result *r)
{
    const struct blend_sim_model *m = d->m;
    int64_t end = m->duration_ms;
    for (size_t i = 0; i < m->agents_count; i++) {
        struct blend_sim_run_agent *a = &r->agents[i];
        int rc = blend_stats_agent(d->stats, (int64_t)i + 1, end, &a->stats);
        if (rc == BLEND_ENOENT) {
            memset(&a->stats, 0, sizeof a->stats);
            a->stats.id = (int64_t)i + 1;
        } else if (rc) {
            return rc;
        }
    }
    for (size_t i = 0; i < m->queues_count; i++) {
        struct blend_sim_run_queue *q = &r->queues[i];
        int rc = blend_stats_queue(d->stats, m->queues[i].config.id, end, &q->stats);
        if (rc) {
            return rc;
        }
        q->blocked = d->blocked[i];
        int64_t busy = 0, idle = 0;
        for (size_t k = 0; k < m->agents_count; k++) {
            if (agent_is_eligible(&m->agents[k].config, &m->queues[i].config)) {
                busy += r->agents[k].stats.busy_ms;
                idle += r->agents[k].stats.ready_idle_ms;
            }
        }
        q->occupancy = busy + idle > 0 ? (double)busy / (double)(busy + idle) : 0;
    }
    r->window_start_ms = m->warmup_ms;
    r->end_ms = end;
    r->arrivals = d->contacts_count;
    r->steps = d->steps;
    return 0;
}

int blend_sim_run(const struct blend_sim_model *m, const struct blend_sim_run_opts *opts,
                  struct blend_sim_run_result **out)
{
    BLEND_ASSERT(m && opts && out);
    BLEND_ASSERT(m->queues_count > 0 && m->duration_ms > 0);
    struct driver d = {.m = m, .opts = opts};
    struct blend_sim_run_result *r = blend_calloc(1, sizeof *r);
    int rc = r ? 0 : BLEND_ENOMEM;
    if (r) {
        r->seed = opts->seed;
        r->queues = blend_calloc(m->queues_count, sizeof *r->queues);
        r->agents = blend_calloc(m->agents_count + 1, sizeof *r->agents);
        r->queues_count = m->queues_count;
        r->agents_count = m->agents_count;
        rc = r->queues && r->agents ? 0 : BLEND_ENOMEM;
    }
    rc = rc ? rc : driver_init(&d);
    rc = rc ? rc : configure(&d);
    rc = rc ? rc : run_loop(&d);
    rc = rc ? rc : collect(&d, r);
    driver_deinit(&d);
    if (rc) {
        blend_sim_run_result_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

void blend_sim_run_result_destroy(struct blend_sim_run_result *r)
{
    if (!r) {
        return;
    }
    blend_free(r->queues);
    blend_free(r->agents);
    blend_free(r);
}

/* ---- Figures as text ------------------------------------------------------------------------- */

/* A ratio with four decimals, or null (JSON) / "-" (text) when its denominator is 0. */
static void fmt_ratio(char *out, size_t outlen, double x, int64_t den, int is_json)
{
    if (den <= 0) {
        snprintf(out, outlen, "%s", is_json ? "null" : "-");
    } else {
        snprintf(out, outlen, "%.4f", x);
    }
}

/* Milliseconds as seconds with three decimals, or null / "-" when n is 0. */
static void fmt_mean_s(char *out, size_t outlen, double ms, int64_t n, int is_json)
{
    if (n <= 0) {
        snprintf(out, outlen, "%s", is_json ? "null" : "-");
    } else {
        snprintf(out, outlen, "%.3f", ms / 1000.0);
    }
}

static int format_queue(struct blend_buf *b, const char *name, const struct blend_sim_run_queue *q,
                        int is_json, int is_first)
{
    const struct blend_stats_queue_figures *f = &q->stats.window;
    int64_t decided = f->answered + f->abandoned;
    char sl[32], asa[32], aht[32], ar[32], occ[32];
    fmt_ratio(sl, sizeof sl, f->service_level, decided, is_json);
    fmt_mean_s(asa, sizeof asa, f->asa_ms, f->answered, is_json);
    fmt_mean_s(aht, sizeof aht, f->aht_ms, f->handled, is_json);
    fmt_ratio(ar, sizeof ar, f->abandon_rate, decided, is_json);
    fmt_ratio(occ, sizeof occ, q->occupancy, 1, is_json);
    const char *fmt = is_json ? "%s{\"queue\":%s,\"offered\":%" PRId64 ",\"answered\":%" PRId64
                                ",\"abandoned\":%" PRId64 ",\"short_abandoned\":%" PRId64
                                ",\"blocked\":%" PRId64 ",\"service_level\":%s,\"asa_s\":%s,"
                                "\"aht_s\":%s,\"abandon_rate\":%s,\"occupancy\":%s}"
                              : "%squeue %s: offered %" PRId64 " answered %" PRId64
                                " abandoned %" PRId64 " short_abandoned %" PRId64
                                " blocked %" PRId64 " service_level %s asa_s %s aht_s %s"
                                " abandon_rate %s occupancy %s\n";
    return blend_buf_printf(b, fmt, is_json && !is_first ? "," : "", name, f->offered, f->answered,
                            f->abandoned, f->short_abandoned, q->blocked, sl, asa, aht, ar, occ);
}

static int format_agent(struct blend_buf *b, const char *name, const struct blend_sim_run_agent *a,
                        int is_json, int is_first)
{
    const struct blend_stats_agent *s = &a->stats;
    char occ[32], util[32], aht[32];
    fmt_ratio(occ, sizeof occ, s->occupancy, s->busy_ms + s->ready_idle_ms, is_json);
    fmt_ratio(util, sizeof util, s->utilization, s->logged_in_ms, is_json);
    fmt_mean_s(aht, sizeof aht, s->aht_ms, s->handled, is_json);
    const char *fmt = is_json ? "%s{\"agent\":%s,\"handled\":%" PRId64
                                ",\"aht_s\":%s,\"occupancy\":%s,\"utilization\":%s}"
                              : "%sagent %s: handled %" PRId64
                                " aht_s %s occupancy %s utilization %s\n";
    return blend_buf_printf(b, fmt, is_json && !is_first ? "," : "", name, s->handled, aht, occ,
                            util);
}

int blend_sim_run_format(const struct blend_sim_model *m, const struct blend_sim_run_result *r,
                         int is_json, blend_sim_write_fn *write, void *arg)
{
    BLEND_ASSERT(m && r && write);
    BLEND_ASSERT(r->queues_count == m->queues_count && r->agents_count == m->agents_count);
    struct blend_buf b;
    char start[32], end[32];
    blend_buf_init(&b, (size_t)1 << 30);
    blend_sim_format_seconds(r->window_start_ms, start, sizeof start);
    blend_sim_format_seconds(r->end_ms, end, sizeof end);
    int rc = blend_buf_printf(&b,
                              is_json ? "{\"seed\":%" PRIu64 ",\"window_start_s\":%s,\"end_s\":%s,"
                                        "\"arrivals\":%" PRIu64 ",\"queues\":["
                                      : "seed %" PRIu64 ", window %s..%s s, arrivals %" PRIu64 "\n",
                              r->seed, start, end, r->arrivals);
    for (size_t i = 0; i < r->queues_count && !rc; i++) {
        int64_t id = m->queues[i].config.id;
        rc = format_queue(&b, m->queue_names[id - 1], &r->queues[i], is_json, i == 0);
    }
    rc = rc ? rc : blend_buf_appends(&b, is_json ? "],\"agents\":[" : "");
    for (size_t i = 0; i < r->agents_count && !rc; i++) {
        rc = format_agent(&b, m->agent_names[i], &r->agents[i], is_json, i == 0);
    }
    rc = rc ? rc : blend_buf_appends(&b, is_json ? "]}" : "");
    if (rc == 0) {
        size_t len = b.len;
        /* Text: one call per line, without the newline, like every other writer. */
        const char *p = b.data ? b.data : "";
        while (!is_json && len > 0) {
            const char *nl = memchr(p, '\n', len);
            size_t n = nl ? (size_t)(nl - p) : len;
            write(p, n, arg);
            len -= n + (nl ? 1 : 0);
            p += n + (nl ? 1 : 0);
        }
        if (is_json) {
            write(p, len, arg);
        }
    }
    blend_buf_deinit(&b);
    return rc ? BLEND_ENOMEM : 0;
}
