-- Call recordings: one row per recorded span of a call (a stereo WAV under the data directory,
-- customer left, agent right), written when the recording is finalised, with its checksum.
CREATE TABLE recordings (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    interaction_id INTEGER NOT NULL REFERENCES interactions (id) ON DELETE RESTRICT,
    file TEXT NOT NULL CHECK (length(CAST(file AS BLOB)) BETWEEN 1 AND 256),
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    paused TEXT,
    state TEXT NOT NULL CHECK (state IN ('complete', 'damaged'))
);
CREATE INDEX recordings_interaction_id ON recordings (interaction_id);
