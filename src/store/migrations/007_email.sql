-- The digital channels' messages (docs/email.md, docs/webhooks.md): a message keeps its subject and Message-ID (threading
-- looks replies up by it), where it came from (an IMAP mailbox's UIDVALIDITY and UID, unique:
-- a message fetched twice is stored once), what the parser read beyond the text (sender,
-- recipients, threading headers, flags, the HTML for display, the raw file and attachments, by
-- checksum) and, for Blend's own replies, the sending state with its retries (delivered: the
-- provider's status callback said so).
ALTER TABLE messages ADD COLUMN subject TEXT CHECK (length(CAST(subject AS BLOB)) <= 998);
ALTER TABLE messages ADD COLUMN message_id TEXT CHECK (length(CAST(message_id AS BLOB)) <= 998);
ALTER TABLE messages ADD COLUMN source TEXT CHECK (length(CAST(source AS BLOB)) <= 256);
ALTER TABLE messages ADD COLUMN meta TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(meta));
ALTER TABLE messages ADD COLUMN state TEXT
    CHECK (state IN ('received', 'queued', 'sent', 'delivered', 'failed'));
ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE messages ADD COLUMN next_attempt_at TEXT CHECK (length(next_attempt_at) <= 40);
CREATE UNIQUE INDEX messages_source ON messages (source) WHERE source IS NOT NULL;
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_state ON messages (state) WHERE state = 'queued';
