/*
 * The web chat protocol's frames as the visitor sends them (docs/chat-protocol.md): one JSON
 * object per WebSocket text frame, {"type": "hello" | "message" | "typing" | "read" | "end" |
 * "rating" | "ping", ...}, read into a fixed-size struct, and the per-visitor rate limit (a
 * token bucket with time as an input). Pure: no I/O, no clock, no allocation that outlives a
 * call (jansson's parse tree is freed before returning).
 *
 * Invariants: on success every string in the frame is NUL-terminated valid UTF-8 within its
 * named bound, a message's text is 1..BLEND_CHAT_TEXT_BYTES_MAX bytes with no control
 * characters but tab and line breaks and at least one visible character, and a resume token is
 * 32..128 bytes of [A-Za-z0-9_-]; on failure `err` has a stable code and a sentence for the
 * visitor, and `out` holds nothing to rely on.
 */
#ifndef BLEND_MODEL_CHAT_H
#define BLEND_MODEL_CHAT_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

/* A whole frame from a visitor: a 4000-byte message escaped as \uXXXX is 24 KB, so 32 KiB is
 * room for any valid frame; the WebSocket layer closes beyond BLEND_WS_MESSAGE_BYTES_MAX. */
#define BLEND_CHAT_FRAME_BYTES_MAX (32 * 1024)
/* A message's text: a chat line, not a document (email takes those). */
#define BLEND_CHAT_TEXT_BYTES_MAX 4000
#define BLEND_CHAT_CLIENT_ID_BYTES_MAX 64
#define BLEND_CHAT_TOKEN_BYTES_MIN 32
#define BLEND_CHAT_TOKEN_BYTES_MAX 128       /* = BLEND_IDENTITY_CHAT_BYTES_MAX */
#define BLEND_CHAT_ENTRY_POINT_BYTES_MAX 256 /* an entry point's address */
#define BLEND_CHAT_NAME_BYTES_MAX 128
#define BLEND_CHAT_EMAIL_BYTES_MAX 254
#define BLEND_CHAT_TOPIC_BYTES_MAX 128
#define BLEND_CHAT_COMMENT_BYTES_MAX 1000
/* Messages per second a visitor may send, and the burst allowed above that rate. */
#define BLEND_CHAT_RATE_PER_S 5
#define BLEND_CHAT_RATE_BURST 10
/* A file a visitor sends (POST /api/v1/chat/attachments), decoded. */
#define BLEND_CHAT_FILE_BYTES_MAX (2 * 1024 * 1024)

enum blend_chat_frame_type {
    BLEND_CHAT_HELLO = 1,
    BLEND_CHAT_MESSAGE,
    BLEND_CHAT_TYPING,
    BLEND_CHAT_READ,
    BLEND_CHAT_END,
    BLEND_CHAT_RATING,
    BLEND_CHAT_PING,
    BLEND_CHAT_TO_AGENT, /* "Talk to an agent": leave the bot for the queue */
};

struct blend_chat_frame {
    enum blend_chat_frame_type type;
    /* hello: the entry point's address (required); the rest "" when absent. */
    char entry_point[BLEND_CHAT_ENTRY_POINT_BYTES_MAX + 1];
    char resume_token[BLEND_CHAT_TOKEN_BYTES_MAX + 1];
    char name[BLEND_CHAT_NAME_BYTES_MAX + 1];
    char email[BLEND_CHAT_EMAIL_BYTES_MAX + 1];
    char topic[BLEND_CHAT_TOPIC_BYTES_MAX + 1];
    /* message: the client's id for the message (required, 1..64 printable ASCII), the text. */
    char client_id[BLEND_CHAT_CLIENT_ID_BYTES_MAX + 1];
    char text[BLEND_CHAT_TEXT_BYTES_MAX + 1];
    int is_typing;                                  /* typing: {"on": true|false}, default true */
    int64_t up_to;                                  /* read: the newest message id read (>= 1) */
    int rating;                                     /* rating: 1..5 */
    char comment[BLEND_CHAT_COMMENT_BYTES_MAX + 1]; /* rating: optional */
};

/* Why a frame was refused: code is one of "frame_too_large", "bad_json", "bad_frame",
 * "unknown_type", "bad_field", "too_long" (a string literal). */
struct blend_chat_error {
    const char *code;
    char message[160];
};

/* Reads one frame of len bytes (borrowed, not NUL-terminated). Returns 0 with *out filled, or
 * BLEND_EINVAL / BLEND_ELIMIT (too large, too long) / BLEND_ENOMEM with err filled. */
BLEND_MUST_USE int blend_chat_frame_parse(const char *data, size_t len,
                                          struct blend_chat_frame *out,
                                          struct blend_chat_error *err);

/* 1 when s is a well-formed resume token (see above), else 0. */
int blend_chat_token_is_valid(const char *s);

/* A token bucket in thousandths of a message. */
struct blend_chat_bucket {
    int64_t milli;
    int64_t last_ms;
};
/* Starts full (burst messages available) at now_ms. */
void blend_chat_bucket_init(struct blend_chat_bucket *b, int64_t now_ms, int burst);
/* Takes one message at now_ms (monotonic, never going back): 1 when allowed, 0 when the visitor
 * is over rate_per_s with the burst used up (nothing taken then). */
int blend_chat_bucket_take(struct blend_chat_bucket *b, int64_t now_ms, int rate_per_s, int burst);

/* Phrases that ask for a person instead of the bot, when the entry point names none. */
#define BLEND_CHAT_AGENT_PHRASES_DEFAULT "agent, human, 상담원, 人工"
/* A phrase list: comma-separated, at most this many bytes (longer lists are cut at a phrase). */
#define BLEND_CHAT_AGENT_PHRASES_BYTES_MAX 512
/* 1 when the message `text` asks for a person: once surrounding spaces and final punctuation
 * (. ! ? 。 ！ ？) are set aside, it is one of the comma-separated `phrases` (ASCII letters
 * compared without case; NULL or "" means BLEND_CHAT_AGENT_PHRASES_DEFAULT). A whole-message
 * match: "agent" asks, "my agent said" does not. */
int blend_chat_is_agent_request(const char *text, const char *phrases);

#endif
