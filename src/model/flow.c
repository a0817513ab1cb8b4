/*
 * The IVR flow loader: a JSON flow document to a linked struct blend_ivr_flow. Each node type
 * has a list of the fields it accepts; every other field is an error, so a typo never silently
 * changes a call. All errors are collected (bounded by struct blend_field_errors) with their JSON
 * paths. Invariants: the walk follows the document's fixed shape (flow -> nodes -> node ->
 * options/cases/vars/questions), never recursing on input; strings are copied into the flow's
 * fixed-size fields only after their length is checked, so nothing is ever truncated silently.
 */
#include "model/flow.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <stdio.h>
#include <string.h>

#define PATH_BYTES 128

struct ctx {
    struct blend_field_errors *errs;
    char base[PATH_BYTES]; /* "nodes.<name>" of the node being loaded */
};

static void err(struct ctx *c, const char *field, const char *msg)
{
    char path[PATH_BYTES * 2];
    snprintf(path, sizeof path, "%s%s%s", c->base, c->base[0] && field[0] ? "." : "", field);
    blend_field_errors_add(c->errs, path, "%s", msg);
}

/* Copies an optional string field (required when `required`) of at most size-1 bytes. Returns
 * 1 when present and valid. */
static int get_str(struct ctx *c, const json_t *o, const char *key, char *dst, size_t size,
                   int required)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        if (required) {
            err(c, key, "required");
        }
        return 0;
    }
    if (!json_is_string(v)) {
        err(c, key, "must be a string");
        return 0;
    }
    size_t len = json_string_length(v);
    if (len >= size || memchr(json_string_value(v), '\0', len)) {
        err(c, key, "too long or contains NUL");
        return 0;
    }
    if (required && len == 0) {
        err(c, key, "must not be empty");
        return 0;
    }
    memcpy(dst, json_string_value(v), len + 1);
    return 1;
}

static void get_int(struct ctx *c, const json_t *o, const char *key, int *dst, int lo, int hi);

/* queue: {"messages": ["text", ...], "message_every_s": N}: both or neither. */
static void load_messages(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    const json_t *list = json_object_get(o, "messages");
    get_int(c, o, "message_every_s", &n->message_every_s, 10, BLEND_IVR_TIMEOUT_S_MAX);
    if (!list) {
        if (n->message_every_s) {
            err(c, "message_every_s", "needs messages");
        }
        return;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > BLEND_IVR_MESSAGES_MAX) {
        err(c, "messages", "must be a list of 1 to 4 texts");
        return;
    }
    if (!n->message_every_s) {
        err(c, "message_every_s", "required with messages");
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *m = json_array_get(list, i);
        size_t len = json_string_length(m);
        if (!json_is_string(m) || len == 0 || len >= BLEND_IVR_TEXT_BYTES ||
            memchr(json_string_value(m), '\0', len)) {
            err(c, "messages", "each message is a text of 1 to 255 bytes");
            return;
        }
        memcpy(n->messages[n->messages_count++], json_string_value(m), len + 1);
    }
}

static void get_int(struct ctx *c, const json_t *o, const char *key, int *dst, int lo, int hi)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        return;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be an integer from %d to %d", lo, hi);
        err(c, key, msg);
        return;
    }
    *dst = (int)json_integer_value(v);
}

static void get_bool(struct ctx *c, const json_t *o, const char *key, int *dst)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        return;
    }
    if (!json_is_boolean(v)) {
        err(c, key, "must be true or false");
        return;
    }
    *dst = json_is_true(v);
}

static int is_key(const char *s)
{
    return strlen(s) == 1 && strchr("0123456789*#", s[0]);
}

/* A single phone key ("0".."9", "*", "#"). */
static void get_key(struct ctx *c, const json_t *o, const char *key, char *dst)
{
    char buf[4] = "";
    if (get_str(c, o, key, buf, sizeof buf, 0)) {
        if (!is_key(buf)) {
            err(c, key, "must be one key: 0-9, * or #");
            return;
        }
        *dst = buf[0];
    }
}

static void get_target(struct ctx *c, const json_t *o, const char *key, struct blend_ivr_target *t)
{
    get_str(c, o, key, t->name, sizeof t->name, 0);
}

/* A value of a set node, a branch case or an http field: a string or an integer, as text. */
static int get_value(struct ctx *c, const char *field, const json_t *v, char *dst, size_t size)
{
    if (json_is_integer(v)) {
        snprintf(dst, size, "%lld", (long long)json_integer_value(v));
        return 1;
    }
    if (!json_is_string(v) || json_string_length(v) >= size ||
        memchr(json_string_value(v), '\0', json_string_length(v))) {
        err(c, field, "must be a string (shorter than 128 bytes) or an integer");
        return 0;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

static const char *const fields_common[] = {"type", NULL};
static const char *const *const node_fields[] = {
    [BLEND_IVR_PLAY] = (const char *const[]){"text", "file", "barge_in", "language", "next", NULL},
    [BLEND_IVR_MENU] = (const char *const[]){"prompt", "options", "timeout_s", "retries", "invalid",
                                             "timeout", "exhausted", "language", NULL},
    [BLEND_IVR_COLLECT] =
        (const char *const[]){"prompt", "min", "max", "terminator", "timeout_s", "validate",
                              "pattern", "mask", "var", "next", "invalid", "timeout", NULL},
    [BLEND_IVR_BRANCH] = (const char *const[]){"cases", "else", NULL},
    [BLEND_IVR_SET] = (const char *const[]){"vars", "next", NULL},
    [BLEND_IVR_HTTP] = (const char *const[]){"url", "timeout_ms", "vars", "next", "failure", NULL},
    [BLEND_IVR_QUEUE] = (const char *const[]){"queue", "announce_every_s", "callback_key",
                                              "voicemail_key", "max_wait_s", "overflow", "after",
                                              "messages", "message_every_s", NULL},
    [BLEND_IVR_VOICEMAIL] = (const char *const[]){"max_s", "queue", "next", NULL},
    [BLEND_IVR_TRANSFER] = (const char *const[]){"number", NULL},
    [BLEND_IVR_SURVEY] = (const char *const[]){"questions", "timeout_s", "next", NULL},
    [BLEND_IVR_HANGUP] = (const char *const[]){NULL},
};

static int listed(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], key) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_fields(struct ctx *c, const json_t *o, enum blend_ivr_node_type type)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        if (!listed(fields_common, key) && !listed(node_fields[type], key)) {
            err(c, key, "unknown field for this node type");
        }
    }
}

static void load_options(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    const json_t *opts = json_object_get(o, "options");
    if (!opts) {
        return;
    }
    if (!json_is_object(opts) || json_object_size(opts) > BLEND_IVR_OPTIONS_MAX) {
        err(c, "options", "must be an object of at most 12 keys");
        return;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)opts, key, v)
    {
        char field[PATH_BYTES];
        snprintf(field, sizeof field, "options.%s", key);
        if (!is_key(key)) {
            err(c, field, "must be one key: 0-9, * or #");
            continue;
        }
        struct blend_ivr_option *opt = &n->options[n->options_count];
        /* "1": "node", or {"next": "node", "label": "Billing"} (the quick reply's text on
         * chat). */
        const json_t *next = v, *label = NULL;
        if (json_is_object(v)) {
            const char *k;
            const json_t *x;
            int bad = 0;
            json_object_foreach((json_t *)v, k, x)
            {
                if (strcmp(k, "next") != 0 && strcmp(k, "label") != 0) {
                    char sub[PATH_BYTES + 64];
                    snprintf(sub, sizeof sub, "%s.%.60s", field, k);
                    err(c, sub, "unknown field (an option has next and label)");
                    bad = 1;
                }
            }
            if (bad) {
                continue;
            }
            next = json_object_get(v, "next");
            label = json_object_get(v, "label");
        }
        if (!json_is_string(next) || json_string_length(next) == 0 ||
            json_string_length(next) >= sizeof opt->target.name ||
            memchr(json_string_value(next), '\0', json_string_length(next))) {
            err(c, field, "must be a node name, or {\"next\": node, \"label\": text}");
            continue;
        }
        if (label && (!json_is_string(label) || json_string_length(label) == 0 ||
                      json_string_length(label) >= sizeof opt->label ||
                      memchr(json_string_value(label), '\0', json_string_length(label)))) {
            char sub[PATH_BYTES + 8];
            snprintf(sub, sizeof sub, "%s.label", field);
            err(c, sub, "must be a text of 1..63 bytes");
            continue;
        }
        int twice = 0;
        for (size_t i = 0; label && i < n->options_count && !twice; i++) {
            twice = strcmp(n->options[i].label, json_string_value(label)) == 0;
        }
        if (twice) {
            char sub[PATH_BYTES + 8];
            snprintf(sub, sizeof sub, "%s.label", field);
            err(c, sub, "is the label of another option of this menu");
            continue;
        }
        opt->key = key[0];
        memcpy(opt->target.name, json_string_value(next), json_string_length(next) + 1);
        if (label) {
            memcpy(opt->label, json_string_value(label), json_string_length(label) + 1);
        }
        n->options_count++;
    }
}

static void load_condition(struct ctx *c, const char *field, const json_t *cond,
                           struct blend_ivr_case *k)
{
    static const char *const cals[] = {"open", "closed", "holiday"};
    static const char *const ops[] = {"eq", "ne", "lt", "gt", "prefix"};
    char path[PATH_BYTES + 16];
    snprintf(path, sizeof path, "%s.if", field);
    if (!json_is_object(cond)) {
        err(c, path, "must be an object");
        return;
    }
    const char *cal = json_string_value(json_object_get(cond, "calendar"));
    if (cal && json_object_size(cond) == 1) {
        for (size_t i = 0; i < 3; i++) {
            k->calendar = strcmp(cal, cals[i]) == 0 ? (int)i + 1 : k->calendar;
        }
        if (!k->calendar) {
            err(c, path, "calendar must be open, closed or holiday");
        }
        return;
    }
    const char *var = json_string_value(json_object_get(cond, "var"));
    const char *op = json_string_value(json_object_get(cond, "op"));
    const json_t *value = json_object_get(cond, "value");
    if (!var || !op || !value || json_object_size(cond) != 3 || !var[0] ||
        strlen(var) >= sizeof k->var) {
        err(c, path, "must be {\"calendar\": ...} or {\"var\", \"op\", \"value\"}");
        return;
    }
    int found = 0;
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(op, ops[i]) == 0) {
            k->op = (enum blend_ivr_op)i;
            found = 1;
        }
    }
    if (!found) {
        err(c, path, "op must be eq, ne, lt, gt or prefix");
        return;
    }
    memcpy(k->var, var, strlen(var) + 1);
    get_value(c, path, value, k->value, sizeof k->value);
}

static void load_cases(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    const json_t *cases = json_object_get(o, "cases");
    if (!cases) {
        return;
    }
    if (!json_is_array(cases) || json_array_size(cases) > BLEND_IVR_CASES_MAX) {
        err(c, "cases", "must be an array of at most 8 cases");
        return;
    }
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *k = json_array_get(cases, i);
        char field[32];
        snprintf(field, sizeof field, "cases[%zu]", i);
        struct blend_ivr_case *dst = &n->cases[n->cases_count++];
        dst->next.index = -1;
        if (!json_is_object(k) || json_object_size(k) != 2 || !json_object_get(k, "if") ||
            !json_is_string(json_object_get(k, "next"))) {
            err(c, field, "must be {\"if\": condition, \"next\": node}");
            continue;
        }
        load_condition(c, field, json_object_get(k, "if"), dst);
        struct ctx sub = *c;
        snprintf(sub.base, sizeof sub.base, "%s.%s", c->base, field);
        get_str(&sub, k, "next", dst->next.name, sizeof dst->next.name, 1);
    }
}

/* set: {"vars": {"name": value}}; http: {"vars": ["name", ...]} (the answer's fields read). */
static void load_vars(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    const json_t *vars = json_object_get(o, "vars");
    if (!vars) {
        return;
    }
    int is_set = n->type == BLEND_IVR_SET;
    size_t size = is_set ? json_object_size(vars) : json_array_size(vars);
    if ((is_set ? !json_is_object(vars) : !json_is_array(vars)) || size > BLEND_IVR_SETS_MAX) {
        err(c, "vars",
            is_set ? "must be an object of at most 8 variables"
                   : "must be an array of at most 8 names");
        return;
    }
    if (is_set) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)vars, key, v)
        {
            char field[PATH_BYTES];
            snprintf(field, sizeof field, "vars.%s", key);
            struct blend_ivr_assign *a = &n->sets[n->sets_count];
            if (!key[0] || strlen(key) >= sizeof a->var) {
                err(c, field, "variable names are 1 to 63 bytes");
                continue;
            }
            if (strcmp(key, "priority") == 0 && !json_is_integer(v)) {
                err(c, field, "priority must be an integer");
                continue;
            }
            /* skills: the caller's own required skills (blend_ivr_skills_parse). */
            struct blend_ivr_skill sk[BLEND_IVR_SKILLS_MAX];
            size_t sk_count;
            if (strcmp(key, "skills") == 0 &&
                (!json_is_string(v) ||
                 blend_ivr_skills_parse(json_string_value(v), sk, &sk_count) != 0)) {
                err(c, field,
                    "skills must be a comma-separated list of name[:min] (min 1..10, at most 8 "
                    "skills), e.g. \"vip:5,korean:3\"");
                continue;
            }
            if (get_value(c, field, v, a->value, sizeof a->value)) {
                memcpy(a->var, key, strlen(key) + 1);
                n->sets_count++;
            }
        }
        return;
    }
    for (size_t i = 0; i < size; i++) {
        const json_t *v = json_array_get(vars, i);
        struct blend_ivr_assign *a = &n->sets[n->sets_count];
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof a->var) {
            char field[32];
            snprintf(field, sizeof field, "vars[%zu]", i);
            err(c, field, "must be a variable name of 1 to 63 bytes");
            continue;
        }
        memcpy(a->var, json_string_value(v), json_string_length(v) + 1);
        n->sets_count++;
    }
}

static void load_questions(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    static const char *const kinds[] = {"csat", "nps", "ces"};
    const json_t *qs = json_object_get(o, "questions");
    if (!json_is_array(qs) || json_array_size(qs) == 0 ||
        json_array_size(qs) > BLEND_IVR_QUESTIONS_MAX) {
        err(c, "questions", "must be an array of 1 to 5 questions");
        return;
    }
    for (size_t i = 0; i < json_array_size(qs); i++) {
        const json_t *q = json_array_get(qs, i);
        struct ctx sub = *c;
        snprintf(sub.base, sizeof sub.base, "%s.questions[%zu]", c->base, i);
        if (!json_is_object(q)) {
            err(&sub, "", "must be an object");
            continue;
        }
        struct blend_ivr_question *dst = &n->questions[n->questions_count];
        char kind[8] = "";
        int ok = get_str(&sub, q, "id", dst->id, sizeof dst->id, 1);
        ok &= get_str(&sub, q, "prompt", dst->prompt, sizeof dst->prompt, 1);
        ok &= get_str(&sub, q, "kind", kind, sizeof kind, 1);
        for (size_t k = 0; k < 3; k++) {
            dst->kind =
                strcmp(kind, kinds[k]) == 0 ? (enum blend_ivr_survey_kind)(k + 1) : dst->kind;
        }
        if (ok && !dst->kind) {
            err(&sub, "kind", "must be csat, nps or ces");
        }
        if (json_object_size(q) != 3) {
            err(&sub, "", "a question has exactly id, prompt and kind");
        }
        n->questions_count += ok && dst->kind;
    }
}

static void load_collect(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    char buf[16] = "";
    n->digits_min = 1;
    n->digits_max = BLEND_IVR_DIGITS_MAX;
    get_str(c, o, "prompt", n->text, sizeof n->text, 1);
    get_int(c, o, "min", &n->digits_min, 1, BLEND_IVR_DIGITS_MAX);
    get_int(c, o, "max", &n->digits_max, 1, BLEND_IVR_DIGITS_MAX);
    if (n->digits_max < n->digits_min) {
        err(c, "max", "must not be below min");
    }
    get_key(c, o, "terminator", &n->terminator);
    get_bool(c, o, "mask", &n->is_masked);
    get_str(c, o, "var", n->var, sizeof n->var, 1);
    if (get_str(c, o, "validate", buf, sizeof buf, 0)) {
        if (strcmp(buf, "digits") == 0) {
            n->validate = BLEND_IVR_VALIDATE_DIGITS;
        } else if (strcmp(buf, "luhn") == 0) {
            n->validate = BLEND_IVR_VALIDATE_LUHN;
        } else if (strcmp(buf, "pattern") == 0) {
            n->validate = BLEND_IVR_VALIDATE_PATTERN;
        } else {
            err(c, "validate", "must be digits, luhn or pattern");
        }
    }
    int has_pattern = get_str(c, o, "pattern", n->pattern, sizeof n->pattern, 0);
    if (has_pattern && n->validate != BLEND_IVR_VALIDATE_PATTERN) {
        err(c, "pattern", "goes with \"validate\": \"pattern\"");
    } else if (!has_pattern && n->validate == BLEND_IVR_VALIDATE_PATTERN) {
        err(c, "pattern", "required with \"validate\": \"pattern\"");
    }
}

/* Fields of one node, by type. */
static void load_node_fields(struct ctx *c, const json_t *o, struct blend_ivr_node *n)
{
    n->timeout_s = 5;
    get_int(c, o, "timeout_s", &n->timeout_s, 1, BLEND_IVR_TIMEOUT_S_MAX);
    get_target(c, o, "next", &n->next);
    get_target(c, o, "invalid", &n->invalid);
    get_target(c, o, "timeout", &n->timeout);
    get_target(c, o, "exhausted", &n->exhausted);
    get_target(c, o, "failure", &n->failure);
    get_target(c, o, "overflow", &n->overflow);
    get_target(c, o, "after", &n->after);
    get_target(c, o, "else", &n->else_);
    switch (n->type) {
    case BLEND_IVR_PLAY:
        get_str(c, o, "text", n->text, sizeof n->text, 0);
        get_str(c, o, "file", n->file, sizeof n->file, 0);
        if (!n->text[0] == !n->file[0]) {
            err(c, "text", "a play node has either text or file");
        }
        get_bool(c, o, "barge_in", &n->is_barge_in);
        get_str(c, o, "language", n->language, sizeof n->language, 0);
        break;
    case BLEND_IVR_MENU:
        n->retries = 2;
        get_str(c, o, "prompt", n->text, sizeof n->text, 1);
        get_str(c, o, "language", n->language, sizeof n->language, 0);
        get_int(c, o, "retries", &n->retries, 0, 10);
        load_options(c, o, n);
        break;
    case BLEND_IVR_COLLECT:
        load_collect(c, o, n);
        break;
    case BLEND_IVR_BRANCH:
        load_cases(c, o, n);
        break;
    case BLEND_IVR_SET:
    case BLEND_IVR_HTTP:
        load_vars(c, o, n);
        if (n->type == BLEND_IVR_HTTP) {
            n->timeout_ms = 2000;
            get_str(c, o, "url", n->file, sizeof n->file, 1);
            get_int(c, o, "timeout_ms", &n->timeout_ms, 1, BLEND_IVR_HTTP_TIMEOUT_MS_MAX);
        }
        break;
    case BLEND_IVR_QUEUE:
        get_str(c, o, "queue", n->queue, sizeof n->queue, 0);
        get_int(c, o, "announce_every_s", &n->announce_every_s, 0, BLEND_IVR_TIMEOUT_S_MAX);
        get_int(c, o, "max_wait_s", &n->max_wait_s, 0, 24 * 3600);
        get_key(c, o, "callback_key", &n->callback_key);
        get_key(c, o, "voicemail_key", &n->voicemail_key);
        load_messages(c, o, n);
        break;
    case BLEND_IVR_VOICEMAIL:
        n->max_s = 120;
        get_str(c, o, "queue", n->queue, sizeof n->queue, 0);
        get_int(c, o, "max_s", &n->max_s, 1, BLEND_IVR_TIMEOUT_S_MAX);
        break;
    case BLEND_IVR_TRANSFER:
        get_str(c, o, "number", n->number, sizeof n->number, 1);
        break;
    case BLEND_IVR_SURVEY:
        load_questions(c, o, n);
        break;
    case BLEND_IVR_HANGUP:
    case BLEND_IVR_UNKNOWN:
        break;
    }
}

static int load_node(struct ctx *c, struct blend_ivr_flow *flow, const char *name, const json_t *o)
{
    snprintf(c->base, sizeof c->base, "nodes.%s", name);
    if (!json_is_object(o)) {
        err(c, "", "must be an object");
        return 0;
    }
    char type_name[BLEND_IVR_NAME_BYTES] = "";
    if (!get_str(c, o, "type", type_name, sizeof type_name, 1)) {
        return 0;
    }
    enum blend_ivr_node_type type = blend_ivr_type_parse(type_name);
    struct blend_ivr_node *n = NULL;
    int rc = blend_ivr_flow_add(flow, name, type, &n);
    if (rc == BLEND_ENOMEM) {
        return rc;
    }
    if (rc < 0) {
        err(c, "", rc == BLEND_ELIMIT ? "too many nodes" : "node names are 1 to 63 bytes");
        return 0;
    }
    snprintf(n->type_name, sizeof n->type_name, "%s", type_name);
    if (type != BLEND_IVR_UNKNOWN) {
        check_fields(c, o, type);
        load_node_fields(c, o, n);
    }
    return 0;
}

static int load_top(struct ctx *c, const json_t *doc, struct blend_ivr_flow *flow)
{
    static const char *const top[] = {"name",  "version",     "language", "start",
                                      "nodes", "description", NULL};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)doc, key, v)
    {
        if (!listed(top, key)) {
            err(c, key, "unknown field");
        }
    }
    get_str(c, doc, "name", flow->name, sizeof flow->name, 1);
    get_int(c, doc, "version", &flow->version, 1, 1000000);
    snprintf(flow->language, sizeof flow->language, "en");
    get_str(c, doc, "language", flow->language, sizeof flow->language, 0);
    get_str(c, doc, "start", flow->start.name, sizeof flow->start.name, 1);
    const json_t *nodes = json_object_get(doc, "nodes");
    if (!json_is_object(nodes) || json_object_size(nodes) == 0) {
        err(c, "nodes", "must be an object of nodes");
        return 0;
    }
    json_object_foreach((json_t *)nodes, key, v)
    {
        int rc = load_node(c, flow, key, v);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int blend_flow_load(const json_t *doc, struct blend_ivr_flow **out, struct blend_field_errors *errs)
{
    BLEND_ASSERT(doc && out && errs);
    blend_field_errors_init(errs);
    struct ctx c = {.errs = errs, .base = ""};
    if (!json_is_object(doc)) {
        err(&c, "", "a flow must be a JSON object");
        return BLEND_EINVAL;
    }
    struct blend_ivr_flow *flow = NULL;
    int rc = blend_ivr_flow_create(&flow);
    if (rc < 0) {
        return rc;
    }
    rc = load_top(&c, doc, flow);
    if (rc == 0 && errs->count_total > 0) {
        rc = BLEND_EINVAL;
    }
    if (rc < 0) {
        blend_ivr_flow_destroy(flow);
        return rc;
    }
    blend_ivr_flow_link(flow);
    *out = flow;
    return 0;
}

void blend_flow_errors_add(struct blend_field_errors *errs, const struct blend_ivr_errors *ivr)
{
    BLEND_ASSERT(errs && ivr);
    for (size_t i = 0; i < ivr->count; i++) {
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "%s%s", ivr->items[i].node[0] ? "nodes." : "start",
                 ivr->items[i].node);
        blend_field_errors_add(errs, path, "%s", ivr->items[i].message);
    }
    /* Errors the validator only counted still count. */
    errs->count_total += ivr->count_total - ivr->count;
}

int blend_flow_load_valid(const json_t *doc, struct blend_ivr_flow **out,
                          struct blend_field_errors *errs)
{
    struct blend_ivr_flow *flow = NULL;
    int rc = blend_flow_load(doc, &flow, errs);
    if (rc < 0) {
        return rc;
    }
    struct blend_ivr_errors *ivr = blend_malloc(sizeof *ivr);
    if (!ivr) {
        blend_ivr_flow_destroy(flow);
        return BLEND_ENOMEM;
    }
    rc = blend_ivr_validate(flow, ivr);
    if (rc < 0) {
        blend_flow_errors_add(errs, ivr);
        blend_ivr_flow_destroy(flow);
    } else {
        *out = flow;
    }
    blend_free(ivr);
    return rc;
}

int blend_flow_parse(const char *text, size_t len, struct blend_ivr_flow **out,
                     struct blend_field_errors *errs)
{
    BLEND_ASSERT(text && out && errs);
    blend_field_errors_init(errs);
    if (len > BLEND_FLOW_BYTES_MAX) {
        blend_field_errors_add(errs, "", "a flow is at most %d bytes", BLEND_FLOW_BYTES_MAX);
        return BLEND_EINVAL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        blend_field_errors_add(errs, "", "invalid JSON at line %d: %s", jerr.line, jerr.text);
        return BLEND_EINVAL;
    }
    int rc = blend_flow_load_valid(doc, out, errs);
    json_decref(doc);
    return rc;
}

void blend_flow_check_doc(const json_t *doc, int is_create, struct blend_field_errors *errs)
{
    BLEND_ASSERT(doc && errs);
    int has_start = json_object_get(doc, "start") != NULL;
    int has_nodes = json_object_get(doc, "nodes") != NULL;
    if (!is_create) {
        if (has_start != has_nodes) {
            blend_field_errors_add(errs, has_start ? "nodes" : "start",
                                   "a flow's graph changes as a whole: give start and nodes "
                                   "together");
            return;
        }
        if (!has_start) {
            return; /* name, description or language only */
        }
    }
    json_t *flow_doc =
        json_pack("{s:s, s:i, s:O, s:O}", "name", "flow", "version", 1, "start",
                  json_object_get(doc, "start"), "nodes", json_object_get(doc, "nodes"));
    if (!flow_doc) {
        blend_field_errors_add(errs, "", "out of memory");
        return;
    }
    json_t *lang = json_object_get(doc, "language");
    if (json_is_string(lang)) {
        json_object_set(flow_doc, "language", lang);
    }
    struct blend_ivr_flow *flow = NULL;
    if (blend_flow_load_valid(flow_doc, &flow, errs) == 0) {
        blend_ivr_flow_destroy(flow);
    }
    json_decref(flow_doc);
}
