-- Indexes that serve the orderings of filtered lists and popular articles directly, so
-- that no request sorts more than a page: tag filters walk article_tags in creation
-- order (the creation time is copied there; it never changes), and popular articles of
-- one day walk an index on the day and the view count.
ALTER TABLE article_tags ADD COLUMN created_at TIMESTAMPTZ;
UPDATE article_tags t SET created_at = a.created_at FROM articles a WHERE a.id = t.article_id;
ALTER TABLE article_tags ALTER COLUMN created_at SET NOT NULL;

DROP INDEX article_tags_tag_idx;
CREATE INDEX article_tags_tag_idx ON article_tags (tag, created_at DESC, article_id DESC);

CREATE INDEX articles_day_popular_idx ON articles
    (((created_at AT TIME ZONE 'UTC')::date), view_count DESC, created_at DESC, id DESC);
