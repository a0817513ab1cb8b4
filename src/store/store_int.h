/*
 * Internals of the SQLite store shared by its files (not part of the store's interface):
 *   store.c     lifecycle, the write queue, the writer thread (group commit), dispatch, stats;
 *   migrate.c   opening a connection with the right pragmas and applying the migrations;
 *   sql_doc.c   descriptor-driven SQL for reads: rows to JSON documents, lookups, lists;
 *   sql_write.c descriptor-driven SQL for writes: the ops of one write inside a savepoint.
 * Invariants: the writer connection is used only by the writer thread once it runs (and by the
 * opening thread before it starts); the read connection only by the opening thread. Every SQL
 * identifier comes from a descriptor, every value is a bound parameter.
 */
#ifndef BLEND_STORE_STORE_INT_H
#define BLEND_STORE_STORE_INT_H

#include "base/buf.h"
#include "base/limits.h"
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>

/* Longest SQL text the store generates from a descriptor (a few dozen columns). */
#define BLEND__STORE_SQL_BYTES_MAX (16 * 1024)
/* "2026-11-22T13:00:00.123Z" plus NUL. */
#define BLEND__STORE_TS_BYTES 32
/* How long a connection waits for a lock held by another process before giving up (BUSY);
 * within one process the single writer never waits on itself. */
#define BLEND__STORE_BUSY_TIMEOUT_MS 5000

struct blend_store {
    char path[BLEND_PATH_BYTES_MAX];
    sqlite3 *wdb; /* writer connection */
    sqlite3 *rdb; /* read connection (opening thread) */
    int batch_max;
    void (*notify)(void *arg);
    void *notify_arg;

    pthread_t thread;
    int has_thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* the writer waits here for writes */
    pthread_cond_t done_cv; /* blend_store_write_sync waits here */
    /* All below under mu. */
    struct blend_write *queue_head, *queue_tail;
    size_t queue_count;
    struct blend_write *done_head, *done_tail;
    int is_closing;
    int is_held;            /* test hook: the writer takes nothing while set */
    int fail_commits_count; /* test hook: the next N commits are rolled back instead */
    struct blend_store_stats stats;

    /* Writer-thread statements, prepared once. */
    sqlite3_stmt *st_event;
    sqlite3_stmt *st_audit;
};

/* ---- migrate.c ---- */
/* Opens `path` with WAL, synchronous=FULL, foreign_keys=ON and a busy timeout. */
BLEND_MUST_USE int blend__store_db_open(const char *path, int is_reader, sqlite3 **db_out);
/* Applies the embedded migrations newer than the recorded version; BLEND_ESTATE when the file's
 * schema is newer than this binary. */
BLEND_MUST_USE int blend__store_migrate(sqlite3 *db);
/* Runs one SQL statement without results; logs and returns BLEND_EIO on failure. */
BLEND_MUST_USE int blend__store_exec(sqlite3 *db, const char *sql);
/* Writes the current UTC time as RFC 3339 with milliseconds into out. */
void blend__store_now(char out[BLEND__STORE_TS_BYTES]);

/* ---- sql_doc.c ---- */
/* The field of `res` named `name` (JSON name), or NULL. */
const struct blend_field *blend__store_field(const struct blend_resource *res, const char *name);
/* The field holding res's natural key, or NULL when res has none. */
const struct blend_field *blend__store_key_field(const struct blend_resource *res);
/* The value of field `name` in doc ("a.b" looks one level down); NULL when absent. Borrowed. */
json_t *blend__store_doc_get(const json_t *doc, const char *name);
/* Sets field `name` in doc ("a.b" creates the nested object); steals value. */
BLEND_MUST_USE int blend__store_doc_set(json_t *doc, const char *name, json_t *value);
/* Returns 1 when field f is written to and read from SQL (a column or a child table). */
int blend__store_field_is_stored(const struct blend_field *f);
/* Reads row `id` of res on db as a document (children, REFs as keys, id/version/timestamps).
 * Without include_internal, WRITE_ONLY and INTERNAL fields are left out. BLEND_ENOENT. */
BLEND_MUST_USE int blend__store_load(sqlite3 *db, const struct blend_resource *res, int64_t id,
                                     int include_internal, json_t **doc_out);
/* Resolves a REF value (target key string, or integer id for a key-less target) to a row id.
 * BLEND_ENOENT when no such row, BLEND_EINVAL on a value of the wrong type. */
BLEND_MUST_USE int blend__store_ref_id(sqlite3 *db, const struct blend_resource *target,
                                       const json_t *value, int64_t *id_out);
/* The id of the row whose key field equals `key`. BLEND_ENOENT. */
BLEND_MUST_USE int blend__store_id_by_key(sqlite3 *db, const struct blend_resource *res,
                                          const char *key, int64_t *id_out);
/* Adds every CHILDREN field of res to doc (the document of row id). */
BLEND_MUST_USE int blend__store_add_children(sqlite3 *db, const struct blend_resource *res,
                                             int64_t id, int include_internal, json_t *doc);
/* Prepares "SELECT <res columns> FROM table t <where>" for the caller to bind and step; column 0
 * is the row id. */
BLEND_MUST_USE int blend__store_select_rows(sqlite3 *db, const struct blend_resource *res,
                                            const char *where, int include_internal,
                                            sqlite3_stmt **st_out);
/* The full document (children included) of the current row of a select_rows statement. */
BLEND_MUST_USE int blend__store_row_full(sqlite3 *db, sqlite3_stmt *st,
                                         const struct blend_resource *res, int include_internal,
                                         json_t **doc_out);
/* Prepares sql on db; logs and returns BLEND_EIO on failure. */
BLEND_MUST_USE int blend__store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st_out);

/* ---- sql_write.c ---- */
/* Runs every op of w inside a savepoint on s->wdb (an open transaction): on the first failing
 * op the savepoint is rolled back, w->rc and w->failed_op are set and op results are dropped.
 * Returns 0 (the write's own result is in w->rc), or BLEND_EIO when the savepoint itself could
 * not be handled (the caller then abandons the whole transaction). */
BLEND_MUST_USE int blend__store_exec_write(struct blend_store *s, struct blend_write *w);
/* Drops every op's results (before a retry, or after a rollback). */
void blend__store_write_clear_results(struct blend_write *w);

/* ---- store.c test hooks (tests only) ---- */
/* While held, the writer takes no write from the queue (to build a batch deterministically). */
void blend__store_hold(struct blend_store *s, int is_held);
/* The next `count` transactions fail at COMMIT (rolled back instead), as if fsync had failed. */
void blend__store_fail_commits(struct blend_store *s, int count);

#endif
