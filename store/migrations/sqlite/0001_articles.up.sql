-- Articles with their tags normalised into article_tags. The tags column keeps the ordered
-- list as a JSON array for responses and the search index; article_tags serves tag filters.
-- AUTOINCREMENT so that the id of a deleted article is never handed out again.
CREATE TABLE articles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT     NOT NULL,
    content     TEXT     NOT NULL,
    author      TEXT     NOT NULL,
    tags        TEXT     NOT NULL DEFAULT '[]',
    view_count  INTEGER  NOT NULL DEFAULT 0,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

CREATE TABLE article_tags (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag        TEXT    NOT NULL,
    PRIMARY KEY (article_id, tag)
) WITHOUT ROWID;

CREATE INDEX article_tags_tag_idx ON article_tags (tag, article_id);
CREATE INDEX articles_author_idx ON articles (author, created_at DESC, id DESC);
CREATE INDEX articles_created_idx ON articles (created_at DESC, id DESC);
CREATE INDEX articles_popular_idx ON articles (view_count DESC, created_at DESC, id DESC);

-- Full-text index over the article's text, kept in step with the table by triggers.
-- Only changes to the indexed columns touch it: counting a view does not.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, tags, author, content,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, tags, author, content)
    VALUES (new.id, new.title, new.tags, new.author, new.content);
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, tags, author, content)
    VALUES ('delete', old.id, old.title, old.tags, old.author, old.content);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, tags, author, content ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, tags, author, content)
    VALUES ('delete', old.id, old.title, old.tags, old.author, old.content);
    INSERT INTO articles_fts (rowid, title, tags, author, content)
    VALUES (new.id, new.title, new.tags, new.author, new.content);
END;
