/*
 * Declarative provisioning: one JSON document describes skills, calendars, queues, users, agents,
 * entry points and contacts; applying it makes the store match it, in one transaction, and
 * applying it again changes nothing. The format is documented in docs/provisioning.md.
 *
 * Two steps, so nothing is written unless the whole file is valid:
 *   1. blend_provision_parse() parses and validates the whole document (every resource against
 *      its descriptor, duplicate keys, unknown keys, overflow cycles between queues) and reports
 *      every problem with an absolute path ("$.queues[2].skills[0].min_proficiency").
 *   2. blend_provision_build() turns it into ONE struct blend_write of UPSERT ops in dependency
 *      order, which the caller submits to the store (blend_store_write_sync()).
 *
 * References to resources the document does not define (a queue's skill, an agent's user) are
 * left to the store: it resolves them inside the transaction and fails the op with the field's
 * path (struct blend_write_op.error_field) when the target does not exist.
 *
 * Idempotence: every op is an UPSERT by natural key of a document normalized with defaults
 * filled in, so a second apply finds nothing to change. Users are the exception the format has
 * to handle: a password is hashed with a random salt, so the hash is only sent when the user
 * does not exist yet, or when the document asks for it with "password_reset": true (that apply
 * changes the user every time, by design). Contacts have no natural key: a contact is created
 * only when none of its identities exists yet, and never updated by provisioning.
 *
 * This layer does no I/O of its own: the caller reads the file and supplies lookups (which a
 * store-backed helper provides) and the password hasher.
 */
#ifndef BLEND_PROVISION_PROVISION_H
#define BLEND_PROVISION_PROVISION_H

#include "base/error.h"
#include "base/limits.h"
#include "store/store.h"

#include <stddef.h>

/* One problem in a document: an absolute JSON path from the root ("$", "$.version",
 * "$.queues[2].skills[0].min_proficiency") and a message. */
struct blend_provision_error {
    char path[256];
    char message[192];
};

struct blend_provision_errors {
    struct blend_provision_error items[BLEND_PROVISION_ERRORS_MAX];
    size_t count;       /* items filled */
    size_t count_total; /* every error found, also those beyond the maximum */
};

struct blend_provision; /* a parsed and validated document */

/* What blend_provision_build() needs from the outside world. */
struct blend_provision_env {
    /* Turns a clear-text password into the stored hash (e.g. crypto_pwhash_str). Writes a
     * NUL-terminated string of at most outlen bytes to out; returns 0 or a negative BLEND_E*.
     * Required when the document holds any user with a password. */
    int (*hash_password)(const char *clear, char *out, size_t outlen, void *arg);
    /* Returns 1 when a user with this username exists, 0 when not, or a negative BLEND_E*.
     * NULL means "no user exists" (a fresh store). */
    int (*user_exists)(const char *username, void *arg);
    /* Returns 1 when a contact identity (kind, value) exists, 0 when not, or a negative
     * BLEND_E*. Required when the document holds contacts (the store cannot search child tables
     * yet: see docs/provisioning.md); NULL then fails the build with BLEND_ESTATE. */
    int (*identity_exists)(const char *kind, const char *value, void *arg);
    void *arg;
};

/*
 * Parses and validates the document (bytes, len: not NUL-terminated, borrowed). source_name
 * (borrowed, e.g. the file name) is kept for the write's audit source. On success writes an
 * owned document to *out and returns 0. On error *out is untouched, errs lists every problem
 * (paths absolute from "$"), and the return is BLEND_EINVAL (also for malformed JSON, reported
 * at "$" with line and column), BLEND_ELIMIT (larger than BLEND_PROVISION_BYTES_MAX, or more
 * than BLEND_PROVISION_ITEMS_MAX resources) or BLEND_ENOMEM. (jansson does not always tell
 * memory exhaustion inside its parser from bad syntax, so that case may come back as a syntax
 * error at "$".)
 */
BLEND_MUST_USE int blend_provision_parse(const char *bytes, size_t len, const char *source_name,
                                         struct blend_provision **out,
                                         struct blend_provision_errors *errs);

/* Same as blend_provision_parse() for a document the caller already parsed (root borrowed,
 * e.g. an API request body parsed with JSON_REJECT_DUPLICATES); no size check. */
BLEND_MUST_USE int blend_provision_parse_json(const json_t *root, const char *source_name,
                                              struct blend_provision **out,
                                              struct blend_provision_errors *errs);

/*
 * Builds one write applying the document: UPSERT ops in dependency order (skills, calendars,
 * queues with overflow targets before the queues that overflow into them, users, agents,
 * entry points), then a CREATE per contact none of whose identities exists. The write's source
 * is "provision <source_name>"; the caller sets actor/actor_id before submitting. On success
 * writes the owned write to *out and returns 0; otherwise returns the hook's error,
 * BLEND_ESTATE (a hook the document needs is NULL), BLEND_ELIMIT or BLEND_ENOMEM, and *out is
 * untouched. Ops carry no pointer into p: p may be destroyed before the write is submitted.
 */
BLEND_MUST_USE int blend_provision_build(const struct blend_provision *p,
                                         const struct blend_provision_env *env,
                                         struct blend_write **out);

/* Frees a parsed document (NULL is allowed). */
void blend_provision_destroy(struct blend_provision *p);

/* Counts of the parsed document's sections, in document order: skills, calendars, queues,
 * users, agents, entry_points, contacts. */
size_t blend_provision_count(const struct blend_provision *p, const char *section);

/*
 * A user_exists hook over the store (arg: struct blend_store *). Reads, so it must run on the
 * thread that opened the store.
 */
int blend_provision_store_user_exists(const char *username, void *store);
/* An identity_exists hook over the store (arg: struct blend_store *); same thread rule. */
int blend_provision_store_identity_exists(const char *kind, const char *value, void *store);

/* Writes "path: message" lines for every error (and "... and N more") to a caller buffer, for
 * CLI output. Returns the length written (truncated to cap - 1). */
size_t blend_provision_errors_format(const struct blend_provision_errors *errs, char *out,
                                     size_t cap);

#endif
