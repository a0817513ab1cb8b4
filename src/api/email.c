/*
 * The email channel (see email.h and docs/email.md). Inbound, per mailbox ([email] and each
 * [email.NAME], each with its own IMAP connection and timer), one round per poll: STATUS of the
 * mailbox (its UIDVALIDITY), UID SEARCH the messages without the $BlendStored keyword, then one
 * at a time: fetch the raw message, keep it (the file store, files.h, then one write), mark it.
 * A message remembers its mailbox (meta.mailbox, absent for [email]). Outbound: a tick (and a
 * kick when a reply is queued) sends the oldest due reply, from its conversation's mailbox,
 * through that mailbox's SMTP server or [email]'s, with its files, and writes the outcome; a passing failure (4xx, no connection) is retried with a doubling delay (5 s up to
 * an hour) for as long as it takes, a permanent refusal (5xx) marks it failed.
 *
 * Threading (docs/email.md §Conversations): a message joins the interaction of the stored
 * message its In-Reply-To or References name (newest first), else the interaction its subject's
 * token names ([#BL-<id>]); an ended interaction is not reopened: the message opens a new one.
 * Machine-written mail (auto-replies, lists, bounces) that answers nothing is kept on an
 * interaction that is ended at once: stored, never routed, never answered automatically.
 */
#include "api/email.h"

#include "api/app_int.h"
#include "api/files.h"
#include "api/outbox.h"
#include "api/routing.h"
#include "api/webclient.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "channels/email/mime.h"
#include "engine/acd/acd.h"
#include "model/identity.h"
#include "model/model.h"
#include "store/store.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EMAIL_TIMEOUT_MS 30000
#define EMAIL_ROUND_MAX 64            /* messages taken per round; the rest come next round */
#define EMAIL_SEND_TICK_MS 10000
#define EMAIL_RETRY_FIRST_S 5
#define EMAIL_KEYWORD "$BlendStored"
#define EMAIL_URL_BYTES 1024
#define EMAIL_CRED_BYTES 128
#define EMAIL_NAME_BYTES 32
#define EMAIL_MAILBOXES_MAX 9 /* [email] and 8 [email.NAME] (config.h) */

enum imap_step { STEP_IDLE = 0, STEP_STATUS, STEP_SEARCH, STEP_FETCH, STEP_STORE, STEP_MARK };

/* One mailbox: read on its own timer with its own IMAP connection, so a mailbox that fails
 * (authentication, server down) never holds up the others. */
struct mailbox {
    struct blend_email_channel *e;
    char name[EMAIL_NAME_BYTES]; /* "" for [email], else its [email.NAME] */
    char label[EMAIL_NAME_BYTES + 8]; /* its metrics' label: "email", "email.sales" */
    struct blend_webclient *wc;
    uv_timer_t poll_timer;
    char base_url[EMAIL_URL_BYTES];    /* imap://host:port/ */
    char mailbox_url[EMAIL_URL_BYTES]; /* imap://host:port/INBOX */
    char mailbox[256];
    char username[EMAIL_CRED_BYTES], password[EMAIL_CRED_BYTES];
    char smtp_url[EMAIL_URL_BYTES]; /* "" = the first mailbox's SMTP server */
    char smtp_username[EMAIL_CRED_BYTES], smtp_password[EMAIL_CRED_BYTES];
    char from[EMAIL_CRED_BYTES], from_name[EMAIL_CRED_BYTES];
    char queue[EMAIL_CRED_BYTES];
    int starttls;
    uint64_t poll_ms;
    /* The round under way. */
    enum imap_step step;
    int64_t uidvalidity;
    uint64_t uids[EMAIL_ROUND_MAX];
    size_t uids_count, uids_next;
    int more; /* the search found more than a round takes */
    int failing; /* the last round ended on an error (logged once, until a round succeeds) */
};

struct blend_email_channel {
    struct blend_app *app;
    struct blend_webclient *smtp; /* replies, one send at a time */
    struct mailbox *boxes[EMAIL_MAILBOXES_MAX]; /* [0] is [email] */
    size_t boxes_count;
    int timers_live;
    char data_dir[4096]; /* the file store's (files.h) */
    /* /metrics, by mailbox ("email", "email.sales"): readable (1) or failing (0), and the
     * messages taken from it. NULL when the registry refused them (metrics are never fatal). */
    struct blend_metric *m_up, *m_messages;
    struct blend__outbox *outbox; /* the replies waiting to leave */
    int closing;
    int writes; /* a message's writes not answered yet: the channel lives until they are */
};

static void round_next(struct mailbox *b);
static void on_poll(uv_timer_t *t);
static void maybe_free(struct blend_email_channel *e);

/* ---- Requests ------------------------------------------------------------------------------ */

static int imap(struct mailbox *b, const char *url, const char *command, size_t answer_max,
                blend_webclient_cb *cb)
{
    struct blend_webclient_request r = {.method = "MAIL",
                                        .url = url,
                                        .timeout_ms = EMAIL_TIMEOUT_MS,
                                        .response_bytes_max = answer_max,
                                        .username = b->username[0] ? b->username : NULL,
                                        .password = b->password[0] ? b->password : NULL,
                                        .custom_request = command,
                                        .require_tls = b->starttls};
    return blend__webclient_send(b->wc, &r, cb, b, 0, NULL);
}

/* The round stops here (an error was logged); the next poll starts a new one. */
static void round_end(struct mailbox *b)
{
    b->step = STEP_IDLE;
    b->uids_count = b->uids_next = 0;
    if (b->more && !b->e->closing) {
        b->more = 0;
        uv_timer_start(&b->poll_timer, on_poll, 0, b->poll_ms);
    }
}

/* A round failed at its start (the mailbox unreachable, its login refused): logged as a warning
 * once, then quietly until a round gets through again. */
static void round_failed(struct mailbox *b, const char *what, int rc, int status)
{
    if (b->e->m_up) {
        (void)blend_metric_set(b->e->m_up, b->label, NULL, 0);
    }
    if (!b->failing) {
        BLEND_LOG_WARN("email", "mailbox %s%s%s: %s: %s (%d)", b->mailbox, b->name[0] ? " of " : "",
                       b->name, what, blend_strerror(rc ? rc : BLEND_EIO), status);
    }
    b->failing = 1;
    round_end(b);
}

static void on_mark(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct mailbox *b = arg;
    (void)token;
    (void)body;
    (void)len;
    if (rc == BLEND_ECLOSED) {
        return;
    }
    if (rc) {
        /* Kept but not marked: fetched again next round, recognised, marked then. */
        BLEND_LOG_WARN("email", "message %" PRIu64 " kept but not marked in %s: %s (%d)",
                       b->uids[b->uids_next], b->mailbox, blend_strerror(rc), status);
        round_end(b);
        return;
    }
    b->uids_next++;
    round_next(b);
}

static void mark(struct mailbox *b)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "UID STORE %" PRIu64 " +FLAGS (" EMAIL_KEYWORD ")",
             b->uids[b->uids_next]);
    b->step = STEP_MARK;
    int rc = imap(b, b->mailbox_url, cmd, 0, on_mark);
    if (rc) {
        BLEND_LOG_WARN("email", "cannot mark message: %s", blend_strerror(rc));
        round_end(b);
    }
}

/* ---- Keeping one message ----------------------------------------------------------------- */

struct ingest {
    struct blend_email_channel *e;
    struct mailbox *b; /* the mailbox it came from */
    struct blend_email *m;
    char source[96];
    json_t *meta;  /* owned */
    int64_t contact;
    int64_t thread; /* the interaction it joins, 0 for a new one */
};

/* Ends a message's handling; false when the channel is closing (nothing more to do). */
static int ingest_free(struct ingest *x)
{
    struct blend_email_channel *e = x->e;
    blend_email_free(x->m);
    json_decref(x->meta);
    blend_free(x);
    if (e && e->closing) {
        e->writes--;
        maybe_free(e);
        return 0;
    }
    if (e) {
        e->writes--;
    }
    return 1;
}

static void count_message(const struct ingest *x, int again)
{
    if (!again && x->e && x->e->m_messages) {
        (void)blend_metric_inc(x->e->m_messages, x->b->label, NULL);
    }
}

static json_t *flags_json(unsigned f)
{
    json_t *a = json_array();
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{BLEND_EMAIL_AUTO_REPLY, "auto-reply"},
                 {BLEND_EMAIL_BOUNCE, "bounce"},
                 {BLEND_EMAIL_LIST, "list"},
                 {BLEND_EMAIL_MALFORMED, "malformed"},
                 {BLEND_EMAIL_TRUNCATED, "truncated"}};
    for (size_t i = 0; a && i < sizeof names / sizeof names[0]; i++) {
        if (f & names[i].bit) {
            json_array_append_new(a, json_string(names[i].name));
        }
    }
    return a;
}

/* The files (raw message, attachments: the file store, files.h) and what the row keeps beside
 * the text. */
static int ingest_files(struct ingest *x, const char *raw, size_t len)
{
    struct blend_email_channel *e = x->e;
    const struct blend_email *m = x->m;
    char hex[BLEND__FILES_HEX_BYTES];
    if (blend__files_put(e->data_dir, raw, len, hex) != 0) {
        return BLEND_EIO;
    }
    json_t *atts = json_array();
    for (size_t i = 0; atts && i < m->attachments_count; i++) {
        const struct blend_email_attachment *a = &m->attachments[i];
        char ahex[BLEND__FILES_HEX_BYTES];
        if (blend__files_put(e->data_dir, a->data, a->size, ahex) != 0) {
            json_decref(atts);
            return BLEND_EIO;
        }
        json_array_append_new(
            atts, json_pack("{s:s, s:s, s:I, s:s, s:b, s:s}", "filename", a->filename,
                            "content_type", a->content_type, "size", (json_int_t)a->size,
                            "sha256", ahex, "inline", a->inline_part, "content_id",
                            a->content_id));
    }
    json_t *refs = json_array();
    for (size_t i = 0; refs && i < m->references_count; i++) {
        json_array_append_new(refs, json_string(m->references[i]));
    }
    x->meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:s, s:{s:s, s:I}, "
                        "s:o}",
                        "from", m->from_addr, "from_name", m->from_name, "reply_to",
                        m->reply_to, "to", m->to, "cc", m->cc, "in_reply_to", m->in_reply_to,
                        "references", refs ? refs : json_array(), "flags",
                        flags_json(m->flags), "date_ms", (json_int_t)m->date_ms, "html", m->html,
                        "raw", "sha256", hex, "bytes", (json_int_t)len, "attachments",
                        atts ? atts : json_array());
    if (x->meta && x->b->name[0]) {
        json_object_set_new(x->meta, "mailbox", json_string(x->b->name));
    }
    return x->meta ? 0 : BLEND_ENOMEM;
}

/* The interaction a message answers: by the ids it names, then by its subject's token. */
static int64_t thread_of(struct blend_email_channel *e, const struct blend_email *m)
{
    struct blend_store *s = e->app->store;
    const char *ids[BLEND_EMAIL_REFERENCES_MAX + 1];
    size_t n = 0;
    if (m->in_reply_to[0]) {
        ids[n++] = m->in_reply_to;
    }
    for (size_t i = m->references_count; i > 0 && n < sizeof ids / sizeof ids[0]; i--) {
        ids[n++] = m->references[i - 1];
    }
    for (size_t i = 0; i < n; i++) {
        json_t *doc = NULL;
        if (blend_store_find_first(s, &blend_res_messages, "message_id", ids[i], &doc) == 0) {
            int64_t id = json_integer_value(json_object_get(doc, "interaction"));
            json_decref(doc);
            if (id > 0) {
                return id;
            }
        }
    }
    if (strncmp(m->token, "BL-", 3) == 0) {
        char *end = NULL;
        long long id = strtoll(m->token + 3, &end, 10);
        json_t *doc = NULL;
        if (end && *end == '\0' && id > 0 &&
            blend_store_get(s, &blend_res_interactions, id, 0, &doc) == 0) {
            const char *ch = json_string_value(json_object_get(doc, "channel"));
            int email = ch && strcmp(ch, "email") == 0;
            json_decref(doc);
            if (email) {
                return id;
            }
        }
    }
    return 0;
}

static int interaction_open(struct blend_email_channel *e, int64_t id)
{
    json_t *doc = NULL;
    if (blend_store_get(e->app->store, &blend_res_interactions, id, 0, &doc) != 0) {
        return 0;
    }
    const char *state = json_string_value(json_object_get(doc, "state"));
    int open = state && strcmp(state, "ended") != 0;
    json_decref(doc);
    return open;
}

/* The message row (ref_op >= 0: its interaction is created by that op of the same write). */
static struct blend_write_op *add_message(struct blend_write *w, const struct ingest *x,
                                          int64_t interaction, int ref_op)
{
    const struct blend_email *m = x->m;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "direction", "inbound",
                            "author", m->from_addr, "body", m->text, "subject", m->subject,
                            "source", x->source, "meta", x->meta, "state", "received");
    if (doc && m->message_id[0]) {
        json_object_set_new(doc, "message_id", json_string(m->message_id));
    }
    if (doc && interaction > 0) {
        json_object_set_new(doc, "interaction", json_integer(interaction));
    }
    struct blend_write_op *op = doc ? blend_write_add(w, BLEND_OP_CREATE, &blend_res_messages, doc)
                                    : NULL;
    if (op && ref_op >= 0) {
        op->ref_op = ref_op;
        snprintf(op->ref_field, sizeof op->ref_field, "interaction");
    }
    return op;
}

static void on_kept(struct blend_write *w, void *arg)
{
    struct ingest *x = arg;
    struct mailbox *b = x->b;
    int rc = w->rc;
    /* Stored before (a crash between the commit and the mark): the same source, kept once. */
    int again = rc == BLEND_EEXIST && w->failed_op >= 0 &&
                strcmp(w->ops[w->failed_op].error_field, "source") == 0;
    blend_write_destroy(w);
    if (rc && !again) {
        BLEND_LOG_ERROR("email", "message %s not stored: %s", x->source, blend_strerror(rc));
        if (ingest_free(x)) {
            round_end(b);
        }
        return;
    }
    BLEND_LOG_INFO("email", "message %s from %s %s", x->source, x->m->from_addr,
                   again ? "was stored already" : "stored");
    count_message(x, again);
    if (ingest_free(x)) {
        mark(b);
    }
}

/* A new conversation: routed (the interaction arrives in the queue, its first message in the
 * same write), or for machine-written mail kept on an interaction ended at once. */
static void on_arrival_created(struct blend_app *app, void *arg, int64_t id)
{
    (void)app;
    (void)arg;
    (void)id;
}

static void on_arrival_done(struct blend_app *app, void *arg, int rc, json_t *doc)
{
    struct ingest *x = arg;
    struct mailbox *b = x->b;
    (void)app;
    (void)doc; /* borrowed */
    int again = rc == BLEND_EEXIST;
    if (rc && !again) {
        BLEND_LOG_ERROR("email", "message %s not stored: %s", x->source, blend_strerror(rc));
        if (ingest_free(x)) {
            round_end(b);
        }
        return;
    }
    BLEND_LOG_INFO("email", "message %s from %s %s", x->source, x->m->from_addr,
                   again ? "was stored already" : "opened a conversation");
    count_message(x, again);
    if (ingest_free(x)) {
        mark(b);
    }
}

static int add_first_message(struct blend_write *w, void *arg)
{
    struct ingest *x = arg;
    return add_message(w, x, 0, 0) ? 0 : BLEND_ENOMEM;
}

static void keep_new(struct ingest *x)
{
    struct blend_email_channel *e = x->e;
    struct mailbox *b = x->b;
    const struct blend_email *m = x->m;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "channel", "email", "direction", "inbound",
                             "queue", b->queue, "address", m->from_addr);
    if (body && x->contact > 0) {
        json_object_set_new(body, "contact", json_integer(x->contact));
    }
    if (m->flags & (BLEND_EMAIL_AUTO_REPLY | BLEND_EMAIL_BOUNCE | BLEND_EMAIL_LIST)) {
        /* Kept, not routed: nobody is asked to answer a machine. */
        char ts[BLEND__ISO_BYTES];
        blend__wall_iso(ts);
        json_object_set_new(body, "state", json_string("ended"));
        json_object_set_new(body, "ended_at", json_string(ts));
        struct blend_write *w = blend_write_create();
        if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_interactions, body) ||
            !add_message(w, x, 0, 0)) {
            blend_write_destroy(w);
            if (ingest_free(x)) {
                round_end(b);
            }
            return;
        }
        snprintf(w->actor, sizeof w->actor, "email");
        (void)blend__app_submit(e->app, NULL, w, on_kept, x);
        return;
    }
    int rc = body ? blend__interaction_arrive_with(e->app, body, add_first_message, x,
                                                   on_arrival_created, on_arrival_done, x)
                  : BLEND_ENOMEM;
    if (rc) {
        BLEND_LOG_ERROR("email", "message %s cannot open a conversation in %s: %s", x->source,
                        b->queue, blend_strerror(rc));
        if (ingest_free(x)) {
            round_end(b);
        }
    }
}

static void keep_in_thread(struct ingest *x)
{
    struct blend_email_channel *e = x->e;
    struct mailbox *b = x->b;
    struct blend_write *w = blend_write_create();
    struct blend_write_op *ev = NULL;
    if (w && add_message(w, x, x->thread, -1)) {
        char subject[64];
        snprintf(subject, sizeof subject, "interactions/%" PRId64, x->thread);
        ev = blend_write_add(w, BLEND_OP_EVENT, NULL,
                             json_pack("{s:I, s:s, s:s}", "interaction_id",
                                       (json_int_t)x->thread, "channel", "email", "direction",
                                       "inbound"));
        struct blend_acd_contact_view cv;
        if (ev && blend_acd_contact(blend__routing_acd(e->app->routing), x->thread, &cv) == 0 &&
            cv.agent > 0) {
            json_object_set_new(ev->doc, "agent_id", json_integer(cv.agent)); /* their stream */
        }
    }
    if (!ev) {
        blend_write_destroy(w);
        if (ingest_free(x)) {
            round_end(b);
        }
        return;
    }
    snprintf(ev->event_type, sizeof ev->event_type, "interaction.message");
    snprintf(ev->subject, sizeof ev->subject, "interactions/%" PRId64, x->thread);
    ev->ref_op = 0;
    snprintf(ev->ref_field, sizeof ev->ref_field, "message");
    snprintf(w->actor, sizeof w->actor, "email");
    (void)blend__app_submit(e->app, NULL, w, on_kept, x);
}

static void on_contact(struct blend_write *w, void *arg)
{
    struct ingest *x = arg;
    if (w->rc == 0) {
        x->contact = w->ops[0].id_out;
    } else {
        /* Someone else created it meanwhile, or it could not be: look again, else none. */
        char addr[BLEND_IDENTITY_BYTES_MAX + 1];
        json_t *match = blend_identity_normalize(BLEND_IDENTITY_EMAIL, x->m->from_addr,
                                                 strlen(x->m->from_addr), 0, addr, sizeof addr,
                                                 NULL, 0) == 0
                            ? json_pack("{s:s, s:s}", "kind", "email", "value", addr)
                            : NULL;
        json_t *doc = NULL;
        if (match && blend_store_find_by_child(x->e->app->store, &blend_res_contacts, "identities",
                                               match, 0, &doc) == 0) {
            x->contact = json_integer_value(json_object_get(doc, "id"));
        }
        json_decref(doc);
        json_decref(match);
    }
    blend_write_destroy(w);
    if (x->e->closing) {
        (void)ingest_free(x);
        return;
    }
    keep_new(x);
}

/* The customer: the contact owning the sender's address (in the identities' canonical form,
 * docs/contacts.md), else a new one. An address that does not normalise makes no contact. */
static void resolve_contact(struct ingest *x)
{
    struct blend_email_channel *e = x->e;
    const struct blend_email *m = x->m;
    char addr[BLEND_IDENTITY_BYTES_MAX + 1];
    if (blend_identity_normalize(BLEND_IDENTITY_EMAIL, m->from_addr, strlen(m->from_addr), 0,
                                 addr, sizeof addr, NULL, 0) != 0) {
        keep_new(x);
        return;
    }
    json_t *match = json_pack("{s:s, s:s}", "kind", "email", "value", addr);
    json_t *doc = NULL;
    int rc = match ? blend_store_find_by_child(e->app->store, &blend_res_contacts, "identities",
                                               match, 0, &doc)
                   : BLEND_ENOMEM;
    json_decref(match);
    if (rc == 0) {
        x->contact = json_integer_value(json_object_get(doc, "id"));
        json_decref(doc);
        keep_new(x);
        return;
    }
    json_t *contact = json_pack("{s:[{s:s, s:s}]}", "identities", "kind", "email", "value",
                                addr);
    if (contact && m->from_name[0]) {
        json_object_set_new(contact, "name", json_string(m->from_name));
    }
    struct blend_write *w = blend_write_create();
    if (!contact || !w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_contacts, contact)) {
        blend_write_destroy(w);
        keep_new(x);
        return;
    }
    snprintf(w->actor, sizeof w->actor, "email");
    (void)blend__app_submit(e->app, NULL, w, on_contact, x);
}

static void ingest(struct mailbox *b, const char *raw, size_t len)
{
    struct blend_email_channel *e = b->e;
    struct ingest *x = blend_calloc(1, sizeof *x);
    if (x) {
        x->e = e;
        x->b = b;
        e->writes++;
    }
    int rc = x ? blend_email_parse(raw, len, &x->m) : BLEND_ENOMEM;
    if (rc == 0) {
        snprintf(x->source, sizeof x->source, "imap:%" PRId64 ":%" PRIu64, b->uidvalidity,
                 b->uids[b->uids_next]);
        rc = ingest_files(x, raw, len);
    }
    if (rc) {
        BLEND_LOG_ERROR("email", "message %" PRIu64 " of %s not kept: %s", b->uids[b->uids_next],
                        b->mailbox, blend_strerror(rc));
        if (x) {
            (void)ingest_free(x);
        }
        round_end(b);
        return;
    }
    x->thread = thread_of(e, x->m);
    if (x->thread > 0 && interaction_open(e, x->thread)) {
        keep_in_thread(x);
        return;
    }
    if (x->thread > 0) {
        json_object_set_new(x->meta, "previous_interaction", json_integer(x->thread));
        x->thread = 0;
    }
    resolve_contact(x);
}

/* ---- The round ----------------------------------------------------------------------------- */

static void on_fetch(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct mailbox *b = arg;
    (void)token;
    if (rc == BLEND_ECLOSED) {
        return;
    }
    if (rc || len == 0) {
        BLEND_LOG_WARN("email", "message %" PRIu64 " of %s not fetched: %s (%d)",
                       b->uids[b->uids_next], b->mailbox, blend_strerror(rc ? rc : BLEND_EIO),
                       status);
        round_end(b);
        return;
    }
    b->step = STEP_STORE;
    ingest(b, body, len);
}

static void round_next(struct mailbox *b)
{
    if (b->e->closing) {
        return;
    }
    if (b->uids_next >= b->uids_count) {
        round_end(b);
        return;
    }
    char url[EMAIL_URL_BYTES + 32];
    snprintf(url, sizeof url, "%s;UID=%" PRIu64, b->mailbox_url, b->uids[b->uids_next]);
    b->step = STEP_FETCH;
    int rc = imap(b, url, NULL, BLEND_EMAIL_RAW_BYTES_MAX, on_fetch);
    if (rc) {
        BLEND_LOG_WARN("email", "cannot fetch: %s", blend_strerror(rc));
        round_end(b);
    }
}

static int uid_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_search(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct mailbox *b = arg;
    (void)token;
    (void)len;
    if (rc == BLEND_ECLOSED) {
        return;
    }
    if (rc) {
        BLEND_LOG_WARN("email", "search of %s failed: %s (%d)", b->mailbox, blend_strerror(rc),
                       status);
        round_end(b);
        return;
    }
    /* "* SEARCH 4 7 9": the oldest first, at most a round's worth. */
    b->uids_count = b->uids_next = 0;
    const char *p = strstr(body, "* SEARCH");
    p = p ? p + 8 : NULL;
    while (p && *p) {
        while (*p == ' ') {
            p++;
        }
        char *end = NULL;
        unsigned long long uid = strtoull(p, &end, 10);
        if (end == p) {
            break;
        }
        if (b->uids_count < EMAIL_ROUND_MAX) {
            b->uids[b->uids_count++] = uid;
        } else {
            b->more = 1;
        }
        p = end;
    }
    qsort(b->uids, b->uids_count, sizeof b->uids[0], uid_cmp);
    round_next(b);
}

static void on_status(void *arg, uint64_t token, int rc, int status, const char *body,
                       size_t len)
{
    struct mailbox *b = arg;
    (void)token;
    (void)len;
    if (rc == BLEND_ECLOSED) {
        return;
    }
    const char *v = rc == 0 ? strstr(body, "UIDVALIDITY ") : NULL;
    if (!v) {
        round_failed(b, "not readable", rc, status);
        return;
    }
    if (b->failing) {
        BLEND_LOG_INFO("email", "mailbox %s%s%s readable again", b->mailbox,
                       b->name[0] ? " of " : "", b->name);
        b->failing = 0;
    }
    if (b->e->m_up) {
        (void)blend_metric_set(b->e->m_up, b->label, NULL, 1);
    }
    b->uidvalidity = strtoll(v + 12, NULL, 10);
    b->step = STEP_SEARCH;
    rc = imap(b, b->mailbox_url, "UID SEARCH UNKEYWORD " EMAIL_KEYWORD, 1024 * 1024, on_search);
    if (rc) {
        BLEND_LOG_WARN("email", "cannot search: %s", blend_strerror(rc));
        round_end(b);
    }
}

static void on_poll(uv_timer_t *t)
{
    struct mailbox *b = t->data;
    if (b->step != STEP_IDLE || b->e->closing) {
        return;
    }
    char cmd[300];
    /* STATUS, not EXAMINE: it leaves the connection's selected mailbox (curl's to manage, and
     * read-write for the marks) alone. */
    snprintf(cmd, sizeof cmd, "STATUS \"%s\" (UIDVALIDITY)", b->mailbox);
    b->step = STEP_STATUS;
    int rc = imap(b, b->base_url, cmd, 64 * 1024, on_status);
    if (rc) {
        BLEND_LOG_WARN("email", "cannot reach %s: %s", b->base_url, blend_strerror(rc));
        b->step = STEP_IDLE;
    }
}

/* ---- Replies ------------------------------------------------------------------------------- */

static void on_sent(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct blend_email_channel *e = arg;
    (void)body;
    (void)len;
    if (rc == BLEND_ECLOSED) {
        return;
    }
    char detail[96];
    snprintf(detail, sizeof detail, "%s, SMTP %d", rc ? blend_strerror(rc) : "accepted", status);
    /* A permanent refusal (5xx) fails it; anything else passing (4xx, no connection) is retried
     * for as long as it takes. */
    enum blend__outbox_outcome outcome = rc == 0                         ? BLEND__OUTBOX_SENT
                                         : status >= 500 && status < 600 ? BLEND__OUTBOX_FAILED
                                                                         : BLEND__OUTBOX_RETRY;
    blend__outbox_done(e->outbox, (int64_t)token, outcome, NULL, detail);
}

static json_t *string_list(const json_t *a)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v)) {
            json_array_append(out, v);
        }
    }
    return out;
}

/* The files of a reply (its meta.attachments) read back from the file store into files[] and
 * data[] (owned by the caller, also on failure: *count_out of them). A file missing from the
 * store can never be sent: BLEND_EINVAL (the reply fails). */
static int reply_files(struct blend_email_channel *e, const json_t *atts,
                       struct blend_email_out_file files[BLEND__UPLOADS_MAX],
                       unsigned char *data[BLEND__UPLOADS_MAX], size_t *count_out)
{
    size_t n = 0;
    int rc = 0;
    if (json_array_size(atts) > BLEND__UPLOADS_MAX) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(atts); i++) {
        const json_t *a = json_array_get(atts, i);
        size_t len = 0;
        rc = blend__files_read(e->data_dir, json_string_value(json_object_get(a, "sha256")),
                               BLEND__UPLOAD_BYTES_MAX, &data[n], &len);
        if (rc == 0) {
            files[n] = (struct blend_email_out_file){
                .filename = json_string_value(json_object_get(a, "filename")),
                .content_type = json_string_value(json_object_get(a, "content_type")),
                .data = data[n],
                .size = len};
            n++;
        } else if (rc != BLEND_ENOMEM && rc != BLEND_EIO) {
            BLEND_LOG_ERROR("email", "file %s of a reply is missing from the store",
                            json_string_value(json_object_get(a, "sha256"))
                                ? json_string_value(json_object_get(a, "sha256"))
                                : "(none)");
            rc = BLEND_EINVAL;
        }
    }
    *count_out = n;
    return rc;
}

/* The mailbox called name (NULL or "": [email]); one no longer configured is [email] too. */
static const struct mailbox *box_named(const struct blend_email_channel *e, const char *name)
{
    BLEND_ASSERT(e->boxes_count > 0);
    for (size_t i = 1; name && name[0] && i < e->boxes_count; i++) {
        if (strcmp(e->boxes[i]->name, name) == 0) {
            return e->boxes[i];
        }
    }
    return e->boxes[0];
}

/* Sends one queued reply (doc: its row): the outbox's send function. */
static int send_one(void *arg, const json_t *doc)
{
    struct blend_email_channel *e = arg;
    const json_t *meta = json_object_get(doc, "meta");
    /* From the mailbox the conversation came through; through its SMTP server, else [email]'s. */
    const struct mailbox *b = box_named(e, json_string_value(json_object_get(meta, "mailbox")));
    const struct mailbox *smtp = b->smtp_url[0] ? b : e->boxes[0];
    if (!smtp->smtp_url[0]) {
        return BLEND_ESTATE; /* replies stay queued without an SMTP server */
    }
    const char *refs[BLEND_EMAIL_REFERENCES_MAX + 1];
    size_t n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(meta, "references"), i, v)
    {
        if (json_is_string(v) && n < BLEND_EMAIL_REFERENCES_MAX) {
            refs[n++] = json_string_value(v);
        }
    }
    refs[n] = NULL;
    const char *author = json_string_value(json_object_get(doc, "author"));
    const char *text = json_string_value(json_object_get(doc, "body"));
    const char *sig = json_string_value(json_object_get(meta, "signature"));
    char *body = NULL;
    size_t blen = strlen(text ? text : "") + strlen(sig ? sig : "") + 8;
    body = blend_malloc(blen);
    if (!body) {
        return BLEND_ENOMEM;
    }
    snprintf(body, blen, "%s%s%s", text ? text : "", sig && sig[0] ? "\n-- \n" : "",
             sig ? sig : "");
    struct blend_email_out o = {
        .from = b->from,
        .from_name = b->from_name,
        .to = json_string_value(json_object_get(meta, "to")),
        .subject = json_string_value(json_object_get(doc, "subject")),
        .message_id = json_string_value(json_object_get(doc, "message_id")),
        .in_reply_to = json_string_value(json_object_get(meta, "in_reply_to")),
        .references = refs,
        .date_ms = blend__wall_ms(),
        .text = body,
    };
    (void)author;
    struct blend_email_out_file files[BLEND__UPLOADS_MAX];
    unsigned char *data[BLEND__UPLOADS_MAX] = {0};
    size_t nfiles = 0;
    int rc = reply_files(e, json_object_get(meta, "attachments"), files, data, &nfiles);
    o.files = files;
    o.files_count = nfiles;
    char *raw = NULL;
    size_t len = 0;
    rc = rc ? rc : blend_email_compose(&o, &raw, &len);
    blend_free(body);
    for (size_t k = 0; k < nfiles; k++) {
        blend_free(data[k]);
    }
    if (rc) {
        return rc;
    }
    const char *rcpt[] = {o.to, NULL};
    struct blend_webclient_request r = {
        .method = "MAIL",
        .url = smtp->smtp_url,
        .body = raw,
        .body_len = len,
        .timeout_ms = EMAIL_TIMEOUT_MS,
        .username = smtp->smtp_username[0] ? smtp->smtp_username : NULL,
        .password = smtp->smtp_password[0] ? smtp->smtp_password : NULL,
        .mail_from = b->from,
        .rcpt = rcpt,
        .require_tls = smtp->starttls,
    };
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    rc = blend__webclient_send(e->smtp, &r, on_sent, e, (uint64_t)id, NULL);
    blend_free(raw);
    return rc;
}

void blend__email_kick(struct blend_email_channel *e)
{
    if (e) {
        blend__outbox_kick(e->outbox);
    }
}

/* "Re: " once, the token of the conversation once: "Re: Order 7 [#BL-12]". */
static void reply_subject(const char *subject, int64_t id, char *out, size_t cap)
{
    const char *s = subject ? subject : "";
    while (strncasecmp(s, "re:", 3) == 0 || strncasecmp(s, "aw:", 3) == 0 ||
           strncmp(s, "回复:", strlen("回复:")) == 0) {
        s += strncmp(s, "回复:", strlen("回复:")) == 0 ? strlen("回复:") : 3;
        while (*s == ' ') {
            s++;
        }
    }
    char token[32];
    snprintf(token, sizeof token, "[#BL-%" PRId64 "]", id);
    snprintf(out, cap, "Re: %s%s%s", s, strstr(s, token) ? "" : " ", strstr(s, token) ? "" : token);
}

int blend__email_reply_fields(struct blend_email_channel *e, int64_t id, json_t **doc_out)
{
    /* The latest inbound message of the interaction: the one answered. */
    char idtext[32];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    json_t *last = NULL;
    int64_t after = 0;
    for (int pages = 0; pages < 100; pages++) {
        struct blend_list_query q = {.after_id = after,
                                     .limit = 100,
                                     .filter_field = "interaction",
                                     .filter_value = idtext};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(e->app->store, &blend_res_messages, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *m;
        json_array_foreach(items, i, m)
        {
            const char *dir = json_string_value(json_object_get(m, "direction"));
            if (dir && strcmp(dir, "inbound") == 0 && json_object_get(m, "source")) {
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
    if (!last) {
        return BLEND_ENOENT;
    }
    const json_t *meta = json_object_get(last, "meta");
    const char *reply_to = json_string_value(json_object_get(meta, "reply_to"));
    const char *from = json_string_value(json_object_get(meta, "from"));
    const char *mid = json_string_value(json_object_get(last, "message_id"));
    char subject[1100];
    reply_subject(json_string_value(json_object_get(last, "subject")), id, subject,
                  sizeof subject);
    json_t *refs = string_list(json_object_get(meta, "references"));
    if (refs && mid && mid[0]) {
        json_array_append_new(refs, json_string(mid));
    }
    while (refs && json_array_size(refs) > BLEND_EMAIL_REFERENCES_MAX) {
        json_array_remove(refs, 0);
    }
    const struct mailbox *b = box_named(e, json_string_value(json_object_get(meta, "mailbox")));
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:s}", "subject", subject, "to",
                            reply_to && reply_to[0] ? reply_to : from ? from : "", "in_reply_to",
                            mid ? mid : "", "references", refs ? refs : json_array(), "from",
                            b->from);
    if (doc && b->name[0]) {
        json_object_set_new(doc, "mailbox", json_string(b->name));
    }
    json_decref(last);
    if (!doc) {
        return BLEND_ENOMEM;
    }
    *doc_out = doc;
    return 0;
}

/* ---- Life ---------------------------------------------------------------------------------- */

static int split_url(struct mailbox *b, const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = BLEND_EINVAL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK &&
        (strcmp(scheme, "imap") == 0 || strcmp(scheme, "imaps") == 0)) {
        const char *box = path[0] == '/' ? path + 1 : path;
        if (box[0] && strlen(box) < sizeof b->mailbox && !strpbrk(box, "\r\n\"")) {
            snprintf(b->mailbox, sizeof b->mailbox, "%s", box);
            snprintf(b->base_url, sizeof b->base_url, "%s://%s:%s/", scheme, host, port);
            snprintf(b->mailbox_url, sizeof b->mailbox_url, "%s", url);
            rc = 0;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

static int mkdir_one(const char *path)
{
    return mkdir(path, 0750) == 0 || errno == EEXIST ? 0 : BLEND_EIO;
}

static int config_usable(const struct blend__email_config *cfg)
{
    return cfg->imap_url && cfg->queue && cfg->queue[0] && cfg->from && cfg->from[0] &&
           cfg->poll_s >= 1 && strlen(cfg->name ? cfg->name : "") < EMAIL_NAME_BYTES;
}

#define COPY(field, value) snprintf(field, sizeof field, "%s", (value) ? (value) : "")

/* A mailbox of channel e from cfg, polling from now on. */
static int mailbox_start(struct blend_email_channel *e, const struct blend__email_config *cfg)
{
    if (!config_usable(cfg) || e->boxes_count >= EMAIL_MAILBOXES_MAX) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < e->boxes_count; i++) {
        if (strcmp(e->boxes[i]->name, cfg->name ? cfg->name : "") == 0) {
            return BLEND_EEXIST;
        }
    }
    struct mailbox *b = blend_calloc(1, sizeof *b);
    if (!b) {
        return BLEND_ENOMEM;
    }
    b->e = e;
    int rc = split_url(b, cfg->imap_url);
    COPY(b->name, cfg->name);
    snprintf(b->label, sizeof b->label, "email%s%s", b->name[0] ? "." : "", b->name);
    COPY(b->username, cfg->username);
    COPY(b->password, cfg->password);
    COPY(b->smtp_url, cfg->smtp_url);
    COPY(b->smtp_username, cfg->smtp_username);
    COPY(b->smtp_password, cfg->smtp_password);
    COPY(b->from, cfg->from);
    COPY(b->from_name, cfg->from_name);
    COPY(b->queue, cfg->queue);
    b->starttls = cfg->starttls;
    b->poll_ms = (uint64_t)cfg->poll_s * 1000;
    rc = rc ? rc : blend__webclient_create(e->app->loop, &b->wc);
    if (rc) {
        blend_free(b);
        return rc;
    }
    uv_timer_init(e->app->loop, &b->poll_timer);
    b->poll_timer.data = b;
    e->timers_live++;
    e->boxes[e->boxes_count++] = b;
    if (e->m_up) {
        (void)blend_metric_set(e->m_up, b->label, NULL, 0); /* until its first round */
    }
    if (e->m_messages) {
        (void)blend_metric_add(e->m_messages, b->label, NULL, 0);
    }
    uv_timer_start(&b->poll_timer, on_poll, 0, b->poll_ms);
    BLEND_LOG_INFO("email", "mailbox %s reading %s every %d s into queue %s", b->name[0] ? b->name : "(email)",
                   b->mailbox_url, cfg->poll_s, b->queue);
    return 0;
}

#undef COPY

int blend__email_create(struct blend_app *app, const struct blend__email_config *cfg,
                        struct blend_email_channel **out)
{
    BLEND_ASSERT(app && cfg && out);
    if (!config_usable(cfg)) {
        return BLEND_EINVAL;
    }
    struct blend_email_channel *e = blend_calloc(1, sizeof *e);
    if (!e) {
        return BLEND_ENOMEM;
    }
    e->app = app;
    if (app->metrics &&
        (blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE, "blend_email_mailbox_up",
                                "1 when the mailbox's last round could read it, 0 when it "
                                "failed (login, server down) or has not run yet.",
                                "mailbox", NULL, NULL, 0, &e->m_up) != 0 ||
         blend_metrics_register(app->metrics, BLEND_METRIC_COUNTER, "blend_email_messages_total",
                                "Messages taken from the mailbox and stored.", "mailbox", NULL,
                                NULL, 0, &e->m_messages) != 0)) {
        e->m_up = e->m_messages = NULL;
        BLEND_LOG_WARN("email", "mailbox metrics not registered");
    }
    snprintf(e->data_dir, sizeof e->data_dir, "%s",
             cfg->data_dir && cfg->data_dir[0] ? cfg->data_dir : ".");
    char files_dir[4200];
    snprintf(files_dir, sizeof files_dir, "%s/files", e->data_dir);
    int rc = mkdir_one(e->data_dir);
    rc = rc ? rc : mkdir_one(files_dir);
    rc = rc ? rc : blend__webclient_create(app->loop, &e->smtp);
    if (rc) {
        blend_free(e);
        return rc;
    }
    static const char *const channels[] = {"email", NULL};
    struct blend__outbox_config oc = {.name = "email",
                                      .channels = channels,
                                      .retry_first_s = EMAIL_RETRY_FIRST_S,
                                      .tick_ms = EMAIL_SEND_TICK_MS,
                                      .send = send_one,
                                      .arg = e};
    rc = blend__outbox_create(app, &oc, &e->outbox);
    if (rc) {
        blend__webclient_destroy(e->smtp);
        blend_free(e); /* the client's memory goes with its handles, once the loop closes them */
        return rc;
    }
    blend_email_init();
    struct blend__email_config first = *cfg;
    first.name = ""; /* [email] is the mailbox without a name */
    rc = mailbox_start(e, &first);
    if (rc) {
        blend__email_destroy(e);
        return rc;
    }
    BLEND_LOG_INFO("email", "replies %s", cfg->smtp_url && cfg->smtp_url[0] ? cfg->smtp_url
                                                                              : "stay queued");
    *out = e;
    return 0;
}

int blend__email_add_mailbox(struct blend_email_channel *e, const struct blend__email_config *cfg)
{
    BLEND_ASSERT(e && cfg);
    if (!cfg->name || !cfg->name[0]) {
        return BLEND_EINVAL;
    }
    return mailbox_start(e, cfg);
}

static void maybe_free(struct blend_email_channel *e)
{
    if (e->closing && e->timers_live == 0 && e->writes == 0) {
        for (size_t i = 0; i < e->boxes_count; i++) {
            blend_free(e->boxes[i]);
        }
        blend_free(e);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mailbox *b = h->data;
    struct blend_email_channel *e = b->e;
    e->timers_live--;
    maybe_free(e);
}

void blend__email_destroy(struct blend_email_channel *e)
{
    if (!e) {
        return;
    }
    e->closing = 1;
    blend__outbox_destroy(e->outbox);
    e->outbox = NULL;
    blend__webclient_destroy(e->smtp);
    e->smtp = NULL;
    for (size_t i = 0; i < e->boxes_count; i++) {
        blend__webclient_destroy(e->boxes[i]->wc);
        e->boxes[i]->wc = NULL;
        uv_close((uv_handle_t *)&e->boxes[i]->poll_timer, on_timer_closed);
    }
    maybe_free(e); /* no mailbox started: nothing to wait for */
}
