-- The Idempotency-Key of each POST /articles that had one, under the name of the token
-- that sent it (keys of different clients never meet): a retry with the same key and the
-- same article gets the first answer again instead of a second article, on any replica,
-- after any failover. Rows older than a day are purged (store.IdempotencyKeyTTL).
CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    article_id   INTEGER NOT NULL,
    created_at   DATETIME NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
