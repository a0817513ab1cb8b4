/*
 * The outbox of a digital channel (see outbox.h): a timer, a walk over the queued replies in id
 * order (oldest first), one send at a time, and the outcome written before the next send.
 */
#include "api/outbox.h"

#include "api/app_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "model/model.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define OUTBOX_RETRY_MAX_S 3600
#define OUTBOX_CHANNELS_MAX 4

struct blend__outbox {
    struct blend_app *app;
    uv_timer_t tick;
    int tick_live;
    char name[16];
    char channels[OUTBOX_CHANNELS_MAX][16];
    int channels_count;
    int retry_first_s, tick_ms;
    blend__outbox_send_fn send;
    void *arg;
    int busy;   /* a send, or the write of its outcome, is under way */
    int writes; /* outcome writes not answered yet */
    int closing;
};

static void look(struct blend__outbox *o);

static void maybe_free(struct blend__outbox *o)
{
    if (o->closing && !o->tick_live && o->writes == 0) {
        blend_free(o);
    }
}

static int mine(const struct blend__outbox *o, const json_t *msg)
{
    const char *ch = json_string_value(json_object_get(json_object_get(msg, "meta"), "channel"));
    for (int i = 0; ch && i < o->channels_count; i++) {
        if (strcmp(ch, o->channels[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void on_written(struct blend_write *w, void *arg)
{
    struct blend__outbox *o = arg;
    if (w->rc) {
        BLEND_LOG_ERROR(o->name, "reply %" PRId64 " state not written: %s", w->ops[0].id,
                        blend_strerror(w->rc));
    }
    blend_write_destroy(w);
    o->writes--;
    o->busy = 0;
    if (o->closing) {
        maybe_free(o);
        return;
    }
    look(o);
}

static void write_state(struct blend__outbox *o, int64_t id, json_t *patch)
{
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w && patch ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_messages, patch) : NULL;
    if (!op) {
        if (!w) {
            json_decref(patch);
        }
        blend_write_destroy(w);
        BLEND_LOG_ERROR(o->name, "reply %" PRId64 " state not written: no memory", id);
        o->busy = 0;
        return;
    }
    op->id = id;
    snprintf(w->actor, sizeof w->actor, "%s", o->name);
    o->busy = 1;
    o->writes++;
    (void)blend__app_submit(o->app, NULL, w, on_written, o);
}

void blend__outbox_done(struct blend__outbox *o, int64_t id, enum blend__outbox_outcome outcome,
                        const char *provider_id, const char *detail)
{
    BLEND_ASSERT(o);
    json_t *doc = NULL;
    int attempts = 0;
    if (blend_store_get(o->app->store, &blend_res_messages, id, 0, &doc) == 0) {
        attempts = (int)json_integer_value(json_object_get(doc, "attempts"));
        json_decref(doc);
    }
    attempts++;
    json_t *patch = NULL;
    if (outcome == BLEND__OUTBOX_SENT) {
        BLEND_LOG_INFO(o->name, "reply %" PRId64 " sent%s%s", id, detail ? ": " : "",
                       detail ? detail : "");
        patch = json_pack("{s:s, s:i}", "state", "sent", "attempts", attempts);
        if (patch && provider_id && provider_id[0] && strlen(provider_id) <= 998) {
            json_object_set_new(patch, "message_id", json_string(provider_id));
        }
    } else if (outcome == BLEND__OUTBOX_FAILED) {
        BLEND_LOG_ERROR(o->name, "reply %" PRId64 " refused for good: %s", id,
                        detail ? detail : "");
        patch = json_pack("{s:s, s:i}", "state", "failed", "attempts", attempts);
    } else {
        int64_t delay_s = OUTBOX_RETRY_MAX_S;
        if (attempts <= 12) {
            delay_s = (int64_t)o->retry_first_s << (attempts - 1);
            delay_s = delay_s > OUTBOX_RETRY_MAX_S ? OUTBOX_RETRY_MAX_S : delay_s;
        }
        char when[BLEND__ISO_BYTES];
        blend__iso_of_ms(blend__wall_ms() + delay_s * 1000, when);
        BLEND_LOG_WARN(o->name, "reply %" PRId64 " not sent (%s): retry in %" PRId64 " s", id,
                       detail ? detail : "", delay_s);
        patch = json_pack("{s:i, s:s}", "attempts", attempts, "next_attempt_at", when);
    }
    write_state(o, id, patch);
}

/* The oldest queued reply of these channels whose time has come. */
static void look(struct blend__outbox *o)
{
    if (o->busy || o->closing) {
        return;
    }
    char now[BLEND__ISO_BYTES];
    blend__wall_iso(now);
    int64_t after = 0;
    for (int pages = 0; pages < 20; pages++) {
        struct blend_list_query q = {.after_id = after,
                                     .limit = 100,
                                     .filter_field = "state",
                                     .filter_value = "queued"};
        json_t *items = NULL;
        int64_t next = 0;
        if (blend_store_list(o->app->store, &blend_res_messages, &q, &items, &next) != 0) {
            return;
        }
        size_t i;
        json_t *msg;
        json_array_foreach(items, i, msg)
        {
            const char *due = json_string_value(json_object_get(msg, "next_attempt_at"));
            if (!mine(o, msg) || (due && strcmp(due, now) > 0)) {
                continue; /* another channel's, or not yet */
            }
            int64_t id = json_integer_value(json_object_get(msg, "id"));
            int rc = o->send(o->arg, msg);
            json_decref(items);
            if (rc == 0) {
                o->busy = 1;
            } else if (rc == BLEND_EINVAL) {
                /* Unsendable as stored (no address): failed; the next one after the write. */
                blend__outbox_done(o, id, BLEND__OUTBOX_FAILED, NULL, "not sendable as stored");
            } else {
                BLEND_LOG_WARN(o->name, "reply %" PRId64 " not started: %s", id,
                               blend_strerror(rc));
            }
            return;
        }
        json_decref(items);
        if (!next) {
            return;
        }
        after = next;
    }
}

static void on_tick(uv_timer_t *t)
{
    look(t->data);
}

void blend__outbox_kick(struct blend__outbox *o)
{
    if (o && !o->closing) {
        uv_timer_start(&o->tick, on_tick, 0, (uint64_t)o->tick_ms);
    }
}

int blend__outbox_create(struct blend_app *app, const struct blend__outbox_config *cfg,
                         struct blend__outbox **out)
{
    BLEND_ASSERT(app && cfg && cfg->send && cfg->channels && out);
    struct blend__outbox *o = blend_calloc(1, sizeof *o);
    if (!o) {
        return BLEND_ENOMEM;
    }
    o->app = app;
    snprintf(o->name, sizeof o->name, "%s", cfg->name ? cfg->name : "outbox");
    for (const char *const *c = cfg->channels; *c && o->channels_count < OUTBOX_CHANNELS_MAX; c++) {
        snprintf(o->channels[o->channels_count++], sizeof o->channels[0], "%s", *c);
    }
    o->retry_first_s = cfg->retry_first_s > 0 ? cfg->retry_first_s : 5;
    o->tick_ms = cfg->tick_ms > 0 ? cfg->tick_ms : 10000;
    o->send = cfg->send;
    o->arg = cfg->arg;
    uv_timer_init(app->loop, &o->tick);
    o->tick.data = o;
    o->tick_live = 1;
    uv_timer_start(&o->tick, on_tick, 0, (uint64_t)o->tick_ms);
    *out = o;
    return 0;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct blend__outbox *o = h->data;
    o->tick_live = 0;
    maybe_free(o);
}

void blend__outbox_destroy(struct blend__outbox *o)
{
    if (!o) {
        return;
    }
    o->closing = 1;
    uv_close((uv_handle_t *)&o->tick, on_tick_closed);
}
