/*
 * Erlang C / Erlang A evaluation and the required-agents search (see erlang.h and
 * docs/erlang.md for the formulas). Time is measured in units of the average handle time
 * inside this file: the service rate per agent is 1, the arrival rate equals the traffic A, the
 * abandonment rate is theta = aht / patience and the service-level threshold is t = T / aht.
 *
 * Numerical invariants: the Erlang B term enters only as log(1/B - 1), computed by a ratio
 * recursion that switches to log space before it could overflow; the Erlang A integrands are
 * evaluated relative to their maximum (exp of a value <= 0), so no intermediate overflows for
 * any accepted input. Every loop has a fixed bound.
 */
#include "engine/wfm/erlang.h"

#include "base/assert.h"

#include <math.h>
#include <string.h>

/* Erlang B ratio 1/B - 1 is kept in linear space below this value, then in log space. */
#define RB_LINEAR_MAX 1e290
/* The integrands are cut where they fall to exp(-QUAD_CUT) of their maximum; by log-concavity
 * the neglected tails weigh less than exp(-QUAD_CUT) ~ 9e-27 of the integral. */
#define QUAD_CUT 60.0
/* Quadrature tolerance: each component's estimated error must be below QUAD_REL times its own
 * value plus QUAD_ABS times the main integral (every result is a ratio to that integral). */
#define QUAD_REL 1e-12
#define QUAD_ABS 1e-14
/* Most sub-intervals the adaptive quadrature may create (fixed storage on the stack). */
#define QUAD_SEGMENTS_MAX 256
/* Number of integrals computed together: total, abandon-weighted, wait-weighted, not-in-T. */
#define QUAD_PARTS 4
/* Bound on the doubling/halving steps that bracket a cut point (covers 2^-1074 .. 2^1023). */
#define BRACKET_STEPS_MAX 2200
#define BISECT_STEPS 80
/* Smallest positive normal double (DBL_MIN: <float.h> is not in the engine's allowed set). */
#define NORMAL_MIN 0x1p-1022

/* The traffic model in handle-time units. */
struct model {
    double a;     /* offered traffic (Erlangs) = arrival rate per handle time */
    double theta; /* abandonment rate per handle time; 0 for Erlang C */
    double t;     /* service-level threshold in handle times */
    double aht_s;
};

/* One Erlang A evaluation: the integrands over the offset d from the mode s* of the
 * log-density phi(s) = -N s + A (1 - exp(-theta s)) / theta, s >= 0 being a queued call's
 * time since arrival. */
struct quad {
    double n;
    double a;
    double theta;
    int is_over;     /* A > N: the mode s* lies inside (0, inf) */
    double log_r;    /* theta * s* = log(A / N) when is_over, else 0 */
    double s_star;   /* s* (0 unless is_over) */
    double d_target; /* t - s*, where the service-level threshold falls in d */
};

struct segment {
    double lo;
    double hi;
    double val[QUAD_PARTS];
    double err[QUAD_PARTS];
};

/* Gauss-Kronrod 7/15 nodes and weights (QUADPACK qk15), positive half, centre last. */
static const double gk_x[8] = {
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.000000000000000000000000000000000,
};
static const double gk_wk[8] = {
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
};
/* Gauss 7-point weights at gk_x[1], gk_x[3], gk_x[5] and the centre. */
static const double gk_wg[4] = {
    0.129484966168869693270611432679082,
    0.279705391489276667901467771423780,
    0.381830050505118944950369775488975,
    0.417959183673469387755102040816327,
};

static int is_nonneg(double x)
{
    return isfinite(x) && x >= 0.0;
}

static int model_init(const struct blend_erlang_input *in, struct model *m)
{
    BLEND_ASSERT(in != NULL && m != NULL);
    if (!is_nonneg(in->calls) || !is_nonneg(in->interval_s) || !is_nonneg(in->aht_s) ||
        !is_nonneg(in->target_s) || !is_nonneg(in->patience_s) || in->interval_s == 0.0 ||
        in->aht_s == 0.0) {
        return BLEND_EINVAL;
    }
    double a = in->calls * in->aht_s / in->interval_s;
    double t = in->target_s / in->aht_s;
    if (!isfinite(a) || a > BLEND_ERLANG_TRAFFIC_MAX || !isfinite(t)) {
        return BLEND_EINVAL;
    }
    double theta = 0.0;
    if (in->patience_s > 0.0) {
        double ratio = in->patience_s / in->aht_s;
        if (!(ratio >= BLEND_ERLANG_PATIENCE_RATIO_MIN &&
              ratio <= BLEND_ERLANG_PATIENCE_RATIO_MAX)) {
            return BLEND_EINVAL;
        }
        theta = 1.0 / ratio;
    }
    m->a = a;
    m->theta = theta;
    m->t = t;
    m->aht_s = in->aht_s;
    return 0;
}

/*
 * log(1/B - 1) for Erlang B with n servers and traffic a > 0. With R(k) = 1/B(k) - 1 the
 * stable recursion B(k) = a B(k-1) / (k + a B(k-1)) reads R(k) = (k/a) (1 + R(k-1)), R(0) = 0,
 * with no subtraction. Once R would pass RB_LINEAR_MAX the "1 +" is below 1e-290 relative and
 * the remaining product is prod (k/a) = exp(lgamma(n+1) - lgamma(k+1) - (n-k) log a).
 */
static double erlang_b_log_rb(double a, int n)
{
    BLEND_ASSERT(a > 0.0 && n >= 1);
    double rb = 0.0;
    for (int k = 1; k <= n; k++) {
        double f = (double)k / a;
        if (!(f < RB_LINEAR_MAX) || rb > RB_LINEAR_MAX / f) {
            double l = log((double)k) - log(a) + log1p(rb);
            return l + lgamma((double)n + 1.0) - lgamma((double)k + 1.0) - (double)(n - k) * log(a);
        }
        rb = f * (1.0 + rb);
    }
    BLEND_ASSERT(rb > 0.0);
    return log(rb);
}

/* h(d) = d - (1 - exp(-theta d)) / theta >= 0, without cancellation near d = 0. */
static double h_fn(double d, double theta)
{
    double z = theta * d;
    if (fabs(z) < 0.25) {
        double term = z / 2.0, sum = 0.0;
        for (int k = 2; k < 24; k++) {
            sum += term;
            term *= -z / (double)(k + 1);
        }
        return d * sum;
    }
    return (z + expm1(-z)) / theta;
}

/* r - 1 - log(r) >= 0 for r > 0, without cancellation near r = 1. */
static double xm1mlog(double r)
{
    double u = r - 1.0;
    if (fabs(u) < 0.1) {
        double p = u * u, sum = 0.0;
        for (int k = 2; k < 40; k++) {
            sum += (k % 2 == 0 ? p : -p) / (double)k;
            p *= u;
        }
        return sum;
    }
    return u - log1p(u);
}

/* phi(s* + d) - phi(s*) <= 0: concave in d, maximal (0) at d = 0. */
static double phi_rel(const struct quad *q, double d)
{
    if (q->is_over) {
        return -q->n * h_fn(d, q->theta);
    }
    return -(q->n - q->a) * d - q->a * h_fn(d, q->theta);
}

static void integrand(const struct quad *q, double d, double v[QUAD_PARTS])
{
    double f = exp(phi_rel(q, d));
    double z = q->log_r + q->theta * d; /* theta * s */
    double w_ab = z > 0.0 ? -expm1(-z) : 0.0;
    v[0] = f;
    v[1] = f * w_ab;
    v[2] = f * (w_ab / q->theta);
    v[3] = d > q->d_target ? f : f * w_ab;
}

static void gk15(const struct quad *q, struct segment *s)
{
    double c = 0.5 * (s->lo + s->hi), half = 0.5 * (s->hi - s->lo);
    double fc[QUAD_PARTS], fl[QUAD_PARTS], fr[QUAD_PARTS];
    double k[QUAD_PARTS], g[QUAD_PARTS];
    integrand(q, c, fc);
    for (int p = 0; p < QUAD_PARTS; p++) {
        k[p] = gk_wk[7] * fc[p];
        g[p] = gk_wg[3] * fc[p];
    }
    for (int j = 0; j < 7; j++) {
        integrand(q, c - half * gk_x[j], fl);
        integrand(q, c + half * gk_x[j], fr);
        for (int p = 0; p < QUAD_PARTS; p++) {
            k[p] += gk_wk[j] * (fl[p] + fr[p]);
            if (j % 2 == 1) {
                g[p] += gk_wg[j / 2] * (fl[p] + fr[p]);
            }
        }
    }
    for (int p = 0; p < QUAD_PARTS; p++) {
        s->val[p] = half * k[p];
        s->err[p] = fabs(half * (k[p] - g[p]));
    }
}

/* The least x in (0, inf) with -phi_rel(sign * x) >= QUAD_CUT, to bisection precision;
 * -phi_rel(sign * x) increases with x and passes QUAD_CUT (the caller checks the left side). */
static double cut_point(const struct quad *q, double sign)
{
    double lo = 0.0, hi = 1.0;
    int steps = 0;
    if (-phi_rel(q, sign * hi) < QUAD_CUT) {
        while (-phi_rel(q, sign * hi) < QUAD_CUT && steps++ < BRACKET_STEPS_MAX) {
            lo = hi;
            hi *= 2.0;
        }
    } else {
        lo = 0.5;
        while (lo > NORMAL_MIN && -phi_rel(q, sign * lo) >= QUAD_CUT &&
               steps++ < BRACKET_STEPS_MAX) {
            hi = lo;
            lo *= 0.5;
        }
    }
    for (int i = 0; i < BISECT_STEPS; i++) {
        double mid = 0.5 * (lo + hi);
        if (-phi_rel(q, sign * mid) < QUAD_CUT) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    BLEND_ASSERT(hi > 0.0 && isfinite(hi));
    return hi;
}

static int is_converged(const struct segment *segs, int count, double tot[QUAD_PARTS],
                        double tol[QUAD_PARTS])
{
    double err[QUAD_PARTS] = {0};
    memset(tot, 0, sizeof(double) * QUAD_PARTS);
    for (int i = 0; i < count; i++) {
        for (int p = 0; p < QUAD_PARTS; p++) {
            tot[p] += segs[i].val[p];
            err[p] += segs[i].err[p];
        }
    }
    int ok = 1;
    for (int p = 0; p < QUAD_PARTS; p++) {
        tol[p] = QUAD_REL * fabs(tot[p]) + QUAD_ABS * tot[0];
        ok = ok && err[p] <= tol[p];
    }
    return ok;
}

/* The segment whose error is largest relative to the tolerances. */
static int worst_segment(const struct segment *segs, int count, const double tol[QUAD_PARTS])
{
    int worst = 0;
    double worst_score = -1.0;
    for (int i = 0; i < count; i++) {
        double score = 0.0;
        for (int p = 0; p < QUAD_PARTS; p++) {
            score = fmax(score, segs[i].err[p] / fmax(tol[p], NORMAL_MIN));
        }
        if (score > worst_score) {
            worst_score = score;
            worst = i;
        }
    }
    return worst;
}

/* Breakpoints of the integration window: its ends, the mode and the threshold t. */
static int window_points(const struct quad *q, double pts[4])
{
    double d_hi = cut_point(q, 1.0);
    double d_lo = 0.0;
    if (q->is_over) {
        d_lo = -q->s_star;
        if (-phi_rel(q, d_lo) >= QUAD_CUT) {
            d_lo = -cut_point(q, -1.0);
        }
    }
    int n = 0;
    pts[n++] = d_lo;
    if (d_lo < 0.0) {
        pts[n++] = 0.0;
    }
    if (q->d_target > d_lo && q->d_target < d_hi && q->d_target != 0.0) {
        /* Insert the threshold in order (the points so far are sorted). */
        int i = n++;
        while (i > 0 && pts[i - 1] > q->d_target) {
            pts[i] = pts[i - 1];
            i--;
        }
        pts[i] = q->d_target;
    }
    pts[n++] = d_hi;
    return n;
}

/* Adaptive Gauss-Kronrod over the window; `out` gets the four integrals of exp(phi - max). */
static int integrate(const struct quad *q, double out[QUAD_PARTS])
{
    struct segment segs[QUAD_SEGMENTS_MAX];
    double pts[4], tot[QUAD_PARTS], tol[QUAD_PARTS];
    int npts = window_points(q, pts);
    int count = 0;
    for (int i = 0; i + 1 < npts; i++) {
        BLEND_ASSERT(pts[i] < pts[i + 1]);
        segs[count].lo = pts[i];
        segs[count].hi = pts[i + 1];
        gk15(q, &segs[count]);
        count++;
    }
    while (!is_converged(segs, count, tot, tol)) {
        if (count == QUAD_SEGMENTS_MAX) {
            return BLEND_EINTERNAL;
        }
        int w = worst_segment(segs, count, tol);
        double mid = 0.5 * (segs[w].lo + segs[w].hi);
        if (!(mid > segs[w].lo && mid < segs[w].hi)) {
            return BLEND_EINTERNAL;
        }
        segs[count].lo = mid;
        segs[count].hi = segs[w].hi;
        segs[w].hi = mid;
        gk15(q, &segs[w]);
        gk15(q, &segs[count]);
        count++;
    }
    BLEND_ASSERT(tot[0] > 0.0);
    memcpy(out, tot, sizeof tot);
    return 0;
}

/* 1 / (1 + exp(x)) without overflow, accurate for large x. */
static double logistic_neg(double x)
{
    if (x > 0.0) {
        double e = exp(-x);
        return e / (1.0 + e);
    }
    return 1.0 / (1.0 + exp(x));
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

/* Erlang C in closed form: C = N B / (N - A (1 - B)) written as 1 / (1 + R (N - A) / N). */
static void eval_c(const struct model *m, int n, struct blend_erlang_result *out)
{
    double kappa = (double)n - m->a;
    if (kappa <= 0.0) {
        /* N <= A: every call waits and the queue grows without bound. */
        out->p_wait = 1.0;
        out->service_level = 0.0;
        out->asa_s = INFINITY;
        out->occupancy = 1.0;
        return;
    }
    double c = logistic_neg(erlang_b_log_rb(m->a, n) - log((double)n) + log(kappa));
    out->p_wait = clamp01(c);
    out->service_level = clamp01(1.0 - c * exp(-kappa * m->t));
    out->asa_s = c / kappa * m->aht_s;
    out->occupancy = m->a / (double)n;
}

/* Erlang A through the integrals of exp(phi): see docs/erlang.md §Erlang A. */
static int eval_a(const struct model *m, int n, struct blend_erlang_result *out)
{
    struct quad q = {.n = (double)n, .a = m->a, .theta = m->theta};
    double phi_max = 0.0;
    q.is_over = m->a > (double)n;
    if (q.is_over) {
        q.log_r = log(m->a / (double)n);
        q.s_star = q.log_r / m->theta;
        phi_max = (double)n * xm1mlog(m->a / (double)n) / m->theta;
    }
    q.d_target = m->t - q.s_star;
    double v[QUAD_PARTS];
    int rc = integrate(&q, v);
    if (rc) {
        return rc;
    }
    double log_queue = log((double)n) + phi_max + log(v[0]);
    double p_wait = logistic_neg(erlang_b_log_rb(m->a, n) - log_queue);
    out->p_wait = clamp01(p_wait);
    /* I_ab <= I0 as its weight is <= 1; the clamp removes rounding above it. */
    out->p_abandon = fmin(clamp01(p_wait * (v[1] / v[0])), out->p_wait);
    out->service_level = clamp01(1.0 - p_wait * (v[3] / v[0]));
    out->asa_s = p_wait * (v[2] / v[0]) * m->aht_s;
    out->occupancy = clamp01(m->a * (1.0 - out->p_abandon) / (double)n);
    return 0;
}

static int eval_model(const struct model *m, int agents, struct blend_erlang_result *out)
{
    struct blend_erlang_result r = {.traffic_erlangs = m->a, .agents = agents};
    if (m->a == 0.0) {
        r.service_level = 1.0;
    } else if (m->theta == 0.0) {
        eval_c(m, agents, &r);
    } else {
        int rc = eval_a(m, agents, &r);
        if (rc) {
            return rc;
        }
    }
    BLEND_ASSERT(r.p_abandon <= r.p_wait);
    BLEND_ASSERT(r.asa_s >= 0.0 && !isnan(r.asa_s));
    *out = r;
    return 0;
}

int blend_erlang_eval(const struct blend_erlang_input *in, int agents,
                      struct blend_erlang_result *out)
{
    BLEND_ASSERT(in != NULL && out != NULL);
    struct model m;
    int rc = model_init(in, &m);
    if (rc) {
        return rc;
    }
    if (agents < 1 || agents > BLEND_ERLANG_AGENTS_MAX) {
        return BLEND_EINVAL;
    }
    return eval_model(&m, agents, out);
}

static int meets(const struct blend_erlang_result *r, double sl_target, double max_abandon)
{
    return r->service_level >= sl_target && (max_abandon < 0.0 || r->p_abandon <= max_abandon);
}

/*
 * Galloping then bisection over N in (A, agents_max]: service level rises and abandonment falls
 * with N, so the first N that meets the target is found in O(log N) evaluations.
 */
int blend_erlang_required(const struct blend_erlang_input *in, double sl_target, double max_abandon,
                          int agents_max, struct blend_erlang_result *out)
{
    BLEND_ASSERT(in != NULL && out != NULL);
    struct model m;
    int rc = model_init(in, &m);
    if (rc) {
        return rc;
    }
    if (!(sl_target >= 0.0 && sl_target <= 1.0) || isnan(max_abandon) || max_abandon > 1.0 ||
        agents_max < 1) {
        return BLEND_EINVAL;
    }
    if (agents_max > BLEND_ERLANG_AGENTS_MAX) {
        agents_max = BLEND_ERLANG_AGENTS_MAX;
    }
    if (m.a >= (double)agents_max) {
        return BLEND_ELIMIT;
    }
    int lo = (int)floor(m.a); /* the least N > A is lo + 1; lo itself is never taken */
    int step = 1, hi;
    struct blend_erlang_result r, best;
    for (;;) {
        hi = lo + step > agents_max ? agents_max : lo + step;
        if ((rc = eval_model(&m, hi, &r)) != 0) {
            return rc;
        }
        if (meets(&r, sl_target, max_abandon)) {
            break;
        }
        if (hi == agents_max) {
            return BLEND_ELIMIT;
        }
        lo = hi;
        step = step > agents_max / 2 ? agents_max : step * 2;
    }
    best = r;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if ((rc = eval_model(&m, mid, &r)) != 0) {
            return rc;
        }
        if (meets(&r, sl_target, max_abandon)) {
            hi = mid;
            best = r;
        } else {
            lo = mid;
        }
    }
    *out = best;
    return 0;
}
