/*
 * Helpers shared by the store tests: a temporary directory per test, opening a store in it, and
 * one-op synchronous writes. Header-only (static functions) because CMake builds each test_*.c
 * as its own executable.
 */
#ifndef BLEND_TESTS_STORE_TEST_UTIL_H
#define BLEND_TESTS_STORE_TEST_UTIL_H

#include "base/alloc.h"
#include "base/error.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

struct tenv {
    char dir[64];
    char path[128];
    struct blend_store *s;
};

static void tenv_remove(struct tenv *t)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    char sub[96];
    snprintf(sub, sizeof sub, "%s/data", t->dir);
    rmdir(sub);
    rmdir(t->dir);
}

/* Makes a fresh directory; the database goes to DIR/data/blend.db (data/ does not exist yet, so
 * every open also tests that the store creates it). */
static void tenv_init(struct tenv *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/blend-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/data/blend.db", t->dir);
}

static int tenv_open_cfg(struct tenv *t, int batch_max, void (*notify)(void *), void *arg)
{
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s", t->path);
    struct blend_store_config cfg = {
        .url = url, .batch_max = batch_max, .notify = notify, .notify_arg = arg};
    return blend_store_open(&cfg, &t->s);
}

static void tenv_open(struct tenv *t)
{
    assert_int_equal(tenv_open_cfg(t, 0, NULL, NULL), 0);
    assert_non_null(t->s);
}

static void tenv_close(struct tenv *t)
{
    blend_store_close(t->s);
    t->s = NULL;
}

static void tenv_deinit(struct tenv *t)
{
    if (t->s) {
        tenv_close(t);
    }
    tenv_remove(t);
}

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    if (!v) {
        fail_msg("bad JSON in test: %s: %s", text, err.text);
    }
    return v;
}

/* A write of one op (doc taken), run synchronously; returns the write (destroy it). */
static struct blend_write *one_op(struct blend_store *s, enum blend_op_kind kind,
                                  const struct blend_resource *res, int64_t id, int64_t if_version,
                                  json_t *doc, const char *actor)
{
    struct blend_write *w = blend_write_create();
    assert_non_null(w);
    struct blend_write_op *op = blend_write_add(w, kind, res, doc);
    assert_non_null(op);
    op->id = id;
    op->if_version = if_version;
    snprintf(w->actor, sizeof w->actor, "%s", actor ? actor : "");
    (void)blend_store_write_sync(s, w);
    return w;
}

/* Runs one op and returns its rc; *id_out (optional) gets the row id. */
static int run1(struct blend_store *s, enum blend_op_kind kind, const struct blend_resource *res,
                int64_t id, json_t *doc, int64_t *id_out)
{
    struct blend_write *w = one_op(s, kind, res, id, 0, doc, NULL);
    int rc = w->rc;
    if (id_out) {
        *id_out = w->ops[0].id_out;
    }
    blend_write_destroy(w);
    return rc;
}

#endif
