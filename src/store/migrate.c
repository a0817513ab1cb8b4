/*
 * Opening SQLite connections and migrating the schema. Every connection gets WAL (readers never
 * block the writer), synchronous=FULL (a COMMIT returns only once the WAL is fsynced, so nothing
 * acknowledged is lost on power failure), foreign keys and a busy timeout. Migrations are the
 * embedded blend_migrations[], applied in version order, each in its own transaction together
 * with its row in schema_migrations, so a crash leaves the schema at a whole version. A file
 * whose schema is newer than this binary is refused: an old binary must not write to it.
 */
#include "store/store_int.h"

#include "base/assert.h"
#include "base/log.h"
#include "store/migrations.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void blend__store_now(char out[BLEND__STORE_TS_BYTES])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, BLEND__STORE_TS_BYTES - 5, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int)(ts.tv_nsec / 1000000 % 1000);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
}

int blend__store_exec(sqlite3 *db, const char *sql)
{
    BLEND_ASSERT(db && sql);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        BLEND_LOG_ERROR("store", "%s: %s", sql, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return BLEND_EIO;
    }
    return 0;
}

/* Runs a pragma that returns one text row and checks it, e.g. journal_mode -> "wal". */
static int pragma_expect(sqlite3 *db, const char *sql, const char *expect)
{
    sqlite3_stmt *st = NULL;
    int rc = blend__store_prepare(db, sql, &st);
    if (rc != 0) {
        return rc;
    }
    rc = BLEND_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *got = (const char *)sqlite3_column_text(st, 0);
        if (got && strcmp(got, expect) == 0) {
            rc = 0;
        } else {
            BLEND_LOG_ERROR("store", "%s returned %s, expected %s", sql, got ? got : "NULL",
                            expect);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int blend__store_db_open(const char *path, int is_reader, sqlite3 **db_out)
{
    BLEND_ASSERT(path && db_out);
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        BLEND_LOG_ERROR("store", "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close_v2(db);
        return BLEND_EIO;
    }
    sqlite3_busy_timeout(db, BLEND__STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    int rc = pragma_expect(db, "PRAGMA journal_mode=WAL", "wal");
    if (rc == 0) {
        rc = blend__store_exec(db, "PRAGMA synchronous=FULL");
    }
    if (rc == 0) {
        rc = blend__store_exec(db, "PRAGMA foreign_keys=ON");
    }
    if (rc == 0 && is_reader) {
        rc = blend__store_exec(db, "PRAGMA query_only=ON");
    }
    if (rc != 0) {
        sqlite3_close_v2(db);
        return rc;
    }
    *db_out = db;
    return 0;
}

static int current_version(sqlite3 *db, int *version_out)
{
    sqlite3_stmt *st = NULL;
    int rc =
        blend__store_prepare(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", &st);
    if (rc != 0) {
        return rc;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        *version_out = sqlite3_column_int(st, 0);
    } else {
        rc = BLEND_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

static int apply_one(sqlite3 *db, const struct blend_migration *m)
{
    char ts[BLEND__STORE_TS_BYTES];
    blend__store_now(ts);
    int rc = blend__store_exec(db, "BEGIN IMMEDIATE");
    if (rc != 0) {
        return rc;
    }
    rc = blend__store_exec(db, m->sql);
    sqlite3_stmt *st = NULL;
    if (rc == 0) {
        rc = blend__store_prepare(
            db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", &st);
    }
    if (rc == 0) {
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ts, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BLEND_EIO;
    }
    sqlite3_finalize(st);
    if (rc == 0) {
        rc = blend__store_exec(db, "COMMIT");
    }
    if (rc != 0) {
        BLEND_LOG_ERROR("store", "migration %s failed", m->name);
        if (blend__store_exec(db, "ROLLBACK") != 0) {
            BLEND_LOG_ERROR("store", "rollback of migration %s failed", m->name);
        }
        return rc;
    }
    BLEND_LOG_INFO("store", "applied migration %s", m->name);
    return 0;
}

int blend__store_migrate(sqlite3 *db)
{
    int rc = blend__store_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                                   "applied_at TEXT NOT NULL)");
    int version = 0;
    if (rc == 0) {
        rc = current_version(db, &version);
    }
    if (rc != 0) {
        return rc;
    }
    int known = 0;
    for (int i = 0; i < blend_migrations_count; i++) {
        BLEND_ASSERT(blend_migrations[i].version > known); /* file names sort by version */
        known = blend_migrations[i].version;
    }
    if (version > known) {
        BLEND_LOG_ERROR("store",
                        "database schema version %d is newer than this binary's (%d): "
                        "upgrade blend before opening it",
                        version, known);
        return BLEND_ESTATE;
    }
    for (int i = 0; i < blend_migrations_count; i++) {
        if (blend_migrations[i].version > version) {
            rc = apply_one(db, &blend_migrations[i]);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
