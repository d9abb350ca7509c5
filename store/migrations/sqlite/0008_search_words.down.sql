DROP TABLE articles_fts_words;
