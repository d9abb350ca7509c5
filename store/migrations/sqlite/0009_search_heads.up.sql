-- The heads of the words found in many articles (see the PostgreSQL migration): here
-- ranked by bm25 for the word alone, then newest.
CREATE TABLE search_heads (
    word       TEXT     NOT NULL,
    rank       REAL     NOT NULL,
    created_at DATETIME NOT NULL,
    article_id INTEGER  NOT NULL
);

CREATE INDEX search_heads_rank_idx ON search_heads (word, rank, created_at DESC, article_id DESC);
