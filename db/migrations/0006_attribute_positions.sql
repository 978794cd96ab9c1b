-- Positions are bounded, as resolvers/attribute_definitions.py checks (MIN_POSITION,
-- MAX_POSITION), so that one past the highest position is still a position. Positions
-- set before the bound are brought within it first: order among them is kept except
-- between those beyond it, which then sort by id. Row-level security is forced on the
-- table, owner included, so it is lifted for that update: it must see every organisation.
ALTER TABLE attribute_definitions NO FORCE ROW LEVEL SECURITY;
UPDATE attribute_definitions
   SET position = greatest(-1000000, least(1000000, position))
 WHERE position NOT BETWEEN -1000000 AND 1000000;
ALTER TABLE attribute_definitions FORCE ROW LEVEL SECURITY;

ALTER TABLE attribute_definitions
    ADD CONSTRAINT attribute_definitions_position_check
    CHECK (position BETWEEN -1000000 AND 1000000);
