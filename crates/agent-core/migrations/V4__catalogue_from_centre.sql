-- A catalogue from the township centre outranks the one built into the app: a phone takes its
-- own township's first catalogue whatever version number the built-in one has (both start
-- at 1), and the built-in one comes back only if the centre never sent one.
ALTER TABLE catalogue ADD COLUMN from_centre INTEGER NOT NULL DEFAULT 0;
