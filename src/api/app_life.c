/*
 * The app's lifecycle: create (metrics, routing restored from the store and the log, HTTP
 * listening), the
 * store wake-up path (dispatch results, broadcast events), stop and destroy.
 */
#include "api/app_int.h"
#include "api/chat.h"
#include "api/email.h"
#include "api/webhooks.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int register_metrics(struct blend_app *app)
{
    static const double ms_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
    int rc = blend_metrics_create(&app->metrics);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE, "blend_build_info",
                                     "Build of the running server (value 1).", "version",
                                     "revision", NULL, 0, &app->m_build_info);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE, "blend_event_log_seq",
                                     "Highest committed event-log sequence number.", NULL, NULL,
                                     NULL, 0, &app->m_event_seq);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE,
                                     "process_resident_memory_bytes",
                                     "Resident memory of the server process.", NULL, NULL, NULL,
                                     0, &app->m_rss);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_COUNTER,
                                     "blend_store_commits_total",
                                     "Store transactions committed (each may hold many writes).",
                                     NULL, NULL, NULL, 0, &app->m_commits);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_COUNTER,
                                     "blend_store_writes_total", "Writes committed by the store.",
                                     NULL, NULL, NULL, 0, &app->m_writes);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_COUNTER,
                                     "blend_store_write_errors_total",
                                     "Writes refused or failed, by error.", "error", NULL, NULL,
                                     0, &app->m_write_errors);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE,
                                     "blend_store_queue_depth",
                                     "Writes waiting for the writer thread.", NULL, NULL, NULL, 0,
                                     &app->m_queue_depth);
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_COUNTER, "blend_logins_total",
                                     "Login attempts by outcome.", "outcome", NULL, NULL, 0,
                                     &app->m_logins);
    static const struct {
        const char *name, *help;
        size_t offset;
    } gauges[] = {
        {"blend_queue_waiting", "Contacts waiting in the queue now.",
         offsetof(struct blend_app, m_queue_waiting)},
        {"blend_queue_longest_wait_seconds", "Age of the oldest waiting contact.",
         offsetof(struct blend_app, m_queue_longest)},
        {"blend_queue_service_level_today", "Service level today (KPIS.md default definition).",
         offsetof(struct blend_app, m_queue_sl)},
        {"blend_queue_answered_today", "Contacts answered today.",
         offsetof(struct blend_app, m_queue_answered)},
        {"blend_queue_abandoned_today", "Contacts abandoned today (short abandons excluded).",
         offsetof(struct blend_app, m_queue_abandoned)},
        {"blend_queue_ewt_seconds", "Estimated wait of a contact joining the queue now.",
         offsetof(struct blend_app, m_queue_ewt)},
        {"blend_queue_agents_ready", "Agents of the queue ready and idle now.",
         offsetof(struct blend_app, m_queue_ready)},
        {"blend_queue_agents_busy", "Agents of the queue busy with a contact or an offer now.",
         offsetof(struct blend_app, m_queue_busy)},
    };
    for (size_t i = 0; rc == 0 && i < sizeof gauges / sizeof gauges[0]; i++) {
        rc = blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE, gauges[i].name,
                                    gauges[i].help, "queue", NULL, NULL, 0,
                                    (struct blend_metric **)((char *)app + gauges[i].offset));
    }
    rc = rc ? rc
            : blend_metrics_register(app->metrics, BLEND_METRIC_GAUGE, "blend_agents",
                                     "Agents by presence state.", "state", NULL, NULL, 0,
                                     &app->m_agents);
    (void)ms_bounds;
    if (rc == 0) {
        blend_metric_set(app->m_build_info, BLEND_VERSION, BLEND_GIT_REV, 1);
    }
    return rc;
}

static void on_stats_tick(uv_timer_t *t)
{
    struct blend_app *app = t->data;
    if (app->clients) {
        blend__events_push_stats(app);
    }
}

/* The webhook channel's signature headers (webhooks.c; X-Twilio-Signature: the SMS preset). */
static const char *const webhook_headers[] = {"X-Blend-Signature", "X-Blend-Timestamp",
                                              "X-Twilio-Signature", NULL};

int blend_app_create(uv_loop_t *loop, struct blend_store *store,
                     const struct blend_app_config *cfg, struct blend_app **out)
{
    BLEND_ASSERT(loop && store && cfg && out);
    struct blend_app *app = blend_calloc(1, sizeof *app);
    if (!app) {
        return BLEND_ENOMEM;
    }
    app->loop = loop;
    app->store = store;
    app->cfg = *cfg;
    snprintf(app->web_dir, sizeof app->web_dir, "%s", cfg->web_dir ? cfg->web_dir : "");
    snprintf(app->tls_cert, sizeof app->tls_cert, "%s", cfg->tls_cert ? cfg->tls_cert : "");
    snprintf(app->tls_key, sizeof app->tls_key, "%s", cfg->tls_key ? cfg->tls_key : "");
    app->login_limit = blend_malloc(sizeof *app->login_limit);
    int rc = app->login_limit ? 0 : BLEND_ENOMEM;
    if (rc == 0) {
        blend_ratelimit_init(app->login_limit, BLEND_LOGIN_ATTEMPTS_PER_MIN_MAX);
        rc = register_metrics(app);
    }
    rc = rc ? rc : blend__routing_create(app, &app->routing);
    char recordings_dir[4200];
    snprintf(recordings_dir, sizeof recordings_dir, "%s/recordings",
             cfg->data_dir && cfg->data_dir[0] ? cfg->data_dir : ".");
    if (rc == 0 && cfg->sip_listen && cfg->sip_listen[0]) {
        /* After routing restored its state with every agent's own capacities; then voice is
         * gated on phones from here on. */
        struct blend__phones_config pc = {.listen = cfg->sip_listen,
                                          .realm = cfg->sip_realm ? cfg->sip_realm : "blend",
                                          .voice_requires_phone = cfg->sip_voice_requires_phone,
                                          .auth_failures_max = cfg->sip_auth_failures_max,
                                          .auth_lockout_s = cfg->sip_auth_lockout_s,
                                          .options_interval_s = cfg->sip_options_interval_s,
                                          .trunk_allow = cfg->sip_trunk_allow,
                                          .rtp_port_min = cfg->sip_rtp_port_min,
                                          .rtp_port_max = cfg->sip_rtp_port_max,
                                          .trunk_uri = cfg->sip_trunk_uri,
                                          .trunk_user = cfg->sip_trunk_user,
                                          .trunk_password = cfg->sip_trunk_password,
                                          .session_expires_s = cfg->sip_session_expires_s,
                                          .moh_path = cfg->sip_moh_path,
                                          .recordings_dir = recordings_dir,
                                          .trunk_register = cfg->sip_trunk_register,
                                          .trunk_register_expires_s =
                                              cfg->sip_trunk_register_expires_s,
                                          .trunk_caller_id = cfg->sip_trunk_caller_id,
                                          .trunk_pai = cfg->sip_trunk_pai,
                                          .tls_listen = cfg->sip_tls_listen,
                                          .tls_cert = cfg->sip_tls_cert};
        rc = blend__phones_create(app, &pc, &app->phones);
        if (rc == 0) {
            blend__routing_agents_reload(app->routing);
        }
    }
    if (rc == 0 && cfg->email_imap_url && cfg->email_imap_url[0]) {
        struct blend__email_config ec = {.imap_url = cfg->email_imap_url,
                                         .username = cfg->email_username,
                                         .password = cfg->email_password,
                                         .poll_s = cfg->email_poll_s > 0 ? cfg->email_poll_s : 30,
                                         .queue = cfg->email_queue,
                                         .smtp_url = cfg->email_smtp_url,
                                         .smtp_username = cfg->email_smtp_username,
                                         .smtp_password = cfg->email_smtp_password,
                                         .from = cfg->email_from,
                                         .from_name = cfg->email_from_name,
                                         .starttls = cfg->email_starttls,
                                         .data_dir = cfg->data_dir};
        rc = blend__email_create(app, &ec, &app->email);
        if (rc) {
            BLEND_LOG_ERROR("api", "email channel not started (check [email]: imap_url, queue, "
                                   "from): %s",
                            blend_strerror(rc));
        }
        for (size_t i = 0; rc == 0 && i < cfg->email_mailboxes_count; i++) {
            const struct blend_app_mailbox *m = &cfg->email_mailboxes[i];
            struct blend__email_config mc = {.name = m->name,
                                             .imap_url = m->imap_url,
                                             .username = m->username,
                                             .password = m->password,
                                             .poll_s = m->poll_s,
                                             .queue = m->queue,
                                             .smtp_url = m->smtp_url,
                                             .smtp_username = m->smtp_username,
                                             .smtp_password = m->smtp_password,
                                             .from = m->from,
                                             .from_name = m->from_name,
                                             .starttls = m->starttls};
            rc = blend__email_add_mailbox(app->email, &mc);
            if (rc) {
                BLEND_LOG_ERROR("api", "mailbox [email.%s] not started: %s", m->name,
                                blend_strerror(rc));
            }
        }
    }
    if (rc == 0 && cfg->webhook_secret && cfg->webhook_secret[0]) {
        struct blend__webhooks_config wc = {.secret = cfg->webhook_secret,
                                            .provider_url = cfg->webhook_provider_url,
                                            .provider_token = cfg->webhook_provider_token,
                                            .sms_queue = cfg->webhook_sms_queue,
                                            .social_queue = cfg->webhook_social_queue,
                                            .country_code = cfg->webhook_country_code,
                                            .sms_preset = cfg->webhook_sms_preset,
                                            .public_url = cfg->webhook_public_url,
                                            .account_sid = cfg->webhook_account_sid,
                                            .auth_token = cfg->webhook_auth_token,
                                            .sms_from = cfg->webhook_sms_from,
                                            .sms_provider_url = cfg->webhook_sms_provider_url};
        rc = blend__webhooks_create(app, &wc, &app->webhooks);
        if (rc) {
            BLEND_LOG_ERROR("api", "webhook channel not started ([webhook] secret must be 16 "
                                   "characters or more): %s",
                            blend_strerror(rc));
        }
    }
    if (rc == 0) {
        struct blend__chat_config cc = {.allowed_origins = cfg->chat_allowed_origins};
        rc = blend__chat_create(app, &cc, &app->chat);
    }
    if (rc) {
        BLEND_LOG_ERROR("api", "cannot start the app: %s", blend_strerror(rc));
        blend_app_destroy(app);
        return rc;
    }
    app->broadcast_seq = blend_store_last_seq(store);

    if (app->web_dir[0] && access(app->web_dir, R_OK | X_OK) != 0) {
        BLEND_LOG_WARN("api", "web directory %s is not readable; serving the API only",
                       app->web_dir);
        app->web_dir[0] = '\0';
    }
    struct blend_http_config hc = {
        .host = cfg->http_host,
        .port = cfg->http_port,
        .tls_cert_path = app->tls_cert[0] ? app->tls_cert : NULL,
        .tls_key_path = app->tls_key[0] ? app->tls_key : NULL,
        .static_dir = app->web_dir[0] ? app->web_dir : NULL,
        .routes = blend__app_routes,
        .routes_count = blend__app_routes_count,
        .before = blend__app_before,
        .ws_endpoints = blend__app_ws_endpoints,
        .ws_endpoints_count = blend__app_ws_endpoints_count,
        .arg = app,
        .metrics = app->metrics,
        .ctx_free = blend_free,
        .extra_headers = webhook_headers,
    };
    rc = blend_http_create(loop, &hc, &app->http);
    if (rc) {
        BLEND_LOG_ERROR("api", "cannot listen on %s:%d: %s", cfg->http_host, cfg->http_port,
                        blend_strerror(rc));
        blend_app_destroy(app);
        return rc;
    }
    BLEND_LOG_INFO("api", "listening on http://%s:%d", cfg->http_host,
                   blend_http_port(app->http));
    uv_timer_init(loop, &app->stats_timer);
    app->stats_timer.data = app;
    app->stats_timer_live = 1;
    uv_timer_start(&app->stats_timer, on_stats_tick, BLEND_WS_STATS_INTERVAL_MS,
                   BLEND_WS_STATS_INTERVAL_MS);
    *out = app;
    return 0;
}

int blend_app_port(const struct blend_app *app)
{
    return app->http ? blend_http_port(app->http) : 0;
}

void blend_app_store_ready(struct blend_app *app)
{
    blend_store_dispatch(app->store);
    blend__events_broadcast(app);
    blend__chat_on_events(app->chat);
}

void blend_app_reloaded(struct blend_app *app)
{
    blend__events_broadcast(app);
    blend__chat_on_events(app->chat);
}

void blend_app_stop_accepting(struct blend_app *app)
{
    if (app->stats_timer_live) {
        uv_timer_stop(&app->stats_timer);
    }
    if (app->http) {
        blend_http_stop_accepting(app->http);
    }
}

size_t blend_app_inflight(const struct blend_app *app)
{
    return (app->http ? blend_http_inflight(app->http) : 0) + app->writes_pending;
}

void blend_app_destroy(struct blend_app *app)
{
    if (!app) {
        return;
    }
    /* Writes still in the store finish first: their callbacks may touch requests. */
    while (app->writes_pending > 0 && blend_store_dispatch(app->store) >= 0) {
        if (app->writes_pending == 0) {
            break;
        }
        uv_run(app->loop, UV_RUN_ONCE);
    }
    if (app->stats_timer_live) {
        uv_close((uv_handle_t *)&app->stats_timer, NULL);
        app->stats_timer_live = 0;
    }
    /* Phones and mail first (they call into routing), then routing: their handles close while
     * blend_http_destroy turns the loop. */
    blend__email_destroy(app->email);
    app->email = NULL;
    blend__webhooks_destroy(app->webhooks);
    app->webhooks = NULL;
    blend__phones_destroy(app->phones);
    blend__routing_destroy(app->routing);
    blend_http_destroy(app->http);
    blend__chat_destroy(app->chat); /* after its sockets closed */
    app->chat = NULL;
    blend_metrics_destroy(app->metrics);
    blend_free(app->login_limit);
    blend_free(app);
}
