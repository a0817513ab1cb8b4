/*
 * The prompt service (prompts.h): texts rendered by the espeak-ng CLI into a disk cache, sound
 * files loaded from files_dir, both kept loaded in one LRU, on the server's libuv loop.
 *
 * One `entry` per prompt, found by a BLAKE2b key in a fixed hash table. An entry moves through
 * states: VERSION (waiting for the `espeak-ng --version` probe, part of the disk name) -> CHECK
 * (loading the cached WAV on the thread pool) -> QUEUED (waiting for a render slot) -> RENDER
 * (espeak-ng running, killed at the timeout) -> LOAD (loading the rendered temporary file on the
 * thread pool, renamed to its final name there only when it loaded) -> READY (in the LRU). File
 * entries go straight to LOAD. Requests arriving for an entry that is not READY wait on it, so
 * one preparation serves them all; a failed entry is dropped (a later request retries).
 *
 * Invariants: every accepted request is answered exactly once, through the `done` list that an
 * idle handle drains on a later loop iteration (or with BLEND_ECLOSED inside destroy); an entry
 * is in at most one list (version wait, render queue, LRU); `busy` counts every handle, process
 * and thread-pool job the service still waits for, and after destroy the last of them frees the
 * service.
 */
#include "api/prompts.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/limits.h"
#include "base/log.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32
#define KEY_HEX_BYTES (KEY_BYTES * 2 + 1)
/* Hash table buckets: the LRU holds at most a few thousand prompts; chains stay short. */
#define BUCKETS 1024
/* The first line of `espeak-ng --version` ("eSpeak NG text-to-speech: 1.51  Data at: ..."). */
#define VERSION_BYTES_MAX 256

enum kind { K_TEXT, K_FILE };
enum estate { E_VERSION, E_CHECK, E_QUEUED, E_RENDER, E_LOAD, E_READY };
enum vstate { V_UNKNOWN, V_PROBING, V_KNOWN };

struct request {
    struct request *next;
    struct blend_prompts *ps;
    blend_prompts_cb *cb; /* NULL once answered (a stat cancelled by destroy) */
    void *arg;
    uint64_t token;
    int rc;
    struct blend_media_prompt *prompt; /* the reference handed to cb */
    uv_fs_t fs;                        /* file requests: the stat */
    char *path;                        /* file requests: the full path (owned) */
};

struct rlist {
    struct request *head, *tail;
};

struct entry;
struct elist {
    struct entry *head, *tail;
};

/* One child process: a render, or the version probe (entry NULL, stdout read through `out`). */
struct proc {
    struct proc *pprev, *pnext; /* the service's running processes */
    struct blend_prompts *ps;
    struct entry *entry;
    uv_process_t process;
    uv_timer_t timer;
    uv_pipe_t out;
    int has_pipe;
    int handles_open;
    int spawned, exited, eof, closing;
    int rc; /* spawn error or result */
    int64_t exit_status;
    int term_signal;
    int timed_out;
    char buf[VERSION_BYTES_MAX];
    size_t len;
};

struct entry {
    struct entry *hnext;
    struct entry *prev, *next; /* the one list the entry is in */
    struct blend_prompts *ps;
    uint8_t key[KEY_BYTES];
    enum kind kind;
    enum estate state;
    struct rlist waiters;
    struct blend_media_prompt *prompt; /* READY */
    size_t bytes;
    const char *voice; /* static */
    char *text;        /* K_TEXT (owned) */
    char *path;        /* K_FILE: the sound file; K_TEXT: the final cache file (owned) */
    char *tmp;         /* K_TEXT while rendering and loading: the temporary file (owned) */
    uv_work_t work;
    int in_work; /* submitted to the thread pool (else waiting in load_queue) */
    int load_rc;
    struct blend_media_prompt *loaded;
};

struct blend_prompts {
    uv_loop_t *loop;
    char *cache_dir;
    char *files_dir;
    char *espeak;
    int renders_max;
    int wpm;
    size_t memory_bytes_max;
    uint64_t timeout_ms;

    enum vstate vstate;
    char version[VERSION_BYTES_MAX];
    struct elist version_wait;
    struct elist queue;
    struct elist load_queue; /* CHECK and LOAD entries waiting for the one load slot */
    int loading;             /* a load runs on the thread pool */
    struct elist lru;        /* head = most recently used */
    struct entry *buckets[BUCKETS];
    int renders_running;
    struct proc *procs;
    size_t pending;  /* entries not READY */
    size_t requests; /* requests not yet freed */
    uint64_t tmp_seq;

    uv_idle_t idle;
    struct rlist done;
    struct rlist stating; /* file requests whose stat runs */

    struct blend_prompts_stats stats;
    int closing;
    int busy;
    int warned_cmn; /* the Mandarin quality warning was logged */
};

/* ---- Small lists ------------------------------------------------------------------------- */

static void rlist_push(struct rlist *l, struct request *r)
{
    r->next = NULL;
    if (l->tail) {
        l->tail->next = r;
    } else {
        l->head = r;
    }
    l->tail = r;
}

static struct request *rlist_pop(struct rlist *l)
{
    struct request *r = l->head;
    if (r) {
        l->head = r->next;
        if (!l->head) {
            l->tail = NULL;
        }
        r->next = NULL;
    }
    return r;
}

static void rlist_remove(struct rlist *l, struct request *r)
{
    struct request **pp = &l->head;
    struct request *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    BLEND_ASSERT(*pp == r);
    *pp = r->next;
    if (l->tail == r) {
        l->tail = prev;
    }
    r->next = NULL;
}

static void elist_push_front(struct elist *l, struct entry *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head) {
        l->head->prev = e;
    } else {
        l->tail = e;
    }
    l->head = e;
}

static void elist_push_back(struct elist *l, struct entry *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail) {
        l->tail->next = e;
    } else {
        l->head = e;
    }
    l->tail = e;
}

static void elist_remove(struct elist *l, struct entry *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        BLEND_ASSERT(l->head == e);
        l->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        BLEND_ASSERT(l->tail == e);
        l->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

/* ---- Keys and the table -------------------------------------------------------------------- */

/* Adds one length-prefixed field, so ("ab","c") and ("a","bc") hash differently. */
static void key_add(crypto_generichash_state *st, const void *data, size_t len)
{
    uint8_t n[8];
    for (int i = 0; i < 8; i++) {
        n[i] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    crypto_generichash_update(st, n, sizeof n);
    crypto_generichash_update(st, data, len);
}

static void key_add_str(crypto_generichash_state *st, const char *s)
{
    key_add(st, s, strlen(s));
}

/* The key of a text: in memory without the version (constant while the service runs), on disk
 * with it (a new espeak-ng renders again). */
static void key_text(const struct blend_prompts *ps, const char *voice, const char *text,
                     const char *version, uint8_t key[KEY_BYTES])
{
    crypto_generichash_state st;
    char wpm[16];
    snprintf(wpm, sizeof wpm, "%d", ps->wpm);
    crypto_generichash_init(&st, NULL, 0, KEY_BYTES);
    key_add_str(&st, "blend-tts-1");
    key_add_str(&st, voice);
    key_add_str(&st, wpm);
    key_add_str(&st, version ? version : "");
    key_add_str(&st, text);
    crypto_generichash_final(&st, key, KEY_BYTES);
}

static void key_file(const char *path, const uv_stat_t *sb, uint8_t key[KEY_BYTES])
{
    crypto_generichash_state st;
    char meta[96];
    snprintf(meta, sizeof meta, "%llu %lld.%09ld", (unsigned long long)sb->st_size,
             (long long)sb->st_mtim.tv_sec, (long)sb->st_mtim.tv_nsec);
    crypto_generichash_init(&st, NULL, 0, KEY_BYTES);
    key_add_str(&st, "blend-file-1");
    key_add_str(&st, path);
    key_add_str(&st, meta);
    crypto_generichash_final(&st, key, KEY_BYTES);
}

static size_t bucket_of(const uint8_t key[KEY_BYTES])
{
    return (((size_t)key[0] << 8) | key[1]) % BUCKETS;
}

static struct entry *table_find(struct blend_prompts *ps, const uint8_t key[KEY_BYTES])
{
    for (struct entry *e = ps->buckets[bucket_of(key)]; e; e = e->hnext) {
        if (memcmp(e->key, key, KEY_BYTES) == 0) {
            return e;
        }
    }
    return NULL;
}

static void table_remove(struct blend_prompts *ps, struct entry *e)
{
    struct entry **pp = &ps->buckets[bucket_of(e->key)];
    while (*pp && *pp != e) {
        pp = &(*pp)->hnext;
    }
    BLEND_ASSERT(*pp == e);
    *pp = e->hnext;
    e->hnext = NULL;
}

/* ---- Answers --------------------------------------------------------------------------------- */

static void maybe_free(struct blend_prompts *ps);
static void on_idle(uv_idle_t *h);

static void request_free(struct request *r)
{
    struct blend_prompts *ps = r->ps;
    BLEND_ASSERT(ps->requests > 0);
    ps->requests--;
    blend_free(r->path);
    blend_free(r);
}

/* Queues the answer; the idle handle delivers it on a later iteration. prompt is taken. */
static void answer(struct request *r, int rc, struct blend_media_prompt *prompt)
{
    struct blend_prompts *ps = r->ps;
    BLEND_ASSERT((rc == 0) == (prompt != NULL));
    r->rc = rc;
    r->prompt = prompt;
    rlist_push(&ps->done, r);
    if (!uv_is_active((uv_handle_t *)&ps->idle)) {
        uv_idle_start(&ps->idle, on_idle);
    }
}

static void on_idle(uv_idle_t *h)
{
    struct blend_prompts *ps = h->data;
    while (ps->done.head && !ps->closing) {
        struct request *r = rlist_pop(&ps->done);
        blend_prompts_cb *cb = r->cb;
        void *arg = r->arg;
        uint64_t token = r->token;
        int rc = r->rc;
        struct blend_media_prompt *p = r->prompt;
        request_free(r);
        cb(arg, token, rc, p); /* may call destroy: then closing ends the loop */
    }
    if (!ps->closing && !ps->done.head) {
        uv_idle_stop(&ps->idle);
    }
}

static void entry_free(struct entry *e)
{
    struct blend_prompts *ps = e->ps;
    BLEND_ASSERT(e->waiters.head == NULL);
    if (e->state != E_READY) {
        BLEND_ASSERT(ps->pending > 0);
        ps->pending--;
    }
    blend_media_prompt_free(e->prompt);
    blend_free(e->text);
    blend_free(e->path);
    blend_free(e->tmp);
    blend_free(e);
}

static void lru_evict(struct blend_prompts *ps)
{
    while (ps->stats.memory_bytes > ps->memory_bytes_max && ps->lru.tail) {
        struct entry *e = ps->lru.tail;
        elist_remove(&ps->lru, e);
        table_remove(ps, e);
        ps->stats.memory_bytes -= e->bytes;
        ps->stats.cached--;
        ps->stats.evictions++;
        entry_free(e);
    }
}

/* The entry's prompt is ready (taken): every waiter gets its own reference. */
static void entry_ready(struct entry *e, struct blend_media_prompt *prompt)
{
    struct blend_prompts *ps = e->ps;
    BLEND_ASSERT(e->state != E_READY && prompt != NULL);
    ps->pending--;
    e->state = E_READY;
    e->prompt = prompt;
    e->bytes = blend_media_prompt_frames(prompt) * BLEND_MEDIA_FRAME_BYTES * 2;
    blend_free(e->tmp);
    e->tmp = NULL;
    struct request *r;
    while ((r = rlist_pop(&e->waiters)) != NULL) {
        answer(r, 0, blend_media_prompt_ref(prompt));
    }
    elist_push_front(&ps->lru, e);
    ps->stats.memory_bytes += e->bytes;
    ps->stats.cached++;
    lru_evict(ps);
}

/* The preparation failed: every waiter gets rc, the entry is dropped (a later request retries). */
static void entry_fail(struct entry *e, int rc)
{
    struct blend_prompts *ps = e->ps;
    BLEND_ASSERT(rc < 0 && e->state != E_READY);
    ps->stats.failures++;
    BLEND_LOG_WARN("prompts", "%s %.60s%s: %s", e->kind == K_TEXT ? e->voice : "file",
                   e->kind == K_TEXT ? e->text : e->path, e->waiters.head ? "" : " (prefetch)",
                   blend_errname(rc));
    table_remove(ps, e);
    struct request *r;
    while ((r = rlist_pop(&e->waiters)) != NULL) {
        answer(r, rc, NULL);
    }
    entry_free(e);
}

/* ---- Thread-pool loads ----------------------------------------------------------------------- */

static void load_work(uv_work_t *w)
{
    struct entry *e = w->data;
    if (e->tmp == NULL) {
        e->load_rc = blend_media_prompt_load(e->path, &e->loaded);
        return;
    }
    /* A rendered file goes under its final name only once it loaded: the final name never holds
     * a half or unusable file. rename() replaces a damaged cached file atomically. */
    e->load_rc = blend_media_prompt_load(e->tmp, &e->loaded);
    if (e->load_rc == 0 && rename(e->tmp, e->path) != 0) {
        BLEND_LOG_WARN("prompts", "cache %s not kept: %s", e->path, strerror(errno));
        unlink(e->tmp);
    } else if (e->load_rc != 0) {
        unlink(e->tmp);
    }
}

static void render_enqueue(struct entry *e);
static void load_pump(struct blend_prompts *ps);
static void load_finish(struct entry *e);

static void load_after(uv_work_t *w, int status)
{
    struct entry *e = w->data;
    struct blend_prompts *ps = e->ps;
    ps->busy--;
    ps->loading = 0;
    e->in_work = 0;
    if (ps->closing) {
        if (status == UV_ECANCELED && e->tmp) {
            unlink(e->tmp);
        }
        blend_media_prompt_free(e->loaded);
        entry_free(e);
        maybe_free(ps);
        return;
    }
    BLEND_ASSERT(status == 0);
    load_finish(e);
    load_pump(ps);
}

static void load_finish(struct entry *e)
{
    struct blend_prompts *ps = e->ps;
    struct blend_media_prompt *p = e->loaded;
    e->loaded = NULL;
    if (e->state == E_CHECK) {
        if (e->load_rc == 0) {
            ps->stats.disk_hits++;
            entry_ready(e, p);
        } else if (e->load_rc == BLEND_ENOMEM) {
            entry_fail(e, e->load_rc);
        } else {
            if (e->load_rc != BLEND_ENOENT) {
                BLEND_LOG_WARN("prompts", "cached %s unusable (%s): rendering again", e->path,
                               blend_errname(e->load_rc));
            }
            render_enqueue(e);
        }
        return;
    }
    BLEND_ASSERT(e->state == E_LOAD);
    if (e->load_rc == 0) {
        if (e->kind == K_FILE) {
            ps->stats.file_loads++;
        }
        entry_ready(e, p);
    } else {
        entry_fail(e, e->load_rc);
    }
}

/* One load at a time: libsndfile 1.2.0 keeps error state in globals, and a failing open in one
 * thread was seen to turn a concurrent good load into BLEND_EPARSE (docs/prompts.md). Loads take
 * milliseconds, so a queue costs nothing that matters. */
static void load_pump(struct blend_prompts *ps)
{
    while (!ps->closing && !ps->loading && ps->load_queue.head) {
        struct entry *e = ps->load_queue.head;
        elist_remove(&ps->load_queue, e);
        e->work.data = e;
        e->load_rc = 0;
        e->loaded = NULL;
        if (uv_queue_work(ps->loop, &e->work, load_work, load_after) != 0) {
            entry_fail(e, BLEND_EINTERNAL);
            continue;
        }
        e->in_work = 1;
        ps->loading = 1;
        ps->busy++;
    }
}

static void load_start(struct entry *e, enum estate state)
{
    e->state = state;
    elist_push_back(&e->ps->load_queue, e);
    load_pump(e->ps);
}

/* ---- Processes --------------------------------------------------------------------------- */

static void probe_done(struct blend_prompts *ps, struct proc *p);
static void render_done(struct entry *e, int rc);

static int uv_to_blend(int uverr)
{
    switch (uverr) {
    case UV_ENOENT:
    case UV_ENOTDIR:
        return BLEND_ENOENT;
    case UV_EACCES:
    case UV_EPERM:
        return BLEND_EPERM;
    case UV_ENOMEM:
        return BLEND_ENOMEM;
    default:
        return BLEND_EIO;
    }
}

/* The last handle of a process closed: report and free it. */
static void proc_closed(uv_handle_t *h)
{
    struct proc *p = h->data;
    if (--p->handles_open > 0) {
        return;
    }
    struct blend_prompts *ps = p->ps;
    if (p->pprev) {
        p->pprev->pnext = p->pnext;
    } else {
        ps->procs = p->pnext;
    }
    if (p->pnext) {
        p->pnext->pprev = p->pprev;
    }
    int rc = p->rc;
    if (rc == 0 && (p->timed_out || p->term_signal != 0 || p->exit_status != 0)) {
        rc = BLEND_EIO;
    }
    if (p->timed_out) {
        BLEND_LOG_WARN("prompts", "espeak-ng killed after %llu ms",
                       (unsigned long long)ps->timeout_ms);
    }
    p->rc = rc;
    if (p->entry) {
        render_done(p->entry, rc);
    } else {
        probe_done(ps, p);
    }
    blend_free(p);
    ps->busy--;
    maybe_free(ps);
}

static void proc_close(struct proc *p)
{
    if (p->closing) {
        return;
    }
    p->closing = 1;
    uv_close((uv_handle_t *)&p->process, proc_closed);
    uv_close((uv_handle_t *)&p->timer, proc_closed);
    if (p->has_pipe) {
        uv_close((uv_handle_t *)&p->out, proc_closed);
    }
}

static void proc_on_exit(uv_process_t *h, int64_t exit_status, int term_signal)
{
    struct proc *p = h->data;
    p->exited = 1;
    p->exit_status = exit_status;
    p->term_signal = term_signal;
    /* The probe's output may still be in the pipe: wait for its end (the timer still runs). */
    if (!p->has_pipe || p->eof) {
        proc_close(p);
    }
}

static void proc_on_timer(uv_timer_t *h)
{
    struct proc *p = h->data;
    p->timed_out = 1;
    if (p->exited) {
        proc_close(p); /* exited, but something else holds the pipe open */
    } else {
        uv_process_kill(&p->process, SIGKILL);
    }
}

static void proc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct proc *p = h->data;
    size_t room = sizeof p->buf - 1 - p->len;
    *buf = uv_buf_init(p->buf + p->len, (unsigned)room);
}

static void proc_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct proc *p = s->data;
    if (nread > 0) {
        p->len += (size_t)nread;
    }
    if (nread < 0 || p->len + 1 >= sizeof p->buf) {
        uv_read_stop(s);
        p->eof = 1;
        if (p->exited) {
            proc_close(p);
        }
    }
}

/* Starts a child (args borrowed for the call). A spawn failure is reported like an exit, from
 * the close callbacks, so no answer ever runs inside the caller. Errors: BLEND_ENOMEM only. */
static int proc_spawn(struct blend_prompts *ps, struct entry *e, char **args, int with_pipe)
{
    struct proc *p = blend_calloc(1, sizeof *p);
    if (p == NULL) {
        return BLEND_ENOMEM;
    }
    p->pnext = ps->procs;
    if (ps->procs) {
        ps->procs->pprev = p;
    }
    ps->procs = p;
    p->ps = ps;
    p->entry = e;
    p->has_pipe = with_pipe;
    p->process.data = p->timer.data = p->out.data = p;
    uv_timer_init(ps->loop, &p->timer);
    p->handles_open = 2;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
    if (with_pipe) {
        uv_pipe_init(ps->loop, &p->out, 0);
        p->handles_open = 3;
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *)&p->out;
    }
    uv_process_options_t opt = {
        .file = args[0], .args = args, .exit_cb = proc_on_exit, .stdio_count = 3, .stdio = stdio};
    ps->busy++;
    int err = uv_spawn(ps->loop, &p->process, &opt);
    if (err != 0) {
        p->rc = uv_to_blend(err);
        proc_close(p);
        return 0;
    }
    p->spawned = 1;
    uv_timer_start(&p->timer, proc_on_timer, ps->timeout_ms, 0);
    if (with_pipe && uv_read_start((uv_stream_t *)&p->out, proc_alloc, proc_on_read) != 0) {
        p->eof = 1;
    }
    return 0;
}

/* Kills a child during destroy (its exit callback then closes it). */
static void proc_abort(struct proc *p)
{
    if (p->closing) {
        return;
    }
    if (p->exited) {
        proc_close(p);
    } else if (p->spawned) {
        uv_process_kill(&p->process, SIGKILL);
    }
}

/* ---- The version probe --------------------------------------------------------------------- */

/* The text entry can look for its file in the disk cache: the version is known. */
static void entry_check(struct entry *e)
{
    struct blend_prompts *ps = e->ps;
    BLEND_ASSERT(ps->vstate == V_KNOWN && e->kind == K_TEXT);
    uint8_t disk[KEY_BYTES];
    char hex[KEY_HEX_BYTES];
    key_text(ps, e->voice, e->text, ps->version, disk);
    sodium_bin2hex(hex, sizeof hex, disk, sizeof disk);
    size_t len = strlen(ps->cache_dir) + 1 + strlen(hex) + sizeof ".wav";
    e->path = blend_malloc(len);
    if (e->path == NULL) {
        entry_fail(e, BLEND_ENOMEM);
        return;
    }
    snprintf(e->path, len, "%s/%s.wav", ps->cache_dir, hex);
    load_start(e, E_CHECK);
}

/* The probe ended (rc 0: ps->version is set): the entries waiting for it go on or fail. */
static void version_resolved(struct blend_prompts *ps, int rc)
{
    if (rc == 0) {
        ps->vstate = V_KNOWN;
        BLEND_LOG_INFO("prompts", "text to speech: %s", ps->version);
    } else {
        ps->vstate = V_UNKNOWN; /* the next text request probes again */
        BLEND_LOG_WARN("prompts", "espeak-ng %s unusable: %s", ps->espeak, blend_errname(rc));
    }
    struct entry *e;
    while ((e = ps->version_wait.head) != NULL) {
        elist_remove(&ps->version_wait, e);
        if (rc != 0) {
            entry_fail(e, rc);
        } else {
            entry_check(e);
        }
    }
}

static void probe_start(struct blend_prompts *ps)
{
    BLEND_ASSERT(ps->vstate == V_UNKNOWN);
    ps->vstate = V_PROBING;
    ps->stats.probes++;
    char *args[] = {ps->espeak, "--version", NULL};
    if (proc_spawn(ps, NULL, args, 1) != 0) {
        version_resolved(ps, BLEND_ENOMEM);
    }
}

static void probe_done(struct blend_prompts *ps, struct proc *p)
{
    int rc = p->rc;
    if (rc == 0) {
        p->buf[p->len] = '\0';
        size_t n = strcspn(p->buf, "\r\n");
        while (n > 0 && (p->buf[n - 1] == ' ' || p->buf[n - 1] == '\t')) {
            n--;
        }
        p->buf[n] = '\0';
        rc = n > 0 ? 0 : BLEND_EIO;
    }
    if (ps->closing) {
        return;
    }
    if (rc == 0) {
        snprintf(ps->version, sizeof ps->version, "%s", p->buf);
    }
    version_resolved(ps, rc);
}

/* ---- Renders ------------------------------------------------------------------------------- */

static void render_start(struct entry *e)
{
    struct blend_prompts *ps = e->ps;
    size_t len = strlen(e->path) + 64;
    e->tmp = blend_malloc(len);
    if (e->tmp == NULL) {
        entry_fail(e, BLEND_ENOMEM);
        return;
    }
    /* Temporary name: unique per process and render, never the final name. */
    snprintf(e->tmp, len, "%.*s.%ld-%llu.tmp", (int)(strlen(e->path) - 4), e->path, (long)getpid(),
             (unsigned long long)++ps->tmp_seq);
    char wpm[16];
    snprintf(wpm, sizeof wpm, "%d", ps->wpm);
    char *args[12];
    int n = 0;
    args[n++] = ps->espeak;
    args[n++] = "-v";
    args[n++] = (char *)e->voice;
    if (ps->wpm > 0) {
        args[n++] = "-s";
        args[n++] = wpm;
    }
    args[n++] = "-w";
    args[n++] = e->tmp;
    args[n++] = "--"; /* a text starting with '-' is text, not an option */
    args[n++] = e->text;
    args[n] = NULL;
    if (strcmp(e->voice, "cmn") == 0 && !ps->warned_cmn) {
        ps->warned_cmn = 1;
        BLEND_LOG_WARN("prompts", "espeak-ng's Mandarin (cmn) reads many characters as English-"
                                  "spelled pinyin with tone digits: prefer recorded prompts");
    }
    e->state = E_RENDER;
    if (proc_spawn(ps, e, args, 0) != 0) {
        e->state = E_QUEUED; /* never started: not a render */
        entry_fail(e, BLEND_ENOMEM);
        return;
    }
    ps->renders_running++;
    ps->stats.renders++;
}

static void render_pump(struct blend_prompts *ps)
{
    while (!ps->closing && ps->renders_running < ps->renders_max && ps->queue.head) {
        struct entry *e = ps->queue.head;
        elist_remove(&ps->queue, e);
        render_start(e);
    }
}

static void render_enqueue(struct entry *e)
{
    e->state = E_QUEUED;
    elist_push_back(&e->ps->queue, e);
    render_pump(e->ps);
}

static void render_done(struct entry *e, int rc)
{
    struct blend_prompts *ps = e->ps;
    BLEND_ASSERT(e->state == E_RENDER && ps->renders_running > 0);
    ps->renders_running--;
    if (ps->closing || rc != 0) {
        unlink(e->tmp);
        if (ps->closing) {
            entry_free(e);
        } else {
            entry_fail(e, rc);
        }
    } else {
        load_start(e, E_LOAD);
    }
    render_pump(ps);
}

/* ---- Requests ------------------------------------------------------------------------------ */

static int request_new(struct blend_prompts *ps, blend_prompts_cb *cb, void *arg, uint64_t token,
                       struct request **out)
{
    if (ps->requests >= BLEND_PROMPTS_REQUESTS_MAX) {
        return BLEND_ELIMIT;
    }
    struct request *r = blend_calloc(1, sizeof *r);
    if (r == NULL) {
        return BLEND_ENOMEM;
    }
    r->ps = ps;
    r->cb = cb;
    r->arg = arg;
    r->token = token;
    ps->requests++;
    *out = r;
    return 0;
}

/* Serves r (may be NULL: a prefetch) from an existing entry. Returns 1 when it did. */
static int join_entry(struct blend_prompts *ps, struct entry *e, struct request *r)
{
    if (e == NULL) {
        return 0;
    }
    if (e->state == E_READY) {
        elist_remove(&ps->lru, e);
        elist_push_front(&ps->lru, e);
        if (r) {
            ps->stats.memory_hits++;
            answer(r, 0, blend_media_prompt_ref(e->prompt));
        }
    } else if (r) {
        ps->stats.joined++;
        rlist_push(&e->waiters, r);
    }
    return 1;
}

static struct entry *entry_new(struct blend_prompts *ps, enum kind kind,
                               const uint8_t key[KEY_BYTES])
{
    if (ps->pending >= BLEND_PROMPTS_PENDING_MAX) {
        return NULL;
    }
    struct entry *e = blend_calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    e->ps = ps;
    e->kind = kind;
    memcpy(e->key, key, KEY_BYTES);
    e->state = E_VERSION;
    ps->pending++;
    size_t b = bucket_of(key);
    e->hnext = ps->buckets[b];
    ps->buckets[b] = e;
    return e;
}

static int text_valid(const char *text)
{
    size_t len = strnlen(text, BLEND_PROMPTS_TEXT_BYTES_MAX + 1);
    if (len == 0 || len > BLEND_PROMPTS_TEXT_BYTES_MAX) {
        return 0;
    }
    if (strspn(text, " \t\r\n\v\f") == len) {
        return 0;
    }
    /* jansson checks UTF-8 when it makes a string: no hand-written decoder. */
    json_t *s = json_stringn(text, len);
    if (s == NULL) {
        return 0;
    }
    json_decref(s);
    return 1;
}

static int text_request(struct blend_prompts *ps, const char *language, const char *text,
                        struct request *r)
{
    const char *voice = blend__prompts_voice(language);
    if (voice == NULL || text == NULL || !text_valid(text)) {
        return BLEND_EINVAL;
    }
    uint8_t key[KEY_BYTES];
    key_text(ps, voice, text, NULL, key);
    if (join_entry(ps, table_find(ps, key), r)) {
        return 0;
    }
    if (ps->pending >= BLEND_PROMPTS_PENDING_MAX) {
        return BLEND_ELIMIT;
    }
    char *copy = blend_strdup(text);
    struct entry *e = copy ? entry_new(ps, K_TEXT, key) : NULL;
    if (e == NULL) {
        blend_free(copy);
        return BLEND_ENOMEM;
    }
    e->voice = voice;
    e->text = copy;
    if (r) {
        rlist_push(&e->waiters, r);
    }
    if (ps->vstate == V_KNOWN) {
        entry_check(e);
        return 0;
    }
    elist_push_back(&ps->version_wait, e);
    if (ps->vstate == V_UNKNOWN) {
        probe_start(ps);
    }
    return 0;
}

int blend__prompts_text(struct blend_prompts *ps, const char *language, const char *text,
                        blend_prompts_cb *cb, void *arg, uint64_t token)
{
    BLEND_ASSERT(ps != NULL && cb != NULL);
    if (ps->closing) {
        return BLEND_ECLOSED;
    }
    struct request *r;
    int err = request_new(ps, cb, arg, token, &r);
    if (err != 0) {
        return err;
    }
    err = text_request(ps, language, text, r);
    if (err != 0) {
        request_free(r);
    }
    return err;
}

int blend__prompts_prefetch(struct blend_prompts *ps, const char *language, const char *text)
{
    BLEND_ASSERT(ps != NULL);
    if (ps->closing) {
        return BLEND_ECLOSED;
    }
    return text_request(ps, language, text, NULL);
}

/* ---- Files --------------------------------------------------------------------------------- */

/* Relative, no ".." component, not empty. */
static int file_path_valid(const char *path)
{
    if (path == NULL || path[0] == '\0' || path[0] == '/') {
        return 0;
    }
    const char *s = path;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            return 0;
        }
        s += n;
        s += (*s == '/');
    }
    return 1;
}

static void file_stat_done(uv_fs_t *fs)
{
    struct request *r = fs->data;
    struct blend_prompts *ps = r->ps;
    ps->busy--;
    int result = (int)fs->result;
    uv_stat_t sb = fs->statbuf;
    uv_fs_req_cleanup(fs);
    if (r->cb == NULL) { /* answered by destroy */
        request_free(r);
        maybe_free(ps);
        return;
    }
    rlist_remove(&ps->stating, r);
    int rc = result < 0 ? uv_to_blend(result) : 0;
    if (rc == 0 && !S_ISREG(sb.st_mode)) {
        rc = BLEND_EIO;
    }
    if (rc != 0) {
        ps->stats.failures++;
        answer(r, rc, NULL);
        return;
    }
    uint8_t key[KEY_BYTES];
    key_file(r->path, &sb, key);
    if (join_entry(ps, table_find(ps, key), r)) {
        return;
    }
    struct entry *e = entry_new(ps, K_FILE, key);
    if (e == NULL) {
        answer(r, ps->pending >= BLEND_PROMPTS_PENDING_MAX ? BLEND_ELIMIT : BLEND_ENOMEM, NULL);
        return;
    }
    e->path = r->path;
    r->path = NULL;
    rlist_push(&e->waiters, r);
    load_start(e, E_LOAD);
}

int blend__prompts_file(struct blend_prompts *ps, const char *path, blend_prompts_cb *cb, void *arg,
                        uint64_t token)
{
    BLEND_ASSERT(ps != NULL && cb != NULL);
    if (ps->closing) {
        return BLEND_ECLOSED;
    }
    if (!file_path_valid(path)) {
        return BLEND_EINVAL;
    }
    const char *base = ps->files_dir ? ps->files_dir : ".";
    size_t len = strlen(base) + 1 + strlen(path) + 1;
    if (len > BLEND_PATH_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    struct request *r;
    int err = request_new(ps, cb, arg, token, &r);
    if (err != 0) {
        return err;
    }
    r->path = blend_malloc(len);
    if (r->path == NULL) {
        request_free(r);
        return BLEND_ENOMEM;
    }
    snprintf(r->path, len, "%s/%s", base, path);
    r->fs.data = r;
    if (uv_fs_stat(ps->loop, &r->fs, r->path, file_stat_done) != 0) {
        request_free(r);
        return BLEND_EINTERNAL;
    }
    ps->busy++;
    rlist_push(&ps->stating, r);
    return 0;
}

/* ---- Voices ---------------------------------------------------------------------------------- */

struct voice_map {
    const char *tag;
    const char *voice;
};

/* Tags espeak-ng 1.51 has a voice for, and the nearest voice for common tags it has none for. */
static const struct voice_map voices[] = {
    {"en", "en-us"},
    {"en-us", "en-us"},
    {"en-ca", "en-us"},
    {"en-us-nyc", "en-us-nyc"},
    {"en-gb", "en-gb"},
    {"en-uk", "en-gb"},
    {"en-au", "en-gb"},
    {"en-nz", "en-gb"},
    {"en-ie", "en-gb"},
    {"en-za", "en-gb"},
    {"en-in", "en-gb"},
    {"en-gb-scotland", "en-gb-scotland"},
    {"en-gb-x-rp", "en-gb-x-rp"},
    {"en-gb-x-gbclan", "en-gb-x-gbclan"},
    {"en-gb-x-gbcwmd", "en-gb-x-gbcwmd"},
    {"en-029", "en-029"},
    {"ko", "ko"},
    {"ko-kr", "ko"},
    {"zh", "cmn"},
    {"cmn", "cmn"},
    {"zh-cn", "cmn"},
    {"zh-cmn", "cmn"},
    {"zh-hans", "cmn"},
    {"zh-hans-cn", "cmn"},
    {"zh-sg", "cmn"},
    {"zh-tw", "cmn"},
    {"yue", "yue"},
    {"zh-yue", "yue"},
    {"zh-hk", "yue"},
    {"zh-mo", "yue"},
    {"zh-hant-hk", "yue"},
};

const char *blend__prompts_voice(const char *language)
{
    if (language == NULL) {
        return NULL;
    }
    char tag[BLEND_PROMPTS_LANGUAGE_BYTES_MAX + 1];
    size_t n = 0;
    for (; language[n] != '\0'; n++) {
        if (n == BLEND_PROMPTS_LANGUAGE_BYTES_MAX) {
            return NULL;
        }
        char c = language[n];
        tag[n] = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    tag[n] = '\0';
    for (size_t i = 0; i < sizeof voices / sizeof voices[0]; i++) {
        if (strcmp(tag, voices[i].tag) == 0) {
            return voices[i].voice;
        }
    }
    /* Any other English variant: the American voice. */
    if (strncmp(tag, "en-", 3) == 0 && tag[3] != '\0') {
        return "en-us";
    }
    return NULL;
}

/* ---- Lifecycle ------------------------------------------------------------------------------- */

static int make_dir(const char *path)
{
    if (mkdir(path, 0750) == 0) {
        return 0;
    }
    struct stat sb;
    if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        return 0;
    }
    BLEND_LOG_ERROR("prompts", "cache directory %s: %s", path, strerror(errno));
    return BLEND_EIO;
}

static int config_check(const struct blend_prompts_config *cfg)
{
    if (cfg->loop == NULL || cfg->cache_dir == NULL || cfg->cache_dir[0] == '\0') {
        return BLEND_EINVAL;
    }
    if (strlen(cfg->cache_dir) > BLEND_PATH_BYTES_MAX - 128 ||
        (cfg->files_dir && strlen(cfg->files_dir) >= BLEND_PATH_BYTES_MAX)) {
        return BLEND_EINVAL;
    }
    if (cfg->renders_max < 0 || cfg->renders_max > BLEND_PROMPTS_RENDERS_MAX ||
        cfg->memory_bytes_max > BLEND_PROMPTS_MEMORY_BYTES_MAX ||
        cfg->render_timeout_ms > BLEND_PROMPTS_RENDER_TIMEOUT_MS) {
        return BLEND_EINVAL;
    }
    if (cfg->words_per_minute != 0 && (cfg->words_per_minute < BLEND_PROMPTS_WPM_MIN ||
                                       cfg->words_per_minute > BLEND_PROMPTS_WPM_MAX)) {
        return BLEND_EINVAL;
    }
    return 0;
}

static void ps_free_now(struct blend_prompts *ps)
{
    blend_free(ps->cache_dir);
    blend_free(ps->files_dir);
    blend_free(ps->espeak);
    blend_free(ps);
}

int blend__prompts_create(const struct blend_prompts_config *cfg, struct blend_prompts **out)
{
    BLEND_ASSERT(cfg != NULL && out != NULL);
    int err = config_check(cfg);
    if (err != 0) {
        return err;
    }
    if (sodium_init() < 0) {
        return BLEND_EINTERNAL;
    }
    struct blend_prompts *ps = blend_calloc(1, sizeof *ps);
    if (ps == NULL) {
        return BLEND_ENOMEM;
    }
    ps->loop = cfg->loop;
    ps->cache_dir = blend_strdup(cfg->cache_dir);
    ps->files_dir = cfg->files_dir ? blend_strdup(cfg->files_dir) : NULL;
    ps->espeak = blend_strdup(cfg->espeak_path ? cfg->espeak_path : "espeak-ng");
    if (!ps->cache_dir || !ps->espeak || (cfg->files_dir && !ps->files_dir)) {
        ps_free_now(ps);
        return BLEND_ENOMEM;
    }
    ps->renders_max = cfg->renders_max ? cfg->renders_max : BLEND_PROMPTS_RENDERS_DEFAULT;
    ps->memory_bytes_max =
        cfg->memory_bytes_max ? cfg->memory_bytes_max : BLEND_PROMPTS_MEMORY_BYTES_DEFAULT;
    ps->wpm = cfg->words_per_minute;
    ps->timeout_ms =
        cfg->render_timeout_ms ? cfg->render_timeout_ms : BLEND_PROMPTS_RENDER_TIMEOUT_MS;
    err = make_dir(ps->cache_dir);
    if (err != 0) {
        ps_free_now(ps);
        return err;
    }
    uv_idle_init(ps->loop, &ps->idle);
    ps->idle.data = ps;
    ps->busy = 1; /* the idle handle, until its close callback */
    probe_start(ps);
    *out = ps;
    return 0;
}

static void maybe_free(struct blend_prompts *ps)
{
    if (ps->closing && ps->busy == 0) {
        BLEND_ASSERT(ps->requests == 0 && ps->pending == 0);
        ps_free_now(ps);
    }
}

static void idle_closed(uv_handle_t *h)
{
    struct blend_prompts *ps = h->data;
    ps->busy--;
    maybe_free(ps);
}

/* Answers every waiting request with BLEND_ECLOSED, now. */
static void destroy_answer_all(struct blend_prompts *ps)
{
    struct request *r;
    while ((r = rlist_pop(&ps->done)) != NULL) {
        blend_media_prompt_free(r->prompt);
        blend_prompts_cb *cb = r->cb;
        void *arg = r->arg;
        uint64_t token = r->token;
        request_free(r);
        cb(arg, token, BLEND_ECLOSED, NULL);
    }
    while ((r = rlist_pop(&ps->stating)) != NULL) {
        blend_prompts_cb *cb = r->cb;
        r->cb = NULL; /* freed by the stat's callback */
        uv_cancel((uv_req_t *)&r->fs);
        cb(r->arg, r->token, BLEND_ECLOSED, NULL);
    }
    for (size_t b = 0; b < BUCKETS; b++) {
        for (struct entry *e = ps->buckets[b]; e; e = e->hnext) {
            while ((r = rlist_pop(&e->waiters)) != NULL) {
                blend_prompts_cb *cb = r->cb;
                void *arg = r->arg;
                uint64_t token = r->token;
                request_free(r);
                cb(arg, token, BLEND_ECLOSED, NULL);
            }
        }
    }
}

/* Drops every entry; those a process or a thread-pool job owns are freed when it ends. */
static void destroy_entries(struct blend_prompts *ps)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        struct entry *e;
        while ((e = ps->buckets[b]) != NULL) {
            ps->buckets[b] = e->hnext;
            e->hnext = NULL;
            switch (e->state) {
            case E_READY:
                elist_remove(&ps->lru, e);
                ps->stats.memory_bytes -= e->bytes;
                ps->stats.cached--;
                entry_free(e);
                break;
            case E_VERSION:
                elist_remove(&ps->version_wait, e);
                entry_free(e);
                break;
            case E_QUEUED:
                elist_remove(&ps->queue, e);
                entry_free(e);
                break;
            case E_CHECK:
            case E_LOAD:
                if (e->in_work) {
                    uv_cancel((uv_req_t *)&e->work); /* load_after frees it either way */
                } else {
                    elist_remove(&ps->load_queue, e);
                    if (e->tmp) {
                        unlink(e->tmp); /* a rendered file never loaded */
                    }
                    entry_free(e);
                }
                break;
            case E_RENDER:
                break; /* killed below; render_done frees it */
            }
        }
    }
}

void blend__prompts_destroy(struct blend_prompts *ps)
{
    if (ps == NULL) {
        return;
    }
    BLEND_ASSERT(!ps->closing);
    ps->closing = 1;
    destroy_answer_all(ps);
    destroy_entries(ps);
    for (struct proc *p = ps->procs; p; p = p->pnext) {
        proc_abort(p);
    }
    uv_idle_stop(&ps->idle);
    uv_close((uv_handle_t *)&ps->idle, idle_closed);
}

void blend__prompts_stats(const struct blend_prompts *ps, struct blend_prompts_stats *out)
{
    BLEND_ASSERT(ps != NULL && out != NULL);
    *out = ps->stats;
}
