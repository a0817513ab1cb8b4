/*
 * The domain model as data: every provisioned entity (users, agents, skills, queues, calendars,
 * entry points, contacts, ...) is described by a struct blend_resource listing its fields, their
 * JSON names, SQL columns, types, limits and flags. One description drives input validation (API
 * bodies and provisioning files), the store's SQL, and JSON output, so the three never disagree.
 *
 * Documents are jansson objects. A "normalized" document is one that passed
 * blend_model_validate(): known fields only, types and ranges checked, defaults filled in (on
 * create), references still given by the target's natural key (a skill's name), which the store
 * resolves to ids inside its transaction.
 *
 * This layer is pure: no I/O, no clock.
 */
#ifndef BLEND_MODEL_MODEL_H
#define BLEND_MODEL_MODEL_H

#include "base/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum blend_field_type {
    BLEND_FT_STRING,   /* UTF-8 text, length in bytes within [min, max] */
    BLEND_FT_INT,      /* integer within [min, max] */
    BLEND_FT_BOOL,     /* true / false */
    BLEND_FT_ENUM,     /* one string of `values` */
    BLEND_FT_SET,      /* JSON array of distinct strings of `values`; stored as comma-joined text */
    BLEND_FT_REF,      /* natural key (string) of a row of `ref`; stored as its integer id */
    BLEND_FT_JSON,     /* any JSON object; stored as JSON text */
    BLEND_FT_TIME,     /* "HH:MM" (00:00..24:00) */
    BLEND_FT_DATE,     /* "YYYY-MM-DD", a real calendar date */
    BLEND_FT_CHILDREN, /* JSON array of objects described by `child`; stored in the child table */
};

enum blend_field_flags {
    BLEND_FF_REQUIRED = 1 << 0,   /* must be present on create */
    BLEND_FF_UNIQUE = 1 << 1,     /* unique across the table (the store enforces it) */
    BLEND_FF_WRITE_ONLY = 1 << 2, /* accepted on input, never output (secrets) */
    BLEND_FF_INTERNAL = 1 << 3,   /* set by the server only: refused on input, never output */
    BLEND_FF_READ_ONLY = 1 << 4,  /* output only (created_at); refused on input */
    BLEND_FF_PII = 1 << 5,        /* personal data: reading a resource with it is audited */
    BLEND_FF_NULLABLE = 1 << 6,   /* JSON null is accepted and stored as NULL */
};

struct blend_resource;
struct blend_field_errors;

struct blend_field {
    const char *name;   /* JSON name; "group.name" nests one level ("capacity.voice") */
    const char *column; /* SQL column (NULL for CHILDREN) */
    enum blend_field_type type;
    unsigned flags;               /* enum blend_field_flags */
    int64_t min, max;             /* INT: value range; STRING: byte length range */
    const char *const *values;    /* ENUM/SET: NULL-terminated list of allowed strings */
    const struct blend_resource *ref;   /* REF: target resource */
    const struct blend_resource *child; /* CHILDREN: child resource (has parent_column) */
    const char *default_json;     /* default on create, as JSON text; NULL = none */
    /* Extra check for a value that already has the right type: returns 0, or writes a message
     * (at most errlen bytes) and returns BLEND_EINVAL. */
    int (*check)(const json_t *value, char *err, size_t errlen);
};

struct blend_resource {
    const char *name;          /* plural, URL segment and event prefix: "agents" */
    const char *singular;      /* "agent" */
    const char *table;         /* SQL table */
    const char *key;           /* JSON name of the natural key field (unique), or NULL */
    const char *parent_column; /* child resources only: column holding the parent's id */
    const struct blend_field *fields;
    size_t fields_count;
    unsigned is_versioned : 1; /* has id, version, created_at, updated_at columns */
    /* Rules across fields, run on a document whose fields all passed (a flow's graph); adds
     * field errors to `errs`. NULL = none. */
    void (*check_doc)(const json_t *doc, int is_create, struct blend_field_errors *errs);
};

/* Every top-level resource, NULL-terminated, and lookup by plural name. */
extern const struct blend_resource *const blend_resources[];
const struct blend_resource *blend_resource_find(const char *name);
const struct blend_field *blend_resource_field(const struct blend_resource *res, const char *name);

/* The resources, for direct reference. */
extern const struct blend_resource blend_res_users;
extern const struct blend_resource blend_res_api_tokens;
extern const struct blend_resource blend_res_skills;
extern const struct blend_resource blend_res_agents;
extern const struct blend_resource blend_res_calendars;
extern const struct blend_resource blend_res_queues;
extern const struct blend_resource blend_res_entry_points;
extern const struct blend_resource blend_res_contacts;
extern const struct blend_resource blend_res_interactions;
extern const struct blend_resource blend_res_messages;
extern const struct blend_resource blend_res_recordings;
extern const struct blend_resource blend_res_flows;

/* ---- Validation --------------------------------------------------------------------------- */

enum blend_validate_mode {
    BLEND_VALIDATE_CREATE, /* all required fields, defaults filled in */
    BLEND_VALIDATE_PATCH,  /* only the fields given; a CHILDREN field replaces the whole list */
};

/* One field-level error: where (a JSON path such as "skills[2].proficiency", relative to the
 * document) and what. */
struct blend_field_error {
    char path[128];
    char message[192];
};

/* A bounded list of field errors; validation goes on after the first error so the client sees
 * all of them (up to `count_max`; `count_total` counts every one found). */
#define BLEND_FIELD_ERRORS_MAX 32
struct blend_field_errors {
    struct blend_field_error items[BLEND_FIELD_ERRORS_MAX];
    size_t count;
    size_t count_total;
};

void blend_field_errors_init(struct blend_field_errors *errs);
/* Appends an error (printf-style message); silently counts beyond the maximum. */
void blend_field_errors_add(struct blend_field_errors *errs, const char *path, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

/*
 * Validates `input` (borrowed) against `res`. On success writes an owned normalized document to
 * *doc_out and returns 0. On failure returns BLEND_EINVAL with `errs` filled, and *doc_out is
 * untouched. `allow_internal` admits BLEND_FF_INTERNAL fields (server code only, never clients).
 */
BLEND_MUST_USE int blend_model_validate(const struct blend_resource *res, const json_t *input,
                                        enum blend_validate_mode mode, int allow_internal,
                                        json_t **doc_out, struct blend_field_errors *errs);

/* Removes WRITE_ONLY and INTERNAL fields (recursively into children) from a document, in
 * place, before it leaves the server. */
void blend_model_redact(const struct blend_resource *res, json_t *doc);

/* Returns 1 when the resource (or one of its children) has a BLEND_FF_PII field. */
int blend_model_has_pii(const struct blend_resource *res);

#endif
