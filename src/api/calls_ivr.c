/*
 * Flows on live calls: an entry point with a flow answers the call and runs the IVR engine
 * (src/engine/ivr) over it. This file is the engine's host for calls: it feeds the session the
 * caller's keys, the ends of prompts, timers, webhook answers and queue news, and carries out
 * the effects: prompts are spoken text (rendered once by the prompt service, prompts.c) or sound
 * files, played by the telephony thread; timers are one libuv timer per call; http nodes call
 * the allow-listed webhook (webclient.c); queue nodes put the call in routing as an interaction
 * and announce the caller's position and expected wait; a callback keeps the caller's place and
 * hangs up; a voicemail is recorded and becomes an interaction of its own with the audio
 * attached; survey answers are events. Every step is an event ("ivr.step", "ivr.input",
 * "ivr.exit", subject flows/<name>), so reports show where callers leave the menu.
 *
 * Invariants: a flow is compiled once per stored version and shared by the calls running it; a
 * call runs the version it started with (an edit applies to new calls). Answers that arrive late
 * (a prompt rendered after the caller pressed on, a webhook after a timeout, a call that ended)
 * carry a token of (call id, request sequence) and are dropped when stale. The session is never
 * stepped from inside its own effects: events raised while effects are carried out wait in a
 * small queue and are fed after. docs/flows.md ("Flows on calls") is the specification.
 */
#include "api/calls_int.h"
#include "api/prompts.h"
#include "api/webclient.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "media/media.h"
#include "model/flow.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Events one batch of effects may raise for the session (a refused webhook, a failed prompt). */
#define IVR_PENDING_MAX 8
/* First announcement of position and wait, after joining a queue. */
#define IVR_ANNOUNCE_FIRST_MS 1500
/* An announcement or message that could not play (another prompt was playing, the caller was
 * not in routing yet) is tried again this much later. */
#define IVR_RETRY_MS 3000
/* Request sequence bits in a token (the rest is the call id). */
#define IVR_SEQ_BITS 16

struct ivr_flow {
    struct ivr_flow *next;
    char name[BLEND_IVR_NAME_BYTES];
    int64_t version;
    struct blend_ivr_flow *flow;
    int refs;      /* calls running it, plus one while it is cached */
    int is_cached; /* the newest version seen: new calls get it */
};

struct blend__ivr {
    struct blend_calls *calls;
    struct blend_app *app;
    struct blend_prompts *prompts;
    struct blend_webclient *web;
    char http_allow[BLEND_CONFIG_URL_BYTES_MAX];
    struct ivr_flow *flows;
};

enum play_kind {
    PLAY_NONE,
    PLAY_FLOW,     /* a play / menu / collect / survey prompt: its end is the session's PLAYED */
    PLAY_ANNOUNCE, /* position and wait in queue: music resumes after */
    PLAY_GOODBYE,  /* the last words before Blend hangs up (after a callback request) */
};

struct blend__ivr_call {
    struct blend__ivr *ivr;
    uint64_t call;
    struct ivr_flow *flow;
    struct blend_ivr_session *session;
    struct blend_ivr_facts facts;
    char calendar[64];
    char queue[BLEND_IVR_NAME_BYTES]; /* the queue joined, or the entry point's */
    uv_timer_t timer;
    int64_t session_due_ms; /* 0 = none */
    uint32_t session_timer;
    int64_t announce_due_ms;
    int announce_every_s;
    int announce_ewt_min;   /* the last wait announced (never increases); -1 none */
    int64_t message_due_ms; /* the queue node's next periodic message; 0 = none */
    int32_t queue_node;     /* the queue node waited in (its messages), -1 none */
    size_t message_next;
    int64_t voicemail_due_ms;
    char voicemail_queue[BLEND_IVR_NAME_BYTES];
    uint16_t seq;
    uint16_t play_seq; /* the play waited for (prompts being fetched or playing): its first
                          request's sequence, one more per piece; 0 none */
    size_t play_parts, play_ready; /* pieces of that play, and those fetched */
    struct blend_media_prompt *play_prompts[BLEND_IVR_ANNOUNCE_PARTS_MAX];
    enum play_kind play_kind;
    uint16_t http_seq;
    uint64_t http_id;
    char http_node[BLEND_IVR_NAME_BYTES]; /* the http node waiting for its answer */
    int in_queue;
    int hung_up;                     /* Blend hung up: nothing more is sent to the call */
    int64_t contact_id;              /* the caller's contact, 0 when unknown */
    char node[BLEND_IVR_NAME_BYTES]; /* the node last entered */
    int64_t handled_interaction, handled_agent; /* for survey answers */
    struct blend_ivr_event pending[IVR_PENDING_MAX];
    struct blend_ivr_assign pending_fields[BLEND_IVR_SETS_MAX];
    size_t pending_count;
    int feeding;
};

static int64_t now_ms(struct blend__ivr *ivr)
{
    return (int64_t)uv_now(ivr->app->loop);
}

static uint64_t token_of(const struct blend__ivr_call *x, uint16_t seq)
{
    return (x->call << IVR_SEQ_BITS) | seq;
}

static struct call *call_of(struct blend__ivr *ivr, uint64_t token, uint16_t *seq)
{
    *seq = (uint16_t)(token & ((1u << IVR_SEQ_BITS) - 1));
    struct call *k = blend__calls_by_call(ivr->calls, token >> IVR_SEQ_BITS);
    return k && k->ivr ? k : NULL;
}

static uint16_t next_seq(struct blend__ivr_call *x)
{
    if (++x->seq == 0) {
        x->seq = 1;
    }
    return x->seq;
}

/* ---- Events ------------------------------------------------------------------------------- */

static void ivr_event(struct blend__ivr_call *x, const char *type, json_t *data)
{
    struct blend_calls *c = x->ivr->calls;
    struct call *k = blend__calls_by_call(c, x->call);
    char subject[96];
    snprintf(subject, sizeof subject, "flows/%s", x->flow->name);
    json_object_set_new(data, "flow", json_string(x->flow->name));
    json_object_set_new(data, "flow_version", json_integer(x->flow->version));
    json_object_set_new(data, "call", json_integer((json_int_t)x->call));
    json_object_set_new(data, "interaction_id",
                        k && k->interaction > 0 ? json_integer(k->interaction) : json_null());
    blend__app_record_event(x->ivr->app, "ivr", type, subject, data);
}

/* ---- Flows -------------------------------------------------------------------------------- */

static void flow_release(struct blend__ivr *ivr, struct ivr_flow *f)
{
    if (--f->refs > 0) {
        return;
    }
    for (struct ivr_flow **p = &ivr->flows; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            break;
        }
    }
    blend_ivr_flow_destroy(f->flow);
    blend_free(f);
}

/* Spoken texts of the flow, rendered ahead so a caller never waits for the synthesizer: in the
 * flow's language and in every language a set node switches to. */
static void prefetch(struct blend__ivr *ivr, const struct blend_ivr_flow *flow)
{
    const char *langs[8] = {flow->language};
    size_t nl = 1;
    for (size_t i = 0; i < flow->nodes_count; i++) {
        const struct blend_ivr_node *n = &flow->nodes[i];
        for (size_t j = 0; n->type == BLEND_IVR_SET && j < n->sets_count && nl < 8; j++) {
            if (strcmp(n->sets[j].var, "language") == 0) {
                langs[nl++] = n->sets[j].value;
            }
        }
    }
    for (size_t i = 0; i < flow->nodes_count; i++) {
        const struct blend_ivr_node *n = &flow->nodes[i];
        const char *texts[BLEND_IVR_QUESTIONS_MAX + BLEND_IVR_MESSAGES_MAX + 1];
        size_t nt = 0;
        for (size_t m = 0; m < n->messages_count; m++) {
            texts[nt++] = n->messages[m];
        }
        if (n->text[0] && !strchr(n->text, '{')) {
            texts[nt++] = n->text;
        }
        if (n->language[0] && nt > 0) {
            /* A node with its own language is spoken only in it. */
            (void)blend__prompts_prefetch(ivr->prompts, n->language, n->text);
            continue;
        }
        for (size_t q = 0; q < n->questions_count; q++) {
            texts[nt++] = n->questions[q].prompt;
        }
        for (size_t t = 0; t < nt; t++) {
            for (size_t l = 0; l < nl; l++) {
                (void)blend__prompts_prefetch(ivr->prompts, langs[l], texts[t]);
            }
        }
    }
}

/* The newest stored version of the flow `name`, compiled (a reference for the caller). */
static int flow_get(struct blend__ivr *ivr, const char *name, struct ivr_flow **out)
{
    json_t *doc;
    int rc = blend_store_find(ivr->app->store, &blend_res_flows, "name", name, 0, &doc);
    if (rc) {
        return rc;
    }
    int64_t version = json_integer_value(json_object_get(doc, "version"));
    struct ivr_flow *f = ivr->flows;
    while (f && !(strcmp(f->name, name) == 0 && f->version == version)) {
        f = f->next;
    }
    if (f) {
        json_decref(doc);
        f->refs++;
        *out = f;
        return 0;
    }
    json_t *fdoc = json_pack("{s:s, s:I, s:O, s:O, s:O}", "name", name, "version",
                             (json_int_t)(version > 0 && version <= 1000000 ? version : 1),
                             "language", json_object_get(doc, "language"), "start",
                             json_object_get(doc, "start"), "nodes", json_object_get(doc, "nodes"));
    json_decref(doc);
    if (!fdoc) {
        return BLEND_ENOMEM;
    }
    struct blend_field_errors *errs = blend_malloc(sizeof *errs);
    struct blend_ivr_flow *compiled = NULL;
    rc = errs ? blend_flow_load_valid(fdoc, &compiled, errs) : BLEND_ENOMEM;
    if (rc == BLEND_EINVAL && errs->count > 0) {
        BLEND_LOG_ERROR("ivr", "flow %s version %" PRId64 " is invalid: %s: %s", name, version,
                        errs->items[0].path, errs->items[0].message);
    }
    blend_free(errs);
    json_decref(fdoc);
    if (rc) {
        return rc;
    }
    f = blend_calloc(1, sizeof *f);
    if (!f) {
        blend_ivr_flow_destroy(compiled);
        return BLEND_ENOMEM;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    f->version = version;
    f->flow = compiled;
    f->refs = 2; /* the cache's and the caller's */
    /* An older version leaves the cache (at most one is cached per name); calls running it
     * keep it alive until they end. */
    for (struct ivr_flow *o = ivr->flows; o; o = o->next) {
        if (strcmp(o->name, name) == 0 && o->is_cached) {
            o->is_cached = 0;
            flow_release(ivr, o);
            break;
        }
    }
    f->is_cached = 1;
    f->next = ivr->flows;
    ivr->flows = f;
    prefetch(ivr, compiled);
    *out = f;
    return 0;
}

/* ---- Facts and prompts --------------------------------------------------------------------- */

static void facts_refresh(struct blend__ivr_call *x)
{
    struct blend__ivr *ivr = x->ivr;
    struct blend__open_state st;
    if (x->calendar[0] && blend__calendar_now(ivr->app, x->calendar, blend__wall_ms(), &st) == 0) {
        x->facts.calendar = st.state == BLEND_CALENDAR_OPEN      ? BLEND_IVR_CAL_OPEN
                            : st.state == BLEND_CALENDAR_HOLIDAY ? BLEND_IVR_CAL_HOLIDAY
                                                                 : BLEND_IVR_CAL_CLOSED;
        x->facts.hour = st.hour;
    } else {
        x->facts.calendar = 0;
        x->facts.hour = (int)((blend__wall_ms() / 3600000) % 24);
    }
    const char *q = x->session ? blend_ivr_session_var(x->session, "queue") : NULL;
    q = q ? q : x->queue;
    json_t *qdoc = NULL;
    x->facts.ewt_s = x->facts.waiting = x->facts.agents_ready = 0;
    if (q[0] && blend_store_find(ivr->app->store, &blend_res_queues, "name", q, 0, &qdoc) == 0) {
        json_t *stats = blend__routing_queue_stats(ivr->app->routing,
                                                   json_integer_value(json_object_get(qdoc, "id")));
        if (stats) {
            x->facts.ewt_s = (int)json_number_value(json_object_get(stats, "ewt_s"));
            x->facts.waiting = (int)json_integer_value(json_object_get(stats, "waiting"));
            x->facts.agents_ready =
                (int)json_integer_value(json_object_get(json_object_get(stats, "agents"), "ready"));
            json_decref(stats);
        }
        json_decref(qdoc);
    }
}

/* A value for {name} in a prompt or URL: a variable of the session, else a fact. */
static const char *lookup(const struct blend__ivr_call *x, const char *name, char *buf, size_t len)
{
    const char *v = x->session ? blend_ivr_session_var(x->session, name) : NULL;
    if (v) {
        return v;
    }
    if (strcmp(name, "caller") == 0) {
        return x->facts.caller;
    }
    const char *const names[] = {"hour", "ewt_s", "waiting", "agents_ready"};
    const int values[] = {x->facts.hour, x->facts.ewt_s, x->facts.waiting, x->facts.agents_ready};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            snprintf(buf, len, "%d", values[i]);
            return buf;
        }
    }
    return "";
}

/* Copies `in` to out replacing each {name} by its value (URL-encoded by libcurl when is_url).
 * Returns 0 or BLEND_ELIMIT when the result does not fit. */
static int expand(const struct blend__ivr_call *x, const char *in, int is_url, char *out,
                  size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close || close - p - 1 <= 0 || close - p - 1 >= BLEND_IVR_NAME_BYTES) {
            if (o + 1 >= cap) {
                return BLEND_ELIMIT;
            }
            out[o++] = *p++;
            continue;
        }
        char name[BLEND_IVR_NAME_BYTES], buf[32];
        memcpy(name, p + 1, (size_t)(close - p - 1));
        name[close - p - 1] = '\0';
        const char *v = lookup(x, name, buf, sizeof buf);
        char *escaped = is_url ? curl_easy_escape(NULL, v, 0) : NULL; /* RFC 3986 unreserved */
        if (is_url && !escaped) {
            return BLEND_ENOMEM;
        }
        size_t n = strlen(escaped ? escaped : v);
        if (o + n >= cap) {
            curl_free(escaped);
            return BLEND_ELIMIT;
        }
        memcpy(out + o, escaped ? escaped : v, n);
        o += n;
        curl_free(escaped);
        p = close + 1;
    }
    out[o] = '\0';
    return 0;
}

static const char *session_language(const struct blend__ivr_call *x)
{
    const char *l = x->session ? blend_ivr_session_var(x->session, "language") : NULL;
    return l ? l : x->flow->flow->language;
}

static void on_prompt(void *arg, uint64_t token, int rc, struct blend_media_prompt *p);

/* Forgets the play waited for: the pieces fetched so far are released. */
static void play_reset(struct blend__ivr_call *x)
{
    for (size_t i = 0; i < BLEND_IVR_ANNOUNCE_PARTS_MAX; i++) {
        blend_media_prompt_free(x->play_prompts[i]);
        x->play_prompts[i] = NULL;
    }
    x->play_seq = 0;
    x->play_parts = x->play_ready = 0;
    x->play_kind = PLAY_NONE;
}

/* Asks for the pieces of one play (texts in a language, or one file) and plays them in order
 * once they are all ready; the play's tag is the first piece's request sequence. */
static void play_pieces(struct blend__ivr_call *x, enum play_kind kind, const char *const *texts,
                        size_t count, const char *file, const char *language)
{
    BLEND_ASSERT(count >= 1 && count <= BLEND_IVR_ANNOUNCE_PARTS_MAX);
    play_reset(x);
    if (x->seq > UINT16_MAX - BLEND_IVR_ANNOUNCE_PARTS_MAX - 1) {
        x->seq = 0; /* the pieces' sequences never wrap through 0 */
    }
    uint16_t first = next_seq(x);
    for (size_t i = 1; i < count; i++) {
        (void)next_seq(x);
    }
    x->play_seq = first;
    x->play_parts = count;
    x->play_kind = kind;
    for (size_t i = 0; i < count && x->play_seq == first; i++) {
        uint16_t seq = (uint16_t)(first + i);
        int rc =
            file ? blend__prompts_file(x->ivr->prompts, file, on_prompt, x->ivr, token_of(x, seq))
                 : blend__prompts_text(x->ivr->prompts, language, texts[i], on_prompt, x->ivr,
                                       token_of(x, seq));
        if (rc) {
            /* Answered like a failed render: the callback path handles both. */
            BLEND_LOG_WARN("ivr", "call %" PRIu64 ": prompt not requested: %s", x->call,
                           blend_strerror(rc));
            on_prompt(x->ivr, token_of(x, seq), rc, NULL);
        }
    }
}

static void play(struct blend__ivr_call *x, enum play_kind kind, const char *text, const char *file,
                 const char *language)
{
    play_pieces(x, kind, &text, 1, file, language);
}

/* ---- Feeding the session ------------------------------------------------------------------ */

static void apply(struct blend__ivr_call *x, const struct blend_ivr_effects *fx);

static void push(struct blend__ivr_call *x, const struct blend_ivr_event *ev)
{
    if (x->pending_count < IVR_PENDING_MAX) {
        x->pending[x->pending_count++] = *ev;
    } else {
        BLEND_LOG_ERROR("ivr", "call %" PRIu64 ": event dropped (queue full)", x->call);
    }
}

/* A key the flow took (it moved on, or gathered the key) ends the prompt playing for it, unless
 * the same effects play another one (which replaces it anyway): keys interrupt prompts. */
static void barge_in(struct blend__ivr_call *x, const struct blend_ivr_effects *fx)
{
    int took = 0;
    for (size_t i = 0; i < fx->count; i++) {
        enum blend_ivr_effect_kind k = fx->items[i].kind;
        if (k == BLEND_IVR_FX_PLAY) {
            return;
        }
        took |= k == BLEND_IVR_FX_STEP || k == BLEND_IVR_FX_INPUT;
    }
    if (took && x->play_kind == PLAY_FLOW && x->play_seq) {
        play_reset(x);
        (void)blend_sip_call_play_stop(x->ivr->calls->sip, x->call);
    }
}

/* Steps the session with ev, then with every event its effects raised, in order. */
static void feed(struct blend__ivr_call *x, const struct blend_ivr_event *ev)
{
    push(x, ev);
    if (x->feeding) {
        return;
    }
    x->feeding = 1;
    struct blend_ivr_effects *fx = blend_malloc(sizeof *fx);
    while (x->pending_count > 0 && x->session && !blend_ivr_session_is_ended(x->session)) {
        struct blend_ivr_event e = x->pending[0];
        memmove(x->pending, x->pending + 1, --x->pending_count * sizeof x->pending[0]);
        e.now_ms = now_ms(x->ivr);
        facts_refresh(x);
        e.facts = &x->facts;
        if (!fx) {
            BLEND_LOG_ERROR("ivr", "call %" PRIu64 ": no memory for the flow", x->call);
            break;
        }
        if (blend_ivr_session_step(x->session, &e, fx) == 0) {
            if (e.kind == BLEND_IVR_EV_DIGIT) {
                barge_in(x, fx);
            }
            apply(x, fx);
        }
    }
    x->pending_count = 0;
    blend_free(fx);
    x->feeding = 0;
}

static void rearm(struct blend__ivr_call *x);

/* Tells a waiting caller their position and expected wait. Returns 0 when it could not now (the
 * interaction is not in routing yet, or another prompt plays), 1 otherwise. */
static int announce(struct blend__ivr_call *x, const struct call *k)
{
    struct blend_acd_contact_view v;
    if (k->interaction <= 0 ||
        blend_acd_contact(blend__routing_acd(x->ivr->app->routing), k->interaction, &v) != 0) {
        return 0;
    }
    if (v.state != BLEND_CONTACT_WAITING) { /* offered: it is about to be answered */
        return 1;
    }
    if (x->play_kind != PLAY_NONE && x->play_kind != PLAY_ANNOUNCE) {
        return 0;
    }
    int min = blend_ivr_wait_minutes(v.ewt_ms, x->announce_ewt_min);
    x->announce_ewt_min = min;
    int pos = (int)v.position;
    struct blend_ivr_announcement an;
    if (blend_ivr_announce(session_language(x), pos, min, &an) != 0) {
        return 1;
    }
    const char *texts[BLEND_IVR_ANNOUNCE_PARTS_MAX];
    for (size_t i = 0; i < an.count; i++) {
        texts[i] = an.parts[i];
    }
    ivr_event(x, "ivr.announce", json_pack("{s:i, s:i}", "position", pos, "ewt_min", min));
    play_pieces(x, PLAY_ANNOUNCE, texts, an.count, NULL, session_language(x));
    return 1;
}

static void on_timer(uv_timer_t *t)
{
    struct blend__ivr_call *x = t->data;
    int64_t now = now_ms(x->ivr);
    struct call *k = blend__calls_by_call(x->ivr->calls, x->call);
    if (!k || k->ivr != x) {
        return;
    }
    if (x->voicemail_due_ms && x->voicemail_due_ms <= now) {
        x->voicemail_due_ms = 0;
        (void)blend_sip_call_record_stop(x->ivr->calls->sip, x->call);
    }
    if (x->announce_due_ms && x->announce_due_ms <= now) {
        x->announce_due_ms = 0;
        if (x->in_queue && !k->connected) {
            /* Soon again when the caller is not in routing yet or hears another prompt. */
            x->announce_due_ms =
                now + (announce(x, k) ? (int64_t)x->announce_every_s * 1000 : IVR_RETRY_MS);
        }
    }
    if (x->message_due_ms && x->message_due_ms <= now) {
        x->message_due_ms = 0;
        const struct blend_ivr_node *n =
            x->queue_node >= 0 ? &x->flow->flow->nodes[x->queue_node] : NULL;
        if (x->in_queue && !k->connected && n && n->messages_count > 0) {
            if (x->play_kind == PLAY_NONE) {
                const char *text = n->messages[x->message_next++ % n->messages_count];
                ivr_event(x, "ivr.message", json_pack("{s:s, s:s}", "node", n->name, "text", text));
                play(x, PLAY_ANNOUNCE, text, NULL, session_language(x));
                x->message_due_ms = now + (int64_t)n->message_every_s * 1000;
            } else {
                x->message_due_ms = now + IVR_RETRY_MS; /* after the prompt playing now */
            }
        }
    }
    if (x->session_due_ms && x->session_due_ms <= now) {
        x->session_due_ms = 0;
        struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_TIMER, .timer_id = x->session_timer};
        feed(x, &ev);
    }
    k = blend__calls_by_call(x->ivr->calls, x->call);
    if (k && k->ivr == x) {
        rearm(x);
    }
}

static void rearm(struct blend__ivr_call *x)
{
    int64_t due = 0;
    const int64_t dues[] = {x->session_due_ms, x->announce_due_ms, x->voicemail_due_ms,
                            x->message_due_ms};
    for (size_t i = 0; i < 4; i++) {
        if (dues[i] && (!due || dues[i] < due)) {
            due = dues[i];
        }
    }
    if (!due) {
        uv_timer_stop(&x->timer);
        return;
    }
    int64_t wait = due - now_ms(x->ivr);
    uv_timer_start(&x->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void on_prompt(void *arg, uint64_t token, int rc, struct blend_media_prompt *p)
{
    struct blend__ivr *ivr = arg;
    uint16_t seq;
    struct call *k = call_of(ivr, token, &seq);
    struct blend__ivr_call *x = k ? k->ivr : NULL;
    size_t piece = x ? (uint16_t)(seq - x->play_seq) : 0;
    if (!x || !x->play_seq || piece >= x->play_parts || x->hung_up) {
        blend_media_prompt_free(p);
        return; /* stale: the caller moved on, or the call ended */
    }
    uint16_t tag = x->play_seq;
    if (rc == 0) {
        /* The service answers each request once, in any order. */
        BLEND_ASSERT(!x->play_prompts[piece]);
        x->play_prompts[piece] = p;
        x->play_ready++;
        if (x->play_ready < x->play_parts) {
            return;
        }
        rc = blend_sip_call_play(ivr->calls->sip, x->call, x->play_prompts, x->play_parts, tag);
        for (size_t i = 0; i < x->play_parts; i++) {
            blend_media_prompt_free(x->play_prompts[i]); /* the thread holds its own */
            x->play_prompts[i] = NULL;
        }
        x->play_ready = 0;
        if (rc == 0) {
            return; /* PLAY_DONE follows */
        }
    }
    BLEND_LOG_WARN("ivr", "call %" PRIu64 ": prompt not played: %s", x->call, blend_strerror(rc));
    ivr_event(x, "ivr.error",
              json_pack("{s:s, s:s}", "what", "prompt", "error", blend_strerror(rc)));
    /* The flow goes on as if it had been heard: a caller is never stuck on a missing prompt. */
    for (size_t i = 0; i < BLEND_IVR_ANNOUNCE_PARTS_MAX; i++) {
        blend_media_prompt_free(x->play_prompts[i]);
        x->play_prompts[i] = NULL;
    }
    x->play_ready = 0;
    x->play_parts = 0; /* later pieces of this play are stale now */
    struct blend_sip_event done = {
        .kind = BLEND_SIP_EV_PLAY_DONE, .call = x->call, .play_tag = tag};
    snprintf(done.cause, sizeof done.cause, "done");
    (void)blend__ivr_on_sip(ivr->calls, k, &done);
}

static void on_http(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct blend__ivr *ivr = arg;
    uint16_t seq;
    struct call *k = call_of(ivr, token, &seq);
    struct blend__ivr_call *x = k ? k->ivr : NULL;
    if (!x || seq != x->http_seq) {
        return;
    }
    x->http_seq = 0;
    x->http_id = 0;
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_HTTP_RESULT};
    int ok = rc == 0 && status >= 200 && status < 300;
    int32_t idx = blend_ivr_flow_find(x->flow->flow, x->http_node);
    const struct blend_ivr_node *n = idx >= 0 ? &x->flow->flow->nodes[idx] : NULL;
    if (ok && n && n->sets_count > 0) {
        /* The node's `vars` name the fields read from the answer; an answer the flow cannot
         * read is a failure. */
        size_t count = 0;
        if (blend_flow_webhook_fields(body, len, n->sets, n->sets_count, x->pending_fields,
                                      &count) == 0) {
            ev.fields = x->pending_fields;
            ev.fields_count = count;
        } else {
            ok = 0;
        }
    }
    ev.is_ok = ok;
    ivr_event(x, "ivr.http", json_pack("{s:i, s:i, s:b}", "status", status, "error", rc, "ok", ok));
    feed(x, &ev);
}

/* ---- Effects ------------------------------------------------------------------------------ */

static void hang_up(struct blend__ivr_call *x, const char *cause)
{
    if (!x->hung_up) {
        x->hung_up = 1;
        (void)blend_sip_call_hangup(x->ivr->calls->sip, x->call, cause);
    }
}

static void join_queue(struct blend__ivr_call *x, struct call *k, const struct blend_ivr_effect *e)
{
    snprintf(x->queue, sizeof x->queue, "%s", e->queue);
    x->in_queue = 1;
    x->announce_every_s = e->announce_every_s;
    x->announce_ewt_min = -1;
    x->announce_due_ms = e->announce_every_s > 0 ? now_ms(x->ivr) + IVR_ANNOUNCE_FIRST_MS : 0;
    x->queue_node = blend_ivr_flow_find(x->flow->flow, e->node);
    x->message_next = 0;
    x->message_due_ms = 0;
    if (x->queue_node >= 0 && x->flow->flow->nodes[x->queue_node].message_every_s > 0) {
        x->message_due_ms =
            now_ms(x->ivr) + (int64_t)x->flow->flow->nodes[x->queue_node].message_every_s * 1000;
    }
    (void)blend_sip_call_moh(x->ivr->calls->sip, x->call, 1);
    const char *lang = session_language(x);
    snprintf(k->language, sizeof k->language, "%s", lang);
    json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "channel", "voice", "direction",
                             "inbound", "queue", e->queue, "priority",
                             e->value < 0      ? 0
                             : e->value > 1000 ? 1000
                                               : e->value,
                             "address", k->caller, "language", lang);
    if (body && x->contact_id > 0) {
        json_object_set_new(body, "contact", json_integer(x->contact_id));
    }
    /* The flow's `skills` variable: the caller's own required skills (docs/flows.md). A value
     * that does not parse (set from a webhook's answer or a caller's input: literal values are
     * checked when the flow is saved) is logged and the caller joins without own skills. */
    _Static_assert(BLEND_IVR_SKILLS_MAX == BLEND_ACD_QUEUE_SKILLS_MAX,
                   "the variable holds what routing takes");
    struct blend_ivr_skill sk[BLEND_IVR_SKILLS_MAX];
    size_t sk_count = 0;
    if (blend_ivr_skills_parse(e->skills ? e->skills : "", sk, &sk_count) != 0) {
        BLEND_LOG_WARN("ivr", "call %" PRIu64 ": skills \"%.64s\" malformed: joins %s without",
                       x->call, e->skills, e->queue);
        sk_count = 0;
    }
    if (body && sk_count > 0) {
        json_t *own = json_object();
        for (size_t i = 0; own && i < sk_count; i++) {
            json_object_set_new(own, sk[i].name, json_integer(sk[i].min_proficiency));
        }
        if (own) {
            json_object_set_new(body, "skills", own);
        }
    }
    int rc = body ? blend__calls_arrive(x->ivr->calls, k, body) : BLEND_ENOMEM;
    if (rc) {
        BLEND_LOG_WARN("ivr", "call %" PRIu64 " could not join %s: %s", x->call, e->queue,
                       blend_strerror(rc));
        x->in_queue = 0;
        struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_QUEUE,
                                     .queue_event = BLEND_IVR_QUEUE_OVERFLOW};
        push(x, &ev);
    }
}

static void leave_queue(struct blend__ivr_call *x, struct call *k)
{
    x->in_queue = 0;
    x->announce_due_ms = 0;
    x->message_due_ms = 0;
    if (k->interaction > 0 && !k->connected) {
        int64_t id = k->interaction;
        k->interaction = 0;
        k->state = CALL_IVR;
        blend__calls_step(x->ivr->calls, BLEND_ACD_EV_CONTACT_ABANDON, id, 0);
    }
}

static void callback(struct blend__ivr_call *x, struct call *k)
{
    x->in_queue = 0;
    x->announce_due_ms = 0;
    x->message_due_ms = 0;
    if (k->interaction > 0) {
        struct blend_acd_event ev = {.type = BLEND_ACD_EV_CALLBACK_REQUEST};
        ev.u.contact.contact = k->interaction;
        int rc = blend__routing_step_detached(x->ivr->app->routing, &ev);
        if (rc == 0) {
            k->callback_kept = 1;
            blend__calls_mark_kind(x->ivr->calls, k->interaction, "callback");
        } else {
            BLEND_LOG_WARN("ivr", "callback for interaction %" PRId64 " refused: %s",
                           k->interaction, blend_strerror(rc));
        }
    }
    const char *lang = session_language(x);
    play(x, PLAY_GOODBYE, blend_ivr_callback_text(lang), NULL, lang);
}

static void voicemail(struct blend__ivr_call *x, const struct blend_ivr_effect *e)
{
    struct blend_calls *c = x->ivr->calls;
    char path[4300];
    snprintf(path, sizeof path, "%s/vm-%" PRIu64 "-%" PRId64 ".wav", blend__calls_recordings_dir(c),
             x->call, blend__wall_ms());
    snprintf(x->voicemail_queue, sizeof x->voicemail_queue, "%s", e->queue);
    struct call *k = blend__calls_by_call(c, x->call);
    int rc = blend_sip_call_voicemail_start(c->sip, x->call, path);
    if (rc == 0 && k) {
        k->voicemail = 1;
        x->voicemail_due_ms = now_ms(x->ivr) + (int64_t)(e->value > 0 ? e->value : 120) * 1000;
        return;
    }
    BLEND_LOG_WARN("ivr", "call %" PRIu64 ": voicemail not recorded: %s", x->call,
                   blend_strerror(rc));
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_RECORDED};
    push(x, &ev);
}

static void http(struct blend__ivr_call *x, const struct blend_ivr_effect *e)
{
    char url[1024];
    struct blend_ivr_event fail = {.kind = BLEND_IVR_EV_HTTP_RESULT, .is_ok = 0};
    if (expand(x, e->text, 1, url, sizeof url) != 0 ||
        !blend__webclient_url_allowed(x->ivr->http_allow, url)) {
        ivr_event(x, "ivr.http",
                  json_pack("{s:s, s:b, s:s}", "node", e->node, "ok", 0, "error",
                            "url not allowed (ivr.http_allow)"));
        push(x, &fail);
        return;
    }
    x->http_seq = next_seq(x);
    /* The variables the flow has set so far (collected digits included: a self-service
     * webhook is where an account number goes). */
    json_t *vars = json_object();
    const struct blend_ivr_flow *fl = x->flow->flow;
    for (size_t i = 0; i < fl->nodes_count; i++) {
        const struct blend_ivr_node *n = &fl->nodes[i];
        const char *names[BLEND_IVR_SETS_MAX + 1];
        size_t nn = 0;
        if (n->type == BLEND_IVR_COLLECT) {
            names[nn++] = n->var;
        }
        for (size_t j = 0;
             (n->type == BLEND_IVR_SET || n->type == BLEND_IVR_HTTP) && j < n->sets_count; j++) {
            names[nn++] = n->sets[j].var;
        }
        for (size_t j = 0; j < nn; j++) {
            const char *v = blend_ivr_session_var(x->session, names[j]);
            if (v) {
                json_object_set_new(vars, names[j], json_string(v));
            }
        }
    }
    json_t *body =
        json_pack("{s:s, s:I, s:s, s:s, s:o}", "flow", x->flow->name, "call", (json_int_t)x->call,
                  "node", e->node, "caller", x->facts.caller, "vars", vars);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct blend_webclient_request r = {.method = "POST",
                                        .url = url,
                                        .content_type = "application/json",
                                        .body = text,
                                        .body_len = text ? strlen(text) : 0,
                                        .timeout_ms = e->timeout_ms > 0 ? e->timeout_ms : 2000};
    snprintf(x->http_node, sizeof x->http_node, "%s", e->node);
    int rc = text ? blend__webclient_send(x->ivr->web, &r, on_http, x->ivr,
                                          token_of(x, x->http_seq), &x->http_id)
                  : BLEND_ENOMEM;
    blend_free(text);
    if (rc) {
        x->http_seq = 0;
        push(x, &fail);
    }
}

static void apply(struct blend__ivr_call *x, const struct blend_ivr_effects *fx)
{
    struct blend_calls *c = x->ivr->calls;
    for (size_t i = 0; i < fx->count; i++) {
        const struct blend_ivr_effect *e = &fx->items[i];
        struct call *k = blend__calls_by_call(c, x->call);
        if (!k) {
            return;
        }
        char text[BLEND_IVR_TEXT_BYTES * 2];
        char digit[2] = {e->digit, '\0'};
        switch (e->kind) {
        case BLEND_IVR_FX_STEP:
            snprintf(x->node, sizeof x->node, "%s", e->node);
            ivr_event(x, "ivr.step", json_pack("{s:s}", "node", e->node));
            break;
        case BLEND_IVR_FX_INPUT:
            ivr_event(x, "ivr.input", json_pack("{s:s, s:s}", "node", e->node, "digit", digit));
            break;
        case BLEND_IVR_FX_EXIT:
            ivr_event(x, "ivr.exit", json_pack("{s:s, s:s}", "node", e->node, "reason", e->reason));
            break;
        case BLEND_IVR_FX_PLAY:
            if (e->file) {
                play(x, PLAY_FLOW, NULL, e->file, NULL);
            } else if (expand(x, e->text ? e->text : "", 0, text, sizeof text) == 0) {
                play(x, PLAY_FLOW, text, NULL, e->language);
            } else {
                play(x, PLAY_FLOW, e->text, NULL, e->language);
            }
            break;
        case BLEND_IVR_FX_ARM_TIMER:
            x->session_timer = e->timer_id;
            x->session_due_ms = e->due_ms > 0 ? e->due_ms : 1;
            break;
        case BLEND_IVR_FX_HTTP:
            http(x, e);
            break;
        case BLEND_IVR_FX_JOIN_QUEUE:
            join_queue(x, k, e);
            break;
        case BLEND_IVR_FX_LEAVE_QUEUE:
            leave_queue(x, k);
            break;
        case BLEND_IVR_FX_CALLBACK:
            callback(x, k);
            break;
        case BLEND_IVR_FX_RECORD_VOICEMAIL:
            voicemail(x, e);
            break;
        case BLEND_IVR_FX_TRANSFER:
            if (blend_sip_call_transfer_number(c->sip, x->call, e->text) == 0) {
                k->external = 1;
            } else {
                hang_up(x, "transfer-failed");
            }
            break;
        case BLEND_IVR_FX_SURVEY_ANSWER:
            ivr_event(x, "survey.answer",
                      json_pack("{s:s, s:i, s:o, s:o}", "question", e->text, "value", e->value,
                                "answered_interaction",
                                x->handled_interaction ? json_integer(x->handled_interaction)
                                                       : json_null(),
                                "agent_id",
                                x->handled_agent ? json_integer(x->handled_agent) : json_null()));
            break;
        case BLEND_IVR_FX_HANGUP:
            hang_up(x, "ivr");
            break;
        }
    }
    rearm(x);
}

/* ---- The calls' side ------------------------------------------------------------------------ */

/* What the CRM knows of the caller, looked up by the caller's number before the flow starts:
 * contact.known ("yes"/"no"), contact.id, contact.name, contact.language and each attribute
 * that is a string, number or boolean as contact.<name>. */
static void contact_vars(struct blend__ivr_call *x)
{
    json_t *match = json_pack("{s:s, s:s}", "kind", "phone", "value", x->facts.caller);
    json_t *doc = NULL;
    int rc = match && x->facts.caller[0]
                 ? blend_store_find_by_child(x->ivr->app->store, &blend_res_contacts, "identities",
                                             match, 0, &doc)
                 : BLEND_ENOENT;
    json_decref(match);
    (void)blend_ivr_session_var_set(x->session, "contact.known", rc == 0 ? "yes" : "no");
    if (rc) {
        return;
    }
    char buf[BLEND_IVR_VALUE_BYTES];
    x->contact_id = json_integer_value(json_object_get(doc, "id"));
    snprintf(buf, sizeof buf, "%" PRId64, x->contact_id);
    (void)blend_ivr_session_var_set(x->session, "contact.id", buf);
    const char *keys[] = {"name", "language"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(doc, keys[i]));
        char name[BLEND_IVR_NAME_BYTES];
        snprintf(name, sizeof name, "contact.%s", keys[i]);
        if (v) {
            (void)blend_ivr_session_var_set(x->session, name, v);
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(doc, "attributes"), key, val)
    {
        char name[BLEND_IVR_NAME_BYTES];
        int n = snprintf(name, sizeof name, "contact.%s", key);
        if (n < 0 || (size_t)n >= sizeof name) {
            continue;
        }
        if (json_is_string(val)) {
            snprintf(buf, sizeof buf, "%s", json_string_value(val));
        } else if (json_is_integer(val)) {
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
        } else if (json_is_boolean(val)) {
            snprintf(buf, sizeof buf, "%s", json_is_true(val) ? "true" : "false");
        } else {
            continue;
        }
        (void)blend_ivr_session_var_set(x->session, name, buf);
    }
    json_decref(doc);
}

int blend__ivr_start(struct blend_calls *c, struct call *k, const char *flow, const char *calendar,
                     const char *queue)
{
    struct blend__ivr *ivr = c->ivr;
    if (!ivr) {
        return BLEND_ESTATE;
    }
    struct ivr_flow *f;
    int rc = flow_get(ivr, flow, &f);
    if (rc) {
        return rc;
    }
    struct blend__ivr_call *x = blend_calloc(1, sizeof *x);
    rc = x ? blend_ivr_session_create(f->flow, &x->session) : BLEND_ENOMEM;
    if (rc) {
        blend_free(x);
        flow_release(ivr, f);
        return rc;
    }
    x->ivr = ivr;
    x->call = k->call;
    x->flow = f;
    x->announce_ewt_min = -1;
    x->queue_node = -1;
    snprintf(x->facts.caller, sizeof x->facts.caller, "%s", k->caller);
    snprintf(x->calendar, sizeof x->calendar, "%s", calendar ? calendar : "");
    snprintf(x->queue, sizeof x->queue, "%s", queue ? queue : "");
    uv_timer_init(ivr->app->loop, &x->timer);
    x->timer.data = x;
    contact_vars(x);
    k->ivr = x;
    k->state = CALL_IVR;
    rc = blend_sip_call_answer(c->sip, k->call);
    if (rc) {
        k->ivr = NULL;
        blend__ivr_stop(c, k, "answer-failed");
        return rc;
    }
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START};
    feed(x, &ev);
    return 0;
}

int blend__ivr_on_sip(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev)
{
    struct blend__ivr_call *x = k->ivr;
    if (!x) {
        return 0;
    }
    int live = x->session && !blend_ivr_session_is_ended(x->session);
    switch (ev->kind) {
    case BLEND_SIP_EV_PLAY_DONE:
        if (!x->play_seq || ev->play_tag != x->play_seq) {
            return 1; /* an older play, replaced */
        }
        enum play_kind kind = x->play_kind;
        play_reset(x);
        x->play_kind = kind;
        if (x->play_kind == PLAY_GOODBYE) {
            x->play_kind = PLAY_NONE;
            hang_up(x, k->callback_kept ? "callback" : "ivr");
        } else if (x->play_kind == PLAY_FLOW && strcmp(ev->cause, "done") == 0 && live) {
            x->play_kind = PLAY_NONE;
            struct blend_ivr_event pe = {.kind = BLEND_IVR_EV_PLAYED};
            feed(x, &pe);
        } else {
            x->play_kind = PLAY_NONE;
        }
        return 1;
    case BLEND_SIP_EV_DTMF:
        if (strcmp(ev->leg, "customer") != 0) {
            return 0;
        }
        if (k->voicemail) {
            if (ev->digit == '#') {
                x->voicemail_due_ms = 0;
                (void)blend_sip_call_record_stop(c->sip, x->call);
            }
            return 1;
        }
        if (!live || blend_ivr_session_is_connected(x->session)) {
            return 0; /* talking with an agent: keys are the call's (call.dtmf) */
        }
        struct blend_ivr_event de = {.kind = BLEND_IVR_EV_DIGIT, .digit = ev->digit};
        feed(x, &de);
        return 1;
    case BLEND_SIP_EV_AGENT_LEFT: {
        /* The agent hung up first: the agent's part ends; the caller goes on in the flow. */
        blend__calls_record_event(c, "call.agent_left", k->interaction,
                                  json_pack("{s:I, s:I}", "interaction_id",
                                            (json_int_t)k->interaction, "agent_id",
                                            (json_int_t)ev->agent_id));
        x->handled_interaction = k->interaction;
        x->handled_agent = ev->agent_id ? ev->agent_id : k->agent;
        k->external = 1; /* routing is done with the interaction; CALL_ENDED only closes it */
        int64_t id = k->interaction, agent = k->agent;
        k->connected = 0;
        blend__calls_step(c, BLEND_ACD_EV_CONTACT_END, id, agent);
        struct blend_ivr_event qe = {.kind = BLEND_IVR_EV_QUEUE,
                                     .queue_event = BLEND_IVR_QUEUE_AGENT_LEFT};
        feed(x, &qe);
        return 1;
    }
    case BLEND_SIP_EV_RECORDING_ENDED:
        if (!k->voicemail) {
            return 0;
        }
        k->voicemail = 0;
        x->voicemail_due_ms = 0;
        blend__calls_voicemail(c, k, x->voicemail_queue, ev);
        if (live) {
            struct blend_ivr_event re = {.kind = BLEND_IVR_EV_RECORDED};
            feed(x, &re);
        }
        return 1;
    default:
        return 0;
    }
}

void blend__ivr_on_connected(struct blend_calls *c, struct call *k)
{
    struct blend__ivr_call *x = k->ivr;
    if (!x || !x->session || blend_ivr_session_is_ended(x->session)) {
        return;
    }
    x->in_queue = 0;
    x->announce_due_ms = 0;
    x->message_due_ms = 0;
    play_reset(x);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_QUEUE,
                                 .queue_event = BLEND_IVR_QUEUE_ANSWERED};
    feed(x, &ev);
    if (blend_ivr_session_is_connected(x->session)) {
        (void)blend_sip_call_keep_customer(c->sip, k->call, 1);
    }
}

int blend__ivr_on_overflow(struct blend_calls *c, struct call *k)
{
    (void)c;
    struct blend__ivr_call *x = k->ivr;
    if (!x || !x->session || blend_ivr_session_is_ended(x->session)) {
        return 0;
    }
    x->in_queue = 0;
    x->announce_due_ms = 0;
    x->message_due_ms = 0;
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_QUEUE,
                                 .queue_event = BLEND_IVR_QUEUE_OVERFLOW};
    feed(x, &ev);
    return 1;
}

int blend__ivr_is_running(const struct call *k)
{
    return k->ivr && k->ivr->session && !blend_ivr_session_is_ended(k->ivr->session);
}

static void on_closed(uv_handle_t *h)
{
    blend_free(h->data);
}

void blend__ivr_stop(struct blend_calls *c, struct call *k, const char *reason)
{
    (void)c;
    struct blend__ivr_call *x = k->ivr;
    if (!x) {
        return;
    }
    k->ivr = NULL;
    if (reason && x->session && !blend_ivr_session_is_ended(x->session)) {
        ivr_event(x, "ivr.exit", json_pack("{s:s, s:s}", "node", x->node, "reason", reason));
    }
    if (x->http_id) {
        blend__webclient_cancel(x->ivr->web, x->http_id);
    }
    play_reset(x);
    blend_ivr_session_destroy(x->session);
    flow_release(x->ivr, x->flow);
    uv_timer_stop(&x->timer);
    uv_close((uv_handle_t *)&x->timer, on_closed);
}

int blend__ivr_create(struct blend_calls *c, struct blend__ivr **out)
{
    struct blend_app *app = c->app;
    struct blend__ivr *ivr = blend_calloc(1, sizeof *ivr);
    if (!ivr) {
        return BLEND_ENOMEM;
    }
    ivr->calls = c;
    ivr->app = app;
    snprintf(ivr->http_allow, sizeof ivr->http_allow, "%s",
             app->cfg.ivr_http_allow ? app->cfg.ivr_http_allow : "");
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/prompts",
             app->cfg.data_dir && app->cfg.data_dir[0] ? app->cfg.data_dir : ".");
    struct blend_prompts_config pc = {
        .loop = app->loop,
        .cache_dir = cache,
        .files_dir = app->cfg.ivr_prompts_dir && app->cfg.ivr_prompts_dir[0]
                         ? app->cfg.ivr_prompts_dir
                         : NULL,
        .espeak_path = app->cfg.ivr_tts_command && app->cfg.ivr_tts_command[0]
                           ? app->cfg.ivr_tts_command
                           : NULL,
        .words_per_minute = app->cfg.ivr_tts_wpm,
    };
    int rc = blend__prompts_create(&pc, &ivr->prompts);
    rc = rc ? rc : blend__webclient_create(app->loop, &ivr->web);
    if (rc) {
        blend__ivr_destroy(ivr);
        return rc;
    }
    *out = ivr;
    return 0;
}

void blend__ivr_destroy(struct blend__ivr *ivr)
{
    if (!ivr) {
        return;
    }
    /* Calls still running a flow were stopped by the caller (blend__calls_destroy). */
    while (ivr->flows) {
        struct ivr_flow *f = ivr->flows;
        ivr->flows = f->next;
        blend_ivr_flow_destroy(f->flow);
        blend_free(f);
    }
    blend__webclient_destroy(ivr->web);
    blend__prompts_destroy(ivr->prompts);
    blend_free(ivr);
}
