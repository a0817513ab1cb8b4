/*
 * Bot first on web chat: the IVR engine (src/engine/ivr) hosted for text, the way calls_ivr.c
 * hosts it for calls (docs/flows.md "Flows on chat", ADR 0020). A chat entry point with a `flow`
 * runs that flow over a new conversation before it joins routing: a prompt is a stored bot
 * message (outbound, author "bot", meta {bot: true, node, options} for a menu's quick replies),
 * the visitor's next message answers a menu (key or label) or a collect (TEXT events), a queue
 * node puts the conversation into routing (CONTACT_ARRIVE of the existing interaction), and a
 * "talk to an agent" request (a phrase or the widget's to_agent frame) does so from any node.
 *
 * Invariants:
 *   - The conversation is an interaction in state "new" while its bot runs: stored, with every
 *     message of the bot and the visitor, but not in routing (routing's restore skips "new"
 *     rows). The session itself lives only in memory; after a restart blend__chat_bots_recover
 *     sends every such conversation to its queue, so none is lost (the bot's part just ends).
 *   - The session is fed only after the visitor's message it answers committed, and the bot's
 *     replies are submitted in order behind it: the transcript reads in order.
 *   - Chat has no input timeouts (a visitor answers at their own pace): ARM_TIMER is dropped, and
 *     the end of a prompt (PLAYED) is fed at once, at most BOT_PLAYS_PER_INPUT_MAX times per
 *     input so a loop of prompts cannot spin; past it the conversation goes to the queue.
 *   - Nodes chat cannot run are mapped, never refused: transfer and voicemail join the queue
 *     (voicemail's own queue when it names one), http fails (its `failure` branch), hangup ends.
 */
#include "api/chat.h"

#include "api/app_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "model/chat.h"
#include "model/flow.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Prompts fed as ended per visitor input: a flow of prompts chained in a loop stops here. */
#define BOT_PLAYS_PER_INPUT_MAX 16
/* A bot message's text after {name} expansion, NUL included. */
#define BOT_TEXT_BYTES (BLEND_IVR_TEXT_BYTES * 2)

/* A compiled flow version shared by the conversations running it (a few KiB per node). */
struct cached_flow {
    struct cached_flow *next;
    char name[BLEND_IVR_NAME_BYTES];
    int64_t version;
    struct blend_ivr_flow *flow;
    int refs; /* bots running it */
};

struct bot {
    struct bot *next;
    struct blend__chat_bots *bots;
    int64_t conversation;
    int64_t contact;
    int64_t version;
    char flow_name[BLEND_IVR_NAME_BYTES];
    char queue[BLEND_IVR_NAME_BYTES];    /* the entry point's queue: the default */
    char calendar[BLEND_IVR_NAME_BYTES]; /* the entry point's calendar (facts) */
    struct cached_flow *cached;          /* a reference */
    const struct blend_ivr_flow *flow;   /* cached->flow */
    struct blend_ivr_session *session;
    int is_played;       /* a prompt went out during the last effects */
    int is_http_pending; /* an http node asked: answered as a failure after the batch */
    enum blend__chat_bot_outcome outcome;
};

struct blend__chat_bots {
    struct blend_app *app;
    struct bot *list;
    size_t count;
    struct cached_flow *flows;
    struct blend_ivr_effects fx; /* one step's effects (the main loop steps one bot at a time) */
};

/* ---- Writes and events --------------------------------------------------------------------- */

static void bot_event(struct bot *b, const char *type, json_t *data)
{
    char subject[96];
    snprintf(subject, sizeof subject, "flows/%s", b->flow_name);
    json_object_set_new(data, "flow", json_string(b->flow_name));
    json_object_set_new(data, "flow_version", json_integer(b->version));
    json_object_set_new(data, "channel", json_string("chat"));
    json_object_set_new(data, "interaction_id", json_integer(b->conversation));
    blend__app_record_event(b->bots->app, "chat", type, subject, data);
}

/* {name} in a text replaced by the session's variable (left as written when unset). */
static void expand(const struct bot *b, const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        char name[BLEND_IVR_NAME_BYTES];
        size_t len = close ? (size_t)(close - p - 1) : 0;
        if (close && len > 0 && len < sizeof name) {
            memcpy(name, p + 1, len);
            name[len] = '\0';
            const char *v = blend_ivr_session_var(b->session, name);
            if (v) {
                int n = snprintf(out + o, cap - o, "%s", v);
                o = n < 0 ? o : (size_t)n >= cap - o ? cap - 1 : o + (size_t)n;
                p = close;
                continue;
            }
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* A prompt as a stored bot message; a menu's prompt carries its options as quick replies. */
static void say(struct bot *b, const struct blend_ivr_effect *e)
{
    char text[BOT_TEXT_BYTES];
    expand(b, e->text ? e->text : "", text, sizeof text);
    if (!text[0]) {
        return; /* a sound file: nothing to say on chat */
    }
    json_t *meta = json_pack("{s:s, s:b, s:s}", "channel", "chat", "bot", 1, "node", e->node);
    int32_t idx = blend_ivr_flow_find(b->flow, e->node);
    const struct blend_ivr_node *n = idx >= 0 ? &b->flow->nodes[idx] : NULL;
    if (meta && n && n->type == BLEND_IVR_MENU && n->options_count > 0) {
        json_t *opts = json_array();
        for (size_t i = 0; opts && i < n->options_count; i++) {
            char key[2] = {n->options[i].key, '\0'};
            json_array_append_new(opts,
                                  json_pack("{s:s, s:s}", "key", key, "label",
                                            n->options[i].label[0] ? n->options[i].label : key));
        }
        json_object_set_new(meta, "options", opts);
    }
    json_t *row = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "interaction",
                            (json_int_t)b->conversation, "direction", "outbound", "author", "bot",
                            "body", text, "meta", meta ? meta : json_object(), "state", "sent");
    struct blend_write *w = row ? blend_write_create() : NULL;
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_messages, row)) {
        if (!w) {
            json_decref(row);
        }
        blend_write_destroy(w);
        BLEND_LOG_ERROR("chat", "conversation %" PRId64 ": a bot message was lost (no memory)",
                        b->conversation);
        return;
    }
    snprintf(w->actor, sizeof w->actor, "chat");
    blend__app_submit_detached(b->bots->app, w);
}

/* Puts conversation `id` (an interaction in state "new") into routing: queue `queue`. */
static int route(struct blend_app *app, int64_t id, const char *queue, int64_t contact,
                 int priority, const char *skills)
{
    json_t *q = NULL;
    int rc = blend_store_find(app->store, &blend_res_queues, "name", queue, 0, &q);
    if (rc) {
        BLEND_LOG_ERROR("chat", "conversation %" PRId64 ": no queue \"%s\"", id, queue);
        return rc;
    }
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_CONTACT_ARRIVE};
    ev.u.arrive.contact = id;
    ev.u.arrive.queue = json_integer_value(json_object_get(q, "id"));
    ev.u.arrive.channel = BLEND_CH_CHAT;
    ev.u.arrive.priority = priority < 0 ? 0 : priority > 1000 ? 1000 : priority;
    ev.u.arrive.customer = contact;
    json_decref(q);
    struct blend_ivr_skill sk[BLEND_IVR_SKILLS_MAX];
    size_t sk_count = 0;
    json_t *own = json_object();
    if (skills && blend_ivr_skills_parse(skills, sk, &sk_count) != 0) {
        BLEND_LOG_WARN("chat",
                       "conversation %" PRId64 ": skills \"%.64s\" malformed: joins %s "
                       "without",
                       id, skills, queue);
        sk_count = 0;
    }
    for (size_t i = 0; own && i < sk_count; i++) {
        json_object_set_new(own, sk[i].name, json_integer(sk[i].min_proficiency));
    }
    if (own && sk_count > 0 &&
        blend__routing_skills(app->routing, own, 1, ev.u.arrive.skills, &ev.u.arrive.skills_count,
                              NULL, 0) != 0) {
        ev.u.arrive.skills_count = 0;
    }
    json_decref(own);
    rc = blend__routing_step_detached(app->routing, &ev);
    if (rc) {
        BLEND_LOG_ERROR("chat", "conversation %" PRId64 " not queued in %s: %s", id, queue,
                        blend_strerror(rc));
    }
    return rc;
}

/* Ends a conversation the bot closed (hangup): never in routing, so its row is ended here. */
static void end_row(struct blend_app *app, int64_t id)
{
    char ts[BLEND__ISO_BYTES];
    blend__wall_iso(ts);
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_interactions,
                            json_pack("{s:s, s:s}", "state", "ended", "ended_at", ts))
          : NULL;
    if (!op) {
        blend_write_destroy(w);
        return;
    }
    op->id = id;
    snprintf(w->actor, sizeof w->actor, "chat");
    blend__app_submit_detached(app, w);
}

/* ---- The session ---------------------------------------------------------------------------- */

static void to_queue(struct bot *b, const char *queue, int priority, const char *skills)
{
    if (b->outcome != BLEND__CHAT_BOT_RUNNING) {
        return;
    }
    const char *q = queue && queue[0] ? queue : b->queue;
    b->outcome = BLEND__CHAT_BOT_QUEUED;
    if (route(b->bots->app, b->conversation, q, b->contact, priority, skills) != 0 &&
        strcmp(q, b->queue) != 0) {
        (void)route(b->bots->app, b->conversation, b->queue, b->contact, 0, NULL);
    }
}

static void apply(struct bot *b)
{
    for (size_t i = 0; i < b->bots->fx.count; i++) {
        const struct blend_ivr_effect *e = &b->bots->fx.items[i];
        char digit[2] = {e->digit, '\0'};
        switch (e->kind) {
        case BLEND_IVR_FX_STEP:
            bot_event(b, "ivr.step", json_pack("{s:s}", "node", e->node));
            break;
        case BLEND_IVR_FX_INPUT:
            bot_event(b, "ivr.input", json_pack("{s:s, s:s}", "node", e->node, "digit", digit));
            break;
        case BLEND_IVR_FX_EXIT:
            bot_event(b, "ivr.exit", json_pack("{s:s, s:s}", "node", e->node, "reason", e->reason));
            if (b->outcome == BLEND__CHAT_BOT_RUNNING && strcmp(e->reason, "to-agent") != 0 &&
                strcmp(e->reason, "answered") != 0) {
                b->outcome = BLEND__CHAT_BOT_ENDED; /* hangup, dead-end, step-budget */
                end_row(b->bots->app, b->conversation);
            }
            break;
        case BLEND_IVR_FX_PLAY:
            say(b, e);
            b->is_played = 1;
            break;
        case BLEND_IVR_FX_JOIN_QUEUE:
            to_queue(b, e->queue, e->value, e->skills);
            break;
        case BLEND_IVR_FX_RECORD_VOICEMAIL: /* chat: the message is the conversation itself */
            to_queue(b, e->queue, 0, NULL);
            break;
        case BLEND_IVR_FX_TRANSFER: /* no number to dial from a chat: an agent takes it */
            to_queue(b, NULL, 0, NULL);
            break;
        case BLEND_IVR_FX_SURVEY_ANSWER:
            bot_event(b, "survey.answer",
                      json_pack("{s:s, s:i, s:n, s:n}", "question", e->text, "value", e->value,
                                "answered_interaction", "agent_id"));
            break;
        case BLEND_IVR_FX_ARM_TIMER:   /* no input timeouts on chat */
        case BLEND_IVR_FX_LEAVE_QUEUE: /* the session is gone once queued */
        case BLEND_IVR_FX_CALLBACK:
        case BLEND_IVR_FX_HANGUP: /* its EXIT follows and ends the conversation */
            break;
        case BLEND_IVR_FX_HTTP:
            /* Webhooks are not run from chat (yet): the node takes its failure branch, fed
             * after the batch (the session is never stepped inside its own effects). */
            BLEND_LOG_WARN("chat", "flow %s: http node %s not run on chat: failure", b->flow_name,
                           e->node);
            b->is_http_pending = 1;
            break;
        }
    }
}

/* Steps the session and carries out its effects, then feeds the ends of the prompts it asked
 * for (chat shows a prompt at once) until it waits for the visitor. */
static void feed(struct bot *b, const struct blend_ivr_event *first)
{
    struct blend_ivr_event ev = *first;
    for (int round = 0; round <= BOT_PLAYS_PER_INPUT_MAX; round++) {
        b->is_played = 0;
        b->is_http_pending = 0;
        ev.now_ms = blend__now_ms(b->bots->app);
        if (blend_ivr_session_step(b->session, &ev, &b->bots->fx) != 0) {
            return;
        }
        apply(b);
        if (b->outcome != BLEND__CHAT_BOT_RUNNING || blend_ivr_session_is_ended(b->session)) {
            if (b->outcome == BLEND__CHAT_BOT_RUNNING) {
                b->outcome = BLEND__CHAT_BOT_QUEUED; /* "answered": cannot happen before */
            }
            return;
        }
        if (!b->is_played && !b->is_http_pending) {
            return; /* waits for the visitor */
        }
        memset(&ev, 0, sizeof ev);
        ev.kind = b->is_http_pending ? BLEND_IVR_EV_HTTP_RESULT : BLEND_IVR_EV_PLAYED;
    }
    BLEND_LOG_WARN("chat",
                   "flow %s: more than %d prompts in a row: conversation %" PRId64
                   " goes to the queue",
                   b->flow_name, BOT_PLAYS_PER_INPUT_MAX, b->conversation);
    to_queue(b, NULL, 0, NULL);
}

static void facts_of(struct bot *b, struct blend_ivr_facts *f)
{
    memset(f, 0, sizeof *f);
    struct blend__open_state st;
    if (b->calendar[0] &&
        blend__calendar_now(b->bots->app, b->calendar, blend__wall_ms(), &st) == 0) {
        f->calendar = st.state == BLEND_CALENDAR_OPEN      ? BLEND_IVR_CAL_OPEN
                      : st.state == BLEND_CALENDAR_HOLIDAY ? BLEND_IVR_CAL_HOLIDAY
                                                           : BLEND_IVR_CAL_CLOSED;
        f->hour = st.hour;
    } else {
        f->hour = (int)((blend__wall_ms() / 3600000) % 24);
    }
}

static void flow_release(struct blend__chat_bots *bots, struct cached_flow *f)
{
    if (!f || --f->refs > 0) {
        return;
    }
    for (struct cached_flow **pp = &bots->flows; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    blend_ivr_flow_destroy(f->flow);
    blend_free(f);
}

static void bot_free(struct bot *b)
{
    blend_ivr_session_destroy(b->session);
    flow_release(b->bots, b->cached);
    blend_free(b);
}

/* Drops finished bots from the list. */
static void reap(struct blend__chat_bots *bots)
{
    for (struct bot **pp = &bots->list; *pp;) {
        struct bot *b = *pp;
        if (b->outcome != BLEND__CHAT_BOT_RUNNING) {
            *pp = b->next;
            bots->count--;
            bot_free(b);
        } else {
            pp = &b->next;
        }
    }
}

static struct bot *find(struct blend__chat_bots *bots, int64_t conversation)
{
    for (struct bot *b = bots ? bots->list : NULL; b; b = b->next) {
        if (b->conversation == conversation && conversation > 0) {
            return b;
        }
    }
    return NULL;
}

/* The newest stored version of flow `name`, compiled and validated: a reference to the cached
 * compilation (kept while a bot runs it; a conversation keeps the version it started with). */
static int flow_get(struct blend__chat_bots *bots, const char *name, struct cached_flow **out)
{
    json_t *doc = NULL;
    int rc = blend_store_find(bots->app->store, &blend_res_flows, "name", name, 0, &doc);
    if (rc) {
        return rc;
    }
    int64_t v = json_integer_value(json_object_get(doc, "version"));
    for (struct cached_flow *f = bots->flows; f; f = f->next) {
        if (f->version == v && strcmp(f->name, name) == 0) {
            json_decref(doc);
            f->refs++;
            *out = f;
            return 0;
        }
    }
    json_t *fdoc = json_pack("{s:s, s:I, s:O, s:O, s:O}", "name", name, "version",
                             (json_int_t)(v > 0 && v <= 1000000 ? v : 1), "language",
                             json_object_get(doc, "language"), "start",
                             json_object_get(doc, "start"), "nodes", json_object_get(doc, "nodes"));
    json_decref(doc);
    struct blend_field_errors *errs = blend_malloc(sizeof *errs);
    struct blend_ivr_flow *compiled = NULL;
    rc = fdoc && errs ? blend_flow_load_valid(fdoc, &compiled, errs) : BLEND_ENOMEM;
    if (rc == BLEND_EINVAL && errs->count > 0) {
        BLEND_LOG_ERROR("chat", "flow %s is invalid: %s: %s", name, errs->items[0].path,
                        errs->items[0].message);
    }
    blend_free(errs);
    json_decref(fdoc);
    struct cached_flow *f = rc == 0 ? blend_calloc(1, sizeof *f) : NULL;
    if (!f) {
        blend_ivr_flow_destroy(compiled);
        return rc ? rc : BLEND_ENOMEM;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    f->version = v;
    f->flow = compiled;
    f->refs = 1;
    f->next = bots->flows;
    bots->flows = f;
    *out = f;
    return 0;
}

/* ---- Public (chat.c) ------------------------------------------------------------------------ */

int blend__chat_bots_create(struct blend_app *app, struct blend__chat_bots **out)
{
    BLEND_ASSERT(app && out);
    struct blend__chat_bots *b = blend_calloc(1, sizeof *b);
    if (!b) {
        return BLEND_ENOMEM;
    }
    b->app = app;
    *out = b;
    return 0;
}

void blend__chat_bots_destroy(struct blend__chat_bots *bots)
{
    if (!bots) {
        return;
    }
    while (bots->list) {
        struct bot *b = bots->list;
        bots->list = b->next;
        bot_free(b);
    }
    BLEND_ASSERT(bots->flows == NULL); /* every cached flow is held by a bot */
    blend_free(bots);
}

int blend__chat_bots_start(struct blend__chat_bots *bots, const struct blend__chat_bot_info *info,
                           enum blend__chat_bot_outcome *outcome)
{
    BLEND_ASSERT(bots && info && outcome && info->conversation > 0);
    if (bots->count >= BLEND__CHAT_BOTS_MAX) {
        return BLEND_ELIMIT;
    }
    struct bot *b = blend_calloc(1, sizeof *b);
    if (!b) {
        return BLEND_ENOMEM;
    }
    b->bots = bots;
    int rc = flow_get(bots, info->flow, &b->cached);
    rc = rc ? rc : blend_ivr_session_create(b->cached->flow, &b->session);
    if (rc) {
        flow_release(bots, b->cached);
        blend_free(b);
        return rc;
    }
    b->flow = b->cached->flow;
    b->version = b->cached->version;
    b->conversation = info->conversation;
    b->contact = info->contact;
    snprintf(b->flow_name, sizeof b->flow_name, "%s", info->flow);
    snprintf(b->queue, sizeof b->queue, "%s", info->queue);
    snprintf(b->calendar, sizeof b->calendar, "%s", info->calendar ? info->calendar : "");
    (void)blend_ivr_session_var_set(b->session, "contact.known", info->contact > 0 ? "yes" : "no");
    if (info->name && info->name[0]) {
        (void)blend_ivr_session_var_set(b->session, "contact.name", info->name);
    }
    b->next = bots->list;
    bots->list = b;
    bots->count++;
    struct blend_ivr_facts facts;
    facts_of(b, &facts);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .facts = &facts};
    if (info->first_text && blend_chat_is_agent_request(info->first_text, NULL)) {
        /* The first message already asks for a person: no bot at all. */
        b->outcome = BLEND__CHAT_BOT_RUNNING;
        bot_event(b, "ivr.exit", json_pack("{s:s, s:s}", "node", "", "reason", "to-agent"));
        to_queue(b, NULL, 0, NULL);
    } else {
        feed(b, &ev);
    }
    *outcome = b->outcome;
    reap(bots);
    return 0;
}

int blend__chat_bots_has(struct blend__chat_bots *bots, int64_t conversation)
{
    return find(bots, conversation) != NULL;
}

int blend__chat_bots_text(struct blend__chat_bots *bots, int64_t conversation, const char *text,
                          enum blend__chat_bot_outcome *outcome)
{
    BLEND_ASSERT(text && outcome);
    struct bot *b = find(bots, conversation);
    if (!b) {
        return BLEND_ENOENT;
    }
    const char *phrases = blend_ivr_session_var(b->session, "agent_phrases");
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_TEXT, .text = text};
    if (blend_chat_is_agent_request(text, phrases)) {
        ev.kind = BLEND_IVR_EV_TO_AGENT;
    }
    feed(b, &ev);
    *outcome = b->outcome;
    reap(bots);
    return 0;
}

int blend__chat_bots_to_agent(struct blend__chat_bots *bots, int64_t conversation,
                              enum blend__chat_bot_outcome *outcome)
{
    BLEND_ASSERT(outcome);
    struct bot *b = find(bots, conversation);
    if (!b) {
        return BLEND_ENOENT;
    }
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_TO_AGENT};
    feed(b, &ev);
    *outcome = b->outcome;
    reap(bots);
    return 0;
}

void blend__chat_bots_end(struct blend__chat_bots *bots, int64_t conversation)
{
    struct bot *b = find(bots, conversation);
    if (b) {
        bot_event(b, "ivr.exit", json_pack("{s:s, s:s}", "node", "", "reason", "visitor-ended"));
        b->outcome = BLEND__CHAT_BOT_ENDED;
        end_row(bots->app, conversation);
        reap(bots);
    }
}

int blend__chat_bots_queue(struct blend_app *app, int64_t conversation, const char *queue,
                           int64_t contact)
{
    BLEND_ASSERT(app && queue);
    return route(app, conversation, queue, contact, 0, NULL);
}

void blend__chat_bots_recover(struct blend__chat_bots *bots)
{
    struct blend_list_query q = {.limit = 100, .filter_field = "state", .filter_value = "new"};
    for (int pages = 0; pages < 1000; pages++) {
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(bots->app->store, &blend_res_interactions, &q, &items, &next) != 0) {
            return;
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *ch = json_string_value(json_object_get(it, "channel"));
            const char *queue = json_string_value(json_object_get(it, "queue"));
            int64_t id = json_integer_value(json_object_get(it, "id"));
            if (ch && strcmp(ch, "chat") == 0 && queue && !find(bots, id)) {
                BLEND_LOG_INFO("chat",
                               "conversation %" PRId64 " lost its bot (restart): queued "
                               "in %s",
                               id, queue);
                (void)route(bots->app, id, queue,
                            json_integer_value(json_object_get(it, "contact")), 0, NULL);
            }
        }
        json_decref(items);
        if (!next) {
            return;
        }
        q.after_id = next;
    }
}
