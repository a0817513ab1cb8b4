/*
 * The webhook channel (docs/webhooks.md): SMS and social messages arrive as signed HTTP POSTs
 * from a provider, become messages of conversations routed like calls, and agents' replies go
 * back as signed POSTs to the provider's URL, retried until the provider takes them; the
 * provider's status callbacks mark them delivered or failed. Internal to src/api.
 *
 * Invariants: nothing is stored unless its signature verifies (and, in Blend's format, its
 * timestamp is within five minutes); a message id seen before is answered as a duplicate and never stored twice; the 200
 * to the provider means the message is in the store; a reply leaves `queued` only when the
 * provider answered (2xx: sent; 4xx other than 408/429: failed) — an outage keeps it queued with
 * its retry state in the store; everything runs on the loop's thread.
 *
 * SMS preset twilio: the same paths also take the provider's form posts
 * (application/x-www-form-urlencoded), checked by X-Twilio-Signature (Base64 HMAC-SHA1 with
 * the auth token over public_url + path and the sorted fields, form.h) instead of the Blend
 * headers, answered with an empty TwiML document; SMS replies go out as its form posts with
 * Basic auth. Social stays on Blend's JSON format.
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
    /* The SMS preset (docs/webhooks.md, ADR 0018): 0 Blend's JSON; 1 twilio, which needs
     * public_url, account_sid, auth_token and sms_from (sms_provider_url NULL or "": the
     * provider's Messages endpoint for account_sid). */
    int sms_preset;
    const char *public_url, *account_sid, *auth_token, *sms_from, *sms_provider_url;
};

#define BLEND__WEBHOOKS_PRESET_BLEND 0
#define BLEND__WEBHOOKS_PRESET_TWILIO 1

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
