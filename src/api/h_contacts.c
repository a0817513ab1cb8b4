/*
 * One customer (docs/contacts.md): contacts written with their identities in canonical form,
 * resolution of an address to its contact, merging two contacts into one and undoing it, the
 * customer's timeline across channels, consent edits with their old and new values in the audit
 * log, and an interaction's notes and disposition.
 *
 * Invariants. Every change here is one store write (one savepoint of one transaction): a merge
 * moves identities, interactions and attributes and records what moved in contact_merges in the
 * same write, so after a crash the store holds the state before or after, never between; an
 * undo reads that record and moves exactly those rows back, again in one write. Reads that a
 * write depends on pin the contacts' versions (if_version), so a contact changed between the
 * read and the commit fails the write (412/409) instead of being overwritten. Merge records are
 * written through a descriptor private to this file (they are not a provisioned resource).
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/limits.h"
#include "model/identity.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A merge moves at most this many interactions (one store op each, within the store's bound of
 * ops per write, BLEND_STORE_EVENTS_PER_WRITE_MAX * 64, less the merge's own ops). */
#define MERGE_INTERACTIONS_MAX 4000
/* A timeline page holds at most this many interactions (each brings its messages). */
#define TIMELINE_PAGE_MAX 100
/* A timeline follows contacts merged into the contact this many at most (chains included):
 * one store query takes them all (BLEND_STORE_IN_VALUES_MAX). */
#define TIMELINE_CONTACTS_MAX BLEND_STORE_IN_VALUES_MAX
/* Messages and recordings shown per interaction on a timeline page. */
#define TIMELINE_MESSAGES_MAX 200
#define TIMELINE_RECORDINGS_MAX 50

/* ---- The merge record --------------------------------------------------------------------- */

static const char *const merge_states[] = {"merged", "undone", NULL};

static const struct blend_field merge_fields[] = {
    {.name = "contact_id",
     .column = "contact_id",
     .type = BLEND_FT_INT,
     .min = 1,
     .max = INT64_MAX},
    {.name = "from_contact_id",
     .column = "from_contact_id",
     .type = BLEND_FT_INT,
     .min = 1,
     .max = INT64_MAX},
    {.name = "identities", .column = "identities", .type = BLEND_FT_JSON, .flags = BLEND_FF_PII},
    {.name = "interactions", .column = "interactions", .type = BLEND_FT_JSON},
    {.name = "attributes_into",
     .column = "attributes_into",
     .type = BLEND_FT_JSON,
     .flags = BLEND_FF_PII},
    {.name = "attributes_from",
     .column = "attributes_from",
     .type = BLEND_FT_JSON,
     .flags = BLEND_FF_PII},
    {.name = "state", .column = "state", .type = BLEND_FT_ENUM, .values = merge_states},
};

static const struct blend_resource res_contact_merges = {
    .name = "contact_merges",
    .singular = "contact_merge",
    .table = "contact_merges",
    .fields = merge_fields,
    .fields_count = sizeof merge_fields / sizeof merge_fields[0],
    .is_versioned = 1,
};

/* The consent and do-not-contact flags whose edits are audited with old and new values. */
static const char *const consent_fields[] = {
    "consent.recording", "consent.marketing", "consent.sms",   "do_not_call",
    "do_not_email",      "do_not_sms",        "do_not_social",
};
#define CONSENT_FIELDS_COUNT (sizeof consent_fields / sizeof consent_fields[0])

/* ---- Small helpers ------------------------------------------------------------------------ */

static void respond_503(struct blend_http_req *req)
{
    blend_http_respond_error(req, 503, "unavailable", "out of memory", NULL);
}

static void respond_field(struct blend_http_req *req, int status, const char *path,
                          const char *message)
{
    json_t *details = json_pack("[{s:s, s:s}]", "path", path, "message", message);
    blend_http_respond_error(req, status, status == 422 ? "validation_failed" : "conflict", message,
                             details);
}

static void audit_read(struct blend_app *app, struct blend_http_req *req, int64_t id, size_t count)
{
    const struct blend_principal *p = blend__principal(req);
    json_t *detail =
        json_pack("{s:s, s:I}", "route", blend_http_req_path(req), "count", (json_int_t)count);
    int rc = blend_store_audit_read(app->store, p->user_id, p->username, p->source, "contacts", id,
                                    detail);
    json_decref(detail);
    (void)rc; /* a full queue drops the audit row, which the store counts as a write error */
}

/* "group.leaf" or "leaf" of a document. */
static json_t *doc_get(const json_t *doc, const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot) {
        return json_object_get(doc, name);
    }
    char group[32];
    size_t n = (size_t)(dot - name);
    BLEND_ASSERT(n < sizeof group);
    memcpy(group, name, n);
    group[n] = '\0';
    return json_object_get(json_object_get(doc, group), dot + 1);
}

/* The default country calling code for national numbers: attributes.country_code of `doc`
 * (text "82" or a number), else of `stored`; 0 when neither has a valid one. */
static int context_country_code(const json_t *doc, const json_t *stored)
{
    const json_t *sources[] = {doc, stored};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v =
            json_object_get(json_object_get(sources[i], "attributes"), "country_code");
        char text[16];
        int cc = 0;
        if (json_is_integer(v)) {
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        } else {
            snprintf(text, sizeof text, "%s", json_is_string(v) ? json_string_value(v) : "");
        }
        if (blend_identity_country_code_parse(text, &cc) == 0) {
            return cc;
        }
    }
    return 0;
}

/* Rewrites every identity value of `body` (a client document, before validation) in canonical
 * form. Items the model will refuse anyway (wrong types, unknown kind) are left for it. Adds
 * "identities[i].value" errors to errs for values that do not normalise. */
static void normalize_identities(json_t *body, int default_cc, struct blend_field_errors *errs)
{
    json_t *list = json_object_get(body, "identities");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i);
        json_t *v = json_object_get(item, "value");
        enum blend_identity_kind kind;
        if (!json_is_string(v) ||
            blend_identity_kind_parse(json_string_value(json_object_get(item, "kind")), &kind)) {
            continue;
        }
        char out[BLEND_IDENTITY_BYTES_MAX + 1];
        char err[BLEND_IDENTITY_ERR_BYTES];
        char path[48];
        snprintf(path, sizeof path, "identities[%zu].value", i);
        if (blend_identity_normalize(kind, json_string_value(v), json_string_length(v), default_cc,
                                     out, sizeof out, err, sizeof err) != 0) {
            blend_field_errors_add(errs, path, "%s", err);
        } else if (json_string_set(v, out) != 0) {
            blend_field_errors_add(errs, path, "out of memory");
        }
    }
}

/* Every interaction id of contact `contact_id`, in id order, into the array *ids_out (owned).
 * BLEND_ELIMIT past `max`. */
static int contact_interaction_ids(struct blend_app *app, int64_t contact_id, size_t max,
                                   json_t **ids_out)
{
    char value[24];
    snprintf(value, sizeof value, "%" PRId64, contact_id);
    json_t *ids = json_array();
    int64_t after = 0;
    int rc = ids ? 0 : BLEND_ENOMEM;
    do {
        struct blend_list_query q = {.after_id = after,
                                     .limit = BLEND_API_PAGE_MAX,
                                     .filter_field = "contact",
                                     .filter_value = value};
        json_t *items = NULL;
        int64_t next = 0;
        rc = rc ? rc : blend_store_list(app->store, &blend_res_interactions, &q, &items, &next);
        for (size_t i = 0; rc == 0 && i < json_array_size(items); i++) {
            rc = json_array_size(ids) >= max ? BLEND_ELIMIT : 0;
            rc = rc ? rc : json_array_append(ids, json_object_get(json_array_get(items, i), "id"));
        }
        json_decref(items);
        after = next;
    } while (rc == 0 && after != 0);
    if (rc) {
        json_decref(ids);
        return rc == BLEND_ELIMIT ? rc : (rc == BLEND_ENOENT ? 0 : rc);
    }
    *ids_out = ids;
    return 0;
}

/* Adds op UPDATE res row id with doc (taken). Returns 0 or BLEND_ENOMEM. */
static int add_update(struct blend_write *w, const struct blend_resource *res, int64_t id,
                      int64_t if_version, json_t *doc)
{
    struct blend_write_op *op = doc ? blend_write_add(w, BLEND_OP_UPDATE, res, doc) : NULL;
    if (!op) {
        return BLEND_ENOMEM;
    }
    op->id = id;
    op->if_version = if_version;
    return 0;
}

static int add_audit(struct blend_write *w, const char *action, int64_t id, json_t *detail)
{
    struct blend_write_op *op = detail ? blend_write_add(w, BLEND_OP_AUDIT, NULL, detail) : NULL;
    if (!op) {
        return BLEND_ENOMEM;
    }
    snprintf(op->event_type, sizeof op->event_type, "%s", action);
    snprintf(op->subject, sizeof op->subject, "contacts");
    op->id = id;
    return 0;
}

/* ---- Contacts: create and patch with canonical identities ---------------------------------- */

static void on_contact_saved(struct blend_write *w, void *arg)
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
    blend_model_redact(&blend_res_contacts, doc);
    if (is_create) {
        char loc[64];
        snprintf(loc, sizeof loc, "/api/v1/contacts/%" PRId64, op->id_out);
        (void)blend_http_add_header(req, "Location", loc);
    }
    blend__set_etag(req, doc);
    blend_write_destroy(w);
    blend_http_respond_json(req, is_create ? 201 : 200, doc);
}

/* The audit detail of a patch touching consent or do-not-contact flags: {"changes": {"field":
 * {"old": x, "new": y}}} for each flag whose value changes; NULL when none does. */
static json_t *consent_changes(const json_t *doc, const json_t *stored)
{
    json_t *changes = json_object();
    for (size_t i = 0; changes && i < CONSENT_FIELDS_COUNT; i++) {
        json_t *nv = doc_get(doc, consent_fields[i]);
        json_t *ov = doc_get(stored, consent_fields[i]);
        if (!nv || (ov && json_equal(nv, ov))) {
            continue;
        }
        json_object_set_new(changes, consent_fields[i],
                            json_pack("{s:O, s:O}", "old", ov ? ov : json_null(), "new", nv));
    }
    if (json_object_size(changes) == 0) {
        json_decref(changes);
        return NULL;
    }
    return json_pack("{s:o}", "changes", changes);
}

/* Validates a client body (taken) for create (id 0) or patch; answers 422 itself and returns
 * NULL on refusal. */
static json_t *contact_doc(struct blend_http_req *req, json_t *body, const json_t *stored)
{
    struct blend_field_errors errs;
    blend_field_errors_init(&errs);
    normalize_identities(body, context_country_code(body, stored), &errs);
    json_t *doc = NULL;
    if (errs.count_total == 0) {
        enum blend_validate_mode mode = stored ? BLEND_VALIDATE_PATCH : BLEND_VALIDATE_CREATE;
        (void)blend_model_validate(&blend_res_contacts, body, mode, 0, &doc, &errs);
    }
    json_decref(body);
    if (!doc) {
        blend__respond_field_errors(req, &errs);
    }
    return doc;
}

static int contact_save(struct blend_http_req *req, struct blend_app *app, int is_create)
{
    int64_t id = 0, if_version = 0;
    json_t *stored = NULL;
    if (!is_create) {
        id = blend__parse_id(blend_http_req_param(req, "id"));
        if_version = blend__if_match(req);
        if (if_version < 0) {
            blend_http_respond_error(req, 400, "bad_request", "If-Match must be a version", NULL);
            return BLEND_HTTP_DONE;
        }
        if (id <= 0 || blend_store_get(app->store, &blend_res_contacts, id, 0, &stored) != 0) {
            blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
            return BLEND_HTTP_DONE;
        }
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        json_decref(stored);
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    json_t *doc = contact_doc(req, body, stored);
    if (!doc) {
        json_decref(stored);
        return BLEND_HTTP_DONE;
    }
    json_t *audit = stored ? consent_changes(doc, stored) : NULL;
    json_decref(stored);
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w ? blend_write_add(w, is_create ? BLEND_OP_CREATE : BLEND_OP_UPDATE, &blend_res_contacts,
                            doc)
          : NULL;
    if (op) {
        op->id = id;
        op->if_version = if_version;
    }
    if (!op || (audit && add_audit(w, "consent", id, json_incref(audit)) != 0)) {
        json_decref(audit);
        if (!w) {
            json_decref(doc);
        }
        blend_write_destroy(w);
        respond_503(req);
        return BLEND_HTTP_DONE;
    }
    json_decref(audit);
    return blend__app_submit(app, req, w, on_contact_saved, req);
}

int blend__h_contact_create(struct blend_http_req *req, void *arg)
{
    return contact_save(req, arg, 1);
}

int blend__h_contact_patch(struct blend_http_req *req, void *arg)
{
    return contact_save(req, arg, 0);
}

/* ---- Resolution ----------------------------------------------------------------------------- */

struct resolve {
    struct blend_app *app;
    struct blend_http_req *req;
    json_t *match; /* {"kind","value"} in canonical form */
};

/* Answers with the contact owning the identity (200), or 404 when there is none. */
static int respond_found(struct resolve *r, int status)
{
    json_t *doc = NULL;
    int rc = blend_store_find_by_child(r->app->store, &blend_res_contacts, "identities", r->match,
                                       0, &doc);
    if (rc != 0) {
        return rc;
    }
    audit_read(r->app, r->req, json_integer_value(json_object_get(doc, "id")), 1);
    blend__set_etag(r->req, doc);
    blend_http_respond_json(r->req, status, doc);
    return 0;
}

static void on_resolved(struct blend_write *w, void *arg)
{
    struct resolve *r = arg;
    if (w->rc == BLEND_EEXIST && respond_found(r, 200) == 0) {
        /* Another request created it meanwhile: the same customer, found. */
    } else if (w->rc) {
        blend__respond_write_error(r->req, w, 0);
    } else {
        json_t *doc = json_incref(w->ops[0].result);
        blend_model_redact(&blend_res_contacts, doc);
        char loc[64];
        snprintf(loc, sizeof loc, "/api/v1/contacts/%" PRId64, w->ops[0].id_out);
        (void)blend_http_add_header(r->req, "Location", loc);
        blend__set_etag(r->req, doc);
        blend_http_respond_json(r->req, 201, doc);
    }
    json_decref(r->match);
    blend_free(r);
    blend_write_destroy(w);
}

/* Reads {kind, value, name?, country_code?}: the canonical identity to *match_out and the name
 * (borrowed from body, may be NULL). Answers 422 and returns -1 on refusal. */
static int resolve_body(struct blend_http_req *req, const json_t *body, json_t **match_out,
                        const char **name_out)
{
    const char *kind_name = NULL, *value = NULL, *name = NULL, *cc_text = NULL;
    if (json_unpack((json_t *)body, "{s:s, s:s, s?s, s?s !}", "kind", &kind_name, "value", &value,
                    "name", &name, "country_code", &cc_text) != 0) {
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"kind\", \"value\", \"name\"?, \"country_code\"?} "
                                 "with string values",
                                 NULL);
        return -1;
    }
    enum blend_identity_kind kind;
    int cc = 0;
    if (blend_identity_kind_parse(kind_name, &kind) != 0) {
        respond_field(req, 422, "kind", "must be one of phone, email, chat, sms, social");
        return -1;
    }
    if (cc_text && blend_identity_country_code_parse(cc_text, &cc) != 0) {
        respond_field(req, 422, "country_code", "a country calling code: 1 to 3 digits (\"82\")");
        return -1;
    }
    char out[BLEND_IDENTITY_BYTES_MAX + 1];
    char err[BLEND_IDENTITY_ERR_BYTES];
    if (blend_identity_normalize(kind, value, strlen(value), cc, out, sizeof out, err,
                                 sizeof err) != 0) {
        respond_field(req, 422, "value", err);
        return -1;
    }
    if (name && strlen(name) > 128) {
        respond_field(req, 422, "name", "at most 128 bytes");
        return -1;
    }
    *match_out = json_pack("{s:s, s:s}", "kind", kind_name, "value", out);
    *name_out = name;
    return 0;
}

int blend__h_contact_resolve(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    json_t *match = NULL;
    const char *name = NULL;
    struct resolve *r = NULL;
    if (resolve_body(req, body, &match, &name) != 0) {
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    r = match ? blend_malloc(sizeof *r) : NULL;
    if (!r) {
        json_decref(match);
        json_decref(body);
        respond_503(req);
        return BLEND_HTTP_DONE;
    }
    *r = (struct resolve){app, req, match};
    if (respond_found(r, 200) == 0) {
        json_decref(match);
        blend_free(r);
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    json_t *input = json_pack("{s:[O]}", "identities", match);
    if (input && name) {
        json_object_set_new(input, "name", json_string(name));
    }
    json_decref(body);
    struct blend_field_errors errs;
    json_t *doc = NULL;
    int rc = input ? blend_model_validate(&blend_res_contacts, input, BLEND_VALIDATE_CREATE, 0,
                                          &doc, &errs)
                   : BLEND_ENOMEM;
    json_decref(input);
    struct blend_write *w = rc == 0 ? blend_write_create() : NULL;
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_contacts, doc)) {
        if (!w) {
            json_decref(doc);
        }
        blend_write_destroy(w);
        json_decref(match);
        blend_free(r);
        if (rc == BLEND_EINVAL) {
            blend__respond_field_errors(req, &errs);
        } else {
            respond_503(req);
        }
        return BLEND_HTTP_DONE;
    }
    return blend__app_submit(app, req, w, on_resolved, r);
}

/* ---- Merge and undo ---------------------------------------------------------------------------
 */

struct merge_reply {
    struct blend_http_req *req;
    int is_undo;
    int had_if_match;
};

static void on_merged(struct blend_write *w, void *arg)
{
    struct merge_reply *m = arg;
    struct blend_http_req *req = m->req;
    if (w->rc) {
        blend__respond_write_error(req, w, m->had_if_match || w->rc == BLEND_ECONFLICT);
    } else {
        /* ops: a merge writes [0] the source, [1] the target; an undo [0] the target, [1] the
         * source; then [2] the merge record (created or updated). */
        json_t *contact = json_incref(w->ops[m->is_undo ? 0 : 1].result);
        json_t *from = json_incref(w->ops[m->is_undo ? 1 : 0].result);
        blend_model_redact(&blend_res_contacts, contact);
        blend_model_redact(&blend_res_contacts, from);
        json_t *rec = w->ops[2].result;
        json_t *reply =
            json_pack("{s:I, s:s, s:o, s:o, s:O, s:O}", "merge_id", (json_int_t)w->ops[2].id_out,
                      "state", m->is_undo ? "undone" : "merged", "contact", contact, "from", from,
                      "identities", json_object_get(rec, "identities"), "interactions",
                      json_object_get(rec, "interactions"));
        blend_http_respond_json(req, m->is_undo ? 200 : 201, reply);
    }
    blend_free(m);
    blend_write_destroy(w);
}

/* The {"kind","value"} pairs of a contact's identities, as a new array. */
static json_t *identity_pairs(const json_t *contact)
{
    json_t *out = json_array();
    const json_t *list = json_object_get(contact, "identities");
    for (size_t i = 0; out && i < json_array_size(list); i++) {
        const json_t *it = json_array_get(list, i);
        json_array_append_new(out, json_pack("{s:O, s:O}", "kind", json_object_get(it, "kind"),
                                             "value", json_object_get(it, "value")));
    }
    return out;
}

static int pair_in(const json_t *pairs, const json_t *item)
{
    for (size_t i = 0; i < json_array_size(pairs); i++) {
        const json_t *p = json_array_get(pairs, i);
        if (json_equal(json_object_get(p, "kind"), json_object_get(item, "kind")) &&
            json_equal(json_object_get(p, "value"), json_object_get(item, "value"))) {
            return 1;
        }
    }
    return 0;
}

/* The two contacts of a merge, loaded and checked; answers and returns -1 on refusal. */
static int merge_load(struct blend_http_req *req, struct blend_app *app, int64_t into_id,
                      int64_t from_id, json_t **into_out, json_t **from_out)
{
    json_t *into = NULL, *from = NULL;
    if (blend_store_get(app->store, &blend_res_contacts, into_id, 0, &into) != 0 ||
        blend_store_get(app->store, &blend_res_contacts, from_id, 0, &from) != 0) {
        json_decref(into);
        blend_http_respond_error(req, 404, "not_found", "no such contact", NULL);
        return -1;
    }
    if (!json_is_null(json_object_get(into, "merged_into")) ||
        !json_is_null(json_object_get(from, "merged_into"))) {
        json_decref(into);
        json_decref(from);
        respond_field(req, 409, "from", "a contact already merged into another cannot be merged");
        return -1;
    }
    *into_out = into;
    *from_out = from;
    return 0;
}

/* Builds the merge write: source emptied and marked, target given both identities and the
 * merged attributes (target wins), the record, the interactions moved, the audit entry. */
static int merge_write(struct blend_write *w, const json_t *into, const json_t *from,
                       int64_t into_version, json_t *ids)
{
    int64_t into_id = json_integer_value(json_object_get(into, "id"));
    int64_t from_id = json_integer_value(json_object_get(from, "id"));
    json_t *moved = identity_pairs(from);
    json_t *all = identity_pairs(into);
    json_t *attrs = json_deep_copy(json_object_get(from, "attributes"));
    int rc = moved && all && attrs ? 0 : BLEND_ENOMEM;
    rc = rc ? rc : json_array_extend(all, moved);
    rc = rc ? rc : json_object_update(attrs, json_object_get(into, "attributes"));
    rc = rc ? BLEND_ENOMEM : 0;
    rc =
        rc ? rc
           : add_update(w, &blend_res_contacts, from_id,
                        json_integer_value(json_object_get(from, "version")),
                        json_pack("{s:[], s:I}", "identities", "merged_into", (json_int_t)into_id));
    rc = rc ? rc
            : add_update(w, &blend_res_contacts, into_id, into_version,
                         json_pack("{s:O, s:O}", "identities", all, "attributes", attrs));
    json_t *rec =
        json_pack("{s:I, s:I, s:O, s:O, s:O, s:O, s:s}", "contact_id", (json_int_t)into_id,
                  "from_contact_id", (json_int_t)from_id, "identities", moved, "interactions", ids,
                  "attributes_into", json_object_get(into, "attributes"), "attributes_from",
                  json_object_get(from, "attributes"), "state", "merged");
    if (rc == 0) {
        rc =
            rec && blend_write_add(w, BLEND_OP_CREATE, &res_contact_merges, rec) ? 0 : BLEND_ENOMEM;
    } else {
        json_decref(rec);
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(ids); i++) {
        rc = add_update(w, &blend_res_interactions, json_integer_value(json_array_get(ids, i)), 0,
                        json_pack("{s:I}", "contact", (json_int_t)into_id));
    }
    rc = rc ? rc
            : add_audit(w, "merge", into_id,
                        json_pack("{s:I, s:I, s:I}", "from", (json_int_t)from_id, "identities",
                                  (json_int_t)json_array_size(moved), "interactions",
                                  (json_int_t)json_array_size(ids)));
    json_decref(moved);
    json_decref(all);
    json_decref(attrs);
    return rc;
}

int blend__h_contact_merge(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t into_id = blend__parse_id(blend_http_req_param(req, "id"));
    int64_t if_version = blend__if_match(req);
    json_t *body;
    struct blend_http_body_error berr;
    if (if_version < 0) {
        blend_http_respond_error(req, 400, "bad_request", "If-Match must be a version", NULL);
        return BLEND_HTTP_DONE;
    }
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    json_int_t from_id = 0;
    int ok = json_unpack(body, "{s:I !}", "from", &from_id) == 0;
    json_decref(body);
    if (!ok || from_id <= 0 || from_id == into_id) {
        respond_field(req, 422, "from", "the id of another contact to merge into this one");
        return BLEND_HTTP_DONE;
    }
    json_t *into, *from, *ids = NULL;
    if (into_id <= 0 || merge_load(req, app, into_id, from_id, &into, &from) != 0) {
        if (into_id <= 0) {
            blend_http_respond_error(req, 404, "not_found", "no such contact", NULL);
        }
        return BLEND_HTTP_DONE;
    }
    int rc = contact_interaction_ids(app, from_id, MERGE_INTERACTIONS_MAX, &ids);
    if (rc == 0 && json_array_size(json_object_get(into, "identities")) +
                           json_array_size(json_object_get(from, "identities")) >
                       BLEND_CHILDREN_MAX) {
        rc = BLEND_ECONFLICT;
    }
    struct blend_write *w = rc == 0 ? blend_write_create() : NULL;
    struct merge_reply *m = w ? blend_malloc(sizeof *m) : NULL;
    int64_t pin = if_version ? if_version : json_integer_value(json_object_get(into, "version"));
    rc = rc ? rc : (m ? merge_write(w, into, from, pin, ids) : BLEND_ENOMEM);
    json_decref(into);
    json_decref(from);
    json_decref(ids);
    if (rc) {
        blend_write_destroy(w);
        blend_free(m);
        if (rc == BLEND_ELIMIT || rc == BLEND_ECONFLICT) {
            respond_field(req, 409, "from", "too many interactions or identities to merge at once");
        } else {
            respond_503(req);
        }
        return BLEND_HTTP_DONE;
    }
    *m = (struct merge_reply){req, 0, if_version != 0};
    return blend__app_submit(app, req, w, on_merged, m);
}

/* Attributes after an undo: the target's, less each key the merge brought from the source
 * (absent from the target before) whose value is still the one it brought. */
static json_t *undo_attributes(const json_t *now, const json_t *before, const json_t *from)
{
    json_t *out = json_deep_copy(now);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)from, key, v)
    {
        if (out && !json_object_get(before, key) && json_equal(json_object_get(out, key), v)) {
            json_object_del(out, key);
        }
    }
    return out;
}

/* The identities of `contact` without those in `pairs` (a new array). */
static json_t *identities_without(const json_t *contact, const json_t *pairs)
{
    json_t *all = identity_pairs(contact);
    json_t *out = json_array();
    for (size_t i = 0; all && out && i < json_array_size(all); i++) {
        if (!pair_in(pairs, json_array_get(all, i))) {
            json_array_append(out, json_array_get(all, i));
        }
    }
    json_decref(all);
    return out;
}

/* Builds the undo write: the target gives the moved identities back first (they are unique),
 * then the source takes them and is no longer merged, the record is marked undone, the moved
 * interactions go back, and the audit entry. */
static int undo_write(struct blend_write *w, const json_t *rec, const json_t *into,
                      const json_t *from)
{
    int64_t into_id = json_integer_value(json_object_get(into, "id"));
    int64_t from_id = json_integer_value(json_object_get(from, "id"));
    const json_t *moved = json_object_get(rec, "identities");
    const json_t *ids = json_object_get(rec, "interactions");
    json_t *attrs = undo_attributes(json_object_get(into, "attributes"),
                                    json_object_get(rec, "attributes_into"),
                                    json_object_get(rec, "attributes_from"));
    json_t *kept = identities_without(into, moved);
    json_t *from_ids = identity_pairs(from);
    int rc = attrs && kept && from_ids && json_array_extend(from_ids, (json_t *)moved) == 0
                 ? 0
                 : BLEND_ENOMEM;
    rc = rc ? rc
            : add_update(w, &blend_res_contacts, into_id,
                         json_integer_value(json_object_get(into, "version")),
                         json_pack("{s:O, s:O}", "identities", kept, "attributes", attrs));
    rc = rc ? rc
            : add_update(w, &blend_res_contacts, from_id,
                         json_integer_value(json_object_get(from, "version")),
                         json_pack("{s:O, s:n}", "identities", from_ids, "merged_into"));
    rc = rc ? rc
            : add_update(w, &res_contact_merges, json_integer_value(json_object_get(rec, "id")),
                         json_integer_value(json_object_get(rec, "version")),
                         json_pack("{s:s}", "state", "undone"));
    for (size_t i = 0; rc == 0 && i < json_array_size(ids); i++) {
        rc = add_update(w, &blend_res_interactions, json_integer_value(json_array_get(ids, i)), 0,
                        json_pack("{s:I}", "contact", (json_int_t)from_id));
    }
    json_t *detail =
        json_pack("{s:O, s:I}", "merge", json_object_get(rec, "id"), "from", (json_int_t)from_id);
    rc = rc ? (json_decref(detail), rc) : add_audit(w, "merge_undo", into_id, detail);
    json_decref(attrs);
    json_decref(kept);
    json_decref(from_ids);
    return rc;
}

/* Loads and checks what an undo needs; answers and returns -1 on refusal. */
static int undo_load(struct blend_http_req *req, struct blend_app *app, int64_t merge_id,
                     json_t **rec_out, json_t **into_out, json_t **from_out)
{
    json_t *rec = NULL, *into = NULL, *from = NULL;
    if (merge_id <= 0 || blend_store_get(app->store, &res_contact_merges, merge_id, 0, &rec)) {
        blend_http_respond_error(req, 404, "not_found", "no such merge", NULL);
        return -1;
    }
    int64_t into_id = json_integer_value(json_object_get(rec, "contact_id"));
    int64_t from_id = json_integer_value(json_object_get(rec, "from_contact_id"));
    int ok = strcmp(json_string_value(json_object_get(rec, "state")), "merged") == 0 &&
             blend_store_get(app->store, &blend_res_contacts, into_id, 0, &into) == 0 &&
             blend_store_get(app->store, &blend_res_contacts, from_id, 0, &from) == 0 &&
             json_integer_value(json_object_get(from, "merged_into")) == into_id &&
             json_is_null(json_object_get(into, "merged_into"));
    const json_t *moved = json_object_get(rec, "identities");
    json_t *have = ok ? identity_pairs(into) : NULL;
    for (size_t i = 0; ok && i < json_array_size(moved); i++) {
        ok = pair_in(have, json_array_get(moved, i));
    }
    json_decref(have);
    if (!ok) {
        json_decref(rec);
        json_decref(into);
        json_decref(from);
        blend_http_respond_error(req, 409, "conflict",
                                 "this merge was undone already, or its contacts changed since "
                                 "(merged again, identities removed)",
                                 NULL);
        return -1;
    }
    *rec_out = rec;
    *into_out = into;
    *from_out = from;
    return 0;
}

int blend__h_contact_merge_undo(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t merge_id = blend__parse_id(blend_http_req_param(req, "merge_id"));
    json_t *rec, *into, *from;
    if (undo_load(req, app, merge_id, &rec, &into, &from) != 0) {
        return BLEND_HTTP_DONE;
    }
    struct blend_write *w = blend_write_create();
    struct merge_reply *m = w ? blend_malloc(sizeof *m) : NULL;
    int rc = m ? undo_write(w, rec, into, from) : BLEND_ENOMEM;
    json_decref(rec);
    json_decref(into);
    json_decref(from);
    if (rc) {
        blend_write_destroy(w);
        blend_free(m);
        respond_503(req);
        return BLEND_HTTP_DONE;
    }
    *m = (struct merge_reply){req, 1, 0};
    return blend__app_submit(app, req, w, on_merged, m);
}

/* ---- Timeline ------------------------------------------------------------------------------- */

static void time_key(const char *ts, char out[24])
{
    size_t n = 0;
    for (const char *p = ts ? ts : ""; *p && n + 1 < 24; p++) {
        if (*p >= '0' && *p <= '9') {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

/* "<digits>.<id>" -> key and id; -1 when malformed. */
static int cursor_parse(const char *text, char key[24], int64_t *id)
{
    const char *dot = strchr(text, '.');
    size_t n = dot ? (size_t)(dot - text) : 0;
    if (n < 1 || n > 20) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
    }
    memcpy(key, text, n);
    key[n] = '\0';
    *id = blend__parse_id(dot + 1);
    return *id > 0 ? 0 : -1;
}

/* The contact and every contact merged into it (through chains), at most
 * TIMELINE_CONTACTS_MAX, as an array of ids (owned). */
static int contact_group(struct blend_app *app, int64_t id, json_t **out)
{
    json_t *group = json_pack("[I]", (json_int_t)id);
    int rc = group ? 0 : BLEND_ENOMEM;
    for (size_t i = 0; rc == 0 && i < json_array_size(group); i++) {
        char value[24];
        snprintf(value, sizeof value, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_array_get(group, i)));
        struct blend_list_query q = {
            .limit = TIMELINE_CONTACTS_MAX, .filter_field = "merged_into", .filter_value = value};
        json_t *items = NULL;
        int64_t next = 0;
        rc = blend_store_list(app->store, &blend_res_contacts, &q, &items, &next);
        for (size_t k = 0; rc == 0 && k < json_array_size(items); k++) {
            if (json_array_size(group) < TIMELINE_CONTACTS_MAX) {
                json_array_append(group, json_object_get(json_array_get(items, k), "id"));
            }
        }
        json_decref(items);
    }
    if (rc) {
        json_decref(group);
        return rc;
    }
    *out = group;
    return 0;
}

/* The first `limit` rows of `res` whose REF field `field` is interaction `id` (owned array). */
static json_t *rows_of(struct blend_app *app, const struct blend_resource *res, int64_t id,
                       int limit)
{
    char value[24];
    snprintf(value, sizeof value, "%" PRId64, id);
    struct blend_list_query q = {
        .limit = limit, .filter_field = "interaction", .filter_value = value};
    json_t *items = NULL;
    int64_t next = 0;
    if (blend_store_list(app->store, res, &q, &items, &next) != 0) {
        return json_array();
    }
    return items;
}

/* A timeline item: the interaction's document with its messages and its recordings (ids,
 * figures and the audio link). */
static json_t *timeline_item(struct blend_app *app, const json_t *doc)
{
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    json_t *item = json_deep_copy(doc);
    json_t *recs = rows_of(app, &blend_res_recordings, id, TIMELINE_RECORDINGS_MAX);
    json_t *links = json_array();
    for (size_t i = 0; links && i < json_array_size(recs); i++) {
        const json_t *r = json_array_get(recs, i);
        char audio[64];
        snprintf(audio, sizeof audio, "/api/v1/recordings/%" JSON_INTEGER_FORMAT "/audio",
                 json_integer_value(json_object_get(r, "id")));
        json_array_append_new(links,
                              json_pack("{s:O, s:O, s:O, s:s}", "id", json_object_get(r, "id"),
                                        "duration_ms", json_object_get(r, "duration_ms"), "state",
                                        json_object_get(r, "state"), "audio", audio));
    }
    json_decref(recs);
    if (item) {
        json_object_set_new(item, "messages",
                            rows_of(app, &blend_res_messages, id, TIMELINE_MESSAGES_MAX));
        json_object_set_new(item, "recordings", links ? links : json_array());
    } else {
        json_decref(links);
    }
    return item;
}

static int timeline_params(struct blend_http_req *req, int *limit, char ckey[24], int64_t *cid,
                           int *has_cursor)
{
    const char *l = blend_http_req_query(req, "limit");
    const char *c = blend_http_req_query(req, "cursor");
    *limit = BLEND_API_PAGE_DEFAULT;
    if (l) {
        int64_t v = blend__parse_id(l);
        if (v < 1 || v > TIMELINE_PAGE_MAX) {
            blend_http_respond_error(req, 400, "bad_request", "limit must be 1..100", NULL);
            return -1;
        }
        *limit = (int)v;
    }
    *has_cursor = c != NULL;
    if (c && cursor_parse(c, ckey, cid) != 0) {
        blend_http_respond_error(req, 400, "bad_request", "cursor is not valid", NULL);
        return -1;
    }
    return 0;
}

/* A cursor's key back to the stored form of created_at ("20261122234001123" ->
 * "2026-11-22T23:40:01.123Z"); -1 unless the key has the 17 digits of that form. */
static int key_to_time(const char *key, char out[32])
{
    if (strlen(key) != 17) {
        return -1;
    }
    snprintf(out, 32, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s.%.3sZ", key, key + 4, key + 6, key + 8,
             key + 10, key + 12, key + 14);
    return 0;
}

/* The next cursor after the last row of a page ("<created_at digits>.<id>"). */
static json_t *next_cursor(const json_t *last)
{
    char key[24], cur[48];
    time_key(json_string_value(json_object_get(last, "created_at")), key);
    snprintf(cur, sizeof cur, "%s.%" JSON_INTEGER_FORMAT, key,
             json_integer_value(json_object_get(last, "id")));
    return json_string(cur);
}

int blend__h_contact_timeline(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    int limit = 0, has_cursor = 0, has_more = 0;
    char ckey[24] = "", before[32];
    int64_t cid = 0, values[TIMELINE_CONTACTS_MAX];
    json_t *contact = NULL, *group = NULL, *rows = NULL;
    if (timeline_params(req, &limit, ckey, &cid, &has_cursor) != 0) {
        return BLEND_HTTP_DONE;
    }
    if (has_cursor && key_to_time(ckey, before) != 0) {
        blend_http_respond_error(req, 400, "bad_request", "cursor is not valid", NULL);
        return BLEND_HTTP_DONE;
    }
    if (id <= 0 || blend_store_get(app->store, &blend_res_contacts, id, 0, &contact) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such contact", NULL);
        return BLEND_HTTP_DONE;
    }
    json_decref(contact);
    int rc = contact_group(app, id, &group);
    size_t n = json_array_size(group);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        values[i] = json_integer_value(json_array_get(group, i));
    }
    rc = rc ? rc
            : blend_store_list_newest(app->store, &blend_res_interactions, "contact", values, n,
                                      has_cursor ? before : NULL, cid, limit, &rows, &has_more);
    json_t *items = rc == 0 ? json_array() : NULL;
    for (size_t i = 0; items && i < json_array_size(rows); i++) {
        json_array_append_new(items, timeline_item(app, json_array_get(rows, i)));
    }
    size_t count = json_array_size(rows);
    json_t *next = items && has_more && count ? next_cursor(json_array_get(rows, count - 1))
                                              : json_null();
    json_decref(rows);
    if (!items) {
        json_decref(group);
        json_decref(next);
        blend_http_respond_error(req, 503, "unavailable", "the store could not read", NULL);
        return BLEND_HTTP_DONE;
    }
    audit_read(app, req, id, json_array_size(items));
    blend_http_respond_json(req, 200,
                            json_pack("{s:I, s:o, s:o, s:o}", "contact_id", (json_int_t)id,
                                      "contacts", group, "items", items, "next_cursor", next));
    return BLEND_HTTP_DONE;
}

/* ---- Interaction notes and disposition ------------------------------------------------------ */

/* 1 when the caller may edit interaction `doc`: admin and supervisor any; an agent only one
 * whose agent is theirs. */
static int may_edit_interaction(struct blend_app *app, struct blend_http_req *req,
                                const json_t *doc)
{
    const struct blend_principal *p = blend__principal(req);
    if (p->role & (BLEND_ROLE_ADMIN | BLEND_ROLE_SUPERVISOR)) {
        return 1;
    }
    json_t *agent = NULL;
    if (!(p->role & BLEND_ROLE_AGENT) || p->agent_id <= 0 ||
        blend_store_get(app->store, &blend_res_agents, p->agent_id, 0, &agent) != 0) {
        return 0;
    }
    const json_t *mine = json_object_get(agent, "name");
    int ok = json_is_string(mine) && json_equal(mine, json_object_get(doc, "agent"));
    json_decref(agent);
    return ok;
}

static void on_interaction_saved(struct blend_write *w, void *arg)
{
    struct blend_http_req *req = arg;
    if (w->rc) {
        blend__respond_write_error(req, w, w->ops[0].if_version != 0);
    } else {
        json_t *doc = json_incref(w->ops[0].result);
        blend_model_redact(&blend_res_interactions, doc);
        blend__set_etag(req, doc);
        blend_http_respond_json(req, 200, doc);
    }
    blend_write_destroy(w);
}

/* Only notes and disposition: any other key of body is answered 422 naming it; -1 then. */
static int interaction_body(struct blend_http_req *req, const json_t *body, json_t **doc_out)
{
    struct blend_field_errors errs;
    blend_field_errors_init(&errs);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "notes") != 0 && strcmp(key, "disposition") != 0) {
            blend_field_errors_add(&errs, key, "only notes and disposition may be changed here");
        }
    }
    if (json_is_object(body) && errs.count_total == 0 &&
        blend_model_validate(&blend_res_interactions, body, BLEND_VALIDATE_PATCH, 0, doc_out,
                             &errs) == 0) {
        return 0;
    }
    if (!json_is_object(body) && errs.count_total == 0) {
        blend_field_errors_add(&errs, "", "expected an object");
    }
    blend__respond_field_errors(req, &errs);
    return -1;
}

int blend__h_interaction_patch(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    int64_t if_version = blend__if_match(req);
    json_t *stored = NULL, *body = NULL, *doc = NULL;
    struct blend_http_body_error berr;
    if (if_version < 0) {
        blend_http_respond_error(req, 400, "bad_request", "If-Match must be a version", NULL);
        return BLEND_HTTP_DONE;
    }
    if (id <= 0 || blend_store_get(app->store, &blend_res_interactions, id, 0, &stored) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return BLEND_HTTP_DONE;
    }
    int allowed = may_edit_interaction(app, req, stored);
    json_decref(stored);
    if (!allowed) {
        blend_http_respond_error(req, 403, "forbidden",
                                 "an agent may edit only interactions they handle", NULL);
        return BLEND_HTTP_DONE;
    }
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    int rc = interaction_body(req, body, &doc);
    json_decref(body);
    if (rc != 0) {
        return BLEND_HTTP_DONE;
    }
    struct blend_write *w = blend_write_create();
    if (!w || add_update(w, &blend_res_interactions, id, if_version, doc) != 0) {
        if (!w) {
            json_decref(doc);
        }
        blend_write_destroy(w);
        respond_503(req);
        return BLEND_HTTP_DONE;
    }
    return blend__app_submit(app, req, w, on_interaction_saved, req);
}
