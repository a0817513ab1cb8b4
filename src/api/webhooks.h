/*
 * The webhook channel (docs/webhooks.md): SMS and social messages arrive as signed HTTP POSTs
 * from a provider, become messages of conversations routed like calls, and agents' replies go
 * back as signed POSTs to the provider's URL, retried until the provider takes them; the
 * provider's status callbacks mark them delivered or failed. Internal to src/api.
 *
 * Invariants: nothing is stored unless its signature verifies and its timestamp is within five
 * minutes; a message id seen before is answered as a duplicate and never stored twice; the 200
 * to the provider means the message is in the store; a reply leaves `queued` only when the
 * provider answered (2xx: sent; 4xx other than 408/429: failed) — an outage keeps it queued with
 * its retry state in the store; everything runs on the loop's thread.
 */
#ifndef BLEND_API_WEBHOOKS_H
#define BLEND_API_WEBHOOKS_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

struct blend_app;
struct blend_webhooks;

struct blend__webhooks_config {
    const char *secret;       /* required */
    const char *provider_url; /* "" = replies stay queued */
    const char *provider_token;
    const char *sms_queue, *social_queue; /* "" = that channel is refused (404) */
    int country_code;
};

BLEND_MUST_USE int blend__webhooks_create(struct blend_app *app,
                                          const struct blend__webhooks_config *cfg,
                                          struct blend_webhooks **out);
void blend__webhooks_destroy(struct blend_webhooks *w);
/* A reply was queued: try to send now. */
void blend__webhooks_kick(struct blend_webhooks *w);

/* HMAC-SHA256 over "<timestamp>.<body>" with the secret, as "sha256=<hex>" (out: 72 bytes).
 * Shared by both directions and the tests' reference. */
void blend__webhooks_sign(const char *secret, const char *timestamp, const char *body,
                          size_t len, char out[72]);

#endif
