/*
 * The web chat channel (docs/chat-protocol.md): visitors on a company's web page talk to agents
 * over a public WebSocket (/api/v1/chat). A visitor is known by an opaque resume token that only
 * its browser holds; the server keeps a hash of it as the contact's chat identity. The first
 * message opens a conversation (an interaction of channel chat routed like a call, the message
 * in the same write), later ones join it; nothing is acknowledged before it is durable. Agents
 * answer with POST /api/v1/interactions/{id}/messages (h_messages.c), which the channel pushes
 * to the visitor's sockets from the committed event log, like the routing states (queued with
 * position, connected with the agent's name, ended). Typing and read receipts are live only.
 *
 * Threading: the main loop only.
 */
#ifndef BLEND_API_CHAT_H
#define BLEND_API_CHAT_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

struct blend_app;
struct blend_chat;
struct blend_ws;
struct blend_http_req;

struct blend__chat_config {
    /* Origins allowed besides the server's own, comma-separated ("https://www.example.com");
     * "*" allows any. NULL or "": the server's own origin only. */
    const char *allowed_origins;
};

BLEND_MUST_USE int blend__chat_create(struct blend_app *app, const struct blend__chat_config *cfg,
                                      struct blend_chat **out);
/* After the HTTP layer closed every socket. NULL is a no-op. */
void blend__chat_destroy(struct blend_chat *c);

/* The WebSocket endpoint's hooks (arg: the app). */
int blend__chat_ws_open(struct blend_ws *ws, struct blend_http_req *req, void *arg);
void blend__chat_ws_message(struct blend_ws *ws, const char *text, size_t len, void *arg);
void blend__chat_ws_close(struct blend_ws *ws, void *arg);

/* Follows the event log up to what was broadcast: routing states and agents' replies reach the
 * visitors' sockets. Called after each broadcast. */
void blend__chat_on_events(struct blend_chat *c);

/* Routes: GET /api/v1/chat (the protocol's description; the same path upgrades to the
 * WebSocket), and on a chat interaction the agent's typing and read state and the visitor's
 * live state. */
int blend__h_chat_info(struct blend_http_req *req, void *arg);
int blend__h_chat_typing(struct blend_http_req *req, void *arg);
int blend__h_chat_read(struct blend_http_req *req, void *arg);
int blend__h_chat_view(struct blend_http_req *req, void *arg);

#endif
