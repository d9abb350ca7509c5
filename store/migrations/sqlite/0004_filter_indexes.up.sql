-- Tag filters walk article_tags in creation order: the creation time is copied there (it
-- never changes) and indexed with the tag.
ALTER TABLE article_tags ADD COLUMN created_at DATETIME NOT NULL DEFAULT '';
UPDATE article_tags SET created_at = (SELECT a.created_at FROM articles a WHERE a.id = article_tags.article_id);

DROP INDEX article_tags_tag_idx;
CREATE INDEX article_tags_tag_idx ON article_tags (tag, created_at DESC, article_id DESC);
