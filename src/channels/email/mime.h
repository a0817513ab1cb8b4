/*
 * Inbound email, parsed: one raw RFC 5322 message (as IMAP fetched it or SMTP delivered it) into
 * what the email channel needs — who wrote, the threading keys, the subject and bodies in UTF-8,
 * the attachments decoded, and whether it was written by a machine (auto-reply, bounce, list).
 * GMime parses and decodes (charsets, transfer encodings, RFC 2047 words); libxml2's HTML parser
 * reads HTML bodies, which are rebuilt from an allow-list of elements and attributes for display
 * (docs/email.md §Display), and give a text body when the message has no text part.
 *
 * Invariants: parsing never fails on a message's content — whatever cannot be read is left out
 * and the message is flagged BLEND_EMAIL_MALFORMED, so the caller keeps the raw bytes and
 * nothing is lost; every string is valid UTF-8 and NUL-terminated (never NULL: "" when absent);
 * everything is allocated with blend_malloc and released by blend_email_free. Thread-safe:
 * nothing global but GMime's one-time initialisation (blend_email_init).
 */
#ifndef BLEND_CHANNELS_EMAIL_MIME_H
#define BLEND_CHANNELS_EMAIL_MIME_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

#define BLEND_EMAIL_RAW_BYTES_MAX (32u * 1024 * 1024)  /* a bigger message is refused */
#define BLEND_EMAIL_ATTACHMENTS_MAX 64                  /* more are dropped (flagged) */
#define BLEND_EMAIL_REFERENCES_MAX 32                   /* the most recent are kept */
#define BLEND_EMAIL_BODY_BYTES_MAX (1024u * 1024)       /* text and HTML bodies, each */
#define BLEND_EMAIL_TOKEN_BYTES 24                      /* a reference token, NUL included */

enum blend_email_flag {
    BLEND_EMAIL_AUTO_REPLY = 1u << 0, /* RFC 3834 Auto-Submitted, out-of-office headers */
    BLEND_EMAIL_BOUNCE = 1u << 1,     /* a delivery status notification (RFC 3464) */
    BLEND_EMAIL_LIST = 1u << 2,       /* mailing-list or bulk mail (List-Id, Precedence) */
    BLEND_EMAIL_MALFORMED = 1u << 3,  /* something could not be read: keep the raw message */
    BLEND_EMAIL_TRUNCATED = 1u << 4,  /* a body or the attachment list was cut to the limits */
};

struct blend_email_attachment {
    char *filename;     /* from Content-Disposition / Content-Type name, "" when none */
    char *content_type; /* "application/pdf" (lower case) */
    char *content_id;   /* inline parts referenced as cid:, "" when none */
    int inline_part;    /* Content-Disposition: inline */
    unsigned char *data; /* decoded bytes */
    size_t size;
};

struct blend_email {
    char *message_id;  /* without angle brackets */
    char *in_reply_to; /* the first message id of In-Reply-To */
    char **references; /* References, oldest first (at most BLEND_EMAIL_REFERENCES_MAX) */
    size_t references_count;
    char *from_addr; /* the first From mailbox, lower-cased */
    char *from_name;
    char *reply_to;  /* the first Reply-To mailbox, lower-cased ("" when none) */
    char *to;        /* To and Cc as written, decoded */
    char *cc;
    char *subject;
    int64_t date_ms; /* Date header in ms since the epoch, 0 when absent or unreadable */
    char *text;      /* text/plain body (the first one), else derived from the HTML */
    char *html;      /* the HTML body rebuilt from the allow-list, "" when none */
    struct blend_email_attachment *attachments;
    size_t attachments_count;
    unsigned flags; /* enum blend_email_flag */
    /* A reference token Blend put in the subject of its replies ("[#BL-123]" -> "BL-123"). */
    char token[BLEND_EMAIL_TOKEN_BYTES];
};

/* Once per process before the first parse (GMime's initialisation; idempotent). */
void blend_email_init(void);

/* Parses raw (len bytes). BLEND_EINVAL: empty, or larger than BLEND_EMAIL_RAW_BYTES_MAX;
 * BLEND_ENOMEM. Anything else in the content is BLEND_EMAIL_MALFORMED with what could be read. */
BLEND_MUST_USE int blend_email_parse(const char *raw, size_t len, struct blend_email **out);
void blend_email_free(struct blend_email *m);

/* The HTML body rules on their own (tests, and display of stored messages): the allow-listed
 * rebuild of html (*html_out) and its text (*text_out), both owned by the caller (blend_free).
 * BLEND_ENOMEM, or BLEND_ELIMIT when either exceeds BLEND_EMAIL_BODY_BYTES_MAX. */
BLEND_MUST_USE int blend_email_html_clean(const char *html, size_t len, char **html_out,
                                          char **text_out);

/* The reference token in a subject: the last "[#" TOKEN "]" where TOKEN is 1..22 characters of
 * [A-Za-z0-9-]; writes it to out (BLEND_EMAIL_TOKEN_BYTES) and returns 1, or 0 without one. */
int blend_email_subject_token(const char *subject, char out[BLEND_EMAIL_TOKEN_BYTES]);

/* ---- Outbound: a reply as RFC 5322 bytes (compose.c) ------------------------------------ */

/* A file attached to a reply: the message becomes multipart/mixed (the text, then the files in
 * order, base64). */
struct blend_email_out_file {
    const char *filename;     /* UTF-8 (RFC 2231-encoded by GMime when not ASCII) */
    const char *content_type; /* "application/pdf"; NULL or unreadable: application/octet-stream */
    const unsigned char *data;
    size_t size;
};

struct blend_email_out {
    const char *from;        /* "support@example.com" */
    const char *from_name;   /* display name, may be NULL or "" */
    const char *to;          /* the customer's address */
    const char *subject;     /* as it should read (the caller adds "Re: " and the token) */
    const char *message_id;  /* without angle brackets: "blend-42-7@example.com" */
    const char *in_reply_to; /* the message answered, NULL or "" for none */
    const char *const *references; /* the thread, oldest first (NULL-terminated), may be NULL */
    int64_t date_ms;
    const char *text;        /* the body, UTF-8 (the signature already appended) */
    const struct blend_email_out_file *files; /* attachments (files_count), may be NULL */
    size_t files_count;
};

/* Writes the message (UTF-8 text/plain, quoted-printable, with the files as base64 parts of a
 * multipart/mixed when there are any; RFC 2047 words for non-ASCII
 * headers; Auto-Submitted is not set: replies are written by people) into *raw_out (owned,
 * blend_free; *len_out bytes, NUL-terminated). BLEND_EINVAL: a missing from/to/message_id/text, an
 * address or id with control characters or angle brackets, a file name that is not UTF-8 or
 * has control characters; BLEND_ENOMEM. */
BLEND_MUST_USE int blend_email_compose(const struct blend_email_out *o, char **raw_out,
                                       size_t *len_out);

#endif
