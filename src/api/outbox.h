/*
 * The outbox of a digital channel: agents' replies waiting to leave (rows of `messages` in the
 * state queued, docs/email.md §Replies, docs/webhooks.md §Replies). One outbox per channel
 * adapter (email, webhooks) walks the queued replies of its channels oldest first, hands one at
 * a time to the adapter's send function, and writes the outcome the adapter reports: sent (with
 * the provider's id for it, if any), failed for good, or retry later — `attempts` counted and
 * `next_attempt_at` doubling from retry_first_s up to an hour, for as long as it takes. Internal
 * to src/api.
 *
 * Invariants: at most one send is under way, and the next one starts only after the previous
 * outcome's write committed (a reply is never picked twice); the outbox is freed once its timer
 * has closed and its writes have answered, whatever order destroy and they come in; everything
 * runs on the loop's thread.
 */
#ifndef BLEND_API_OUTBOX_H
#define BLEND_API_OUTBOX_H

#include "base/error.h"

#include <jansson.h>
#include <stdint.h>

struct blend_app;
struct blend__outbox;

enum blend__outbox_outcome {
    BLEND__OUTBOX_SENT = 1, /* the server or provider took it */
    BLEND__OUTBOX_FAILED,   /* refused for good */
    BLEND__OUTBOX_RETRY,    /* a passing failure: try again later */
};

/* Starts sending `msg` (a queued row, borrowed for the call); later the adapter calls
 * blend__outbox_done with the row's id. 0 when a send started; BLEND_EINVAL for a row that can
 * never be sent as stored (marked failed); another error leaves it for the next tick. */
typedef int (*blend__outbox_send_fn)(void *arg, const json_t *msg);

struct blend__outbox_config {
    const char *name;             /* for logs and as the writes' actor: "email" */
    const char *const *channels;  /* meta.channel values this outbox sends, NULL-terminated */
    int retry_first_s;            /* first retry delay, doubled per attempt up to 3600 */
    int tick_ms;                  /* how often due replies are looked for */
    blend__outbox_send_fn send;
    void *arg;
};

BLEND_MUST_USE int blend__outbox_create(struct blend_app *app,
                                        const struct blend__outbox_config *cfg,
                                        struct blend__outbox **out);
/* A reply was queued: look now rather than at the next tick. */
void blend__outbox_kick(struct blend__outbox *o);
/* The send of row `id` ended. provider_id (may be NULL) is kept as the row's message_id when
 * sent; detail is logged. */
void blend__outbox_done(struct blend__outbox *o, int64_t id, enum blend__outbox_outcome outcome,
                        const char *provider_id, const char *detail);
/* Stops looking; the outbox goes once its writes have answered. NULL is a no-op. */
void blend__outbox_destroy(struct blend__outbox *o);

#endif
