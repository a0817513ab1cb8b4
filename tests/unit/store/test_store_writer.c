/*
 * Tests of the store's machinery: migrations (applied once, newer schema refused), the writer
 * thread's group commit (a held queue released at once is one transaction), per-write atomicity
 * inside a batch, a failed COMMIT failing the whole batch, asynchronous submit + notify +
 * dispatch, back-pressure at BLEND_STORE_QUEUE_MAX, the cap on explicit events per write, and
 * close draining every queued write.
 * Waiting is on condition variables signalled by the notify hook, never on the clock.
 */
#include "store_test_util.h"

#include "base/limits.h"
#include "model/model.h"
#include "store/migrations.h"
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>

static void check_no_leak(void)
{
    assert_int_equal(blend_alloc_live(), 0);
}

/* ---- notify / dispatch plumbing ------------------------------------------------------------ */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int notified;
    int callbacks;
    int rcs[64];
};

static void waiter_init(struct waiter *wt)
{
    memset(wt, 0, sizeof *wt);
    pthread_mutex_init(&wt->mu, NULL);
    pthread_cond_init(&wt->cv, NULL);
}

static void waiter_deinit(struct waiter *wt)
{
    pthread_cond_destroy(&wt->cv);
    pthread_mutex_destroy(&wt->mu);
}

static void on_notify(void *arg)
{
    struct waiter *wt = arg;
    pthread_mutex_lock(&wt->mu);
    wt->notified++;
    pthread_cond_signal(&wt->cv);
    pthread_mutex_unlock(&wt->mu);
}

static void on_done(struct blend_write *w, void *arg)
{
    struct waiter *wt = arg;
    int i = (int)json_integer_value(json_object_get(w->ops[0].doc, "i"));
    if (i >= 0 && i < 64) {
        wt->rcs[i] = w->rc;
    }
    wt->callbacks++;
    blend_write_destroy(w);
}

/* Dispatches until `count` callbacks ran, sleeping on the notify condition in between. */
static void dispatch_until(struct blend_store *s, struct waiter *wt, int count)
{
    while (wt->callbacks < count) {
        pthread_mutex_lock(&wt->mu);
        while (wt->notified == 0) {
            pthread_cond_wait(&wt->cv, &wt->mu);
        }
        wt->notified = 0;
        pthread_mutex_unlock(&wt->mu);
        blend_store_dispatch(s);
    }
}

static struct blend_write *event_write(int i)
{
    struct blend_write *w = blend_write_create();
    assert_non_null(w);
    json_t *doc = json_pack("{s:i}", "i", i);
    struct blend_write_op *op = blend_write_add(w, BLEND_OP_EVENT, NULL, doc);
    assert_non_null(op);
    snprintf(op->event_type, sizeof op->event_type, "test.tick");
    snprintf(op->subject, sizeof op->subject, "tests/%d", i);
    return w;
}

/* ---- migrations ------------------------------------------------------------------------------ */

static int count_rows(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void expect_text(const char *path, const char *sql, const char *want)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), want);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void migrations_applied_once(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    assert_int_equal(run1(t.s, BLEND_OP_CREATE, &blend_res_skills, 0, J("{\"name\":\"a\"}"), NULL),
                     0);
    tenv_close(&t);
    assert_int_equal(count_rows(t.path, "SELECT count(*) FROM schema_migrations"),
                     blend_migrations_count);
    assert_int_equal(count_rows(t.path, "SELECT max(version) FROM schema_migrations"),
                     blend_migrations[blend_migrations_count - 1].version);
    /* Reopening applies nothing again (a re-applied CREATE TABLE would fail) and keeps data. */
    tenv_open(&t);
    json_t *doc = NULL;
    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "name", "a", 0, &doc), 0);
    json_decref(doc);
    tenv_close(&t);
    assert_int_equal(count_rows(t.path, "SELECT count(*) FROM schema_migrations"),
                     blend_migrations_count);
    expect_text(t.path, "PRAGMA journal_mode", "wal");
    tenv_deinit(&t);
    check_no_leak();
}

static void newer_schema_refused(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    tenv_close(&t);
    exec_sql(t.path, "INSERT INTO schema_migrations (version, name, applied_at) "
                     "VALUES (9999, '9999_future', 'x')");
    assert_int_equal(tenv_open_cfg(&t, 0, NULL, NULL), BLEND_ESTATE);
    assert_null(t.s);
    tenv_deinit(&t);
    check_no_leak();
}

static void bad_urls_refused(void **state)
{
    struct blend_store *s = NULL;
    struct blend_store_config cfg = {.url = ":memory:"};
    assert_int_equal(blend_store_open(&cfg, &s), BLEND_EINVAL);
    cfg.url = "sqlite::memory:";
    assert_int_equal(blend_store_open(&cfg, &s), BLEND_EINVAL);
    cfg.url = "sqlite:";
    assert_int_equal(blend_store_open(&cfg, &s), BLEND_EINVAL);
    assert_null(s);
    check_no_leak();
}

/* ---- group commit ---------------------------------------------------------------------------- */

static void group_commit_folds_writes(void **state)
{
    struct tenv t;
    struct waiter wt;
    tenv_init(&t);
    waiter_init(&wt);
    assert_int_equal(tenv_open_cfg(&t, 0, on_notify, &wt), 0);
    /* Held, the writer takes nothing: all 50 writes wait and are then taken as one batch. */
    blend__store_hold(t.s, 1);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(blend_store_submit(t.s, event_write(i), on_done, &wt), 0);
    }
    struct blend_store_stats st;
    blend_store_stats(t.s, &st);
    assert_int_equal(st.queue_depth, 50);
    assert_int_equal(st.commits, 0);
    assert_int_equal(blend_store_dispatch(t.s), 0); /* nothing is done before the commit */
    blend__store_hold(t.s, 0);
    dispatch_until(t.s, &wt, 50);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(wt.rcs[i], 0);
    }
    blend_store_stats(t.s, &st);
    assert_int_equal(st.writes, 50);
    assert_int_equal(st.commits, 1);
    assert_true(st.commits < st.writes);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.commit_ms_buckets[11], 1); /* +Inf holds every commit */
    assert_true(st.commit_ms_sum > 0);
    assert_int_equal(blend_store_last_seq(t.s), 50);
    /* Events are in submission order. */
    json_t *events = NULL;
    assert_int_equal(blend_store_events(t.s, 0, 100, &events), 0);
    for (size_t i = 0; i < 50; i++) {
        json_t *data = json_object_get(json_array_get(events, i), "data");
        assert_int_equal(json_integer_value(json_object_get(data, "i")), (json_int_t)i);
    }
    json_decref(events);
    tenv_deinit(&t);
    waiter_deinit(&wt);
    check_no_leak();
}

static void batch_max_bounds_a_batch(void **state)
{
    struct tenv t;
    struct waiter wt;
    tenv_init(&t);
    waiter_init(&wt);
    assert_int_equal(tenv_open_cfg(&t, 4, on_notify, &wt), 0);
    blend__store_hold(t.s, 1);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(blend_store_submit(t.s, event_write(i), on_done, &wt), 0);
    }
    blend__store_hold(t.s, 0);
    dispatch_until(t.s, &wt, 10);
    struct blend_store_stats st;
    blend_store_stats(t.s, &st);
    assert_int_equal(st.commits, 3); /* 4 + 4 + 2 */
    tenv_deinit(&t);
    waiter_deinit(&wt);
    check_no_leak();
}

/* One failing write in a batch fails alone; the others commit in the same transaction. */
static void failing_write_fails_alone(void **state)
{
    struct tenv t;
    struct waiter wt;
    tenv_init(&t);
    waiter_init(&wt);
    assert_int_equal(tenv_open_cfg(&t, 0, on_notify, &wt), 0);
    blend__store_hold(t.s, 1);
    const char *docs[] = {"{\"name\":\"a\",\"i\":0}", "{\"name\":\"a\",\"i\":1}",
                          "{\"name\":\"b\",\"i\":2}"};
    for (int i = 0; i < 3; i++) {
        struct blend_write *w = blend_write_create();
        assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J(docs[i])));
        assert_int_equal(blend_store_submit(t.s, w, on_done, &wt), 0);
    }
    blend__store_hold(t.s, 0);
    dispatch_until(t.s, &wt, 3);
    assert_int_equal(wt.rcs[0], 0);
    assert_int_equal(wt.rcs[1], BLEND_EEXIST);
    assert_int_equal(wt.rcs[2], 0);
    struct blend_store_stats st;
    blend_store_stats(t.s, &st);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.write_errors, 1);
    assert_int_equal(blend_store_last_seq(t.s), 2);
    json_t *doc = NULL;
    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "name", "b", 0, &doc), 0);
    json_decref(doc);
    tenv_deinit(&t);
    waiter_deinit(&wt);
    check_no_leak();
}

/* A COMMIT that fails fails every write of its batch: nothing is acknowledged, nothing stays. */
static void failed_commit_fails_the_batch(void **state)
{
    struct tenv t;
    struct waiter wt;
    tenv_init(&t);
    waiter_init(&wt);
    assert_int_equal(tenv_open_cfg(&t, 0, on_notify, &wt), 0);
    blend__store_fail_commits(t.s, 1);
    blend__store_hold(t.s, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(blend_store_submit(t.s, event_write(i), on_done, &wt), 0);
    }
    blend__store_hold(t.s, 0);
    dispatch_until(t.s, &wt, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(wt.rcs[i], BLEND_EIO);
    }
    assert_int_equal(blend_store_last_seq(t.s), 0);
    /* The store goes on. */
    struct blend_write *w = event_write(9);
    assert_int_equal(blend_store_write_sync(t.s, w), 0);
    assert_int_equal(w->first_seq, 1);
    blend_write_destroy(w);
    struct blend_store_stats st;
    blend_store_stats(t.s, &st);
    assert_int_equal(st.write_errors, 5);
    assert_int_equal(st.writes, 6);
    tenv_deinit(&t);
    waiter_deinit(&wt);
    check_no_leak();
}

/* ---- back-pressure and close ------------------------------------------------------------------
 */

static void queue_limit_and_close_drain(void **state)
{
    struct tenv t;
    struct waiter wt;
    tenv_init(&t);
    waiter_init(&wt);
    assert_int_equal(tenv_open_cfg(&t, 0, on_notify, &wt), 0);
    blend__store_hold(t.s, 1);
    for (int i = 0; i < BLEND_STORE_QUEUE_MAX; i++) {
        assert_int_equal(blend_store_submit(t.s, event_write(i % 64), on_done, &wt), 0);
    }
    struct blend_write *extra = event_write(0);
    assert_int_equal(blend_store_submit(t.s, extra, on_done, &wt), BLEND_ELIMIT);
    assert_int_equal(blend_store_write_sync(t.s, extra), BLEND_ELIMIT);
    blend_write_destroy(extra);
    /* Close while held: it still drains everything and runs every callback. */
    blend_store_close(t.s);
    t.s = NULL;
    assert_int_equal(wt.callbacks, BLEND_STORE_QUEUE_MAX);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(wt.rcs[i], 0);
    }
    /* Everything acknowledged is in the file. */
    assert_int_equal(count_rows(t.path, "SELECT count(*) FROM events"), BLEND_STORE_QUEUE_MAX);
    assert_int_equal(count_rows(t.path, "SELECT max(seq) - min(seq) + 1 FROM events"),
                     BLEND_STORE_QUEUE_MAX);
    tenv_deinit(&t);
    waiter_deinit(&wt);
    check_no_leak();
}

struct resubmit {
    struct blend_store *s;
    int rc;
};

static void on_done_resubmit(struct blend_write *w, void *arg)
{
    struct resubmit *r = arg;
    r->rc = blend_store_submit(r->s, w, on_done_resubmit, r);
    if (r->rc != 0) {
        blend_write_destroy(w);
    }
}

/* A callback run by close cannot queue more work: ECLOSED. */
static void submit_after_close_began(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    struct resubmit r = {.s = t.s, .rc = 1};
    assert_int_equal(blend_store_submit(t.s, event_write(0), on_done_resubmit, &r), 0);
    blend__store_hold(t.s, 1); /* the write may already be done; either way close finishes it */
    blend_store_close(t.s);
    t.s = NULL;
    assert_int_equal(r.rc, BLEND_ECLOSED);
    tenv_deinit(&t);
    check_no_leak();
}

/* Sync writers on several threads at once, mixed with async ones. */
struct sync_arg {
    struct blend_store *s;
    int base;
    int errors;
};

static void *sync_thread(void *p)
{
    struct sync_arg *a = p;
    for (int i = 0; i < 20; i++) {
        struct blend_write *w = blend_write_create();
        char name[32];
        snprintf(name, sizeof name, "s%d", a->base + i);
        json_t *doc = json_pack("{s:s}", "name", name);
        if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, doc) ||
            blend_store_write_sync(a->s, w) != 0 || w->ops[0].id_out <= 0) {
            a->errors++;
        }
        blend_write_destroy(w);
    }
    return NULL;
}

static void concurrent_sync_writers(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    pthread_t th[4];
    struct sync_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct sync_arg){.s = t.s, .base = i * 100};
        assert_int_equal(pthread_create(&th[i], NULL, sync_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    assert_int_equal(blend_store_last_seq(t.s), 80);
    struct blend_store_stats st;
    blend_store_stats(t.s, &st);
    assert_int_equal(st.writes, 80);
    assert_true(st.commits >= 1 && st.commits <= 80);
    tenv_deinit(&t);
    check_no_leak();
}

static void write_add_limits(void **state)
{
    struct blend_write *w = blend_write_create();
    for (int i = 0; i < BLEND_STORE_EVENTS_PER_WRITE_MAX * 64; i++) {
        assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, NULL));
    }
    /* Over the cap: refused, and the document is taken (freed) all the same. */
    assert_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, json_object()));
    blend_write_destroy(w);
    w = blend_write_create();
    blend_alloc_fail_nth(1);
    assert_null(blend_write_add(w, BLEND_OP_EVENT, NULL, NULL));
    blend_alloc_fail_nth(0);
    blend_write_destroy(w);
    check_no_leak();
}

/* Adds `count` BLEND_OP_EVENT ops to w. */
static void add_events(struct blend_write *w, int count)
{
    for (int i = 0; i < count; i++) {
        struct blend_write_op *op =
            blend_write_add(w, BLEND_OP_EVENT, NULL, json_pack("{s:i}", "i", i));
        assert_non_null(op);
        snprintf(op->event_type, sizeof op->event_type, "test.tick");
        snprintf(op->subject, sizeof op->subject, "tests/%d", i);
    }
}

/* A write may append at most BLEND_STORE_EVENTS_PER_WRITE_MAX explicit events; beyond it the
 * submit is refused (BLEND_ELIMIT), nothing runs, and the caller keeps the write. Resource ops
 * do not count against it. */
static void events_per_write_limit(void **state)
{
    struct tenv t;
    struct waiter wt;
    tenv_init(&t);
    waiter_init(&wt);
    assert_int_equal(tenv_open_cfg(&t, 0, on_notify, &wt), 0);

    struct blend_write *w = blend_write_create();
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"a\"}")));
    add_events(w, BLEND_STORE_EVENTS_PER_WRITE_MAX);
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"b\"}")));
    assert_int_equal(blend_store_write_sync(t.s, w), 0);
    assert_int_equal(w->first_seq, 1);
    assert_int_equal(w->last_seq, BLEND_STORE_EVENTS_PER_WRITE_MAX + 2);
    blend_write_destroy(w);

    w = blend_write_create();
    add_events(w, BLEND_STORE_EVENTS_PER_WRITE_MAX + 1);
    assert_int_equal(blend_store_write_sync(t.s, w), BLEND_ELIMIT);
    assert_int_equal(blend_store_submit(t.s, w, on_done, &wt), BLEND_ELIMIT);
    assert_int_equal(blend_store_last_seq(t.s), BLEND_STORE_EVENTS_PER_WRITE_MAX + 2);
    /* Still the caller's: made an audit entry instead, the last op no longer counts. */
    struct blend_write_op *op = &w->ops[BLEND_STORE_EVENTS_PER_WRITE_MAX];
    op->kind = BLEND_OP_AUDIT;
    snprintf(op->event_type, sizeof op->event_type, "test");
    snprintf(op->subject, sizeof op->subject, "tests");
    assert_int_equal(blend_store_submit(t.s, w, on_done, &wt), 0);
    dispatch_until(t.s, &wt, 1);
    assert_int_equal(wt.rcs[0], 0);
    assert_int_equal(blend_store_last_seq(t.s), 2 * BLEND_STORE_EVENTS_PER_WRITE_MAX + 2);
    assert_int_equal(count_rows(t.path, "SELECT count(*) FROM audit_log"), 1);
    tenv_deinit(&t);
    waiter_deinit(&wt);
    check_no_leak();
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations_applied_once),
        cmocka_unit_test(newer_schema_refused),
        cmocka_unit_test(bad_urls_refused),
        cmocka_unit_test(group_commit_folds_writes),
        cmocka_unit_test(batch_max_bounds_a_batch),
        cmocka_unit_test(failing_write_fails_alone),
        cmocka_unit_test(failed_commit_fails_the_batch),
        cmocka_unit_test(queue_limit_and_close_drain),
        cmocka_unit_test(submit_after_close_began),
        cmocka_unit_test(concurrent_sync_writers),
        cmocka_unit_test(write_add_limits),
        cmocka_unit_test(events_per_write_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
