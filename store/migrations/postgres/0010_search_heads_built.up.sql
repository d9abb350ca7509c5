-- PostgreSQL has kept when the heads were built since 0009, in
-- search_words_refreshed.heads_at. This version exists so that both databases have the
-- same migrations; the embedded database's 0010 adds its own record of it.
SELECT 1;
