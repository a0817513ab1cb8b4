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
 * SMS preset twilio (ADR 0018): the same two paths also take the provider's form posts, told
 * apart by their content type and checked by X-Twilio-Signature (form.h) instead of the Blend
 * headers; the inbound one is answered with an empty TwiML document (the provider then sends
 * nothing itself), and SMS replies leave as the provider's form posts with Basic auth and a
 * StatusCallback under public_url. A social reply answers the way the customer last wrote: a
 * public reply to their latest post (reply_to = its id) or a direct message.
 */
#include "api/webhooks.h"

#include "api/app_int.h"
#include "api/form.h"
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
#include <strings.h>

#define HOOK_SKEW_S 300
#define HOOK_TIMEOUT_MS 15000
#define HOOK_TICK_MS 5000
#define HOOK_RETRY_FIRST_S 2
#define HOOK_ID_BYTES_MAX BLEND_CHANNEL_ID_BYTES_MAX
#define HOOK_URL_BYTES 1100
/* A provider lists at most 10 media per message (MMS). */
#define HOOK_MEDIA_MAX 10
/* The form post of one reply: a 64 KiB text percent-encoded (3 bytes a byte) and the rest. */
#define HOOK_FORM_OUT_BYTES_MAX (3 * BLEND_CHANNEL_TEXT_BYTES_MAX + 3 * 4096)
static const char twiml_empty[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

struct blend_webhooks {
    struct blend_app *app;
    struct blend_webclient *wc;
    struct blend__outbox *outbox; /* the replies waiting to leave */
    int writes; /* inbound writes not answered yet: the channel lives until they are */
    int closing;
    char secret[128];
    char provider_url[HOOK_URL_BYTES];
    char auth[300]; /* "Authorization: Bearer ..." or "" */
    char sms_queue[128], social_queue[128];
    int country_code;
    /* SMS preset twilio (is_twilio): everything else below is unused with the Blend preset. */
    int is_twilio;
    int posting_twilio; /* the send under way is a twilio post (its answer names "sid") */
    char public_url[HOOK_URL_BYTES]; /* without a trailing '/' */
    char sms_url[HOOK_URL_BYTES];
    char auth_token[128];
    char sms_from[128];
    char basic[300]; /* "Authorization: Basic <base64 of account_sid:auth_token>" */
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
    int is_twiml; /* answered the twilio preset's way */
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

/* The twilio preset's answer: an empty TwiML document (nothing for the provider to send), the
 * outcome in headers for people and tests reading the exchange. */
static void answer_twiml(struct inbound *x, int rc, int64_t interaction)
{
    char id[32];
    snprintf(id, sizeof id, "%" PRId64, interaction);
    if (rc == BLEND_EEXIST) {
        (void)blend_http_add_header(x->req, "X-Blend-Duplicate", "true");
    } else if (rc == 0 && interaction > 0) {
        (void)blend_http_add_header(x->req, "X-Blend-Interaction-Id", id);
    }
    if (rc && rc != BLEND_EEXIST) {
        blend_http_respond_error(x->req, 503, "unavailable", "the message could not be stored",
                                 NULL);
    } else {
        blend_http_respond(x->req, 200, "text/xml", twiml_empty, sizeof twiml_empty - 1);
    }
    inbound_free(x);
}

static void answer_stored(struct inbound *x, int rc, int64_t interaction, int64_t message)
{
    if (x->is_twiml) {
        answer_twiml(x, rc, interaction);
        return;
    }
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

/* Takes the parsed message (in, released here) and stores it: a replay is answered as a
 * duplicate, anything else joins or opens a conversation. extra_meta (taken, may be NULL) is
 * merged into the message's meta. */
static int start_inbound(struct blend_webhooks *w, struct blend_http_req *req, const char *channel,
                         struct blend_channel_inbound *in, json_t *extra_meta, int is_twiml)
{
    int social = strcmp(channel, "social") == 0;
    struct inbound *x = blend_calloc(1, sizeof *x);
    if (!x) {
        blend_channel_inbound_free(in);
        json_decref(extra_meta);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    x->w = w;
    x->req = req;
    x->is_twiml = is_twiml;
    w->writes++;
    snprintf(x->channel, sizeof x->channel, "%s", channel);
    snprintf(x->identity, sizeof x->identity, "%s", in->identity);
    snprintf(x->source, sizeof x->source, "%s:%s", channel, in->id);
    json_t *meta = social ? json_pack("{s:s, s:s, s:s, s:s}", "channel", channel, "network",
                                      in->network, "kind", in->kind, "author", in->raw_sender)
                          : json_pack("{s:s, s:s}", "channel", channel, "from", in->raw_sender);
    if (meta && in->url) {
        json_object_set_new(meta, "url", json_string(in->url));
    }
    if (meta && in->to) {
        json_object_set_new(meta, "to", json_string(in->to));
    }
    if (meta && extra_meta) {
        json_object_update(meta, extra_meta);
    }
    json_decref(extra_meta);
    x->message = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "direction", "inbound", "author",
                           x->identity, "body", in->text, "source", x->source, "meta",
                           meta ? meta : json_object(), "state", "received");
    if (in->name && in->name[0]) {
        x->contact_name = json_string(in->name);
    }
    blend_channel_inbound_free(in);
    if (!x->message) {
        answer_stored(x, BLEND_ENOMEM, 0, 0);
        return BLEND_HTTP_PENDING;
    }
    /* A replay of a message already stored: answered, not stored again. */
    json_t *seen = NULL;
    if (blend_store_find(w->app->store, &blend_res_messages, "source", x->source, 0, &seen) == 0) {
        json_decref(seen);
        answer_stored(x, BLEND_EEXIST, 0, 0);
        return BLEND_HTTP_PENDING;
    }
    resolve_contact(x);
    return BLEND_HTTP_PENDING;
}

static void respond_invalid(struct blend_http_req *req, int rc, const char *field, const char *err)
{
    char msg[220];
    snprintf(msg, sizeof msg, "%s%s%s", field, field[0] ? ": " : "", err);
    blend_http_respond_error(req, rc == BLEND_ENOMEM ? 503 : 422,
                             rc == BLEND_ENOMEM ? "unavailable" : "validation_failed", msg,
                             json_pack("[{s:s, s:s}]", "path", field, "message", err));
}

/* 1 when the request is a form post (the twilio preset's format). */
static int is_form(struct blend_http_req *req)
{
    static const char form_type[] = "application/x-www-form-urlencoded";
    const char *ct = blend_http_req_header(req, "content-type");
    return ct && strncasecmp(ct, form_type, sizeof form_type - 1) == 0 &&
           (ct[sizeof form_type - 1] == '\0' || ct[sizeof form_type - 1] == ';' ||
            ct[sizeof form_type - 1] == ' ');
}

/* Parses the form and checks X-Twilio-Signature over public_url + path and the sorted fields:
 * 0 with *form filled, or answers (401 unsigned / bad_signature, 400 invalid_form) and returns
 * -1. */
static int verify_twilio(struct blend_webhooks *w, struct blend_http_req *req,
                         struct blend__form *form)
{
    const char *sig = blend_http_req_header(req, "X-Twilio-Signature");
    if (!sig || !sig[0]) {
        blend_http_respond_error(req, 401, "unsigned", "X-Twilio-Signature is required", NULL);
        return -1;
    }
    size_t len = 0;
    const char *body = blend_http_req_body(req, &len);
    int rc = blend__form_parse(body, len, form);
    if (rc) {
        blend_http_respond_error(req, rc == BLEND_ENOMEM ? 503 : 400,
                                 rc == BLEND_ENOMEM ? "unavailable" : "invalid_form",
                                 rc == BLEND_ELIMIT ? "the form is too large"
                                                    : "the body is not a well-formed form "
                                                      "(distinct names, UTF-8 text)",
                                 NULL);
        return -1;
    }
    struct blend_buf base;
    blend_buf_init(&base, BLEND__FORM_BYTES_MAX + 2 * HOOK_URL_BYTES);
    char url[2 * HOOK_URL_BYTES];
    snprintf(url, sizeof url, "%s%s", w->public_url, blend_http_req_path(req));
    rc = blend__form_signature_base(url, form, &base);
    int ok = rc == 0 && blend__form_signature_ok(w->auth_token, base.data ? base.data : "",
                                                 base.len, sig);
    blend_buf_deinit(&base);
    if (!ok) {
        blend__form_deinit(form);
        blend_http_respond_error(req, rc == BLEND_ENOMEM ? 503 : 401,
                                 rc == BLEND_ENOMEM ? "unavailable" : "bad_signature",
                                 "the signature does not match", NULL);
        return -1;
    }
    return 0;
}

/* The provider's fields in the SMS object channel.c reads; media (MMS) listed in extra. */
static json_t *twilio_message(const struct blend__form *f, json_t **extra)
{
    static const char *const names[][2] = {
        {"MessageSid", "id"}, {"From", "from"}, {"Body", "text"}, {"To", "to"}};
    json_t *doc = json_object();
    for (size_t i = 0; doc && i < sizeof names / sizeof names[0]; i++) {
        const char *v = blend__form_get(f, names[i][0]);
        if (v) {
            json_object_set_new(doc, names[i][1], json_string(v));
        }
    }
    *extra = json_pack("{s:s}", "preset", "twilio");
    const char *num = blend__form_get(f, "NumMedia");
    long media = num ? strtol(num, NULL, 10) : 0;
    media = media < 0 ? 0 : media > HOOK_MEDIA_MAX ? HOOK_MEDIA_MAX : media;
    json_t *urls = media > 0 ? json_array() : NULL;
    for (long i = 0; urls && i < media; i++) {
        char name[32];
        snprintf(name, sizeof name, "MediaUrl%ld", i);
        const char *u = blend__form_get(f, name);
        if (u && strlen(u) <= 2048) {
            json_array_append_new(urls, json_string(u));
        }
    }
    if (*extra && urls) {
        json_object_set_new(*extra, "media", urls);
    } else {
        json_decref(urls);
    }
    return doc;
}

/* The provider's name of a field channel.c refused. */
static const char *twilio_field(const char *field)
{
    return strcmp(field, "id") == 0     ? "MessageSid"
           : strcmp(field, "from") == 0 ? "From"
           : strcmp(field, "text") == 0 ? "Body"
           : strcmp(field, "to") == 0   ? "To"
                                        : field;
}

static int twilio_inbound(struct blend_webhooks *w, struct blend_http_req *req)
{
    struct blend__form form;
    if (verify_twilio(w, req, &form) != 0) {
        return BLEND_HTTP_DONE;
    }
    json_t *extra = NULL;
    json_t *doc = twilio_message(&form, &extra);
    blend__form_deinit(&form);
    if (!doc || !extra) {
        json_decref(doc);
        json_decref(extra);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    struct blend_channel_inbound in;
    char field[32], err[160];
    int rc = blend_channel_inbound_from_doc(0, doc, w->country_code, &in, field, sizeof field, err,
                                            sizeof err);
    if (rc) {
        json_decref(extra);
        respond_invalid(req, rc, twilio_field(field), err);
        return BLEND_HTTP_DONE;
    }
    return start_inbound(w, req, "sms", &in, extra, 1);
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
    if (sms && w->is_twilio && is_form(req)) {
        return twilio_inbound(w, req);
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
        respond_invalid(req, rc, field, err);
        return BLEND_HTTP_DONE;
    }
    return start_inbound(w, req, channel, &in, NULL, 0);
}

/* ---- Status callbacks ---------------------------------------------------------------------- */

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

/* Writes the reply's new state and answers 200 {"recorded": true} once it is durable. */
static int write_status(struct blend_app *app, struct blend_http_req *req, const char *channel,
                        int64_t mid, const char *state)
{
    struct blend_write *wr = blend_write_create();
    struct blend_write_op *op =
        wr ? blend_write_add(wr, BLEND_OP_UPDATE, &blend_res_messages,
                             json_pack("{s:s}", "state", state))
           : NULL;
    if (!op) {
        blend_write_destroy(wr);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    op->id = mid;
    snprintf(wr->actor, sizeof wr->actor, "%s", channel);
    return blend__app_submit(app, req, wr, on_status_written, req);
}

/*
 * The provider's MessageStatus as a reply state: queued / accepted / scheduled / sending say
 * nothing new (the reply is already sent as far as Blend knows: NULL); sent, delivered; failed
 * and undelivered are failed. A late "sent" never takes a delivered or failed reply back.
 */
static const char *twilio_state(const char *status, const char *current)
{
    if (strcmp(status, "delivered") == 0 || strcmp(status, "read") == 0) {
        return "delivered";
    }
    if (strcmp(status, "failed") == 0 || strcmp(status, "undelivered") == 0) {
        return "failed";
    }
    if (strcmp(status, "sent") == 0 && current && strcmp(current, "delivered") != 0 &&
        strcmp(current, "failed") != 0) {
        return "sent";
    }
    return NULL;
}

static int twilio_status(struct blend_webhooks *w, struct blend_http_req *req)
{
    struct blend__form form;
    if (verify_twilio(w, req, &form) != 0) {
        return BLEND_HTTP_DONE;
    }
    const char *sid = blend__form_get(&form, "MessageSid");
    const char *status = blend__form_get(&form, "MessageStatus");
    json_t *doc = NULL;
    if (!sid || !status || !sid[0]) {
        blend__form_deinit(&form);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected the fields MessageSid and MessageStatus", NULL);
        return BLEND_HTTP_DONE;
    }
    if (blend_store_find_first(w->app->store, &blend_res_messages, "message_id", sid, &doc) != 0) {
        blend__form_deinit(&form);
        blend_http_respond_error(req, 404, "not_found", "no reply with that MessageSid", NULL);
        return BLEND_HTTP_DONE;
    }
    int64_t mid = json_integer_value(json_object_get(doc, "id"));
    const char *state = twilio_state(status, json_string_value(json_object_get(doc, "state")));
    json_decref(doc);
    blend__form_deinit(&form);
    if (!state) {
        blend_http_respond_json(req, 200, json_pack("{s:b}", "recorded", 0));
        return BLEND_HTTP_DONE;
    }
    return write_status(w->app, req, "sms", mid, state);
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
    if (strcmp(channel, "sms") == 0 && w->is_twilio && is_form(req)) {
        return twilio_status(w, req);
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
    if (ok &&
        blend_store_find_first(app->store, &blend_res_messages, "message_id", id, &doc) != 0) {
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
    char state[16];
    snprintf(state, sizeof state, "%s", status);
    json_decref(body);
    return write_status(app, req, channel, mid, state);
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
        /* Blend's format names the provider's id "id", the twilio preset's provider "sid". */
        json_t *answer = json_loadb(body, len, 0, NULL);
        blend__outbox_done(w->outbox, (int64_t)token, BLEND__OUTBOX_SENT,
                           json_string_value(
                               json_object_get(answer, w->posting_twilio ? "sid" : "id")),
                           detail);
        json_decref(answer);
    } else {
        /* A 4xx other than 408 / 429: the provider will never take it. */
        int never = rc == 0 && status >= 400 && status < 500 && status != 408 && status != 429;
        blend__outbox_done(w->outbox, (int64_t)token,
                           never ? BLEND__OUTBOX_FAILED : BLEND__OUTBOX_RETRY, NULL, detail);
    }
}

/*
 * How a social reply goes out, written into out: meta.kind "dm" | "post" (and meta.reply_to)
 * when the reply row carries them; otherwise the way the customer last wrote in the
 * conversation: a public reply to their latest post (reply_to = that post's provider id) or a
 * direct message.
 */
static void social_target(struct blend_webhooks *w, const json_t *doc, json_t *out)
{
    const json_t *meta = json_object_get(doc, "meta");
    const char *kind = json_string_value(json_object_get(meta, "kind"));
    if (kind && (strcmp(kind, "dm") == 0 || strcmp(kind, "post") == 0)) {
        json_object_set_new(out, "kind", json_string(kind));
        if (json_is_string(json_object_get(meta, "reply_to"))) {
            json_object_set(out, "reply_to", json_object_get(meta, "reply_to"));
        }
        return;
    }
    char idtext[32];
    snprintf(idtext, sizeof idtext, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(doc, "interaction")));
    json_t *last = NULL; /* the latest inbound message */
    int64_t after = 0;
    for (int pages = 0; pages < 50; pages++) {
        struct blend_list_query q = {
            .after_id = after, .limit = 100, .filter_field = "interaction", .filter_value = idtext};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(w->app->store, &blend_res_messages, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *m;
        json_array_foreach(items, i, m)
        {
            const char *dir = json_string_value(json_object_get(m, "direction"));
            if (dir && strcmp(dir, "inbound") == 0) {
                json_decref(last);
                last = json_incref(m);
            }
        }
        json_decref(items);
        if (!next) {
            break;
        }
        after = next;
    }
    const json_t *lmeta = json_object_get(last, "meta");
    const char *lkind = json_string_value(json_object_get(lmeta, "kind"));
    const char *source = json_string_value(json_object_get(last, "source"));
    if (lkind && strcmp(lkind, "post") == 0 && source && strncmp(source, "social:", 7) == 0) {
        json_object_set_new(out, "kind", json_string("post"));
        json_object_set_new(out, "reply_to", json_string(source + 7));
        if (json_is_string(json_object_get(lmeta, "url"))) {
            json_object_set(out, "reply_to_url", json_object_get(lmeta, "url"));
        }
    } else {
        json_object_set_new(out, "kind", json_string("dm"));
    }
    if (json_is_string(json_object_get(lmeta, "network"))) {
        json_object_set(out, "network", json_object_get(lmeta, "network"));
    }
    json_decref(last);
}

/* An SMS reply as the twilio preset's provider takes it: a form post with Basic auth. */
static int post_twilio(struct blend_webhooks *w, const json_t *doc, int64_t id)
{
    const json_t *meta = json_object_get(doc, "meta");
    const char *body = json_string_value(json_object_get(doc, "body"));
    char callback[HOOK_URL_BYTES + 64];
    snprintf(callback, sizeof callback, "%s/api/v1/channels/sms/status", w->public_url);
    struct blend_buf form;
    blend_buf_init(&form, HOOK_FORM_OUT_BYTES_MAX);
    int rc = blend__form_append(&form, "To", json_string_value(json_object_get(meta, "to")));
    rc = rc ? rc : blend__form_append(&form, "From", w->sms_from);
    rc = rc ? rc : blend__form_append(&form, "Body", body ? body : "");
    rc = rc ? rc : blend__form_append(&form, "StatusCallback", callback);
    if (rc == 0) {
        const char *headers[2] = {w->basic, NULL};
        struct blend_webclient_request r = {.method = "POST",
                                            .url = w->sms_url,
                                            .content_type = "application/x-www-form-urlencoded",
                                            .body = form.data,
                                            .body_len = form.len,
                                            .timeout_ms = HOOK_TIMEOUT_MS,
                                            .headers = headers};
        w->posting_twilio = 1; /* before the send: its answer names the id "sid" */
        rc = blend__webclient_send(w->wc, &r, on_posted, w, (uint64_t)id, NULL);
    }
    blend_buf_deinit(&form);
    return rc;
}

/* Posts one queued reply to the provider: the outbox's send function. */
static int post_one(void *arg, const json_t *doc)
{
    struct blend_webhooks *w = arg;
    const json_t *meta = json_object_get(doc, "meta");
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    const char *channel = json_string_value(json_object_get(meta, "channel"));
    int is_sms = channel && strcmp(channel, "sms") == 0;
    if (!json_is_string(json_object_get(meta, "to"))) {
        return BLEND_EINVAL;
    }
    if (is_sms && w->is_twilio) {
        return post_twilio(w, doc, id);
    }
    if (!w->provider_url[0]) {
        return BLEND_ESTATE; /* replies stay queued without a provider */
    }
    json_t *out = json_pack("{s:I, s:O, s:O, s:O}", "reference", (json_int_t)id, "channel",
                            json_object_get(meta, "channel"), "to", json_object_get(meta, "to"),
                            "text", json_object_get(doc, "body"));
    if (out && !is_sms) {
        social_target(w, doc, out);
    }
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
    w->posting_twilio = 0;
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

/* The twilio preset's settings: all four are required (a missing one is BLEND_EINVAL, logged). */
static int twilio_setup(struct blend_webhooks *w, const struct blend__webhooks_config *cfg)
{
    const char *missing = !cfg->public_url || !cfg->public_url[0]     ? "public_url"
                          : !cfg->account_sid || !cfg->account_sid[0] ? "account_sid"
                          : !cfg->auth_token || !cfg->auth_token[0]   ? "auth_token"
                          : !cfg->sms_from || !cfg->sms_from[0]       ? "sms_from"
                                                                      : NULL;
    if (missing) {
        BLEND_LOG_ERROR("webhooks", "sms_preset = twilio needs [webhook] %s", missing);
        return BLEND_EINVAL;
    }
    w->is_twilio = 1;
    snprintf(w->public_url, sizeof w->public_url, "%s", cfg->public_url);
    size_t n = strlen(w->public_url);
    while (n > 0 && w->public_url[n - 1] == '/') {
        w->public_url[--n] = '\0'; /* the request path brings its own */
    }
    snprintf(w->auth_token, sizeof w->auth_token, "%s", cfg->auth_token);
    snprintf(w->sms_from, sizeof w->sms_from, "%s", cfg->sms_from);
    if (cfg->sms_provider_url && cfg->sms_provider_url[0]) {
        snprintf(w->sms_url, sizeof w->sms_url, "%s", cfg->sms_provider_url);
    } else {
        snprintf(w->sms_url, sizeof w->sms_url,
                 "https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json", cfg->account_sid);
    }
    char pair[300];
    char b64[sodium_base64_ENCODED_LEN(sizeof pair, sodium_base64_VARIANT_ORIGINAL)];
    int len = snprintf(pair, sizeof pair, "%s:%s", cfg->account_sid, cfg->auth_token);
    if (len < 0 || (size_t)len >= sizeof pair) {
        return BLEND_EINVAL;
    }
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)pair, (size_t)len,
                      sodium_base64_VARIANT_ORIGINAL);
    int m = snprintf(w->basic, sizeof w->basic, "Authorization: Basic %s", b64);
    sodium_memzero(pair, sizeof pair);
    return m < 0 || (size_t)m >= sizeof w->basic ? BLEND_EINVAL : 0;
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
    int rc = cfg->sms_preset == BLEND__WEBHOOKS_PRESET_TWILIO ? twilio_setup(w, cfg) : 0;
    if (rc) {
        blend_free(w);
        return rc;
    }
    rc = blend__webclient_create(app->loop, &w->wc);
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
    BLEND_LOG_INFO("webhooks", "SMS (%s) into %s, social into %s; replies to %s%s%s",
                   w->is_twilio ? "twilio" : "blend", w->sms_queue[0] ? w->sms_queue : "(off)",
                   w->social_queue[0] ? w->social_queue : "(off)",
                   w->provider_url[0] ? w->provider_url : "nobody (they stay queued)",
                   w->is_twilio ? ", SMS replies to " : "", w->is_twilio ? w->sms_url : "");
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
