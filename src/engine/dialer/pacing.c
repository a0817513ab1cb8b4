/*
 * Outbound pacing (pacing.h has the model in one paragraph; docs/dialer.md the whole of it).
 *
 * Estimates: the answer probability is a count of attempts answered by a person over all
 * attempts, both decayed by half every BLEND_PACER_ANSWER_HALF_LIFE attempts and blended with
 * the prior as PRIOR_WEIGHT pseudo-attempts; ring times and handle times are the last
 * BLEND_PACER_SAMPLES_MAX samples, read as empirical survival curves smoothed toward the
 * prior's exponential curve. Distributions are Poisson-binomial, computed exactly by the
 * usual O(n^2) recurrence in stack arrays bounded by the limits of limits.h.
 */
#include "engine/dialer/pacing.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base/assert.h"

/* Attempts after which an old attempt weighs half: a change of the answer rate is half
 * followed after this many attempts (a minute for 50 agents). */
#define ANSWER_HALF_LIFE 100.0
/* The prior counts as this many attempts. */
#define PRIOR_WEIGHT 10.0
/* Standard errors added to the answer probability predictive paces on. */
#define ANSWER_CAUTION 1.0
/* Survival curves: the prior's curve counts as this many samples. */
#define CURVE_PRIOR_WEIGHT 2.0
/* Fewer busy agents' samples beyond `elapsed` than this: the release chance is the prior's. */
#define P_MIN 0.01
#define P_MAX 0.99
/* The window's record moves the target between these factors. */
#define TARGET_FACTOR_MIN 0.25
#define TARGET_FACTOR_MAX 1.0
/* A person gives up on an unanswered call after about this long when no sample says. */
#define NO_ANSWER_PRIOR_MS 20000

void blend_pacer_params_default(struct blend_pacer_params *p)
{
    memset(p, 0, sizeof *p);
    p->mode = BLEND_DIAL_PREDICTIVE;
    p->power_ratio = 2.0;
    p->abandon_target = 0.03;
    p->max_lines_per_agent = 3.0;
    p->prior_answer = 0.3;
    p->prior_answer_ms = 12000;
    p->prior_handle_ms = 180000;
    p->window_ms = (int64_t)30 * 24 * 3600 * 1000;
}

static int params_valid(const struct blend_pacer_params *p)
{
    return p->mode >= BLEND_DIAL_PREVIEW && p->mode <= BLEND_DIAL_PREDICTIVE &&
           p->power_ratio >= 1.0 && p->power_ratio <= BLEND_PACER_LINES_MAX &&
           p->abandon_target > 0.0 && p->abandon_target <= 0.2 && p->max_lines_per_agent >= 1.0 &&
           p->max_lines_per_agent <= BLEND_PACER_LINES_MAX && p->prior_answer >= P_MIN &&
           p->prior_answer <= P_MAX && p->prior_answer_ms > 0 && p->prior_handle_ms > 0 &&
           p->window_ms >= BLEND_PACER_BUCKETS;
}

int blend_pacer_init(struct blend_pacer *p, const struct blend_pacer_params *params)
{
    BLEND_ASSERT(p && params);
    if (!params_valid(params)) {
        return BLEND_EINVAL;
    }
    memset(p, 0, sizeof *p);
    p->params = *params;
    p->bucket_ms = params->window_ms / BLEND_PACER_BUCKETS;
    for (int i = 0; i < BLEND_PACER_BUCKETS; i++) {
        p->window[i].start_ms = INT64_MIN;
    }
    return 0;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The whole second a time falls in, the last bin holding every longer time. */
static int bin_of(int64_t ms, int bins)
{
    int64_t b = ms < 0 ? 0 : ms / 1000;
    return b >= bins - 1 ? bins - 1 : (int)b;
}

void blend_pacer_attempt(struct blend_pacer *p, int64_t now_ms, enum blend_dial_outcome outcome,
                         int64_t ring_ms)
{
    BLEND_ASSERT(p && outcome >= BLEND_DIAL_HUMAN && outcome <= BLEND_DIAL_FAILED);
    (void)now_ms;
    double keep = exp2(-1.0 / ANSWER_HALF_LIFE);
    int is_human = outcome == BLEND_DIAL_HUMAN;
    p->human_w = p->human_w * keep + (is_human ? 1.0 : 0.0);
    p->total_w = p->total_w * keep + 1.0;
    struct blend_pacer_ring *slot = &p->rings[p->rings_next];
    if (p->rings_count == BLEND_PACER_SAMPLES_MAX) { /* the oldest sample leaves */
        p->ring_bins[slot->is_human][bin_of(slot->ring_ms, BLEND_PACER_RING_BINS)]--;
        p->human_ring_ms_sum -= slot->is_human ? (double)slot->ring_ms : 0.0;
    } else {
        p->rings_count++;
    }
    *slot = (struct blend_pacer_ring){.ring_ms = ring_ms < 0 ? 0 : ring_ms, .is_human = is_human};
    p->ring_bins[is_human][bin_of(slot->ring_ms, BLEND_PACER_RING_BINS)]++;
    p->human_ring_ms_sum += is_human ? (double)slot->ring_ms : 0.0;
    p->rings_next = (p->rings_next + 1) % BLEND_PACER_SAMPLES_MAX;
    p->attempts++;
}

static struct blend_pacer_bucket *bucket_at(struct blend_pacer *p, int64_t now_ms)
{
    int64_t start = now_ms - (((now_ms % p->bucket_ms) + p->bucket_ms) % p->bucket_ms);
    int64_t n = start / p->bucket_ms;
    struct blend_pacer_bucket *b =
        &p->window[((n % BLEND_PACER_BUCKETS) + BLEND_PACER_BUCKETS) % BLEND_PACER_BUCKETS];
    if (b->start_ms != start) {
        *b = (struct blend_pacer_bucket){.start_ms = start};
    }
    return b;
}

void blend_pacer_live(struct blend_pacer *p, int64_t now_ms, int is_dropped)
{
    BLEND_ASSERT(p);
    struct blend_pacer_bucket *b = bucket_at(p, now_ms);
    b->lives++;
    p->lives++;
    if (is_dropped) {
        b->drops++;
        p->drops++;
    }
}

void blend_pacer_handled(struct blend_pacer *p, int64_t handle_ms)
{
    BLEND_ASSERT(p);
    int64_t *slot = &p->handles_ms[p->handles_next];
    if (p->handles_count == BLEND_PACER_SAMPLES_MAX) { /* the oldest sample leaves */
        p->handle_bins[bin_of(*slot, BLEND_PACER_HANDLE_BINS)]--;
        p->handle_ms_sum -= (double)*slot;
    } else {
        p->handles_count++;
    }
    *slot = handle_ms < 0 ? 0 : handle_ms;
    p->handle_bins[bin_of(*slot, BLEND_PACER_HANDLE_BINS)]++;
    p->handle_ms_sum += (double)*slot;
    p->handles_next = (p->handles_next + 1) % BLEND_PACER_SAMPLES_MAX;
}

static void window_counts(const struct blend_pacer *p, int64_t now_ms, double *lives, double *drops)
{
    uint64_t l = 0, d = 0;
    for (int i = 0; i < BLEND_PACER_BUCKETS; i++) {
        const struct blend_pacer_bucket *b = &p->window[i];
        if (b->start_ms != INT64_MIN && b->start_ms <= now_ms &&
            b->start_ms > now_ms - p->params.window_ms) {
            l += b->lives;
            d += b->drops;
        }
    }
    *lives = (double)l;
    *drops = (double)d;
}

double blend_pacer_window_rate(const struct blend_pacer *p, int64_t now_ms)
{
    double lives, drops;
    window_counts(p, now_ms, &lives, &drops);
    return lives > 0 ? drops / lives : 0.0;
}

double blend_pacer_p_answer(const struct blend_pacer *p)
{
    double v = (p->human_w + PRIOR_WEIGHT * p->params.prior_answer) / (p->total_w + PRIOR_WEIGHT);
    return clamp(v, P_MIN, P_MAX);
}

/* The answer probability predictive paces on: the estimate plus ANSWER_CAUTION standard errors
 * of it (wide at the start of a campaign, when an unknown list may answer far more than the
 * prior says; about +0.04 once a hundred-odd attempts weigh in). */
static double p_paced(const struct blend_pacer *p)
{
    double v = blend_pacer_p_answer(p);
    return clamp(v + ANSWER_CAUTION * sqrt(v * (1.0 - v) / (p->total_w + PRIOR_WEIGHT)), P_MIN,
                 P_MAX);
}

/* Mean dial-to-answer time of the calls people answered, or the prior's. */
int64_t blend_pacer_horizon_ms(const struct blend_pacer *p)
{
    int n = 0;
    for (int b = 0; b < BLEND_PACER_RING_BINS; b++) {
        n += p->ring_bins[1][b];
    }
    double prior = (double)p->params.prior_answer_ms;
    double h = (p->human_ring_ms_sum + CURVE_PRIOR_WEIGHT * prior) / (n + CURVE_PRIOR_WEIGHT);
    return h < 1 ? 1 : (int64_t)h;
}

/* Survival counts per second: above[k][b] = samples of kind k that lasted b whole seconds or
 * more; above_handle[b] likewise for handle times. */
struct curves {
    int above[2][BLEND_PACER_RING_BINS + 1];
    int above_handle[BLEND_PACER_HANDLE_BINS + 1];
    double handle_mean_ms;
};

static void curves_build(const struct blend_pacer *p, struct curves *c)
{
    for (int k = 0; k < 2; k++) {
        c->above[k][BLEND_PACER_RING_BINS] = 0;
        for (int b = BLEND_PACER_RING_BINS - 1; b >= 0; b--) {
            c->above[k][b] = c->above[k][b + 1] + p->ring_bins[k][b];
        }
    }
    c->above_handle[BLEND_PACER_HANDLE_BINS] = 0;
    for (int b = BLEND_PACER_HANDLE_BINS - 1; b >= 0; b--) {
        c->above_handle[b] = c->above_handle[b + 1] + p->handle_bins[b];
    }
    c->handle_mean_ms =
        p->handles_count ? p->handle_ms_sum / p->handles_count : (double)p->params.prior_handle_ms;
}

/* The probability that a call still ringing after `elapsed_ms` is answered by a person: the
 * answer probability weighed by how many answered and unanswered calls of the samples rang
 * longer (to the second). */
static double p_ringing(const struct blend_pacer *p, const struct curves *c, double p_ans,
                        int64_t elapsed_ms)
{
    int b = bin_of(elapsed_ms, BLEND_PACER_RING_BINS) + 1;
    double h_n = c->above[1][0], h_gt = c->above[1][b];
    double o_n = c->above[0][0], o_gt = c->above[0][b];
    double e = (double)elapsed_ms;
    double h_prior = exp(-e / (double)p->params.prior_answer_ms);
    double o_prior = exp(-e / (double)NO_ANSWER_PRIOR_MS);
    double sh = (h_gt + CURVE_PRIOR_WEIGHT * h_prior) / (h_n + CURVE_PRIOR_WEIGHT);
    double so = (o_gt + CURVE_PRIOR_WEIGHT * o_prior) / (o_n + CURVE_PRIOR_WEIGHT);
    double num = p_ans * sh, den = num + (1.0 - p_ans) * so;
    return den > 0 ? clamp(num / den, 0.0, P_MAX) : 0.0;
}

/* The probability that a contact `elapsed_ms` old ends within `h_ms`: the handle times that
 * ended within the horizon over all contacts known to have lasted that long, the finished ones
 * (samples longer than `elapsed_ms`) and the ones under way (`running`: the busy agents at
 * least as far in, this one included, whose end is not known yet — Kaplan-Meier's at-risk set,
 * which keeps the first short contacts of a campaign from passing for the usual ones). To the
 * second. */
static double p_release(const struct curves *c, int64_t elapsed_ms, int64_t h_ms, int running)
{
    int from = bin_of(elapsed_ms, BLEND_PACER_HANDLE_BINS) + 1;
    int to = bin_of(elapsed_ms + h_ms, BLEND_PACER_HANDLE_BINS) + 1;
    double gt = c->above_handle[from], within = gt - c->above_handle[to];
    double mean = c->handle_mean_ms > 1 ? c->handle_mean_ms : 1;
    double prior = 1.0 - exp(-(double)h_ms / mean);
    return clamp((within + CURVE_PRIOR_WEIGHT * prior) / (gt + running + CURVE_PRIOR_WEIGHT), 0.0,
                 1.0);
}

/* dist[0..n] becomes the distribution of the count plus one Bernoulli(q) trial. */
static void add_trial(double *dist, int n, double q)
{
    dist[n + 1] = dist[n] * q;
    for (int k = n; k > 0; k--) {
        dist[k] = dist[k] * (1.0 - q) + dist[k - 1] * q;
    }
    dist[0] *= 1.0 - q;
}

/* The agents' side over the horizon: F[b] = P(B <= b), G[b] = sum_{j<=b} j P(B=j), where B
 * counts the busy agents released in time. */
struct supply {
    int free_agents, busy;
    double F[BLEND_PACER_AGENTS_MAX + 1];
    double G[BLEND_PACER_AGENTS_MAX + 1];
    double mean;
};

/* The lives side: dist[0..n] of the live answers so far. */
struct demand {
    int n;
    double dist[BLEND_PACER_CALLS_MAX + 1];
    double mean;
};

static int view_valid(const struct blend_pacer_view *v)
{
    return v && v->free_agents >= 0 && v->busy_count >= 0 && v->ringing_count >= 0 &&
           v->records_left >= 0 && v->free_agents + v->busy_count <= BLEND_PACER_AGENTS_MAX &&
           v->ringing_count <= BLEND_PACER_CALLS_MAX &&
           (v->busy_count == 0 || v->busy_elapsed_ms) &&
           (v->ringing_count == 0 || v->ringing_elapsed_ms);
}

static void supply_build(const struct curves *c, const struct blend_pacer_view *v, int64_t h_ms,
                         struct supply *s)
{
    double dist[BLEND_PACER_AGENTS_MAX + 1];
    static_assert(BLEND_PACER_AGENTS_MAX < 65536, "counts per second fit 16 bits");
    uint16_t running[BLEND_PACER_HANDLE_BINS + 1];
    memset(running, 0, sizeof running);
    for (int i = 0; i < v->busy_count; i++) {
        running[bin_of(v->busy_elapsed_ms[i], BLEND_PACER_HANDLE_BINS)]++;
    }
    for (int b = BLEND_PACER_HANDLE_BINS - 1; b >= 0; b--) {
        running[b] = (uint16_t)(running[b] + running[b + 1]);
    }
    dist[0] = 1.0;
    s->free_agents = v->free_agents;
    s->busy = v->busy_count;
    s->mean = v->free_agents;
    for (int i = 0; i < v->busy_count; i++) {
        int64_t e = v->busy_elapsed_ms[i];
        double r = p_release(c, e, h_ms, running[bin_of(e, BLEND_PACER_HANDLE_BINS)]);
        add_trial(dist, i, r);
        s->mean += r;
    }
    double f = 0, g = 0;
    for (int b = 0; b <= v->busy_count; b++) {
        f += dist[b];
        g += b * dist[b];
        s->F[b] = f;
        s->G[b] = g;
    }
}

/* P(D >= S): a further live answer would find no agent. */
static double p_no_agent(const struct supply *s, const struct demand *d)
{
    double p = 0;
    for (int k = 0; k <= d->n; k++) {
        /* S = free + B <= k  <=>  B <= k - free */
        int b = k - s->free_agents;
        if (b >= 0) {
            p += d->dist[k] * s->F[b > s->busy ? s->busy : b];
        }
    }
    return clamp(p, 0.0, 1.0);
}

/* E[max(0, D - S)]. */
static double drops_of(const struct supply *s, const struct demand *d)
{
    double e = 0;
    for (int k = 1; k <= d->n; k++) {
        int b = k - s->free_agents - 1; /* the largest B with free + B < k */
        if (b < 0) {
            continue;
        }
        b = b > s->busy ? s->busy : b;
        e += d->dist[k] * ((k - s->free_agents) * s->F[b] - s->G[b]);
    }
    return e < 0 ? 0 : e;
}

static void demand_build(const struct blend_pacer *p, const struct curves *c,
                         const struct blend_pacer_view *v, double pa, struct demand *d)
{
    d->dist[0] = 1.0;
    d->n = 0;
    d->mean = 0;
    for (int i = 0; i < v->ringing_count; i++) {
        double q = p_ringing(p, c, pa, v->ringing_elapsed_ms[i]);
        add_trial(d->dist, d->n++, q);
        d->mean += q;
    }
}

/* The drop ratio this decision may risk: the aim, moved by the window's record. */
static double target_now(const struct blend_pacer *p, int64_t now_ms, double *rate)
{
    double lives, drops;
    window_counts(p, now_ms, &lives, &drops);
    *rate = lives > 0 ? drops / lives : 0.0;
    double t = p->params.abandon_target * BLEND_PACER_AIM;
    double budget = t * lives - drops;
    double factor = 1.0 + 0.5 * budget / (t * lives + 1.0);
    return t * clamp(factor, TARGET_FACTOR_MIN, TARGET_FACTOR_MAX);
}

int blend_pacer_risk(const struct blend_pacer *p, const struct blend_pacer_view *view, int extra,
                     double *agents, double *lives, double *drops)
{
    BLEND_ASSERT(p && agents && lives && drops);
    if (!view_valid(view) || extra < 0 || view->ringing_count + extra > BLEND_PACER_CALLS_MAX) {
        return BLEND_EINVAL;
    }
    struct supply s;
    struct demand d;
    struct curves c;
    double pa = p_paced(p);
    curves_build(p, &c);
    supply_build(&c, view, blend_pacer_horizon_ms(p), &s);
    demand_build(p, &c, view, pa, &d);
    for (int i = 0; i < extra; i++) {
        add_trial(d.dist, d.n++, pa);
        d.mean += pa;
    }
    *agents = s.mean;
    *lives = d.mean;
    *drops = drops_of(&s, &d);
    return 0;
}

static int cap(int want, int limit)
{
    return want < 0 ? 0 : want > limit ? limit : want;
}

int blend_pacer_decide(const struct blend_pacer *p, int64_t now_ms,
                       const struct blend_pacer_view *view, struct blend_pacer_decision *out)
{
    BLEND_ASSERT(p && out);
    if (!view_valid(view)) {
        return BLEND_EINVAL;
    }
    struct blend_pacer_decision r = {0};
    r.p_answer = p_paced(p);
    r.horizon_ms = blend_pacer_horizon_ms(p);
    r.target_used = target_now(p, now_ms, &r.window_rate);
    int staffed = view->free_agents + view->busy_count;
    int room = BLEND_PACER_CALLS_MAX - view->ringing_count;
    room = room < view->records_left ? room : view->records_left;
    switch (p->params.mode) {
    case BLEND_DIAL_PREVIEW:
        break;
    case BLEND_DIAL_PROGRESSIVE:
        r.dial = cap(view->free_agents - view->ringing_count, room);
        break;
    case BLEND_DIAL_POWER:
        r.dial =
            cap((int)floor(p->params.power_ratio * view->free_agents + 1e-9) - view->ringing_count,
                room);
        break;
    case BLEND_DIAL_PREDICTIVE: {
        if (staffed == 0) {
            break;
        }
        int lines = (int)floor(p->params.max_lines_per_agent * staffed + 1e-9);
        int limit = cap(lines - view->ringing_count, room);
        struct supply s;
        struct demand d;
        struct curves c;
        curves_build(p, &c);
        supply_build(&c, view, r.horizon_ms, &s);
        demand_build(p, &c, view, r.p_answer, &d);
        /* Each further call is launched while the chance that its answer finds no agent stays
         * within the target: those chances only grow with every call added. */
        while (r.dial < limit && p_no_agent(&s, &d) <= r.target_used) {
            add_trial(d.dist, d.n++, r.p_answer);
            d.mean += r.p_answer;
            r.dial++;
        }
        r.agents_expected = s.mean;
        r.lives_expected = d.mean;
        r.drops_expected = drops_of(&s, &d);
        break;
    }
    }
    BLEND_ASSERT(r.dial >= 0 && r.dial <= view->records_left);
    BLEND_ASSERT(p->params.mode != BLEND_DIAL_PROGRESSIVE ||
                 view->ringing_count + r.dial <= view->free_agents || r.dial == 0);
    *out = r;
    return 0;
}
