/*
 * The web chat channel (chat.h, docs/chat-protocol.md).
 *
 * Sessions are sockets; a visitor is the set of sockets sharing one resume token (two tabs, a
 * reload), with its rate limit, its open conversation and what it last typed and read. The
 * visitor's identity is "v:" + the hex BLAKE2b-160 of the token, so the database never holds a
 * token that would let its reader speak as the visitor. A visitor lives while a socket or a write
 * holds it (reference counts); a session likewise while its socket is open or a write will
 * answer on it.
 *
 * Durability: a message is acknowledged ({"type":"ack"}) only from the write's callback, after
 * the commit; its source "chat:<identity>:<client_id>" is unique, so a message sent again after
 * a lost ack is acknowledged with the stored id and not stored twice. Routing states and agents'
 * replies are read from the committed event log (messages.created, contact.*), so the visitor
 * sees only durable facts, and a restart loses nothing: the conversation and its history come
 * back with the token.
 *
 * Bot first (chat_flow.c, ADR 0020): on an entry point with a flow, the first message opens
 * the conversation in state "new" (outside routing) and the flow answers; each visitor message
 * is fed to it after its commit; its queue node (or "talk to an agent") puts the same
 * interaction into routing. Closed hours with the treatment "offline" queue the chat (state
 * queued, reason "closed"). A rating is kept on the row too, so a reload after the end (or a
 * restart) offers it once (welcome.to_rate). The visitor's typing reaches the agent's event
 * stream as a rate-limited stored event (interaction.typing).
 */
#include "api/chat.h"

#include "api/app_int.h"
#include "api/files.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "engine/ivr/ivr.h"
#include "model/chat.h"
#include "model/identity.h"
#include "store/store.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHAT_ORIGINS_BYTES_MAX 2048
#define CHAT_IDENTITY_BYTES 43    /* "v:" + 40 hex + NUL */
#define CHAT_HISTORY_MAX 500      /* messages sent in a welcome (newest kept) */
#define CHAT_PENDING_MAX 16       /* messages waiting for their conversation's first write */
#define CHAT_TYPING_FRESH_MS 6000 /* a typing signal older than this is stale */
/* The page's Origin kept from the upgrade; longer ones are not allowed anywhere. */
#define CHAT_ORIGIN_BYTES 256
/* A pre-chat topic's skills, as entry_point_topics.skills holds them. */
#define CHAT_SKILLS_BYTES 257
#define CHAT_SOURCE_BYTES (5 + CHAT_IDENTITY_BYTES + 1 + BLEND_CHAT_CLIENT_ID_BYTES_MAX + 1)
/* The visitor's typing reaches the agent's event stream as a stored event (interaction.typing):
 * at most one "on" per conversation in this period; "off" once after an "on". */
#define CHAT_TYPING_EVENT_EVERY_MS 3000

struct visitor;

struct session {
    struct blend_chat *chat;
    struct blend_ws *ws; /* NULL once closed */
    struct visitor *v;   /* after hello */
    int refs;            /* writes that will answer on this session */
    struct session *next;
    struct session *vnext;          /* the visitor's other sessions */
    char origin[CHAT_ORIGIN_BYTES]; /* the page's Origin at the upgrade ("" when none) */
    int is_own_origin;              /* no Origin, or the server's own */
};

struct pending {
    struct session *s;
    char client_id[BLEND_CHAT_CLIENT_ID_BYTES_MAX + 1];
    char *text;
    int is_offline;
};

struct visitor {
    char identity[CHAT_IDENTITY_BYTES];
    char queue[BLEND_CHAT_ENTRY_POINT_BYTES_MAX + 1];
    char name[BLEND_CHAT_NAME_BYTES_MAX + 1];
    char email[BLEND_CHAT_EMAIL_BYTES_MAX + 1];
    char topic[BLEND_CHAT_TOPIC_BYTES_MAX + 1];
    char agent_name[BLEND_CHAT_NAME_BYTES_MAX + 1];
    char flow[BLEND_IVR_NAME_BYTES];      /* the entry point's flow ("" = straight to the queue) */
    char calendar[BLEND_IVR_NAME_BYTES];  /* the entry point's calendar (the flow's facts) */
    char skills[CHAT_SKILLS_BYTES];       /* the pre-chat topic's skills ("" = none) */
    char origins[CHAT_ORIGINS_BYTES_MAX]; /* the entry point's allowed origins ("" = [chat]'s) */
    int64_t contact;
    int64_t agent_id;     /* the agent the conversation is connected to (from routing), 0 none */
    int64_t conversation; /* open interaction, 0 when none */
    int64_t ended;        /* the conversation that ended last (a rating is about it), 0 none */
    int is_rated;
    int is_closed_hours; /* the open conversation was left while the queue was closed */
    int is_opening;      /* the first message's write is in flight */
    struct pending pending[CHAT_PENDING_MAX];
    int pending_count;
    int last_position;
    struct blend_chat_bucket bucket;
    int64_t typing_ms;       /* the visitor's last typing signal (monotonic), 0 when stopped */
    int64_t typing_event_ms; /* the last interaction.typing "on" stored, 0 after an "off" */
    int64_t read_up_to;
    int refs;
    struct session *sessions; /* the sessions that said hello as this visitor (vnext) */
    struct visitor *next;
};

/* A visitor found by its open conversation: the index of one batch of events. */
struct by_conversation {
    int64_t conversation;
    struct visitor *v;
};

struct blend_chat {
    struct blend_app *app;
    char origins[CHAT_ORIGINS_BYTES_MAX];
    struct session *sessions;
    struct visitor *visitors;
    struct blend__chat_bots *bots; /* bot-first conversations (chat_flow.c) */
    int64_t seq;                   /* events followed up to here */
    int positions_dirty;           /* a routing event may have moved waiting visitors' positions */
    /* Built for each batch of events: visitors by open conversation (sorted), and the waiting
     * contacts' views (positions); both grow as needed and are kept between batches. */
    struct by_conversation *index;
    size_t index_count, index_cap;
    struct blend_acd_contact_view *waiting;
    size_t waiting_cap;
};

/* ---- Frames out ---------------------------------------------------------------------------- */

static void send_json(struct session *s, json_t *msg)
{
    char *text = msg && s->ws ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (text) {
        (void)blend_ws_send(s->ws, text, strlen(text)); /* a full backlog closes the socket */
        blend_free(text);
    }
}

static void send_error(struct session *s, const char *code, const char *message,
                       const char *client_id)
{
    json_t *e = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
    if (e && client_id && client_id[0]) {
        json_object_set_new(e, "client_id", json_string(client_id));
    }
    send_json(s, e);
}

/* Sends msg (stolen) to every open socket of visitor v. */
static void send_visitor(struct blend_chat *c, const struct visitor *v, json_t *msg)
{
    (void)c;
    for (struct session *s = v->sessions; s && msg; s = s->vnext) {
        if (s->ws) {
            send_json(s, json_incref(msg));
        }
    }
    json_decref(msg);
}

/* ---- Lifetimes ----------------------------------------------------------------------------- */

static void visitor_release(struct blend_chat *c, struct visitor *v)
{
    BLEND_ASSERT(v->refs > 0);
    if (--v->refs > 0) {
        return;
    }
    for (struct visitor **pp = &c->visitors; *pp; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    }
    for (int i = 0; i < v->pending_count; i++) {
        blend_free(v->pending[i].text);
    }
    blend_free(v);
}

static void session_release(struct session *s)
{
    BLEND_ASSERT(s->refs > 0);
    if (--s->refs > 0) {
        return;
    }
    struct blend_chat *c = s->chat;
    for (struct session **pp = &c->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->v) {
        for (struct session **pp = &s->v->sessions; *pp; pp = &(*pp)->vnext) {
            if (*pp == s) {
                *pp = s->vnext;
                break;
            }
        }
        visitor_release(c, s->v);
    }
    blend_free(s);
}

static struct visitor *visitor_get(struct blend_chat *c, const char *identity, int64_t now_ms)
{
    for (struct visitor *v = c->visitors; v; v = v->next) {
        if (strcmp(v->identity, identity) == 0) {
            v->refs++;
            return v;
        }
    }
    struct visitor *v = blend_calloc(1, sizeof *v);
    if (!v) {
        return NULL;
    }
    snprintf(v->identity, sizeof v->identity, "%s", identity);
    blend_chat_bucket_init(&v->bucket, now_ms, BLEND_CHAT_RATE_BURST);
    v->refs = 1;
    v->next = c->visitors;
    c->visitors = v;
    return v;
}

/* ---- Reading the store --------------------------------------------------------------------- */

static void identity_of(const char *token, char out[CHAT_IDENTITY_BYTES])
{
    unsigned char h[20];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    memcpy(out, "v:", 2);
    sodium_bin2hex(out + 2, CHAT_IDENTITY_BYTES - 2, h, sizeof h);
}

/* The enabled chat entry point with this address: its document (owned), or NULL. */
static json_t *entry_point_of(struct blend_chat *c, const char *address)
{
    struct blend_list_query q = {.limit = 100, .filter_field = "address", .filter_value = address};
    json_t *items = NULL, *found = NULL;
    int64_t next = 0;
    if (blend_store_list(c->app->store, &blend_res_entry_points, &q, &items, &next) != 0) {
        return NULL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *ch = json_string_value(json_object_get(it, "channel"));
        if (ch && strcmp(ch, "chat") == 0 && json_is_true(json_object_get(it, "enabled"))) {
            found = json_incref(it);
            break;
        }
    }
    json_decref(items);
    return found;
}

static int is_open_state(const char *state)
{
    return state && (strcmp(state, "new") == 0 || strcmp(state, "queued") == 0 ||
                     strcmp(state, "offered") == 0 || strcmp(state, "connected") == 0);
}

/* The visitor's open chat conversation (the newest), 0 when none. */
static int64_t open_conversation(struct blend_chat *c, const char *identity)
{
    int64_t found = 0, after = 0;
    for (int pages = 0; pages < 50; pages++) {
        struct blend_list_query q = {
            .after_id = after, .limit = 100, .filter_field = "address", .filter_value = identity};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(c->app->store, &blend_res_interactions, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *ch = json_string_value(json_object_get(it, "channel"));
            if (ch && strcmp(ch, "chat") == 0 &&
                is_open_state(json_string_value(json_object_get(it, "state")))) {
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

/* After the open conversation: the visitor's newest chat conversation, when it ended (a reload
 * after the end finds it again to rate it); is_rated from its stored rating. 0 when none. */
static int64_t last_ended(struct blend_chat *c, const char *identity, int *is_rated)
{
    int64_t found = 0, after = 0;
    int rated = 0;
    for (int pages = 0; pages < 50; pages++) {
        struct blend_list_query q = {
            .after_id = after, .limit = 100, .filter_field = "address", .filter_value = identity};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(c->app->store, &blend_res_interactions, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *ch = json_string_value(json_object_get(it, "channel"));
            if (ch && strcmp(ch, "chat") == 0) {
                found = is_open_state(json_string_value(json_object_get(it, "state")))
                            ? 0
                            : json_integer_value(json_object_get(it, "id"));
                rated = json_is_integer(json_object_get(it, "rating"));
            }
        }
        json_decref(items);
        if (!next) {
            break;
        }
        after = next;
    }
    *is_rated = rated;
    return found;
}

/* A conversation left "new" with no bot running it (its bot was lost: a failed start, a
 * restart before the recovery saw it) goes to its queue now. */
static void requeue_orphan(struct blend_chat *c, struct visitor *v)
{
    json_t *row = NULL;
    if (blend__chat_bots_has(c->bots, v->conversation) ||
        blend_store_get(c->app->store, &blend_res_interactions, v->conversation, 0, &row) != 0) {
        return;
    }
    const char *st = json_string_value(json_object_get(row, "state"));
    const char *queue = json_string_value(json_object_get(row, "queue"));
    if (st && strcmp(st, "new") == 0 && queue) {
        (void)blend__chat_bots_queue(c->app, v->conversation, queue,
                                     json_integer_value(json_object_get(row, "contact")));
    }
    json_decref(row);
}

/* A message row as the visitor sees it. */
static json_t *message_json(const json_t *row, const char *agent_name)
{
    const char *dir = json_string_value(json_object_get(row, "direction"));
    int inbound = dir && strcmp(dir, "inbound") == 0;
    const json_t *meta = json_object_get(row, "meta");
    int is_bot = !inbound && json_is_true(json_object_get(meta, "bot"));
    json_t *m =
        json_pack("{s:O, s:s, s:O, s:O}", "id", json_object_get(row, "id"), "from",
                  inbound  ? "visitor"
                  : is_bot ? "bot"
                           : "agent",
                  "text", json_object_get(row, "body"), "at", json_object_get(row, "created_at"));
    if (m && is_bot && json_is_array(json_object_get(meta, "options"))) {
        json_object_set(m, "options", json_object_get(meta, "options"));
    }
    if (m && !inbound && !is_bot) {
        json_object_set_new(m, "name",
                            json_string(agent_name && agent_name[0] ? agent_name : "Agent"));
    }
    const json_t *file = json_array_get(json_object_get(meta, "attachments"), 0);
    if (m && file) { /* the visitor sees a file's name, type and size, never its bytes */
        json_object_set_new(m, "file",
                            json_pack("{s:O, s:O, s:O}", "filename",
                                      json_object_get(file, "filename"), "content_type",
                                      json_object_get(file, "content_type"), "size",
                                      json_object_get(file, "size")));
    }
    return m;
}

/* The conversation's messages, oldest first (the newest CHAT_HISTORY_MAX). */
static json_t *history_of(struct blend_chat *c, int64_t id, const char *agent_name)
{
    json_t *all = json_array();
    char idtext[32];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    int64_t after = 0;
    while (all && id > 0) {
        struct blend_list_query q = {
            .after_id = after, .limit = 100, .filter_field = "interaction", .filter_value = idtext};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(c->app->store, &blend_res_messages, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            json_array_append_new(all, message_json(it, agent_name));
        }
        json_decref(items);
        while (json_array_size(all) > CHAT_HISTORY_MAX) {
            json_array_remove(all, 0);
        }
        if (!next) {
            break;
        }
        after = next;
    }
    return all ? all : json_array();
}

static void agent_display_name(struct blend_chat *c, int64_t agent_id, char *out, size_t cap)
{
    json_t *a = NULL;
    out[0] = '\0';
    if (agent_id > 0 && blend_store_get(c->app->store, &blend_res_agents, agent_id, 0, &a) == 0) {
        const char *dn = json_string_value(json_object_get(a, "display_name"));
        snprintf(out, cap, "%s", dn && dn[0] ? dn : "Agent");
    }
    json_decref(a);
}

/* Whether the queue takes chats now: its calendar (and the entry point's) open and somebody with
 * chat capacity logged in. */
static int is_online(struct blend_chat *c, const char *queue, const char *ep_calendar)
{
    json_t *q = NULL;
    if (!queue[0] || blend_store_find(c->app->store, &blend_res_queues, "name", queue, 0, &q)) {
        return 0;
    }
    struct blend_acd_queue_staff st;
    int64_t qid = json_integer_value(json_object_get(q, "id"));
    int online = blend_acd_queue_staff(blend__routing_acd(c->app->routing), qid, &st) == 0 &&
                 st.logged_in > 0;
    const char *cals[2] = {json_string_value(json_object_get(q, "calendar")), ep_calendar};
    for (int i = 0; i < 2 && online; i++) {
        struct blend__open_state os;
        if (cals[i] && cals[i][0] &&
            blend__calendar_now(c->app, cals[i], blend__wall_ms(), &os) == 0) {
            online = os.state == BLEND_CALENDAR_OPEN;
        }
    }
    json_decref(q);
    return online;
}

/* The "queued" state frame of a waiting conversation from its routing view. */
static json_t *queued_json(struct visitor *v, const struct blend_acd_contact_view *cv)
{
    v->last_position = cv->position;
    json_t *st =
        json_pack("{s:s, s:I, s:s, s:i, s:I}", "type", "state", "conversation", (json_int_t)cv->id,
                  "state", "queued", "position", cv->position > 0 ? (int)cv->position : 1, "ewt_s",
                  (json_int_t)(cv->ewt_ms / 1000));
    if (st && v->is_closed_hours) {
        json_object_set_new(st, "reason", json_string("closed"));
    }
    return st;
}

/* The conversation's routing state as the visitor sees it (NULL when unknown). */
static json_t *state_json(struct blend_chat *c, struct visitor *v, int64_t id)
{
    struct blend_acd_contact_view cv;
    if (blend__chat_bots_has(c->bots, id)) {
        v->agent_id = 0;
        return json_pack("{s:s, s:I, s:s}", "type", "state", "conversation", (json_int_t)id,
                         "state", "bot");
    }
    if (blend_acd_contact(blend__routing_acd(c->app->routing), id, &cv) == 0) {
        v->agent_id = cv.state == BLEND_CONTACT_CONNECTED ? cv.agent : 0;
        if (cv.state == BLEND_CONTACT_CONNECTED) {
            agent_display_name(c, cv.agent, v->agent_name, sizeof v->agent_name);
            return json_pack("{s:s, s:I, s:s, s:s}", "type", "state", "conversation",
                             (json_int_t)id, "state", "connected", "agent", v->agent_name);
        }
        return queued_json(v, &cv);
    }
    v->agent_id = 0;
    return json_pack("{s:s, s:I, s:s}", "type", "state", "conversation", (json_int_t)id, "state",
                     "ended");
}

/* ---- Hello --------------------------------------------------------------------------------- */

static void new_token(char *out, size_t cap)
{
    unsigned char rnd[24];
    randombytes_buf(rnd, sizeof rnd);
    BLEND_ASSERT(cap >= 2 * sizeof rnd + 1);
    sodium_bin2hex(out, cap, rnd, sizeof rnd);
}

static int origin_fits(struct blend_chat *c, const char *ep_origins, int is_own,
                       const char *origin);

/* The pre-chat topics of an entry point, as the welcome lists them (their names). */
static json_t *topic_names(const json_t *ep)
{
    json_t *names = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ep, "topics"), i, t)
    {
        json_array_append(names, json_object_get(t, "topic"));
    }
    return names;
}

/* A topic the visitor chose that the entry point knows: its queue (when it names one) replaces
 * the entry point's, and its skills become the conversation's own. */
static void apply_topic(struct visitor *v, const json_t *ep)
{
    v->skills[0] = '\0';
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ep, "topics"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "topic"));
        if (v->topic[0] && name && strcasecmp(name, v->topic) == 0) {
            const char *q = json_string_value(json_object_get(t, "queue"));
            const char *sk = json_string_value(json_object_get(t, "skills"));
            if (q && q[0]) {
                snprintf(v->queue, sizeof v->queue, "%s", q);
            }
            snprintf(v->skills, sizeof v->skills, "%s", sk ? sk : "");
            return;
        }
    }
}

static void on_hello(struct session *s, const struct blend_chat_frame *f)
{
    struct blend_chat *c = s->chat;
    if (s->v) {
        send_error(s, "bad_state", "hello was already said on this connection", NULL);
        return;
    }
    json_t *ep = entry_point_of(c, f->entry_point);
    const char *queue = json_string_value(json_object_get(ep, "queue"));
    if (!ep || !queue) {
        json_decref(ep);
        send_error(s, "unknown_entry_point", "no chat entry point has that address", NULL);
        return;
    }
    const char *ep_origins = json_string_value(json_object_get(ep, "allowed_origins"));
    if (!origin_fits(c, ep_origins, s->is_own_origin, s->origin)) {
        json_decref(ep);
        BLEND_LOG_INFO("chat", "hello on %s from origin %s refused", f->entry_point, s->origin);
        send_error(s, "forbidden_origin", "this chat does not take visitors from this page", NULL);
        return;
    }
    char token[BLEND_CHAT_TOKEN_BYTES_MAX + 1];
    if (f->resume_token[0]) {
        snprintf(token, sizeof token, "%s", f->resume_token);
    } else {
        new_token(token, sizeof token);
    }
    char identity[CHAT_IDENTITY_BYTES];
    identity_of(token, identity);
    struct visitor *v = visitor_get(c, identity, blend__now_ms(c->app));
    if (!v) {
        json_decref(ep);
        send_error(s, "unavailable", "the server is out of memory", NULL);
        return;
    }
    s->v = v;
    s->vnext = v->sessions;
    v->sessions = s;
    snprintf(v->queue, sizeof v->queue, "%s", queue);
    if (f->name[0]) {
        snprintf(v->name, sizeof v->name, "%s", f->name);
    }
    if (f->email[0]) {
        snprintf(v->email, sizeof v->email, "%s", f->email);
    }
    if (f->topic[0]) {
        snprintf(v->topic, sizeof v->topic, "%s", f->topic);
    }
    snprintf(v->origins, sizeof v->origins, "%s", ep_origins ? ep_origins : "");
    apply_topic(v, ep);
    const char *flow = json_string_value(json_object_get(ep, "flow"));
    const char *cal = json_string_value(json_object_get(ep, "calendar"));
    snprintf(v->flow, sizeof v->flow, "%s", flow ? flow : "");
    snprintf(v->calendar, sizeof v->calendar, "%s", cal ? cal : "");
    if (!v->is_opening) {
        v->conversation = open_conversation(c, identity);
    }
    if (v->conversation) {
        requeue_orphan(c, v);
    } else if (!v->is_opening && !v->ended) {
        v->ended = last_ended(c, identity, &v->is_rated);
    }
    int online = is_online(c, v->queue, cal); /* the topic's queue when it names one */
    json_t *topics = topic_names(ep);
    json_decref(ep);
    json_t *state = v->conversation ? state_json(c, v, v->conversation) : NULL;
    int64_t to_rate = !v->conversation && v->ended && !v->is_rated ? v->ended : 0;
    json_t *welcome = json_pack(
        "{s:s, s:s, s:o, s:o, s:b, s:o, s:o}", "type", "welcome", "resume_token", token,
        "conversation", v->conversation ? json_integer(v->conversation) : json_null(), "history",
        history_of(c, v->conversation, v->agent_name), "online", online, "to_rate",
        to_rate ? json_integer(to_rate) : json_null(), "topics", topics ? topics : json_array());
    send_json(s, welcome);
    if (state) {
        send_json(s, state);
    }
}

/* ---- Messages in --------------------------------------------------------------------------- */

struct wctx {
    struct blend_chat *c;
    struct visitor *v;
    struct session *s;
    char client_id[BLEND_CHAT_CLIENT_ID_BYTES_MAX + 1];
    char source[CHAT_SOURCE_BYTES];
    json_t *message; /* the message row (opening: also the contact step) */
    json_t *arrival; /* the interaction document, opening only */
};

static struct wctx *wctx_new(struct session *s, const char *client_id)
{
    struct wctx *x = blend_calloc(1, sizeof *x);
    if (!x) {
        return NULL;
    }
    x->c = s->chat;
    x->v = s->v;
    x->s = s;
    x->v->refs++;
    s->refs++;
    snprintf(x->client_id, sizeof x->client_id, "%s", client_id);
    snprintf(x->source, sizeof x->source, "chat:%s:%s", s->v->identity, client_id);
    return x;
}

static void wctx_free(struct wctx *x)
{
    json_decref(x->message);
    json_decref(x->arrival);
    struct blend_chat *c = x->c;
    visitor_release(c, x->v);
    session_release(x->s);
    blend_free(x);
}

/* Acknowledges the stored message (found by its unique source) to its sender, and shows it to
 * the visitor's other sockets. */
static void ack_stored(struct wctx *x)
{
    json_t *row = NULL;
    if (blend_store_find(x->c->app->store, &blend_res_messages, "source", x->source, 0, &row)) {
        send_error(x->s, "unavailable", "the message could not be stored: send it again",
                   x->client_id);
        return;
    }
    json_t *id = json_object_get(row, "id");
    send_json(x->s, json_pack("{s:s, s:s, s:O, s:O}", "type", "ack", "client_id", x->client_id,
                              "id", id, "conversation", json_object_get(row, "interaction")));
    json_t *echo = message_json(row, NULL);
    for (struct session *o = x->v->sessions; o && echo; o = o->vnext) {
        if (o != x->s && o->ws) {
            json_t *m = json_pack("{s:s, s:O}", "type", "message", "message", echo);
            send_json(o, m);
        }
    }
    json_decref(echo);
    json_decref(row);
}

static json_t *message_row(struct visitor *v, const char *source, const char *client_id,
                           const char *text, int is_offline)
{
    json_t *meta = json_pack("{s:s, s:s}", "channel", "chat", "client_id", client_id);
    if (meta && is_offline) {
        json_object_set_new(meta, "offline", json_true());
    }
    if (meta && v->topic[0]) {
        json_object_set_new(meta, "topic", json_string(v->topic));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "direction", "inbound", "author",
                     v->name[0] ? v->name : "visitor", "body", text, "source", source, "meta",
                     meta ? meta : json_object(), "state", "received");
}

static void bot_outcome(struct blend_chat *c, struct visitor *v, int64_t id,
                        enum blend__chat_bot_outcome oc);

static void on_joined(struct blend_write *w, void *arg)
{
    struct wctx *x = arg;
    int rc = w->rc;
    blend_write_destroy(w);
    if (rc == 0 || rc == BLEND_EEXIST) {
        ack_stored(x); /* a unique clash is this message stored before: acknowledged again */
        int64_t id = json_integer_value(json_object_get(x->message, "interaction"));
        const char *text = json_string_value(json_object_get(x->message, "body"));
        enum blend__chat_bot_outcome oc;
        if (rc == 0 && text && blend__chat_bots_text(x->c->bots, id, text, &oc) == 0) {
            bot_outcome(x->c, x->v, id, oc); /* the bot answers what is durable */
        }
    } else {
        send_error(x->s, "unavailable", "the message could not be stored: send it again",
                   x->client_id);
    }
    wctx_free(x);
}

static void join(struct wctx *x, int64_t conversation, const char *text, int is_offline)
{
    json_t *row = message_row(x->v, x->source, x->client_id, text, is_offline);
    struct blend_write *w = blend_write_create();
    struct blend_write_op *ev = NULL;
    if (row && w) {
        json_object_set_new(row, "interaction", json_integer(conversation));
        if (blend_write_add(w, BLEND_OP_CREATE, &blend_res_messages, json_incref(row))) {
            ev = blend_write_add(w, BLEND_OP_EVENT, NULL,
                                 json_pack("{s:I, s:s, s:s}", "interaction_id",
                                           (json_int_t)conversation, "channel", "chat", "direction",
                                           "inbound"));
            if (ev && x->v->agent_id > 0) {
                /* The agent holding it sees it on their stream (events.c). */
                json_object_set_new(ev->doc, "agent_id", json_integer(x->v->agent_id));
            }
        }
    }
    json_decref(x->message);
    x->message = row; /* its text is fed to the bot after the commit */
    if (!ev) {
        blend_write_destroy(w);
        send_error(x->s, "unavailable", "the server is out of memory", x->client_id);
        wctx_free(x);
        return;
    }
    snprintf(ev->event_type, sizeof ev->event_type, "interaction.message");
    snprintf(ev->subject, sizeof ev->subject, "interactions/%" PRId64, conversation);
    ev->ref_op = 0;
    snprintf(ev->ref_field, sizeof ev->ref_field, "message");
    snprintf(w->actor, sizeof w->actor, "chat");
    (void)blend__app_submit(x->c->app, NULL, w, on_joined, x);
}

static void store_message(struct session *s, const char *client_id, const char *text,
                          int is_offline);

/* Messages that waited for the conversation's first write go now, in order. */
static void flush_pending(struct blend_chat *c, struct visitor *v)
{
    int n = v->pending_count;
    struct pending p[CHAT_PENDING_MAX];
    memcpy(p, v->pending, sizeof p);
    v->pending_count = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].s->ws) {
            store_message(p[i].s, p[i].client_id, p[i].text, p[i].is_offline);
        }
        blend_free(p[i].text);
        session_release(p[i].s);
    }
    (void)c;
}

static void opened(struct wctx *x, int rc, const json_t *doc)
{
    struct visitor *v = x->v;
    v->is_opening = 0;
    if (rc) {
        v->conversation = 0;
        send_error(x->s, "unavailable", "the conversation could not be opened: send it again",
                   x->client_id);
    } else {
        ack_stored(x);
        const char *state = json_string_value(json_object_get(doc, "state"));
        if (!is_open_state(state)) {
            /* Closed hours: the message is kept on an interaction that ended at once. */
            v->ended = v->conversation;
            v->conversation = 0;
            send_visitor(x->c, v,
                         json_pack("{s:s, s:I, s:s, s:s}", "type", "state", "conversation",
                                   (json_int_t)v->ended, "state", "ended", "reason", "closed"));
        } else {
            const char *treatment = json_string_value(json_object_get(
                json_object_get(json_object_get(doc, "routing"), "closed"), "treatment"));
            /* Closed hours with the treatment "offline": queued until agents take it. */
            v->is_closed_hours = treatment && strcmp(treatment, "offline") == 0;
            send_visitor(x->c, v, state_json(x->c, v, v->conversation));
        }
    }
    flush_pending(x->c, v);
    wctx_free(x);
}

static int add_first_message(struct blend_write *w, void *arg);

/* What the bot's step did to the conversation, told to the visitor. */
static void bot_outcome(struct blend_chat *c, struct visitor *v, int64_t id,
                        enum blend__chat_bot_outcome oc)
{
    if (oc == BLEND__CHAT_BOT_ENDED && v->conversation == id) {
        v->ended = id;
        v->conversation = 0;
        v->is_rated = 0;
        send_visitor(c, v,
                     json_pack("{s:s, s:I, s:s, s:s}", "type", "state", "conversation",
                               (json_int_t)id, "state", "ended", "reason", "bot"));
    } else if (oc == BLEND__CHAT_BOT_QUEUED && v->conversation == id) {
        send_visitor(c, v, state_json(c, v, id)); /* routing has it: queued, or connected */
    }
}

/* The bot conversation's row (state "new") and its first message are committed: the flow
 * starts; if it cannot, the conversation goes to the queue as if there were no flow. */
static void on_bot_opened(struct blend_write *w, void *arg)
{
    struct wctx *x = arg;
    struct visitor *v = x->v;
    int rc = w->rc;
    int64_t id = rc == 0 ? w->ops[0].id_out : 0;
    blend_write_destroy(w);
    v->is_opening = 0;
    if (rc) {
        v->conversation = 0;
        send_error(x->s, "unavailable", "the conversation could not be opened: send it again",
                   x->client_id);
        flush_pending(x->c, v);
        wctx_free(x);
        return;
    }
    v->conversation = id;
    v->is_rated = 0;
    v->is_closed_hours = 0;
    ack_stored(x);
    struct blend__chat_bot_info info = {.conversation = id,
                                        .contact = v->contact,
                                        .flow = v->flow,
                                        .queue = v->queue,
                                        .calendar = v->calendar[0] ? v->calendar : NULL,
                                        .name = v->name,
                                        .first_text =
                                            json_string_value(json_object_get(x->message, "body"))};
    enum blend__chat_bot_outcome oc = BLEND__CHAT_BOT_QUEUED;
    rc = blend__chat_bots_start(x->c->bots, &info, &oc);
    if (rc) {
        BLEND_LOG_ERROR("chat", "flow %s cannot run conversation %" PRId64 " (%s): queued", v->flow,
                        id, blend_strerror(rc));
        (void)blend__chat_bots_queue(x->c->app, id, v->queue, v->contact);
    }
    if (oc == BLEND__CHAT_BOT_RUNNING) {
        send_visitor(x->c, v, state_json(x->c, v, id));
    } else {
        bot_outcome(x->c, v, id, oc);
    }
    flush_pending(x->c, v);
    wctx_free(x);
}

/* Opens a conversation on an entry point with a flow: the interaction is stored "new" (not in
 * routing while the bot runs) with the first message, in one write. */
static void arrive_bot(struct wctx *x)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "channel", "chat", "direction", "inbound",
                             "queue", x->v->queue, "address", x->v->identity, "state", "new");
    if (body && x->v->contact > 0) {
        json_object_set_new(body, "contact", json_integer(x->v->contact));
    }
    json_t *doc = NULL;
    struct blend_field_errors *errs = blend_malloc(sizeof *errs);
    int rc = body && errs ? blend_model_validate(&blend_res_interactions, body,
                                                 BLEND_VALIDATE_CREATE, 0, &doc, errs)
                          : BLEND_ENOMEM;
    blend_free(errs);
    json_decref(body);
    struct blend_write *w = rc == 0 ? blend_write_create() : NULL;
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_interactions, doc) ||
        add_first_message(w, x) != 0) {
        if (!w) {
            json_decref(doc);
        }
        blend_write_destroy(w);
        x->v->is_opening = 0;
        send_error(x->s, "unavailable", "the conversation could not be opened: send it again",
                   x->client_id);
        flush_pending(x->c, x->v);
        wctx_free(x);
        return;
    }
    snprintf(w->actor, sizeof w->actor, "chat");
    (void)blend__app_submit(x->c->app, NULL, w, on_bot_opened, x);
}

static void on_arrival_created(struct blend_app *app, void *arg, int64_t id)
{
    (void)app;
    struct wctx *x = arg;
    x->v->conversation = id; /* before routing's events name it */
    x->v->is_rated = 0;
    x->v->is_closed_hours = 0;
}

static void on_arrival_done(struct blend_app *app, void *arg, int rc, json_t *doc)
{
    (void)app;
    opened(arg, rc, doc);
}

static int add_first_message(struct blend_write *w, void *arg)
{
    struct wctx *x = arg;
    struct blend_write_op *op =
        blend_write_add(w, BLEND_OP_CREATE, &blend_res_messages, json_incref(x->message));
    if (!op) {
        return BLEND_ENOMEM;
    }
    op->ref_op = 0;
    snprintf(op->ref_field, sizeof op->ref_field, "interaction");
    return 0;
}

/* The topic's skills as an interaction's own ({"name": min}); a skill that is not (or no
 * longer) defined is left out with a warning rather than keep the conversation from opening.
 * NULL when none is left. */
static json_t *topic_skills(struct blend_chat *c, const char *text)
{
    struct blend_ivr_skill sk[BLEND_IVR_SKILLS_MAX];
    size_t n = 0;
    if (blend_ivr_skills_parse(text, sk, &n) != 0) {
        return NULL; /* the model refuses such text: an older row */
    }
    json_t *own = json_object();
    for (size_t i = 0; own && i < n; i++) {
        json_t *doc = NULL;
        if (blend_store_find(c->app->store, &blend_res_skills, "name", sk[i].name, 0, &doc) != 0) {
            BLEND_LOG_WARN("chat", "pre-chat topic names the unknown skill %s: left out",
                           sk[i].name);
            continue;
        }
        json_decref(doc);
        json_object_set_new(own, sk[i].name, json_integer(sk[i].min_proficiency));
    }
    if (own && json_object_size(own) == 0) {
        json_decref(own);
        own = NULL;
    }
    return own;
}

static void arrive(struct wctx *x)
{
    if (x->v->flow[0]) {
        arrive_bot(x);
        return;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "channel", "chat", "direction", "inbound",
                             "queue", x->v->queue, "address", x->v->identity);
    if (body && x->v->contact > 0) {
        json_object_set_new(body, "contact", json_integer(x->v->contact));
    }
    json_t *own = body && x->v->skills[0] ? topic_skills(x->c, x->v->skills) : NULL;
    if (own) {
        json_object_set_new(body, "skills", own);
    }
    int rc = body ? blend__interaction_arrive_with(x->c->app, body, add_first_message, x,
                                                   on_arrival_created, on_arrival_done, x)
                  : BLEND_ENOMEM;
    if (rc) {
        BLEND_LOG_ERROR("chat", "a conversation cannot open in %s: %s", x->v->queue,
                        blend_strerror(rc));
        opened(x, rc, NULL);
    }
}

static int64_t contact_of(struct blend_chat *c, const char *identity)
{
    json_t *match = json_pack("{s:s, s:s}", "kind", "chat", "value", identity);
    json_t *doc = NULL;
    int64_t id = 0;
    if (match && blend_store_find_by_child(c->app->store, &blend_res_contacts, "identities", match,
                                           0, &doc) == 0) {
        id = json_integer_value(json_object_get(doc, "id"));
    }
    json_decref(doc);
    json_decref(match);
    return id;
}

static void on_contact(struct blend_write *w, void *arg)
{
    struct wctx *x = arg;
    x->v->contact = w->rc == 0 ? w->ops[0].id_out : contact_of(x->c, x->v->identity);
    blend_write_destroy(w);
    arrive(x);
}

/* A new contact for the visitor: the token's identity, the name given, and the email given kept
 * as an attribute — an email typed into a form proves nothing, so it is not an identity that
 * would join this visitor to someone else's history (or theirs to this one). */
static void open_conversation_for(struct wctx *x)
{
    struct visitor *v = x->v;
    v->contact = v->contact ? v->contact : contact_of(x->c, v->identity);
    if (v->contact) {
        arrive(x);
        return;
    }
    json_t *attrs = json_object();
    if (attrs && v->email[0]) {
        json_object_set_new(attrs, "chat_email", json_string(v->email));
    }
    if (attrs && v->topic[0]) {
        json_object_set_new(attrs, "chat_topic", json_string(v->topic));
    }
    json_t *contact = json_pack("{s:[{s:s, s:s}], s:o}", "identities", "kind", "chat", "value",
                                v->identity, "attributes", attrs ? attrs : json_object());
    if (contact && v->name[0]) {
        json_object_set_new(contact, "name", json_string(v->name));
    }
    struct blend_write *w = blend_write_create();
    if (!contact || !w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_contacts, contact)) {
        if (!w) {
            json_decref(contact);
        }
        blend_write_destroy(w);
        arrive(x); /* without a contact rather than not at all */
        return;
    }
    snprintf(w->actor, sizeof w->actor, "chat");
    (void)blend__app_submit(x->c->app, NULL, w, on_contact, x);
}

static void store_message(struct session *s, const char *client_id, const char *text,
                          int is_offline)
{
    struct visitor *v = s->v;
    if (v->is_opening) {
        if (v->pending_count >= CHAT_PENDING_MAX) {
            send_error(s, "busy", "too many messages before the conversation opened", client_id);
            return;
        }
        struct pending *p = &v->pending[v->pending_count];
        size_t n = strlen(text);
        p->text = blend_malloc(n + 1);
        if (!p->text) {
            send_error(s, "unavailable", "the server is out of memory", client_id);
            return;
        }
        memcpy(p->text, text, n + 1);
        snprintf(p->client_id, sizeof p->client_id, "%s", client_id);
        p->s = s;
        p->is_offline = is_offline;
        s->refs++;
        v->pending_count++;
        return;
    }
    struct wctx *x = wctx_new(s, client_id);
    if (!x) {
        send_error(s, "unavailable", "the server is out of memory", client_id);
        return;
    }
    /* Sent again after a lost ack: acknowledged, not stored twice. */
    json_t *seen = NULL;
    if (blend_store_find(s->chat->app->store, &blend_res_messages, "source", x->source, 0, &seen) ==
        0) {
        json_decref(seen);
        ack_stored(x);
        wctx_free(x);
        return;
    }
    if (v->conversation) {
        join(x, v->conversation, text, is_offline);
        return;
    }
    x->message = message_row(v, x->source, client_id, text, is_offline);
    if (!x->message) {
        send_error(s, "unavailable", "the server is out of memory", client_id);
        wctx_free(x);
        return;
    }
    v->is_opening = 1;
    open_conversation_for(x);
}

static void on_message_frame(struct session *s, const struct blend_chat_frame *f)
{
    struct blend_chat *c = s->chat;
    if (!blend_chat_bucket_take(&s->v->bucket, blend__now_ms(c->app), BLEND_CHAT_RATE_PER_S,
                                BLEND_CHAT_RATE_BURST)) {
        send_error(s, "rate_limited", "too many messages: wait a moment and send it again",
                   f->client_id);
        return;
    }
    s->v->typing_ms = 0;
    s->v->typing_event_ms = 0; /* the message itself tells the agent the typing stopped */
    int is_offline = !s->v->conversation && !is_online(c, s->v->queue, NULL);
    store_message(s, f->client_id, f->text, is_offline);
}

/* ---- End and rating ------------------------------------------------------------------------ */

static void on_end(struct session *s)
{
    struct blend_chat *c = s->chat;
    struct visitor *v = s->v;
    struct blend_acd_contact_view cv;
    if (blend__chat_bots_has(c->bots, v->conversation)) {
        blend__chat_bots_end(c->bots, v->conversation);
        bot_outcome(c, v, v->conversation, BLEND__CHAT_BOT_ENDED);
        return;
    }
    if (!v->conversation ||
        blend_acd_contact(blend__routing_acd(c->app->routing), v->conversation, &cv) != 0) {
        send_error(s, "no_conversation", "there is no conversation to end", NULL);
        return;
    }
    struct blend_acd_event ev = {.type = cv.state == BLEND_CONTACT_CONNECTED
                                             ? BLEND_ACD_EV_CONTACT_END
                                             : BLEND_ACD_EV_CONTACT_ABANDON};
    ev.u.contact.contact = v->conversation;
    ev.u.contact.agent = cv.state == BLEND_CONTACT_CONNECTED ? cv.agent : 0;
    int rc = blend__routing_step_detached(c->app->routing, &ev);
    if (rc) {
        send_error(s, "unavailable", "the conversation could not be ended now", NULL);
    }
    /* The state "ended" follows from the event log (contact.ended / contact.abandoned). */
}

/* "Talk to an agent" from the widget's button: the bot hands over to the queue. */
static void on_to_agent(struct session *s)
{
    struct blend_chat *c = s->chat;
    struct visitor *v = s->v;
    enum blend__chat_bot_outcome oc;
    if (blend__chat_bots_to_agent(c->bots, v->conversation, &oc) == 0) {
        bot_outcome(c, v, v->conversation, oc);
    } else if (v->conversation) {
        send_json(s, state_json(c, v, v->conversation)); /* already with routing */
    } else {
        send_error(s, "no_conversation", "there is no conversation to hand to an agent", NULL);
    }
}

/* The visitor's typing on the agent's event stream: a stored event interaction.typing (the
 * stream carries only stored events), at most one "on" per CHAT_TYPING_EVENT_EVERY_MS per
 * conversation and one "off" after an "on"; only while an agent holds the conversation. */
static void typing_event(struct blend_chat *c, struct visitor *v, int is_on)
{
    int64_t now = blend__now_ms(c->app);
    v->typing_ms = is_on ? now : 0;
    if (!v->conversation || v->agent_id <= 0 ||
        (is_on && v->typing_event_ms && now - v->typing_event_ms < CHAT_TYPING_EVENT_EVERY_MS) ||
        (!is_on && !v->typing_event_ms)) {
        return;
    }
    v->typing_event_ms = is_on ? now : 0;
    char subject[48];
    snprintf(subject, sizeof subject, "interactions/%" PRId64, v->conversation);
    blend__app_record_event(c->app, "chat", "interaction.typing", subject,
                            json_pack("{s:I, s:I, s:s, s:b, s:i}", "interaction_id",
                                      (json_int_t)v->conversation, "agent_id",
                                      (json_int_t)v->agent_id, "from", "visitor", "on", is_on,
                                      "ttl_ms", CHAT_TYPING_FRESH_MS));
}

struct rating {
    struct session *s;
    struct blend_chat *c;
};

static void on_rated(struct blend_write *w, void *arg)
{
    struct rating *r = arg;
    if (w->rc == 0) {
        send_json(r->s, json_pack("{s:s}", "type", "rated"));
    } else {
        if (r->s->v) {
            r->s->v->is_rated = 0;
        }
        send_error(r->s, "unavailable", "the rating could not be stored", NULL);
    }
    blend_write_destroy(w);
    session_release(r->s);
    blend_free(r);
}

static void on_rating(struct session *s, const struct blend_chat_frame *f)
{
    struct visitor *v = s->v;
    if (!v->ended || v->is_rated) {
        send_error(s, v->ended ? "already_rated" : "no_conversation",
                   v->ended ? "this conversation was rated already"
                            : "a rating follows the end of a conversation",
                   NULL);
        return;
    }
    json_t *row = NULL;
    json_t *agent = json_null();
    int is_stored = 0;
    if (blend_store_get(s->chat->app->store, &blend_res_interactions, v->ended, 0, &row) == 0) {
        if (json_is_string(json_object_get(row, "agent"))) {
            agent = json_incref(json_object_get(row, "agent"));
        }
        is_stored = json_is_integer(json_object_get(row, "rating"));
    }
    json_decref(row);
    if (is_stored) {
        /* Rated from another page or before a restart: the row keeps it. */
        json_decref(agent);
        v->is_rated = 1;
        send_error(s, "already_rated", "this conversation was rated already", NULL);
        return;
    }
    json_t *data =
        json_pack("{s:I, s:i, s:o, s:I}", "interaction_id", (json_int_t)v->ended, "value",
                  f->rating, "agent", agent, "contact_id", (json_int_t)v->contact);
    if (data && f->comment[0]) {
        json_object_set_new(data, "comment", json_string(f->comment));
    }
    struct rating *r = blend_malloc(sizeof *r);
    struct blend_write *w = r ? blend_write_create() : NULL;
    struct blend_write_op *op = w ? blend_write_add(w, BLEND_OP_EVENT, NULL, data) : NULL;
    struct blend_write_op *up = op ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_interactions,
                                                     json_pack("{s:i}", "rating", f->rating))
                                   : NULL;
    if (up) {
        up->id = v->ended;
    }
    if (!up) {
        if (!w) {
            json_decref(data);
        }
        blend_write_destroy(w);
        blend_free(r);
        send_error(s, "unavailable", "the server is out of memory", NULL);
        return;
    }
    snprintf(op->event_type, sizeof op->event_type, "chat.rating");
    snprintf(op->subject, sizeof op->subject, "interactions/%" PRId64, v->ended);
    snprintf(w->actor, sizeof w->actor, "chat");
    v->is_rated = 1;
    r->s = s;
    r->c = s->chat;
    s->refs++;
    (void)blend__app_submit(s->chat->app, NULL, w, on_rated, r);
}

/* ---- The socket ---------------------------------------------------------------------------- */

/* The Origin a browser sent is the server's own (scheme://Host) or on the allow-list. Clients
 * that are not browsers send none and are not at risk of a foreign page speaking for them. */
/* 1 when `origin` is in the comma-separated `list` ("*" allows any). */
static int origin_in_list(const char *list, const char *origin)
{
    size_t n = strlen(origin);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ", ");
        if ((len == 1 && *p == '*') || (len == n && len > 0 && strncasecmp(p, origin, n) == 0)) {
            return 1;
        }
        p += len;
    }
    return 0;
}

/* No Origin (not a browser), or the server's own page. */
static int is_own_origin(struct blend_http_req *req)
{
    const char *origin = blend_http_req_header(req, "Origin");
    const char *host = blend_http_req_header(req, "Host");
    if (!origin) {
        return 1;
    }
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return host && rest && strcasecmp(rest, host) == 0;
}

/* 1 when some enabled chat entry point allows the origin in its own list. */
static int origin_of_an_entry_point(struct blend_chat *c, const char *origin)
{
    int found = 0;
    int64_t after = 0;
    for (int pages = 0; pages < 20 && !found; pages++) {
        struct blend_list_query q = {
            .after_id = after, .limit = 100, .filter_field = "channel", .filter_value = "chat"};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(c->app->store, &blend_res_entry_points, &q, &items, &next) != 0) {
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *list = json_string_value(json_object_get(it, "allowed_origins"));
            found |= json_is_true(json_object_get(it, "enabled")) && list &&
                     origin_in_list(list, origin);
        }
        json_decref(items);
        if (!next) {
            break;
        }
        after = next;
    }
    return found;
}

/* A page may open a socket (or post a file) when it is the server's own, in [chat]
 * allowed_origins, or in some chat entry point's allowed_origins; hello then holds it to its
 * entry point's list (docs/chat-protocol.md §Entry points). */
static int origin_allowed(struct blend_chat *c, struct blend_http_req *req)
{
    const char *origin = blend_http_req_header(req, "Origin");
    return is_own_origin(req) || origin_in_list(c->origins, origin) ||
           origin_of_an_entry_point(c, origin);
}

/* The entry point's own list when it has one, else [chat]'s. */
static int origin_fits(struct blend_chat *c, const char *ep_origins, int is_own, const char *origin)
{
    return is_own || origin_in_list(ep_origins && ep_origins[0] ? ep_origins : c->origins, origin);
}

int blend__chat_ws_open(struct blend_ws *ws, struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    struct blend_chat *c = app->chat;
    if (!c) {
        return 404;
    }
    if (!origin_allowed(c, req)) {
        BLEND_LOG_INFO("chat", "socket from origin %s refused",
                       blend_http_req_header(req, "Origin"));
        return 403;
    }
    struct session *s = blend_calloc(1, sizeof *s);
    if (!s) {
        return 503;
    }
    s->chat = c;
    s->ws = ws;
    s->refs = 1; /* the socket's */
    s->is_own_origin = is_own_origin(req);
    const char *origin = blend_http_req_header(req, "Origin");
    snprintf(s->origin, sizeof s->origin, "%s", origin ? origin : "");
    s->next = c->sessions;
    c->sessions = s;
    blend_ws_set_ctx(ws, s);
    return 0;
}

void blend__chat_ws_message(struct blend_ws *ws, const char *text, size_t len, void *arg)
{
    (void)arg;
    struct session *s = blend_ws_ctx(ws);
    if (!s) {
        return;
    }
    struct blend_chat_frame *f = blend_malloc(sizeof *f);
    struct blend_chat_error err;
    if (!f) {
        send_error(s, "unavailable", "the server is out of memory", NULL);
        return;
    }
    if (blend_chat_frame_parse(text, len, f, &err) != 0) {
        send_error(s, err.code ? err.code : "unavailable", err.message, NULL);
    } else if (f->type == BLEND_CHAT_PING) {
        send_json(s, json_pack("{s:s}", "type", "pong"));
    } else if (f->type == BLEND_CHAT_HELLO) {
        on_hello(s, f);
    } else if (!s->v) {
        send_error(s, "bad_state", "say hello first",
                   f->type == BLEND_CHAT_MESSAGE ? f->client_id : NULL);
    } else if (f->type == BLEND_CHAT_MESSAGE) {
        on_message_frame(s, f);
    } else if (f->type == BLEND_CHAT_TYPING) {
        typing_event(s->chat, s->v, f->is_typing);
    } else if (f->type == BLEND_CHAT_TO_AGENT) {
        on_to_agent(s);
    } else if (f->type == BLEND_CHAT_READ) {
        s->v->read_up_to = f->up_to > s->v->read_up_to ? f->up_to : s->v->read_up_to;
    } else if (f->type == BLEND_CHAT_END) {
        on_end(s);
    } else if (f->type == BLEND_CHAT_RATING) {
        on_rating(s, f);
    }
    blend_free(f);
}

void blend__chat_ws_close(struct blend_ws *ws, void *arg)
{
    (void)arg;
    struct session *s = blend_ws_ctx(ws);
    if (!s) {
        return;
    }
    blend_ws_set_ctx(ws, NULL);
    s->ws = NULL;
    session_release(s);
}

/* ---- Following the event log --------------------------------------------------------------- */

static int by_conversation_cmp(const void *x, const void *y)
{
    int64_t a = ((const struct by_conversation *)x)->conversation;
    int64_t b = ((const struct by_conversation *)y)->conversation;
    return a < b ? -1 : a > b;
}

/* Indexes the visitors by open conversation for one batch of events (a conversation that
 * closes in the batch is checked at lookup; none opens while events are read). */
static int index_build(struct blend_chat *c)
{
    size_t n = 0;
    for (struct visitor *v = c->visitors; v; v = v->next) {
        n += v->conversation > 0;
    }
    if (n > c->index_cap) {
        struct by_conversation *grown = blend_realloc(c->index, n * sizeof *grown);
        if (!grown) {
            c->index_count = 0;
            return BLEND_ENOMEM;
        }
        c->index = grown;
        c->index_cap = n;
    }
    n = 0;
    for (struct visitor *v = c->visitors; v; v = v->next) {
        if (v->conversation > 0) {
            c->index[n++] = (struct by_conversation){v->conversation, v};
        }
    }
    if (n > 1) {
        qsort(c->index, n, sizeof *c->index, by_conversation_cmp);
    }
    c->index_count = n;
    return 0;
}

/* The visitor whose open conversation is `id`: from the batch's index when there is one. */
static struct visitor *visitor_of_conversation(struct blend_chat *c, int64_t id)
{
    if (id <= 0) {
        return NULL;
    }
    if (c->index_count > 0) {
        struct by_conversation key = {.conversation = id};
        const struct by_conversation *hit =
            bsearch(&key, c->index, c->index_count, sizeof key, by_conversation_cmp);
        return hit && hit->v->conversation == id ? hit->v : NULL;
    }
    for (struct visitor *v = c->visitors; v; v = v->next) {
        if (v->conversation == id) {
            return v;
        }
    }
    return NULL;
}

static void on_event(struct blend_chat *c, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const json_t *data = json_object_get(ev, "data");
    if (type && strcmp(type, "messages.created") == 0) {
        const char *dir = json_string_value(json_object_get(data, "direction"));
        struct visitor *v =
            visitor_of_conversation(c, json_integer_value(json_object_get(data, "interaction")));
        if (v && dir && strcmp(dir, "outbound") == 0) {
            send_visitor(c, v,
                         json_pack("{s:s, s:o}", "type", "message", "message",
                                   message_json(data, v->agent_name)));
        }
        return;
    }
    if (!type || strncmp(type, "contact.", 8) != 0) {
        return;
    }
    int64_t id = json_integer_value(json_object_get(data, "contact_id"));
    struct visitor *v = visitor_of_conversation(c, id);
    int is_end =
        strcmp(type, "contact.abandoned") == 0 ||
        (strcmp(type, "contact.ended") == 0 && !json_is_true(json_object_get(data, "transfer")));
    if (v && is_end) {
        v->agent_id = 0;
        v->ended = id;
        v->conversation = 0;
        v->is_rated = 0;
        send_visitor(c, v,
                     json_pack("{s:s, s:I, s:s}", "type", "state", "conversation", (json_int_t)id,
                               "state", "ended"));
    } else if (v) {
        send_visitor(c, v, state_json(c, v, id));
    }
    c->positions_dirty = 1;
}

/* Positions move for everybody waiting behind a contact that left the queue: recomputed once
 * per batch of events, for every waiting contact in one pass of the routing engine. */
static void push_positions(struct blend_chat *c)
{
    c->positions_dirty = 0;
    struct blend_acd *acd = blend__routing_acd(c->app->routing);
    size_t n = 0;
    while (blend_acd_waiting(acd, c->waiting, c->waiting_cap, &n) == BLEND_ELIMIT) {
        size_t cap = c->waiting_cap ? 2 * c->waiting_cap : 1024;
        struct blend_acd_contact_view *grown = blend_realloc(c->waiting, cap * sizeof *grown);
        if (!grown) {
            return;
        }
        c->waiting = grown;
        c->waiting_cap = cap;
    }
    for (size_t k = 0; k < n; k++) {
        struct visitor *o = visitor_of_conversation(c, c->waiting[k].id);
        if (o && c->waiting[k].position != o->last_position &&
            !blend__chat_bots_has(c->bots, o->conversation)) {
            send_visitor(c, o, queued_json(o, &c->waiting[k]));
        }
    }
}

void blend__chat_on_events(struct blend_chat *c)
{
    if (!c) {
        return;
    }
    int64_t upto = c->app->broadcast_seq;
    if (!c->visitors) {
        c->seq = upto; /* nobody to tell */
        return;
    }
    (void)index_build(c); /* without it (no memory) lookups walk the visitors */
    while (c->seq < upto) {
        json_t *events = NULL;
        if (blend_store_events(c->app->store, c->seq, BLEND_WS_REPLAY_BATCH, &events) != 0) {
            c->index_count = 0;
            return;
        }
        size_t i, n = json_array_size(events);
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            int64_t seq = json_integer_value(json_object_get(ev, "seq"));
            if (seq > upto) {
                break;
            }
            c->seq = seq;
            on_event(c, ev);
        }
        json_decref(events);
        if (n == 0) {
            break;
        }
    }
    if (c->positions_dirty) {
        push_positions(c);
    }
    c->index_count = 0; /* conversations open between batches: the index is per batch */
}

/* ---- HTTP routes --------------------------------------------------------------------------- */

int blend__h_chat_info(struct blend_http_req *req, void *arg)
{
    (void)arg;
    blend_http_respond_json(req, 200,
                            json_pack("{s:s, s:i, s:s, s:i, s:i, s:i}", "protocol", "blend-chat",
                                      "version", 1, "websocket", "/api/v1/chat", "text_bytes_max",
                                      BLEND_CHAT_TEXT_BYTES_MAX, "rate_per_s",
                                      BLEND_CHAT_RATE_PER_S, "rate_burst", BLEND_CHAT_RATE_BURST));
    return BLEND_HTTP_DONE;
}

/* The chat conversation `id` if the caller may act on it (an agent: the one it is connected to);
 * otherwise answers 404 / 409 / 403 and returns 0. */
static int64_t chat_for(struct blend_app *app, struct blend_http_req *req)
{
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *row = NULL;
    if (id <= 0 || blend_store_get(app->store, &blend_res_interactions, id, 0, &row) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return 0;
    }
    const char *ch = json_string_value(json_object_get(row, "channel"));
    int is_chat = ch && strcmp(ch, "chat") == 0;
    json_decref(row);
    if (!is_chat) {
        blend_http_respond_error(req, 409, "conflict", "not a chat conversation", NULL);
        return 0;
    }
    const struct blend_principal *p = blend__principal(req);
    struct blend_acd_contact_view cv;
    if (p->role == BLEND_ROLE_AGENT &&
        (blend_acd_contact(blend__routing_acd(app->routing), id, &cv) != 0 ||
         cv.agent != p->agent_id || p->agent_id <= 0)) {
        blend_http_respond_error(req, 403, "forbidden",
                                 "an agent acts only on the conversations they handle", NULL);
        return 0;
    }
    return id;
}

int blend__h_chat_typing(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = chat_for(app, req);
    if (!id) {
        return BLEND_HTTP_DONE;
    }
    json_t *body = NULL;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const json_t *on = json_object_get(body, "on");
    if (on && !json_is_boolean(on)) {
        json_decref(body);
        blend_http_respond_error(
            req, 422, "validation_failed", "on: true or false",
            json_pack("[{s:s, s:s}]", "path", "on", "message", "true or false"));
        return BLEND_HTTP_DONE;
    }
    int is_on = on ? json_is_true(on) : 1;
    json_decref(body);
    struct visitor *v = visitor_of_conversation(app->chat, id);
    if (v) {
        send_visitor(app->chat, v,
                     json_pack("{s:s, s:s, s:b}", "type", "typing", "from", "agent", "on", is_on));
    }
    blend_http_respond_json(req, 200, json_pack("{s:b}", "delivered", v != NULL));
    return BLEND_HTTP_DONE;
}

int blend__h_chat_read(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = chat_for(app, req);
    if (!id) {
        return BLEND_HTTP_DONE;
    }
    json_t *body = NULL;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const json_t *u = json_object_get(body, "up_to");
    json_int_t up_to = json_is_integer(u) ? json_integer_value(u) : 0;
    json_decref(body);
    if (up_to < 1) {
        blend_http_respond_error(
            req, 422, "validation_failed", "up_to: a message id",
            json_pack("[{s:s, s:s}]", "path", "up_to", "message", "a message id"));
        return BLEND_HTTP_DONE;
    }
    struct visitor *v = visitor_of_conversation(app->chat, id);
    if (v) {
        send_visitor(app->chat, v,
                     json_pack("{s:s, s:s, s:I}", "type", "read", "by", "agent", "up_to", up_to));
    }
    blend_http_respond_json(req, 200, json_pack("{s:b}", "delivered", v != NULL));
    return BLEND_HTTP_DONE;
}

int blend__h_chat_view(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = chat_for(app, req);
    if (!id) {
        return BLEND_HTTP_DONE;
    }
    struct visitor *v = visitor_of_conversation(app->chat, id);
    int sockets = 0;
    for (struct session *s = v ? v->sessions : NULL; s; s = s->vnext) {
        sockets += s->ws != NULL;
    }
    int typing = v && v->typing_ms && blend__now_ms(app) - v->typing_ms < CHAT_TYPING_FRESH_MS;
    blend_http_respond_json(req, 200,
                            json_pack("{s:I, s:b, s:b, s:I}", "interaction_id", (json_int_t)id,
                                      "visitor_online", sockets > 0, "visitor_typing", typing,
                                      "visitor_read_up_to", (json_int_t)(v ? v->read_up_to : 0)));
    return BLEND_HTTP_DONE;
}

/* ---- Files from the visitor ------------------------------------------------------------ */

/* Types a visitor may send: pictures, PDF and plain text (nothing a browser would run). */
static int is_chat_file_type(const char *type)
{
    static const char *const ok[] = {"image/png",  "image/jpeg",      "image/gif",
                                     "image/webp", "application/pdf", "text/plain"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (strcasecmp(type, ok[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

struct upload {
    struct blend_chat *c;
    struct blend_http_req *req;
    struct visitor *v; /* a reference held */
    char source[CHAT_SOURCE_BYTES];
};

static void on_uploaded(struct blend_write *w, void *arg)
{
    struct upload *x = arg;
    int rc = w->rc;
    blend_write_destroy(w);
    json_t *row = NULL;
    if ((rc == 0 || rc == BLEND_EEXIST) && blend_store_find(x->c->app->store, &blend_res_messages,
                                                            "source", x->source, 0, &row) == 0) {
        json_t *m = message_json(row, NULL);
        blend_http_respond_json(x->req, 201,
                                json_pack("{s:O, s:O, s:O}", "id", json_object_get(row, "id"),
                                          "conversation", json_object_get(row, "interaction"),
                                          "message", m));
        /* The visitor's sockets show it (the uploading page dedupes by id). */
        send_visitor(x->c, x->v, json_pack("{s:s, s:o}", "type", "message", "message", m));
        json_decref(row);
    } else {
        blend_http_respond_error(x->req, 503, "unavailable",
                                 "the file could not be stored: send it again", NULL);
    }
    visitor_release(x->c, x->v);
    blend_free(x);
}

/* The visitor's file: checked, kept in the file store, then stored as a message of the open
 * conversation with the file in meta.attachments (the agent downloads it through the messages
 * route). */
static int upload_store(struct blend_chat *c, struct blend_http_req *req, struct visitor *v,
                        const char *client_id, const struct blend__upload *u)
{
    char hex[BLEND__FILES_HEX_BYTES];
    const char *dir = c->app->cfg.data_dir && c->app->cfg.data_dir[0] ? c->app->cfg.data_dir : ".";
    if (blend__files_put(dir, u->data, u->size, hex) != 0) {
        blend_http_respond_error(req, 503, "unavailable", "the file could not be kept", NULL);
        return BLEND_HTTP_DONE;
    }
    struct upload *x = blend_calloc(1, sizeof *x);
    if (!x) {
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    snprintf(x->source, sizeof x->source, "chat:%s:%s", v->identity, client_id);
    json_t *row = message_row(v, x->source, client_id, u->filename, 0);
    json_t *meta = json_object_get(row, "meta");
    struct blend_write *w = row ? blend_write_create() : NULL;
    struct blend_write_op *ev = NULL;
    if (w && meta) {
        json_object_set_new(meta, "attachments",
                            json_pack("[{s:s, s:s, s:I, s:s, s:b, s:s}]", "filename", u->filename,
                                      "content_type", u->content_type, "size", (json_int_t)u->size,
                                      "sha256", hex, "inline", 0, "content_id", ""));
        json_object_set_new(row, "interaction", json_integer(v->conversation));
        if (blend_write_add(w, BLEND_OP_CREATE, &blend_res_messages, json_incref(row))) {
            ev = blend_write_add(w, BLEND_OP_EVENT, NULL,
                                 json_pack("{s:I, s:s, s:s}", "interaction_id",
                                           (json_int_t)v->conversation, "channel", "chat",
                                           "direction", "inbound"));
            if (ev && v->agent_id > 0) {
                json_object_set_new(ev->doc, "agent_id", json_integer(v->agent_id));
            }
        }
    }
    json_decref(row);
    if (!ev) {
        blend_write_destroy(w);
        blend_free(x);
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    snprintf(ev->event_type, sizeof ev->event_type, "interaction.message");
    snprintf(ev->subject, sizeof ev->subject, "interactions/%" PRId64, v->conversation);
    ev->ref_op = 0;
    snprintf(ev->ref_field, sizeof ev->ref_field, "message");
    snprintf(w->actor, sizeof w->actor, "chat");
    x->c = c;
    x->req = req;
    x->v = v;
    v->refs++;
    return blend__app_submit(c->app, req, w, on_uploaded, x); /* PENDING: on_uploaded answers */
}

/* A page of another allowed origin may read the answer (CORS); 0, or 1 when not allowed. */
static int cors_allow(struct blend_chat *c, struct blend_http_req *req)
{
    if (!origin_allowed(c, req)) {
        return 1;
    }
    const char *origin = blend_http_req_header(req, "Origin");
    if (origin && (blend_http_add_header(req, "Access-Control-Allow-Origin", origin) != 0 ||
                   blend_http_add_header(req, "Vary", "Origin") != 0)) {
        return 1;
    }
    return 0;
}

int blend__h_chat_upload_preflight(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    if (!app->chat || cors_allow(app->chat, req) ||
        blend_http_add_header(req, "Access-Control-Allow-Methods", "POST") != 0 ||
        blend_http_add_header(req, "Access-Control-Allow-Headers", "Content-Type") != 0 ||
        blend_http_add_header(req, "Access-Control-Max-Age", "600") != 0) {
        blend_http_respond_error(req, 403, "forbidden_origin",
                                 "this page's origin may not use the chat", NULL);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond(req, 204, NULL, NULL, 0);
    return BLEND_HTTP_DONE;
}

int blend__h_chat_upload(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    struct blend_chat *c = app->chat;
    if (!c) {
        blend_http_respond_error(req, 404, "not_found", "the web chat is not running", NULL);
        return BLEND_HTTP_DONE;
    }
    if (cors_allow(c, req)) {
        blend_http_respond_error(req, 403, "forbidden_origin",
                                 "this page's origin may not use the chat", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *body = NULL;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *token = json_string_value(json_object_get(body, "token"));
    const char *client_id = json_string_value(json_object_get(body, "client_id"));
    json_t *file = json_object_get(body, "file");
    const char *bad =
        !token || !token[0] || strlen(token) > BLEND_CHAT_TOKEN_BYTES_MAX ? "token"
        : !client_id || !client_id[0] || strlen(client_id) > BLEND_CHAT_CLIENT_ID_BYTES_MAX
            ? "client_id"
        : !json_is_object(file) ? "file"
                                : NULL;
    if (bad) {
        json_decref(body);
        blend_http_respond_error(
            req, 422, "invalid", "the upload is not valid",
            json_pack("[{s:s, s:s}]", "path", bad, "message", "required: token, client_id, file"));
        return BLEND_HTTP_DONE;
    }
    char identity[CHAT_IDENTITY_BYTES], cid[BLEND_CHAT_CLIENT_ID_BYTES_MAX + 1];
    identity_of(token, identity);
    snprintf(cid, sizeof cid, "%s", client_id); /* the body goes before the file is stored */
    struct visitor *v = NULL;
    for (struct visitor *o = c->visitors; o && !v; o = o->next) {
        v = strcmp(o->identity, identity) == 0 && o->sessions ? o : NULL;
    }
    const char *origin = blend_http_req_header(req, "Origin");
    if (v && !origin_fits(c, v->origins, is_own_origin(req), origin ? origin : "")) {
        json_decref(body);
        blend_http_respond_error(req, 403, "forbidden_origin",
                                 "this chat does not take files from this page", NULL);
        return BLEND_HTTP_DONE;
    }
    if (!v || !v->conversation) {
        json_decref(body);
        blend_http_respond_error(req, v ? 409 : 401, v ? "no_conversation" : "unknown_visitor",
                                 v ? "a file joins an open conversation: send a message first"
                                   : "no chat is open with this token: say hello first",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    if (!blend_chat_bucket_take(&v->bucket, blend__now_ms(app), BLEND_CHAT_RATE_PER_S,
                                BLEND_CHAT_RATE_BURST)) {
        json_decref(body);
        blend_http_respond_error(req, 429, "rate_limited", "too many messages: slow down", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *one = json_pack("[O]", file);
    json_decref(body);
    struct blend__uploads u;
    struct blend__uploads_error uerr;
    int rc = one ? blend__uploads_parse(one, &u, &uerr) : BLEND_ENOMEM;
    json_decref(one);
    if (rc == BLEND_ENOMEM) {
        blend_http_respond_error(req, 503, "unavailable", "no memory", NULL);
        return BLEND_HTTP_DONE;
    }
    if (rc) {
        const char *field = strrchr(uerr.path, '.');
        char path[64];
        snprintf(path, sizeof path, "file%s", field ? field : "");
        blend_http_respond_error(req, uerr.status, uerr.status == 413 ? "too_large" : "invalid",
                                 uerr.message,
                                 json_pack("[{s:s, s:s}]", "path", path, "message", uerr.message));
        return BLEND_HTTP_DONE;
    }
    const struct blend__upload *f = &u.items[0];
    if (f->size > BLEND_CHAT_FILE_BYTES_MAX) {
        blend__uploads_free(&u);
        blend_http_respond_error(
            req, 413, "too_large", "a file in the chat may have at most 2 MiB (2097152 bytes)",
            json_pack("[{s:s, s:s}]", "path", "file.data", "message", "at most 2 MiB"));
        return BLEND_HTTP_DONE;
    }
    if (!is_chat_file_type(f->content_type)) {
        blend__uploads_free(&u);
        blend_http_respond_error(
            req, 415, "unsupported_type",
            "the chat takes pictures (PNG, JPEG, GIF, WebP), PDF and plain text",
            json_pack("[{s:s, s:s}]", "path", "file.content_type", "message",
                      "image/png, image/jpeg, image/gif, image/webp, application/pdf or "
                      "text/plain"));
        return BLEND_HTTP_DONE;
    }
    int done = upload_store(c, req, v, cid, f);
    blend__uploads_free(&u);
    return done;
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */

int blend__chat_create(struct blend_app *app, const struct blend__chat_config *cfg,
                       struct blend_chat **out)
{
    BLEND_ASSERT(app && cfg && out);
    struct blend_chat *c = blend_calloc(1, sizeof *c);
    if (!c) {
        return BLEND_ENOMEM;
    }
    c->app = app;
    snprintf(c->origins, sizeof c->origins, "%s", cfg->allowed_origins ? cfg->allowed_origins : "");
    c->seq = blend_store_last_seq(app->store);
    int rc = blend__chat_bots_create(app, &c->bots);
    if (rc) {
        blend_free(c);
        return rc;
    }
    /* Conversations whose bot part a stop cut short go to their queues (ADR 0020). */
    blend__chat_bots_recover(c->bots);
    *out = c;
    return 0;
}

void blend__chat_destroy(struct blend_chat *c)
{
    if (!c) {
        return;
    }
    /* The HTTP layer closed every socket and every write has run: what is left is freed. */
    while (c->sessions) {
        struct session *s = c->sessions;
        c->sessions = s->next;
        blend_free(s);
    }
    while (c->visitors) {
        struct visitor *v = c->visitors;
        c->visitors = v->next;
        for (int i = 0; i < v->pending_count; i++) {
            blend_free(v->pending[i].text);
        }
        blend_free(v);
    }
    blend__chat_bots_destroy(c->bots);
    blend_free(c->index);
    blend_free(c->waiting);
    blend_free(c);
}
