/*
 * Store append benchmark: how many durable events per second the writer sustains with group
 * commit, against one fsync per write (batch_max = 1).
 *
 * Usage: bench_store DIR [--events N]   (N defaults to 5000; DIR gets one database per run)
 *
 * 64 "clients" keep 64 writes in flight: each write appends one event; when its callback runs,
 * the same client submits its next write, until N writes were acknowledged. Completions are
 * driven the way the server drives them: the writer's notify hook wakes this (main) thread,
 * which calls blend_store_dispatch() to run the callbacks. That measures the store as the main
 * loop sees it, without 64 threads' scheduling noise; latency is submit-to-callback (so it
 * includes the queueing behind other writes, which is what a client waits for).
 *
 * Output, one line each:
 *   store.append.group events/s=... p99_ms=...
 *   store.append.single events/s=... p99_ms=...
 *   store.append.ratio group/single=...
 */
#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 64
#define EVENTS_DEFAULT 5000
#define EVENTS_MAX 10000000

struct run {
    struct blend_store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int is_notified;
    long submitted, done, total, failed;
    double *latency_ms; /* one per write, by completion order */
    double submit_ms[CLIENTS];
};

struct client {
    struct run *run;
    int index;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_notify(void *arg)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    r->is_notified = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_done(struct blend_write *w, void *arg);

static int submit(struct run *r, struct blend_write *w, struct client *c)
{
    r->submit_ms[c->index] = now_ms();
    r->submitted++;
    return blend_store_submit(r->s, w, on_done, c);
}

static void on_done(struct blend_write *w, void *arg)
{
    struct client *c = arg;
    struct run *r = c->run;
    r->latency_ms[r->done++] = now_ms() - r->submit_ms[c->index];
    r->failed += w->rc != 0;
    if (r->submitted < r->total && submit(r, w, c) == 0) {
        return;
    }
    blend_write_destroy(w);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct blend_write *event_write(int client)
{
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w ? blend_write_add(w, BLEND_OP_EVENT, NULL, json_pack("{s:i}", "client", client)) : NULL;
    if (!op) {
        blend_write_destroy(w);
        return NULL;
    }
    snprintf(op->event_type, sizeof op->event_type, "bench.append");
    snprintf(op->subject, sizeof op->subject, "clients/%d", client);
    return w;
}

/* Runs one measurement; returns 0 and the rate and p99, or -1. */
static int run_once(const char *dir, const char *name, int batch_max, long events, double *rate_out,
                    double *p99_out)
{
    char url[BLEND_PATH_BYTES_MAX];
    snprintf(url, sizeof url, "sqlite:%s/%s.db", dir, name);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) { /* a fresh database for every run */
        char file[BLEND_PATH_BYTES_MAX + 8];
        snprintf(file, sizeof file, "%s/%s.db%s", dir, name, suffix[i]);
        unlink(file);
    }
    static struct run r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.total = events;
    r.latency_ms = calloc((size_t)events, sizeof(double));
    struct blend_store_config cfg = {
        .url = url, .batch_max = batch_max, .notify = on_notify, .notify_arg = &r};
    if (!r.latency_ms || blend_store_open(&cfg, &r.s) != 0) {
        fprintf(stderr, "cannot open %s\n", url);
        free(r.latency_ms);
        return -1;
    }
    struct client clients[CLIENTS];
    double t0 = now_ms();
    for (int i = 0; i < CLIENTS && r.submitted < r.total; i++) {
        clients[i] = (struct client){.run = &r, .index = i};
        struct blend_write *w = event_write(i);
        if (!w || submit(&r, w, &clients[i]) != 0) {
            fprintf(stderr, "submit failed\n");
            blend_write_destroy(w);
            r.total = r.submitted - 1;
            break;
        }
    }
    while (r.done < r.total) {
        pthread_mutex_lock(&r.mu);
        while (!r.is_notified) {
            pthread_cond_wait(&r.cv, &r.mu);
        }
        r.is_notified = 0;
        pthread_mutex_unlock(&r.mu);
        blend_store_dispatch(r.s);
    }
    double elapsed_ms = now_ms() - t0;
    blend_store_close(r.s);
    qsort(r.latency_ms, (size_t)r.done, sizeof(double), cmp_double);
    long p99 = r.done ? (long)((double)(r.done - 1) * 0.99) : 0;
    *rate_out = (double)r.done / (elapsed_ms / 1e3);
    *p99_out = r.done ? r.latency_ms[p99] : 0;
    int rc = r.failed || r.done != events ? -1 : 0;
    if (rc != 0) {
        fprintf(stderr, "%s: %ld of %ld writes failed\n", name, r.failed, r.done);
    }
    free(r.latency_ms);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long events = EVENTS_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            events = strtol(argv[++i], NULL, 10);
        } else if (!dir) {
            dir = argv[i];
        } else {
            dir = NULL;
            break;
        }
    }
    if (!dir || events < 1 || events > EVENTS_MAX) {
        fprintf(stderr, "usage: bench_store DIR [--events N]  (1 <= N <= %d)\n", EVENTS_MAX);
        return 2;
    }
    json_set_alloc_funcs(blend_malloc, blend_free);
    blend_log_set_level(BLEND_LOG_WARN);
    mkdir(dir, 0700);
    double group_rate, group_p99, single_rate, single_p99;
    if (run_once(dir, "group", 0, events, &group_rate, &group_p99) != 0 ||
        run_once(dir, "single", 1, events, &single_rate, &single_p99) != 0) {
        return 1;
    }
    printf("store.append.group events/s=%.0f p99_ms=%.2f\n", group_rate, group_p99);
    printf("store.append.single events/s=%.0f p99_ms=%.2f\n", single_rate, single_p99);
    printf("store.append.ratio group/single=%.2f\n", group_rate / single_rate);
    return 0;
}
