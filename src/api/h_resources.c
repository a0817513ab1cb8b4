/*
 * Generic handlers for every provisioned resource (users, skills, agents, calendars, queues,
 * entry points, contacts, interactions): list, get, create, patch, delete. The resource comes
 * from the path; the descriptor drives validation and redaction, the store does the rest.
 * Reads of resources holding personal data are written to the audit log.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/limits.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void audit_pii_read(struct blend_app *app, struct blend_http_req *req,
                           const struct blend_resource *res, int64_t id, size_t count)
{
    if (!blend_model_has_pii(res)) {
        return;
    }
    const struct blend_principal *p = blend__principal(req);
    json_t *detail = json_pack("{s:s, s:I}", "route", blend_http_req_path(req), "count",
                               (json_int_t)count);
    int rc = blend_store_audit_read(app->store, p->user_id, p->username, p->source, res->name, id,
                                    detail);
    json_decref(detail);
    (void)rc; /* a full queue drops the audit row, which the store counts as a write error */
}

int blend__h_res_list(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_resource *res = blend__route_resource(req);
    int limit;
    int64_t after;
    if (!res || blend__page_params(req, &limit, &after) < 0) {
        if (!res) {
            blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
        }
        return BLEND_HTTP_DONE;
    }
    struct blend_list_query q = {.after_id = after, .limit = limit};
    /* One equality filter by a field's name: ?state=queued, ?contact=12, ?queue=billing. */
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        const char *v = f->column && f->type != BLEND_FT_CHILDREN &&
                                !(f->flags & (BLEND_FF_WRITE_ONLY | BLEND_FF_INTERNAL))
                            ? blend_http_req_query(req, f->name)
                            : NULL;
        if (!v) {
            continue;
        }
        if (q.filter_field) {
            blend_http_respond_error(req, 400, "bad_request", "filter by one field at a time",
                                     NULL);
            return BLEND_HTTP_DONE;
        }
        q.filter_field = f->name;
        q.filter_value = v;
    }
    json_t *items;
    int64_t next;
    int rc = blend_store_list(app->store, res, &q, &items, &next);
    if (rc == BLEND_EINVAL && q.filter_field) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s cannot be filtered by that value", q.filter_field);
        blend_http_respond_error(req, 400, "bad_request", msg, NULL);
        return BLEND_HTTP_DONE;
    }
    if (rc) {
        return rc;
    }
    audit_pii_read(app, req, res, 0, json_array_size(items));
    blend__respond_page(req, items, next);
    return BLEND_HTTP_DONE;
}

int blend__h_res_get(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_resource *res = blend__route_resource(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *doc;
    if (!res || id <= 0 || blend_store_get(app->store, res, id, 0, &doc) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
        return BLEND_HTTP_DONE;
    }
    audit_pii_read(app, req, res, id, 1);
    blend__set_etag(req, doc);
    blend_http_respond_json(req, 200, doc);
    return BLEND_HTTP_DONE;
}

/* After the commit of a create or patch: answer with the stored document. */
static void on_saved(struct blend_write *w, void *arg)
{
    struct blend_http_req *req = arg;
    struct blend_write_op *op = &w->ops[0];
    int is_create = op->kind == BLEND_OP_CREATE;
    if (w->rc) {
        blend__respond_write_error(req, w, op->if_version != 0);
        blend_write_destroy(w);
        return;
    }
    json_t *doc = op->result ? json_incref(op->result) : json_object();
    blend_model_redact(op->res, doc);
    if (is_create) {
        char loc[128];
        const char *path = blend_http_req_path(req);
        snprintf(loc, sizeof loc, "%s/%" PRId64, path, op->id_out);
        (void)blend_http_add_header(req, "Location", loc);
    }
    blend__set_etag(req, doc);
    blend_write_destroy(w);
    blend_http_respond_json(req, is_create ? 201 : 200, doc);
}

/* A validated create or patch, waiting for a password hash or ready to submit. */
struct save {
    enum blend_op_kind kind;
    const struct blend_resource *res;
    int64_t id;
    int64_t if_version;
    json_t *doc;
};

static int submit_save(struct blend_app *app, struct blend_http_req *req, struct save *sv)
{
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op = w ? blend_write_add(w, sv->kind, sv->res, sv->doc) : NULL;
    if (!op) {
        if (!w) {
            json_decref(sv->doc);
        }
        blend_write_destroy(w);
        blend_free(sv);
        blend_http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return BLEND_HTTP_DONE;
    }
    op->id = sv->id;
    op->if_version = sv->if_version;
    blend_free(sv);
    return blend__app_submit(app, req, w, on_saved, req);
}

static void on_hashed(struct blend_app *app, struct blend_http_req *req, int rc, const char *hash,
                      void *arg)
{
    struct save *sv = arg;
    if (rc) {
        json_decref(sv->doc);
        blend_free(sv);
        blend_http_respond_error(req, 500, "internal", "password hashing failed", NULL);
        return;
    }
    json_object_del(sv->doc, "password");
    json_object_set_new(sv->doc, "password_hash", json_string(hash));
    /* A new password also lifts a lock-out. */
    json_object_set_new(sv->doc, "failed_logins", json_integer(0));
    json_object_set_new(sv->doc, "locked_until", json_integer(0));
    (void)submit_save(app, req, sv);
}

static int save(struct blend_http_req *req, struct blend_app *app, enum blend_op_kind kind)
{
    const struct blend_resource *res = blend__route_resource(req);
    int64_t id = 0, if_version = 0;
    if (kind == BLEND_OP_UPDATE) {
        id = blend__parse_id(blend_http_req_param(req, "id"));
        if_version = blend__if_match(req);
        if (id <= 0) {
            blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
            return BLEND_HTTP_DONE;
        }
        if (if_version < 0) {
            blend_http_respond_error(req, 400, "bad_request", "If-Match must be a version", NULL);
            return BLEND_HTTP_DONE;
        }
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    struct blend_field_errors errs;
    blend_field_errors_init(&errs);
    json_t *doc;
    enum blend_validate_mode mode =
        kind == BLEND_OP_CREATE ? BLEND_VALIDATE_CREATE : BLEND_VALIDATE_PATCH;
    int rc = blend_model_validate(res, body, mode, 0, &doc, &errs);
    json_decref(body);
    if (rc == 0 && res == &blend_res_users && kind == BLEND_OP_CREATE &&
        !json_is_string(json_object_get(doc, "password"))) {
        blend_field_errors_add(&errs, "password", "required");
        json_decref(doc);
        rc = BLEND_EINVAL;
    }
    if (rc) {
        blend__respond_field_errors(req, &errs);
        return BLEND_HTTP_DONE;
    }
    /* ?dry_run=1: the document is checked as the model checks it (fields, a flow's graph) and
     * nothing is stored; uniqueness and references are checked only by a real write. */
    const char *dry = blend_http_req_query(req, "dry_run");
    if (dry && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0)) {
        json_object_del(doc, "password");
        blend_http_respond_json(req, 200, json_pack("{s:b, s:b, s:o}", "dry_run", 1, "valid", 1,
                                                    "document", doc));
        return BLEND_HTTP_DONE;
    }
    struct save *sv = blend_malloc(sizeof *sv);
    if (!sv) {
        json_decref(doc);
        blend_http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return BLEND_HTTP_DONE;
    }
    *sv = (struct save){kind, res, id, if_version, doc};
    const char *clear = json_string_value(json_object_get(doc, "password"));
    if (clear) {
        if (blend__hash_async(app, req, clear, on_hashed, sv) != 0) {
            json_decref(doc);
            blend_free(sv);
            blend_http_respond_error(req, 500, "internal", "password hashing failed", NULL);
            return BLEND_HTTP_DONE;
        }
        return BLEND_HTTP_PENDING;
    }
    return submit_save(app, req, sv);
}

int blend__h_res_create(struct blend_http_req *req, void *arg)
{
    return save(req, arg, BLEND_OP_CREATE);
}

int blend__h_res_patch(struct blend_http_req *req, void *arg)
{
    return save(req, arg, BLEND_OP_UPDATE);
}

static void on_deleted(struct blend_write *w, void *arg)
{
    struct blend_http_req *req = arg;
    if (w->rc) {
        blend__respond_write_error(req, w, w->ops[0].if_version != 0);
    } else {
        blend_http_respond(req, 204, NULL, NULL, 0);
    }
    blend_write_destroy(w);
}

int blend__h_res_delete(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_resource *res = blend__route_resource(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    int64_t if_version = blend__if_match(req);
    if (!res || id <= 0) {
        blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
        return BLEND_HTTP_DONE;
    }
    if (if_version < 0) {
        blend_http_respond_error(req, 400, "bad_request", "If-Match must be a version", NULL);
        return BLEND_HTTP_DONE;
    }
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op = w ? blend_write_add(w, BLEND_OP_DELETE, res, NULL) : NULL;
    if (!op) {
        blend_write_destroy(w);
        blend_http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return BLEND_HTTP_DONE;
    }
    op->id = id;
    op->if_version = if_version;
    return blend__app_submit(app, req, w, on_deleted, req);
}
