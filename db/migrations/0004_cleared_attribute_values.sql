-- A cleared attribute value keeps its row with a NULL value, so the panel can still say
-- who cleared it and when (updated_at, updated_by); readers treat NULL as unset.
ALTER TABLE contact_attribute_values ALTER COLUMN value DROP NOT NULL;
