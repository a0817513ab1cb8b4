/*
 * The email channel on the server's loop (docs/email.md): it reads IMAP mailboxes ([email] and
 * any [email.NAME]), each on its own every poll_s seconds, keeps each new message (the raw bytes and its attachments as files under
 * <data_dir>/mail, by checksum; the parsed message as a row), threads it into the conversation
 * it answers or opens a new interaction routed like a call, and marks it in the mailbox as
 * stored; agents' replies are queued rows sent through SMTP with retries. IMAP and SMTP go
 * through the loop's libcurl client (webclient.h, MAIL requests). Internal to src/api.
 *
 * Invariants: a message is marked in the mailbox ($BlendStored keyword) only after the write
 * holding it committed, so a crash never loses one; a message fetched again (a crash between
 * the commit and the mark) is recognised by its source (UIDVALIDITY:UID, unique) and not stored
 * twice; one IMAP request per mailbox and one SMTP send at a time; a mailbox that fails does
 * not stop the others; a reply leaves the queued state only
 * after the server accepted it (sent) or refused it for good (failed); everything runs on the
 * loop's thread.
 */
#ifndef BLEND_API_EMAIL_H
#define BLEND_API_EMAIL_H

#include "base/error.h"

#include <jansson.h>
#include <stdint.h>

struct blend_app;
struct blend_email_channel;

struct blend__email_config {
    const char *name;     /* a mailbox beside [email]: its [email.NAME]; ignored by create */
    const char *imap_url; /* imap://host:port/MAILBOX or imaps://...; required */
    const char *username, *password;
    int poll_s;           /* 1..3600 */
    const char *queue;    /* new conversations join it */
    const char *smtp_url; /* "" = replies stay queued (another mailbox: [email]'s server) */
    const char *smtp_username, *smtp_password;
    const char *from, *from_name;
    int starttls;
    const char *data_dir; /* files under <data_dir>/mail */
};

/* Starts polling at once. BLEND_EINVAL: an unusable URL, queue or from; BLEND_EIO: the mail
 * directory cannot be created; BLEND_ENOMEM. */
BLEND_MUST_USE int blend__email_create(struct blend_app *app, const struct blend__email_config *cfg,
                                       struct blend_email_channel **out);
/* Adds the mailbox [email.NAME] (cfg->name, 1..31 bytes; data_dir unused): polled on its own,
 * its conversations remember it (meta.mailbox) and their replies leave from its `from`.
 * BLEND_EINVAL: no name, an unusable URL, queue or from, or more than 8; BLEND_EEXIST: the name
 * is taken; BLEND_ENOMEM. */
BLEND_MUST_USE int blend__email_add_mailbox(struct blend_email_channel *e,
                                            const struct blend__email_config *cfg);
/* Stops the timers and abandons requests in flight (their rows stay as they are: a message not
 * yet marked is fetched again, a reply not yet sent is sent again). NULL is a no-op. */
void blend__email_destroy(struct blend_email_channel *e);
/* A reply was queued: try to send now rather than at the next tick. */
void blend__email_kick(struct blend_email_channel *e);
/* The address and threading fields of a reply to interaction `id` (doc: an owned object with
 * subject, to, in_reply_to, references, from, and mailbox when not [email]), from its latest
 * inbound message. BLEND_ENOENT
 * when it has none (not an email conversation). */
BLEND_MUST_USE int blend__email_reply_fields(struct blend_email_channel *e, int64_t id,
                                             json_t **doc_out);

#endif
