-- View counts move to a narrow table of their own, as on PostgreSQL: a flushed view
-- updates a row of three columns and the index that orders popular articles, not the
-- article row and every index of articles.
CREATE TABLE article_views (
    article_id INTEGER  PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    views      INTEGER  NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL
);

INSERT INTO article_views (article_id, views, created_at)
    SELECT id, view_count, created_at FROM articles;

CREATE INDEX article_views_popular_idx ON article_views (views DESC, created_at DESC, article_id DESC);

DROP INDEX articles_popular_idx;
ALTER TABLE articles DROP COLUMN view_count;

CREATE TRIGGER articles_add_view_row AFTER INSERT ON articles BEGIN
    INSERT INTO article_views (article_id, created_at) VALUES (new.id, new.created_at);
END;
