DROP TABLE articles_fts;
DROP TABLE article_tags;
DROP TABLE articles;
