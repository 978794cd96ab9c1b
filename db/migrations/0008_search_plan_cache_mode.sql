-- The server's connections plan prepared statements once (plan_cache_mode =
-- force_generic_plan, see db/pool.py). The two search functions keep PostgreSQL's
-- default: their statements were tuned on plans made for each term, which a term's
-- length and letters can change.
ALTER FUNCTION search_contact_ids(bigint, text, boolean, text, text, bigint, text, bigint,
                                  boolean, integer)
    SET plan_cache_mode = auto;
ALTER FUNCTION count_matching_contacts(bigint, text, boolean, text)
    SET plan_cache_mode = auto;
