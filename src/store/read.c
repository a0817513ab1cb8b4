/*
 * The store's reads, on the read connection owned by the opening thread. In WAL mode a read
 * sees the last committed state and never waits for the writer. Lists page by keyset (id > the
 * cursor, ordered by id), so a page costs the same at any depth and concurrent inserts never
 * shift pages. Filters are equality on one stored field, converted from text by the field's
 * type; fields hidden from output (WRITE_ONLY, INTERNAL) cannot be filtered on, so a filter can
 * never be used to probe a secret. A parent can be found by its children (a contact by one of
 * its identities): equality on child columns named by the descriptor, never a WRITE_ONLY one.
 */
#include "store/store_int.h"

#include "base/assert.h"
#include "base/buf.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

int blend_store_get(struct blend_store *s, const struct blend_resource *res, int64_t id,
                    int include_internal, json_t **doc_out)
{
    BLEND_ASSERT(s && res && res->is_versioned && doc_out);
    return blend__store_load(s->rdb, res, id, include_internal, doc_out);
}

static int parse_int(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return BLEND_EINVAL;
    }
    *out = v;
    return 0;
}

/* The WHERE condition for `field = value` (a SET matches when it holds the value). */
static int filter_sql(const struct blend_field *f, char *out, size_t out_len)
{
    if (f->type == BLEND_FT_CHILDREN || f->type == BLEND_FT_JSON || !f->column) {
        return BLEND_EINVAL;
    }
    if (f->type == BLEND_FT_SET) {
        snprintf(out, out_len, "instr(',' || t.\"%s\" || ',', ',' || ? || ',') > 0", f->column);
    } else {
        snprintf(out, out_len, "t.\"%s\" = ?", f->column);
    }
    return 0;
}

/* Binds a filter value given as text. BLEND_ENOENT when nothing can match (a REF to a key that
 * does not exist), BLEND_EINVAL when the text does not fit the field's type. */
static int bind_filter(sqlite3 *db, sqlite3_stmt *st, int idx, const struct blend_field *f,
                       const char *value)
{
    int64_t n = 0;
    switch (f->type) {
    case BLEND_FT_INT:
        if (parse_int(value, &n) != 0) {
            return BLEND_EINVAL;
        }
        sqlite3_bind_int64(st, idx, n);
        return 0;
    case BLEND_FT_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0 && strcmp(value, "1") != 0 &&
            strcmp(value, "0") != 0) {
            return BLEND_EINVAL;
        }
        sqlite3_bind_int(st, idx, strcmp(value, "true") == 0 || strcmp(value, "1") == 0);
        return 0;
    case BLEND_FT_REF: {
        int rc = blend__store_key_field(f->ref) ? blend__store_id_by_key(db, f->ref, value, &n)
                                                : parse_int(value, &n);
        if (rc == 0) {
            sqlite3_bind_int64(st, idx, n);
        }
        return rc;
    }
    default:
        sqlite3_bind_text(st, idx, value, -1, SQLITE_TRANSIENT);
        return 0;
    }
}

/* The field to filter or find on, or NULL when it may not be used (unknown, not stored, hidden
 * from output). */
static const struct blend_field *query_field(const struct blend_resource *res, const char *name)
{
    const struct blend_field *f = blend__store_field(res, name);
    if (!f || !f->column || f->type == BLEND_FT_CHILDREN) {
        return NULL;
    }
    return f;
}

int blend_store_find_first(struct blend_store *s, const struct blend_resource *res,
                           const char *field, const char *value, json_t **doc_out)
{
    BLEND_ASSERT(s && res && doc_out);
    struct blend_list_query q = {.limit = 1, .filter_field = field, .filter_value = value};
    json_t *items = NULL;
    int64_t next = 0;
    int rc = blend_store_list(s, res, &q, &items, &next);
    if (rc) {
        return rc;
    }
    json_t *doc = json_array_get(items, 0);
    if (!doc) {
        json_decref(items);
        return BLEND_ENOENT;
    }
    *doc_out = json_incref(doc);
    json_decref(items);
    return 0;
}

int blend_store_find(struct blend_store *s, const struct blend_resource *res, const char *field,
                     const char *value, int include_internal, json_t **doc_out)
{
    BLEND_ASSERT(s && res && res->is_versioned && doc_out);
    const struct blend_field *f = query_field(res, field);
    if (!f || !(f->flags & BLEND_FF_UNIQUE) || !value) {
        return BLEND_EINVAL;
    }
    char where[256] = "WHERE ";
    int rc = filter_sql(f, where + 6, sizeof where - 6);
    sqlite3_stmt *st = NULL;
    rc = rc ? rc : blend__store_select_rows(s->rdb, res, where, include_internal, &st);
    if (rc != 0) {
        return rc;
    }
    rc = bind_filter(s->rdb, st, 1, f, value);
    int step = rc ? SQLITE_DONE : sqlite3_step(st);
    if (rc == 0 && step == SQLITE_ROW) {
        rc = blend__store_row_full(s->rdb, st, res, include_internal, doc_out);
    } else if (rc == 0) {
        rc = step == SQLITE_DONE ? BLEND_ENOENT : BLEND_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The child field a find_by_child match may name, or NULL: a stored column compared by plain
 * equality (no REF, whose value is a key to resolve; no SET or JSON, stored as encoded text)
 * and never a secret (WRITE_ONLY). */
static const struct blend_field *match_field(const struct blend_resource *child, const char *name)
{
    const struct blend_field *f = blend__store_field(child, name);
    if (!f || !f->column || (f->flags & BLEND_FF_WRITE_ONLY)) {
        return NULL;
    }
    switch (f->type) {
    case BLEND_FT_REF:
    case BLEND_FT_CHILDREN:
    case BLEND_FT_SET:
    case BLEND_FT_JSON:
        return NULL;
    default:
        return f;
    }
}

/* Returns 1 when v has the JSON type field f holds. */
static int match_value_fits(const struct blend_field *f, const json_t *v)
{
    switch (f->type) {
    case BLEND_FT_INT:
        return json_is_integer(v);
    case BLEND_FT_BOOL:
        return json_is_boolean(v);
    default: /* STRING, ENUM, TIME, DATE */
        return json_is_string(v);
    }
}

/* Checks every member of match against child and appends the condition selecting the parents
 * of the matching child rows, lowest id first. The binds follow match's member order. */
static int child_match_where(struct blend_buf *b, const struct blend_resource *child,
                             const json_t *match)
{
    if (!json_is_object(match) || json_object_size(match) == 0) {
        return BLEND_EINVAL;
    }
    int rc = blend_buf_printf(b, "WHERE t.id IN (SELECT c.\"%s\" FROM \"%s\" c WHERE ",
                              child->parent_column, child->table);
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach((json_t *)match, key, v)
    {
        const struct blend_field *f = match_field(child, key);
        if (!f || !match_value_fits(f, v)) {
            return BLEND_EINVAL;
        }
        rc = rc ? rc : blend_buf_printf(b, "%sc.\"%s\" = ?", n++ ? " AND " : "", f->column);
    }
    return rc ? rc : blend_buf_appends(b, ") ORDER BY t.id LIMIT 1");
}

/* Binds match's values in member order (already checked by child_match_where). */
static void bind_match(sqlite3_stmt *st, const struct blend_resource *child, const json_t *match)
{
    const char *key;
    json_t *v;
    int idx = 1;
    json_object_foreach((json_t *)match, key, v)
    {
        const struct blend_field *f = match_field(child, key);
        BLEND_ASSERT(f);
        if (f->type == BLEND_FT_INT) {
            sqlite3_bind_int64(st, idx++, json_integer_value(v));
        } else if (f->type == BLEND_FT_BOOL) {
            sqlite3_bind_int(st, idx++, json_is_true(v));
        } else {
            sqlite3_bind_text(st, idx++, json_string_value(v), (int)json_string_length(v),
                              SQLITE_STATIC);
        }
    }
}

int blend_store_find_by_child(struct blend_store *s, const struct blend_resource *res,
                              const char *children_field, const json_t *match, int include_internal,
                              json_t **doc_out)
{
    BLEND_ASSERT(s && res && res->is_versioned && doc_out);
    const struct blend_field *cf = blend__store_field(res, children_field);
    if (!cf || cf->type != BLEND_FT_CHILDREN || !cf->child) {
        return BLEND_EINVAL;
    }
    BLEND_ASSERT(cf->child->parent_column && !cf->child->is_versioned);
    struct blend_buf where;
    blend_buf_init(&where, BLEND__STORE_SQL_BYTES_MAX);
    int rc = child_match_where(&where, cf->child, match);
    sqlite3_stmt *st = NULL;
    rc = rc ? rc : blend__store_select_rows(s->rdb, res, where.data, include_internal, &st);
    blend_buf_deinit(&where);
    if (rc != 0) {
        return rc;
    }
    bind_match(st, cf->child, match);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = blend__store_row_full(s->rdb, st, res, include_internal, doc_out);
    } else if (step == SQLITE_DONE) {
        rc = BLEND_ENOENT;
    } else {
        BLEND_LOG_ERROR("store", "finding %s by %s: %s", res->table, children_field,
                        sqlite3_errmsg(s->rdb));
        rc = BLEND_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Steps a list statement into items; *next_out is the last id when a further row exists. */
static int collect(struct blend_store *s, sqlite3_stmt *st, const struct blend_resource *res,
                   int limit, json_t *items, int64_t *next_out)
{
    int rc = 0, step, count = 0;
    int64_t last_id = 0;
    *next_out = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == limit) {
            *next_out = last_id;
            return 0;
        }
        json_t *doc = NULL;
        rc = blend__store_row_full(s->rdb, st, res, 0, &doc);
        if (rc == 0 && json_array_append_new(items, doc) != 0) {
            rc = BLEND_ENOMEM;
        }
        last_id = sqlite3_column_int64(st, 0);
        count++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        BLEND_LOG_ERROR("store", "listing %s: %s", res->table, sqlite3_errmsg(s->rdb));
        rc = BLEND_EIO;
    }
    return rc;
}

int blend_store_list(struct blend_store *s, const struct blend_resource *res,
                     const struct blend_list_query *q, json_t **items_out, int64_t *next_after_out)
{
    BLEND_ASSERT(s && res && res->is_versioned && q && items_out && next_after_out);
    if (q->limit < 1 || q->limit > BLEND_API_PAGE_MAX || q->after_id < 0) {
        return BLEND_EINVAL;
    }
    const struct blend_field *f = NULL;
    char where[320] = "WHERE t.id > ?";
    if (q->filter_field) {
        f = query_field(res, q->filter_field);
        if (!f || !q->filter_value || (f->flags & (BLEND_FF_WRITE_ONLY | BLEND_FF_INTERNAL))) {
            return BLEND_EINVAL;
        }
        size_t n = strlen(where);
        snprintf(where + n, sizeof where - n, " AND ");
        n = strlen(where);
        if (filter_sql(f, where + n, sizeof where - n) != 0) {
            return BLEND_EINVAL;
        }
    }
    size_t n = strlen(where);
    snprintf(where + n, sizeof where - n, " ORDER BY t.id LIMIT ?");
    sqlite3_stmt *st = NULL;
    int rc = blend__store_select_rows(s->rdb, res, where, 0, &st);
    if (rc != 0) {
        return rc;
    }
    json_t *items = json_array();
    int idx = 1;
    sqlite3_bind_int64(st, idx++, q->after_id);
    rc = !items ? BLEND_ENOMEM : f ? bind_filter(s->rdb, st, idx++, f, q->filter_value) : 0;
    sqlite3_bind_int(st, idx, q->limit + 1);
    int64_t next = 0;
    if (rc == 0) {
        rc = collect(s, st, res, q->limit, items, &next);
    } else if (rc == BLEND_ENOENT) {
        rc = 0; /* a reference to nothing: no row can match */
    }
    sqlite3_finalize(st);
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *items_out = items;
    *next_after_out = next;
    return 0;
}

/* The WHERE clause of blend_store_list_newest: "col IN (?,...)", the keyset bound, the order. */
static int newest_where(const struct blend_field *f, size_t values_count, int has_before,
                        struct blend_buf *b)
{
    int rc = blend_buf_printf(b, "WHERE t.\"%s\" IN (", f->column);
    for (size_t i = 0; rc == 0 && i < values_count; i++) {
        rc = blend_buf_appends(b, i ? ",?" : "?");
    }
    rc = rc ? rc : blend_buf_appends(b, ")");
    if (rc == 0 && has_before) {
        rc = blend_buf_appends(b, " AND (t.created_at, t.id) < (?, ?)");
    }
    return rc ? rc : blend_buf_appends(b, " ORDER BY t.created_at DESC, t.id DESC LIMIT ?");
}

int blend_store_list_newest(struct blend_store *s, const struct blend_resource *res,
                            const char *field, const int64_t *values, size_t values_count,
                            const char *before_created_at, int64_t before_id, int limit,
                            json_t **items_out, int *has_more_out)
{
    BLEND_ASSERT(s && res && res->is_versioned && field && items_out && has_more_out);
    const struct blend_field *f = query_field(res, field);
    int is_id = f && (f->type == BLEND_FT_INT ||
                      (f->type == BLEND_FT_REF && !blend__store_key_field(f->ref)));
    if (!is_id || (f->flags & (BLEND_FF_WRITE_ONLY | BLEND_FF_INTERNAL)) || !values ||
        values_count < 1 || values_count > BLEND_STORE_IN_VALUES_MAX || limit < 1 ||
        limit > BLEND_API_PAGE_MAX) {
        return BLEND_EINVAL;
    }
    struct blend_buf b;
    blend_buf_init(&b, BLEND__STORE_SQL_BYTES_MAX);
    sqlite3_stmt *st = NULL;
    int rc = newest_where(f, values_count, before_created_at != NULL, &b);
    rc = rc ? rc : blend__store_select_rows(s->rdb, res, b.data, 0, &st);
    blend_buf_deinit(&b);
    if (rc != 0) {
        return rc;
    }
    int idx = 1;
    for (size_t i = 0; i < values_count; i++) {
        sqlite3_bind_int64(st, idx++, values[i]);
    }
    if (before_created_at) {
        sqlite3_bind_text(st, idx++, before_created_at, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, idx++, before_id);
    }
    sqlite3_bind_int(st, idx, limit + 1);
    json_t *items = json_array();
    int64_t next = 0;
    rc = items ? collect(s, st, res, limit, items, &next) : BLEND_ENOMEM;
    sqlite3_finalize(st);
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *items_out = items;
    *has_more_out = next != 0;
    return 0;
}

/* ---- Event log and audit log ---------------------------------------------------------------- */

static json_t *text_json(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        return json_null();
    }
    const char *text = (const char *)sqlite3_column_text(st, col);
    json_t *v = json_loadb(text, (size_t)sqlite3_column_bytes(st, col), JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

static const char *col_text(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t ? t : "";
}

int blend_store_events(struct blend_store *s, int64_t after_seq, int limit, json_t **events_out)
{
    BLEND_ASSERT(s && events_out);
    if (limit < 1 || limit > BLEND_STORE_EVENTS_READ_MAX || after_seq < 0) {
        return BLEND_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(s->rdb,
                                  "SELECT seq, ts, type, subject, actor, data FROM events "
                                  "WHERE seq > ? ORDER BY seq LIMIT ?",
                                  &st);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int(st, 2, limit);
    json_t *items = json_array();
    int step = SQLITE_DONE;
    rc = items ? 0 : BLEND_ENOMEM;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *e =
            json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                      "ts", col_text(st, 1), "type", col_text(st, 2), "subject", col_text(st, 3),
                      "actor", col_text(st, 4), "data", text_json(st, 5));
        if (!e || json_array_append_new(items, e) != 0) {
            rc = BLEND_ENOMEM;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = BLEND_EIO;
    }
    sqlite3_finalize(st);
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *events_out = items;
    return 0;
}

int64_t blend_store_last_seq(struct blend_store *s)
{
    BLEND_ASSERT(s);
    sqlite3_stmt *st = NULL;
    if (blend__store_prepare(s->rdb, "SELECT coalesce(max(seq), 0) FROM events", &st) != 0) {
        return 0;
    }
    int64_t seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return seq;
}

/* A page of the audit log: ids above `bound` oldest first, or (desc) below it newest first
 * (bound 0: from the newest). */
static int audit_page(struct blend_store *s, int desc, int64_t bound, int limit,
                      json_t **items_out, int64_t *next_out)
{
    BLEND_ASSERT(s && items_out && next_out);
    if (limit < 1 || limit > BLEND_API_PAGE_MAX || bound < 0) {
        return BLEND_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(s->rdb,
                                  desc ? "SELECT id, ts, actor_id, actor, source, action, "
                                         "resource, resource_id, detail FROM audit_log WHERE "
                                         "id < ? ORDER BY id DESC LIMIT ?"
                                       : "SELECT id, ts, actor_id, actor, source, action, "
                                         "resource, resource_id, detail FROM audit_log WHERE "
                                         "id > ? ORDER BY id LIMIT ?",
                                  &st);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, desc && bound == 0 ? INT64_MAX : bound);
    sqlite3_bind_int(st, 2, limit + 1);
    json_t *items = json_array();
    int step = SQLITE_DONE, count = 0;
    int64_t last_id = 0, next = 0;
    rc = items ? 0 : BLEND_ENOMEM;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == limit) {
            next = last_id;
            step = SQLITE_DONE;
            break;
        }
        last_id = sqlite3_column_int64(st, 0);
        json_t *e =
            json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:o}", "id", (json_int_t)last_id, "ts",
                      col_text(st, 1), "actor_id", (json_int_t)sqlite3_column_int64(st, 2), "actor",
                      col_text(st, 3), "source", col_text(st, 4), "action", col_text(st, 5),
                      "resource", col_text(st, 6), "resource_id",
                      (json_int_t)sqlite3_column_int64(st, 7), "detail", text_json(st, 8));
        if (!e || json_array_append_new(items, e) != 0) {
            rc = BLEND_ENOMEM;
        }
        count++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = BLEND_EIO;
    }
    sqlite3_finalize(st);
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *items_out = items;
    *next_out = next;
    return 0;
}

int blend_store_audit_list(struct blend_store *s, int64_t after_id, int limit, json_t **items_out,
                           int64_t *next_after_out)
{
    return audit_page(s, 0, after_id, limit, items_out, next_after_out);
}

int blend_store_audit_list_desc(struct blend_store *s, int64_t before_id, int limit,
                                json_t **items_out, int64_t *next_before_out)
{
    return audit_page(s, 1, before_id, limit, items_out, next_before_out);
}
