-- Who created each article: the name of the API token that did (NULL for articles made
-- before this column, or with writes open), or articlesd's own marker for the demo set,
-- which contains a ':' that no token name can: `seed` tells its demo articles from
-- articles a user wrote under the same title.
ALTER TABLE articles ADD COLUMN created_by TEXT;
