-- PostgreSQL gives titles their own search vector here. FTS5 needs nothing new: a column
-- filter (title : ...) already finds the title matches. The version is kept so that both
-- databases number their migrations alike.
SELECT 1;
