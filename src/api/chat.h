/*
 * The web chat channel (docs/chat-protocol.md): visitors on a company's web page talk to agents
 * over a public WebSocket (/api/v1/chat). A visitor is known by an opaque resume token that only
 * its browser holds; the server keeps a hash of it as the contact's chat identity. The first
 * message opens a conversation (an interaction of channel chat routed like a call, the message
 * in the same write), later ones join it; nothing is acknowledged before it is durable. Agents
 * answer with POST /api/v1/interactions/{id}/messages (h_messages.c), which the channel pushes
 * to the visitor's sockets from the committed event log, like the routing states (queued with
 * position, connected with the agent's name, ended). Typing and read receipts are live only
 * (the visitor's typing also reaches the agent's event stream). An entry point with a flow runs
 * it first (chat_flow.c: the IVR engine hosted for text, ADR 0020).
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
/* POST /api/v1/chat/attachments (public: the visitor proves itself with its resume token and
 * an open socket): a file the visitor sends, stored as a message of the open conversation
 * (docs/chat-protocol.md §Files). */
int blend__h_chat_upload(struct blend_http_req *req, void *arg);
/* OPTIONS on the same path: the CORS preflight of a page of another allowed origin. */
int blend__h_chat_upload_preflight(struct blend_http_req *req, void *arg);

/* ---- Bot first (chat_flow.c): an entry point's flow run over a new conversation ----------- */

/* Bot conversations running at once (each holds a compiled flow and a session). */
#define BLEND__CHAT_BOTS_MAX 1024

struct blend__chat_bots;

enum blend__chat_bot_outcome {
    BLEND__CHAT_BOT_RUNNING = 0, /* waits for the visitor's next message */
    BLEND__CHAT_BOT_QUEUED,      /* the conversation joined routing: the bot is gone */
    BLEND__CHAT_BOT_ENDED,       /* the flow ended it (hangup): the row is ended */
};

struct blend__chat_bot_info {
    int64_t conversation;   /* an interaction of channel chat in state "new", committed */
    int64_t contact;        /* the visitor's contact, 0 none */
    const char *flow;       /* the entry point's flow */
    const char *queue;      /* the entry point's queue: where "talk to an agent" goes */
    const char *calendar;   /* the calendar the flow's conditions read, NULL none */
    const char *name;       /* the visitor's name (contact.name), NULL none */
    const char *first_text; /* the message that opened the conversation */
};

BLEND_MUST_USE int blend__chat_bots_create(struct blend_app *app, struct blend__chat_bots **out);
void blend__chat_bots_destroy(struct blend__chat_bots *bots);
/* Starts the flow over the conversation (its first prompts are stored at once). 0 with
 * *outcome set; BLEND_ENOENT (no such flow), BLEND_EINVAL (invalid flow), BLEND_ELIMIT,
 * BLEND_ENOMEM: the caller queues the conversation instead. */
BLEND_MUST_USE int blend__chat_bots_start(struct blend__chat_bots *bots,
                                          const struct blend__chat_bot_info *info,
                                          enum blend__chat_bot_outcome *outcome);
/* 1 while a bot runs the conversation. */
int blend__chat_bots_has(struct blend__chat_bots *bots, int64_t conversation);
/* Feeds the visitor's committed message (a phrase asking for a person goes to the queue).
 * BLEND_ENOENT when no bot runs it. */
BLEND_MUST_USE int blend__chat_bots_text(struct blend__chat_bots *bots, int64_t conversation,
                                         const char *text, enum blend__chat_bot_outcome *outcome);
/* "Talk to an agent" (the widget's button). BLEND_ENOENT when no bot runs it. */
BLEND_MUST_USE int blend__chat_bots_to_agent(struct blend__chat_bots *bots, int64_t conversation,
                                             enum blend__chat_bot_outcome *outcome);
/* The visitor ended the conversation during the bot part: the row is ended. */
void blend__chat_bots_end(struct blend__chat_bots *bots, int64_t conversation);
/* Routes a "new" conversation no bot holds to `queue`. */
BLEND_MUST_USE int blend__chat_bots_queue(struct blend_app *app, int64_t conversation,
                                          const char *queue, int64_t contact);
/* At start-up: every chat conversation left "new" by a stop during its bot part is queued. */
void blend__chat_bots_recover(struct blend__chat_bots *bots);

#endif
