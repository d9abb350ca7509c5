-- When the heads of the words were last built, so that a restarted server keeps heads
-- that are recent enough instead of spending a rebuild on them (18 s at 100,000
-- articles). No row: never built, or a bulk load (seed) made them stale.
CREATE TABLE search_heads_built (
    one INTEGER  PRIMARY KEY CHECK (one = 1),
    at  DATETIME NOT NULL
);
