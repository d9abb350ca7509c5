DROP TABLE article_tags;
DROP TABLE articles;
DROP FUNCTION articles_search_vector();
