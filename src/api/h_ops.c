/*
 * Operations routes: health, Prometheus metrics, the event log and the audit log, and
 * provisioning through the API.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "provision/provision.h"
#include "sip/sip.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int blend__h_healthz(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    blend_http_respond_json(req, 200,
                            json_pack("{s:s, s:I, s:s}", "status", "ok", "event_seq",
                                      (json_int_t)blend_store_last_seq(app->store), "version",
                                      BLEND_VERSION));
    return BLEND_HTTP_DONE;
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

/* The store's commit histogram, kept by the store in milliseconds, rendered in seconds. */
static int render_store_histogram(struct blend_buf *out, const struct blend_store_stats *st)
{
    int rc = blend_buf_appends(out, "# HELP blend_store_commit_duration_seconds Time from a "
                                    "transaction's start to its durable commit.\n"
                                    "# TYPE blend_store_commit_duration_seconds histogram\n");
    size_t n = sizeof st->commit_ms_buckets / sizeof st->commit_ms_buckets[0];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double bound = blend_store_commit_ms_bounds[i];
        if (bound > 1e300) {
            rc = blend_buf_printf(
                out, "blend_store_commit_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                st->commit_ms_buckets[i]);
        } else {
            rc = blend_buf_printf(
                out, "blend_store_commit_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                bound / 1000.0, st->commit_ms_buckets[i]);
        }
    }
    if (rc == 0) {
        rc = blend_buf_printf(out,
                              "blend_store_commit_duration_seconds_sum %.6f\n"
                              "blend_store_commit_duration_seconds_count %" PRIu64 "\n",
                              st->commit_ms_sum / 1000.0, st->commits);
    }
    return rc;
}

/* The telephony thread's counters, when SIP is on. */
static int render_sip(struct blend_buf *out, struct blend_app *app)
{
    struct blend_sip_stats st;
    if (blend__phones_sip_stats(app->phones, &st) != 0) {
        return 0;
    }
    static const char *const help =
        "# HELP blend_sip_calls_active Calls the telephony thread holds now.\n"
        "# TYPE blend_sip_calls_active gauge\n"
        "# HELP blend_sip_calls_total Calls by origin: inbound INVITEs accepted, click-to-calls.\n"
        "# TYPE blend_sip_calls_total counter\n"
        "# HELP blend_sip_calls_refused_total INVITEs refused (403, 488, 503).\n"
        "# TYPE blend_sip_calls_refused_total counter\n"
        "# HELP blend_sip_rtp_packets_total RTP packets by kind: relayed each way, music on hold, "
        "comfort silence, mixed (third parties), not relayed (dropped, held).\n"
        "# TYPE blend_sip_rtp_packets_total counter\n"
        "# HELP blend_sip_registers_total REGISTERs answered 200.\n"
        "# TYPE blend_sip_registers_total counter\n"
        "# HELP blend_sip_auth_failures_total Digest failures (wrong password, unknown user).\n"
        "# TYPE blend_sip_auth_failures_total counter\n"
        "# HELP blend_sip_events_dropped_total Telephony events lost to a full ring.\n"
        "# TYPE blend_sip_events_dropped_total counter\n"
        "# HELP blend_sip_recordings_total Call recordings started.\n"
        "# TYPE blend_sip_recordings_total counter\n"
        "# HELP blend_sip_parties_total Third parties dialled (monitoring, consultation).\n"
        "# TYPE blend_sip_parties_total counter\n"
        "# HELP blend_sip_trunk_registered 1 while the outbound trunk holds Blend's registration.\n"
        "# TYPE blend_sip_trunk_registered gauge\n";
    return blend_buf_printf(
        out,
        "%s"
        "blend_sip_calls_active %" PRIu64 "\n"
        "blend_sip_calls_total{origin=\"inbound\"} %" PRIu64 "\n"
        "blend_sip_calls_total{origin=\"click-to-call\"} %" PRIu64 "\n"
        "blend_sip_calls_refused_total %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"to_agent\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"to_customer\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"moh\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"comfort\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"prompt\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"silence\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"mixed\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"dropped\"} %" PRIu64 "\n"
        "blend_sip_rtp_packets_total{kind=\"held\"} %" PRIu64 "\n"
        "blend_sip_registers_total %" PRIu64 "\n"
        "blend_sip_auth_failures_total %" PRIu64 "\n"
        "blend_sip_events_dropped_total %" PRIu64 "\n"
        "blend_sip_recordings_total %" PRIu64 "\n"
        "blend_sip_parties_total %" PRIu64 "\n"
        "blend_sip_trunk_registered %" PRIu64 "\n",
        help, st.calls_active, st.calls_total - st.calls_originated, st.calls_originated,
        st.calls_refused, st.rtp_to_agent, st.rtp_to_customer, st.rtp_moh, st.rtp_comfort,
        st.rtp_prompt, st.rtp_silence, st.rtp_mixed, st.rtp_dropped, st.rtp_held, st.registers_ok,
        st.auth_failures, st.events_dropped, st.recordings, st.parties, st.trunk_registered);
}

int blend__h_metrics(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    struct blend_store_stats st;
    blend_store_stats(app->store, &st);
    blend_metric_set(app->m_event_seq, NULL, NULL, (double)blend_store_last_seq(app->store));
    blend_metric_set(app->m_rss, NULL, NULL, (double)rss_bytes());
    blend_metric_set(app->m_queue_depth, NULL, NULL, (double)st.queue_depth);
    /* Counters mirror the store's own totals. */
    blend_metric_add(app->m_commits, NULL, NULL,
                     (double)st.commits - blend_metric_value(app->m_commits, NULL, NULL));
    blend_metric_add(app->m_writes, NULL, NULL,
                     (double)st.writes - blend_metric_value(app->m_writes, NULL, NULL));
    json_t *queues = blend__stats_items(app, &blend_res_queues, 0);
    size_t i;
    json_t *q;
    json_array_foreach(queues, i, q)
    {
        const char *name = json_string_value(json_object_get(q, "name"));
        json_t *today = json_object_get(q, "today");
        blend_metric_set(app->m_queue_waiting, name, NULL,
                         (double)json_integer_value(json_object_get(q, "waiting")));
        blend_metric_set(app->m_queue_longest, name, NULL,
                         json_real_value(json_object_get(q, "longest_wait_s")));
        blend_metric_set(app->m_queue_sl, name, NULL,
                         json_real_value(json_object_get(today, "service_level")));
        blend_metric_set(app->m_queue_answered, name, NULL,
                         (double)json_integer_value(json_object_get(today, "answered")));
        blend_metric_set(app->m_queue_abandoned, name, NULL,
                         (double)json_integer_value(json_object_get(today, "abandoned")));
        json_t *agents = json_object_get(q, "agents");
        blend_metric_set(app->m_queue_ewt, name, NULL,
                         json_real_value(json_object_get(q, "ewt_s")));
        blend_metric_set(app->m_queue_ready, name, NULL,
                         (double)json_integer_value(json_object_get(agents, "ready")));
        blend_metric_set(app->m_queue_busy, name, NULL,
                         (double)json_integer_value(json_object_get(agents, "busy")));
    }
    json_decref(queues);
    json_t *agents = blend__agent_states_json(app, 0);
    static const char *const states[] = {"logged-out", "ready", "not-ready", "wrap-up"};
    for (size_t s = 0; s < 4; s++) {
        size_t n = 0;
        json_t *a;
        json_array_foreach(agents, i, a)
        {
            n += strcmp(json_string_value(json_object_get(a, "state")), states[s]) == 0;
        }
        blend_metric_set(app->m_agents, states[s], NULL, (double)n);
    }
    json_decref(agents);
    struct blend_buf out;
    blend_buf_init(&out, 4 * 1024 * 1024);
    int rc = blend_metrics_render(app->metrics, &out);
    rc = rc ? rc : render_store_histogram(&out, &st);
    rc = rc ? rc : render_sip(&out, app);
    if (rc) {
        blend_buf_deinit(&out);
        return rc;
    }
    size_t len = out.len;
    blend_http_respond_take(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                            blend_buf_take(&out), len);
    return BLEND_HTTP_DONE;
}

int blend__h_event_log(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const char *a = blend_http_req_query(req, "after");
    const char *l = blend_http_req_query(req, "limit");
    int64_t after = 0, limit = BLEND_API_PAGE_DEFAULT;
    if (a && !(strcmp(a, "0") == 0 || (after = blend__parse_id(a)) > 0)) {
        blend_http_respond_error(req, 400, "bad_request", "after must be a sequence number", NULL);
        return BLEND_HTTP_DONE;
    }
    if (l && ((limit = blend__parse_id(l)) < 1 || limit > BLEND_API_PAGE_MAX)) {
        blend_http_respond_error(req, 400, "bad_request", "limit must be 1..500", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *items;
    int rc = blend_store_events(app->store, after, (int)limit, &items);
    if (rc) {
        return rc;
    }
    size_t n = json_array_size(items);
    json_t *next = json_null();
    if (n == (size_t)limit) {
        next = json_object_get(json_array_get(items, n - 1), "seq");
        json_incref(next);
    }
    blend_http_respond_json(req, 200, json_pack("{s:o, s:o}", "items", items, "next_after", next));
    return BLEND_HTTP_DONE;
}

int blend__h_audit(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int limit;
    int64_t after;
    if (blend__page_params(req, &limit, &after) < 0) {
        return BLEND_HTTP_DONE;
    }
    /* ?order=desc: newest first, the cursor walking back (the audit page opens on today). */
    const char *order = blend_http_req_query(req, "order");
    if (order && strcmp(order, "desc") != 0 && strcmp(order, "asc") != 0) {
        blend_http_respond_error(req, 400, "bad_request", "order is asc or desc", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *items;
    int64_t next;
    int rc = order && strcmp(order, "desc") == 0
                 ? blend_store_audit_list_desc(app->store, after, limit, &items, &next)
                 : blend_store_audit_list(app->store, after, limit, &items, &next);
    if (rc) {
        return rc;
    }
    blend__respond_page(req, items, next);
    return BLEND_HTTP_DONE;
}

/* ---- POST /api/v1/provision ----------------------------------------------------------------- */

struct hooks {
    struct blend_app *app;
};

static int hash_password(const char *clear, char *out, size_t outlen, void *arg)
{
    const struct hooks *h = arg;
    char hash[BLEND_PASSWORD_HASH_BYTES];
    int rc = blend_password_hash(clear, h->app->cfg.password_cost, hash);
    if (rc == 0 && strlen(hash) + 1 > outlen) {
        rc = BLEND_ELIMIT;
    }
    if (rc == 0) {
        memcpy(out, hash, strlen(hash) + 1);
    }
    return rc;
}

static int user_exists(const char *username, void *arg)
{
    const struct hooks *h = arg;
    return blend_provision_store_user_exists(username, h->app->store);
}

static int identity_exists(const char *kind, const char *value, void *arg)
{
    const struct hooks *h = arg;
    return blend_provision_store_identity_exists(kind, value, h->app->store);
}

static void on_provisioned(struct blend_write *w, void *arg)
{
    struct blend_http_req *req = arg;
    if (w->rc) {
        blend__respond_write_error(req, w, 0);
    } else {
        int changed = 0;
        for (int i = 0; i < w->ops_count; i++) {
            changed += w->ops[i].changed ? 1 : 0;
        }
        blend_http_respond_json(
            req, 200, json_pack("{s:i, s:i}", "changed", changed, "resources", w->ops_count));
    }
    blend_write_destroy(w);
}

int blend__h_provision(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    size_t len;
    const char *body = blend_http_req_body(req, &len);
    json_t *parsed;
    struct blend_http_body_error berr;
    /* Refuse bad content types, depth and syntax with the transport's answers first. */
    if (blend_http_req_json(req, &parsed, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    json_decref(parsed);
    struct blend_provision_errors *errs = blend_calloc(1, sizeof *errs);
    if (!errs) {
        return BLEND_ENOMEM;
    }
    struct blend_provision *p = NULL;
    int rc = blend_provision_parse(body, len, "api", &p, errs);
    if (rc) {
        json_t *details = json_array();
        for (size_t i = 0; i < errs->count; i++) {
            json_array_append_new(details, json_pack("{s:s, s:s}", "path", errs->items[i].path,
                                                     "message", errs->items[i].message));
        }
        char msg[96];
        snprintf(msg, sizeof msg, "%zu problem(s) in the document", errs->count_total);
        blend_free(errs);
        blend_http_respond_error(req, 422, "validation_failed", msg, details);
        return BLEND_HTTP_DONE;
    }
    blend_free(errs);
    /* New users' passwords are hashed here, on the loop: provisioning is a rare admin act and
     * the file's users mostly exist already (their hashes are then not recomputed). */
    struct hooks h = {app};
    struct blend_provision_env env = {.hash_password = hash_password,
                                      .user_exists = user_exists,
                                      .identity_exists = identity_exists,
                                      .arg = &h};
    struct blend_write *w = NULL;
    rc = blend_provision_build(p, &env, &w);
    blend_provision_destroy(p);
    if (rc) {
        blend_http_respond_error(req, rc == BLEND_ESTATE ? 422 : 500,
                                 rc == BLEND_ESTATE ? "validation_failed" : "internal",
                                 blend_strerror(rc), NULL);
        return BLEND_HTTP_DONE;
    }
    return blend__app_submit(app, req, w, on_provisioned, req);
}
