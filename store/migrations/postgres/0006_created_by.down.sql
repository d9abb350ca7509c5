ALTER TABLE articles DROP COLUMN created_by;
