-- Recording policy per queue: "always" records every phone call of the queue from the moment
-- it is connected to an agent; "off" records only when asked through the API.
ALTER TABLE queues ADD COLUMN recording TEXT NOT NULL DEFAULT 'off'
    CHECK (recording IN ('off', 'always'));
