-- Popular articles are ordered by a ranking rebuilt in bulk (store/ranking.go), no
-- longer by indexes on article_views. Under reads spread over many articles few views
-- coalesce in a flush, so each flushed view was a row update that re-inserted its row
-- into the two indexes that ordered popular articles. Without them, and with room left
-- on every page (fillfactor 70), a flushed view is a HOT update: one new row version on
-- the same page, no index touched. The rebuild makes this table again, under a name of
-- its own, and swaps it in; its statements are rankingTable's and must stay the same
-- (TestRankingSchemaAsMigrated).
DROP INDEX article_views_popular_idx;
DROP INDEX article_views_day_popular_idx;
ALTER TABLE article_views SET (fillfactor = 70);
-- The existing pages are full: rewritten at the new fill factor.
CLUSTER article_views USING article_views_pkey;

CREATE TABLE popular_ranking (
    article_id BIGINT      NOT NULL,
    views      BIGINT      NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
) WITH (autovacuum_enabled = false); -- never updated; each rebuild analyzes its copy
INSERT INTO popular_ranking (article_id, views, created_at)
    SELECT article_id, views, created_at FROM article_views;
ALTER TABLE popular_ranking ADD CONSTRAINT popular_ranking_pkey PRIMARY KEY (article_id);
CREATE INDEX popular_ranking_idx ON popular_ranking (views DESC, created_at DESC, article_id DESC);
CREATE INDEX popular_ranking_day_idx ON popular_ranking
    (((created_at AT TIME ZONE 'UTC')::date), views DESC, created_at DESC, article_id DESC);

-- When the ranking was built, how long that took (which sets how often it is rebuilt)
-- and what it was built from (rows, their views and the largest id: a rebuild is
-- skipped while article_views still has them).
CREATE TABLE popular_ranking_built (
    one        BOOLEAN     PRIMARY KEY DEFAULT true CHECK (one),
    at         TIMESTAMPTZ NOT NULL,
    took_ms    BIGINT      NOT NULL,
    rows       BIGINT      NOT NULL,
    views      BIGINT      NOT NULL,
    max_id     BIGINT      NOT NULL
);
INSERT INTO popular_ranking_built (at, took_ms, rows, views, max_id)
    SELECT now(), 0, count(*), coalesce(sum(views), 0), coalesce(max(article_id), 0) FROM popular_ranking;
