/*
 * Agents' phones: the main-thread side of the telephony thread (src/sip). It starts the SIP
 * registrar, tells it every agent's extension and digest HA1 (computed from the agent's SIP
 * password, which only the server reads), follows agent changes, and drains registration
 * events: each becomes an event-log row ("phone.registered", "phone.unregistered",
 * "sip.source_locked") and, when sip.voice_requires_phone is on, changes whether the routing
 * engine may offer the agent voice contacts. Call events go to the calls adapter (calls.c).
 * No SIP rule lives here (docs/sip.md).
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"
#include "sip/sip.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct phone {
    int64_t agent_id;
    int bindings;
    char extension[BLEND_SIP_EXTENSION_BYTES_MAX];
    char contact[BLEND_SIP_URI_BYTES_MAX];
    char transport[8];
    char user_agent[BLEND_SIP_UA_BYTES_MAX];
    int64_t since_wall_ms;
};

struct blend_phones {
    struct blend_app *app;
    struct blend_sip *sip;
    uv_async_t wake;
    int wake_live;
    char realm[BLEND_CONFIG_REALM_BYTES];
    int requires_phone;
    struct phone *phones; /* sorted by agent_id */
    size_t count, cap;
};

static struct phone *find(struct blend_phones *p, int64_t agent_id, int create)
{
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->phones[mid].agent_id < agent_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < p->count && p->phones[lo].agent_id == agent_id) {
        return &p->phones[lo];
    }
    if (!create) {
        return NULL;
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        struct phone *np = blend_realloc(p->phones, cap * sizeof *np);
        if (!np) {
            return NULL;
        }
        p->phones = np;
        p->cap = cap;
    }
    memmove(&p->phones[lo + 1], &p->phones[lo], (p->count - lo) * sizeof *p->phones);
    p->count++;
    memset(&p->phones[lo], 0, sizeof p->phones[lo]);
    p->phones[lo].agent_id = agent_id;
    return &p->phones[lo];
}

/* Pushes (or removes) the account of agent document `a` (read with internal fields). */
static void push_account(struct blend_phones *p, const json_t *a)
{
    int64_t id = json_integer_value(json_object_get(a, "id"));
    const char *ext = json_string_value(json_object_get(a, "extension"));
    const char *pass = json_string_value(json_object_get(a, "sip_password"));
    struct phone *ph = find(p, id, 1);
    if (!ph) {
        return;
    }
    if (ph->extension[0] && (!ext || strcmp(ext, ph->extension) != 0)) {
        (void)blend_sip_account_remove(p->sip, ph->extension);
        ph->extension[0] = '\0';
    }
    char ha1[33];
    if (ext && pass && blend_sip_ha1(ext, p->realm, pass, ha1) == 0) {
        int rc = blend_sip_account_set(p->sip, ext, ha1, id);
        if (rc) {
            BLEND_LOG_WARN("phones", "extension %s not given to the registrar: %s", ext,
                           blend_strerror(rc));
        }
        snprintf(ph->extension, sizeof ph->extension, "%s", ext);
    } else if (ext) {
        snprintf(ph->extension, sizeof ph->extension, "%s", ext);
    }
}

static int load_accounts(struct blend_phones *p)
{
    struct blend_list_query q = {.limit = BLEND_API_PAGE_MAX};
    for (;;) {
        json_t *items;
        int64_t next;
        int rc = blend_store_list(p->app->store, &blend_res_agents, &q, &items, &next);
        if (rc) {
            return rc;
        }
        size_t i;
        json_t *row;
        json_array_foreach(items, i, row)
        {
            json_t *full;
            if (blend_store_get(p->app->store, &blend_res_agents,
                                json_integer_value(json_object_get(row, "id")), 1, &full) == 0) {
                push_account(p, full);
                json_decref(full);
            }
        }
        json_decref(items);
        if (next == 0) {
            return 0;
        }
        q.after_id = next;
    }
}

static void record(struct blend_phones *p, const char *type, const char *subject, json_t *data)
{
    blend__app_record_event(p->app, "sip", type, subject, data);
}

static void on_event(struct blend_phones *p, const struct blend_sip_event *ev)
{
    char subject[64];
    snprintf(subject, sizeof subject, "agents/%" PRId64, ev->agent_id);
    switch (ev->kind) {
    case BLEND_SIP_EV_REGISTERED: {
        struct phone *ph = find(p, ev->agent_id, 1);
        if (!ph) {
            return;
        }
        int was = ph->bindings > 0;
        ph->bindings = ev->bindings_count;
        snprintf(ph->contact, sizeof ph->contact, "%s", ev->contact);
        snprintf(ph->transport, sizeof ph->transport, "%s", ev->transport);
        snprintf(ph->user_agent, sizeof ph->user_agent, "%s", ev->user_agent);
        if (!was) {
            ph->since_wall_ms = blend__wall_ms();
        }
        record(p, "phone.registered", subject,
               json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "agent_id",
                         (json_int_t)ev->agent_id, "extension", ev->extension, "contact",
                         ev->contact, "transport", ev->transport, "source", ev->source,
                         "user_agent", ev->user_agent, "expires_s", ev->expires_s, "bindings",
                         ev->bindings_count));
        if (!was) {
            blend__routing_agent_reload(p->app->routing, ev->agent_id);
        }
        break;
    }
    case BLEND_SIP_EV_UNREGISTERED: {
        struct phone *ph = find(p, ev->agent_id, 0);
        if (ph) {
            ph->bindings = 0;
            ph->contact[0] = ph->user_agent[0] = '\0';
        }
        record(p, "phone.unregistered", subject,
               json_pack("{s:I, s:s, s:s}", "agent_id", (json_int_t)ev->agent_id, "extension",
                         ev->extension, "cause", ev->cause));
        blend__routing_agent_reload(p->app->routing, ev->agent_id);
        break;
    }
    case BLEND_SIP_EV_AUTH_FAILED:
        BLEND_LOG_WARN("phones", "SIP authentication failed for extension \"%s\" from %s",
                       ev->extension, ev->source);
        break;
    case BLEND_SIP_EV_SOURCE_LOCKED:
        BLEND_LOG_WARN("phones", "SIP source %s locked for %d s after repeated failures",
                       ev->source, ev->lock_s);
        record(p, "sip.source_locked", "sip",
               json_pack("{s:s, s:i}", "source", ev->source, "lock_s", ev->lock_s));
        break;
    case BLEND_SIP_EV_CALL_INCOMING:
    case BLEND_SIP_EV_AGENT_RINGING:
    case BLEND_SIP_EV_AGENT_ANSWERED:
    case BLEND_SIP_EV_AGENT_FAILED:
    case BLEND_SIP_EV_CALL_ENDED:
    case BLEND_SIP_EV_CALL_HELD:
    case BLEND_SIP_EV_CALL_RESUMED:
    case BLEND_SIP_EV_TRANSFER_REQUESTED:
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
    case BLEND_SIP_EV_RECORDING_ENDED:
    case BLEND_SIP_EV_DTMF:
    case BLEND_SIP_EV_PARTY_RINGING:
    case BLEND_SIP_EV_PARTY_ANSWERED:
    case BLEND_SIP_EV_PARTY_MODE:
    case BLEND_SIP_EV_PARTY_ENDED:
    case BLEND_SIP_EV_PLAY_DONE:
    case BLEND_SIP_EV_AGENT_LEFT:
    case BLEND_SIP_EV_AGENT_REPLACED:
    case BLEND_SIP_EV_PARTY_COMPLETED:
        blend__calls_on_sip_event(p->app->calls, ev);
        break;
    }
}

static void on_wake(uv_async_t *h)
{
    struct blend_phones *p = h->data;
    struct blend_sip_event ev;
    while (blend_sip_poll(p->sip, &ev) == 1) {
        on_event(p, &ev);
    }
}

static void wake_from_sip_thread(void *arg)
{
    struct blend_phones *p = arg;
    uv_async_send(&p->wake);
}

int blend__phones_create(struct blend_app *app, const struct blend__phones_config *cfg,
                         struct blend_phones **out)
{
    struct blend_phones *p = blend_calloc(1, sizeof *p);
    if (!p) {
        return BLEND_ENOMEM;
    }
    p->app = app;
    p->requires_phone = cfg->voice_requires_phone;
    snprintf(p->realm, sizeof p->realm, "%s", cfg->realm);
    uv_async_init(app->loop, &p->wake, on_wake);
    p->wake.data = p;
    p->wake_live = 1;
    struct blend_sip_config sc = {
        .udp_addr = cfg->listen,
        .tcp_addr = cfg->listen,
        .realm = p->realm,
        .auth_fail_max = cfg->auth_failures_max,
        .auth_fail_window_s = 60,
        .auth_lock_s = cfg->auth_lockout_s,
        .options_interval_s = cfg->options_interval_s,
        .trunk_allow = cfg->trunk_allow,
        .rtp_port_min = cfg->rtp_port_min,
        .rtp_port_max = cfg->rtp_port_max,
        .trunk_uri = cfg->trunk_uri,
        .trunk_user = cfg->trunk_user,
        .trunk_password = cfg->trunk_password,
        .session_expires_s = cfg->session_expires_s,
        .moh_path = cfg->moh_path,
        .trunk_register = cfg->trunk_register,
        .trunk_register_expires_s = cfg->trunk_register_expires_s,
        .trunk_caller_id = cfg->trunk_caller_id,
        .trunk_pai = cfg->trunk_pai,
        .tls_addr = cfg->tls_listen && cfg->tls_listen[0] ? cfg->tls_listen : NULL,
        .tls_cert_path = cfg->tls_cert && cfg->tls_cert[0] ? cfg->tls_cert : NULL,
        .wakeup = wake_from_sip_thread,
        .wakeup_arg = p,
    };
    int rc = blend_sip_start(&sc, &p->sip);
    if (rc) {
        BLEND_LOG_ERROR("phones", "cannot start SIP on %s: %s", cfg->listen, blend_strerror(rc));
        blend__phones_destroy(p);
        return rc;
    }
    BLEND_LOG_INFO("phones", "SIP registrar on %s (udp port %d, tcp port %d), realm \"%s\"",
                   cfg->listen, blend_sip_local_port(p->sip, 0), blend_sip_local_port(p->sip, 1),
                   p->realm);
    rc = load_accounts(p);
    rc = rc ? rc : blend__calls_create(app, p->sip, cfg->recordings_dir, &app->calls);
    if (rc) {
        blend__phones_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

static void free_phones(uv_handle_t *h)
{
    struct blend_phones *p = h->data;
    blend_free(p->phones);
    blend_free(p);
}

void blend__phones_destroy(struct blend_phones *p)
{
    if (!p) {
        return;
    }
    blend_sip_stop(p->sip); /* the thread is gone after this: no more wakeups */
    p->sip = NULL;
    blend__calls_destroy(p->app->calls);
    p->app->calls = NULL;
    if (p->wake_live) {
        uv_close((uv_handle_t *)&p->wake, free_phones);
        return;
    }
    free_phones((uv_handle_t *)&p->wake);
}

void blend__phones_on_committed(struct blend_phones *p, const json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *subject = json_string_value(json_object_get(event, "subject"));
    if (!p || !type || !subject || strncmp(type, "agents.", 7) != 0) {
        return;
    }
    const char *slash = strchr(subject, '/');
    int64_t id = slash ? blend__parse_id(slash + 1) : 0;
    if (id <= 0) {
        return;
    }
    json_t *full;
    if (strcmp(type, "agents.deleted") != 0 &&
        blend_store_get(p->app->store, &blend_res_agents, id, 1, &full) == 0) {
        push_account(p, full);
        json_decref(full);
        return;
    }
    struct phone *ph = find(p, id, 0);
    if (ph && ph->extension[0]) {
        (void)blend_sip_account_remove(p->sip, ph->extension);
        ph->extension[0] = '\0';
    }
}

int blend__phones_voice_allowed(struct blend_phones *p, int64_t agent_id)
{
    if (!p || !p->requires_phone) {
        return 1;
    }
    struct phone *ph = find(p, agent_id, 0);
    if (!ph || !ph->extension[0]) {
        return 1; /* no extension: voice through the API (no phone to ring) */
    }
    return ph->bindings > 0;
}

int blend__phones_sip_stats(struct blend_phones *p, struct blend_sip_stats *out)
{
    if (!p || !p->sip) {
        return BLEND_ENOENT;
    }
    blend_sip_stats_get(p->sip, out);
    return 0;
}

json_t *blend__phones_json(struct blend_phones *p, int64_t agent_id)
{
    struct phone *ph = p ? find(p, agent_id, 0) : NULL;
    if (!ph || !ph->extension[0]) {
        return json_null();
    }
    json_t *o = json_pack("{s:s, s:b}", "extension", ph->extension, "registered",
                          ph->bindings > 0);
    if (ph->bindings > 0) {
        json_object_set_new(o, "contact", json_string(ph->contact));
        json_object_set_new(o, "transport", json_string(ph->transport));
        json_object_set_new(o, "user_agent", json_string(ph->user_agent));
    }
    return o;
}
