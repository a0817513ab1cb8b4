/*
 * Declarative provisioning (see provision.h for the contract, docs/provisioning.md for the
 * format). Parsing validates every item with blend_model_validate() and keeps the normalized
 * documents; building turns them into one store write of UPSERT ops in dependency order.
 *
 * Invariants: a struct blend_provision only exists for a document that passed every check, so
 * build never reports a validation problem; errors carry absolute paths from "$"; the queue
 * order is a topological order of the overflow references inside the document (computed without
 * recursion: each queue has at most one overflow target, so following chains is a linear walk);
 * every limit is named in provision.h.
 */
#include "provision/provision.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "model/canned.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The document's sections, in the order their ops are built (dependencies first). */
enum section {
    SEC_SKILLS,
    SEC_CALENDARS,
    SEC_QUEUES,
    SEC_USERS,
    SEC_AGENTS,
    SEC_FLOWS,
    SEC_ENTRY_POINTS,
    SEC_CANNED_RESPONSES,
    SEC_CONTACTS,
    SEC_COUNT,
};

static const struct {
    const char *name;
    const struct blend_resource *res;
} sections[SEC_COUNT] = {
    [SEC_SKILLS] = {"skills", &blend_res_skills},
    [SEC_CALENDARS] = {"calendars", &blend_res_calendars},
    [SEC_QUEUES] = {"queues", &blend_res_queues},
    [SEC_USERS] = {"users", &blend_res_users},
    [SEC_AGENTS] = {"agents", &blend_res_agents},
    [SEC_FLOWS] = {"flows", &blend_res_flows},
    [SEC_ENTRY_POINTS] = {"entry_points", &blend_res_entry_points},
    [SEC_CANNED_RESPONSES] = {"canned_responses", &blend_res_canned_responses},
    [SEC_CONTACTS] = {"contacts", &blend_res_contacts},
};

/* The only format version so far. */
#define FORMAT_VERSION 1
/* Longest source name kept for the audit source ("provision <name>" fits struct blend_write). */
#define SOURCE_BYTES_MAX 48

struct blend_provision {
    char source[SOURCE_BYTES_MAX];
    json_t *items[SEC_COUNT]; /* owned arrays of normalized documents (NULL: section absent) */
    json_t *user_resets;      /* owned array of booleans, one per user: "password_reset" */
    size_t *queue_order;      /* owned: queue indices, overflow targets first */
};

/* ---- Errors ------------------------------------------------------------------------------- */

static void err_add(struct blend_provision_errors *errs, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_add(struct blend_provision_errors *errs, const char *path, const char *fmt, ...)
{
    errs->count_total++;
    if (errs->count >= BLEND_PROVISION_ERRORS_MAX) {
        return;
    }
    struct blend_provision_error *e = &errs->items[errs->count++];
    snprintf(e->path, sizeof e->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* Copies a resource's field errors under the item's absolute path prefix ("$.queues[2]"). */
static void err_import(struct blend_provision_errors *errs, const char *prefix,
                       const struct blend_field_errors *ferrs)
{
    for (size_t i = 0; i < ferrs->count; i++) {
        char path[sizeof errs->items[0].path];
        const char *rel = ferrs->items[i].path;
        snprintf(path, sizeof path, "%s%s%s", prefix, rel[0] ? "." : "", rel);
        err_add(errs, path, "%s", ferrs->items[i].message);
    }
    /* Errors the field list only counted are counted here too. */
    errs->count_total += ferrs->count_total - ferrs->count;
}

size_t blend_provision_errors_format(const struct blend_provision_errors *errs, char *out,
                                     size_t cap)
{
    BLEND_ASSERT(errs && out && cap > 0);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < errs->count && len < cap - 1; i++) {
        int n =
            snprintf(out + len, cap - len, "%s: %s\n", errs->items[i].path, errs->items[i].message);
        len += n < 0 ? 0 : (size_t)n;
    }
    if (errs->count_total > errs->count && len < cap - 1) {
        int n =
            snprintf(out + len, cap - len, "... and %zu more\n", errs->count_total - errs->count);
        len += n < 0 ? 0 : (size_t)n;
    }
    return len < cap ? len : cap - 1;
}

/* ---- Parsing ------------------------------------------------------------------------------ */

/* Per-section state while parsing: first index of each key and unique value seen. */
struct seen {
    json_t *keys;   /* key value -> index of its first item */
    json_t *unique; /* "field=value" -> index of its first item */
};

/* Records value under table; reports a duplicate at path when it was seen before. */
static int note_unique(struct blend_provision_errors *errs, json_t *table, const char *id,
                       size_t index, const char *section, const char *path, const char *what)
{
    json_t *first = json_object_get(table, id);
    if (first) {
        err_add(errs, path, "duplicate %s (also at $.%s[%lld])", what, section,
                (long long)json_integer_value(first));
        return 0;
    }
    json_t *v = json_integer((json_int_t)index);
    if (!v || json_object_set_new(table, id, v) != 0) {
        return BLEND_ENOMEM;
    }
    return 0;
}

/* Checks a valid item's key and unique fields against the earlier items of its section. */
static int check_duplicates(enum section s, const json_t *doc, size_t index, struct seen *seen,
                            struct blend_provision_errors *errs)
{
    const struct blend_resource *res = sections[s].res;
    char path[sizeof errs->items[0].path];
    char id[BLEND_FIELD_STRING_BYTES_MAX + 80];
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        const json_t *v = json_object_get(doc, f->name);
        if (!(f->flags & BLEND_FF_UNIQUE) || !json_is_string(v)) {
            continue;
        }
        snprintf(path, sizeof path, "$.%s[%zu].%s", sections[s].name, index, f->name);
        int is_key = res->key && strcmp(res->key, f->name) == 0;
        snprintf(id, sizeof id, "%s=%s", f->name, json_string_value(v));
        char what[96];
        snprintf(what, sizeof what, "%s \"%.48s\"", f->name, json_string_value(v));
        int rc =
            note_unique(errs, is_key ? seen->keys : seen->unique,
                        is_key ? json_string_value(v) : id, index, sections[s].name, path, what);
        if (rc != 0) {
            return rc;
        }
    }
    if (s != SEC_ENTRY_POINTS) {
        return 0;
    }
    /* An entry point is unique by (channel, address): one number reaches one entry point. */
    snprintf(path, sizeof path, "$.entry_points[%zu].address", index);
    snprintf(id, sizeof id, "address=%s:%s", json_string_value(json_object_get(doc, "channel")),
             json_string_value(json_object_get(doc, "address")));
    return note_unique(errs, seen->unique, id, index, "entry_points", path, "channel and address");
}

/* A shallow copy of an object without one key; NULL on ENOMEM. (json_copy() would do, but it
 * ignores allocation failures and may return a copy with keys missing.) */
static json_t *copy_without(const json_t *obj, const char *skip)
{
    json_t *copy = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (copy && strcmp(key, skip) != 0 && json_object_set(copy, key, v) != 0) {
            json_decref(copy);
            copy = NULL;
        }
    }
    return copy;
}

/* Section-specific input keys and rules that the resource descriptor does not know. Returns the
 * input to validate (owned), or NULL on ENOMEM. */
static json_t *pre_validate(enum section s, const json_t *item, const char *prefix, json_t *resets,
                            struct blend_provision_errors *errs)
{
    if (s != SEC_USERS) {
        return json_incref((json_t *)item);
    }
    json_t *in = copy_without(item, "password_reset");
    if (!in) {
        return NULL;
    }
    /* "password_reset" belongs to the provisioning format, not to the user resource. */
    const json_t *reset = json_object_get(item, "password_reset");
    int is_reset = 0;
    if (reset && !json_is_boolean(reset)) {
        char path[sizeof errs->items[0].path];
        snprintf(path, sizeof path, "%s.password_reset", prefix);
        err_add(errs, path, "expected a boolean");
    } else if (json_is_true(reset)) {
        is_reset = 1;
        if (!json_object_get(in, "password")) {
            char path[sizeof errs->items[0].path];
            snprintf(path, sizeof path, "%s.password_reset", prefix);
            err_add(errs, path, "a password reset needs a password");
        }
    }
    if (json_array_append_new(resets, json_boolean(is_reset)) != 0) {
        json_decref(in);
        return NULL;
    }
    return in;
}

/* Contacts have no natural key: provisioning finds them by identity, so one is required. */
static void post_validate(enum section s, const json_t *doc, const char *prefix,
                          struct blend_provision_errors *errs)
{
    if (s == SEC_CONTACTS && json_array_size(json_object_get(doc, "identities")) == 0) {
        char path[sizeof errs->items[0].path];
        snprintf(path, sizeof path, "%s.identities", prefix);
        err_add(errs, path, "a provisioned contact needs at least one identity");
    }
}

static int parse_item(struct blend_provision *p, enum section s, const json_t *item, size_t index,
                      struct seen *seen, struct blend_provision_errors *errs)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "$.%s[%zu]", sections[s].name, index);
    if (!json_is_object(item)) {
        err_add(errs, prefix, "expected an object");
        return json_array_append_new(p->items[s], json_null()) == 0 ? 0 : BLEND_ENOMEM;
    }
    json_t *in = pre_validate(s, item, prefix, p->user_resets, errs);
    if (!in) {
        return BLEND_ENOMEM;
    }
    struct blend_field_errors ferrs;
    json_t *doc = NULL;
    int rc = blend_model_validate(sections[s].res, in, BLEND_VALIDATE_CREATE, 0, &doc, &ferrs);
    json_decref(in);
    if (rc == BLEND_EINVAL) {
        err_import(errs, prefix, &ferrs);
        /* Keep the slot so later indices stay aligned with the document. */
        return json_array_append_new(p->items[s], json_null()) == 0 ? 0 : BLEND_ENOMEM;
    }
    if (rc != 0) {
        return rc;
    }
    post_validate(s, doc, prefix, errs);
    rc = check_duplicates(s, doc, index, seen, errs);
    if (rc == 0 && json_array_append_new(p->items[s], doc) != 0) {
        return BLEND_ENOMEM;
    }
    if (rc != 0) {
        json_decref(doc);
    }
    return rc;
}

static int parse_section(struct blend_provision *p, enum section s, const json_t *arr,
                         struct blend_provision_errors *errs)
{
    if (!json_is_array(arr)) {
        char path[64];
        snprintf(path, sizeof path, "$.%s", sections[s].name);
        err_add(errs, path, "expected an array");
        return 0;
    }
    p->items[s] = json_array();
    struct seen seen = {json_object(), json_object()};
    int rc = p->items[s] && seen.keys && seen.unique ? 0 : BLEND_ENOMEM;
    for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
        rc = parse_item(p, s, json_array_get(arr, i), i, &seen, errs);
    }
    json_decref(seen.keys);
    json_decref(seen.unique);
    return rc;
}

/* Checks the root object's own keys: the version and no unknown section. */
static int parse_root_keys(const json_t *root, struct blend_provision_errors *errs)
{
    const json_t *version = json_object_get(root, "version");
    if (!version) {
        err_add(errs, "$.version", "required field");
    } else if (!json_is_integer(version) || json_integer_value(version) != FORMAT_VERSION) {
        err_add(errs, "$.version", "unsupported version (this server reads version %d)",
                FORMAT_VERSION);
    }
    size_t items = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        int known = strcmp(key, "version") == 0;
        for (int s = 0; s < SEC_COUNT && !known; s++) {
            if (strcmp(key, sections[s].name) == 0) {
                known = 1;
                items += json_array_size(v);
            }
        }
        if (!known) {
            char path[sizeof errs->items[0].path];
            snprintf(path, sizeof path, "$.%s", key);
            err_add(errs, path, "unknown key");
        }
    }
    if (items > BLEND_PROVISION_ITEMS_MAX) {
        err_add(errs, "$", "too many resources: %zu (at most %d in one document)", items,
                BLEND_PROVISION_ITEMS_MAX);
        return BLEND_ELIMIT;
    }
    return 0;
}

/* ---- Queue overflow order ----------------------------------------------------------------- */

/* Index of the queue named name in the document, or -1. */
static long queue_index(const json_t *queues, const char *name)
{
    for (size_t i = 0; i < json_array_size(queues); i++) {
        const json_t *q = json_array_get(queues, i);
        if (strcmp(json_string_value(json_object_get(q, "name")), name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Reports the cycle through queue `again` (found again while walking overflow targets). */
static void report_cycle(const json_t *queues, const long *target, long again,
                         struct blend_provision_errors *errs)
{
    char chain[160] = "";
    size_t len = 0;
    long i = again;
    do {
        const char *name = json_string_value(json_object_get(json_array_get(queues, i), "name"));
        int n = snprintf(chain + len, sizeof chain - len, "%s -> ", name);
        len += n > 0 ? (size_t)n : 0;
        i = target[i];
    } while (i != again && len < sizeof chain);
    const char *name = json_string_value(json_object_get(json_array_get(queues, again), "name"));
    if (len < sizeof chain) {
        snprintf(chain + len, sizeof chain - len, "%s", name);
    }
    char path[64];
    snprintf(path, sizeof path, "$.queues[%ld].overflow_queue", again);
    err_add(errs, path, "overflow cycle: %s", chain);
}

/* Orders the queues so each comes after the queue it overflows into (when that queue is in the
 * document); refuses cycles. Each queue has at most one target, so the walk is linear. */
static int order_queues(struct blend_provision *p, struct blend_provision_errors *errs)
{
    const json_t *queues = p->items[SEC_QUEUES];
    size_t n = json_array_size(queues);
    p->queue_order = blend_calloc(n ? n : 1, sizeof *p->queue_order);
    long *target = blend_calloc(n ? n : 1, sizeof *target);
    unsigned char *state = blend_calloc(n ? n : 1, 1); /* 0 new, 1 on the walk, 2 placed */
    long *walk = blend_calloc(n ? n : 1, sizeof *walk);
    int rc = p->queue_order && target && state && walk ? 0 : BLEND_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *to = json_object_get(json_array_get(queues, i), "overflow_queue");
        target[i] = json_is_string(to) ? queue_index(queues, json_string_value(to)) : -1;
    }
    size_t placed = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t depth = 0;
        long j = (long)i;
        while (j >= 0 && state[j] == 0) {
            state[j] = 1;
            walk[depth++] = j;
            j = target[j];
        }
        if (j >= 0 && state[j] == 1) {
            report_cycle(queues, target, j, errs);
        }
        /* Targets first: the walk's end is placed before its start. */
        while (depth > 0) {
            long k = walk[--depth];
            state[k] = 2;
            p->queue_order[placed++] = (size_t)k;
        }
    }
    BLEND_ASSERT(rc != 0 || placed == n);
    blend_free(target);
    blend_free(state);
    blend_free(walk);
    return rc;
}

static int has_invalid_items(const struct blend_provision *p)
{
    for (int s = 0; s < SEC_COUNT; s++) {
        for (size_t i = 0; i < json_array_size(p->items[s]); i++) {
            if (json_is_null(json_array_get(p->items[s], i))) {
                return 1;
            }
        }
    }
    return 0;
}

static int parse_root(struct blend_provision *p, const json_t *root,
                      struct blend_provision_errors *errs)
{
    if (!json_is_object(root)) {
        err_add(errs, "$", "expected an object");
        return 0;
    }
    int rc = parse_root_keys(root, errs);
    for (int s = 0; rc == 0 && s < SEC_COUNT; s++) {
        const json_t *arr = json_object_get(root, sections[s].name);
        if (arr) {
            rc = parse_section(p, (enum section)s, arr, errs);
        }
    }
    /* Queue order needs every queue valid (names known); skip it when some are not. */
    if (rc == 0 && !has_invalid_items(p)) {
        rc = order_queues(p, errs);
    }
    return rc;
}

int blend_provision_parse(const char *bytes, size_t len, const char *source_name,
                          struct blend_provision **out, struct blend_provision_errors *errs)
{
    BLEND_ASSERT(bytes || len == 0);
    BLEND_ASSERT(out && errs);
    errs->count = 0;
    errs->count_total = 0;
    if (len > BLEND_PROVISION_BYTES_MAX) {
        err_add(errs, "$", "document too large: %zu bytes (at most %d)", len,
                BLEND_PROVISION_BYTES_MAX);
        return BLEND_ELIMIT;
    }
    json_error_t jerr;
    json_t *root = json_loadb(bytes ? bytes : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            return BLEND_ENOMEM;
        }
        err_add(errs, "$", "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return BLEND_EINVAL;
    }
    int rc = blend_provision_parse_json(root, source_name, out, errs);
    json_decref(root);
    return rc;
}

int blend_provision_parse_json(const json_t *root, const char *source_name,
                               struct blend_provision **out, struct blend_provision_errors *errs)
{
    BLEND_ASSERT(root && out && errs);
    errs->count = 0;
    errs->count_total = 0;
    struct blend_provision *p = blend_calloc(1, sizeof *p);
    if (p) {
        p->user_resets = json_array();
    }
    int rc = p && p->user_resets ? 0 : BLEND_ENOMEM;
    if (rc == 0) {
        snprintf(p->source, sizeof p->source, "%s", source_name ? source_name : "-");
        rc = parse_root(p, root, errs);
    }
    if (rc == 0 && errs->count_total > 0) {
        rc = BLEND_EINVAL;
    }
    if (rc != 0) {
        blend_provision_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void blend_provision_destroy(struct blend_provision *p)
{
    if (!p) {
        return;
    }
    for (int s = 0; s < SEC_COUNT; s++) {
        json_decref(p->items[s]);
    }
    json_decref(p->user_resets);
    blend_free(p->queue_order);
    blend_free(p);
}

size_t blend_provision_count(const struct blend_provision *p, const char *section)
{
    BLEND_ASSERT(p && section);
    for (int s = 0; s < SEC_COUNT; s++) {
        if (strcmp(section, sections[s].name) == 0) {
            return json_array_size(p->items[s]);
        }
    }
    return 0;
}

/* ---- Building ----------------------------------------------------------------------------- */

/* Removes the fields the store never takes from provisioning: input-only fields (no column),
 * and, when keep_internal is 0, server-owned INTERNAL fields. */
static void strip_fields(const struct blend_resource *res, json_t *doc, int keep_internal)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        int input_only = !f->column && f->type != BLEND_FT_CHILDREN;
        if (input_only || (!keep_internal && (f->flags & BLEND_FF_INTERNAL))) {
            BLEND_ASSERT(!strchr(f->name, '.'));
            json_object_del(doc, f->name);
        }
    }
}

/* A user's upsert document: the password hash only for a new user or a reset (see provision.h),
 * and the internal login counters only for a new user, so a second apply is a no-op. */
static int user_doc(const struct blend_provision *p, size_t index,
                    const struct blend_provision_env *env, json_t **doc_out)
{
    const json_t *doc = json_array_get(p->items[SEC_USERS], index);
    const char *username = json_string_value(json_object_get(doc, "username"));
    const char *password = json_string_value(json_object_get(doc, "password"));
    int is_reset = json_is_true(json_array_get(p->user_resets, index));
    int exists = env->user_exists ? env->user_exists(username, env->arg) : 0;
    if (exists < 0) {
        return exists;
    }
    json_t *copy = json_deep_copy(doc);
    if (!copy) {
        return BLEND_ENOMEM;
    }
    strip_fields(&blend_res_users, copy, !exists);
    int rc = 0;
    if (password && (!exists || is_reset)) {
        char hash[BLEND_PROVISION_HASH_BYTES_MAX];
        hash[0] = '\0';
        rc = env->hash_password ? env->hash_password(password, hash, sizeof hash, env->arg)
                                : BLEND_ESTATE;
        if (rc == 0 && (hash[0] == '\0' || !memchr(hash, '\0', sizeof hash))) {
            rc = BLEND_EINTERNAL; /* the hasher broke its contract */
        }
        if (rc == 0 && json_object_set_new(copy, "password_hash", json_string(hash)) != 0) {
            rc = BLEND_ENOMEM;
        }
    }
    if (rc != 0) {
        json_decref(copy);
        return rc;
    }
    *doc_out = copy;
    return 0;
}

/* Sets *is_new to 1 when none of the contact's identities exists in the store. */
static int contact_is_new(const json_t *doc, const struct blend_provision_env *env, int *is_new)
{
    if (!env->identity_exists) {
        return BLEND_ESTATE;
    }
    const json_t *ids = json_object_get(doc, "identities");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const json_t *id = json_array_get(ids, i);
        int rc = env->identity_exists(json_string_value(json_object_get(id, "kind")),
                                      json_string_value(json_object_get(id, "value")), env->arg);
        if (rc < 0) {
            return rc;
        }
        if (rc > 0) {
            *is_new = 0;
            return 0;
        }
    }
    *is_new = 1;
    return 0;
}

/* Adds the op for item index of section s (or nothing for a contact that exists). */
static int add_op(const struct blend_provision *p, enum section s, size_t index,
                  const struct blend_provision_env *env, struct blend_write *w)
{
    const struct blend_resource *res = sections[s].res;
    const json_t *doc = json_array_get(p->items[s], index);
    enum blend_op_kind kind = BLEND_OP_UPSERT;
    json_t *copy = NULL;
    int rc = 0;
    if (s == SEC_USERS) {
        rc = user_doc(p, index, env, &copy);
    } else if (s == SEC_CONTACTS) {
        int is_new = 0;
        rc = contact_is_new(doc, env, &is_new);
        if (rc != 0 || !is_new) {
            return rc;
        }
        kind = BLEND_OP_CREATE;
    }
    if (rc != 0) {
        return rc;
    }
    if (!copy) {
        copy = json_deep_copy(doc);
        if (!copy) {
            return BLEND_ENOMEM;
        }
        strip_fields(res, copy, 0);
    }
    /* blend_write_add() takes the document, also when it fails. */
    if (!blend_write_add(w, kind, res, copy)) {
        return w->ops_count >= BLEND_PROVISION_ITEMS_MAX ? BLEND_ELIMIT : BLEND_ENOMEM;
    }
    return 0;
}

int blend_provision_build(const struct blend_provision *p, const struct blend_provision_env *env,
                          struct blend_write **out)
{
    BLEND_ASSERT(p && env && out);
    struct blend_write *w = blend_write_create();
    if (!w) {
        return BLEND_ENOMEM;
    }
    snprintf(w->source, sizeof w->source, "provision %s", p->source);
    int rc = 0;
    for (int s = 0; rc == 0 && s < SEC_COUNT; s++) {
        size_t n = json_array_size(p->items[s]);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            size_t index = s == SEC_QUEUES ? p->queue_order[i] : i;
            rc = add_op(p, (enum section)s, index, env, w);
        }
    }
    if (rc != 0) {
        blend_write_destroy(w);
        return rc;
    }
    *out = w;
    return 0;
}

int blend_provision_store_user_exists(const char *username, void *store)
{
    BLEND_ASSERT(username && store);
    json_t *doc = NULL;
    int rc = blend_store_find(store, &blend_res_users, "username", username, 0, &doc);
    if (rc == 0) {
        json_decref(doc);
        return 1;
    }
    return rc == BLEND_ENOENT ? 0 : rc;
}

int blend_provision_store_identity_exists(const char *kind, const char *value, void *store)
{
    BLEND_ASSERT(kind && value && store);
    json_t *match = json_pack("{s:s, s:s}", "kind", kind, "value", value);
    if (!match) {
        return BLEND_ENOMEM;
    }
    json_t *doc = NULL;
    int rc = blend_store_find_by_child(store, &blend_res_contacts, "identities", match, 0, &doc);
    json_decref(match);
    if (rc == 0) {
        json_decref(doc);
        return 1;
    }
    return rc == BLEND_ENOENT ? 0 : rc;
}
