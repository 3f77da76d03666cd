-- Retention: when a photo's file was deleted because every application it belongs to is
-- closed, the centre has it, and the retention period is over (NULL: the file is kept).
ALTER TABLE photos ADD COLUMN purged_at TEXT;
