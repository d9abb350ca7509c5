-- Popular articles are ordered by a ranking rebuilt in bulk (store/ranking.go), no
-- longer by an index on article_views: each flushed view updated that index. The
-- rebuild makes this table again, under a name of its own, and swaps it in; its
-- statements are rankingTable's and must stay the same (TestRankingSchemaAsMigrated).
DROP INDEX article_views_popular_idx;

CREATE TABLE popular_ranking (
    article_id INTEGER  PRIMARY KEY,
    views      INTEGER  NOT NULL,
    created_at DATETIME NOT NULL
);
INSERT INTO popular_ranking (article_id, views, created_at)
    SELECT article_id, views, created_at FROM article_views;
CREATE INDEX popular_ranking_idx ON popular_ranking (views DESC, created_at DESC, article_id DESC);

-- When the ranking was built, how long that took (which sets how often it is rebuilt)
-- and what it was built from (rows, their views and the largest id: a rebuild is
-- skipped while article_views still has them).
CREATE TABLE popular_ranking_built (
    one     INTEGER  PRIMARY KEY CHECK (one = 1),
    at      DATETIME NOT NULL,
    took_ms INTEGER  NOT NULL,
    rows    INTEGER  NOT NULL,
    views   INTEGER  NOT NULL,
    max_id  INTEGER  NOT NULL
);
INSERT INTO popular_ranking_built (one, at, took_ms, rows, views, max_id)
    SELECT 1, datetime('now'), 0, count(*), coalesce(sum(views), 0), coalesce(max(article_id), 0) FROM popular_ranking;
