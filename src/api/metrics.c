/*
 * Metrics registry; see metrics.h. Families live in a fixed array of pointers, series in a
 * singly linked list per family (insertion order is the render order). Lookups are linear:
 * a family has at most BLEND_METRICS_SERIES_MAX series and in practice a few dozen. Every
 * access holds the registry mutex; rendering holds it for the whole pass so a scrape sees one
 * consistent snapshot.
 */
#include "api/metrics.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    struct series *next;
    char *v1; /* owned label values, NULL when the family has fewer labels */
    char *v2;
    double value;     /* counter or gauge value; histogram sum */
    uint64_t count;   /* histogram observations */
    uint64_t *bucket; /* histogram: non-cumulative count per bound (owned) */
};

struct blend_metric {
    struct blend_metrics *reg;
    enum blend_metric_type type;
    char *name;
    char *help;
    char *label1;
    char *label2;
    double *bounds;
    size_t bounds_count;
    struct series *head;
    struct series *tail;
    size_t series_count;
};

struct blend_metrics {
    pthread_mutex_t lock;
    struct blend_metric *families[BLEND_METRICS_FAMILIES_MAX];
    size_t families_count;
    uint64_t dropped_series;
};

int blend_metrics_create(struct blend_metrics **out)
{
    BLEND_ASSERT(out);
    struct blend_metrics *m = blend_calloc(1, sizeof *m);
    if (!m) {
        return BLEND_ENOMEM;
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        blend_free(m);
        return BLEND_EINTERNAL;
    }
    *out = m;
    return 0;
}

static void series_free(struct series *s)
{
    blend_free(s->v1);
    blend_free(s->v2);
    blend_free(s->bucket);
    blend_free(s);
}

static void family_free(struct blend_metric *f)
{
    struct series *s = f->head;
    while (s) {
        struct series *next = s->next;
        series_free(s);
        s = next;
    }
    blend_free(f->name);
    blend_free(f->help);
    blend_free(f->label1);
    blend_free(f->label2);
    blend_free(f->bounds);
    blend_free(f);
}

void blend_metrics_destroy(struct blend_metrics *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->families_count; i++) {
        family_free(m->families[i]);
    }
    pthread_mutex_destroy(&m->lock);
    blend_free(m);
}

static int is_name(const char *s, int allow_colon)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > BLEND_METRICS_NAME_BYTES_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int labels_valid(enum blend_metric_type type, const char *l1, const char *l2)
{
    if (!l1 && l2) {
        return 0;
    }
    const char *labels[2] = {l1, l2};
    for (int i = 0; i < 2; i++) {
        if (!labels[i]) {
            continue;
        }
        if (!is_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0) {
            return 0;
        }
        if (type == BLEND_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0) {
            return 0;
        }
    }
    return !(l1 && l2 && strcmp(l1, l2) == 0);
}

static int bounds_valid(enum blend_metric_type type, const double *bounds, size_t count)
{
    if (type != BLEND_METRIC_HISTOGRAM) {
        return bounds == NULL && count == 0;
    }
    if (!bounds || count == 0 || count > BLEND_METRICS_BUCKETS_MAX) {
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
            return 0;
        }
    }
    return 1;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static struct blend_metric *family_new(enum blend_metric_type type, const char *name,
                                       const char *help, const char *l1, const char *l2,
                                       const double *bounds, size_t bounds_count)
{
    struct blend_metric *f = blend_calloc(1, sizeof *f);
    if (!f) {
        return NULL;
    }
    f->type = type;
    f->name = blend_strdup(name);
    f->help = blend_strdup(help ? help : "");
    f->label1 = l1 ? blend_strdup(l1) : NULL;
    f->label2 = l2 ? blend_strdup(l2) : NULL;
    if (bounds_count) {
        f->bounds = blend_malloc(bounds_count * sizeof *bounds);
        if (f->bounds) {
            memcpy(f->bounds, bounds, bounds_count * sizeof *bounds);
        }
    }
    f->bounds_count = bounds_count;
    if (!f->name || !f->help || (l1 && !f->label1) || (l2 && !f->label2) ||
        (bounds_count && !f->bounds)) {
        family_free(f);
        return NULL;
    }
    return f;
}

int blend_metrics_register(struct blend_metrics *m, enum blend_metric_type type, const char *name,
                           const char *help, const char *label1, const char *label2,
                           const double *bounds, size_t bounds_count, struct blend_metric **out)
{
    BLEND_ASSERT(m);
    BLEND_ASSERT(out);
    if (!is_name(name, 1) || !labels_valid(type, label1, label2) ||
        !bounds_valid(type, bounds, bounds_count)) {
        return BLEND_EINVAL;
    }
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->families_count; i++) {
        struct blend_metric *f = m->families[i];
        if (strcmp(f->name, name) == 0) {
            /* Get-or-create: a second registration of the same definition (a server created
             * again on the same registry) shares the family; a different one is a conflict. */
            int identical = f->type == type && same(f->label1, label1) && same(f->label2, label2) &&
                            f->bounds_count == bounds_count &&
                            (bounds_count == 0 ||
                             memcmp(f->bounds, bounds, bounds_count * sizeof *bounds) == 0);
            if (identical) {
                *out = f;
            } else {
                rc = BLEND_EEXIST;
            }
            goto out;
        }
    }
    if (m->families_count == BLEND_METRICS_FAMILIES_MAX) {
        rc = BLEND_ELIMIT;
        goto out;
    }
    struct blend_metric *f = family_new(type, name, help, label1, label2, bounds, bounds_count);
    if (!f) {
        rc = BLEND_ENOMEM;
        goto out;
    }
    f->reg = m;
    m->families[m->families_count++] = f;
    *out = f;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int values_valid(const struct blend_metric *f, const char *v1, const char *v2)
{
    if ((f->label1 != NULL) != (v1 != NULL) || (f->label2 != NULL) != (v2 != NULL)) {
        return 0;
    }
    return (!v1 || strlen(v1) <= BLEND_METRICS_LABEL_VALUE_BYTES_MAX) &&
           (!v2 || strlen(v2) <= BLEND_METRICS_LABEL_VALUE_BYTES_MAX);
}

static struct series *series_find(struct blend_metric *f, const char *v1, const char *v2)
{
    for (struct series *s = f->head; s; s = s->next) {
        if (same(s->v1, v1) && same(s->v2, v2)) {
            return s;
        }
    }
    return NULL;
}

/* Finds or creates a series; the caller holds the lock. */
static int series_get(struct blend_metric *f, const char *v1, const char *v2, struct series **out)
{
    struct series *s = series_find(f, v1, v2);
    if (s) {
        *out = s;
        return 0;
    }
    if (f->series_count == BLEND_METRICS_SERIES_MAX) {
        f->reg->dropped_series++;
        return BLEND_ELIMIT;
    }
    s = blend_calloc(1, sizeof *s);
    if (!s) {
        return BLEND_ENOMEM;
    }
    s->v1 = v1 ? blend_strdup(v1) : NULL;
    s->v2 = v2 ? blend_strdup(v2) : NULL;
    if (f->bounds_count) {
        s->bucket = blend_calloc(f->bounds_count, sizeof *s->bucket);
    }
    if ((v1 && !s->v1) || (v2 && !s->v2) || (f->bounds_count && !s->bucket)) {
        series_free(s);
        return BLEND_ENOMEM;
    }
    if (f->tail) {
        f->tail->next = s;
    } else {
        f->head = s;
    }
    f->tail = s;
    f->series_count++;
    *out = s;
    return 0;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(struct blend_metric *f, const char *v1, const char *v2, enum op op, double x)
{
    BLEND_ASSERT(f);
    BLEND_ASSERT(op != OP_OBSERVE || f->type == BLEND_METRIC_HISTOGRAM);
    BLEND_ASSERT(op == OP_OBSERVE || f->type != BLEND_METRIC_HISTOGRAM);
    BLEND_ASSERT(op != OP_SET || f->type == BLEND_METRIC_GAUGE);
    if (!values_valid(f, v1, v2) || isnan(x) ||
        (f->type == BLEND_METRIC_COUNTER && (x < 0 || isinf(x)))) {
        return BLEND_EINVAL;
    }
    pthread_mutex_lock(&f->reg->lock);
    struct series *s;
    int rc = series_get(f, v1, v2, &s);
    if (rc == 0) {
        if (op == OP_SET) {
            s->value = x;
        } else if (op == OP_ADD) {
            s->value += x;
        } else {
            for (size_t i = 0; i < f->bounds_count; i++) {
                if (x <= f->bounds[i]) {
                    s->bucket[i]++;
                    break;
                }
            }
            s->value += x;
            s->count++;
        }
    }
    pthread_mutex_unlock(&f->reg->lock);
    return rc;
}

int blend_metric_add(struct blend_metric *f, const char *v1, const char *v2, double delta)
{
    return update(f, v1, v2, OP_ADD, delta);
}

int blend_metric_inc(struct blend_metric *f, const char *v1, const char *v2)
{
    return update(f, v1, v2, OP_ADD, 1.0);
}

int blend_metric_set(struct blend_metric *f, const char *v1, const char *v2, double value)
{
    return update(f, v1, v2, OP_SET, value);
}

int blend_metric_observe(struct blend_metric *f, const char *v1, const char *v2, double value)
{
    return update(f, v1, v2, OP_OBSERVE, value);
}

double blend_metric_value(struct blend_metric *f, const char *v1, const char *v2)
{
    BLEND_ASSERT(f);
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = series_find(f, v1, v2);
    double v = 0;
    if (s) {
        v = f->type == BLEND_METRIC_HISTOGRAM ? (double)s->count : s->value;
    }
    pthread_mutex_unlock(&f->reg->lock);
    return v;
}

/* --- Rendering ------------------------------------------------------------------------------ */

/* Shortest decimal that reads back as the same double; Prometheus spellings for the rest. */
static void format_double(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            return;
        }
    }
}

/* Appends s with the given characters escaped: HELP escapes \ and newline, label values also ". */
static int append_escaped(struct blend_buf *out, const char *s, int escape_quote)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '\\') {
            rc = blend_buf_appends(out, "\\\\");
        } else if (*s == '\n') {
            rc = blend_buf_appends(out, "\\n");
        } else if (escape_quote && *s == '"') {
            rc = blend_buf_appends(out, "\\\"");
        } else {
            rc = blend_buf_append(out, s, 1);
        }
    }
    return rc;
}

static int append_label(struct blend_buf *out, int *first, const char *name, const char *value)
{
    int rc = blend_buf_printf(out, "%s%s=\"", *first ? "{" : ",", name);
    *first = 0;
    if (rc == 0) {
        rc = append_escaped(out, value, 1);
    }
    if (rc == 0) {
        rc = blend_buf_appends(out, "\"");
    }
    return rc;
}

/* Writes `name{l1="v1",l2="v2"[,le="x"]} value\n`. */
static int append_sample(struct blend_buf *out, const struct blend_metric *f,
                         const struct series *s, const char *suffix, const char *le,
                         const char *value)
{
    int first = 1;
    int rc = blend_buf_printf(out, "%s%s", f->name, suffix);
    if (rc == 0 && f->label1) {
        rc = append_label(out, &first, f->label1, s->v1);
    }
    if (rc == 0 && f->label2) {
        rc = append_label(out, &first, f->label2, s->v2);
    }
    if (rc == 0 && le) {
        rc = append_label(out, &first, "le", le);
    }
    if (rc == 0) {
        rc = blend_buf_printf(out, "%s %s\n", first ? "" : "}", value);
    }
    return rc;
}

static int render_histogram(struct blend_buf *out, const struct blend_metric *f,
                            const struct series *s)
{
    char le[40];
    char num[40];
    uint64_t cumulative = 0;
    int rc = 0;
    for (size_t i = 0; i < f->bounds_count && rc == 0; i++) {
        cumulative += s->bucket[i];
        format_double(le, sizeof le, f->bounds[i]);
        snprintf(num, sizeof num, "%llu", (unsigned long long)cumulative);
        rc = append_sample(out, f, s, "_bucket", le, num);
    }
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->count);
    if (rc == 0) {
        rc = append_sample(out, f, s, "_bucket", "+Inf", num);
    }
    if (rc == 0) {
        format_double(le, sizeof le, s->value);
        rc = append_sample(out, f, s, "_sum", NULL, le);
    }
    if (rc == 0) {
        rc = append_sample(out, f, s, "_count", NULL, num);
    }
    return rc;
}

static int render_family(struct blend_buf *out, const struct blend_metric *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int rc = blend_buf_printf(out, "# HELP %s ", f->name);
    if (rc == 0) {
        rc = append_escaped(out, f->help, 0);
    }
    if (rc == 0) {
        rc = blend_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    }
    for (const struct series *s = f->head; s && rc == 0; s = s->next) {
        if (f->type == BLEND_METRIC_HISTOGRAM) {
            rc = render_histogram(out, f, s);
        } else {
            char num[40];
            format_double(num, sizeof num, s->value);
            rc = append_sample(out, f, s, "", NULL, num);
        }
    }
    return rc;
}

int blend_metrics_render(struct blend_metrics *m, struct blend_buf *out)
{
    BLEND_ASSERT(m);
    BLEND_ASSERT(out);
    pthread_mutex_lock(&m->lock);
    int rc = 0;
    for (size_t i = 0; i < m->families_count && rc == 0; i++) {
        rc = render_family(out, m->families[i]);
    }
    if (rc == 0) {
        rc = blend_buf_printf(out,
                              "# HELP blend_metrics_dropped_series_total Metric updates refused "
                              "because a family reached its series cap.\n"
                              "# TYPE blend_metrics_dropped_series_total counter\n"
                              "blend_metrics_dropped_series_total %llu\n",
                              (unsigned long long)m->dropped_series);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}
