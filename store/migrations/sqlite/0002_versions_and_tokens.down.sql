DROP TABLE api_tokens;
ALTER TABLE articles DROP COLUMN version;
