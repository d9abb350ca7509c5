DROP TABLE search_heads_built;
