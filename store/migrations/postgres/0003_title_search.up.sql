-- Search ranks title matches above other matches and bounds its work by looking at the
-- newest matches of each tier only (see Store.Search). The title tier needs its own
-- vector and index: a weight-restricted query on the full vector could not use the index
-- without rechecking every row the word appears in anywhere.
ALTER TABLE articles ADD COLUMN title_search TSVECTOR NOT NULL DEFAULT ''::tsvector;

-- A bulk load (Store.BulkInsert) that computed the vectors itself, exactly as below (see
-- store/synthvec.go), says so for its transaction; its rows keep them. Any other insert or
-- update has its vectors computed here.
CREATE OR REPLACE FUNCTION articles_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.search <> ''::tsvector
        AND current_setting('articlesd.search_vectors_given', true) = 'on' THEN
        RETURN NEW;
    END IF;
    NEW.title_search := setweight(to_tsvector('english', NEW.title), 'A');
    NEW.search :=
        NEW.title_search ||
        setweight(to_tsvector('english', NEW.tags), 'B') ||
        setweight(to_tsvector('english', NEW.author), 'B') ||
        setweight(to_tsvector('english', NEW.content), 'C');
    RETURN NEW;
END
$$;

-- Only title_search changes here, so the trigger (on title, content, author, tags) does
-- not fire and the full vectors are not rebuilt.
UPDATE articles SET title_search = setweight(to_tsvector('english', title), 'A');

CREATE INDEX articles_title_search_idx ON articles USING GIN (title_search);
