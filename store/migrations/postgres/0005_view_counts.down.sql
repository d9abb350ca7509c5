DROP TRIGGER articles_add_view_rows_trg ON articles;
DROP FUNCTION articles_add_view_rows();

ALTER TABLE articles ADD COLUMN view_count BIGINT NOT NULL DEFAULT 0;
UPDATE articles a SET view_count = v.views FROM article_views v WHERE v.article_id = a.id;
CREATE INDEX articles_popular_idx ON articles (view_count DESC, created_at DESC, id DESC);
CREATE INDEX articles_day_popular_idx ON articles
    (((created_at AT TIME ZONE 'UTC')::date), view_count DESC, created_at DESC, id DESC);

DROP TABLE article_views;
