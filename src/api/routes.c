/*
 * The route table: every HTTP route with the roles allowed to call it. This table is the
 * source of docs/rbac.md and docs/openapi.yaml's coverage test (`blend routes` prints it), so a
 * route added here and not documented fails `make test`.
 */
#include "api/app_int.h"
#include "api/chat.h"
#include "api/files.h"

#include <stdio.h>
#include <string.h>

#define A BLEND_ROLE_ADMIN
#define S BLEND_ROLE_SUPERVISOR
#define Q BLEND_ROLE_QA
#define G BLEND_ROLE_AGENT
#define ALL (A | S | Q | G)
#define PUB BLEND_ACCESS_PUBLIC

#define GET BLEND_HTTP_GET
#define POST BLEND_HTTP_POST
#define PATCH BLEND_HTTP_PATCH
#define DELETE BLEND_HTTP_DELETE

/* The five routes of a provisioned resource, with read and write role sets. */
#define RESOURCE(seg, name, read, create, patch, del)                                             \
    {GET, "/api/v1/" seg, name ".list", read, blend__h_res_list},                                  \
        {POST, "/api/v1/" seg, name ".create", create, blend__h_res_create},                       \
        {GET, "/api/v1/" seg "/{id}", name ".get", read, blend__h_res_get},                        \
        {PATCH, "/api/v1/" seg "/{id}", name ".patch", patch, blend__h_res_patch},                 \
        {DELETE, "/api/v1/" seg "/{id}", name ".delete", del, blend__h_res_delete}

const struct blend_http_route blend__app_routes[] = {
    {GET, "/healthz", "healthz", PUB, blend__h_healthz},
    {GET, "/metrics", "metrics", PUB, blend__h_metrics},
    {POST, "/api/v1/auth/login", "auth.login", PUB, blend__h_login},
    {POST, "/api/v1/auth/logout", "auth.logout", ALL, blend__h_logout},
    {GET, "/api/v1/auth/me", "auth.me", ALL, blend__h_me},
    {GET, "/api/v1/tokens", "tokens.list", ALL, blend__h_tokens_list},
    {POST, "/api/v1/tokens", "tokens.create", ALL, blend__h_tokens_create},
    {DELETE, "/api/v1/tokens/{id}", "tokens.delete", ALL, blend__h_tokens_delete},
    RESOURCE("users", "users", A | S, A, A, A),
    RESOURCE("skills", "skills", ALL, A, A, A),
    RESOURCE("agents", "agents", ALL, A, A | S, A),
    {GET, "/api/v1/agents/{id}/state", "agents.state.get", ALL, blend__h_agent_state_get},
    {POST, "/api/v1/agents/{id}/state", "agents.state.set", A | S | G, blend__h_agent_state_set},
    {POST, "/api/v1/agents/{id}/wrapup-end", "agents.wrapup_end", A | S | G,
     blend__h_agent_wrapup_end},
    {GET, "/api/v1/agent-states", "agent_states.list", ALL, blend__h_agent_states},
    RESOURCE("calendars", "calendars", ALL, A, A, A),
    RESOURCE("queues", "queues", ALL, A, A, A),
    RESOURCE("flows", "flows", A | S | Q, A, A, A),
    RESOURCE("entry-points", "entry_points", ALL, A, A, A),
    /* Canned responses (model/canned.c, docs/web.md): every signed-in user reads them. */
    RESOURCE("canned_responses", "canned_responses", ALL, A, A, A),
    /* Contacts: create and patch normalise identities (h_contacts.c, docs/contacts.md). */
    {GET, "/api/v1/contacts", "contacts.list", ALL, blend__h_res_list},
    {POST, "/api/v1/contacts", "contacts.create", A | S | G, blend__h_contact_create},
    {GET, "/api/v1/contacts/{id}", "contacts.get", ALL, blend__h_res_get},
    {PATCH, "/api/v1/contacts/{id}", "contacts.patch", A | S | G, blend__h_contact_patch},
    {DELETE, "/api/v1/contacts/{id}", "contacts.delete", A, blend__h_res_delete},
    {POST, "/api/v1/contacts/resolve", "contacts.resolve", A | S | G, blend__h_contact_resolve},
    {POST, "/api/v1/contacts/{id}/merge", "contacts.merge", A | S, blend__h_contact_merge},
    {POST, "/api/v1/contacts/merges/{merge_id}/undo", "contacts.merge_undo", A | S,
     blend__h_contact_merge_undo},
    {GET, "/api/v1/contacts/{id}/timeline", "contacts.timeline", ALL,
     blend__h_contact_timeline},
    {GET, "/api/v1/interactions", "interactions.list", ALL, blend__h_res_list},
    {POST, "/api/v1/interactions", "interactions.create", A | S, blend__h_interaction_create},
    {GET, "/api/v1/interactions/{id}", "interactions.get", ALL, blend__h_res_get},
    {PATCH, "/api/v1/interactions/{id}", "interactions.patch", A | S | G,
     blend__h_interaction_patch},
    {GET, "/api/v1/interactions/{id}/routing", "interactions.routing", ALL,
     blend__h_interaction_routing},
    {POST, "/api/v1/interactions/{id}/accept", "interactions.accept", A | S | G,
     blend__h_interaction_action},
    {POST, "/api/v1/interactions/{id}/reject", "interactions.reject", A | S | G,
     blend__h_interaction_action},
    {POST, "/api/v1/interactions/{id}/end", "interactions.end", A | S | G,
     blend__h_interaction_action},
    {POST, "/api/v1/interactions/{id}/transfer", "interactions.transfer", A | S | G,
     blend__h_interaction_transfer},
    {POST, "/api/v1/interactions/{id}/recording", "interactions.recording", A | S | G,
     blend__h_interaction_recording},
    {POST, "/api/v1/interactions/{id}/hold", "interactions.hold", A | S | G,
     blend__h_interaction_hold},
    {POST, "/api/v1/calls", "calls.create", A | S | G, blend__h_click_to_call},
    {GET, "/api/v1/calls", "calls.list", A | S, blend__h_calls_list},
    {POST, "/api/v1/interactions/{id}/party", "interactions.party.add", A | S | G,
     blend__h_party_add},
    {GET, "/api/v1/interactions/{id}/party", "interactions.party.get", A | S | G,
     blend__h_party_get},
    {PATCH, "/api/v1/interactions/{id}/party", "interactions.party.mode", A | S | G,
     blend__h_party_mode},
    {DELETE, "/api/v1/interactions/{id}/party", "interactions.party.drop", A | S | G,
     blend__h_party_drop},
    {POST, "/api/v1/interactions/{id}/party/complete", "interactions.party.complete", A | S | G,
     blend__h_party_complete},
    {GET, "/api/v1/interactions/{id}/messages", "interactions.messages.list", ALL,
     blend__h_messages_list},
    {GET, "/api/v1/interactions/{id}/messages/{mid}/attachments/{n}",
     "interactions.messages.attachment", ALL, blend__h_messages_attachment},
    {POST, "/api/v1/channels/{channel}/messages", "channels.messages", PUB,
     blend__h_channel_inbound},
    {POST, "/api/v1/channels/{channel}/status", "channels.status", PUB, blend__h_channel_status},
    {POST, "/api/v1/interactions/{id}/messages", "interactions.messages.reply", A | S | G,
     blend__h_messages_reply},
    /* Web chat (chat.c, docs/chat-protocol.md): a plain GET describes the protocol, the same
     * path upgrades to the visitors' WebSocket (public: visitors are not users). */
    {GET, "/api/v1/chat", "chat.info", PUB, blend__h_chat_info},
    {POST, "/api/v1/chat/attachments", "chat.attachments", PUB, blend__h_chat_upload},
    {BLEND_HTTP_OPTIONS, "/api/v1/chat/attachments", "chat.attachments.preflight", PUB,
     blend__h_chat_upload_preflight},
    {POST, "/api/v1/interactions/{id}/typing", "interactions.chat.typing", A | S | G,
     blend__h_chat_typing},
    {POST, "/api/v1/interactions/{id}/read", "interactions.chat.read", A | S | G,
     blend__h_chat_read},
    {GET, "/api/v1/interactions/{id}/chat", "interactions.chat.get", A | S | G,
     blend__h_chat_view},
    {GET, "/api/v1/recordings", "recordings.list", A | S | Q, blend__h_res_list},
    {GET, "/api/v1/recordings/{id}", "recordings.get", A | S | Q, blend__h_res_get},
    {GET, "/api/v1/recordings/{id}/audio", "recordings.audio", A | S | Q,
     blend__h_recording_audio},
    {POST, "/api/v1/interactions/{id}/abandon", "interactions.abandon", A | S,
     blend__h_interaction_action},
    {POST, "/api/v1/interactions/{id}/callback", "interactions.callback", A | S,
     blend__h_interaction_action},
    {POST, "/api/v1/interactions/{id}/priority", "interactions.priority", A | S,
     blend__h_interaction_action},
    {GET, "/api/v1/stats/queues", "stats.queues", ALL, blend__h_stats_queues},
    {GET, "/api/v1/stats/agents", "stats.agents", ALL, blend__h_stats_agents},
    {GET, "/api/v1/event-log", "event_log.list", A | S, blend__h_event_log},
    {GET, "/api/v1/audit", "audit.list", A, blend__h_audit},
    {POST, "/api/v1/provision", "provision.apply", A, blend__h_provision},
};
const size_t blend__app_routes_count = sizeof blend__app_routes / sizeof blend__app_routes[0];

const struct blend_ws_endpoint blend__app_ws_endpoints[] = {
    {"/api/v1/events", blend__ws_open, blend__ws_message, blend__ws_close},
    {"/api/v1/chat", blend__chat_ws_open, blend__chat_ws_message, blend__chat_ws_close},
};
const size_t blend__app_ws_endpoints_count =
    sizeof blend__app_ws_endpoints / sizeof blend__app_ws_endpoints[0];

const struct blend_resource *blend__route_resource(struct blend_http_req *req)
{
    const char *path = blend_http_req_path(req);
    static const char prefix[] = "/api/v1/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) {
        return NULL;
    }
    char seg[48];
    size_t n = 0;
    for (const char *p = path + sizeof prefix - 1; *p && *p != '/' && n + 1 < sizeof seg; p++) {
        seg[n++] = *p == '-' ? '_' : *p;
    }
    seg[n] = '\0';
    return blend_resource_find(seg);
}

static void roles_text(unsigned access, char *out, size_t len)
{
    if (access & PUB) {
        snprintf(out, len, "public");
        return;
    }
    static const unsigned order[] = {A, S, Q, G};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        if (access & order[i]) {
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", blend_role_name(order[i]));
        }
    }
}

static const char *method_name(unsigned m)
{
    switch (m) {
    case GET:
        return "GET";
    case POST:
        return "POST";
    case PATCH:
        return "PATCH";
    case DELETE:
        return "DELETE";
    case BLEND_HTTP_OPTIONS:
        return "OPTIONS";
    default:
        return "?";
    }
}

void blend_app_routes_print(FILE *out)
{
    char roles[64];
    for (size_t i = 0; i < blend__app_routes_count; i++) {
        const struct blend_http_route *r = &blend__app_routes[i];
        roles_text(r->access, roles, sizeof roles);
        fprintf(out, "%s %s %s\n", method_name(r->method), r->pattern, roles);
    }
    roles_text(ALL, roles, sizeof roles);
    for (size_t i = 0; i < blend__app_ws_endpoints_count; i++) {
        /* An endpoint whose path is also a GET route (the chat) is listed as that route. */
        int is_route = 0;
        for (size_t j = 0; j < blend__app_routes_count; j++) {
            is_route |= blend__app_routes[j].method == GET &&
                        strcmp(blend__app_routes[j].pattern, blend__app_ws_endpoints[i].path) == 0;
        }
        if (!is_route) {
            fprintf(out, "WS %s %s\n", blend__app_ws_endpoints[i].path, roles);
        }
    }
}
