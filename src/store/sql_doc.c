/*
 * Descriptor-driven SQL for reading: a row of any resource becomes its JSON document. Dotted
 * JSON names ("capacity.voice") map to flat columns and back to one nested object; SET columns
 * hold comma-joined text and come back as arrays; JSON columns hold JSON text; REF columns hold
 * the target's integer id and come back as the target's natural key (a sub-select in the same
 * statement) or as the id when the target has no key; CHILDREN come from their child table in
 * insertion order. A NULL column is omitted unless the field is NULLABLE (then JSON null).
 * Identifiers are only ever taken from descriptors and always quoted.
 */
#include "store/store_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>

int blend__store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st_out)
{
    BLEND_ASSERT(db && sql && st_out);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        BLEND_LOG_ERROR("store", "prepare failed: %s: %s", sqlite3_errmsg(db), sql);
        sqlite3_finalize(st);
        return BLEND_EIO;
    }
    *st_out = st;
    return 0;
}

const struct blend_field *blend__store_field(const struct blend_resource *res, const char *name)
{
    BLEND_ASSERT(res);
    for (size_t i = 0; name && i < res->fields_count; i++) {
        if (strcmp(res->fields[i].name, name) == 0) {
            return &res->fields[i];
        }
    }
    return NULL;
}

const struct blend_field *blend__store_key_field(const struct blend_resource *res)
{
    const struct blend_field *f = res->key ? blend__store_field(res, res->key) : NULL;
    BLEND_ASSERT(!res->key || (f && f->column)); /* a key names a stored field */
    return f;
}

int blend__store_field_is_stored(const struct blend_field *f)
{
    return f->type == BLEND_FT_CHILDREN ? f->child != NULL : f->column != NULL;
}

/* Splits "a.b" into its group ("a", copied into group) and member ("b"); NULL when no dot. */
static const char *split_name(const char *name, char *group, size_t group_len)
{
    const char *dot = strchr(name, '.');
    if (!dot) {
        return NULL;
    }
    size_t n = (size_t)(dot - name);
    BLEND_ASSERT(n > 0 && n < group_len);
    memcpy(group, name, n);
    group[n] = '\0';
    return dot + 1;
}

json_t *blend__store_doc_get(const json_t *doc, const char *name)
{
    char group[64];
    const char *member = split_name(name, group, sizeof group);
    if (!member) {
        return json_object_get(doc, name);
    }
    json_t *obj = json_object_get(doc, group);
    return json_is_object(obj) ? json_object_get(obj, member) : NULL;
}

int blend__store_doc_set(json_t *doc, const char *name, json_t *value)
{
    char group[64];
    const char *member = split_name(name, group, sizeof group);
    if (!value) {
        return BLEND_ENOMEM;
    }
    if (!member) {
        return json_object_set_new(doc, name, value) == 0 ? 0 : BLEND_ENOMEM;
    }
    json_t *obj = json_object_get(doc, group);
    if (!obj) {
        obj = json_object();
        if (!obj || json_object_set_new(doc, group, obj) != 0) {
            json_decref(value);
            return BLEND_ENOMEM;
        }
    }
    return json_object_set_new(obj, member, value) == 0 ? 0 : BLEND_ENOMEM;
}

static int is_visible(const struct blend_field *f, int include_internal)
{
    return include_internal || !(f->flags & (BLEND_FF_WRITE_ONLY | BLEND_FF_INTERNAL));
}

/* Appends the select list of res's column fields (after id/version/timestamps when versioned)
 * and " FROM table t". */
static int build_select(struct blend_buf *b, const struct blend_resource *res, int include_internal)
{
    int rc = blend_buf_appends(b, res->is_versioned
                                      ? "SELECT t.id, t.version, t.created_at, t.updated_at"
                                      : "SELECT t.id");
    for (size_t i = 0; rc == 0 && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->type == BLEND_FT_CHILDREN || !f->column || !is_visible(f, include_internal)) {
            continue;
        }
        const struct blend_field *key =
            f->type == BLEND_FT_REF ? blend__store_key_field(f->ref) : NULL;
        if (key) {
            rc = blend_buf_printf(b, ", (SELECT r.\"%s\" FROM \"%s\" r WHERE r.id = t.\"%s\")",
                                  key->column, f->ref->table, f->column);
        } else {
            rc = blend_buf_printf(b, ", t.\"%s\"", f->column);
        }
    }
    if (rc == 0) {
        rc = blend_buf_printf(b, " FROM \"%s\" t", res->table);
    }
    return rc;
}

static json_t *set_from_text(const char *text)
{
    json_t *arr = json_array();
    const char *p = text;
    while (arr && p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (json_array_append_new(arr, json_stringn(p, n)) != 0) {
            json_decref(arr);
            return NULL;
        }
        p = comma ? comma + 1 : NULL;
    }
    return arr;
}

/* Converts column `col` of the current row to the JSON value of field f; *value_out is NULL
 * when the column is NULL and the field is not nullable (the field is then omitted). */
static int column_value(sqlite3_stmt *st, int col, const struct blend_field *f, json_t **value_out)
{
    *value_out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        if (f->flags & BLEND_FF_NULLABLE) {
            *value_out = json_null();
        }
        return 0;
    }
    const char *text = (const char *)sqlite3_column_text(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    json_t *v = NULL;
    switch (f->type) {
    case BLEND_FT_INT:
        v = json_integer(sqlite3_column_int64(st, col));
        break;
    case BLEND_FT_BOOL:
        v = json_boolean(sqlite3_column_int64(st, col) != 0);
        break;
    case BLEND_FT_SET:
        v = set_from_text(text);
        break;
    case BLEND_FT_JSON:
        v = json_loadb(text ? text : "", len, JSON_DECODE_ANY, NULL);
        if (!v) {
            BLEND_LOG_ERROR("store", "column %s holds invalid JSON", f->column);
            return BLEND_EIO;
        }
        break;
    case BLEND_FT_REF:
        v = blend__store_key_field(f->ref) ? json_stringn(text ? text : "", len)
                                           : json_integer(sqlite3_column_int64(st, col));
        break;
    default:
        v = json_stringn(text ? text : "", len);
        break;
    }
    if (!v) {
        return BLEND_ENOMEM;
    }
    *value_out = v;
    return 0;
}

/* Builds the document of the current row of a statement made by build_select. */
static int row_doc(sqlite3_stmt *st, const struct blend_resource *res, int include_internal,
                   json_t **doc_out)
{
    json_t *doc = json_object();
    if (!doc) {
        return BLEND_ENOMEM;
    }
    int col = 0;
    int rc = 0;
    if (res->is_versioned) {
        rc = blend__store_doc_set(doc, "id", json_integer(sqlite3_column_int64(st, col++)));
        rc = rc ? rc
                : blend__store_doc_set(doc, "version",
                                       json_integer(sqlite3_column_int64(st, col++)));
        rc = rc ? rc
                : blend__store_doc_set(doc, "created_at",
                                       json_string((const char *)sqlite3_column_text(st, col++)));
        rc = rc ? rc
                : blend__store_doc_set(doc, "updated_at",
                                       json_string((const char *)sqlite3_column_text(st, col++)));
    } else {
        col++; /* child rows: the id only orders them */
    }
    for (size_t i = 0; rc == 0 && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->type == BLEND_FT_CHILDREN || !f->column || !is_visible(f, include_internal)) {
            continue;
        }
        json_t *v = NULL;
        rc = column_value(st, col++, f, &v);
        if (rc == 0 && v) {
            rc = blend__store_doc_set(doc, f->name, v);
        }
    }
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    *doc_out = doc;
    return 0;
}

/* The child rows of parent `id` for CHILDREN field f, as an array. */
static int load_children(sqlite3 *db, const struct blend_field *f, int64_t id, int include_internal,
                         json_t **arr_out)
{
    const struct blend_resource *child = f->child;
    BLEND_ASSERT(child && child->parent_column && !child->is_versioned);
    struct blend_buf b;
    blend_buf_init(&b, BLEND__STORE_SQL_BYTES_MAX);
    int rc = build_select(&b, child, include_internal);
    rc = rc ? rc : blend_buf_printf(&b, " WHERE t.\"%s\" = ? ORDER BY t.id", child->parent_column);
    sqlite3_stmt *st = NULL;
    rc = rc ? rc : blend__store_prepare(db, b.data, &st);
    blend_buf_deinit(&b);
    json_t *arr = rc ? NULL : json_array();
    if (rc == 0 && !arr) {
        rc = BLEND_ENOMEM;
    }
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, id);
    }
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *item = NULL;
        rc = row_doc(st, child, include_internal, &item);
        if (rc == 0 && json_array_append_new(arr, item) != 0) {
            rc = BLEND_ENOMEM;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        BLEND_LOG_ERROR("store", "reading %s: %s", child->table, sqlite3_errmsg(db));
        rc = BLEND_EIO;
    }
    sqlite3_finalize(st);
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *arr_out = arr;
    return 0;
}

/* Adds every CHILDREN field of res to doc (the document of row id). */
int blend__store_add_children(sqlite3 *db, const struct blend_resource *res, int64_t id,
                              int include_internal, json_t *doc)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->type != BLEND_FT_CHILDREN || !is_visible(f, include_internal)) {
            continue;
        }
        json_t *arr = NULL;
        rc = load_children(db, f, id, include_internal, &arr);
        if (rc == 0) {
            rc = blend__store_doc_set(doc, f->name, arr);
        }
    }
    return rc;
}

/* Prepares "SELECT <res columns> FROM table t <where>" for the caller to bind and step. */
int blend__store_select_rows(sqlite3 *db, const struct blend_resource *res, const char *where,
                             int include_internal, sqlite3_stmt **st_out)
{
    struct blend_buf b;
    blend_buf_init(&b, BLEND__STORE_SQL_BYTES_MAX);
    int rc = build_select(&b, res, include_internal);
    rc = rc ? rc : blend_buf_printf(&b, " %s", where);
    rc = rc ? rc : blend__store_prepare(db, b.data, st_out);
    blend_buf_deinit(&b);
    return rc;
}

/* The full document (children included) of the current row of a select_rows statement. */
int blend__store_row_full(sqlite3 *db, sqlite3_stmt *st, const struct blend_resource *res,
                          int include_internal, json_t **doc_out)
{
    json_t *doc = NULL;
    int rc = row_doc(st, res, include_internal, &doc);
    rc =
        rc ? rc
           : blend__store_add_children(db, res, sqlite3_column_int64(st, 0), include_internal, doc);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    *doc_out = doc;
    return 0;
}

int blend__store_load(sqlite3 *db, const struct blend_resource *res, int64_t id,
                      int include_internal, json_t **doc_out)
{
    BLEND_ASSERT(db && res && doc_out);
    sqlite3_stmt *st = NULL;
    int rc = blend__store_select_rows(db, res, "WHERE t.id = ?", include_internal, &st);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = blend__store_row_full(db, st, res, include_internal, doc_out);
    } else if (step == SQLITE_DONE) {
        rc = BLEND_ENOENT;
    } else {
        BLEND_LOG_ERROR("store", "reading %s: %s", res->table, sqlite3_errmsg(db));
        rc = BLEND_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

int blend__store_id_by_key(sqlite3 *db, const struct blend_resource *res, const char *key,
                           int64_t *id_out)
{
    const struct blend_field *kf = blend__store_key_field(res);
    BLEND_ASSERT(kf && key);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id FROM \"%s\" WHERE \"%s\" = ?", res->table, kf->column);
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(db, sql, &st);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(st, 0);
    } else {
        rc = step == SQLITE_DONE ? BLEND_ENOENT : BLEND_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

int blend__store_ref_id(sqlite3 *db, const struct blend_resource *target, const json_t *value,
                        int64_t *id_out)
{
    if (blend__store_key_field(target)) {
        if (!json_is_string(value)) {
            return BLEND_EINVAL;
        }
        return blend__store_id_by_key(db, target, json_string_value(value), id_out);
    }
    if (!json_is_integer(value)) {
        return BLEND_EINVAL;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT id FROM \"%s\" WHERE id = ?", target->table);
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(db, sql, &st);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, json_integer_value(value));
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(st, 0);
    } else {
        rc = step == SQLITE_DONE ? BLEND_ENOENT : BLEND_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}
