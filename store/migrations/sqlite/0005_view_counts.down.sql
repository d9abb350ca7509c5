DROP TRIGGER articles_add_view_row;
ALTER TABLE articles ADD COLUMN view_count INTEGER NOT NULL DEFAULT 0;
UPDATE articles SET view_count = (SELECT v.views FROM article_views v WHERE v.article_id = articles.id);
CREATE INDEX articles_popular_idx ON articles (view_count DESC, created_at DESC, id DESC);
DROP TABLE article_views;
