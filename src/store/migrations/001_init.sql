-- Blend schema, version 1: the provisioned resources, their child tables, the event log and the
-- audit log. It mirrors the descriptors of src/model/resources.c column for column: the model
-- validates input before it gets here, and the CHECK constraints below are the backstop that
-- keeps a bug elsewhere from storing what the model would refuse. Lengths are in bytes
-- (length(CAST(x AS BLOB))), as in the descriptors. Child tables cascade with their parent;
-- references between resources RESTRICT, so nothing referenced can disappear. Timestamps are
-- RFC 3339 UTC text.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE
        CHECK (length(username) BETWEEN 1 AND 64 AND username NOT GLOB '*[^a-z0-9._-]*'),
    display_name TEXT CHECK (length(CAST(display_name AS BLOB)) <= 128),
    role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'qa', 'agent')),
    password_hash TEXT CHECK (length(CAST(password_hash AS BLOB)) <= 512),
    language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ko', 'zh')),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until INTEGER NOT NULL DEFAULT 0 CHECK (locked_until >= 0)
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    name TEXT CHECK (length(CAST(name AS BLOB)) <= 64),
    token_hash TEXT UNIQUE
        CHECK (length(token_hash) <= 128 AND token_hash NOT GLOB '*[^0-9a-f]*'),
    prefix TEXT CHECK (length(CAST(prefix AS BLOB)) <= 16),
    expires_at INTEGER NOT NULL DEFAULT 0 CHECK (expires_at >= 0),
    last_used_at INTEGER NOT NULL DEFAULT 0 CHECK (last_used_at >= 0)
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE skills (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    description TEXT CHECK (length(CAST(description AS BLOB)) <= 256)
);

CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    display_name TEXT CHECK (length(CAST(display_name AS BLOB)) <= 128),
    user_id INTEGER UNIQUE REFERENCES users (id) ON DELETE RESTRICT,
    extension TEXT UNIQUE
        CHECK (length(extension) BETWEEN 2 AND 16 AND extension NOT GLOB '*[^0-9]*'),
    sip_password TEXT CHECK (length(CAST(sip_password AS BLOB)) BETWEEN 8 AND 128),
    capacity_voice INTEGER NOT NULL DEFAULT 1 CHECK (capacity_voice BETWEEN 0 AND 1),
    capacity_chat INTEGER NOT NULL DEFAULT 3 CHECK (capacity_chat BETWEEN 0 AND 20),
    capacity_email INTEGER NOT NULL DEFAULT 5 CHECK (capacity_email BETWEEN 0 AND 50),
    capacity_sms INTEGER NOT NULL DEFAULT 3 CHECK (capacity_sms BETWEEN 0 AND 20),
    capacity_social INTEGER NOT NULL DEFAULT 3 CHECK (capacity_social BETWEEN 0 AND 20),
    voice_exclusive INTEGER NOT NULL DEFAULT 1 CHECK (voice_exclusive IN (0, 1)),
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);

CREATE TABLE agent_skills (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    skill_id INTEGER NOT NULL REFERENCES skills (id) ON DELETE RESTRICT,
    proficiency INTEGER NOT NULL CHECK (proficiency BETWEEN 1 AND 10),
    UNIQUE (agent_id, skill_id)
);
CREATE INDEX agent_skills_skill_id ON agent_skills (skill_id);

CREATE TABLE calendars (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    time_zone TEXT NOT NULL
        CHECK (length(time_zone) BETWEEN 1 AND 64 AND time_zone NOT GLOB '*[^A-Za-z0-9/_+-]*'
               AND time_zone NOT LIKE '/%' AND instr(time_zone, '..') = 0)
);

CREATE TABLE calendar_hours (
    id INTEGER PRIMARY KEY,
    calendar_id INTEGER NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    day TEXT NOT NULL CHECK (day IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    open_time TEXT NOT NULL CHECK (length(open_time) = 5),
    close_time TEXT NOT NULL CHECK (length(close_time) = 5)
);
CREATE INDEX calendar_hours_calendar_id ON calendar_hours (calendar_id);

CREATE TABLE calendar_holidays (
    id INTEGER PRIMARY KEY,
    calendar_id INTEGER NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    date TEXT NOT NULL CHECK (length(date) = 10),
    name TEXT CHECK (length(CAST(name AS BLOB)) <= 128),
    open_time TEXT CHECK (length(open_time) = 5),
    close_time TEXT CHECK (length(close_time) = 5)
);
CREATE INDEX calendar_holidays_calendar_id ON calendar_holidays (calendar_id);

CREATE TABLE queues (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    display_name TEXT CHECK (length(CAST(display_name AS BLOB)) <= 128),
    channels TEXT NOT NULL DEFAULT 'voice' CHECK (channels NOT GLOB '*[^a-z,]*'),
    priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 100),
    strategy TEXT NOT NULL DEFAULT 'longest-idle'
        CHECK (strategy IN ('longest-idle', 'most-skilled', 'least-occupied', 'fewest-contacts',
                            'round-robin', 'ring-all', 'sticky')),
    sla_percent INTEGER NOT NULL DEFAULT 80 CHECK (sla_percent BETWEEN 1 AND 100),
    sla_seconds INTEGER NOT NULL DEFAULT 20 CHECK (sla_seconds BETWEEN 1 AND 86400),
    wrap_up_s INTEGER NOT NULL DEFAULT 30 CHECK (wrap_up_s BETWEEN 0 AND 3600),
    offer_timeout_s INTEGER NOT NULL DEFAULT 20 CHECK (offer_timeout_s BETWEEN 5 AND 600),
    max_no_answer INTEGER NOT NULL DEFAULT 3 CHECK (max_no_answer BETWEEN 0 AND 100),
    max_wait_s INTEGER NOT NULL DEFAULT 0 CHECK (max_wait_s BETWEEN 0 AND 86400),
    overflow_action TEXT NOT NULL DEFAULT 'none'
        CHECK (overflow_action IN ('none', 'queue', 'voicemail', 'callback')),
    overflow_queue_id INTEGER REFERENCES queues (id) ON DELETE RESTRICT,
    calendar_id INTEGER REFERENCES calendars (id) ON DELETE RESTRICT,
    short_abandon_s INTEGER NOT NULL DEFAULT 5 CHECK (short_abandon_s BETWEEN 0 AND 60),
    acceleration_per_min INTEGER NOT NULL DEFAULT 0 CHECK (acceleration_per_min BETWEEN 0 AND 1000),
    max_priority INTEGER NOT NULL DEFAULT 0 CHECK (max_priority BETWEEN 0 AND 100000),
    reoffer_delay_s INTEGER NOT NULL DEFAULT 0 CHECK (reoffer_delay_s BETWEEN 0 AND 3600),
    sticky_s INTEGER NOT NULL DEFAULT 0 CHECK (sticky_s BETWEEN 0 AND 3600),
    sticky_fallback TEXT NOT NULL DEFAULT 'longest-idle'
        CHECK (sticky_fallback IN ('longest-idle', 'most-skilled', 'least-occupied',
                                   'fewest-contacts', 'round-robin'))
);
CREATE INDEX queues_overflow_queue_id ON queues (overflow_queue_id);
CREATE INDEX queues_calendar_id ON queues (calendar_id);

CREATE TABLE queue_relax_steps (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    after_s INTEGER NOT NULL CHECK (after_s BETWEEN 1 AND 86400),
    skills TEXT CHECK (skills IS NULL OR json_valid(skills)),
    add_queue_id INTEGER REFERENCES queues (id) ON DELETE RESTRICT
);
CREATE INDEX queue_relax_steps_queue_id ON queue_relax_steps (queue_id);
CREATE INDEX queue_relax_steps_add_queue_id ON queue_relax_steps (add_queue_id);

CREATE TABLE queue_skills (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    skill_id INTEGER NOT NULL REFERENCES skills (id) ON DELETE RESTRICT,
    min_proficiency INTEGER NOT NULL DEFAULT 1 CHECK (min_proficiency BETWEEN 1 AND 10),
    UNIQUE (queue_id, skill_id)
);
CREATE INDEX queue_skills_skill_id ON queue_skills (skill_id);

CREATE TABLE entry_points (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    channel TEXT NOT NULL CHECK (channel IN ('voice', 'chat', 'email', 'sms', 'social')),
    address TEXT NOT NULL CHECK (length(CAST(address AS BLOB)) BETWEEN 1 AND 256),
    queue_id INTEGER REFERENCES queues (id) ON DELETE RESTRICT,
    flow TEXT CHECK (length(CAST(flow AS BLOB)) <= 64),
    calendar_id INTEGER REFERENCES calendars (id) ON DELETE RESTRICT,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    UNIQUE (channel, address)
);
CREATE INDEX entry_points_queue_id ON entry_points (queue_id);
CREATE INDEX entry_points_calendar_id ON entry_points (calendar_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT CHECK (length(CAST(name AS BLOB)) <= 128),
    language TEXT CHECK (language IN ('en', 'ko', 'zh')),
    time_zone TEXT
        CHECK (length(time_zone) BETWEEN 1 AND 64 AND time_zone NOT GLOB '*[^A-Za-z0-9/_+-]*'
               AND time_zone NOT LIKE '/%' AND instr(time_zone, '..') = 0),
    attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    do_not_call INTEGER NOT NULL DEFAULT 0 CHECK (do_not_call IN (0, 1)),
    consent_recording INTEGER NOT NULL DEFAULT 1 CHECK (consent_recording IN (0, 1)),
    consent_marketing INTEGER NOT NULL DEFAULT 0 CHECK (consent_marketing IN (0, 1)),
    consent_sms INTEGER NOT NULL DEFAULT 0 CHECK (consent_sms IN (0, 1))
);

CREATE TABLE contact_identities (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('phone', 'email', 'chat', 'sms', 'social')),
    value TEXT NOT NULL CHECK (length(CAST(value AS BLOB)) BETWEEN 1 AND 256),
    UNIQUE (kind, value)
);
CREATE INDEX contact_identities_contact_id ON contact_identities (contact_id);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('voice', 'chat', 'email', 'sms', 'social')),
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    state TEXT NOT NULL DEFAULT 'new'
        CHECK (state IN ('new', 'queued', 'offered', 'connected', 'wrap_up', 'ended')),
    queue_id INTEGER REFERENCES queues (id) ON DELETE RESTRICT,
    contact_id INTEGER REFERENCES contacts (id) ON DELETE RESTRICT,
    agent_id INTEGER REFERENCES agents (id) ON DELETE RESTRICT,
    priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000),
    ended_at TEXT CHECK (length(ended_at) <= 40),
    disposition TEXT CHECK (length(CAST(disposition AS BLOB)) <= 64),
    notes TEXT CHECK (length(CAST(notes AS BLOB)) <= 4096)
);
CREATE INDEX interactions_queue_id ON interactions (queue_id);
CREATE INDEX interactions_contact_id ON interactions (contact_id);
CREATE INDEX interactions_agent_id ON interactions (agent_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    interaction_id INTEGER NOT NULL REFERENCES interactions (id) ON DELETE RESTRICT,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    author TEXT CHECK (length(CAST(author AS BLOB)) <= 128),
    body TEXT CHECK (length(CAST(body AS BLOB)) <= 65536)
);
CREATE INDEX messages_interaction_id ON messages (interaction_id);

-- The event log: append-only, seq assigned by SQLite (max(rowid) + 1, so a rolled-back write
-- leaves no gap and nothing is ever deleted).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor_id INTEGER NOT NULL DEFAULT 0,
    actor TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id INTEGER NOT NULL DEFAULT 0,
    detail TEXT
);
