-- The vocabulary that typo tolerance corrects words against: FTS5 lists the terms of its
-- index, with the number of articles holding each, through an fts5vocab table.
CREATE VIRTUAL TABLE articles_fts_words USING fts5vocab(articles_fts, 'row');
