DROP TABLE popular_ranking_built;
DROP TABLE popular_ranking;
CREATE INDEX article_views_popular_idx ON article_views (views DESC, created_at DESC, article_id DESC);
