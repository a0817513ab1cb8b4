-- A contact's own required skills (docs/routing.md §Queues and eligibility): the JSON object
-- {"skill-name": min_proficiency, ...} the interaction was created with (POST
-- /api/v1/interactions `skills`, or an IVR flow's `skills` variable at its queue node), NULL
-- when it has none. Routing combines them with the queue's requirement and never relaxes them;
-- the server reads them back to restore a waiting contact after a restart.
ALTER TABLE interactions ADD COLUMN skills TEXT
    CHECK (skills IS NULL OR (json_valid(skills) AND length(CAST(skills AS BLOB)) <= 1024));
