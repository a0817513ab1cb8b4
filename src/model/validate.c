/*
 * Input validation and output redaction driven by the resource descriptors.
 *
 * blend_model_validate() turns a client document into a normalized one: every known field checked
 * (JSON type, range, length, membership, the field's own check hook), unknown and server-owned
 * fields refused, defaults filled in on create, all errors collected (bounded) with their paths.
 * The output never shares a value with the input (values are copied), so the caller may free the
 * input at once and hand the output to another thread.
 *
 * Invariants: no recursion on input-controlled depth. A document has one level of dotted groups
 * ("capacity.voice" is {"capacity":{"voice":..}}) and one level of children (a child resource
 * never has children: asserted), so the descriptors bound the depth, whatever the input is.
 * A JSON field's value is free-form: its depth is checked iteratively (JSON_FIELD_DEPTH_MAX)
 * before jansson copies it.
 */
#include "model/model.h"

#include "base/assert.h"
#include "base/limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest group name ("capacity", "consent") plus NUL. */
#define GROUP_BYTES_MAX 64
/* Longest path prefix for a child element ("identities[255].") plus NUL. */
#define PREFIX_BYTES_MAX 96

/* ---- Error list --------------------------------------------------------------------------- */

void blend_field_errors_init(struct blend_field_errors *errs)
{
    BLEND_ASSERT(errs);
    errs->count = 0;
    errs->count_total = 0;
}

void blend_field_errors_add(struct blend_field_errors *errs, const char *path, const char *fmt, ...)
{
    BLEND_ASSERT(errs);
    BLEND_ASSERT(path && fmt);
    errs->count_total++;
    if (errs->count >= BLEND_FIELD_ERRORS_MAX) {
        return;
    }
    struct blend_field_error *e = &errs->items[errs->count++];
    snprintf(e->path, sizeof e->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* ---- Small helpers ------------------------------------------------------------------------ */

static const struct blend_field *field_by_name(const struct blend_resource *res, const char *name)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        if (strcmp(res->fields[i].name, name) == 0) {
            return &res->fields[i];
        }
    }
    return NULL;
}

/* Splits "group.leaf" into its group (copied into group, cap bytes) and returns the leaf, or
 * returns NULL when the name has no dot. */
static const char *split_group(const char *name, char *group, size_t cap)
{
    const char *dot = strchr(name, '.');
    if (!dot) {
        return NULL;
    }
    size_t n = (size_t)(dot - name);
    BLEND_ASSERT(n > 0 && n < cap);
    memcpy(group, name, n);
    group[n] = '\0';
    return dot + 1;
}

/* Returns 1 when some field of res is named "<group>.<something>". */
static int is_group(const struct blend_resource *res, const char *group)
{
    size_t n = strlen(group);
    for (size_t i = 0; i < res->fields_count; i++) {
        const char *name = res->fields[i].name;
        if (strncmp(name, group, n) == 0 && name[n] == '.') {
            return 1;
        }
    }
    return 0;
}

static int is_system_field(const char *name)
{
    return strcmp(name, "id") == 0 || strcmp(name, "version") == 0 ||
           strcmp(name, "created_at") == 0 || strcmp(name, "updated_at") == 0;
}

static int64_t string_max(const struct blend_field *f)
{
    return f->max > 0 ? f->max : BLEND_FIELD_STRING_BYTES_MAX;
}

static const char *type_word(enum blend_field_type t)
{
    switch (t) {
    case BLEND_FT_STRING:
    case BLEND_FT_ENUM:
    case BLEND_FT_TIME:
    case BLEND_FT_DATE:
        return "a string";
    case BLEND_FT_INT:
        return "an integer";
    case BLEND_FT_BOOL:
        return "a boolean";
    case BLEND_FT_SET:
    case BLEND_FT_CHILDREN:
        return "an array";
    case BLEND_FT_JSON:
        return "an object";
    case BLEND_FT_REF:
        return "a string";
    }
    return "a value";
}

/* "one of: a, b, c" into out (truncated when long). */
static void values_list(const char *const *values, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; values[i] && len < cap; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", values[i]);
        if (n < 0) {
            break;
        }
        len += (size_t)n;
    }
}

static int in_values(const char *const *values, const char *s)
{
    for (size_t i = 0; values[i]; i++) {
        if (strcmp(values[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

static int two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
        return 0;
    }
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

/* "HH:MM", 00:00..24:00. */
static int is_time(const char *s, size_t len)
{
    int h, m;
    if (len != 5 || s[2] != ':' || !two_digits(s, &h) || !two_digits(s + 3, &m)) {
        return 0;
    }
    return (h < 24 && m < 60) || (h == 24 && m == 0);
}

/* "YYYY-MM-DD", a real Gregorian date in years 0001..9999. */
static int is_date(const char *s, size_t len)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y1, y2, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || !two_digits(s, &y1) || !two_digits(s + 2, &y2) ||
        !two_digits(s + 5, &m) || !two_digits(s + 8, &d)) {
        return 0;
    }
    int y = y1 * 100 + y2;
    if (y < 1 || m < 1 || m > 12 || d < 1) {
        return 0;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int dmax = days[m - 1] + (m == 2 && leap);
    return d <= dmax;
}

/* Deepest nesting of a JSON field's value (the object itself is level 1). A JSON field is at most
 * the fourth level of any document we accept (provisioning root, section array, item, field),
 * so the whole document stays within BLEND_JSON_DEPTH_MAX. */
#define JSON_FIELD_DEPTH_MAX (BLEND_JSON_DEPTH_MAX - 4)

/* Returns 1 when v nests at most depth_max levels. Iterative, with an explicit stack bounded by
 * depth_max: the input decides how deep it is, so no recursion here. */
static int json_depth_ok(const json_t *v, int depth_max)
{
    struct frame {
        const json_t *node;
        void *iter;   /* objects: next member */
        size_t index; /* arrays: next element */
    } stack[JSON_FIELD_DEPTH_MAX];
    BLEND_ASSERT(depth_max >= 1 && depth_max <= JSON_FIELD_DEPTH_MAX);
    int depth = 0;
    stack[depth++] = (struct frame){v, json_object_iter((json_t *)v), 0};
    while (depth > 0) {
        struct frame *top = &stack[depth - 1];
        const json_t *child = NULL;
        if (json_is_object(top->node) && top->iter) {
            child = json_object_iter_value(top->iter);
            top->iter = json_object_iter_next((json_t *)top->node, top->iter);
        } else if (json_is_array(top->node) && top->index < json_array_size(top->node)) {
            child = json_array_get(top->node, top->index++);
        }
        if (!child) {
            depth--;
            continue;
        }
        if (!json_is_object(child) && !json_is_array(child)) {
            continue;
        }
        if (depth == depth_max) {
            return 0;
        }
        stack[depth++] = (struct frame){child, json_object_iter((json_t *)child), 0};
    }
    return 1;
}

/* ---- Scalar checks ------------------------------------------------------------------------ */

/* A validation pass over one object: where errors go and how paths are prefixed. */
struct pass {
    struct blend_field_errors *errs;
    const char *prefix; /* "" at the top, "skills[2]." inside a child */
    enum blend_validate_mode mode;
    int allow_internal;
};

static void fail(struct pass *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct pass *p, const char *path, const char *fmt, ...)
{
    char full[sizeof p->errs->items[0].path];
    char msg[sizeof p->errs->items[0].message];
    snprintf(full, sizeof full, "%s%s", p->prefix, path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    blend_field_errors_add(p->errs, full, "%s", msg);
}

static int check_string(struct pass *p, const struct blend_field *f, const char *path,
                        const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (memchr(s, '\0', len)) {
        fail(p, path, "must not contain NUL characters");
        return 0;
    }
    if ((int64_t)len < f->min) {
        fail(p, path, "too short (at least %lld bytes)", (long long)f->min);
        return 0;
    }
    if ((int64_t)len > string_max(f)) {
        fail(p, path, "too long (at most %lld bytes)", (long long)string_max(f));
        return 0;
    }
    return 1;
}

static int check_set(struct pass *p, const struct blend_field *f, const char *path, const json_t *v)
{
    size_t n = json_array_size(v);
    size_t n_values = 0;
    while (f->values[n_values]) {
        n_values++;
    }
    /* A SET's min/max, when given, bound how many distinct values it holds. */
    size_t n_max = f->max > 0 && (size_t)f->max < n_values ? (size_t)f->max : n_values;
    if (n > n_max) {
        fail(p, path, "too many items (at most %zu)", n_max);
        return 0;
    }
    if (f->min > 0 && n < (size_t)f->min) {
        fail(p, path, "too few items (at least %lld)", (long long)f->min);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        char ipath[sizeof p->errs->items[0].path];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (!json_is_string(item)) {
            fail(p, ipath, "expected a string");
            return 0;
        }
        if (!in_values(f->values, json_string_value(item))) {
            char list[160];
            values_list(f->values, list, sizeof list);
            fail(p, ipath, "must be one of: %s", list);
            return 0;
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(item, json_array_get(v, j))) {
                fail(p, ipath, "duplicate value \"%s\"", json_string_value(item));
                return 0;
            }
        }
    }
    return 1;
}

static int check_ref(struct pass *p, const struct blend_field *f, const char *path, const json_t *v)
{
    BLEND_ASSERT(f->ref);
    if (f->ref->key) {
        if (!json_is_string(v)) {
            fail(p, path, "expected a string (the %s's %s)", f->ref->singular, f->ref->key);
            return 0;
        }
        size_t len = json_string_length(v);
        if (len == 0 || len > BLEND_FIELD_STRING_BYTES_MAX ||
            memchr(json_string_value(v), '\0', len)) {
            fail(p, path, "invalid %s %s", f->ref->singular, f->ref->key);
            return 0;
        }
        return 1;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        fail(p, path, "expected a positive integer (the %s's id)", f->ref->singular);
        return 0;
    }
    return 1;
}

/* Checks the JSON type and the value of a non-null scalar (anything but CHILDREN). */
static int check_value(struct pass *p, const struct blend_field *f, const char *path,
                       const json_t *v)
{
    char list[160];
    switch (f->type) {
    case BLEND_FT_STRING:
        if (!json_is_string(v)) {
            break;
        }
        return check_string(p, f, path, v);
    case BLEND_FT_INT:
        if (!json_is_integer(v)) {
            break;
        }
        if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
            fail(p, path, "must be between %lld and %lld", (long long)f->min, (long long)f->max);
            return 0;
        }
        return 1;
    case BLEND_FT_BOOL:
        if (!json_is_boolean(v)) {
            break;
        }
        return 1;
    case BLEND_FT_ENUM:
        if (!json_is_string(v)) {
            break;
        }
        if (!in_values(f->values, json_string_value(v))) {
            values_list(f->values, list, sizeof list);
            fail(p, path, "must be one of: %s", list);
            return 0;
        }
        return 1;
    case BLEND_FT_SET:
        if (!json_is_array(v)) {
            break;
        }
        return check_set(p, f, path, v);
    case BLEND_FT_REF:
        return check_ref(p, f, path, v);
    case BLEND_FT_JSON:
        if (!json_is_object(v)) {
            break;
        }
        if (!json_depth_ok(v, JSON_FIELD_DEPTH_MAX)) {
            fail(p, path, "nested too deeply (at most %d levels)", JSON_FIELD_DEPTH_MAX);
            return 0;
        }
        return 1;
    case BLEND_FT_TIME:
        if (!json_is_string(v)) {
            break;
        }
        if (!is_time(json_string_value(v), json_string_length(v))) {
            fail(p, path, "expected a time \"HH:MM\" between 00:00 and 24:00");
            return 0;
        }
        return 1;
    case BLEND_FT_DATE:
        if (!json_is_string(v)) {
            break;
        }
        if (!is_date(json_string_value(v), json_string_length(v))) {
            fail(p, path, "expected a real date \"YYYY-MM-DD\"");
            return 0;
        }
        return 1;
    case BLEND_FT_CHILDREN:
        BLEND_ASSERT(!"children are not scalars");
    }
    fail(p, path, "expected %s", type_word(f->type));
    return 0;
}

/* ---- Objects ------------------------------------------------------------------------------ */

/* Sets out[name] (or out[group][leaf] for a dotted name) to v, taking v. */
static int put(json_t *out, const char *name, json_t *v)
{
    if (!v) {
        return BLEND_ENOMEM;
    }
    char group[GROUP_BYTES_MAX];
    const char *leaf = split_group(name, group, sizeof group);
    if (!leaf) {
        return json_object_set_new(out, name, v) == 0 ? 0 : BLEND_ENOMEM;
    }
    json_t *g = json_object_get(out, group);
    if (!g) {
        g = json_object();
        if (!g || json_object_set_new(out, group, g) != 0) {
            json_decref(v);
            return BLEND_ENOMEM;
        }
    }
    return json_object_set_new(g, leaf, v) == 0 ? 0 : BLEND_ENOMEM;
}

/* Finds the input value of a field: input[name], or input[group][leaf]. A group that is not an
 * object yields NULL here; the unknown-key pass reports it. */
static const json_t *get(const json_t *in, const char *name)
{
    char group[GROUP_BYTES_MAX];
    const char *leaf = split_group(name, group, sizeof group);
    if (!leaf) {
        return json_object_get(in, name);
    }
    return json_object_get(json_object_get(in, group), leaf);
}

static int validate_object(const struct blend_resource *res, const json_t *in, struct pass *p,
                           json_t *out);

static int validate_children(const struct blend_field *f, const json_t *v, struct pass *p,
                             json_t *out)
{
    BLEND_ASSERT(f->child);
    if (!json_is_array(v)) {
        fail(p, f->name, "expected an array");
        return 0;
    }
    if (json_array_size(v) > BLEND_CHILDREN_MAX) {
        fail(p, f->name, "too many items (at most %d)", BLEND_CHILDREN_MAX);
        return 0;
    }
    json_t *list = json_array();
    if (!list) {
        return BLEND_ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        char prefix[PREFIX_BYTES_MAX];
        snprintf(prefix, sizeof prefix, "%s%s[%zu].", p->prefix, f->name, i);
        if (!json_is_object(item)) {
            prefix[strlen(prefix) - 1] = '\0'; /* no trailing dot on the element itself */
            blend_field_errors_add(p->errs, prefix, "expected an object");
            continue;
        }
        struct pass cp = {p->errs, prefix, BLEND_VALIDATE_CREATE, p->allow_internal};
        json_t *child = json_object();
        int rc = child ? validate_object(f->child, item, &cp, child) : BLEND_ENOMEM;
        if (rc == 0 && json_array_append_new(list, child) != 0) {
            rc = BLEND_ENOMEM;
        } else if (rc != 0) {
            json_decref(child);
        }
        if (rc != 0) {
            json_decref(list);
            return rc;
        }
    }
    return put(out, f->name, list);
}

/* Validates the value given for one field and copies it to out. Returns 0 or BLEND_ENOMEM;
 * validation errors go to the error list. */
static int validate_given(const struct blend_field *f, const json_t *v, struct pass *p, json_t *out)
{
    if (f->flags & BLEND_FF_READ_ONLY) {
        fail(p, f->name, "read-only field");
        return 0;
    }
    if ((f->flags & BLEND_FF_INTERNAL) && !p->allow_internal) {
        fail(p, f->name, "internal field, set by the server");
        return 0;
    }
    if (json_is_null(v)) {
        if (!(f->flags & BLEND_FF_NULLABLE)) {
            fail(p, f->name, "must not be null");
            return 0;
        }
        return put(out, f->name, json_null());
    }
    if (f->type == BLEND_FT_CHILDREN) {
        return validate_children(f, v, p, out);
    }
    if (!check_value(p, f, f->name, v)) {
        return 0;
    }
    if (f->check) {
        char msg[sizeof p->errs->items[0].message];
        msg[0] = '\0';
        if (f->check(v, msg, sizeof msg) != 0) {
            fail(p, f->name, "%s", msg[0] ? msg : "invalid value");
            return 0;
        }
    }
    return put(out, f->name, json_deep_copy(v));
}

/* On create, a missing field is either an error (REQUIRED) or takes its default. */
static int fill_missing(const struct blend_field *f, struct pass *p, json_t *out)
{
    if (f->flags & BLEND_FF_READ_ONLY) {
        return 0;
    }
    if (f->flags & BLEND_FF_REQUIRED) {
        fail(p, f->name, "required field");
        return 0;
    }
    if (!f->default_json) {
        return 0;
    }
    json_error_t jerr;
    json_t *d = json_loads(f->default_json, JSON_DECODE_ANY, &jerr);
    if (!d) {
        /* Defaults are compiled in and a unit test checks that each one parses and passes its
         * own field's validation, so the only failure left at run time is memory (jansson does
         * not always report it as json_error_out_of_memory). */
        return BLEND_ENOMEM;
    }
    return put(out, f->name, d);
}

/* Reports every input key that names no field (also inside groups). */
static void find_unknown(const struct blend_resource *res, const json_t *in, struct pass *p)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        if (field_by_name(res, key)) {
            continue;
        }
        if (!is_group(res, key)) {
            fail(p, key, is_system_field(key) ? "read-only field" : "unknown field");
            continue;
        }
        if (!json_is_object(v)) {
            fail(p, key, "expected an object");
            continue;
        }
        const char *sub;
        const json_t *sv;
        json_object_foreach((json_t *)v, sub, sv)
        {
            char name[sizeof p->errs->items[0].path];
            snprintf(name, sizeof name, "%s.%s", key, sub);
            if (!field_by_name(res, name)) {
                fail(p, name, "unknown field");
            }
        }
    }
}

static int validate_object(const struct blend_resource *res, const json_t *in, struct pass *p,
                           json_t *out)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        /* One level of children, never more: the descriptors bound the recursion. */
        BLEND_ASSERT(f->type != BLEND_FT_CHILDREN || p->prefix[0] == '\0');
        const json_t *v = get(in, f->name);
        int rc = 0;
        if (v) {
            rc = validate_given(f, v, p, out);
        } else if (p->mode == BLEND_VALIDATE_CREATE) {
            rc = fill_missing(f, p, out);
        }
        if (rc != 0) {
            return rc;
        }
    }
    find_unknown(res, in, p);
    return 0;
}

int blend_model_validate(const struct blend_resource *res, const json_t *input,
                         enum blend_validate_mode mode, int allow_internal, json_t **doc_out,
                         struct blend_field_errors *errs)
{
    BLEND_ASSERT(res && doc_out && errs);
    BLEND_ASSERT(mode == BLEND_VALIDATE_CREATE || mode == BLEND_VALIDATE_PATCH);
    blend_field_errors_init(errs);
    if (!json_is_object(input)) {
        blend_field_errors_add(errs, "", "expected an object");
        return BLEND_EINVAL;
    }
    json_t *out = json_object();
    if (!out) {
        return BLEND_ENOMEM;
    }
    struct pass p = {errs, "", mode, allow_internal};
    int rc = validate_object(res, input, &p, out);
    if (rc == 0 && errs->count_total == 0 && res->check_doc) {
        res->check_doc(out, mode == BLEND_VALIDATE_CREATE, errs);
    }
    if (rc == 0 && errs->count_total > 0) {
        rc = BLEND_EINVAL;
    }
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    *doc_out = out;
    return 0;
}

/* ---- Redaction ---------------------------------------------------------------------------- */

static int is_hidden(const struct blend_field *f)
{
    return (f->flags & (BLEND_FF_WRITE_ONLY | BLEND_FF_INTERNAL)) != 0;
}

/* Removes the hidden fields of res from one object (children handled by the caller). */
static void redact_flat(const struct blend_resource *res, json_t *doc)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (!is_hidden(f)) {
            continue;
        }
        char group[GROUP_BYTES_MAX];
        const char *leaf = split_group(f->name, group, sizeof group);
        if (!leaf) {
            json_object_del(doc, f->name);
            continue;
        }
        json_t *g = json_object_get(doc, group);
        if (json_is_object(g)) {
            json_object_del(g, leaf);
            if (json_object_size(g) == 0) {
                json_object_del(doc, group);
            }
        }
    }
}

void blend_model_redact(const struct blend_resource *res, json_t *doc)
{
    BLEND_ASSERT(res);
    if (!json_is_object(doc)) {
        return;
    }
    redact_flat(res, doc);
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->type != BLEND_FT_CHILDREN) {
            continue;
        }
        json_t *list = json_object_get(doc, f->name);
        for (size_t j = 0; j < json_array_size(list); j++) {
            json_t *item = json_array_get(list, j);
            if (json_is_object(item)) {
                redact_flat(f->child, item);
            }
        }
    }
}
