ALTER TABLE search_words_refreshed DROP COLUMN heads_at;
DROP TABLE search_heads;
