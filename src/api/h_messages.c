/*
 * The messages of an interaction (docs/email.md §Replies): GET lists them oldest first (the
 * conversation as the agent reads it: inbound mail with its parsed fields, Blend's replies with
 * their sending state); POST queues the agent's reply — on an email conversation a row in the
 * queued state, addressed and threaded from the latest inbound message, that the email channel
 * sends (and retries) on its own; on an SMS or social conversation a row addressed to the
 * conversation's address that the webhook channel posts to the provider (webhooks.c); on a web
 * chat a row in the sent state, which the chat channel pushes to the visitor's sockets from the
 * event log (chat.c; a visitor who is away finds it in the history on return). The 201 means the
 * reply is stored: it survives a crash and goes out when the SMTP server takes it.
 *
 * An email reply may carry files (`attachments`, base64): they are kept in the file store
 * (files.h) before the row is written, and the row's meta.attachments names them by checksum,
 * like an inbound message's. Any message's files are downloaded one at a time
 * (GET .../messages/{mid}/attachments/{n}) with headers that keep a browser from running them.
 *
 * Who: admins, supervisors and QA read any conversation; an agent reads a conversation they
 * hold or held, and replies to one connected to them; supervisors may reply on any. Reading a
 * conversation's messages or files is audited.
 */
#include "api/app_int.h"
#include "api/email.h"
#include "api/files.h"
#include "api/routing.h"
#include "api/webhooks.h"

#include "base/alloc.h"
#include "base/log.h"
#include "engine/acd/acd.h"
#include "model/model.h"
#include "store/store.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MESSAGES_LIST_MAX 500
#define REPLY_BYTES_MAX 65536
#define SIGNATURE_BYTES_MAX 4096 /* 1,000 characters of UTF-8 (agents' signature field) */
/* A stored file served whole: inbound attachments come from messages of at most 32 MiB. */
#define DOWNLOAD_BYTES_MAX (32u * 1024 * 1024)

/* Does the principal's agent hold (or did it hold) interaction `row`? */
static int agent_of(struct blend_app *app, const struct blend_principal *p, int64_t id,
                    const json_t *row)
{
    struct blend_acd_contact_view cv;
    if (blend_acd_contact(blend__routing_acd(app->routing), id, &cv) == 0 &&
        cv.agent == p->agent_id) {
        return 1;
    }
    const char *name = json_string_value(json_object_get(row, "agent"));
    json_t *agent = NULL;
    int mine = 0;
    if (name && blend_store_get(app->store, &blend_res_agents, p->agent_id, 0, &agent) == 0) {
        const char *own = json_string_value(json_object_get(agent, "name"));
        mine = own && strcmp(own, name) == 0;
    }
    json_decref(agent);
    return mine;
}

/* The interaction `id` if the principal may see it (answers 404 / 403 otherwise). */
static json_t *interaction_for(struct blend_app *app, struct blend_http_req *req, int64_t id)
{
    const struct blend_principal *p = blend__principal(req);
    json_t *row = NULL;
    if (id <= 0 || blend_store_get(app->store, &blend_res_interactions, id, 0, &row) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return NULL;
    }
    if (p->role == BLEND_ROLE_AGENT && (p->agent_id <= 0 || !agent_of(app, p, id, row))) {
        json_decref(row);
        blend_http_respond_error(req, 403, "forbidden",
                                 "an agent sees only the conversations they handle", NULL);
        return NULL;
    }
    return row;
}

int blend__h_messages_list(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *row = interaction_for(app, req, id);
    if (!row) {
        return BLEND_HTTP_DONE;
    }
    json_decref(row);
    char idtext[32];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    json_t *all = json_array();
    int64_t after = 0;
    while (all && json_array_size(all) < MESSAGES_LIST_MAX) {
        struct blend_list_query q = {.after_id = after,
                                     .limit = 100,
                                     .filter_field = "interaction",
                                     .filter_value = idtext};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(app->store, &blend_res_messages, &q, &items, &next) != 0) {
            json_decref(all);
            blend_http_respond_error(req, 503, "unavailable", "the store could not be read",
                                     NULL);
            return BLEND_HTTP_DONE;
        }
        json_array_extend(all, items);
        json_decref(items);
        if (!next) {
            break;
        }
        after = next;
    }
    const struct blend_principal *p = blend__principal(req);
    /* Conversations are personal data: reading one is audited. */
    if (blend_store_audit_read(app->store, p->user_id, p->username, p->source, "messages", id,
                               NULL) != 0) {
        BLEND_LOG_WARN("api", "audit of a read of interaction %" PRId64 " not written", id);
    }
    blend_http_respond_json(req, 200, json_pack("{s:o}", "items", all ? all : json_array()));
    return BLEND_HTTP_DONE;
}

static const char *data_dir_of(const struct blend_app *app)
{
    return app->cfg.data_dir && app->cfg.data_dir[0] ? app->cfg.data_dir : ".";
}

/* Content-Disposition for a download: a plain ASCII name for old clients, the UTF-8 name
 * percent-encoded (RFC 5987 / RFC 6266) for the rest. name is already sanitised. */
static void disposition(const char *name, char *out, size_t cap)
{
    char ascii[BLEND__FILES_NAME_BYTES];
    char pct[BLEND__FILES_NAME_BYTES * 3];
    size_t a = 0, q = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        ascii[a++] = *c < 0x80 && *c != '"' && *c != '\\' && *c != '%' ? (char)*c : '_';
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("!#$&+-.^_`|~", *c)) {
            pct[q++] = (char)*c;
        } else {
            q += (size_t)snprintf(pct + q, sizeof pct - q, "%%%02X", *c);
        }
    }
    ascii[a] = '\0';
    pct[q] = '\0';
    snprintf(out, cap, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, pct);
}

/* An attachment's index in the path: up to four decimal digits (-1 for anything else). */
static int index_of(const char *s)
{
    if (!s || !s[0] || strlen(s) > 4) {
        return -1;
    }
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* The n-th file of message mid (meta.attachments[n]) of interaction id: the stored bytes, with
 * headers that keep a browser from rendering or running them. */
int blend__h_messages_attachment(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    int64_t mid = blend__parse_id(blend_http_req_param(req, "mid"));
    int n = index_of(blend_http_req_param(req, "n"));
    json_t *row = interaction_for(app, req, id);
    if (!row) {
        return BLEND_HTTP_DONE;
    }
    json_decref(row);
    json_t *msg = NULL;
    if (mid <= 0 || n < 0 ||
        blend_store_get(app->store, &blend_res_messages, mid, 0, &msg) != 0 ||
        json_integer_value(json_object_get(msg, "interaction")) != id) {
        json_decref(msg);
        blend_http_respond_error(req, 404, "not_found", "no such message in this interaction",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    const json_t *att =
        json_array_get(json_object_get(json_object_get(msg, "meta"), "attachments"), (size_t)n);
    const char *sha = json_string_value(json_object_get(att, "sha256"));
    const char *type = json_string_value(json_object_get(att, "content_type"));
    if (!sha) {
        json_decref(msg);
        blend_http_respond_error(req, 404, "not_found", "no such attachment", NULL);
        return BLEND_HTTP_DONE;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = blend__files_read(data_dir_of(app), sha, DOWNLOAD_BYTES_MAX, &data, &len);
    if (rc) {
        json_decref(msg);
        blend_http_respond_error(req, rc == BLEND_ENOENT || rc == BLEND_EINVAL ? 410 : 503,
                                 rc == BLEND_ENOENT || rc == BLEND_EINVAL ? "gone" : "unavailable",
                                 "the file is not kept any more", NULL);
        return BLEND_HTTP_DONE;
    }
    char name[BLEND__FILES_NAME_BYTES], disp[BLEND__FILES_NAME_BYTES * 4 + 64];
    blend__files_sanitize_name(json_string_value(json_object_get(att, "filename")), name,
                               sizeof name);
    disposition(name, disp, sizeof disp);
    char ctype[BLEND__FILES_TYPE_BYTES];
    snprintf(ctype, sizeof ctype, "%s",
             blend__files_is_active_type(type) ? "application/octet-stream" : type);
    json_decref(msg);
    const struct blend_principal *p = blend__principal(req);
    if (blend_store_audit_read(app->store, p->user_id, p->username, p->source, "attachment", id,
                               NULL) != 0) {
        BLEND_LOG_WARN("api", "audit of a read of interaction %" PRId64 " not written", id);
    }
    if (blend_http_add_header(req, "Content-Disposition", disp) != 0 ||
        blend_http_add_header(req, "X-Content-Type-Options", "nosniff") != 0 ||
        blend_http_add_header(req, "Content-Security-Policy", "sandbox") != 0) {
        blend_free(data);
        blend_http_respond_error(req, 500, "internal", "headers not set", NULL);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_take(req, 200, ctype, (char *)data, len);
    return BLEND_HTTP_DONE;
}

struct reply {
    struct blend_app *app;
    struct blend_http_req *req;
};

static int queue_reply(struct blend_app *app, struct blend_http_req *req, json_t *doc);

static void on_reply_stored(struct blend_write *w, void *arg)
{
    struct reply *r = arg;
    if (w->rc) {
        blend__respond_write_error(r->req, w, 0);
    } else {
        blend_http_respond_json(r->req, 201, json_incref(w->ops[0].result));
        blend__email_kick(r->app->email);
        blend__webhooks_kick(r->app->webhooks);
    }
    blend_write_destroy(w);
    blend_free(r);
}

/* "blend-<interaction>-<random>@<the From address's domain>". */
static void new_message_id(int64_t id, const char *from, char *out, size_t cap)
{
    unsigned char rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    const char *at = strchr(from, '@');
    snprintf(out, cap, "blend-%" PRId64 "-%s@%s", id, hex, at && at[1] ? at + 1 : "blend.invalid");
}

/* The reply's signature: the agent's own (agents' `signature`), else the author's name. */
static void signature_of(struct blend_app *app, const struct blend_principal *p, char *out,
                         size_t cap)
{
    json_t *agent = NULL;
    const char *sig = NULL;
    if (p->agent_id > 0 &&
        blend_store_get(app->store, &blend_res_agents, p->agent_id, 0, &agent) == 0) {
        sig = json_string_value(json_object_get(agent, "signature"));
    }
    snprintf(out, cap, "%s", sig && sig[0] ? sig : p->username);
    json_decref(agent);
}

/* Keeps a reply's files in the store; their meta.attachments entries (owned), or NULL when one
 * could not be written (answered 503). */
static json_t *stored_files(struct blend_app *app, struct blend_http_req *req,
                            const struct blend__uploads *files)
{
    json_t *atts = json_array();
    for (size_t i = 0; atts && i < files->count; i++) {
        const struct blend__upload *u = &files->items[i];
        char hex[BLEND__FILES_HEX_BYTES];
        if (blend__files_put(data_dir_of(app), u->data, u->size, hex) != 0) {
            BLEND_LOG_ERROR("api", "attachment %s of a reply not kept", u->filename);
            json_decref(atts);
            blend_http_respond_error(req, 503, "unavailable", "the file could not be kept", NULL);
            return NULL;
        }
        json_array_append_new(atts, json_pack("{s:s, s:s, s:I, s:s, s:b, s:s}", "filename",
                                               u->filename, "content_type", u->content_type,
                                               "size", (json_int_t)u->size, "sha256", hex,
                                               "inline", 0, "content_id", ""));
    }
    if (!atts) {
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
    }
    return atts;
}

int blend__h_messages_reply(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *text = NULL;
    json_t *files_json = NULL;
    int ok = json_unpack(body, "{s:s, s?o !}", "body", &text, "attachments", &files_json) == 0 &&
             text[0] && strlen(text) <= REPLY_BYTES_MAX;
    if (!ok) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"body\": text of 1..65536 bytes, \"attachments\": "
                                 "[files] (email only)}",
                                 json_pack("[{s:s, s:s}]", "path", "body", "message",
                                           "required: the reply's text"));
        return BLEND_HTTP_DONE;
    }
    struct blend__uploads files;
    struct blend__uploads_error ferr;
    int frc = blend__uploads_parse(files_json, &files, &ferr);
    if (frc) {
        json_decref(body);
        if (frc == BLEND_ENOMEM) {
            blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        } else {
            blend_http_respond_error(req, ferr.status,
                                     ferr.status == 413 ? "too_large" : "validation_failed",
                                     ferr.message,
                                     json_pack("[{s:s, s:s}]", "path", ferr.path, "message",
                                               ferr.message));
        }
        return BLEND_HTTP_DONE;
    }
    json_t *row = interaction_for(app, req, id);
    if (!row) {
        blend__uploads_free(&files);
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    const char *channel = json_string_value(json_object_get(row, "channel"));
    int email = channel && strcmp(channel, "email") == 0;
    int hook = channel && (strcmp(channel, "sms") == 0 || strcmp(channel, "social") == 0);
    char address[300];
    snprintf(address, sizeof address, "%s",
             json_is_string(json_object_get(row, "address"))
                 ? json_string_value(json_object_get(row, "address"))
                 : "");
    char chan[16];
    snprintf(chan, sizeof chan, "%s", channel ? channel : "");
    json_decref(row);
    if (files.count > 0 && !email) {
        blend__uploads_free(&files);
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "attachments are sent on email conversations only",
                                 json_pack("[{s:s, s:s}]", "path", "attachments", "message",
                                           "email only"));
        return BLEND_HTTP_DONE;
    }
    if (p->role == BLEND_ROLE_AGENT) {
        struct blend_acd_contact_view cv;
        if (blend_acd_contact(blend__routing_acd(app->routing), id, &cv) != 0 ||
            cv.agent != p->agent_id || cv.state != BLEND_CONTACT_CONNECTED) {
            blend__uploads_free(&files);
            json_decref(body);
            blend_http_respond_error(req, 409, "conflict",
                                     "reply to a conversation once it is connected to you",
                                     NULL);
            return BLEND_HTTP_DONE;
        }
    }
    if (strcmp(chan, "chat") == 0) {
        /* Web chat: delivered by the chat channel once durable (chat.c follows the log). */
        json_t *doc = json_pack("{s:I, s:s, s:s, s:s, s:{s:s}, s:s}", "interaction",
                                (json_int_t)id, "direction", "outbound", "author", p->username,
                                "body", text, "meta", "channel", "chat", "state", "sent");
        json_decref(body);
        return queue_reply(app, req, doc);
    }
    if (hook) {
        /* SMS / social: to the conversation's address, through the provider (webhooks.c). */
        if (!app->webhooks || !address[0]) {
            json_decref(body);
            blend_http_respond_error(req, 409, "conflict",
                                     "the webhook channel is not configured or the conversation "
                                     "has no address",
                                     NULL);
            return BLEND_HTTP_DONE;
        }
        json_t *doc = json_pack("{s:I, s:s, s:s, s:s, s:{s:s, s:s}, s:s}", "interaction",
                                (json_int_t)id, "direction", "outbound", "author", p->username,
                                "body", text, "meta", "channel", chan, "to", address, "state",
                                "queued");
        json_decref(body);
        return queue_reply(app, req, doc);
    }
    json_t *fields = NULL;
    if (!email || !app->email || blend__email_reply_fields(app->email, id, &fields) != 0) {
        blend__uploads_free(&files);
        json_decref(body);
        blend_http_respond_error(req, 409, "conflict",
                                 email ? "the email channel is not configured or the "
                                         "conversation has no inbound message to answer"
                                       : "replies are sent on email, SMS, social and chat "
                                         "conversations",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    char mid[256];
    new_message_id(id, json_string_value(json_object_get(fields, "from")), mid, sizeof mid);
    /* The files are safe on disk before the row that names them is written. */
    json_t *atts = stored_files(app, req, &files);
    blend__uploads_free(&files);
    if (!atts) {
        json_decref(fields);
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    char sig[SIGNATURE_BYTES_MAX + 1];
    signature_of(app, p, sig, sizeof sig);
    json_t *meta = json_pack("{s:s, s:O, s:O, s:O, s:O, s:s, s:o}", "channel", "email", "to",
                             json_object_get(fields, "to"),
                             "from", json_object_get(fields, "from"), "in_reply_to",
                             json_object_get(fields, "in_reply_to"), "references",
                             json_object_get(fields, "references"), "signature", sig,
                             "attachments", atts);
    if (meta && json_object_get(fields, "mailbox")) {
        json_object_set(meta, "mailbox", json_object_get(fields, "mailbox"));
    }
    json_t *doc = json_pack("{s:I, s:s, s:s, s:s, s:O, s:s, s:o, s:s}", "interaction",
                            (json_int_t)id, "direction", "outbound", "author", p->username,
                            "body", text, "subject", json_object_get(fields, "subject"),
                            "message_id", mid, "meta", meta ? meta : json_object(), "state",
                            "queued");
    json_decref(fields);
    json_decref(body);
    return queue_reply(app, req, doc);
}

/* Stores a reply (doc stolen) and answers 201 once it is durable. */
static int queue_reply(struct blend_app *app, struct blend_http_req *req, json_t *doc)
{
    struct reply *r = doc ? blend_malloc(sizeof *r) : NULL;
    struct blend_write *w = r ? blend_write_create() : NULL;
    /* blend_write_add takes the document, also when it fails. */
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_messages, doc)) {
        if (!w) {
            json_decref(doc);
        }
        blend_write_destroy(w);
        blend_free(r);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    r->app = app;
    r->req = req;
    return blend__app_submit(app, req, w, on_reply_stored, r);
}
