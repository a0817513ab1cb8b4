/*
 * Metrics registry: counters, gauges and fixed-bucket histograms, rendered in the Prometheus
 * text exposition format 0.0.4 for `GET /metrics`.
 *
 * A registry holds families (one metric name, its help text, its type and up to two label
 * names); a family holds series (one value, or one set of buckets, per combination of label
 * values). Families and series are created on first use and never removed, so their number is
 * capped (BLEND_METRICS_FAMILIES_MAX, BLEND_METRICS_SERIES_MAX): a label fed from input could
 * otherwise grow the registry without bound. Updating a series beyond the cap is refused with
 * BLEND_ELIMIT and counted in `blend_metrics_dropped_series_total`.
 *
 * Thread safety: one mutex per registry guards every family, series and value, so the store
 * writer thread may update its own series while the main loop renders. Family handles stay
 * valid until the registry is destroyed.
 */
#ifndef BLEND_API_METRICS_H
#define BLEND_API_METRICS_H

#include "base/buf.h"
#include "base/error.h"
#include "base/limits.h"

#include <stddef.h>

enum blend_metric_type {
    BLEND_METRIC_COUNTER,
    BLEND_METRIC_GAUGE,
    BLEND_METRIC_HISTOGRAM,
};

struct blend_metrics;
struct blend_metric; /* one family */

/* Creates an empty registry (owned; free with blend_metrics_destroy). */
BLEND_MUST_USE int blend_metrics_create(struct blend_metrics **out);
void blend_metrics_destroy(struct blend_metrics *m);

/*
 * Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*; label1/label2 are label
 * names ([a-zA-Z_][a-zA-Z0-9_]*, not "le" for histograms) or NULL (label2 only when label1 is
 * set). For histograms, bounds holds bounds_count strictly increasing finite upper bounds (the
 * +Inf bucket is implicit); other types pass NULL, 0. Strings are copied.
 * Registering the same definition again (name, type, labels, bounds) returns the existing family.
 * Returns 0 and the family through out; BLEND_EINVAL for a bad name or bounds, BLEND_EEXIST if
 * the name is taken by a different definition, BLEND_ELIMIT beyond BLEND_METRICS_FAMILIES_MAX,
 * BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend_metrics_register(struct blend_metrics *m, enum blend_metric_type type,
                                          const char *name, const char *help, const char *label1,
                                          const char *label2, const double *bounds,
                                          size_t bounds_count, struct blend_metric **out);

/*
 * Updates the series named by the label values (NULL where the family has no such label).
 * Counters: add a non-negative delta. Gauges: set or add. Histograms: observe a value.
 * Returns 0, BLEND_EINVAL (negative counter delta, missing/extra label value, value too
 * long), BLEND_ELIMIT (series cap) or BLEND_ENOMEM. Callers on hot paths may ignore failures:
 * a metric that could not be recorded is counted, never fatal.
 */
int blend_metric_add(struct blend_metric *f, const char *v1, const char *v2, double delta);
int blend_metric_inc(struct blend_metric *f, const char *v1, const char *v2);
int blend_metric_set(struct blend_metric *f, const char *v1, const char *v2, double value);
int blend_metric_observe(struct blend_metric *f, const char *v1, const char *v2, double value);

/* Current value of a counter or gauge series (0 when the series does not exist yet). For tests
 * and for the app's own decisions; histograms return their observation count. */
double blend_metric_value(struct blend_metric *f, const char *v1, const char *v2);

/*
 * Appends the whole registry to out in the text exposition format 0.0.4: per family a HELP
 * and a TYPE line, then its series in creation order (histograms as _bucket{le=...}
 * cumulative counts, _sum and _count). Label values and help text are escaped.
 * Returns 0, or the buffer's error (BLEND_ELIMIT, BLEND_ENOMEM) with out partly written.
 */
BLEND_MUST_USE int blend_metrics_render(struct blend_metrics *m, struct blend_buf *out);

#endif
