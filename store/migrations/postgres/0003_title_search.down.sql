DROP INDEX articles_title_search_idx;

CREATE OR REPLACE FUNCTION articles_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search :=
        setweight(to_tsvector('english', NEW.title), 'A') ||
        setweight(to_tsvector('english', NEW.tags), 'B') ||
        setweight(to_tsvector('english', NEW.author), 'B') ||
        setweight(to_tsvector('english', NEW.content), 'C');
    RETURN NEW;
END
$$;

ALTER TABLE articles DROP COLUMN title_search;
