-- The web chat visitor's rating of a conversation (docs/chat-protocol.md): 1..5, written once
-- with the chat.rating event; a rating kept on the row lets a visitor who reloads the page after
-- the end rate once, and only once, even across restarts.
ALTER TABLE interactions ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 5);
