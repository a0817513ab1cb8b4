/*
 * Erlang C / Erlang A tests. Every expected value comes from an independent slow computation
 * inside this file, in long double: Erlang C from the stationary distribution summed backwards
 * from state N (not the forward recursion the library uses), Erlang A from the truncated
 * birth-death chain of M/M/N+M with the service level of each queue position obtained by
 * uniformization of the tagged call's own absorbing chain (not the integral form the library
 * uses). Plus the KPIS.md worked example, limits, monotonicity and the search against a linear
 * scan.
 */
#include "engine/wfm/erlang.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define REF_QUEUE_MAX 4000

struct ref {
    long double p_wait, p_abandon, asa, sl; /* asa in handle times */
};

static struct blend_erlang_input input(double calls, double interval_s, double aht_s,
                                       double target_s, double patience_s)
{
    struct blend_erlang_input in = {.calls = calls,
                                    .interval_s = interval_s,
                                    .aht_s = aht_s,
                                    .target_s = target_s,
                                    .patience_s = patience_s};
    return in;
}

/* Traffic a with aht 1 s and a 1 s interval, so times are in handle times. */
static struct blend_erlang_input unit_input(double a, double t, double patience)
{
    return input(a, 1.0, 1.0, t, patience);
}

static struct blend_erlang_result eval_ok(const struct blend_erlang_input *in, int n)
{
    struct blend_erlang_result r;
    memset(&r, 0xff, sizeof r);
    assert_int_equal(blend_erlang_eval(in, n, &r), 0);
    assert_int_equal(r.agents, n);
    return r;
}

/* sum_{k<N} pi_k / pi_N, summed from k = N-1 downwards. */
static long double ref_below(long double a, int n)
{
    long double r = 1.0L, sum = 0.0L;
    for (int k = n - 1; k >= 0; k--) {
        r *= (long double)(k + 1) / a;
        sum += r;
        if (r < sum * 1e-30L) {
            break;
        }
    }
    return sum;
}

static struct ref ref_erlang_c(long double a, int n, long double t)
{
    struct ref r = {0};
    long double queue = (long double)n / ((long double)n - a); /* sum over k >= N of pi_k/pi_N */
    long double below = ref_below(a, n);
    r.p_wait = queue / (below + queue);
    r.sl = 1.0L - r.p_wait * expl(-((long double)n - a) * t);
    r.asa = r.p_wait / ((long double)n - a);
    return r;
}

/*
 * P(served within t | j calls ahead) for j = 0..jmax, the tagged call having its own patience:
 * uniformized chain on "calls ahead", absorbing in served / abandoned.
 */
static void ref_served_within(long double n, long double theta, long double t, int jmax,
                              long double *g)
{
    static long double p[REF_QUEUE_MAX + 1], next[REF_QUEUE_MAX + 1];
    long double lam = n + (long double)(jmax + 1) * theta;
    long double mean = lam * t, w = expl(-mean), cum = w;
    for (int i = 0; i <= jmax; i++) {
        p[i] = 0.0L;
        g[i] = 0.0L;
    }
    for (int k = 1; cum < 1.0L - 1e-17L && k < 100000; k++) {
        for (int i = 0; i <= jmax; i++) {
            long double stay = 1.0L - (n + (long double)(i + 1) * theta) / lam;
            long double move = i == 0 ? n / lam : (n + (long double)i * theta) / lam;
            next[i] = move * (i == 0 ? 1.0L : p[i - 1]) + stay * p[i];
        }
        memcpy(p, next, sizeof(long double) * (size_t)(jmax + 1));
        w *= mean / (long double)k;
        cum += w;
        for (int i = 0; i <= jmax; i++) {
            g[i] += w * p[i];
        }
    }
}

/* M/M/N+M from its stationary distribution, in handle-time units. */
static struct ref ref_erlang_a(long double a, int n, long double t, long double theta)
{
    static long double q[REF_QUEUE_MAX + 1], g[REF_QUEUE_MAX + 1];
    struct ref r = {0};
    long double below = ref_below(a, n), queue = 0.0L, mean_q = 0.0L, term = 1.0L;
    int jmax = 0;
    for (int j = 0; j <= REF_QUEUE_MAX; j++) {
        if (j > 0) {
            term *= a / ((long double)n + (long double)j * theta);
        }
        q[j] = term;
        queue += term;
        mean_q += (long double)j * term;
        jmax = j;
        if (j > 0 && term < 1e-24L * queue && a < (long double)n + (long double)j * theta) {
            break;
        }
    }
    assert_true(jmax < REF_QUEUE_MAX);
    ref_served_within((long double)n, theta, t, jmax, g);
    long double z = below + queue, served_t = 0.0L;
    for (int j = 0; j <= jmax; j++) {
        served_t += q[j] * g[j];
    }
    r.p_wait = queue / z;
    r.p_abandon = theta * mean_q / z / a;
    r.asa = mean_q / z / a;
    r.sl = (below + served_t) / z;
    return r;
}

static void assert_near(double got, long double want, double tol)
{
    if (!(fabs(got - (double)want) <= tol)) {
        fail_msg("got %.17g want %.17Lg (tolerance %g)", got, want, tol);
    }
}

static void worked_example(void **state)
{
    (void)state;
    struct blend_erlang_input in = input(100, 1800, 180, 20, 0);
    struct blend_erlang_result r;
    assert_int_equal(blend_erlang_required(&in, 0.8, -1, 1000, &r), 0);
    assert_int_equal(r.agents, 14);
    assert_near(r.traffic_erlangs, 10.0L, 1e-12);
    assert_near(r.p_wait, 0.1741L, 5e-5);
    assert_near(r.service_level, 0.8884L, 5e-5);
    assert_near(r.occupancy, 0.7143L, 5e-5);
    assert_near(r.p_abandon, 0.0L, 0.0);
    assert_near(r.asa_s, 0.1741L * 180 / 4, 0.01);
    /* 13 agents miss the target: 14 is the least. */
    struct blend_erlang_result r13 = eval_ok(&in, 13);
    assert_true(r13.service_level < 0.8);
}

static void erlang_c_reference(void **state)
{
    (void)state;
    static const double traffic[] = {0.5, 1, 2.5, 7, 10, 19.9, 50, 100.25};
    for (size_t i = 0; i < sizeof traffic / sizeof traffic[0]; i++) {
        double a = traffic[i];
        for (int n = (int)floor(a) + 1; n <= (int)(a * 1.5) + 12; n++) {
            struct blend_erlang_input in = unit_input(a, 0.25, 0);
            struct blend_erlang_result r = eval_ok(&in, n);
            struct ref want = ref_erlang_c(a, n, 0.25L);
            assert_near(r.p_wait, want.p_wait, 1e-12 + 1e-11 * (double)want.p_wait);
            assert_near(r.service_level, want.sl, 1e-12);
            assert_near(r.asa_s, want.asa, 1e-11 * (double)want.asa + 1e-13);
            assert_near(r.occupancy, a / n, 1e-15);
        }
    }
}

static void erlang_c_large(void **state)
{
    (void)state;
    struct blend_erlang_input in = unit_input(49000, 0.05, 0);
    double prev_wait = 2, prev_sl = -1;
    for (int n = 49001; n <= 50000; n += (n < 49400 ? 7 : 97)) {
        struct blend_erlang_result r = eval_ok(&in, n);
        struct ref want = ref_erlang_c(49000, n, 0.05L);
        assert_true(isfinite(r.p_wait) && r.p_wait >= 0 && r.p_wait <= 1);
        assert_true(isfinite(r.service_level) && r.service_level >= 0 && r.service_level <= 1);
        assert_true(r.p_wait <= prev_wait && r.service_level >= prev_sl);
        assert_near(r.p_wait, want.p_wait, 1e-9 * (double)want.p_wait + 1e-300);
        prev_wait = r.p_wait;
        prev_sl = r.service_level;
    }
    /* Far beyond the load the wait probability underflows cleanly to 0. */
    struct blend_erlang_input small = unit_input(10, 1, 0);
    struct blend_erlang_result r = eval_ok(&small, 50000);
    assert_true(r.p_wait >= 0 && r.p_wait < 1e-300);
    assert_near(r.service_level, 1.0L, 0);
}

static void integer_traffic(void **state)
{
    (void)state;
    static const int loads[] = {1, 10, 100, 49000};
    for (size_t i = 0; i < sizeof loads / sizeof loads[0]; i++) {
        int a = loads[i];
        struct blend_erlang_input in = unit_input(a, 0.5, 0);
        struct blend_erlang_result r = eval_ok(&in, a);
        assert_true(r.p_wait == 1.0 && r.service_level == 0.0 && r.occupancy == 1.0);
        assert_true(isinf(r.asa_s));
        r = eval_ok(&in, a - 1 > 0 ? a - 1 : 1);
        assert_true(r.p_wait == 1.0 && isinf(r.asa_s));
        r = eval_ok(&in, a + 1);
        struct ref want = ref_erlang_c(a, a + 1, 0.5L);
        assert_near(r.p_wait, want.p_wait, 1e-10);
        assert_near(r.service_level, want.sl, 1e-10);
        assert_near(r.asa_s, want.asa, 1e-9 * (double)want.asa);
        assert_true(r.p_wait < 1.0);
    }
}

static void tiny_traffic(void **state)
{
    (void)state;
    static const double traffic[] = {1e-3, 1e-12, 1e-200, 1e-310};
    for (size_t i = 0; i < sizeof traffic / sizeof traffic[0]; i++) {
        double a = traffic[i];
        struct blend_erlang_input in = unit_input(a, 1, 0);
        /* One agent: C = A exactly, SL = 1 - A exp(-(1 - A) t). */
        struct blend_erlang_result r = eval_ok(&in, 1);
        assert_near(r.p_wait, a, 1e-12 * a + 1e-322);
        assert_near(r.service_level, 1.0L - a * expl(-(1.0L - a)), 1e-16);
        r = eval_ok(&in, 5);
        struct ref want = ref_erlang_c(a, 5, 1.0L);
        assert_near(r.p_wait, want.p_wait, 1e-12 * (double)want.p_wait);
        assert_true(r.p_wait >= 0.0);
        /* Erlang A with tiny traffic, too. */
        in.patience_s = 2;
        r = eval_ok(&in, 1);
        assert_true(r.p_wait >= 0 && r.p_wait <= a * 1.000001 && r.p_abandon <= r.p_wait);
    }
    struct blend_erlang_input none = input(0, 1800, 180, 20, 0);
    struct blend_erlang_result r = eval_ok(&none, 1);
    assert_true(r.p_wait == 0 && r.service_level == 1 && r.asa_s == 0 && r.occupancy == 0);
    assert_int_equal(blend_erlang_required(&none, 0.95, -1, 10, &r), 0);
    assert_int_equal(r.agents, 1);
}

static void erlang_a_reference(void **state)
{
    (void)state;
    static const struct {
        double a, t, theta;
        int n;
    } cases[] = {
        {10, 1.0 / 9, 3, 5},    {10, 1.0 / 9, 3, 10},   {10, 1.0 / 9, 3, 14}, {10, 1.0 / 9, 0.1, 8},
        {10, 1.0 / 9, 0.1, 12}, {10, 1.0 / 9, 0.5, 10}, {2.5, 0.5, 1, 1},     {2.5, 0.5, 1, 3},
        {40, 0.05, 0.2, 38},    {40, 0.05, 0.2, 45},    {0.3, 2, 10, 1},      {25, 0, 0.05, 26},
        {25, 3, 0.05, 22},      {6, 0.2, 50, 4},        {60, 0.1, 0.02, 70},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blend_erlang_input in = unit_input(cases[i].a, cases[i].t, 1.0 / cases[i].theta);
        struct blend_erlang_result r = eval_ok(&in, cases[i].n);
        struct ref want = ref_erlang_a(cases[i].a, cases[i].n, cases[i].t, cases[i].theta);
        assert_near(r.p_wait, want.p_wait, 1e-10);
        assert_near(r.p_abandon, want.p_abandon, 1e-10);
        assert_near(r.asa_s, want.asa, 1e-10 * (1 + (double)want.asa));
        assert_near(r.service_level, want.sl, 1e-10);
        assert_near(r.occupancy, cases[i].a * (1 - want.p_abandon) / cases[i].n, 1e-10);
        assert_true(r.p_abandon <= r.p_wait);
    }
}

/* Patience -> infinity: Erlang A tends to Erlang C. The gap is of order A theta / (N - A)^2
 * (theta = aht / patience), so at 49,000 Erlangs the comparison starts 50 agents above A. */
static void erlang_a_to_c(void **state)
{
    (void)state;
    static const double traffic[] = {0.8, 10, 95.5, 49000};
    for (size_t i = 0; i < sizeof traffic / sizeof traffic[0]; i++) {
        double a = traffic[i];
        struct blend_erlang_input c = unit_input(a, 0.2, 0);
        struct blend_erlang_input e = unit_input(a, 0.2, 1e9);
        int first = (int)floor(a) + (a > 1000 ? 50 : 1);
        for (int n = first; n <= first + (a > 1000 ? 600 : 12); n += (a > 1000 ? 50 : 1)) {
            struct blend_erlang_result rc = eval_ok(&c, n), ra = eval_ok(&e, n);
            assert_near(ra.p_wait, rc.p_wait, 1e-6);
            assert_near(ra.service_level, rc.service_level, 1e-6);
            assert_near(ra.asa_s, rc.asa_s, 1e-6 * (1 + rc.asa_s));
            assert_near(ra.occupancy, rc.occupancy, 1e-6);
            assert_true(ra.p_abandon >= 0 && ra.p_abandon < 1e-6);
        }
    }
}

/* Patience -> 0: nobody waits long enough to be served from the queue, so every call that
 * waits abandons (P(abandon) -> P(wait)) and P(wait) tends to Erlang B (the loss system). */
static void erlang_a_to_b(void **state)
{
    (void)state;
    static const struct {
        double a;
        int n;
    } cases[] = {{10, 8}, {10, 12}, {2, 1}, {300, 280}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blend_erlang_input in = unit_input(cases[i].a, 0.1, 1e-6);
        struct blend_erlang_result r = eval_ok(&in, cases[i].n);
        long double erlang_b = 1.0L / (1.0L + ref_below(cases[i].a, cases[i].n));
        /* First-order gaps: A(x, y) - 1 ~ y = A * patience / aht for P(wait), and
         * P(served | wait) ~ N * patience / aht. */
        double y = cases[i].a * 1e-6, x = cases[i].n * 1e-6;
        assert_near(r.p_wait, erlang_b, 2 * y * (double)erlang_b + 1e-12);
        assert_true(r.p_wait >= (double)erlang_b);
        assert_near(r.p_abandon, r.p_wait, 2 * x * r.p_wait + 1e-12);
        assert_near(r.service_level, 1.0L - erlang_b, 2 * y + 1e-12);
        assert_true(r.asa_s <= 1e-6);
    }
}

static void erlang_a_monotone(void **state)
{
    (void)state;
    static const double patience[] = {0.05, 0.3, 1, 4, 30, 1000};
    static const double traffic[] = {3, 20, 47.5, 800};
    for (size_t i = 0; i < sizeof traffic / sizeof traffic[0]; i++) {
        double a = traffic[i];
        /* In N, for each patience. */
        for (size_t k = 0; k < sizeof patience / sizeof patience[0]; k++) {
            struct blend_erlang_input in = unit_input(a, 0.1, patience[k]);
            struct blend_erlang_result prev = eval_ok(&in, 1);
            for (int n = 2; n <= (int)(a * 1.3) + 10; n += (a > 100 ? 17 : 1)) {
                struct blend_erlang_result r = eval_ok(&in, n);
                assert_true(r.p_wait <= prev.p_wait + 1e-13);
                assert_true(r.p_abandon <= prev.p_abandon + 1e-13);
                assert_true(r.service_level >= prev.service_level - 1e-13);
                assert_true(r.p_abandon <= r.p_wait);
                assert_true(r.occupancy >= 0 && r.occupancy <= 1);
                prev = r;
            }
        }
        /* In patience, at a few N around the load. */
        for (int n = (int)(a * 0.8) + 1; n <= (int)(a * 1.2) + 2; n += (a > 100 ? 40 : 2)) {
            struct blend_erlang_result prev = {0};
            for (size_t k = 0; k < sizeof patience / sizeof patience[0]; k++) {
                struct blend_erlang_input in = unit_input(a, 0.1, patience[k]);
                struct blend_erlang_result r = eval_ok(&in, n);
                if (k > 0) {
                    assert_true(r.p_wait >= prev.p_wait - 1e-13);
                    assert_true(r.p_abandon <= prev.p_abandon + 1e-13);
                    assert_true(r.asa_s >= prev.asa_s - 1e-13);
                }
                prev = r;
            }
        }
    }
}

/* Erlang A at the upper end: 50,000 agents, overloaded and underloaded, long patience. */
static void erlang_a_large(void **state)
{
    (void)state;
    static const double patience[] = {0.01, 1, 1e4, 1e9};
    for (size_t k = 0; k < sizeof patience / sizeof patience[0]; k++) {
        struct blend_erlang_input in = unit_input(49000, 0.05, patience[k]);
        double prev_ab = 2;
        for (int n = 40000; n <= 50000; n += 500) {
            struct blend_erlang_result r = eval_ok(&in, n);
            assert_true(r.p_wait >= 0 && r.p_wait <= 1 && r.p_abandon <= r.p_wait);
            assert_true(r.service_level >= 0 && r.service_level <= 1 && isfinite(r.asa_s));
            assert_true(r.p_abandon <= prev_ab + 1e-13);
            prev_ab = r.p_abandon;
            if (n < 49000) {
                /* Overloaded: at least the excess abandons. */
                assert_true(r.p_abandon >= 1.0 - n / 49000.0 - 1e-9);
            }
        }
    }
}

static int linear_required(const struct blend_erlang_input *in, double sl, double ab, int max)
{
    struct blend_erlang_result r;
    for (int n = 1; n <= max; n++) {
        if (n > in->calls * in->aht_s / in->interval_s && blend_erlang_eval(in, n, &r) == 0 &&
            r.service_level >= sl && (ab < 0 || r.p_abandon <= ab)) {
            return n;
        }
    }
    return -1;
}

static void required_matches_scan(void **state)
{
    (void)state;
    static const double traffic[] = {0.2, 4, 10, 33.3, 120};
    static const double targets[] = {0, 0.5, 0.8, 0.95, 0.999};
    static const double patience[] = {0, 0.5, 3};
    for (size_t i = 0; i < sizeof traffic / sizeof traffic[0]; i++) {
        for (size_t j = 0; j < sizeof targets / sizeof targets[0]; j++) {
            for (size_t k = 0; k < sizeof patience / sizeof patience[0]; k++) {
                struct blend_erlang_input in = unit_input(traffic[i], 0.1, patience[k]);
                double ab = patience[k] > 0 ? 0.02 : -1;
                struct blend_erlang_result r;
                int want = linear_required(&in, targets[j], ab, 400);
                assert_true(want > 0);
                assert_int_equal(blend_erlang_required(&in, targets[j], ab, 400, &r), 0);
                assert_int_equal(r.agents, want);
                assert_true(r.agents > r.traffic_erlangs);
            }
        }
    }
}

static void required_large_and_limits(void **state)
{
    (void)state;
    struct blend_erlang_result r, below;
    struct blend_erlang_input in = unit_input(49000, 0.05, 0);
    assert_int_equal(blend_erlang_required(&in, 0.9, -1, BLEND_ERLANG_AGENTS_MAX, &r), 0);
    assert_true(r.agents > 49000 && r.agents < 50000 && r.service_level >= 0.9);
    below = eval_ok(&in, r.agents - 1);
    assert_true(below.service_level < 0.9);

    in.patience_s = 2;
    assert_int_equal(blend_erlang_required(&in, 0.9, 0.001, 200000, &r), 0);
    assert_true(r.service_level >= 0.9 && r.p_abandon <= 0.001);
    below = eval_ok(&in, r.agents - 1);
    assert_true(below.service_level < 0.9 || below.p_abandon > 0.001);

    /* Nothing within the cap meets the target. */
    struct blend_erlang_input ten = input(100, 1800, 180, 20, 0);
    assert_int_equal(blend_erlang_required(&ten, 0.8, -1, 13, &r), BLEND_ELIMIT);
    assert_int_equal(blend_erlang_required(&ten, 0.8, -1, 10, &r), BLEND_ELIMIT);
    assert_int_equal(blend_erlang_required(&ten, 1.0, -1, 20, &r), BLEND_ELIMIT);
    assert_int_equal(blend_erlang_required(&ten, 0.8, -1, 14, &r), 0);
    struct blend_erlang_input huge = unit_input(150000, 1, 0);
    assert_int_equal(blend_erlang_required(&huge, 0.8, -1, 1 << 30, &r), BLEND_ELIMIT);
}

static void invalid_input(void **state)
{
    (void)state;
    struct blend_erlang_result r;
    memset(&r, 0x5a, sizeof r);
    struct blend_erlang_result before = r;
    const struct blend_erlang_input bad[] = {
        input(NAN, 1800, 180, 20, 0),      input(-1, 1800, 180, 20, 0),
        input(100, 0, 180, 20, 0),         input(100, 1800, 0, 20, 0),
        input(100, 1800, 180, -1, 0),      input(100, 1800, 180, 20, -5),
        input(100, INFINITY, 180, 20, 0),  input(100, 1800, 180, INFINITY, 0),
        input(1e300, 1e-300, 180, 20, 0),  input(100, 1800, 180, 20, 1e-5),
        input(100, 1800, 180, 20, 1e12),   input(100, 1800, 180, 20, NAN),
        input(100, 1e-320, 1e-320, 20, 0), input(1e8, 1, 1, 20, 0),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(blend_erlang_eval(&bad[i], 14, &r), BLEND_EINVAL);
        assert_int_equal(blend_erlang_required(&bad[i], 0.8, -1, 100, &r), BLEND_EINVAL);
    }
    struct blend_erlang_input ok = input(100, 1800, 180, 20, 0);
    assert_int_equal(blend_erlang_eval(&ok, 0, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_eval(&ok, -3, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_eval(&ok, BLEND_ERLANG_AGENTS_MAX + 1, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_required(&ok, 1.5, -1, 100, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_required(&ok, -0.1, -1, 100, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_required(&ok, NAN, -1, 100, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_required(&ok, 0.8, NAN, 100, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_required(&ok, 0.8, 1.5, 100, &r), BLEND_EINVAL);
    assert_int_equal(blend_erlang_required(&ok, 0.8, -1, 0, &r), BLEND_EINVAL);
    /* Failures leave the output untouched. */
    assert_memory_equal(&r, &before, sizeof r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worked_example),        cmocka_unit_test(erlang_c_reference),
        cmocka_unit_test(erlang_c_large),        cmocka_unit_test(integer_traffic),
        cmocka_unit_test(tiny_traffic),          cmocka_unit_test(erlang_a_reference),
        cmocka_unit_test(erlang_a_to_c),         cmocka_unit_test(erlang_a_to_b),
        cmocka_unit_test(erlang_a_monotone),     cmocka_unit_test(erlang_a_large),
        cmocka_unit_test(required_matches_scan), cmocka_unit_test(required_large_and_limits),
        cmocka_unit_test(invalid_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
