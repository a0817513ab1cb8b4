/*
 * The store's lifecycle and its writer thread. Callers queue writes (bounded by
 * BLEND_STORE_QUEUE_MAX); the writer takes everything waiting (at most batch_max), runs each
 * write in its own savepoint inside one BEGIN IMMEDIATE ... COMMIT (group commit: one fsync for
 * the whole batch), and only after COMMIT returns hands results back: synchronous waiters are
 * woken directly, asynchronous writes move to the done list and `notify` tells the owner to call
 * blend_store_dispatch(), which runs their callbacks on its own thread. If COMMIT fails, every
 * write of the batch fails with BLEND_EIO: nothing is acknowledged that is not durable.
 * Invariants: a write is in exactly one of {caller, queue, writer batch, done list}; the queue
 * and done list are touched only under `mu`; close drains the queue before the thread exits.
 */
#include "store/store_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const double blend_store_commit_ms_bounds[12] = {0.5, 1,   2,   5,   10,   20,
                                                 50,  100, 200, 500, 1000, INFINITY};

/* Most ops one write may hold (see blend_write_add). */
#define WRITE_OPS_MAX (BLEND_STORE_EVENTS_PER_WRITE_MAX * 64)

/* ---- Writes ------------------------------------------------------------------------------- */

struct blend_write *blend_write_create(void)
{
    struct blend_write *w = blend_calloc(1, sizeof *w);
    if (w) {
        w->failed_op = -1;
    }
    return w;
}

void blend_write_destroy(struct blend_write *w)
{
    if (!w) {
        return;
    }
    for (int i = 0; i < w->ops_count; i++) {
        json_decref(w->ops[i].doc);
        json_decref(w->ops[i].result);
    }
    blend_free(w->ops);
    blend_free(w);
}

struct blend_write_op *blend_write_add(struct blend_write *w, enum blend_op_kind kind,
                                       const struct blend_resource *res, json_t *doc)
{
    BLEND_ASSERT(w);
    if (w->ops_count >= WRITE_OPS_MAX) {
        json_decref(doc);
        return NULL;
    }
    if (w->ops_count == w->ops_cap) {
        int cap = w->ops_cap ? w->ops_cap * 2 : 4;
        cap = cap > WRITE_OPS_MAX ? WRITE_OPS_MAX : cap;
        struct blend_write_op *ops = blend_realloc(w->ops, (size_t)cap * sizeof *ops);
        if (!ops) {
            json_decref(doc);
            return NULL;
        }
        w->ops = ops;
        w->ops_cap = cap;
    }
    struct blend_write_op *op = &w->ops[w->ops_count++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->res = res;
    op->doc = doc;
    return op;
}

/* ---- Opening -------------------------------------------------------------------------------- */

/* Creates every missing directory above the file at path (mkdir -p of its dirname). */
static int make_parent_dirs(const char *path)
{
    char dir[BLEND_PATH_BYTES_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            BLEND_LOG_ERROR("store", "cannot create %s: %s", dir, strerror(errno));
            return BLEND_EIO;
        }
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        BLEND_LOG_ERROR("store", "cannot create %s: %s", dir, strerror(errno));
        return BLEND_EIO;
    }
    return 0;
}

static int parse_url(const char *url, char *path, size_t path_len)
{
    if (!url) {
        return BLEND_EINVAL;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        url += 7;
    }
    if (!url[0] || strcmp(url, ":memory:") == 0 || strncmp(url, "file:", 5) == 0) {
        BLEND_LOG_ERROR("store", "the store needs a file path, not \"%s\"", url);
        return BLEND_EINVAL;
    }
    if (strlen(url) >= path_len) {
        return BLEND_ELIMIT;
    }
    snprintf(path, path_len, "%s", url);
    return 0;
}

static int prepare_writer_statements(struct blend_store *s)
{
    int rc = blend__store_prepare(
        s->wdb, "INSERT INTO events (ts, type, subject, actor, data) VALUES (?, ?, ?, ?, ?)",
        &s->st_event);
    rc = rc ? rc
            : blend__store_prepare(s->wdb,
                                   "INSERT INTO audit_log (ts, actor_id, actor, source, action, "
                                   "resource, resource_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   &s->st_audit);
    return rc;
}

static void *writer_main(void *arg);

static void free_store(struct blend_store *s)
{
    sqlite3_finalize(s->st_event);
    sqlite3_finalize(s->st_audit);
    sqlite3_close_v2(s->wdb);
    sqlite3_close_v2(s->rdb);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_mutex_destroy(&s->mu);
    blend_free(s);
}

int blend_store_open(const struct blend_store_config *cfg, struct blend_store **store_out)
{
    BLEND_ASSERT(cfg && store_out);
    struct blend_store *s = blend_calloc(1, sizeof *s);
    if (!s) {
        return BLEND_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    s->batch_max = cfg->batch_max > 0 && cfg->batch_max <= BLEND_STORE_BATCH_MAX
                       ? cfg->batch_max
                       : BLEND_STORE_BATCH_MAX;
    s->notify = cfg->notify;
    s->notify_arg = cfg->notify_arg;
    int rc = parse_url(cfg->url, s->path, sizeof s->path);
    rc = rc ? rc : make_parent_dirs(s->path);
    rc = rc ? rc : blend__store_db_open(s->path, 0, &s->wdb);
    rc = rc ? rc : blend__store_migrate(s->wdb);
    rc = rc ? rc : blend__store_db_open(s->path, 1, &s->rdb);
    rc = rc ? rc : prepare_writer_statements(s);
    if (rc == 0 && pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        rc = BLEND_EINTERNAL;
    }
    if (rc != 0) {
        free_store(s);
        return rc;
    }
    s->has_thread = 1;
    *store_out = s;
    return 0;
}

void blend_store_close(struct blend_store *s)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->is_closing = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->has_thread) {
        pthread_join(s->thread, NULL);
    }
    BLEND_ASSERT(s->queue_head == NULL);
    while (blend_store_dispatch(s) > 0) {
    }
    free_store(s);
}

/* ---- Queue ---------------------------------------------------------------------------------- */

/* Marks a write submitted by blend_store_write_sync: the writer wakes its waiter itself. */
struct sync_wait {
    int is_done;
};

static void sync_marker(struct blend_write *w, void *arg)
{
    (void)w;
    (void)arg;
    BLEND_ASSERT(0); /* never dispatched */
}

/* Returns 1 when w appends more explicit events than one write may (resource changes append
 * theirs too, but they are bounded by the op cap and are what provisioning is made of). */
static int has_too_many_events(const struct blend_write *w)
{
    int events_count = 0;
    for (int i = 0; i < w->ops_count; i++) {
        events_count += w->ops[i].kind == BLEND_OP_EVENT;
    }
    return events_count > BLEND_STORE_EVENTS_PER_WRITE_MAX;
}

static int enqueue(struct blend_store *s, struct blend_write *w)
{
    if (w->ops_count == 0) {
        return BLEND_EINVAL;
    }
    if (has_too_many_events(w)) {
        return BLEND_ELIMIT;
    }
    blend__store_write_clear_results(w);
    w->rc = 0;
    w->failed_op = -1;
    w->commit_ms = 0;
    w->next = NULL;
    for (int i = 0; i < w->ops_count; i++) {
        w->ops[i].rc = 0;
        w->ops[i].error_field[0] = '\0';
        w->ops[i].error_detail[0] = '\0';
    }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->is_closing) {
        rc = BLEND_ECLOSED;
    } else if (s->queue_count >= BLEND_STORE_QUEUE_MAX) {
        rc = BLEND_ELIMIT;
    } else {
        if (s->queue_tail) {
            s->queue_tail->next = w;
        } else {
            s->queue_head = w;
        }
        s->queue_tail = w;
        s->queue_count++;
        pthread_cond_signal(&s->work_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int blend_store_submit(struct blend_store *s, struct blend_write *w, blend_write_cb cb, void *arg)
{
    BLEND_ASSERT(s && w && cb && cb != sync_marker);
    w->cb = cb;
    w->cb_arg = arg;
    return enqueue(s, w);
}

int blend_store_write_sync(struct blend_store *s, struct blend_write *w)
{
    BLEND_ASSERT(s && w);
    BLEND_ASSERT(!s->has_thread || !pthread_equal(pthread_self(), s->thread));
    struct sync_wait wait = {0};
    w->cb = sync_marker;
    w->cb_arg = &wait;
    int rc = enqueue(s, w);
    if (rc != 0) {
        w->cb = NULL;
        w->cb_arg = NULL;
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    while (!wait.is_done) {
        pthread_cond_wait(&s->done_cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    w->cb = NULL;
    w->cb_arg = NULL;
    return w->rc;
}

int blend_store_dispatch(struct blend_store *s)
{
    BLEND_ASSERT(s);
    pthread_mutex_lock(&s->mu);
    struct blend_write *w = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    int count = 0;
    while (w) {
        struct blend_write *next = w->next;
        w->next = NULL;
        w->cb(w, w->cb_arg); /* may destroy w */
        count++;
        w = next;
    }
    return count;
}

/* ---- Writer thread -------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail_batch(struct blend_write *batch, int rc)
{
    for (struct blend_write *w = batch; w; w = w->next) {
        blend__store_write_clear_results(w);
        if (w->rc == 0) {
            w->rc = rc;
        }
    }
}

/* Runs one batch as one transaction; every write's rc and results are set on return. */
static void run_batch(struct blend_store *s, struct blend_write *batch, int fail_commit)
{
    double t0 = now_ms();
    int rc = blend__store_exec(s->wdb, "BEGIN IMMEDIATE");
    for (struct blend_write *w = batch; rc == 0 && w; w = w->next) {
        rc = blend__store_exec_write(s, w);
    }
    if (rc == 0 && fail_commit) {
        BLEND_LOG_WARN("store", "injected commit failure");
        rc = BLEND_EIO;
    }
    rc = rc ? rc : blend__store_exec(s->wdb, "COMMIT");
    if (rc != 0) {
        if (!sqlite3_get_autocommit(s->wdb)) {
            if (blend__store_exec(s->wdb, "ROLLBACK") != 0) {
                BLEND_LOG_ERROR("store", "rollback failed");
            }
        }
        for (struct blend_write *w = batch; w; w = w->next) {
            w->rc = 0; /* even a write that failed on its own now fails for the commit */
        }
        fail_batch(batch, BLEND_EIO);
    }
    double ms = now_ms() - t0;
    for (struct blend_write *w = batch; w; w = w->next) {
        w->commit_ms = ms;
    }
}

static void account(struct blend_store *s, struct blend_write *batch, double ms)
{
    s->stats.commits++;
    s->stats.commit_ms_sum += ms;
    for (int i = 0; i < 12; i++) {
        if (ms <= blend_store_commit_ms_bounds[i]) {
            s->stats.commit_ms_buckets[i]++;
        }
    }
    for (struct blend_write *w = batch; w; w = w->next) {
        s->stats.writes++;
        s->stats.write_errors += w->rc != 0;
    }
}

/* Hands a finished batch back: sync waiters are woken, the rest wait for dispatch. Returns 1
 * when some write waits for dispatch. Called under mu. */
static int hand_back(struct blend_store *s, struct blend_write *batch)
{
    int has_async = 0;
    while (batch) {
        struct blend_write *w = batch;
        batch = w->next;
        w->next = NULL;
        if (w->cb == sync_marker) {
            ((struct sync_wait *)w->cb_arg)->is_done = 1;
            continue;
        }
        has_async = 1;
        if (s->done_tail) {
            s->done_tail->next = w;
        } else {
            s->done_head = w;
        }
        s->done_tail = w;
    }
    pthread_cond_broadcast(&s->done_cv);
    return has_async;
}

static void *writer_main(void *arg)
{
    struct blend_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->queue_head ? !s->is_closing : (s->is_held && !s->is_closing)) {
            pthread_cond_wait(&s->work_cv, &s->mu);
        }
        if (!s->queue_head) {
            break; /* closing and drained */
        }
        struct blend_write *batch = s->queue_head, *last = batch;
        for (int n = 1; n < s->batch_max && last->next; n++) {
            last = last->next;
        }
        s->queue_head = last->next;
        if (!s->queue_head) {
            s->queue_tail = NULL;
        }
        last->next = NULL;
        for (struct blend_write *w = batch; w; w = w->next) {
            s->queue_count--;
        }
        int fail_commit = s->fail_commits_count > 0;
        s->fail_commits_count -= fail_commit;
        pthread_mutex_unlock(&s->mu);

        run_batch(s, batch, fail_commit);

        pthread_mutex_lock(&s->mu);
        account(s, batch, batch->commit_ms);
        int has_async = hand_back(s, batch);
        if (has_async && s->notify) {
            pthread_mutex_unlock(&s->mu);
            s->notify(s->notify_arg);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- Audit of reads, stats, test hooks ------------------------------------------------------ */

static void audit_done(struct blend_write *w, void *arg)
{
    (void)arg;
    if (w->rc != 0) {
        BLEND_LOG_ERROR("store", "audit entry lost: %s", blend_strerror(w->rc));
    }
    blend_write_destroy(w);
}

int blend_store_audit_read(struct blend_store *s, int64_t actor_id, const char *actor,
                           const char *source, const char *resource, int64_t resource_id,
                           const json_t *detail)
{
    BLEND_ASSERT(s && resource);
    if (!resource[0]) {
        return BLEND_EINVAL;
    }
    struct blend_write *w = blend_write_create();
    json_t *copy = detail ? json_deep_copy(detail) : NULL;
    struct blend_write_op *op =
        w && (copy || !detail) ? blend_write_add(w, BLEND_OP_AUDIT, NULL, copy) : NULL;
    if (!op) {
        if (!w) {
            json_decref(copy);
        }
        blend_write_destroy(w);
        return BLEND_ENOMEM;
    }
    w->actor_id = actor_id;
    snprintf(w->actor, sizeof w->actor, "%s", actor ? actor : "");
    snprintf(w->source, sizeof w->source, "%s", source ? source : "");
    snprintf(op->event_type, sizeof op->event_type, "read");
    snprintf(op->subject, sizeof op->subject, "%s", resource);
    op->id = resource_id;
    int rc = blend_store_submit(s, w, audit_done, NULL);
    if (rc != 0) {
        blend_write_destroy(w);
    }
    return rc;
}

void blend_store_stats(struct blend_store *s, struct blend_store_stats *out)
{
    BLEND_ASSERT(s && out);
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->queue_depth = s->queue_count;
    pthread_mutex_unlock(&s->mu);
}

void blend__store_hold(struct blend_store *s, int is_held)
{
    pthread_mutex_lock(&s->mu);
    s->is_held = is_held;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

void blend__store_fail_commits(struct blend_store *s, int count)
{
    pthread_mutex_lock(&s->mu);
    s->fail_commits_count = count;
    pthread_mutex_unlock(&s->mu);
}
