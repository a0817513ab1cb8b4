-- An agent's own signature for their email replies (docs/email.md §Replies), used instead of
-- their name; at most 1,000 characters (the model checks characters, the column bytes).
ALTER TABLE agents ADD COLUMN signature TEXT CHECK (length(CAST(signature AS BLOB)) <= 4000);
