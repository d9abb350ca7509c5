-- The vocabulary that typo tolerance corrects words against: every lexeme of the search
-- vectors with the number of articles holding it. It is rebuilt in bulk (ts_stat) by
-- Store.RefreshVocabulary after a seed and every few minutes by one replica, so a word
-- that only new articles hold is corrected to a few minutes later (exact matches never
-- wait for it).
CREATE TABLE search_words (
    word TEXT   PRIMARY KEY,
    docs BIGINT NOT NULL
);

CREATE TABLE search_words_refreshed (
    one BOOLEAN     PRIMARY KEY DEFAULT true CHECK (one),
    at  TIMESTAMPTZ NOT NULL
);
