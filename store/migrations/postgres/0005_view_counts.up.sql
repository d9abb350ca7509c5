-- View counts move to a narrow table of their own. Counting a view updated the whole
-- article row: never a HOT update (the popular indexes hold the count), so each flushed
-- view re-inserted the row into every index of articles, its two full-text indexes
-- included. At a million articles and a few thousand distinct views a second, flushing
-- could not keep up and slowed every read. Now a flushed view updates a row of three
-- columns and the two small indexes that order popular articles.
CREATE TABLE article_views (
    article_id BIGINT      PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    views      BIGINT      NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);

INSERT INTO article_views (article_id, views, created_at)
    SELECT id, view_count, created_at FROM articles;

CREATE INDEX article_views_popular_idx ON article_views (views DESC, created_at DESC, article_id DESC);
CREATE INDEX article_views_day_popular_idx ON article_views
    (((created_at AT TIME ZONE 'UTC')::date), views DESC, created_at DESC, article_id DESC);

DROP INDEX articles_day_popular_idx;
DROP INDEX articles_popular_idx;
ALTER TABLE articles DROP COLUMN view_count;

-- Every article has its row, made with it, once per statement (a bulk COPY included).
CREATE FUNCTION articles_add_view_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO article_views (article_id, created_at) SELECT id, created_at FROM new_articles;
    RETURN NULL;
END
$$;

CREATE TRIGGER articles_add_view_rows_trg
    AFTER INSERT ON articles REFERENCING NEW TABLE AS new_articles
    FOR EACH STATEMENT EXECUTE FUNCTION articles_add_view_rows();
