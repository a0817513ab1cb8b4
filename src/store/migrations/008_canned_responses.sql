-- Canned responses (docs/web.md §Canned responses, src/model/canned.c): texts an agent inserts
-- into a chat, SMS, social or email reply. `body` may use {customer_name} and {agent_name}
-- (the model refuses other placeholders); `channels` is a comma-joined set of digital channels
-- (empty: all); the queues it is meant for are rows of canned_response_queues (none: all). A
-- queue named by a canned response cannot be deleted until the response no longer names it.
CREATE TABLE canned_responses (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    title TEXT NOT NULL CHECK (length(CAST(title AS BLOB)) BETWEEN 1 AND 128),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    language TEXT CHECK (language IS NULL OR length(language) BETWEEN 2 AND 35),
    channels TEXT NOT NULL DEFAULT ''
);

CREATE TABLE canned_response_queues (
    id INTEGER PRIMARY KEY,
    canned_response_id INTEGER NOT NULL REFERENCES canned_responses (id) ON DELETE CASCADE,
    queue_id INTEGER NOT NULL REFERENCES queues (id) ON DELETE RESTRICT,
    UNIQUE (canned_response_id, queue_id)
);
CREATE INDEX canned_response_queues_parent ON canned_response_queues (canned_response_id);
CREATE INDEX canned_response_queues_queue_id ON canned_response_queues (queue_id);
