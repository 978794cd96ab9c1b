-- Note bodies are limited to 2,000 characters as a person counts them (grapheme
-- clusters), which PostgreSQL cannot count. The backstop here is exact where counting is
-- simple and never stricter than the application: a body of ASCII only has one grapheme
-- per code point (a CR LF pair being one), so it is held to 2,000 exactly; any other body
-- is held to the application's cap of 16,000 code points.
ALTER TABLE notes DROP CONSTRAINT notes_body_check;
ALTER TABLE notes ADD CONSTRAINT notes_body_check CHECK (
    body ~ '[^[:space:]]'
    AND length(body) <= 16000
    AND (body ~ '[^\x01-\x7f]' OR length(replace(body, E'\r\n', E'\n')) <= 2000)
);
