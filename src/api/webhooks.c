/*
 * The webhook channel for SMS and social messages (see webhooks.h, docs/webhooks.md).
 *
 * Inbound: POST /api/v1/channels/{sms|social}/messages, signed: X-Blend-Timestamp (Unix
 * seconds, within 300 s of now) and X-Blend-Signature "sha256=" HMAC-SHA256(secret,
 * "<timestamp>.<body>") in hex, compared in constant time. The sender's identity is normalised
 * (docs/contacts.md); the message joins the open conversation of that address on that channel,
 * or opens one (a contact found or created for the identity, an interaction routed to the
 * channel's queue, the message in the same write). The answer comes after the commit.
 * Outbound: agents' replies (queued rows, meta.channel sms/social) are POSTed one at a time,
 * oldest first, to provider_url with the same signature scheme and the bearer token; the
 * provider's id for it is kept as the row's message_id, which its status callbacks
 * (POST /api/v1/channels/{channel}/status) name.
 */
#include "api/webhooks.h"

#include "api/app_int.h"
#include "api/outbox.h"
#include "api/routing.h"
#include "api/webclient.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "engine/acd/acd.h"
#include "model/channel.h"
#include "model/identity.h"
#include "model/model.h"
#include "store/store.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_SKEW_S 300
#define HOOK_TIMEOUT_MS 15000
#define HOOK_TICK_MS 5000
#define HOOK_RETRY_FIRST_S 2
#define HOOK_ID_BYTES_MAX BLEND_CHANNEL_ID_BYTES_MAX

struct blend_webhooks {
    struct blend_app *app;
    struct blend_webclient *wc;
    struct blend__outbox *outbox; /* the replies waiting to leave */
    int writes; /* inbound writes not answered yet: the channel lives until they are */
    int closing;
    char secret[128];
    char provider_url[1100];
    char auth[300]; /* "Authorization: Bearer ..." or "" */
    char sms_queue[128], social_queue[128];
    int country_code;
};

static void maybe_free(struct blend_webhooks *w);

void blend__webhooks_sign(const char *secret, const char *timestamp, const char *body,
                          size_t len, char out[72])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, 65, mac, sizeof mac);
}

/* ---- Inbound ------------------------------------------------------------------------------- */

/* 0 when the request is signed with the secret and fresh; else answers 401 and returns -1. */
static int verify(struct blend_webhooks *w, struct blend_http_req *req)
{
    const char *ts = blend_http_req_header(req, "X-Blend-Timestamp");
    const char *sig = blend_http_req_header(req, "X-Blend-Signature");
    char *end = NULL;
    long long t = ts ? strtoll(ts, &end, 10) : 0;
    long long now = (long long)(blend__wall_ms() / 1000);
    if (!ts || !sig || !end || *end || end == ts) {
        blend_http_respond_error(req, 401, "unsigned",
                                 "X-Blend-Timestamp and X-Blend-Signature are required", NULL);
        return -1;
    }
    if (t < now - HOOK_SKEW_S || t > now + HOOK_SKEW_S) {
        blend_http_respond_error(req, 401, "stale", "the timestamp is not within 5 minutes of now",
                                 NULL);
        return -1;
    }
    size_t len = 0;
    const char *body = blend_http_req_body(req, &len);
    char want[72];
    blend__webhooks_sign(w->secret, ts, body, len, want);
    if (strlen(sig) != strlen(want) || sodium_memcmp(sig, want, strlen(want)) != 0) {
        blend_http_respond_error(req, 401, "bad_signature", "the signature does not match", NULL);
        return -1;
    }
    return 0;
}

struct inbound {
    struct blend_webhooks *w;
    struct blend_http_req *req;
    char channel[8];
    char identity[BLEND_IDENTITY_BYTES_MAX + 1];
    char source[HOOK_ID_BYTES_MAX + 16];
    json_t *message; /* the message row's document (without its interaction) */
    json_t *contact_name;
    int64_t contact;
};

static void maybe_free(struct blend_webhooks *w)
{
    if (w->closing && w->writes == 0) {
        blend_free(w);
    }
}

static void inbound_free(struct inbound *x)
{
    struct blend_webhooks *w = x->w;
    json_decref(x->message);
    json_decref(x->contact_name);
    blend_free(x);
    w->writes--;
    maybe_free(w);
}

static void answer_stored(struct inbound *x, int rc, int64_t interaction, int64_t message)
{
    if (rc == BLEND_EEXIST) {
        blend_http_respond_json(x->req, 200, json_pack("{s:b}", "duplicate", 1));
    } else if (rc) {
        blend_http_respond_error(x->req, 503, "unavailable", "the message could not be stored",
                                 NULL);
    } else {
        blend_http_respond_json(x->req, 200,
                                json_pack("{s:b, s:I, s:I}", "stored", 1, "interaction_id",
                                          (json_int_t)interaction, "message",
                                          (json_int_t)message));
    }
    inbound_free(x);
}

static void on_message_stored(struct blend_write *wr, void *arg)
{
    struct inbound *x = arg;
    int rc = wr->rc;
    int64_t interaction = json_integer_value(json_object_get(wr->ops[0].doc, "interaction"));
    int64_t message = wr->ops[0].id_out;
    blend_write_destroy(wr);
    answer_stored(x, rc, interaction, message);
}

struct arrival_ids {
    int64_t interaction, message;
};

static void on_arrival_created(struct blend_app *app, void *arg, int64_t id)
{
    (void)app;
    struct inbound *x = arg;
    json_object_set_new(x->message, "interaction", json_integer(id));
}

static void on_arrival_done(struct blend_app *app, void *arg, int rc, json_t *doc)
{
    (void)app;
    struct inbound *x = arg;
    int64_t id = json_integer_value(json_object_get(doc, "id")); /* doc borrowed */
    answer_stored(x, rc, id, 0);
}

static int add_message(struct blend_write *wr, void *arg)
{
    struct inbound *x = arg;
    struct blend_write_op *op =
        blend_write_add(wr, BLEND_OP_CREATE, &blend_res_messages, json_incref(x->message));
    if (!op) {
        return BLEND_ENOMEM;
    }
    op->ref_op = 0;
    snprintf(op->ref_field, sizeof op->ref_field, "interaction");
    return 0;
}

/* The open conversation of this address on this channel, 0 when none. */
static int64_t open_conversation(struct blend_webhooks *w, const struct inbound *x)
{
    int64_t found = 0, after = 0;
    for (int pages = 0; pages < 50; pages++) {
        struct blend_list_query q = {.after_id = after,
                                     .limit = 100,
                                     .filter_field = "address",
                                     .filter_value = x->identity};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(w->app->store, &blend_res_interactions, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *ch = json_string_value(json_object_get(it, "channel"));
            const char *state = json_string_value(json_object_get(it, "state"));
            if (ch && state && strcmp(ch, x->channel) == 0 && strcmp(state, "ended") != 0) {
                found = json_integer_value(json_object_get(it, "id"));
            }
        }
        json_decref(items);
        if (!next) {
            break;
        }
        after = next;
    }
    return found;
}

static void store_message(struct inbound *x)
{
    struct blend_webhooks *w = x->w;
    int64_t thread = open_conversation(w, x);
    if (thread > 0) {
        json_object_set_new(x->message, "interaction", json_integer(thread));
        struct blend_write *wr = blend_write_create();
        struct blend_write_op *ev = NULL;
        if (wr && blend_write_add(wr, BLEND_OP_CREATE, &blend_res_messages,
                                  json_incref(x->message))) {
            ev = blend_write_add(wr, BLEND_OP_EVENT, NULL,
                                 json_pack("{s:I, s:s, s:s}", "interaction_id", (json_int_t)thread,
                                           "channel", x->channel, "direction", "inbound"));
            struct blend_acd_contact_view cv;
            if (ev && blend_acd_contact(blend__routing_acd(w->app->routing), thread, &cv) == 0 &&
                cv.agent > 0) {
                json_object_set_new(ev->doc, "agent_id", json_integer(cv.agent)); /* their stream */
            }
        }
        if (!ev) {
            blend_write_destroy(wr);
            answer_stored(x, BLEND_ENOMEM, 0, 0);
            return;
        }
        snprintf(ev->event_type, sizeof ev->event_type, "interaction.message");
        snprintf(ev->subject, sizeof ev->subject, "interactions/%" PRId64, thread);
        ev->ref_op = 0;
        snprintf(ev->ref_field, sizeof ev->ref_field, "message");
        snprintf(wr->actor, sizeof wr->actor, "%s", x->channel);
        (void)blend__app_submit(w->app, x->req, wr, on_message_stored, x);
        return;
    }
    const char *queue = strcmp(x->channel, "sms") == 0 ? w->sms_queue : w->social_queue;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "channel", x->channel, "direction", "inbound",
                             "queue", queue, "address", x->identity);
    if (body && x->contact > 0) {
        json_object_set_new(body, "contact", json_integer(x->contact));
    }
    int rc = body ? blend__interaction_arrive_with(w->app, body, add_message, x,
                                                   on_arrival_created, on_arrival_done, x)
                  : BLEND_ENOMEM;
    if (rc) {
        BLEND_LOG_ERROR("webhooks", "%s message %s cannot open a conversation in %s: %s",
                        x->channel, x->source, queue, blend_strerror(rc));
        answer_stored(x, rc, 0, 0);
    }
}

static void on_contact(struct blend_write *wr, void *arg)
{
    struct inbound *x = arg;
    if (wr->rc == 0) {
        x->contact = wr->ops[0].id_out;
    } else {
        json_t *match = json_pack("{s:s, s:s}", "kind", x->channel, "value", x->identity);
        json_t *doc = NULL;
        if (match && blend_store_find_by_child(x->w->app->store, &blend_res_contacts,
                                               "identities", match, 0, &doc) == 0) {
            x->contact = json_integer_value(json_object_get(doc, "id"));
        }
        json_decref(doc);
        json_decref(match);
    }
    blend_write_destroy(wr);
    store_message(x);
}

static void resolve_contact(struct inbound *x)
{
    struct blend_webhooks *w = x->w;
    json_t *match = json_pack("{s:s, s:s}", "kind", x->channel, "value", x->identity);
    json_t *doc = NULL;
    if (match && blend_store_find_by_child(w->app->store, &blend_res_contacts, "identities", match,
                                           0, &doc) == 0) {
        x->contact = json_integer_value(json_object_get(doc, "id"));
        json_decref(doc);
        json_decref(match);
        store_message(x);
        return;
    }
    json_decref(match);
    json_t *contact = json_pack("{s:[{s:s, s:s}]}", "identities", "kind", x->channel, "value",
                                x->identity);
    if (contact && x->contact_name) {
        json_object_set(contact, "name", x->contact_name);
    }
    struct blend_write *wr = blend_write_create();
    if (!contact || !wr || !blend_write_add(wr, BLEND_OP_CREATE, &blend_res_contacts, contact)) {
        blend_write_destroy(wr);
        store_message(x);
        return;
    }
    snprintf(wr->actor, sizeof wr->actor, "%s", x->channel);
    (void)blend__app_submit(w->app, x->req, wr, on_contact, x);
}

int blend__h_channel_inbound(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    struct blend_webhooks *w = app->webhooks;
    const char *channel = blend_http_req_param(req, "channel");
    int sms = channel && strcmp(channel, "sms") == 0;
    int social = channel && strcmp(channel, "social") == 0;
    if (!w || (!sms && !social) || !(sms ? w->sms_queue : w->social_queue)[0]) {
        blend_http_respond_error(req, 404, "not_found", "no such webhook channel", NULL);
        return BLEND_HTTP_DONE;
    }
    if (verify(w, req) != 0) {
        return BLEND_HTTP_DONE;
    }
    size_t len = 0;
    const char *raw = blend_http_req_body(req, &len);
    struct blend_channel_inbound in;
    char field[32], err[160];
    int rc = blend_channel_inbound_parse(social, raw, len, w->country_code, &in, field,
                                         sizeof field, err, sizeof err);
    if (rc) {
        char msg[220];
        snprintf(msg, sizeof msg, "%s%s%s", field, field[0] ? ": " : "", err);
        blend_http_respond_error(req, rc == BLEND_ENOMEM ? 503 : 422,
                                 rc == BLEND_ENOMEM ? "unavailable" : "validation_failed", msg,
                                 json_pack("[{s:s, s:s}]", "path", field, "message", err));
        return BLEND_HTTP_DONE;
    }
    struct inbound *x = blend_calloc(1, sizeof *x);
    if (!x) {
        blend_channel_inbound_free(&in);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    x->w = w;
    x->req = req;
    w->writes++;
    snprintf(x->channel, sizeof x->channel, "%s", channel);
    snprintf(x->identity, sizeof x->identity, "%s", in.identity);
    snprintf(x->source, sizeof x->source, "%s:%s", channel, in.id);
    json_t *meta = social ? json_pack("{s:s, s:s, s:s, s:s}", "channel", channel, "network",
                                      in.network, "kind", in.kind, "author", in.raw_sender)
                          : json_pack("{s:s, s:s}", "channel", channel, "from", in.raw_sender);
    if (meta && in.url) {
        json_object_set_new(meta, "url", json_string(in.url));
    }
    if (meta && in.to) {
        json_object_set_new(meta, "to", json_string(in.to));
    }
    x->message = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "direction", "inbound", "author",
                           x->identity, "body", in.text, "source", x->source, "meta",
                           meta ? meta : json_object(), "state", "received");
    if (in.name && in.name[0]) {
        x->contact_name = json_string(in.name);
    }
    blend_channel_inbound_free(&in);
    if (!x->message) {
        answer_stored(x, BLEND_ENOMEM, 0, 0);
        return BLEND_HTTP_PENDING;
    }
    /* A replay of a message already stored: answered, not stored again. */
    json_t *seen = NULL;
    if (blend_store_find(app->store, &blend_res_messages, "source", x->source, 0, &seen) == 0) {
        json_decref(seen);
        answer_stored(x, BLEND_EEXIST, 0, 0);
        return BLEND_HTTP_PENDING;
    }
    resolve_contact(x);
    return BLEND_HTTP_PENDING;
}

/* ---- Status callbacks ---------------------------------------------------------------------- */

struct status_ctx {
    struct blend_http_req *req;
};

static void on_status_written(struct blend_write *wr, void *arg)
{
    struct blend_http_req *req = arg;
    if (wr->rc) {
        blend__respond_write_error(req, wr, 0);
    } else {
        blend_http_respond_json(req, 200, json_pack("{s:b}", "recorded", 1));
    }
    blend_write_destroy(wr);
}

int blend__h_channel_status(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    struct blend_webhooks *w = app->webhooks;
    const char *channel = blend_http_req_param(req, "channel");
    if (!w || !channel || (strcmp(channel, "sms") != 0 && strcmp(channel, "social") != 0)) {
        blend_http_respond_error(req, 404, "not_found", "no such webhook channel", NULL);
        return BLEND_HTTP_DONE;
    }
    if (verify(w, req) != 0) {
        return BLEND_HTTP_DONE;
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *id = NULL, *status = NULL;
    int ok = json_unpack(body, "{s:s, s:s}", "id", &id, "status", &status) == 0 &&
             (strcmp(status, "delivered") == 0 || strcmp(status, "failed") == 0);
    json_t *doc = NULL;
    if (ok && blend_store_find_first(app->store, &blend_res_messages, "message_id", id, &doc) != 0) {
        json_decref(body);
        blend_http_respond_error(req, 404, "not_found", "no reply with that provider id", NULL);
        return BLEND_HTTP_DONE;
    }
    if (!ok) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"id\": provider id, \"status\": \"delivered\" | "
                                 "\"failed\"}",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    int64_t mid = json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    struct blend_write *wr = blend_write_create();
    struct blend_write_op *op =
        wr ? blend_write_add(wr, BLEND_OP_UPDATE, &blend_res_messages,
                             json_pack("{s:s}", "state", status))
           : NULL;
    json_decref(body);
    if (!op) {
        blend_write_destroy(wr);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    op->id = mid;
    snprintf(wr->actor, sizeof wr->actor, "%s", channel);
    return blend__app_submit(app, req, wr, on_status_written, req);
}

/* ---- Outbound ------------------------------------------------------------------------------ */

static void on_posted(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct blend_webhooks *w = arg;
    if (rc == BLEND_ECLOSED) {
        return;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%s, HTTP %d", rc ? blend_strerror(rc) : "answered", status);
    if (rc == 0 && status >= 200 && status < 300) {
        json_t *answer = json_loadb(body, len, 0, NULL);
        blend__outbox_done(w->outbox, (int64_t)token, BLEND__OUTBOX_SENT,
                           json_string_value(json_object_get(answer, "id")), detail);
        json_decref(answer);
    } else {
        /* A 4xx other than 408 / 429: the provider will never take it. */
        int never = rc == 0 && status >= 400 && status < 500 && status != 408 && status != 429;
        blend__outbox_done(w->outbox, (int64_t)token,
                           never ? BLEND__OUTBOX_FAILED : BLEND__OUTBOX_RETRY, NULL, detail);
    }
}

/* Posts one queued reply to the provider: the outbox's send function. */
static int post_one(void *arg, const json_t *doc)
{
    struct blend_webhooks *w = arg;
    if (!w->provider_url[0]) {
        return BLEND_ESTATE; /* replies stay queued without a provider */
    }
    const json_t *meta = json_object_get(doc, "meta");
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    if (!json_is_string(json_object_get(meta, "to"))) {
        return BLEND_EINVAL;
    }
    json_t *out = json_pack("{s:I, s:O, s:O, s:O}", "reference", (json_int_t)id, "channel",
                            json_object_get(meta, "channel"), "to", json_object_get(meta, "to"),
                            "text", json_object_get(doc, "body"));
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (!text) {
        return BLEND_ENOMEM;
    }
    char ts[32], sig[72], sig_line[96], ts_line[64];
    snprintf(ts, sizeof ts, "%lld", (long long)(blend__wall_ms() / 1000));
    blend__webhooks_sign(w->secret, ts, text, strlen(text), sig);
    snprintf(sig_line, sizeof sig_line, "X-Blend-Signature: %s", sig);
    snprintf(ts_line, sizeof ts_line, "X-Blend-Timestamp: %s", ts);
    const char *headers[4] = {sig_line, ts_line, w->auth[0] ? w->auth : NULL, NULL};
    struct blend_webclient_request r = {.method = "POST",
                                        .url = w->provider_url,
                                        .content_type = "application/json",
                                        .body = text,
                                        .body_len = strlen(text),
                                        .timeout_ms = HOOK_TIMEOUT_MS,
                                        .headers = headers};
    int rc = blend__webclient_send(w->wc, &r, on_posted, w, (uint64_t)id, NULL);
    blend_free(text);
    return rc;
}

void blend__webhooks_kick(struct blend_webhooks *w)
{
    if (w) {
        blend__outbox_kick(w->outbox);
    }
}

int blend__webhooks_create(struct blend_app *app, const struct blend__webhooks_config *cfg,
                           struct blend_webhooks **out)
{
    BLEND_ASSERT(app && cfg && out);
    if (!cfg->secret || strlen(cfg->secret) < 16) {
        return BLEND_EINVAL; /* a guessable secret signs nothing */
    }
    struct blend_webhooks *w = blend_calloc(1, sizeof *w);
    if (!w) {
        return BLEND_ENOMEM;
    }
    w->app = app;
    snprintf(w->secret, sizeof w->secret, "%s", cfg->secret);
    snprintf(w->provider_url, sizeof w->provider_url, "%s",
             cfg->provider_url ? cfg->provider_url : "");
    if (cfg->provider_token && cfg->provider_token[0]) {
        snprintf(w->auth, sizeof w->auth, "Authorization: Bearer %s", cfg->provider_token);
    }
    snprintf(w->sms_queue, sizeof w->sms_queue, "%s", cfg->sms_queue ? cfg->sms_queue : "");
    snprintf(w->social_queue, sizeof w->social_queue, "%s",
             cfg->social_queue ? cfg->social_queue : "");
    w->country_code = cfg->country_code > 0 ? cfg->country_code : 82;
    int rc = blend__webclient_create(app->loop, &w->wc);
    if (rc) {
        blend_free(w);
        return rc;
    }
    static const char *const channels[] = {"sms", "social", NULL};
    struct blend__outbox_config oc = {.name = "webhooks",
                                      .channels = channels,
                                      .retry_first_s = HOOK_RETRY_FIRST_S,
                                      .tick_ms = HOOK_TICK_MS,
                                      .send = post_one,
                                      .arg = w};
    rc = blend__outbox_create(app, &oc, &w->outbox);
    if (rc) {
        blend__webclient_destroy(w->wc);
        blend_free(w);
        return rc;
    }
    BLEND_LOG_INFO("webhooks", "SMS into %s, social into %s; replies to %s",
                   w->sms_queue[0] ? w->sms_queue : "(off)",
                   w->social_queue[0] ? w->social_queue : "(off)",
                   w->provider_url[0] ? w->provider_url : "nobody (they stay queued)");
    *out = w;
    return 0;
}

void blend__webhooks_destroy(struct blend_webhooks *w)
{
    if (!w) {
        return;
    }
    w->closing = 1;
    blend__outbox_destroy(w->outbox);
    blend__webclient_destroy(w->wc);
    maybe_free(w);
}
