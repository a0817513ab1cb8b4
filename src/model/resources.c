/*
 * The descriptor of every resource: JSON names, SQL columns, types, limits, flags, defaults and
 * extra checks. This table is data only; validation (validate.c), the store's SQL and JSON output
 * all read it, so the three agree by construction. It must match the schema in
 * src/store/migrations/ column for column (the store tests exercise every resource against it).
 * Child resources (agent_skills, queue_skills, calendar_hours, calendar_holidays,
 * contact_identities) are reachable only through their parent's CHILDREN field and are not in
 * blend_resources[].
 */
#include "engine/ivr/ivr.h"
#include "model/canned.h"
#include "model/flow.h"
#include "model/identity.h"
#include "model/model.h"
#include "tz/tz.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- Checks --------------------------------------------------------------------------------- */

/* Names used as keys (usernames, skill, agent and queue names): lower-case ASCII letters, digits,
 * '.', '_' and '-', so they are safe in URLs, logs and file names without escaping. */
static int check_name(const json_t *value, char *err, size_t errlen)
{
    const char *s = json_string_value(value);
    if (!s) {
        snprintf(err, errlen, "must be a string");
        return BLEND_EINVAL;
    }
    for (const char *p = s; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                 *p == '-';
        if (!ok) {
            snprintf(err, errlen, "may hold only a-z, 0-9, '.', '_' and '-'");
            return BLEND_EINVAL;
        }
    }
    return 0;
}

/* SIP extensions: digits only, so they can be dialled from any phone. */
/* A relaxation step's requirement, or an interaction's own skills: {"skill-name":
 * min_proficiency 1..10, ...}, at most 8 skills (the routing engine's
 * BLEND_ACD_QUEUE_SKILLS_MAX). */
static int check_skill_map(const json_t *value, char *err, size_t errlen)
{
    if (json_object_size(value) > 8) {
        snprintf(err, errlen, "at most 8 skills");
        return BLEND_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)value, key, v)
    {
        json_t *name = json_string(key);
        int rc = check_name(name, err, errlen);
        json_decref(name);
        if (rc) {
            return rc;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10) {
            snprintf(err, errlen, "%s: minimum proficiency must be an integer 1..10", key);
            return BLEND_EINVAL;
        }
    }
    return 0;
}

/* At most 1,000 characters (code points; the field's byte bound allows 4 bytes each). */
static int check_signature(const json_t *value, char *err, size_t errlen)
{
    size_t chars = 0;
    for (const char *p = json_string_value(value); p && *p; p++) {
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    }
    if (chars > 1000) {
        snprintf(err, errlen, "at most 1000 characters");
        return BLEND_EINVAL;
    }
    return 0;
}

static int check_digits(const json_t *value, char *err, size_t errlen)
{
    const char *s = json_string_value(value);
    if (!s) {
        snprintf(err, errlen, "must be a string");
        return BLEND_EINVAL;
    }
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            snprintf(err, errlen, "may hold only digits");
            return BLEND_EINVAL;
        }
    }
    return 0;
}

/* Token hashes: lower-case hexadecimal. */
static int check_hex(const json_t *value, char *err, size_t errlen)
{
    const char *s = json_string_value(value);
    if (!s) {
        snprintf(err, errlen, "must be a string");
        return BLEND_EINVAL;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            snprintf(err, errlen, "must be lower-case hexadecimal");
            return BLEND_EINVAL;
        }
    }
    return 0;
}

/* IANA-style time zone names ("Asia/Seoul", "UTC", "Etc/GMT+9"): letters, digits, '/', '_',
 * '-', '+'; no leading '/' and no ".." so a name can never walk out of a zoneinfo directory. */
static int check_time_zone(const json_t *value, char *err, size_t errlen)
{
    const char *s = json_string_value(value);
    if (!s) {
        snprintf(err, errlen, "must be a string");
        return BLEND_EINVAL;
    }
    if (!blend_tz_valid(s)) {
        snprintf(err, errlen, "must be a time zone name such as \"Asia/Seoul\"");
        return BLEND_EINVAL;
    }
    return 0;
}

/* ---- Value lists ----------------------------------------------------------------------------- */

static const char *const roles[] = {"admin", "supervisor", "qa", "agent", NULL};
static const char *const languages[] = {"en", "ko", "zh", NULL};
static const char *const token_kinds[] = {"session", "api", NULL};
static const char *const channels[] = {"voice", "chat", "email", "sms", "social", NULL};
static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
static const char *const strategies[] = {
    "longest-idle", "most-skilled", "least-occupied", "fewest-contacts",
    "round-robin",  "ring-all",     "sticky",         NULL};
static const char *const sticky_fallbacks[] = {"longest-idle", "most-skilled", "least-occupied",
                                               "fewest-contacts", "round-robin", NULL};
static const char *const recording_policies[] = {"off", "always", NULL};
static const char *const overflow_actions[] = {"none", "queue", "voicemail", "callback", NULL};
static const char *const identity_kinds[] = {"phone", "email", "chat", "sms", "social", NULL};
static const char *const directions[] = {"inbound", "outbound", NULL};
static const char *const interaction_kinds[] = {"callback", "voicemail", NULL};
static const char *const interaction_states[] = {"new",     "queued", "offered", "connected",
                                                 "wrap_up", "ended",  NULL};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define INT64_BIG INT64_C(9007199254740991) /* 2^53 - 1: exact in every JSON reader */

/* ---- Users and tokens ---------------------------------------------------------------------- */

static const struct blend_field users_fields[] = {
    {.name = "username",
     .column = "username",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "display_name", .column = "display_name", .type = BLEND_FT_STRING, .max = 128},
    {.name = "role",
     .column = "role",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = roles},
    {.name = "password",
     .column = NULL,
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_WRITE_ONLY,
     .min = 8,
     .max = 256},
    {.name = "password_hash",
     .column = "password_hash",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_INTERNAL,
     .max = 512},
    {.name = "language",
     .column = "language",
     .type = BLEND_FT_ENUM,
     .values = languages,
     .default_json = "\"en\""},
    {.name = "disabled", .column = "disabled", .type = BLEND_FT_BOOL, .default_json = "false"},
    {.name = "failed_logins",
     .column = "failed_logins",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_INTERNAL,
     .min = 0,
     .max = 1000000,
     .default_json = "0"},
    {.name = "locked_until",
     .column = "locked_until",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_INTERNAL,
     .min = 0,
     .max = INT64_BIG,
     .default_json = "0"},
};

const struct blend_resource blend_res_users = {
    .name = "users",
    .singular = "user",
    .table = "users",
    .key = "username",
    .fields = users_fields,
    .fields_count = COUNT(users_fields),
    .is_versioned = 1,
};

static const struct blend_field api_tokens_fields[] = {
    {.name = "user",
     .column = "user_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &blend_res_users},
    {.name = "kind",
     .column = "kind",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = token_kinds},
    {.name = "name", .column = "name", .type = BLEND_FT_STRING, .max = 64},
    {.name = "token_hash",
     .column = "token_hash",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_INTERNAL | BLEND_FF_UNIQUE,
     .max = 128,
     .check = check_hex},
    {.name = "prefix", .column = "prefix", .type = BLEND_FT_STRING, .max = 16},
    {.name = "expires_at",
     .column = "expires_at",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = INT64_BIG,
     .default_json = "0"},
    {.name = "last_used_at",
     .column = "last_used_at",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = INT64_BIG,
     .default_json = "0"},
};

const struct blend_resource blend_res_api_tokens = {
    .name = "api_tokens",
    .singular = "api_token",
    .table = "api_tokens",
    .key = NULL,
    .fields = api_tokens_fields,
    .fields_count = COUNT(api_tokens_fields),
    .is_versioned = 1,
};

/* ---- Skills and agents ----------------------------------------------------------------------- */

static const struct blend_field skills_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "description", .column = "description", .type = BLEND_FT_STRING, .max = 256},
};

const struct blend_resource blend_res_skills = {
    .name = "skills",
    .singular = "skill",
    .table = "skills",
    .key = "name",
    .fields = skills_fields,
    .fields_count = COUNT(skills_fields),
    .is_versioned = 1,
};

static const struct blend_field agent_skills_fields[] = {
    {.name = "skill",
     .column = "skill_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &blend_res_skills},
    {.name = "proficiency",
     .column = "proficiency",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 10},
};

static const struct blend_resource res_agent_skills = {
    .name = "agent_skills",
    .singular = "agent_skill",
    .table = "agent_skills",
    .parent_column = "agent_id",
    .fields = agent_skills_fields,
    .fields_count = COUNT(agent_skills_fields),
};

static const struct blend_field agents_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "display_name", .column = "display_name", .type = BLEND_FT_STRING, .max = 128},
    /* Closes the agent's email replies instead of their name (docs/email.md §Replies). */
    {.name = "signature",
     .column = "signature",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 4000,
     .check = check_signature},
    {.name = "user",
     .column = "user_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE | BLEND_FF_UNIQUE,
     .ref = &blend_res_users},
    {.name = "extension",
     .column = "extension",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_UNIQUE | BLEND_FF_NULLABLE,
     .min = 2,
     .max = 16,
     .check = check_digits},
    {.name = "sip_password",
     .column = "sip_password",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_WRITE_ONLY,
     .min = 8,
     .max = 128},
    {.name = "skills", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_agent_skills},
    {.name = "capacity.voice",
     .column = "capacity_voice",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 1,
     .default_json = "1"},
    {.name = "capacity.chat",
     .column = "capacity_chat",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 20,
     .default_json = "3"},
    {.name = "capacity.email",
     .column = "capacity_email",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 50,
     .default_json = "5"},
    {.name = "capacity.sms",
     .column = "capacity_sms",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 20,
     .default_json = "3"},
    {.name = "capacity.social",
     .column = "capacity_social",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 20,
     .default_json = "3"},
    /* A voice contact offered or connected blocks the agent's other channels; an outstanding
     * offer on another channel blocks voice (docs/routing.md). */
    {.name = "voice_exclusive",
     .column = "voice_exclusive",
     .type = BLEND_FT_BOOL,
     .default_json = "true"},
    {.name = "enabled", .column = "enabled", .type = BLEND_FT_BOOL, .default_json = "true"},
};

const struct blend_resource blend_res_agents = {
    .name = "agents",
    .singular = "agent",
    .table = "agents",
    .key = "name",
    .fields = agents_fields,
    .fields_count = COUNT(agents_fields),
    .is_versioned = 1,
};

/* ---- Calendars --------------------------------------------------------------------------------
 */

static const struct blend_field calendar_hours_fields[] = {
    {.name = "day",
     .column = "day",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = days},
    {.name = "open", .column = "open_time", .type = BLEND_FT_TIME, .flags = BLEND_FF_REQUIRED},
    {.name = "close", .column = "close_time", .type = BLEND_FT_TIME, .flags = BLEND_FF_REQUIRED},
};

static const struct blend_resource res_calendar_hours = {
    .name = "calendar_hours",
    .singular = "calendar_hour",
    .table = "calendar_hours",
    .parent_column = "calendar_id",
    .fields = calendar_hours_fields,
    .fields_count = COUNT(calendar_hours_fields),
};

/* A holiday with both open and close null is closed all day; otherwise it has special hours. */
static const struct blend_field calendar_holidays_fields[] = {
    {.name = "date", .column = "date", .type = BLEND_FT_DATE, .flags = BLEND_FF_REQUIRED},
    {.name = "name", .column = "name", .type = BLEND_FT_STRING, .max = 128},
    {.name = "open", .column = "open_time", .type = BLEND_FT_TIME, .flags = BLEND_FF_NULLABLE},
    {.name = "close", .column = "close_time", .type = BLEND_FT_TIME, .flags = BLEND_FF_NULLABLE},
};

static const struct blend_resource res_calendar_holidays = {
    .name = "calendar_holidays",
    .singular = "calendar_holiday",
    .table = "calendar_holidays",
    .parent_column = "calendar_id",
    .fields = calendar_holidays_fields,
    .fields_count = COUNT(calendar_holidays_fields),
};

static const struct blend_field calendars_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "time_zone",
     .column = "time_zone",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 64,
     .check = check_time_zone},
    {.name = "hours", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_calendar_hours},
    {.name = "holidays",
     .column = NULL,
     .type = BLEND_FT_CHILDREN,
     .child = &res_calendar_holidays},
};

const struct blend_resource blend_res_calendars = {
    .name = "calendars",
    .singular = "calendar",
    .table = "calendars",
    .key = "name",
    .fields = calendars_fields,
    .fields_count = COUNT(calendars_fields),
    .is_versioned = 1,
};

/* ---- Queues and entry points ------------------------------------------------------------------
 */

static const struct blend_field queue_skills_fields[] = {
    {.name = "skill",
     .column = "skill_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &blend_res_skills},
    {.name = "min_proficiency",
     .column = "min_proficiency",
     .type = BLEND_FT_INT,
     .min = 1,
     .max = 10,
     .default_json = "1"},
};

static const struct blend_resource res_queue_skills = {
    .name = "queue_skills",
    .singular = "queue_skill",
    .table = "queue_skills",
    .parent_column = "queue_id",
    .fields = queue_skills_fields,
    .fields_count = COUNT(queue_skills_fields),
};

/* Relaxation steps: at `after_s` of waiting, the requirement becomes `skills` (when given) and
 * agents of `add_queue_agents` (when given) become eligible too. See docs/routing.md. */
static const struct blend_field queue_relax_fields[] = {
    {.name = "after_s",
     .column = "after_s",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 86400},
    {.name = "skills",
     .column = "skills",
     .type = BLEND_FT_JSON,
     .flags = BLEND_FF_NULLABLE,
     .check = check_skill_map},
    {.name = "add_queue_agents",
     .column = "add_queue_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_queues},
};

static const struct blend_resource res_queue_relax = {
    .name = "queue_relax_steps",
    .singular = "queue_relax_step",
    .table = "queue_relax_steps",
    .parent_column = "queue_id",
    .fields = queue_relax_fields,
    .fields_count = COUNT(queue_relax_fields),
};

static const struct blend_field queues_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "display_name", .column = "display_name", .type = BLEND_FT_STRING, .max = 128},
    /* SET: min/max count the distinct values given. */
    {.name = "channels",
     .column = "channels",
     .type = BLEND_FT_SET,
     .min = 1,
     .max = 5,
     .values = channels,
     .default_json = "[\"voice\"]"},
    {.name = "skills", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_queue_skills},
    {.name = "priority",
     .column = "priority",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 100,
     .default_json = "0"},
    {.name = "strategy",
     .column = "strategy",
     .type = BLEND_FT_ENUM,
     .values = strategies,
     .default_json = "\"longest-idle\""},
    {.name = "sla_percent",
     .column = "sla_percent",
     .type = BLEND_FT_INT,
     .min = 1,
     .max = 100,
     .default_json = "80"},
    {.name = "sla_seconds",
     .column = "sla_seconds",
     .type = BLEND_FT_INT,
     .min = 1,
     .max = 86400,
     .default_json = "20"},
    {.name = "wrap_up_s",
     .column = "wrap_up_s",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 3600,
     .default_json = "30"},
    {.name = "offer_timeout_s",
     .column = "offer_timeout_s",
     .type = BLEND_FT_INT,
     .min = 5,
     .max = 600,
     .default_json = "20"},
    {.name = "max_no_answer",
     .column = "max_no_answer",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 100,
     .default_json = "3"},
    /* 0 = no limit. */
    {.name = "max_wait_s",
     .column = "max_wait_s",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 86400,
     .default_json = "0"},
    {.name = "overflow_action",
     .column = "overflow_action",
     .type = BLEND_FT_ENUM,
     .values = overflow_actions,
     .default_json = "\"none\""},
    /* Phone calls recorded from connection ("always") or only on request ("off"). */
    {.name = "recording",
     .column = "recording",
     .type = BLEND_FT_ENUM,
     .values = recording_policies,
     .default_json = "\"off\""},
    {.name = "overflow_queue",
     .column = "overflow_queue_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_queues},
    {.name = "calendar",
     .column = "calendar_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_calendars},
    {.name = "short_abandon_s",
     .column = "short_abandon_s",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 60,
     .default_json = "5"},
    /* Priority points a waiting contact gains per minute, and the cap (0 = none). */
    {.name = "acceleration_per_min",
     .column = "acceleration_per_min",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 1000,
     .default_json = "0"},
    {.name = "max_priority",
     .column = "max_priority",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 100000,
     .default_json = "0"},
    /* An agent who declined a contact is not offered it again for this long (0 = the offer
     * timeout). */
    {.name = "reoffer_delay_s",
     .column = "reoffer_delay_s",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 3600,
     .default_json = "0"},
    /* Strategy `sticky`: how long a contact waits for the agent who last served its customer,
     * and the strategy used afterwards. */
    {.name = "sticky_s",
     .column = "sticky_s",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 3600,
     .default_json = "0"},
    {.name = "sticky_fallback",
     .column = "sticky_fallback",
     .type = BLEND_FT_ENUM,
     .values = sticky_fallbacks,
     .default_json = "\"longest-idle\""},
    {.name = "relax", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_queue_relax},
};

const struct blend_resource blend_res_queues = {
    .name = "queues",
    .singular = "queue",
    .table = "queues",
    .key = "name",
    .fields = queues_fields,
    .fields_count = COUNT(queues_fields),
    .is_versioned = 1,
};

/* A pre-chat topic's skills: the flows' form "name[:min],..." (docs/flows.md, set skills). */
static int check_topic_skills(const json_t *value, char *err, size_t errlen)
{
    struct blend_ivr_skill sk[BLEND_IVR_SKILLS_MAX];
    size_t n = 0;
    if (blend_ivr_skills_parse(json_string_value(value), sk, &n) != 0) {
        snprintf(err, errlen,
                 "must be skill names with an optional minimum, e.g. \"vip:5,korean\"");
        return BLEND_EINVAL;
    }
    return 0;
}

/* Origins a chat page may have: "*" or comma-separated http(s)://host[:port], no path. */
static int check_origins(const json_t *value, char *err, size_t errlen)
{
    const char *p = json_string_value(value);
    while (p && *p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        int ok = len == 1 && *p == '*';
        const char *host = strncmp(p, "http://", 7) == 0    ? p + 7
                           : strncmp(p, "https://", 8) == 0 ? p + 8
                                                            : NULL;
        if (!ok && host && (size_t)(host - p) < len) {
            ok = 1;
            for (const char *q = host; q < p + len && ok; q++) {
                ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                     (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == ':' ||
                     *q == '[' || *q == ']';
            }
        }
        if (!ok) {
            snprintf(err, errlen,
                     "must be \"*\" or origins like https://www.example.com, comma-separated");
            return BLEND_EINVAL;
        }
        p += len;
    }
    return 0;
}

static const struct blend_field entry_point_topics_fields[] = {
    {.name = "topic",
     .column = "topic",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 64},
    {.name = "queue",
     .column = "queue_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_queues},
    {.name = "skills",
     .column = "skills",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 256,
     .check = check_topic_skills},
};

static const struct blend_resource res_entry_point_topics = {
    .name = "entry_point_topics",
    .singular = "entry_point_topic",
    .table = "entry_point_topics",
    .parent_column = "entry_point_id",
    .fields = entry_point_topics_fields,
    .fields_count = COUNT(entry_point_topics_fields),
};

/* (channel, address) is unique in SQL; a clash is reported on "address". */
static const struct blend_field entry_points_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "channel",
     .column = "channel",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = channels},
    {.name = "address",
     .column = "address",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 256},
    {.name = "queue",
     .column = "queue_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_queues},
    {.name = "flow",
     .column = "flow",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 64},
    {.name = "calendar",
     .column = "calendar_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_calendars},
    {.name = "enabled", .column = "enabled", .type = BLEND_FT_BOOL, .default_json = "true"},
    {.name = "allowed_origins",
     .column = "allowed_origins",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 1024,
     .check = check_origins},
    {.name = "topics", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_entry_point_topics},
};

const struct blend_resource blend_res_entry_points = {
    .name = "entry_points",
    .singular = "entry_point",
    .table = "entry_points",
    .key = "name",
    .fields = entry_points_fields,
    .fields_count = COUNT(entry_points_fields),
    .is_versioned = 1,
};

/* ---- Contacts, interactions, messages ----------------------------------------------------------
 */

/* (kind, value) is unique across all contacts: one phone number is one customer. */
static const struct blend_field contact_identities_fields[] = {
    {.name = "kind",
     .column = "kind",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = identity_kinds},
    {.name = "value",
     .column = "value",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_PII,
     .min = 1,
     .max = 256},
};

static const struct blend_resource res_contact_identities = {
    .name = "contact_identities",
    .singular = "contact_identity",
    .table = "contact_identities",
    .parent_column = "contact_id",
    .fields = contact_identities_fields,
    .fields_count = COUNT(contact_identities_fields),
};

static const struct blend_field contacts_fields[] = {
    {.name = "name", .column = "name", .type = BLEND_FT_STRING, .flags = BLEND_FF_PII, .max = 128},
    {.name = "language",
     .column = "language",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_NULLABLE,
     .values = languages},
    {.name = "time_zone",
     .column = "time_zone",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .min = 1,
     .max = 64,
     .check = check_time_zone},
    {.name = "attributes",
     .column = "attributes",
     .type = BLEND_FT_JSON,
     .flags = BLEND_FF_PII,
     .default_json = "{}"},
    {.name = "do_not_call",
     .column = "do_not_call",
     .type = BLEND_FT_BOOL,
     .default_json = "false"},
    {.name = "consent.recording",
     .column = "consent_recording",
     .type = BLEND_FT_BOOL,
     .default_json = "true"},
    {.name = "consent.marketing",
     .column = "consent_marketing",
     .type = BLEND_FT_BOOL,
     .default_json = "false"},
    {.name = "consent.sms",
     .column = "consent_sms",
     .type = BLEND_FT_BOOL,
     .default_json = "false"},
    /* Do-not-contact per channel (do_not_call is voice's); editing any consent or
     * do-not-contact flag through the API is audited with old and new values. Their default
     * (false) is the schema's (migration 006), so documents written before them stay valid. */
    {.name = "do_not_email", .column = "do_not_email", .type = BLEND_FT_BOOL},
    {.name = "do_not_sms", .column = "do_not_sms", .type = BLEND_FT_BOOL},
    {.name = "do_not_social", .column = "do_not_social", .type = BLEND_FT_BOOL},
    /* Set by a merge (POST /api/v1/contacts/{id}/merge): the contact this one now lives in. */
    {.name = "merged_into",
     .column = "merged_into",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_READ_ONLY | BLEND_FF_NULLABLE,
     .min = 1,
     .max = INT64_MAX},
    {.name = "identities",
     .column = NULL,
     .type = BLEND_FT_CHILDREN,
     .child = &res_contact_identities},
};

/* Every identity is stored in its canonical form (model/identity.h), so that one address is one
 * customer: the API normalises what clients send before validation; anything else writing
 * contacts (provisioning) must send canonical values, and a value that is not gets the reason or
 * its canonical spelling. */
static void check_contact_doc(const json_t *doc, int is_create, struct blend_field_errors *errs)
{
    (void)is_create;
    const json_t *list = json_object_get(doc, "identities");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *item = json_array_get(list, i);
        const char *kind_name = json_string_value(json_object_get(item, "kind"));
        const json_t *v = json_object_get(item, "value");
        enum blend_identity_kind kind;
        if (!json_is_string(v) || blend_identity_kind_parse(kind_name, &kind) != 0) {
            continue; /* field validation already reported it */
        }
        char path[64];
        snprintf(path, sizeof path, "identities[%zu].value", i);
        char out[BLEND_IDENTITY_BYTES_MAX + 1];
        char err[BLEND_IDENTITY_ERR_BYTES];
        if (blend_identity_normalize(kind, json_string_value(v), json_string_length(v), 0, out,
                                     sizeof out, err, sizeof err) != 0) {
            blend_field_errors_add(errs, path, "%s", err);
        } else if (strcmp(out, json_string_value(v)) != 0) {
            blend_field_errors_add(errs, path, "not in canonical form: write \"%s\"", out);
        }
    }
}

const struct blend_resource blend_res_contacts = {
    .name = "contacts",
    .singular = "contact",
    .table = "contacts",
    .key = NULL,
    .fields = contacts_fields,
    .fields_count = COUNT(contacts_fields),
    .is_versioned = 1,
    .check_doc = check_contact_doc,
};

static const struct blend_field interactions_fields[] = {
    {.name = "channel",
     .column = "channel",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = channels},
    {.name = "direction",
     .column = "direction",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = directions},
    {.name = "state",
     .column = "state",
     .type = BLEND_FT_ENUM,
     .values = interaction_states,
     .default_json = "\"new\""},
    {.name = "queue",
     .column = "queue_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_queues},
    {.name = "contact",
     .column = "contact_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_contacts},
    {.name = "agent",
     .column = "agent_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &blend_res_agents},
    {.name = "priority",
     .column = "priority",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 1000,
     .default_json = "0"},
    {.name = "ended_at",
     .column = "ended_at",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 40},
    {.name = "disposition",
     .column = "disposition",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 64},
    {.name = "notes",
     .column = "notes",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_PII,
     .max = 4096},
    /* The customer's address on the channel (a caller's number); a callback dials it. */
    {.name = "address",
     .column = "address",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE | BLEND_FF_PII,
     .max = 256},
    {.name = "language",
     .column = "language",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .min = 2,
     .max = 16},
    {.name = "kind",
     .column = "kind",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_NULLABLE,
     .values = interaction_kinds},
    /* The contact's own required skills, {"skill-name": min_proficiency 1..10}, at most 8
     * (BLEND_ACD_QUEUE_SKILLS_MAX), combined with its queue's requirement by routing
     * (docs/routing.md §Queues and eligibility); NULL when none. */
    {.name = "skills",
     .column = "skills",
     .type = BLEND_FT_JSON,
     .flags = BLEND_FF_NULLABLE,
     .check = check_skill_map},
    /* A web chat visitor's rating, 1..5, set once by the chat channel (docs/chat-protocol.md). */
    {.name = "rating",
     .column = "rating",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_NULLABLE | BLEND_FF_READ_ONLY,
     .min = 1,
     .max = 5},
};

const struct blend_resource blend_res_interactions = {
    .name = "interactions",
    .singular = "interaction",
    .table = "interactions",
    .key = NULL,
    .fields = interactions_fields,
    .fields_count = COUNT(interactions_fields),
    .is_versioned = 1,
};

/* A message body may exceed BLEND_FIELD_STRING_BYTES_MAX: the descriptor's max wins. */
static const char *const message_states[] = {"received", "queued", "sent", "delivered", "failed",
                                             NULL};

static const struct blend_field messages_fields[] = {
    {.name = "interaction",
     .column = "interaction_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &blend_res_interactions},
    {.name = "direction",
     .column = "direction",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = directions},
    {.name = "author", .column = "author", .type = BLEND_FT_STRING, .max = 128},
    {.name = "body",
     .column = "body",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_PII,
     .max = 65536},
    /* Email (docs/email.md): subject, Message-ID, where it was fetched from (unique), what the
     * parser read (meta), and for replies the sending state and its retries. */
    {.name = "subject",
     .column = "subject",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE | BLEND_FF_PII,
     .max = 998},
    {.name = "message_id",
     .column = "message_id",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 998},
    {.name = "source",
     .column = "source",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE | BLEND_FF_UNIQUE,
     .max = 256},
    {.name = "meta",
     .column = "meta",
     .type = BLEND_FT_JSON,
     .flags = BLEND_FF_PII,
     .default_json = "{}"},
    {.name = "state",
     .column = "state",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_NULLABLE,
     .values = message_states},
    {.name = "attempts",
     .column = "attempts",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 1000000,
     .default_json = "0"},
    {.name = "next_attempt_at",
     .column = "next_attempt_at",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 40},
};

const struct blend_resource blend_res_messages = {
    .name = "messages",
    .singular = "message",
    .table = "messages",
    .key = NULL,
    .fields = messages_fields,
    .fields_count = COUNT(messages_fields),
    .is_versioned = 1,
};

/* ---- Recordings ------------------------------------------------------------------------------
 * Written by the server when a call recording is finalised; clients only read them (and the
 * audio, audited). */
static const char *const recording_states[] = {"complete", "damaged", NULL};

static const struct blend_field recordings_fields[] = {
    {.name = "interaction",
     .column = "interaction_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &blend_res_interactions},
    {.name = "file", .column = "file", .type = BLEND_FT_STRING, .flags = BLEND_FF_REQUIRED,
     .min = 1, .max = 256},
    {.name = "duration_ms", .column = "duration_ms", .type = BLEND_FT_INT,
     .flags = BLEND_FF_REQUIRED, .min = 0, .max = 86400000},
    {.name = "bytes", .column = "bytes", .type = BLEND_FT_INT, .flags = BLEND_FF_REQUIRED,
     .min = 0, .max = 4000000000},
    {.name = "sha256", .column = "sha256", .type = BLEND_FT_STRING, .flags = BLEND_FF_REQUIRED,
     .min = 64, .max = 64},
    /* {"spans": [{"start_ms", "end_ms"}]}: paused for payment card capture (silent). */
    {.name = "paused", .column = "paused", .type = BLEND_FT_JSON, .flags = BLEND_FF_NULLABLE},
    {.name = "state", .column = "state", .type = BLEND_FT_ENUM, .flags = BLEND_FF_REQUIRED,
     .values = recording_states},
};

const struct blend_resource blend_res_recordings = {
    .name = "recordings",
    .singular = "recording",
    .table = "recordings",
    .key = NULL,
    .fields = recordings_fields,
    .fields_count = COUNT(recordings_fields),
    .is_versioned = 1,
};

/* ---- Flows ---------------------------------------------------------------------------------- */

/* The graph is checked as a whole (docs/flows.md) by blend_flow_check_doc. */
static const struct blend_field flows_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "description",
     .column = "description",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .max = 256},
    {.name = "language",
     .column = "language",
     .type = BLEND_FT_STRING,
     .min = 2,
     .max = 16,
     .default_json = "\"en\""},
    {.name = "start",
     .column = "start",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 63},
    {.name = "nodes", .column = "nodes", .type = BLEND_FT_JSON, .flags = BLEND_FF_REQUIRED},
};

const struct blend_resource blend_res_flows = {
    .name = "flows",
    .singular = "flow",
    .table = "flows",
    .key = "name",
    .fields = flows_fields,
    .fields_count = COUNT(flows_fields),
    .is_versioned = 1,
    .check_doc = blend_flow_check_doc,
};

const struct blend_resource *const blend_resources[] = {
    &blend_res_users,
    &blend_res_api_tokens,
    &blend_res_skills,
    &blend_res_agents,
    &blend_res_calendars,
    &blend_res_queues,
    &blend_res_flows,
    &blend_res_entry_points,
    &blend_res_contacts,
    &blend_res_interactions,
    &blend_res_messages,
    &blend_res_recordings,
    &blend_res_canned_responses, /* model/canned.c */
    NULL,
};
