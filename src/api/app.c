/*
 * The app's core: creation and teardown, the before hook (authentication and role check),
 * principals from tokens, and the shared helpers handlers use to submit writes and answer
 * errors. Everything runs on the loop thread; the only other threads involved are the store's
 * writer (which wakes us through the notify hook) and the thread pool (password hashing).
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/limits.h"
#include "base/log.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t blend__now_ms(const struct blend_app *app)
{
    uv_update_time(app->loop); /* the cached loop time is stale after a long poll */
    return (int64_t)uv_now(app->loop);
}

int64_t blend__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void blend__iso_of_ms(int64_t ms, char out[BLEND__ISO_BYTES])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, BLEND__ISO_BYTES, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void blend__wall_iso(char out[BLEND__ISO_BYTES])
{
    blend__iso_of_ms(blend__wall_ms(), out);
}

int64_t blend__parse_id(const char *s)
{
    if (!s || !*s || strlen(s) > 18) {
        return 0;
    }
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

int blend__page_params(struct blend_http_req *req, int *limit, int64_t *after)
{
    const char *l = blend_http_req_query(req, "limit");
    const char *c = blend_http_req_query(req, "cursor");
    *limit = BLEND_API_PAGE_DEFAULT;
    *after = 0;
    if (l) {
        int64_t v = blend__parse_id(l);
        if (v < 1 || v > BLEND_API_PAGE_MAX) {
            blend_http_respond_error(req, 400, "bad_request", "limit must be 1..500", NULL);
            return -1;
        }
        *limit = (int)v;
    }
    if (c) {
        *after = blend__parse_id(c);
        if (*after <= 0) {
            blend_http_respond_error(req, 400, "bad_request", "cursor is not valid", NULL);
            return -1;
        }
    }
    return 0;
}

void blend__respond_page(struct blend_http_req *req, json_t *items, int64_t next)
{
    json_t *cursor = json_null();
    if (next != 0) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, next);
        cursor = json_string(buf);
    }
    blend_http_respond_json(req, 200,
                            json_pack("{s:o, s:o}", "items", items, "next_cursor", cursor));
}

int64_t blend__if_match(struct blend_http_req *req)
{
    const char *h = blend_http_req_header(req, "If-Match");
    if (!h) {
        return 0;
    }
    char buf[32];
    if (strncmp(h, "W/", 2) == 0) {
        h += 2;
    }
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf) {
        return -1;
    }
    memcpy(buf, h, n);
    buf[n] = '\0';
    int64_t v = blend__parse_id(buf);
    return v > 0 ? v : -1;
}

void blend__set_etag(struct blend_http_req *req, const json_t *doc)
{
    json_t *v = json_object_get(doc, "version");
    if (json_is_integer(v)) {
        char etag[32];
        snprintf(etag, sizeof etag, "\"%" PRId64 "\"", (int64_t)json_integer_value(v));
        (void)blend_http_add_header(req, "ETag", etag);
    }
}

void blend__respond_field_errors(struct blend_http_req *req, const struct blend_field_errors *e)
{
    json_t *details = json_array();
    for (size_t i = 0; i < e->count; i++) {
        json_array_append_new(details, json_pack("{s:s, s:s}", "path", e->items[i].path,
                                                 "message", e->items[i].message));
    }
    char msg[96];
    snprintf(msg, sizeof msg, "%zu field(s) failed validation", e->count_total);
    blend_http_respond_error(req, 422, "validation_failed", msg, details);
}

void blend__respond_write_error(struct blend_http_req *req, const struct blend_write *w,
                                int had_if_match)
{
    const struct blend_write_op *op =
        (w->failed_op >= 0 && w->failed_op < w->ops_count) ? &w->ops[w->failed_op] : NULL;
    const char *field = op ? op->error_field : "";
    const char *detail = (op && op->error_detail[0]) ? op->error_detail : blend_strerror(w->rc);
    json_t *details = NULL;
    if (field[0]) {
        details = json_pack("[{s:s, s:s}]", "path", field, "message", detail);
    }
    switch (w->rc) {
    case BLEND_ENOENT:
        json_decref(details);
        blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
        return;
    case BLEND_EINVAL:
        blend_http_respond_error(req, 422, "validation_failed", detail, details);
        return;
    case BLEND_EEXIST:
        blend_http_respond_error(req, 409, "conflict", detail, details);
        return;
    case BLEND_ECONFLICT:
        if (had_if_match && (strcmp(field, "version") == 0 || strstr(detail, "version"))) {
            json_decref(details);
            blend_http_respond_error(req, 412, "version_mismatch",
                                     "the resource changed since that version", NULL);
            return;
        }
        blend_http_respond_error(req, 409, "conflict", detail, details);
        return;
    case BLEND_ELIMIT:
    case BLEND_ECLOSED:
    case BLEND_EBUSY:
        json_decref(details);
        blend_http_respond_error(req, 503, "unavailable", "the store is busy; retry", NULL);
        return;
    default:
        json_decref(details);
        BLEND_LOG_ERROR("api", "write failed: %s (%s)", blend_strerror(w->rc), detail);
        blend_http_respond_error(req, 500, "internal", "the write failed", NULL);
        return;
    }
}

/* A write in flight for a request: the request and the handler's continuation. */
struct pending_write {
    struct blend_app *app;
    blend_write_cb cb; /* NULL for detached writes */
    void *cb_arg;
};

static void on_write_done(struct blend_write *w, void *arg)
{
    struct pending_write *pw = arg;
    struct blend_app *app = pw->app;
    BLEND_ASSERT(app->writes_pending > 0);
    app->writes_pending--;
    if (w->rc) {
        blend_metric_inc(app->m_write_errors, blend_errname(w->rc), NULL);
    }
    if (pw->cb) {
        pw->cb(w, pw->cb_arg);
    } else {
        if (w->rc) {
            BLEND_LOG_WARN("api", "background write failed: %s", blend_strerror(w->rc));
        }
        blend_write_destroy(w);
    }
    blend_free(pw);
}

static void fill_actor(struct blend_write *w, struct blend_http_req *req)
{
    const struct blend_principal *p = req ? blend__principal(req) : NULL;
    if (p) {
        w->actor_id = p->user_id;
        snprintf(w->actor, sizeof w->actor, "%s", p->username);
        snprintf(w->source, sizeof w->source, "%s", p->source);
    } else {
        snprintf(w->actor, sizeof w->actor, "system");
        snprintf(w->source, sizeof w->source, "api %s",
                 req ? blend_http_req_remote(req) : "internal");
    }
}

int blend__app_submit(struct blend_app *app, struct blend_http_req *req, struct blend_write *w,
                      blend_write_cb cb, void *cb_arg)
{
    BLEND_ASSERT(cb);
    if (!w->actor[0]) {
        fill_actor(w, req);
    }
    struct pending_write *pw = blend_malloc(sizeof *pw);
    int rc = pw ? 0 : BLEND_ENOMEM;
    if (pw) {
        pw->app = app;
        pw->cb = cb;
        pw->cb_arg = cb_arg;
        rc = blend_store_submit(app->store, w, on_write_done, pw);
    }
    if (rc) {
        /* Not queued: the continuation learns it the same way as a failed commit. */
        blend_free(pw);
        w->rc = rc == BLEND_ENOMEM ? BLEND_ELIMIT : rc;
        w->failed_op = -1;
        cb(w, cb_arg);
        return BLEND_HTTP_DONE;
    }
    app->writes_pending++;
    return BLEND_HTTP_PENDING;
}

void blend__app_submit_detached(struct blend_app *app, struct blend_write *w)
{
    struct pending_write *pw = blend_malloc(sizeof *pw);
    if (!pw) {
        blend_write_destroy(w);
        return;
    }
    pw->app = app;
    pw->cb = NULL;
    pw->cb_arg = NULL;
    if (!w->actor[0]) {
        snprintf(w->actor, sizeof w->actor, "system");
    }
    if (blend_store_submit(app->store, w, on_write_done, pw) != 0) {
        blend_free(pw);
        blend_write_destroy(w);
        return;
    }
    app->writes_pending++;
}

/* ---- Authentication ------------------------------------------------------------------------ */

const char *blend__req_token(struct blend_http_req *req, int allow_query)
{
    const char *h = blend_http_req_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ') {
            h++;
        }
        return h;
    }
    const char *c = blend_http_req_cookie(req, "blend_session");
    if (c) {
        return c;
    }
    return allow_query ? blend_http_req_query(req, "token") : NULL;
}

int blend__auth_token(struct blend_app *app, const char *token, struct blend_principal *p)
{
    char digest[BLEND_TOKEN_HASH_BYTES];
    if (!token || blend_token_hash(token, digest) != 0) {
        return BLEND_EAUTH;
    }
    json_t *tok = NULL, *user = NULL, *agent = NULL;
    int rc = blend_store_find(app->store, &blend_res_api_tokens, "token_hash", digest, 1, &tok);
    if (rc) {
        return BLEND_EAUTH;
    }
    int64_t now_s = blend__wall_ms() / 1000;
    int64_t expires = json_integer_value(json_object_get(tok, "expires_at"));
    const char *username = json_string_value(json_object_get(tok, "user"));
    if ((expires != 0 && expires <= now_s) || !username ||
        blend_store_find(app->store, &blend_res_users, "username", username, 1, &user) != 0) {
        json_decref(tok);
        return BLEND_EAUTH;
    }
    unsigned role = blend_role_parse(json_string_value(json_object_get(user, "role")));
    if (role == 0 || json_is_true(json_object_get(user, "disabled"))) {
        json_decref(tok);
        json_decref(user);
        return BLEND_EAUTH;
    }
    memset(p, 0, sizeof *p);
    p->user_id = json_integer_value(json_object_get(user, "id"));
    p->token_id = json_integer_value(json_object_get(tok, "id"));
    p->role = role;
    snprintf(p->username, sizeof p->username, "%s", username);
    if (blend_store_find(app->store, &blend_res_agents, "user", username, 0, &agent) == 0) {
        p->agent_id = json_integer_value(json_object_get(agent, "id"));
        json_decref(agent);
    }

    /* Sessions slide: each use moves the expiry, written at most once a minute. */
    const char *kind = json_string_value(json_object_get(tok, "kind"));
    int64_t last = json_integer_value(json_object_get(tok, "last_used_at"));
    if (now_s - last >= 60) {
        json_t *patch = json_pack("{s:I}", "last_used_at", (json_int_t)now_s);
        if (kind && strcmp(kind, "session") == 0) {
            json_object_set_new(patch, "expires_at",
                                json_integer(now_s + app->cfg.session_idle_s));
        }
        struct blend_write *w = blend_write_create();
        struct blend_write_op *op =
            w ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_api_tokens, patch) : NULL;
        if (op) {
            op->id = p->token_id;
            blend__app_submit_detached(app, w);
        } else {
            if (!w) {
                json_decref(patch);
            }
            blend_write_destroy(w);
        }
    }
    json_decref(tok);
    json_decref(user);
    return 0;
}

int blend__app_before(struct blend_http_req *req, const struct blend_http_route *route, void *arg)
{
    struct blend_app *app = arg;
    if (route->access & BLEND_ACCESS_PUBLIC) {
        return 0;
    }
    struct blend_principal *p = blend_malloc(sizeof *p);
    if (!p) {
        blend_http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return 1;
    }
    if (blend__auth_token(app, blend__req_token(req, 0), p) != 0) {
        blend_free(p);
        blend_http_respond_error(req, 401, "unauthenticated",
                                 "a valid bearer token or session cookie is required", NULL);
        return 1;
    }
    snprintf(p->source, sizeof p->source, "api %s", blend_http_req_remote(req));
    if (!(route->access & p->role)) {
        blend_free(p);
        blend_http_respond_error(req, 403, "forbidden", "your role may not do this", NULL);
        return 1;
    }
    blend_http_req_set_ctx(req, p);
    return 0;
}

/* ---- Password hashing on the thread pool --------------------------------------------------- */

struct hash_job {
    uv_work_t work;
    struct blend_app *app;
    struct blend_http_req *req;
    char clear[BLEND_PASSWORD_BYTES_MAX + 1];
    char hash[BLEND_PASSWORD_HASH_BYTES];
    int rc;
    blend_hash_cb cb;
    void *arg;
};

static void hash_work(uv_work_t *w)
{
    struct hash_job *j = w->data;
    j->rc = blend_password_hash(j->clear, j->app->cfg.password_cost, j->hash);
}

static void hash_after(uv_work_t *w, int status)
{
    struct hash_job *j = w->data;
    sodium_memzero(j->clear, sizeof j->clear);
    j->app->writes_pending--;
    j->cb(j->app, j->req, status ? BLEND_EINTERNAL : j->rc, j->hash, j->arg);
    blend_free(j);
}

int blend__hash_async(struct blend_app *app, struct blend_http_req *req, const char *clear,
                      blend_hash_cb cb, void *arg)
{
    if (blend_password_check(clear) != 0) {
        return BLEND_EINVAL;
    }
    struct hash_job *j = blend_calloc(1, sizeof *j);
    if (!j) {
        return BLEND_ENOMEM;
    }
    j->work.data = j;
    j->app = app;
    j->req = req;
    snprintf(j->clear, sizeof j->clear, "%s", clear);
    j->cb = cb;
    j->arg = arg;
    if (uv_queue_work(app->loop, &j->work, hash_work, hash_after) != 0) {
        blend_free(j);
        return BLEND_EINTERNAL;
    }
    app->writes_pending++;
    return 0;
}

void blend__app_record_event(struct blend_app *app, const char *actor, const char *type,
                             const char *subject, json_t *data)
{
    struct blend_write *w = blend_write_create();
    if (!w) {
        json_decref(data);
        BLEND_LOG_WARN("api", "event %s of %s not recorded: out of memory", type, subject);
        return;
    }
    snprintf(w->actor, sizeof w->actor, "%s", actor);
    struct blend_write_op *op = blend_write_add(w, BLEND_OP_EVENT, NULL, data);
    if (!op) {
        blend_write_destroy(w);
        BLEND_LOG_WARN("api", "event %s of %s not recorded: out of memory", type, subject);
        return;
    }
    snprintf(op->event_type, sizeof op->event_type, "%s", type);
    snprintf(op->subject, sizeof op->subject, "%s", subject);
    blend__app_submit_detached(app, w);
}
