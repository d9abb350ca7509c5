DROP TABLE search_heads;
