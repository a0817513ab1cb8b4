/* Tests for the metrics registry: registration rules, updates, caps, and the exact text of the
 * Prometheus exposition (HELP/TYPE lines, label escaping, cumulative buckets, _sum/_count). */
#include "api/metrics.h"
#include "base/alloc.h"
#include "base/buf.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static char *render(struct blend_metrics *m)
{
    struct blend_buf b;
    blend_buf_init(&b, 1 << 20);
    assert_int_equal(blend_metrics_render(m, &b), 0);
    return blend_buf_take(&b);
}

static void counter_and_gauge_render(void **state)
{
    struct blend_metrics *m;
    assert_int_equal(blend_metrics_create(&m), 0);
    struct blend_metric *c, *g;
    assert_int_equal(blend_metrics_register(m, BLEND_METRIC_COUNTER, "req_total", "Requests.",
                                            "route", "status", NULL, 0, &c),
                     0);
    assert_int_equal(blend_metrics_register(m, BLEND_METRIC_GAUGE, "queue_depth",
                                            "Line one\nback\\slash", NULL, NULL, NULL, 0, &g),
                     0);
    assert_int_equal(blend_metric_inc(c, "a.get", "200"), 0);
    assert_int_equal(blend_metric_add(c, "a.get", "200", 2), 0);
    assert_int_equal(blend_metric_inc(c, "say \"hi\"\n\\", "404"), 0);
    assert_int_equal(blend_metric_set(g, NULL, NULL, 2.5), 0);
    assert_int_equal(blend_metric_add(g, NULL, NULL, -1), 0);
    assert_true(blend_metric_value(c, "a.get", "200") == 3.0);
    assert_true(blend_metric_value(g, NULL, NULL) == 1.5);
    assert_true(blend_metric_value(c, "nope", "200") == 0.0);

    char *text = render(m);
    const char *want = "# HELP req_total Requests.\n"
                       "# TYPE req_total counter\n"
                       "req_total{route=\"a.get\",status=\"200\"} 3\n"
                       "req_total{route=\"say \\\"hi\\\"\\n\\\\\",status=\"404\"} 1\n"
                       "# HELP queue_depth Line one\\nback\\\\slash\n"
                       "# TYPE queue_depth gauge\n"
                       "queue_depth 1.5\n";
    assert_memory_equal(text, want, strlen(want));
    assert_non_null(strstr(text, "blend_metrics_dropped_series_total 0\n"));
    blend_free(text);
    blend_metrics_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

static void histogram_buckets_are_cumulative(void **state)
{
    struct blend_metrics *m;
    assert_int_equal(blend_metrics_create(&m), 0);
    struct blend_metric *h;
    const double bounds[] = {0.005, 0.1, 1};
    assert_int_equal(blend_metrics_register(m, BLEND_METRIC_HISTOGRAM, "dur_seconds", "Time.",
                                            "route", NULL, bounds, 3, &h),
                     0);
    assert_int_equal(blend_metric_observe(h, "x", NULL, 0.001), 0);
    assert_int_equal(blend_metric_observe(h, "x", NULL, 0.005), 0); /* le is inclusive */
    assert_int_equal(blend_metric_observe(h, "x", NULL, 0.5), 0);
    assert_int_equal(blend_metric_observe(h, "x", NULL, 7), 0);
    char *text = render(m);
    const char *want = "# HELP dur_seconds Time.\n"
                       "# TYPE dur_seconds histogram\n"
                       "dur_seconds_bucket{route=\"x\",le=\"0.005\"} 2\n"
                       "dur_seconds_bucket{route=\"x\",le=\"0.1\"} 2\n"
                       "dur_seconds_bucket{route=\"x\",le=\"1\"} 3\n"
                       "dur_seconds_bucket{route=\"x\",le=\"+Inf\"} 4\n"
                       "dur_seconds_sum{route=\"x\"} 7.506\n"
                       "dur_seconds_count{route=\"x\"} 4\n";
    assert_memory_equal(text, want, strlen(want));
    blend_free(text);
    assert_true(blend_metric_value(h, "x", NULL) == 4.0);
    blend_metrics_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

static void registration_is_validated(void **state)
{
    struct blend_metrics *m;
    assert_int_equal(blend_metrics_create(&m), 0);
    struct blend_metric *f;
    const double ok[] = {1, 2};
    const double unsorted[] = {2, 1};
    const double inf[] = {1, INFINITY};
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "9bad", "", NULL, NULL, NULL, 0, &f),
        BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "ok", "", "bad-label", NULL, NULL, 0, &f),
        BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "ok", "", NULL, "l2", NULL, 0, &f),
        BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "ok", "", "__x", NULL, NULL, 0, &f),
        BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_HISTOGRAM, "h", "", "le", NULL, ok, 2, &f),
        BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_HISTOGRAM, "h", "", NULL, NULL, unsorted, 2, &f),
        BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_HISTOGRAM, "h", "", NULL, NULL, inf, 2, &f),
        BLEND_EINVAL);
    assert_int_equal(blend_metrics_register(m, BLEND_METRIC_GAUGE, "g", "", NULL, NULL, ok, 2, &f),
                     BLEND_EINVAL);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "ns:ok_total", "", "a", "b", NULL, 0, &f),
        0);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_GAUGE, "ns:ok_total", "", NULL, NULL, NULL, 0, &f),
        BLEND_EEXIST);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "ns:ok_total", "", "a", "c", NULL, 0, &f),
        BLEND_EEXIST);
    struct blend_metric *again;
    assert_int_equal(blend_metrics_register(m, BLEND_METRIC_COUNTER, "ns:ok_total", "other help",
                                            "a", "b", NULL, 0, &again),
                     0);
    assert_ptr_equal(again, f);
    /* Label values must match the family's labels; counters never go down. */
    assert_int_equal(blend_metric_inc(f, "x", NULL), BLEND_EINVAL);
    assert_int_equal(blend_metric_add(f, "x", "y", -1), BLEND_EINVAL);
    assert_int_equal(blend_metric_add(f, "x", "y", NAN), BLEND_EINVAL);
    char long_value[BLEND_METRICS_LABEL_VALUE_BYTES_MAX + 2];
    memset(long_value, 'v', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    assert_int_equal(blend_metric_inc(f, long_value, "y"), BLEND_EINVAL);
    blend_metrics_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

static void series_cap_is_enforced_and_counted(void **state)
{
    struct blend_metrics *m;
    assert_int_equal(blend_metrics_create(&m), 0);
    struct blend_metric *c;
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "c", "", "k", NULL, NULL, 0, &c), 0);
    char v[32];
    for (int i = 0; i < BLEND_METRICS_SERIES_MAX; i++) {
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(blend_metric_inc(c, v, NULL), 0);
    }
    assert_int_equal(blend_metric_inc(c, "one-more", NULL), BLEND_ELIMIT);
    assert_int_equal(blend_metric_inc(c, "0", NULL), 0); /* existing series still update */
    char *text = render(m);
    assert_non_null(strstr(text, "blend_metrics_dropped_series_total 1\n"));
    assert_null(strstr(text, "one-more"));
    blend_free(text);
    blend_metrics_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

static void out_of_memory_is_reported(void **state)
{
    struct blend_metrics *m;
    assert_int_equal(blend_metrics_create(&m), 0);
    struct blend_metric *c;
    blend_alloc_fail_nth(1);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "c", "", "k", NULL, NULL, 0, &c),
        BLEND_ENOMEM);
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "c", "", "k", NULL, NULL, 0, &c), 0);
    blend_alloc_fail_nth(2); /* the series' label copy */
    assert_int_equal(blend_metric_inc(c, "v", NULL), BLEND_ENOMEM);
    assert_int_equal(blend_metric_inc(c, "v", NULL), 0);
    assert_true(blend_metric_value(c, "v", NULL) == 1.0);
    /* Rendering into a buffer that is too small reports the buffer's error. */
    struct blend_buf b;
    blend_buf_init(&b, 16);
    assert_int_equal(blend_metrics_render(m, &b), BLEND_ELIMIT);
    blend_buf_deinit(&b);
    blend_metrics_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

struct writer_arg {
    struct blend_metric *c;
    int n;
};

static void *writer(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        blend_metric_inc(a->c, "t", NULL);
    }
    return NULL;
}

static void concurrent_updates_are_not_lost(void **state)
{
    struct blend_metrics *m;
    assert_int_equal(blend_metrics_create(&m), 0);
    struct blend_metric *c;
    assert_int_equal(
        blend_metrics_register(m, BLEND_METRIC_COUNTER, "c", "", "k", NULL, NULL, 0, &c), 0);
    struct writer_arg a = {c, 20000};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, writer, &a), 0);
    }
    for (int r = 0; r < 50; r++) { /* render while writers run */
        char *text = render(m);
        blend_free(text);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    assert_true(blend_metric_value(c, "t", NULL) == 80000.0);
    blend_metrics_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_and_gauge_render),
        cmocka_unit_test(histogram_buckets_are_cumulative),
        cmocka_unit_test(registration_is_validated),
        cmocka_unit_test(series_cap_is_enforced_and_counted),
        cmocka_unit_test(out_of_memory_is_reported),
        cmocka_unit_test(concurrent_updates_are_not_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
