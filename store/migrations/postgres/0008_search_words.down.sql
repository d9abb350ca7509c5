DROP TABLE search_words_refreshed;
DROP TABLE search_words;
