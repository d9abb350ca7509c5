DROP INDEX article_tags_tag_idx;
CREATE INDEX article_tags_tag_idx ON article_tags (tag, article_id);
ALTER TABLE article_tags DROP COLUMN created_at;
