DROP TABLE popular_ranking_built;
DROP TABLE popular_ranking;
ALTER TABLE article_views RESET (fillfactor);
CREATE INDEX article_views_popular_idx ON article_views (views DESC, created_at DESC, article_id DESC);
CREATE INDEX article_views_day_popular_idx ON article_views
    (((created_at AT TIME ZONE 'UTC')::date), views DESC, created_at DESC, article_id DESC);
