-- Each article carries a version, the strong ETag of its representation: updates name the
-- version they were based on (If-Match) so that no update is lost.
ALTER TABLE articles ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- API tokens for writes. Only a SHA-256 hash of each token is kept.
CREATE TABLE api_tokens (
    name         TEXT     PRIMARY KEY,
    hash         TEXT     NOT NULL UNIQUE,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME
);
