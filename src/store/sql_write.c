/*
 * Descriptor-driven SQL for writes, run on the writer connection inside the batch transaction.
 * One write is one savepoint: its ops run in order and the first failure rolls all of them back
 * (no event, no audit, no change), while the other writes of the batch go on. Every changing op
 * appends its event (and an audit entry when the write names an actor) in the same savepoint, so
 * the log never says more or less than what was stored. REF values are resolved to ids here,
 * inside the transaction, so a reference can never point at a row deleted meanwhile. A write
 * that changes nothing (UPSERT or UPDATE with equal values) writes nothing at all. A delete is
 * refused while a restricting foreign key still points at the row; rows whose foreign key
 * cascades (a user's api_tokens) go with it, without events of their own.
 */
#include "store/store_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct op_ctx {
    struct blend_store *s;
    struct blend_write *w;
    struct blend_write_op *op;
    sqlite3 *db;
    char ts[BLEND__STORE_TS_BYTES];
};

static int op_fail(struct op_ctx *c, int rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int op_fail(struct op_ctx *c, int rc, const char *field, const char *fmt, ...)
{
    BLEND_ASSERT(rc < 0);
    snprintf(c->op->error_field, sizeof c->op->error_field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->op->error_detail, sizeof c->op->error_detail, fmt, ap);
    va_end(ap);
    return rc;
}

/* Maps a failed step to a BLEND_E* code, naming the field at fault when SQLite names a column
 * ("UNIQUE constraint failed: t.a, t.b": the last column is reported). prefix is "" for the
 * resource itself or "skills[2]." for a child row. */
static int step_error(struct op_ctx *c, const struct blend_resource *res, const char *prefix)
{
    int code = sqlite3_extended_errcode(c->db);
    const char *msg = sqlite3_errmsg(c->db);
    const char *dot = strrchr(msg, '.');
    const struct blend_field *f = NULL;
    for (size_t i = 0; dot && i < res->fields_count; i++) {
        if (res->fields[i].column && strcmp(res->fields[i].column, dot + 1) == 0) {
            f = &res->fields[i];
        }
    }
    char path[sizeof c->op->error_field];
    snprintf(path, sizeof path, "%s%s", prefix, f ? f->name : "");
    switch (code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return op_fail(c, BLEND_EEXIST, path, "a %s with this %s already exists", res->singular,
                       f ? f->name : "value");
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
        return op_fail(c, BLEND_EINVAL, path, "refused by the schema: %s", msg);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return op_fail(c, BLEND_ECONFLICT, path, "a reference does not hold: %s", msg);
    default:
        BLEND_LOG_ERROR("store", "%s: %s", res->table, msg);
        return op_fail(c, BLEND_EIO, "", "storage error: %s", msg);
    }
}

/* Serialises a JSON value into an owned string allocated with blend_malloc. */
static char *dump_json(const json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = n ? blend_malloc(n + 1) : NULL;
    if (out) {
        json_dumpb(v, out, n, JSON_COMPACT | JSON_ENCODE_ANY);
        out[n] = '\0';
    }
    return out;
}

static int bind_set(sqlite3_stmt *st, int idx, const json_t *arr)
{
    struct blend_buf b;
    blend_buf_init(&b, BLEND__STORE_SQL_BYTES_MAX);
    int rc = blend_buf_appends(&b, "");
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *s = json_string_value(item);
        if (!s || strchr(s, ',')) {
            rc = BLEND_EINVAL;
        }
        rc = rc ? rc : blend_buf_printf(&b, "%s%s", i ? "," : "", s);
    }
    if (rc == 0) {
        sqlite3_bind_text(st, idx, b.data, (int)b.len, SQLITE_TRANSIENT);
    }
    blend_buf_deinit(&b);
    return rc;
}

/* Binds the value of field f (borrowed from the op's document) at idx; path names the field in
 * error reports. */
static int bind_value(struct op_ctx *c, sqlite3_stmt *st, int idx, const struct blend_field *f,
                      const json_t *v, const char *path)
{
    if (json_is_null(v)) {
        sqlite3_bind_null(st, idx);
        return 0;
    }
    int rc = 0;
    switch (f->type) {
    case BLEND_FT_INT:
        rc = json_is_integer(v) ? 0 : BLEND_EINVAL;
        if (rc == 0) {
            sqlite3_bind_int64(st, idx, json_integer_value(v));
        }
        break;
    case BLEND_FT_BOOL:
        rc = json_is_boolean(v) ? 0 : BLEND_EINVAL;
        if (rc == 0) {
            sqlite3_bind_int(st, idx, json_is_true(v));
        }
        break;
    case BLEND_FT_SET:
        rc = json_is_array(v) ? bind_set(st, idx, v) : BLEND_EINVAL;
        break;
    case BLEND_FT_JSON: {
        char *text = dump_json(v);
        if (!text) {
            return op_fail(c, BLEND_ENOMEM, path, "out of memory");
        }
        sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT);
        blend_free(text);
        break;
    }
    case BLEND_FT_REF: {
        int64_t id = 0;
        rc = blend__store_ref_id(c->db, f->ref, v, &id);
        if (rc == BLEND_ENOENT) {
            char shown[96];
            if (json_is_string(v)) {
                snprintf(shown, sizeof shown, "'%s'", json_string_value(v));
            } else {
                snprintf(shown, sizeof shown, "%lld", (long long)json_integer_value(v));
            }
            return op_fail(c, BLEND_EINVAL, path, "no %s %s", f->ref->singular, shown);
        }
        if (rc == 0) {
            sqlite3_bind_int64(st, idx, id);
        }
        break;
    }
    default: /* STRING, ENUM, TIME, DATE */
        rc = json_is_string(v) ? 0 : BLEND_EINVAL;
        if (rc == 0) {
            sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v),
                              SQLITE_STATIC);
        }
        break;
    }
    if (rc == BLEND_EINVAL) {
        return op_fail(c, rc, path, "value of the wrong type for %s", f->name);
    }
    return rc == 0 ? 0 : op_fail(c, rc, path, "%s", blend_strerror(rc));
}

/* Binds every column field of res present in doc, from parameter *idx on, in field order (the
 * order the SQL text was built in). */
static int bind_fields(struct op_ctx *c, sqlite3_stmt *st, int *idx,
                       const struct blend_resource *res, const json_t *doc, const char *prefix)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        const json_t *v = f->column ? blend__store_doc_get(doc, f->name) : NULL;
        if (f->type == BLEND_FT_CHILDREN || !v) {
            continue;
        }
        char path[sizeof c->op->error_field];
        snprintf(path, sizeof path, "%s%s", prefix, f->name);
        int rc = bind_value(c, st, (*idx)++, f, v, path);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Runs a prepared write statement that binds nothing more; maps failures. */
static int step_done(struct op_ctx *c, sqlite3_stmt *st, const struct blend_resource *res,
                     const char *prefix)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : step_error(c, res, prefix);
    sqlite3_finalize(st);
    return rc;
}

/* INSERT of one row of res: a top-level row (parent_id 0, versioned columns set) or a child row
 * of parent_id. */
static int insert_row(struct op_ctx *c, const struct blend_resource *res, const json_t *doc,
                      int64_t parent_id, const char *prefix, int64_t *id_out)
{
    struct blend_buf cols, vals;
    blend_buf_init(&cols, BLEND__STORE_SQL_BYTES_MAX);
    blend_buf_init(&vals, BLEND__STORE_SQL_BYTES_MAX);
    int rc = parent_id ? blend_buf_printf(&cols, "\"%s\"", res->parent_column)
                       : blend_buf_appends(&cols, "version, created_at, updated_at");
    rc = rc ? rc : blend_buf_appends(&vals, parent_id ? "?" : "1, ?, ?");
    for (size_t i = 0; rc == 0 && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->type != BLEND_FT_CHILDREN && f->column && blend__store_doc_get(doc, f->name)) {
            rc = blend_buf_printf(&cols, ", \"%s\"", f->column);
            rc = rc ? rc : blend_buf_appends(&vals, ", ?");
        }
    }
    struct blend_buf sql;
    blend_buf_init(&sql, BLEND__STORE_SQL_BYTES_MAX);
    rc = rc ? rc
            : blend_buf_printf(&sql, "INSERT INTO \"%s\" (%s) VALUES (%s)", res->table, cols.data,
                               vals.data);
    blend_buf_deinit(&cols);
    blend_buf_deinit(&vals);
    sqlite3_stmt *st = NULL;
    rc =
        rc ? op_fail(c, rc, "", "statement too large") : blend__store_prepare(c->db, sql.data, &st);
    blend_buf_deinit(&sql);
    if (rc != 0) {
        return rc;
    }
    int idx = 1;
    if (parent_id) {
        sqlite3_bind_int64(st, idx++, parent_id);
    } else {
        sqlite3_bind_text(st, idx++, c->ts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, idx++, c->ts, -1, SQLITE_STATIC);
    }
    rc = bind_fields(c, st, &idx, res, doc, prefix);
    if (rc != 0) {
        sqlite3_finalize(st);
        return rc;
    }
    rc = step_done(c, st, res, prefix);
    if (rc == 0) {
        *id_out = sqlite3_last_insert_rowid(c->db);
    }
    return rc;
}

/* Replaces every child row of parent_id for CHILDREN field f by the items of arr. */
static int write_children(struct op_ctx *c, const struct blend_field *f, int64_t parent_id,
                          const json_t *arr)
{
    const struct blend_resource *child = f->child;
    if (!json_is_array(arr)) {
        return op_fail(c, BLEND_EINVAL, f->name, "must be an array");
    }
    if (json_array_size(arr) > BLEND_CHILDREN_MAX) {
        return op_fail(c, BLEND_EINVAL, f->name, "at most %d items", BLEND_CHILDREN_MAX);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE \"%s\" = ?", child->table,
             child->parent_column);
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(c->db, sql, &st);
    if (rc != 0) {
        return op_fail(c, rc, f->name, "storage error");
    }
    sqlite3_bind_int64(st, 1, parent_id);
    rc = step_done(c, st, child, "");
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "%s[%zu].", f->name, i);
        if (rc == 0 && !json_is_object(item)) {
            prefix[strlen(prefix) - 1] = '\0';
            rc = op_fail(c, BLEND_EINVAL, prefix, "must be an object");
        }
        int64_t child_id = 0;
        rc = rc ? rc : insert_row(c, child, item, parent_id, prefix, &child_id);
    }
    return rc;
}

static int write_all_children(struct op_ctx *c, const struct blend_resource *res, int64_t id,
                              const json_t *doc)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        const json_t *arr = f->type == BLEND_FT_CHILDREN ? json_object_get(doc, f->name) : NULL;
        int rc = arr ? write_children(c, f, id, arr) : 0;
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* UPDATE of the column fields of res present in doc, bumping version and updated_at. */
static int update_row(struct op_ctx *c, const struct blend_resource *res, int64_t id,
                      const json_t *doc)
{
    struct blend_buf sql;
    blend_buf_init(&sql, BLEND__STORE_SQL_BYTES_MAX);
    int rc = blend_buf_printf(&sql, "UPDATE \"%s\" SET version = version + 1, updated_at = ?",
                              res->table);
    for (size_t i = 0; rc == 0 && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->type != BLEND_FT_CHILDREN && f->column && blend__store_doc_get(doc, f->name)) {
            rc = blend_buf_printf(&sql, ", \"%s\" = ?", f->column);
        }
    }
    rc = rc ? rc : blend_buf_appends(&sql, " WHERE id = ?");
    sqlite3_stmt *st = NULL;
    rc =
        rc ? op_fail(c, rc, "", "statement too large") : blend__store_prepare(c->db, sql.data, &st);
    blend_buf_deinit(&sql);
    if (rc != 0) {
        return rc;
    }
    int idx = 1;
    sqlite3_bind_text(st, idx++, c->ts, -1, SQLITE_STATIC);
    rc = bind_fields(c, st, &idx, res, doc, "");
    if (rc != 0) {
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_bind_int64(st, idx, id);
    rc = step_done(c, st, res, "");
    return rc ? rc : write_all_children(c, res, id, doc);
}

/* ---- Events and audit -------------------------------------------------------------------- */

static int append_event(struct op_ctx *c, const char *type, const char *subject, const json_t *data)
{
    sqlite3_stmt *st = c->s->st_event;
    char *text = data ? dump_json(data) : NULL;
    if (data && !text) {
        return op_fail(c, BLEND_ENOMEM, "", "out of memory");
    }
    sqlite3_bind_text(st, 1, c->ts, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->w->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, text ? text : "{}", -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    blend_free(text);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (step != SQLITE_DONE) {
        return op_fail(c, BLEND_EIO, "", "cannot append the event: %s", sqlite3_errmsg(c->db));
    }
    int64_t seq = sqlite3_last_insert_rowid(c->db);
    BLEND_ASSERT(seq > c->w->last_seq);
    if (c->w->first_seq == 0) {
        c->w->first_seq = seq;
    }
    c->w->last_seq = seq;
    return 0;
}

static int append_audit(struct op_ctx *c, const char *action, const char *resource,
                        int64_t resource_id, const json_t *detail)
{
    sqlite3_stmt *st = c->s->st_audit;
    char *text = detail ? dump_json(detail) : NULL;
    if (detail && !text) {
        return op_fail(c, BLEND_ENOMEM, "", "out of memory");
    }
    sqlite3_bind_text(st, 1, c->ts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c->w->actor_id);
    sqlite3_bind_text(st, 3, c->w->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->w->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, resource, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, resource_id);
    if (text) {
        sqlite3_bind_text(st, 8, text, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 8);
    }
    int step = sqlite3_step(st);
    blend_free(text);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (step != SQLITE_DONE) {
        return op_fail(c, BLEND_EIO, "", "cannot append the audit entry: %s",
                       sqlite3_errmsg(c->db));
    }
    return 0;
}

/* After a row changed: result document, event, audit. fields: the names that changed (owned
 * array, taken), for the audit detail. */
static int finish_change(struct op_ctx *c, const struct blend_resource *res, int64_t id,
                         const char *what, json_t *fields)
{
    json_t *doc = NULL;
    int rc = blend__store_load(c->db, res, id, 0, &doc);
    if (rc != 0) {
        json_decref(fields);
        return op_fail(c, rc, "", "cannot read the row back");
    }
    char type[96], subject[96];
    snprintf(type, sizeof type, "%s.%s", res->name, what);
    snprintf(subject, sizeof subject, "%s/%lld", res->name, (long long)id);
    rc = append_event(c, type, subject, doc);
    if (rc == 0 && c->w->actor[0]) {
        const char *action = strcmp(what, "created") == 0 ? "create" : "update";
        json_t *detail = json_pack("{s:o}", "fields", fields);
        fields = NULL;
        rc = detail ? append_audit(c, action, res->name, id, detail)
                    : op_fail(c, BLEND_ENOMEM, "", "out of memory");
        json_decref(detail);
    }
    json_decref(fields);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    c->op->result = doc;
    c->op->id_out = id;
    c->op->version_out = json_integer_value(json_object_get(doc, "version"));
    c->op->changed = 1;
    return 0;
}

/* ---- Comparison (UPSERT / no-op UPDATE) ---------------------------------------------------- */

static int values_equal(const json_t *old, const json_t *new)
{
    if (!old) {
        return json_is_null(new);
    }
    return json_equal((json_t *)old, (json_t *)new);
}

/* Children compare as whole lists: same length, and each new item equal to the stored item at
 * the same place on every field the new item gives. */
static int children_equal(const struct blend_field *f, const json_t *old, const json_t *new)
{
    if (!json_is_array(old) || !json_is_array(new) ||
        json_array_size(old) != json_array_size(new)) {
        return 0;
    }
    for (size_t i = 0; i < json_array_size(new); i++) {
        const json_t *o = json_array_get(old, i), *n = json_array_get(new, i);
        for (size_t k = 0; k < f->child->fields_count; k++) {
            const struct blend_field *cf = &f->child->fields[k];
            const json_t *nv = cf->column ? blend__store_doc_get(n, cf->name) : NULL;
            if (nv && !values_equal(blend__store_doc_get(o, cf->name), nv)) {
                return 0;
            }
        }
    }
    return 1;
}

/* The names of the stored fields given in doc whose value differs from stored (owned array). */
static json_t *changed_fields(const struct blend_resource *res, const json_t *stored,
                              const json_t *doc)
{
    json_t *names = json_array();
    for (size_t i = 0; names && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        const json_t *nv =
            blend__store_field_is_stored(f) ? blend__store_doc_get(doc, f->name) : NULL;
        if (!nv) {
            continue;
        }
        const json_t *ov = blend__store_doc_get(stored, f->name);
        int same = f->type == BLEND_FT_CHILDREN ? children_equal(f, ov, nv) : values_equal(ov, nv);
        if (!same && json_array_append_new(names, json_string(f->name)) != 0) {
            json_decref(names);
            return NULL;
        }
    }
    return names;
}

/* The names of the stored fields given in doc (for a create's audit entry). */
static json_t *given_fields(const struct blend_resource *res, const json_t *doc)
{
    json_t *names = json_array();
    for (size_t i = 0; names && i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (blend__store_field_is_stored(f) && blend__store_doc_get(doc, f->name) &&
            json_array_append_new(names, json_string(f->name)) != 0) {
            json_decref(names);
            return NULL;
        }
    }
    return names;
}

/* ---- Ops ----------------------------------------------------------------------------------- */

static int op_create(struct op_ctx *c, const struct blend_resource *res, const json_t *doc)
{
    int64_t id = 0;
    int rc = insert_row(c, res, doc, 0, "", &id);
    rc = rc ? rc : write_all_children(c, res, id, doc);
    if (rc != 0) {
        return rc;
    }
    json_t *fields = given_fields(res, doc);
    return fields ? finish_change(c, res, id, "created", fields)
                  : op_fail(c, BLEND_ENOMEM, "", "out of memory");
}

static int check_version(struct op_ctx *c, const json_t *stored, int64_t if_version)
{
    int64_t version = json_integer_value(json_object_get(stored, "version"));
    if (if_version != 0 && version != if_version) {
        return op_fail(c, BLEND_ECONFLICT, "version", "version is %lld, not %lld",
                       (long long)version, (long long)if_version);
    }
    return 0;
}

static int op_update(struct op_ctx *c, const struct blend_resource *res, int64_t id,
                     int64_t if_version, const json_t *doc)
{
    json_t *stored = NULL;
    int rc = blend__store_load(c->db, res, id, 1, &stored);
    if (rc != 0) {
        return op_fail(c, rc, "", rc == BLEND_ENOENT ? "no %s %lld" : "cannot read %s %lld",
                       res->singular, (long long)id);
    }
    rc = check_version(c, stored, if_version);
    json_t *fields = rc ? NULL : changed_fields(res, stored, doc);
    json_decref(stored);
    if (rc != 0 || !fields) {
        return rc ? rc : op_fail(c, BLEND_ENOMEM, "", "out of memory");
    }
    if (json_array_size(fields) == 0) {
        json_decref(fields);
        rc = blend__store_load(c->db, res, id, 0, &c->op->result);
        if (rc != 0) {
            return op_fail(c, rc, "", "cannot read the row back");
        }
        c->op->id_out = id;
        c->op->version_out = json_integer_value(json_object_get(c->op->result, "version"));
        c->op->changed = 0;
        return 0;
    }
    rc = update_row(c, res, id, doc);
    if (rc != 0) {
        json_decref(fields);
        return rc;
    }
    return finish_change(c, res, id, "updated", fields);
}

/* Returns 1 when the schema's foreign key on column `column` of `table` lets a delete of the
 * target go on (CASCADE, SET NULL, SET DEFAULT), so a referring row does not block it. The
 * schema, not the descriptor, is the authority on what a delete does. */
static int fk_lets_delete(struct op_ctx *c, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    if (blend__store_prepare(c->db,
                             "SELECT on_delete FROM pragma_foreign_key_list(?) WHERE \"from\" = ?",
                             &st) != 0) {
        return 0; /* treated as RESTRICT: the delete is refused with a named table */
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    int lets = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *action = (const char *)sqlite3_column_text(st, 0);
        lets = action && (strcmp(action, "CASCADE") == 0 || strcmp(action, "SET NULL") == 0 ||
                          strcmp(action, "SET DEFAULT") == 0);
    }
    sqlite3_finalize(st);
    return lets;
}

/* Returns 1 when a row of table has column = id and its foreign key restricts the delete (the
 * FK index makes this one lookup). */
static int is_referenced(struct op_ctx *c, const struct blend_resource *tab,
                         const struct blend_field *f, const struct blend_resource *target,
                         int64_t id)
{
    if (f->type != BLEND_FT_REF || f->ref != target || !f->column ||
        fk_lets_delete(c, tab->table, f->column)) {
        return 0;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE \"%s\" = ? LIMIT 1", tab->table,
             f->column);
    sqlite3_stmt *st = NULL;
    if (blend__store_prepare(c->db, sql, &st) != 0) {
        return 0; /* the DELETE's own foreign key check still refuses it */
    }
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Finds a table (of a resource or a child list) with a row still referring to row id of res
 * through a restricting foreign key, so a refused delete can name it (SQLite's own error does
 * not). Rows whose foreign key cascades go with the deleted row. */
static const char *find_referrer(struct op_ctx *c, const struct blend_resource *res, int64_t id)
{
    for (size_t r = 0; blend_resources[r]; r++) {
        const struct blend_resource *owner = blend_resources[r];
        for (size_t i = 0; i < owner->fields_count; i++) {
            const struct blend_field *f = &owner->fields[i];
            if (is_referenced(c, owner, f, res, id)) {
                return owner->table;
            }
            const struct blend_resource *child = f->type == BLEND_FT_CHILDREN ? f->child : NULL;
            for (size_t k = 0; child && k < child->fields_count; k++) {
                if (is_referenced(c, child, &child->fields[k], res, id)) {
                    return child->table;
                }
            }
        }
    }
    return NULL;
}

static int delete_row(struct op_ctx *c, const struct blend_resource *res, int64_t id)
{
    const char *referrer = find_referrer(c, res, id);
    if (referrer) {
        return op_fail(c, BLEND_ECONFLICT, "", "%s %lld is still referenced by %s", res->singular,
                       (long long)id, referrer);
    }
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE id = ?", res->table);
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(c->db, sql, &st);
    if (rc != 0) {
        return op_fail(c, rc, "", "storage error");
    }
    sqlite3_bind_int64(st, 1, id);
    return step_done(c, st, res, "");
}

/* The event of a delete carries the (redacted) document as it was. */
static int op_delete(struct op_ctx *c, const struct blend_resource *res, int64_t id,
                     int64_t if_version)
{
    json_t *stored = NULL;
    int rc = blend__store_load(c->db, res, id, 0, &stored);
    if (rc != 0) {
        return op_fail(c, rc, "", rc == BLEND_ENOENT ? "no %s %lld" : "cannot read %s %lld",
                       res->singular, (long long)id);
    }
    int64_t version = json_integer_value(json_object_get(stored, "version"));
    rc = check_version(c, stored, if_version);
    rc = rc ? rc : delete_row(c, res, id);
    char type[96], subject[96];
    snprintf(type, sizeof type, "%s.deleted", res->name);
    snprintf(subject, sizeof subject, "%s/%lld", res->name, (long long)id);
    rc = rc ? rc : append_event(c, type, subject, stored);
    json_decref(stored);
    if (rc == 0 && c->w->actor[0]) {
        rc = append_audit(c, "delete", res->name, id, NULL);
    }
    if (rc == 0) {
        c->op->id_out = id;
        c->op->version_out = version;
        c->op->changed = 1;
    }
    return rc;
}

static int op_upsert(struct op_ctx *c, const struct blend_resource *res, const json_t *doc)
{
    const struct blend_field *kf = blend__store_key_field(res);
    if (!kf) {
        return op_fail(c, BLEND_EINVAL, "", "%s have no natural key to upsert by", res->name);
    }
    const json_t *key = blend__store_doc_get(doc, kf->name);
    if (!json_is_string(key)) {
        return op_fail(c, BLEND_EINVAL, kf->name, "required to upsert");
    }
    int64_t id = 0;
    int rc = blend__store_id_by_key(c->db, res, json_string_value(key), &id);
    if (rc == BLEND_ENOENT) {
        return op_create(c, res, doc);
    }
    return rc ? op_fail(c, rc, "", "storage error") : op_update(c, res, id, 0, doc);
}

static int run_op(struct op_ctx *c)
{
    struct blend_write_op *op = c->op;
    if (op->kind == BLEND_OP_EVENT) {
        if (!op->event_type[0] || !op->subject[0]) {
            return op_fail(c, BLEND_EINVAL, "", "an event needs a type and a subject");
        }
        return append_event(c, op->event_type, op->subject, op->doc);
    }
    if (op->kind == BLEND_OP_AUDIT) {
        if (!op->event_type[0] || !op->subject[0]) {
            return op_fail(c, BLEND_EINVAL, "", "an audit entry needs an action and a resource");
        }
        return append_audit(c, op->event_type, op->subject, op->id, op->doc);
    }
    if (!op->res || !op->res->is_versioned) {
        return op_fail(c, BLEND_EINVAL, "", "a write needs a top-level resource");
    }
    if (op->kind != BLEND_OP_DELETE && !json_is_object(op->doc)) {
        return op_fail(c, BLEND_EINVAL, "", "a write needs a document");
    }
    switch (op->kind) {
    case BLEND_OP_CREATE:
        return op_create(c, op->res, op->doc);
    case BLEND_OP_UPDATE:
        return op_update(c, op->res, op->id, op->if_version, op->doc);
    case BLEND_OP_DELETE:
        return op_delete(c, op->res, op->id, op->if_version);
    case BLEND_OP_UPSERT:
        return op_upsert(c, op->res, op->doc);
    default:
        return op_fail(c, BLEND_EINVAL, "", "unknown op kind %d", (int)op->kind);
    }
}

void blend__store_write_clear_results(struct blend_write *w)
{
    for (int i = 0; i < w->ops_count; i++) {
        struct blend_write_op *op = &w->ops[i];
        json_decref(op->result);
        op->result = NULL;
        op->id_out = 0;
        op->version_out = 0;
        op->changed = 0;
    }
    w->first_seq = 0;
    w->last_seq = 0;
}

int blend__store_exec_write(struct blend_store *s, struct blend_write *w)
{
    BLEND_ASSERT(s && w);
    struct op_ctx c = {.s = s, .w = w, .db = s->wdb};
    blend__store_now(c.ts);
    w->rc = 0;
    w->failed_op = -1;
    if (blend__store_exec(s->wdb, "SAVEPOINT w") != 0) {
        return BLEND_EIO;
    }
    for (int i = 0; i < w->ops_count; i++) {
        c.op = &w->ops[i];
        if (c.op->ref_field[0]) {
            BLEND_ASSERT(c.op->ref_op >= 0 && c.op->ref_op < i && c.op->doc);
            if (json_object_set_new(c.op->doc, c.op->ref_field,
                                    json_integer(w->ops[c.op->ref_op].id_out)) != 0) {
                w->rc = BLEND_ENOMEM;
                w->failed_op = i;
                c.op->rc = BLEND_ENOMEM;
                break;
            }
        }
        int rc = run_op(&c);
        c.op->rc = rc;
        if (rc != 0) {
            w->rc = rc;
            w->failed_op = i;
            break;
        }
    }
    if (w->rc != 0) {
        blend__store_write_clear_results(w);
        if (sqlite3_get_autocommit(s->wdb) || blend__store_exec(s->wdb, "ROLLBACK TO w") != 0) {
            return BLEND_EIO; /* SQLite abandoned the whole transaction */
        }
    }
    return blend__store_exec(s->wdb, "RELEASE w") == 0 ? 0 : BLEND_EIO;
}
