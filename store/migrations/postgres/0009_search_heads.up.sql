-- The heads of the words found in many articles: for each word of search_words in more
-- articles than a search ranks whole, the articles that rank highest for the word alone
-- (ts_rank with the search weights, then newest). A broad search ranks these beside the
-- newest articles, so that its best matches are found wherever they are in time. Rebuilt
-- in bulk, a word at a time (Store.RefreshHeads). No foreign key: a search reads the
-- articles of the heads through the articles table, so a deleted article drops out at
-- once, and its rows go at the next rebuild; with one, deleting an article would wait for
-- the rebuild of a word it is a head of.
CREATE TABLE search_heads (
    word       TEXT        NOT NULL,
    rank       REAL        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    article_id BIGINT      NOT NULL
);

CREATE INDEX search_heads_rank_idx ON search_heads (word, rank DESC, created_at DESC, article_id DESC);

ALTER TABLE search_words_refreshed ADD COLUMN heads_at TIMESTAMPTZ;
