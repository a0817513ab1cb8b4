/*
 * The server application: the HTTP routes, authentication and RBAC, the engine's adapter, the
 * WebSocket event stream and the metrics, all on one libuv loop. It holds no SQL and no parsing
 * of its own: resources are validated by the model, stored by the store, and HTTP is carried by
 * the transport in http.h.
 *
 * Lifecycle: blend_app_create() (the store must be open and its notify hook must end in
 * blend_app_store_ready()), run the loop, blend_app_stop_accepting() on SIGTERM, wait for
 * blend_app_inflight() to reach 0, blend_app_destroy().
 */
#ifndef BLEND_API_APP_H
#define BLEND_API_APP_H

#include "api/auth.h"
#include "base/error.h"
#include "store/store.h"

#include <stdio.h>
#include <uv.h>

struct blend_app;

/* A mailbox beside [email] (docs/email.md §Mailboxes): the keys of an [email.NAME] section. */
struct blend_app_mailbox {
    const char *name, *imap_url, *username, *password, *queue;
    const char *smtp_url, *smtp_username, *smtp_password, *from, *from_name;
    int poll_s, starttls;
};

struct blend_app_config {
    const char *http_host;
    int http_port; /* 0 = any free port */
    const char *web_dir;
    const char *tls_cert;
    const char *tls_key;
    enum blend_password_cost password_cost;
    int session_idle_s;
    int login_failures_max;
    int lockout_s;
    /* SIP registrar for agents' phones; sip_listen NULL or "" = no SIP. */
    const char *sip_listen;
    const char *sip_realm;
    int sip_voice_requires_phone;
    int sip_auth_failures_max;
    int sip_auth_lockout_s;
    int sip_options_interval_s;
    const char *sip_trunk_allow;
    int sip_rtp_port_min;
    int sip_rtp_port_max;
    const char *sip_trunk_uri, *sip_trunk_user, *sip_trunk_password;
    const char *sip_moh_path;  /* music on hold; NULL or "" = silence */
    const char *data_dir;      /* recordings go to <data_dir>/recordings */
    int sip_session_expires_s;
    int sip_trunk_register, sip_trunk_register_expires_s; /* keep registered at the trunk */
    const char *sip_trunk_caller_id; /* presented when a call has none; NULL or "" = none */
    int sip_trunk_pai;               /* also send P-Asserted-Identity */
    const char *sip_tls_listen, *sip_tls_cert; /* SIP over TLS; NULL or "" = none */
    /* IVR flows on calls (docs/flows.md): play nodes' files, the TTS program and its rate, the
     * URL prefixes http nodes may call (NULL or "" = none). Rendered prompts are cached under
     * <data_dir>/prompts. */
    const char *ivr_prompts_dir, *ivr_tts_command, *ivr_http_allow;
    int ivr_tts_wpm;
    /* The email channel (docs/email.md); email_imap_url NULL or "" = none. Files go to
     * <data_dir>/mail. */
    const char *email_imap_url, *email_username, *email_password, *email_queue;
    const char *email_smtp_url, *email_smtp_username, *email_smtp_password;
    const char *email_from, *email_from_name;
    int email_poll_s, email_starttls;
    const struct blend_app_mailbox *email_mailboxes; /* [email.NAME] sections, borrowed */
    size_t email_mailboxes_count;
    /* The webhook channel (docs/webhooks.md); webhook_secret NULL or "" = none. */
    const char *webhook_secret, *webhook_provider_url, *webhook_provider_token;
    const char *webhook_sms_queue, *webhook_social_queue;
    int webhook_country_code;
    int webhook_sms_preset; /* 0 blend, 1 twilio */
    const char *webhook_public_url, *webhook_account_sid, *webhook_auth_token;
    const char *webhook_sms_from, *webhook_sms_provider_url;
    /* The web chat (docs/chat-protocol.md): origins allowed besides the server's own,
     * comma-separated, "*" for any; NULL or "" = the server's own only. */
    const char *chat_allowed_origins;
};

/* Creates the app: restores agent presence from the event log, starts listening. */
BLEND_MUST_USE int blend_app_create(uv_loop_t *loop, struct blend_store *store,
                                    const struct blend_app_config *cfg, struct blend_app **out);
/* The HTTP port listened on (useful when configured as 0). */
int blend_app_port(const struct blend_app *app);
/* Run from the loop when the store's notify hook fired: dispatches finished writes and pushes
 * newly committed events to WebSocket subscribers. */
void blend_app_store_ready(struct blend_app *app);
/* After a provisioning reload (SIGHUP): pushes new events; live state is kept. */
void blend_app_reloaded(struct blend_app *app);
void blend_app_stop_accepting(struct blend_app *app);
/* HTTP requests in progress (answered or not) plus writes submitted and not yet dispatched. */
size_t blend_app_inflight(const struct blend_app *app);
/* Must be called outside uv_run (it runs the loop to close handles). */
void blend_app_destroy(struct blend_app *app);

/* Writes the route table, one line per route: "METHOD PATH ROLES" (`blend routes`). */
void blend_app_routes_print(FILE *out);

#endif
