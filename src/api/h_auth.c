/*
 * Authentication routes: login (Argon2id verification on the thread pool, lock-out after
 * repeated failures, rate limit per source address), logout, the caller's identity, and API
 * tokens for integrations. A token is shown once, at creation; the store keeps its digest.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* A login in progress: password check on the pool, then the session's commit. */
struct login {
    uv_work_t work;
    struct blend_app *app;
    struct blend_http_req *req;
    json_t *user; /* internal view (with password_hash), NULL for an unknown username */
    char password[BLEND_PASSWORD_BYTES_MAX + 1];
    int verified;
    char token[BLEND_TOKEN_BYTES];
    int64_t expires_at;
};

/* A valid Argon2id hash of a random string: unknown usernames are checked against it so that
 * their attempts take as long as real ones and reveal nothing. */
static char dummy_hash[BLEND_PASSWORD_HASH_BYTES];

static void verify_work(uv_work_t *w)
{
    struct login *l = w->data;
    const char *hash =
        l->user ? json_string_value(json_object_get(l->user, "password_hash")) : NULL;
    int ok = blend_password_verify(hash ? hash : dummy_hash, l->password) == 0;
    l->verified = ok && l->user && hash;
}

static void login_free(struct login *l)
{
    sodium_memzero(l->password, sizeof l->password);
    sodium_memzero(l->token, sizeof l->token);
    json_decref(l->user);
    blend_free(l);
}

json_t *blend__user_public(const json_t *user);
json_t *blend__user_public(const json_t *user)
{
    json_t *dn = json_object_get(user, "display_name");
    return json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(user, "id"), "username",
                     json_object_get(user, "username"), "role", json_object_get(user, "role"),
                     "display_name", dn ? dn : json_null(), "language",
                     json_object_get(user, "language") ? json_object_get(user, "language")
                                                       : json_null());
}

static void set_cookie(struct blend_app *app, struct blend_http_req *req, const char *token,
                       int max_age_s)
{
    char cookie[256];
    snprintf(cookie, sizeof cookie, "blend_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
             token, max_age_s, app->tls_cert[0] ? "; Secure" : "");
    (void)blend_http_add_header(req, "Set-Cookie", cookie);
}

static void on_login_saved(struct blend_write *w, void *arg)
{
    struct login *l = arg;
    struct blend_app *app = l->app;
    if (w->rc) {
        blend__respond_write_error(l->req, w, 0);
    } else if (!l->verified) {
        blend_metric_inc(app->m_logins, "failure", NULL);
        blend_http_respond_error(l->req, 401, "invalid_credentials",
                                 "wrong username or password", NULL);
    } else {
        blend_metric_inc(app->m_logins, "success", NULL);
        set_cookie(app, l->req, l->token, app->cfg.session_idle_s);
        blend_http_respond_json(l->req, 200,
                                json_pack("{s:s, s:I, s:o}", "token", l->token, "expires_at",
                                          (json_int_t)l->expires_at, "user",
                                          blend__user_public(l->user)));
    }
    blend_write_destroy(w);
    login_free(l);
}

/* Validates an internal document (server-built, defaults filled) or returns NULL. */
static json_t *internal_doc(const struct blend_resource *res, json_t *in,
                            enum blend_validate_mode mode)
{
    struct blend_field_errors errs;
    blend_field_errors_init(&errs);
    json_t *doc = NULL;
    if (blend_model_validate(res, in, mode, 1, &doc, &errs) != 0) {
        BLEND_LOG_ERROR("api", "internal %s document refused: %s: %s", res->name,
                        errs.count ? errs.items[0].path : "", errs.count ? errs.items[0].message : "");
        doc = NULL;
    }
    json_decref(in);
    return doc;
}

/* Adds the token row for a new session or API token; fills token and its expiry. */
static int add_token_op(struct blend_write *w, const char *username, const char *kind,
                        const char *name, int64_t expires_at, char token[BLEND_TOKEN_BYTES])
{
    char digest[BLEND_TOKEN_HASH_BYTES];
    blend_token_new(token, digest);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.12s", token);
    json_t *doc = internal_doc(
        &blend_res_api_tokens,
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "user", username, "kind", kind, "name",
                  name, "token_hash", digest, "prefix", prefix, "expires_at",
                  (json_int_t)expires_at, "last_used_at", (json_int_t)(blend__wall_ms() / 1000)),
        BLEND_VALIDATE_CREATE);
    if (!doc) {
        return BLEND_EINTERNAL;
    }
    return blend_write_add(w, BLEND_OP_CREATE, &blend_res_api_tokens, doc) ? 0 : BLEND_ENOMEM;
}

static void verify_after(uv_work_t *work, int status)
{
    struct login *l = work->data;
    struct blend_app *app = l->app;
    app->writes_pending--;
    int64_t now_s = blend__wall_ms() / 1000;
    if (status != 0 || !l->user) {
        blend_metric_inc(app->m_logins, "failure", NULL);
        blend_http_respond_error(l->req, 401, "invalid_credentials", "wrong username or password",
                                 NULL);
        login_free(l);
        return;
    }
    int64_t user_id = json_integer_value(json_object_get(l->user, "id"));
    int64_t failed = json_integer_value(json_object_get(l->user, "failed_logins"));
    int64_t locked = json_integer_value(json_object_get(l->user, "locked_until"));
    if (locked != 0 && locked <= now_s) {
        failed = 0; /* a lock-out that ran out starts the count again */
    }
    struct blend_write *w = blend_write_create();
    int rc = w ? 0 : BLEND_ENOMEM;
    json_t *patch = NULL;
    if (l->verified) {
        l->expires_at = now_s + app->cfg.session_idle_s;
        rc = rc ? rc
                : add_token_op(w, json_string_value(json_object_get(l->user, "username")),
                               "session", "login", l->expires_at, l->token);
        if (rc == 0 && (failed != 0 || locked != 0)) {
            patch = json_pack("{s:i, s:i}", "failed_logins", 0, "locked_until", 0);
        }
    } else {
        failed++;
        patch = json_pack("{s:I, s:I}", "failed_logins", (json_int_t)failed, "locked_until",
                          (json_int_t)(failed >= app->cfg.login_failures_max
                                           ? now_s + app->cfg.lockout_s
                                           : 0));
    }
    if (rc == 0 && patch) {
        json_t *doc = internal_doc(&blend_res_users, patch, BLEND_VALIDATE_PATCH);
        struct blend_write_op *op = doc ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_users, doc)
                                        : NULL;
        if (op) {
            op->id = user_id;
        } else {
            rc = BLEND_ENOMEM;
        }
    }
    if (rc) {
        blend_write_destroy(w);
        blend_http_respond_error(l->req, 500, "internal", "login failed", NULL);
        login_free(l);
        return;
    }
    snprintf(w->actor, sizeof w->actor, "%s",
             json_string_value(json_object_get(l->user, "username")));
    w->actor_id = user_id;
    snprintf(w->source, sizeof w->source, "api %s", blend_http_req_remote(l->req));
    (void)blend__app_submit(app, l->req, w, on_login_saved, l);
}

int blend__h_login(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    if (!dummy_hash[0] &&
        blend_password_hash("blend-unknown-user", BLEND_PASSWORD_COST_MIN, dummy_hash) != 0) {
        return BLEND_EINTERNAL;
    }
    if (!blend_ratelimit_take(app->login_limit, blend_http_req_remote(req), blend__now_ms(app))) {
        blend_metric_inc(app->m_logins, "rate_limited", NULL);
        blend_http_respond_error(req, 429, "rate_limited",
                                 "too many login attempts from this address; wait a minute", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *username = NULL, *password = NULL;
    int ok = json_unpack(body, "{s:s, s:s !}", "username", &username, "password", &password) == 0;
    if (!ok || strlen(password) > BLEND_PASSWORD_BYTES_MAX || strlen(username) > 64) {
        json_decref(body);
        json_t *details = json_pack("[{s:s, s:s}]", "path", "", "message",
                                    "expected {\"username\": text, \"password\": text}");
        blend_http_respond_error(req, 422, "validation_failed", "username and password required",
                                 details);
        return BLEND_HTTP_DONE;
    }
    struct login *l = blend_calloc(1, sizeof *l);
    if (!l) {
        json_decref(body);
        return BLEND_ENOMEM;
    }
    l->app = app;
    l->req = req;
    l->work.data = l;
    snprintf(l->password, sizeof l->password, "%s", password);
    if (blend_store_find(app->store, &blend_res_users, "username", username, 1, &l->user) != 0) {
        l->user = NULL;
    }
    json_decref(body);
    int64_t now_s = blend__wall_ms() / 1000;
    if (l->user && json_is_true(json_object_get(l->user, "disabled"))) {
        json_decref(l->user);
        l->user = NULL; /* a disabled account fails like an unknown one */
    }
    if (l->user && json_integer_value(json_object_get(l->user, "locked_until")) > now_s) {
        login_free(l);
        blend_metric_inc(app->m_logins, "locked", NULL);
        blend_http_respond_error(req, 423, "account_locked",
                                 "too many failed logins; try again later", NULL);
        return BLEND_HTTP_DONE;
    }
    if (uv_queue_work(app->loop, &l->work, verify_work, verify_after) != 0) {
        login_free(l);
        return BLEND_EINTERNAL;
    }
    app->writes_pending++;
    return BLEND_HTTP_PENDING;
}

static void on_token_deleted(struct blend_write *w, void *arg)
{
    struct blend_http_req *req = arg;
    if (w->rc) {
        blend__respond_write_error(req, w, 0);
    } else {
        blend_http_respond(req, 204, NULL, NULL, 0);
    }
    blend_write_destroy(w);
}

static int delete_token(struct blend_app *app, struct blend_http_req *req, int64_t id)
{
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w ? blend_write_add(w, BLEND_OP_DELETE, &blend_res_api_tokens, NULL) : NULL;
    if (!op) {
        blend_write_destroy(w);
        return BLEND_ENOMEM;
    }
    op->id = id;
    return blend__app_submit(app, req, w, on_token_deleted, req);
}

int blend__h_logout(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    set_cookie(app, req, "", 0);
    return delete_token(app, req, blend__principal(req)->token_id);
}

int blend__h_me(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    json_t *user;
    if (blend_store_get(app->store, &blend_res_users, p->user_id, 0, &user) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such user", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *out = blend__user_public(user);
    json_decref(user);
    json_object_set_new(out, "agent_id", p->agent_id ? json_integer(p->agent_id) : json_null());
    blend_http_respond_json(req, 200, out);
    return BLEND_HTTP_DONE;
}

int blend__h_tokens_list(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    struct blend_list_query q = {0};
    if (blend__page_params(req, &q.limit, &q.after_id) < 0) {
        return BLEND_HTTP_DONE;
    }
    if (p->role != BLEND_ROLE_ADMIN) {
        q.filter_field = "user";
        q.filter_value = p->username;
    }
    json_t *items;
    int64_t next;
    int rc = blend_store_list(app->store, &blend_res_api_tokens, &q, &items, &next);
    if (rc) {
        return rc;
    }
    blend__respond_page(req, items, next);
    return BLEND_HTTP_DONE;
}

/* A token being created: the clear token is shown once, after the commit. */
struct new_token {
    struct blend_http_req *req;
    char token[BLEND_TOKEN_BYTES];
};

static void on_token_created(struct blend_write *w, void *arg)
{
    struct new_token *nt = arg;
    if (w->rc) {
        blend__respond_write_error(nt->req, w, 0);
    } else {
        json_t *doc = w->ops[0].result ? json_incref(w->ops[0].result) : json_object();
        blend_model_redact(&blend_res_api_tokens, doc);
        json_object_set_new(doc, "token", json_string(nt->token));
        blend_http_respond_json(nt->req, 201, doc);
    }
    blend_write_destroy(w);
    sodium_memzero(nt->token, sizeof nt->token);
    blend_free(nt);
}

int blend__h_tokens_create(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *name = NULL;
    json_int_t expires_in_s = 0;
    int ok = json_unpack(body, "{s:s, s?I !}", "name", &name, "expires_in_s", &expires_in_s) == 0;
    if (!ok || strlen(name) == 0 || strlen(name) > 64 || expires_in_s < 0) {
        json_decref(body);
        json_t *details = json_pack("[{s:s, s:s}]", "path", "name", "message",
                                    "expected {\"name\": 1..64 characters, \"expires_in_s\": "
                                    "seconds (optional, 0 = never)}");
        blend_http_respond_error(req, 422, "validation_failed", "invalid token request", details);
        return BLEND_HTTP_DONE;
    }
    struct new_token *nt = blend_calloc(1, sizeof *nt);
    struct blend_write *w = nt ? blend_write_create() : NULL;
    int64_t expires_at = expires_in_s ? blend__wall_ms() / 1000 + expires_in_s : 0;
    int rc = w ? add_token_op(w, p->username, "api", name, expires_at, nt->token) : BLEND_ENOMEM;
    json_decref(body);
    if (rc) {
        blend_write_destroy(w);
        blend_free(nt);
        return rc;
    }
    nt->req = req;
    return blend__app_submit(app, req, w, on_token_created, nt);
}

int blend__h_tokens_delete(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *tok;
    if (id <= 0 || blend_store_get(app->store, &blend_res_api_tokens, id, 0, &tok) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such token", NULL);
        return BLEND_HTTP_DONE;
    }
    const char *owner = json_string_value(json_object_get(tok, "user"));
    int mine = owner && strcmp(owner, p->username) == 0;
    json_decref(tok);
    if (!mine && p->role != BLEND_ROLE_ADMIN) {
        blend_http_respond_error(req, 404, "not_found", "no such token", NULL);
        return BLEND_HTTP_DONE;
    }
    return delete_token(app, req, id);
}
