/*
 * `blend serve`: the server process. Wiring only: configuration, the store (its notify hook
 * wakes the loop through a uv_async), provisioning at start, the app on the libuv loop, and
 * the signals: SIGTERM/SIGINT drain (stop accepting, let in-flight requests and writes finish,
 * at most shutdown.drain_s seconds) and exit 0; SIGHUP re-applies the provisioning file
 * without touching live state.
 */
#include "cli/cli.h"
#include "cli/provision_file.h"

#include "api/app.h"
#include "base/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

struct serve {
    uv_loop_t loop;
    uv_async_t store_wake;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer;
    struct blend_store *store;
    struct blend_app *app;
    struct blend_config cfg;
    const char *provision_path;
    uint64_t drain_started_ms;
    int draining;
};

static void store_notify(void *arg)
{
    struct serve *s = arg;
    uv_async_send(&s->store_wake);
}

static void on_store_wake(uv_async_t *h)
{
    struct serve *s = h->data;
    if (s->app) {
        blend_app_store_ready(s->app);
    } else {
        blend_store_dispatch(s->store);
    }
}

static void close_handles(struct serve *s)
{
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
}

static void on_drain_tick(uv_timer_t *t)
{
    struct serve *s = t->data;
    uint64_t waited = uv_now(&s->loop) - s->drain_started_ms;
    size_t inflight = blend_app_inflight(s->app);
    if (inflight == 0 || waited >= (uint64_t)s->cfg.shutdown_drain_s * 1000) {
        if (inflight) {
            BLEND_LOG_WARN("serve", "drain time over with %zu request(s) in flight", inflight);
        }
        uv_timer_stop(t);
        uv_stop(&s->loop);
    }
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct serve *s = h->data;
    if (s->draining) {
        return;
    }
    s->draining = 1;
    BLEND_LOG_INFO("serve", "signal %d: draining", signum);
    blend_app_stop_accepting(s->app);
    s->drain_started_ms = uv_now(&s->loop);
    uv_timer_start(&s->drain_timer, on_drain_tick, 0, 20);
}

static void on_hup(uv_signal_t *h, int signum)
{
    struct serve *s = h->data;
    (void)signum;
    if (!s->provision_path || !s->provision_path[0]) {
        BLEND_LOG_INFO("serve", "SIGHUP: no provisioning file configured; nothing to reload");
        return;
    }
    int changed = 0;
    int rc = blend__provision_file(s->store, s->provision_path, (int)s->cfg.auth_password_cost,
                                   0, "provision", &changed, stderr);
    if (rc) {
        BLEND_LOG_ERROR("serve", "SIGHUP: %s not applied: %s", s->provision_path,
                        blend_strerror(rc));
        return;
    }
    BLEND_LOG_INFO("serve", "SIGHUP: %s applied, %d resource(s) changed", s->provision_path,
                   changed);
    blend_app_reloaded(s->app);
}

static int start(struct serve *s)
{
    int changed = 0;
    if (s->provision_path && s->provision_path[0] &&
        blend__provision_file(s->store, s->provision_path, (int)s->cfg.auth_password_cost, 0,
                              "provision", &changed, stderr) != 0) {
        return 1;
    }
    if (s->provision_path && s->provision_path[0]) {
        BLEND_LOG_INFO("serve", "%s applied, %d resource(s) changed", s->provision_path, changed);
    }
    char host[256];
    int port;
    if (blend_config_split_hostport(s->cfg.http_listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "blend: http.listen: bad address %s\n", s->cfg.http_listen);
        return 1;
    }
    static struct blend_app_mailbox boxes[BLEND_CONFIG_MAILBOXES_MAX];
    for (int i = 0; i < s->cfg.email_mailboxes_count; i++) {
        const struct blend_config_mailbox *m = &s->cfg.email_mailboxes[i];
        boxes[i] = (struct blend_app_mailbox){.name = m->name,
                                              .imap_url = m->imap_url,
                                              .username = m->username,
                                              .password = m->password,
                                              .queue = m->queue,
                                              .smtp_url = m->smtp_url,
                                              .smtp_username = m->smtp_username,
                                              .smtp_password = m->smtp_password,
                                              .from = m->from,
                                              .from_name = m->from_name,
                                              .poll_s = m->poll_s,
                                              .starttls = m->starttls};
    }
    struct blend_app_config ac = {
        .email_mailboxes = boxes,
        .email_mailboxes_count = (size_t)s->cfg.email_mailboxes_count,
        .http_host = host,
        .http_port = port,
        .web_dir = s->cfg.http_web_dir,
        .tls_cert = s->cfg.tls_cert,
        .tls_key = s->cfg.tls_key,
        .password_cost = (enum blend_password_cost)s->cfg.auth_password_cost,
        .session_idle_s = s->cfg.auth_session_idle_s,
        .login_failures_max = s->cfg.auth_login_failures_max,
        .lockout_s = s->cfg.auth_lockout_s,
        .sip_listen = s->cfg.sip_listen,
        .sip_realm = s->cfg.sip_realm,
        .sip_voice_requires_phone = s->cfg.sip_voice_requires_phone,
        .sip_auth_failures_max = s->cfg.sip_auth_failures_max,
        .sip_auth_lockout_s = s->cfg.sip_auth_lockout_s,
        .sip_options_interval_s = s->cfg.sip_options_interval_s,
        .sip_trunk_allow = s->cfg.sip_trunk_allow,
        .sip_rtp_port_min = s->cfg.sip_rtp_port_min,
        .sip_rtp_port_max = s->cfg.sip_rtp_port_max,
        .sip_trunk_uri = s->cfg.sip_trunk_uri,
        .sip_trunk_user = s->cfg.sip_trunk_user,
        .sip_trunk_password = s->cfg.sip_trunk_password,
        .sip_session_expires_s = s->cfg.sip_session_expires_s,
        .sip_moh_path = s->cfg.sip_moh_path,
        .data_dir = s->cfg.data_dir,
        .ivr_prompts_dir = s->cfg.ivr_prompts_dir,
        .ivr_tts_command = s->cfg.ivr_tts_command,
        .ivr_tts_wpm = s->cfg.ivr_tts_wpm,
        .ivr_http_allow = s->cfg.ivr_http_allow,
        .email_imap_url = s->cfg.email_imap_url,
        .email_username = s->cfg.email_username,
        .email_password = s->cfg.email_password,
        .email_queue = s->cfg.email_queue,
        .email_smtp_url = s->cfg.email_smtp_url,
        .email_smtp_username = s->cfg.email_smtp_username,
        .email_smtp_password = s->cfg.email_smtp_password,
        .email_from = s->cfg.email_from,
        .email_from_name = s->cfg.email_from_name,
        .email_poll_s = s->cfg.email_poll_s,
        .email_starttls = s->cfg.email_starttls,
        .webhook_secret = s->cfg.webhook_secret,
        .webhook_provider_url = s->cfg.webhook_provider_url,
        .webhook_provider_token = s->cfg.webhook_provider_token,
        .webhook_sms_queue = s->cfg.webhook_sms_queue,
        .webhook_social_queue = s->cfg.webhook_social_queue,
        .webhook_country_code = s->cfg.webhook_country_code,
        .webhook_sms_preset = s->cfg.webhook_sms_preset,
        .webhook_public_url = s->cfg.webhook_public_url,
        .webhook_account_sid = s->cfg.webhook_account_sid,
        .webhook_auth_token = s->cfg.webhook_auth_token,
        .webhook_sms_from = s->cfg.webhook_sms_from,
        .webhook_sms_provider_url = s->cfg.webhook_sms_provider_url,
        .chat_allowed_origins = s->cfg.chat_allowed_origins,
        .sip_trunk_register = s->cfg.sip_trunk_register,
        .sip_trunk_register_expires_s = s->cfg.sip_trunk_register_expires_s,
        .sip_trunk_caller_id = s->cfg.sip_trunk_caller_id,
        .sip_trunk_pai = s->cfg.sip_trunk_pai,
        .sip_tls_listen = s->cfg.sip_tls_listen,
        .sip_tls_cert = s->cfg.sip_tls_cert,
    };
    if (blend_app_create(&s->loop, s->store, &ac, &s->app) != 0) {
        fprintf(stderr, "blend: cannot start the server on %s\n", s->cfg.http_listen);
        return 1;
    }
    return 0;
}

int blend_cmd_serve(int argc, char **argv)
{
    static struct serve s; /* signal handles must outlive the loop run */
    memset(&s, 0, sizeof s);
    const char *config_path = NULL, *provision_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--provision") == 0 && i + 1 < argc) {
            provision_arg = argv[++i];
        } else {
            fprintf(stderr, "blend serve: unexpected argument '%s'\n"
                            "usage: blend serve [--config FILE] [--provision FILE]\n",
                    argv[i]);
            return 2;
        }
    }
    if (blend__cli_config(config_path, &s.cfg)) {
        return 1;
    }
    s.provision_path = provision_arg ? provision_arg : s.cfg.provision_file;
    if (uv_loop_init(&s.loop) != 0) {
        return 1;
    }
    uv_async_init(&s.loop, &s.store_wake, on_store_wake);
    s.store_wake.data = &s;
    uv_signal_init(&s.loop, &s.sig_term);
    uv_signal_init(&s.loop, &s.sig_int);
    uv_signal_init(&s.loop, &s.sig_hup);
    uv_timer_init(&s.loop, &s.drain_timer);
    s.sig_term.data = s.sig_int.data = s.sig_hup.data = s.drain_timer.data = &s;

    struct blend_store_config sc = {.url = s.cfg.store_url,
                                    .batch_max = s.cfg.store_batch_max,
                                    .notify = store_notify,
                                    .notify_arg = &s};
    int rc = 1;
    if (s.cfg.data_dir[0] && mkdir(s.cfg.data_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "blend: cannot create %s: %s\n", s.cfg.data_dir, strerror(errno));
        goto out;
    }
    if (blend_store_open(&sc, &s.store) != 0) {
        fprintf(stderr, "blend: cannot open store %s\n", s.cfg.store_url);
        goto out;
    }
    /* A peer closing a socket (an HTTP client, a TCP phone) must be an error on that socket,
     * never the end of the process. */
    signal(SIGPIPE, SIG_IGN);
    if (start(&s) != 0) {
        goto out;
    }
    uv_signal_start(&s.sig_term, on_stop_signal, SIGTERM);
    uv_signal_start(&s.sig_int, on_stop_signal, SIGINT);
    uv_signal_start(&s.sig_hup, on_hup, SIGHUP);
    BLEND_LOG_INFO("serve", "blend %s ready (store %s)", BLEND_VERSION, s.cfg.store_url);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    close_handles(&s);
    if (s.app) {
        blend_app_destroy(s.app); /* waits for its writes, runs the loop to let lws close */
    }
    uv_close((uv_handle_t *)&s.store_wake, NULL);
    if (s.store) {
        blend_store_close(s.store); /* finishes and dispatches the last writes */
    }
    uv_run(&s.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s.loop) != 0) {
        BLEND_LOG_WARN("serve", "loop closed with handles open");
    }
    BLEND_LOG_INFO("serve", "stopped");
    return rc;
}

int blend_cmd_routes(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    blend_app_routes_print(stdout);
    return 0;
}
