/*
 * The store: Blend's durable state and its append-only event log, behind an interface that says
 * nothing of the database under it (SQLite now, PostgreSQL later).
 *
 * Threads. Writes go through one writer thread: callers submit a struct blend_write, the writer
 * folds every write waiting into one transaction (group commit), makes it durable (fsync) and
 * only then reports each write's result. Results are delivered on the thread that calls
 * blend_store_dispatch(): the writer calls the `notify` hook (from the writer thread) when
 * results are ready, and the owner (the main loop) calls blend_store_dispatch() in response.
 * Reads run on the calling thread on a read connection of its own, and must all be made from
 * one thread (the one that opened the store).
 *
 * Each write is atomic on its own: if one write of a batch fails, only that write is undone and
 * reported failed; the others of the batch commit.
 *
 * Every resource change appends an event "<resources>.created|updated|deleted", named by the
 * resource's plural name (type "skills.created", subject "skills/7"), whose data is the redacted
 * document after the change, or for a delete the redacted document as it was before. When the
 * write names an actor (actor[0] != 0) the change also adds an audit entry: action "create",
 * "update" or "delete", detail {"fields":[names]} (the stored fields given on create, the fields
 * whose value changed on update; names only, never values) and NULL for a delete. Event and
 * audit entry are in the same transaction as the change. An op that changes nothing (UPSERT or
 * UPDATE with the stored values) keeps the version and appends neither event nor audit entry.
 * Deleting a row also deletes the rows whose foreign key cascades (a user's api_tokens); those
 * cascaded deletes append no event of their own.
 */
#ifndef BLEND_STORE_STORE_H
#define BLEND_STORE_STORE_H

#include "base/error.h"
#include "model/model.h"

#include <jansson.h>
#include <stdint.h>

struct blend_store;

struct blend_store_config {
    /* "sqlite:PATH" or a bare path to the SQLite file (created with its directory if missing).
     * ":memory:" is refused: the writer and readers need one shared file. */
    const char *url;
    /* Writes folded into one transaction at most (1 disables group commit; bench only). */
    int batch_max;
    /* Called from the writer thread whenever results wait for blend_store_dispatch(). May be
     * NULL for callers that only use blend_store_write_sync(). */
    void (*notify)(void *arg);
    void *notify_arg;
};

enum blend_op_kind {
    BLEND_OP_CREATE, /* insert; fails BLEND_EEXIST on a duplicate unique field */
    BLEND_OP_UPDATE, /* patch row `id` with the fields present in doc; when every value equals
                        the stored one: changed = 0, version kept, no event, no audit */
    BLEND_OP_DELETE, /* delete row `id`; BLEND_ECONFLICT while a restricting reference still
                        points at it; rows whose reference cascades (tokens) go with it */
    BLEND_OP_UPSERT, /* by natural key: create, or update when the stored row differs; no change
                        (and no event) when it is the same (idempotent provisioning) */
    BLEND_OP_EVENT,  /* append the event given in `event_type`/`subject`/`doc` only; at most
                        BLEND_STORE_EVENTS_PER_WRITE_MAX of them per write */
    BLEND_OP_AUDIT,  /* add an audit entry only (no event): action in `event_type`, resource
                        name in `subject`, row id in `id`, detail in `doc` (may be NULL); the
                        actor is the write's. Used by blend_store_audit_read() */
};

struct blend_write_op {
    enum blend_op_kind kind;
    const struct blend_resource *res; /* NULL for BLEND_OP_EVENT and BLEND_OP_AUDIT */
    int64_t id;                       /* UPDATE/DELETE: target row */
    int64_t if_version;  /* UPDATE/DELETE: expected version; 0 = unchecked. A mismatch fails the
                            op with BLEND_ECONFLICT and error_field "version" */
    json_t *doc;         /* owned: normalized document, or event data */
    char event_type[48]; /* BLEND_OP_EVENT: e.g. "agent.state"; AUDIT: action */
    char subject[64];    /* BLEND_OP_EVENT: e.g. "agents/3"; AUDIT: resource */
    /* CREATE/UPSERT/UPDATE: when ref_field is set, doc[ref_field] becomes the id of the row an
     * earlier op of the same write (ops[ref_op], ref_op < this op's index) created or updated,
     * just before this op runs: rows that refer to each other go in one transaction (a message
     * and the interaction it opens). */
    int ref_op;
    char ref_field[32];

    /* Results, set by the writer. */
    int rc;                /* this op's result */
    int64_t id_out;        /* id of the created/updated/deleted row */
    int64_t version_out;   /* version after the change */
    int changed;           /* 0 when an UPSERT or UPDATE found nothing to change */
    json_t *result;        /* owned: document after the change (redacted), or NULL (delete) */
    char error_field[128]; /* on EEXIST/EINVAL/ECONFLICT: the field at fault, if known
                              ("skills[1].skill"; "version" on a version conflict) */
    char error_detail[192];
};

struct blend_write;
typedef void (*blend_write_cb)(struct blend_write *w, void *arg);

struct blend_write {
    struct blend_write_op *ops; /* owned array */
    int ops_count;
    int ops_cap;
    /* Who asked, for the audit log: user id (0 = the system) and a label ("admin", "cli"). */
    int64_t actor_id;
    char actor[64];
    char source[64]; /* e.g. "api 127.0.0.1", "provision examples/demo.json" */

    /* Results. */
    int rc;            /* 0, or the first failing op's code (then nothing was written) */
    int failed_op;     /* index of that op, -1 when rc == 0 */
    int64_t first_seq; /* event sequence numbers appended by this write (0 when none) */
    int64_t last_seq;
    double commit_ms; /* time from the transaction's start to durable commit */

    blend_write_cb cb;
    void *cb_arg;
    struct blend_write *next; /* queue link, store-owned while submitted */
};

/* Allocates an empty write. Returns NULL when memory is exhausted. */
struct blend_write *blend_write_create(void);
/* Frees the write, its ops and their documents. */
void blend_write_destroy(struct blend_write *w);
/* Appends an op and returns it zeroed but for kind/res/doc (NULL on ENOMEM or over
 * BLEND_STORE_EVENTS_PER_WRITE_MAX * 64 ops). `doc` is taken in every case: on failure it is
 * freed. The returned pointer points into w's op array, which the next add may move: it is valid
 * only until the next blend_write_add() on w (reach earlier ops as w->ops[i]). */
struct blend_write_op *blend_write_add(struct blend_write *w, enum blend_op_kind kind,
                                       const struct blend_resource *res, json_t *doc);

/* Opens (creating if needed) and migrates the store, then starts the writer thread. */
BLEND_MUST_USE int blend_store_open(const struct blend_store_config *cfg,
                                    struct blend_store **store_out);
/* Finishes every submitted write (results are dispatched), stops the writer, closes. */
void blend_store_close(struct blend_store *s);

/* Queues a write; `cb` runs later from blend_store_dispatch() with w->rc set. The store owns
 * `w` until the callback, which must destroy it (or keep it). On failure nothing is queued and
 * the caller keeps `w`: BLEND_EINVAL for a write without ops, BLEND_ELIMIT when the write holds
 * more than BLEND_STORE_EVENTS_PER_WRITE_MAX BLEND_OP_EVENT ops or BLEND_STORE_QUEUE_MAX writes
 * already wait, BLEND_ECLOSED after close began. */
BLEND_MUST_USE int blend_store_submit(struct blend_store *s, struct blend_write *w,
                                      blend_write_cb cb, void *arg);
/* Submits and waits until the write is durable; w->cb is not used. Returns w->rc, or the
 * submit errors above (then nothing ran). For the CLI, tests and start-up; never from the main
 * loop once it runs. */
BLEND_MUST_USE int blend_store_write_sync(struct blend_store *s, struct blend_write *w);
/* Runs the callbacks of finished writes on the calling thread. Returns how many ran. */
int blend_store_dispatch(struct blend_store *s);

/* ---- Reads (on the opening thread) -------------------------------------------------------- */

/* Returns the document of row `id` (children included, REFs as natural keys, id and version
 * included) in *doc_out, owned. Redacted unless `include_internal`. BLEND_ENOENT when absent. */
BLEND_MUST_USE int blend_store_get(struct blend_store *s, const struct blend_resource *res,
                                   int64_t id, int include_internal, json_t **doc_out);
/* Same, by a unique field's value (e.g. "username" = "alice"). */
BLEND_MUST_USE int blend_store_find(struct blend_store *s, const struct blend_resource *res,
                                    const char *field, const char *value, int include_internal,
                                    json_t **doc_out);
/* The first row (lowest id) whose field equals value, for a field that is not unique (e.g. a
 * message's Message-ID); redacted as lists are. Filter rules and errors of blend_store_list;
 * BLEND_ENOENT when none. */
BLEND_MUST_USE int blend_store_find_first(struct blend_store *s, const struct blend_resource *res,
                                          const char *field, const char *value, json_t **doc_out);
/* Same, for the row of `res` that has a child, in CHILDREN field `children_field`, whose fields
 * equal every member of `match` (borrowed), e.g. the contact with identity
 * {"kind":"phone","value":"+821012345678"}. match is a non-empty object; each key is a stored
 * field of the child descriptor that is not REF, CHILDREN, SET, JSON or WRITE_ONLY, and each
 * value a string (STRING, ENUM, TIME, DATE), an integer (INT) or a boolean (BOOL) of the field's
 * type. When several rows match, the one with the lowest id. BLEND_EINVAL for an unknown or
 * refused field or value, BLEND_ENOENT when no row matches. */
BLEND_MUST_USE int blend_store_find_by_child(struct blend_store *s,
                                             const struct blend_resource *res,
                                             const char *children_field, const json_t *match,
                                             int include_internal, json_t **doc_out);

struct blend_list_query {
    int64_t after_id;         /* keyset cursor: rows with id > after_id (0 = from the start) */
    int limit;                /* 1..BLEND_API_PAGE_MAX */
    const char *filter_field; /* optional equality filter on a non-children field */
    const char *filter_value;
};
/* Lists rows in id order. *items_out: owned JSON array of documents (redacted);
 * *next_after_out: cursor for the next page, 0 when this was the last. */
BLEND_MUST_USE int blend_store_list(struct blend_store *s, const struct blend_resource *res,
                                    const struct blend_list_query *q, json_t **items_out,
                                    int64_t *next_after_out);

/* Rows of `res` whose `field` (an INT field, or a REF to a resource without a key: compared as
 * the row id) is one of values[0..values_count), 1..BLEND_STORE_IN_VALUES_MAX of them, newest
 * first by (created_at, id). With before_created_at non-NULL only rows strictly older than the
 * keyset position (before_created_at, before_id). At most `limit` (1..BLEND_API_PAGE_MAX) rows
 * in *items_out (owned, redacted); *has_more_out is 1 when older rows remain. A timeline page
 * reads only its own rows through an index on (field's column, created_at, id). BLEND_EINVAL
 * for a field or arguments that do not fit. */
#define BLEND_STORE_IN_VALUES_MAX 64
BLEND_MUST_USE int blend_store_list_newest(struct blend_store *s, const struct blend_resource *res,
                                           const char *field, const int64_t *values,
                                           size_t values_count, const char *before_created_at,
                                           int64_t before_id, int limit, json_t **items_out,
                                           int *has_more_out);

/* Events with seq > after_seq, oldest first, at most `limit`. Each item:
 * {"seq":N,"ts":"RFC 3339 UTC","type":"...","subject":"...","actor":"...","data":{...}}. */
BLEND_MUST_USE int blend_store_events(struct blend_store *s, int64_t after_seq, int limit,
                                      json_t **events_out);
/* Highest committed sequence number (0 when the log is empty). */
int64_t blend_store_last_seq(struct blend_store *s);

/* Audit entries with id > after_id, oldest first (same paging as lists). Each item:
 * {"id":N,"ts":"...","actor_id":N,"actor":"...","source":"...","action":"...",
 *  "resource":"...","resource_id":N,"detail":{...}}. */
BLEND_MUST_USE int blend_store_audit_list(struct blend_store *s, int64_t after_id, int limit,
                                          json_t **items_out, int64_t *next_after_out);
/* The same newest first: entries with id < before_id (0: from the newest); *next_before_out is
 * the cursor of the next (older) page, 0 when this was the last. */
BLEND_MUST_USE int blend_store_audit_list_desc(struct blend_store *s, int64_t before_id,
                                               int limit, json_t **items_out,
                                               int64_t *next_before_out);
/* Adds an audit entry (action "read") for a read of personal data, as one BLEND_OP_AUDIT write
 * through the writer, not waited for. resource e.g. "contacts" (non-empty, else BLEND_EINVAL),
 * detail may be NULL (borrowed, copied). Submit errors as blend_store_submit(). */
BLEND_MUST_USE int blend_store_audit_read(struct blend_store *s, int64_t actor_id,
                                          const char *actor, const char *source,
                                          const char *resource, int64_t resource_id,
                                          const json_t *detail);

/* Store figures for /metrics. */
struct blend_store_stats {
    uint64_t commits;
    uint64_t writes;
    uint64_t write_errors;
    uint64_t queue_depth;
    /* Commit latency histogram, milliseconds, cumulative counts per upper bound. */
    double commit_ms_sum;
    uint64_t commit_ms_buckets[12]; /* bounds: blend_store_commit_ms_bounds */
};
extern const double blend_store_commit_ms_bounds[12];
void blend_store_stats(struct blend_store *s, struct blend_store_stats *out);

#endif
