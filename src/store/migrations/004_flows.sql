-- IVR flows as provisioned resources (docs/flows.md): the graph is kept as the JSON the admin
-- wrote (start node and nodes object), validated by the model before it is stored. The row's
-- version is the flow's version: a call runs the version it started with.
CREATE TABLE flows (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    description TEXT CHECK (length(CAST(description AS BLOB)) <= 256),
    language TEXT NOT NULL DEFAULT 'en' CHECK (length(language) BETWEEN 2 AND 16),
    start TEXT NOT NULL CHECK (length(CAST(start AS BLOB)) BETWEEN 1 AND 63),
    nodes TEXT NOT NULL CHECK (json_valid(nodes))
);

-- What the IVR learned about a call, kept on its interaction: the customer's address on the
-- channel (the caller's number: a callback dials it), the language chosen in the flow, and what
-- kind of work it is for the agent ('callback': Blend dials the customer when an agent takes
-- it; 'voicemail': a recorded message to listen to).
ALTER TABLE interactions ADD COLUMN address TEXT CHECK (length(CAST(address AS BLOB)) <= 256);
ALTER TABLE interactions ADD COLUMN language TEXT CHECK (length(language) <= 16);
ALTER TABLE interactions ADD COLUMN kind TEXT CHECK (kind IN ('callback', 'voicemail'));
