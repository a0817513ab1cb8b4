-- A chat entry point's own settings (docs/chat-protocol.md §Entry points): the pages allowed to
-- open its chat (comma-separated origins; NULL: the server's [chat] allowed_origins), and the
-- topics of its pre-chat form, each sending the conversation to a queue (NULL: the entry
-- point's) with the customer's own required skills (the flows' "name[:min],..." form).
ALTER TABLE entry_points ADD COLUMN allowed_origins TEXT
    CHECK (allowed_origins IS NULL OR length(allowed_origins) <= 1024);

CREATE TABLE entry_point_topics (
    id INTEGER PRIMARY KEY,
    entry_point_id INTEGER NOT NULL REFERENCES entry_points (id) ON DELETE CASCADE,
    topic TEXT NOT NULL CHECK (length(CAST(topic AS BLOB)) BETWEEN 1 AND 64),
    queue_id INTEGER REFERENCES queues (id) ON DELETE RESTRICT,
    skills TEXT CHECK (skills IS NULL OR length(skills) <= 256)
);
CREATE INDEX entry_point_topics_parent ON entry_point_topics (entry_point_id);
CREATE INDEX entry_point_topics_queue_id ON entry_point_topics (queue_id);
