-- contacts(search:) on large organisations.
--
-- The server's role is subject to row-level security, and PostgreSQL applies a query's
-- own conditions after the tenant policy unless they are leakproof. LIKE and the trigram
-- operators are not, so contacts_search_idx could never serve the server: a search read
-- the organisation in name order until it had a page (over a second, at a million
-- contacts, for a term whose matches sort last).
--
-- So the search has its own copy of what it matches, kept by triggers in the schema
-- search_index, which has no row-level security and which the server's role cannot
-- enter: it reaches the copy only through search_contact_ids() and
-- count_matching_contacts(), which run as the owner and answer for the organisation
-- the transaction is bound to, and return ids that the server then reads from contacts
-- under row-level security.
--
-- The copy's indexes:
-- * search_index_contacts_order_idx: the list in name order with the searched text, read
--   without the table: a term that many contacts match turns up within its first rows;
-- * search_index_contacts_word<n>_idx: the first three characters of each of the first
--   four space-separated words of search_text (for a name of two words: those, the
--   handle and the email) with the list order: the contacts with a word starting with a
--   term, in name order;
-- * search_index_contacts_inner_idx: trigrams of search_inner, which is search_text
--   without the first character of those four words: the contacts containing a term
--   other than at the start of one of them. A term without a space lies within one word,
--   at its start or inside it, so with the word indexes it finds every match;
-- * search_index_contacts_text_idx: trigrams of search_text, for terms with a space and
--   for counts.

CREATE SCHEMA search_index;
REVOKE ALL ON SCHEMA search_index FROM PUBLIC;

-- search_text without the first character of its first four words (words beyond are
-- kept whole): a term without a space is in it exactly when it occurs in search_text
-- other than at the start of one of those words.
CREATE FUNCTION search_index.inner_text(search_text text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(CASE WHEN n <= 4 THEN substr(word, 2) ELSE word END, ' '
                               ORDER BY n), '')
      FROM unnest(string_to_array(search_text, ' ')) WITH ORDINALITY AS w (word, n)
$$;

CREATE TABLE search_index.contacts (
    organization_id bigint NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL,
    search_text text NOT NULL,
    search_inner text NOT NULL GENERATED ALWAYS AS (search_index.inner_text(search_text)) STORED,
    is_vip boolean NOT NULL,
    network text NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, id) REFERENCES public.contacts (organization_id, id)
        ON DELETE CASCADE
);

-- The owner is subject to the tenant policy too (it is forced): lifted for the copy,
-- which must see every organisation.
ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY;
-- Written in list order, so that the contacts of one name share pages: the matches of a
-- term often do (a first name), and are then read from few pages.
INSERT INTO search_index.contacts (organization_id, id, name, search_text, is_vip, network)
SELECT organization_id, id, name, search_text, is_vip, network FROM contacts
 ORDER BY organization_id, name, id;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;

CREATE INDEX search_index_contacts_order_idx ON search_index.contacts
    (organization_id, name, id) INCLUDE (search_text, is_vip, network);
CREATE INDEX search_index_contacts_word1_idx ON search_index.contacts
    (organization_id, left(split_part(search_text, ' ', 1), 3), name, id);
CREATE INDEX search_index_contacts_word2_idx ON search_index.contacts
    (organization_id, left(split_part(search_text, ' ', 2), 3), name, id);
CREATE INDEX search_index_contacts_word3_idx ON search_index.contacts
    (organization_id, left(split_part(search_text, ' ', 3), 3), name, id);
CREATE INDEX search_index_contacts_word4_idx ON search_index.contacts
    (organization_id, left(split_part(search_text, ' ', 4), 3), name, id);
CREATE INDEX search_index_contacts_inner_idx ON search_index.contacts
    USING gin (search_inner gin_trgm_ops);
CREATE INDEX search_index_contacts_text_idx ON search_index.contacts
    USING gin (search_text gin_trgm_ops);

-- Unusable by the server (see above); the copy's index replaces it.
DROP INDEX contacts_search_idx;

CREATE FUNCTION search_index.sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_index.contacts (organization_id, id, name, search_text, is_vip, network)
        VALUES (NEW.organization_id, NEW.id, NEW.name, NEW.search_text, NEW.is_vip, NEW.network);
    ELSE
        UPDATE search_index.contacts
           SET name = NEW.name, search_text = NEW.search_text, is_vip = NEW.is_vip,
               network = NEW.network
         WHERE organization_id = NEW.organization_id AND id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
-- Deletes reach the copy through its foreign key.
CREATE TRIGGER contacts_search_index_insert AFTER INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION search_index.sync();
CREATE TRIGGER contacts_search_index_update AFTER UPDATE ON contacts
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.search_text IS DISTINCT FROM NEW.search_text
          OR OLD.is_vip IS DISTINCT FROM NEW.is_vip OR OLD.network IS DISTINCT FROM NEW.network)
    EXECUTE FUNCTION search_index.sync();

-- The planner's estimate of the rows `query` returns, its parameters being those of
-- search_contact_ids()'s statements. (EXPLAIN is refused in a function that is not
-- volatile; this one only plans.)
CREATE FUNCTION search_index.estimated_rows(
    query text, organization_id bigint, term text, pattern text, is_vip boolean,
    network text, after_name text, after_id bigint, before_name text, before_id bigint,
    row_limit integer, prefix text, stop_name text, stop_id bigint
) RETURNS float8
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan
        USING organization_id, term, pattern, is_vip, network, after_name, after_id,
              before_name, before_id, row_limit, prefix, stop_name, stop_id;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END
$$;

-- The two functions below read the copy through its indexes only (a sequential scan would
-- read every organisation's contacts), and their statements are short, or else read
-- rows one by one: compiling them (jit) would take longer than it could save.

-- The ids of the first p_limit contacts of the organisation, in name order (the last
-- ones when p_from_end), strictly between the cursors given, whose search_text contains
-- lower(p_term), with the filters given (NULL: any). No row unless p_organization_id is
-- the organisation the transaction is bound to. The ids come unordered.
--
-- Matches are found in three ways: reading the list in name order (index-only, the
-- order index) until p_limit of them turned up, which is quick for a term that many
-- contacts match near the cursor; the first matches that start a word (the word
-- indexes); the others, looked up in a trigram index, all read and sorted. The
-- planner's estimates decide between reading in order and looking up. On forward pages
-- (no `before` cursor) the statements reading the word indexes and the list in order are
-- fixed ones, whose plans the session keeps; the others are assembled from fixed fragments.
CREATE FUNCTION search_contact_ids(
    p_organization_id bigint, p_term text, p_is_vip boolean, p_network text,
    p_after_name text, p_after_id bigint, p_before_name text, p_before_id bigint,
    p_from_end boolean, p_limit integer
) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public SET jit = off SET enable_seqscan = off AS $$
DECLARE
    -- What reading one match from a trigram index costs (the index, the row, the sort),
    -- in contacts read in list order; measured at a million contacts.
    match_cost CONSTANT float8 := 3;
    -- A stretch of the list read in order faster than the estimates below are made.
    short_read CONSTANT float8 := 2000;
    v_term text := lower(p_term);
    v_prefix text := left(lower(p_term), 3);
    v_pattern text := '%' || replace(replace(replace(v_term, '\', '\\'), '%', '\%'), '_', '\_')
                      || '%';
    -- Where the matches not found otherwise are looked up: search_inner for a term
    -- without a space (the others start a word), search_text for a term with one.
    v_looked_up text := CASE WHEN strpos(v_term, ' ') > 0 THEN 'search_text' ELSE 'search_inner' END;
    v_fixed boolean := NOT p_from_end AND p_before_name IS NULL;
    -- Before every name and id: the fixed statements' lower bound when there is no cursor.
    v_after_name text := coalesce(p_after_name, '');
    v_after_id bigint := coalesce(p_after_id, -1);
    v_order text := CASE WHEN p_from_end THEN 'name DESC, id DESC' ELSE 'name, id' END;
    v_bounds text := '';
    v_filters text := '';
    v_stop text := '';
    v_starts text := '';
    v_names text[] := '{}';
    v_ids bigint[] := '{}';
    v_found bigint[];
    v_to_stop float8;
    v_matches float8;
    v_cap bigint;
    v_try bigint;
    r record;
BEGIN
    IF p_organization_id IS DISTINCT FROM current_organization_id() THEN
        RETURN;
    END IF;
    -- Parameters of the assembled statements: $1 organisation, $2 term, $3 LIKE pattern,
    -- $4 is_vip, $5 network, $6 $7 after, $8 $9 before, $10 limit, $11 the term's first
    -- three characters, $12 $13 the last match that starts a word.
    IF p_is_vip IS NOT NULL THEN
        v_filters := v_filters || ' AND is_vip = $4';
    END IF;
    IF p_network IS NOT NULL THEN
        v_filters := v_filters || ' AND network = $5';
    END IF;
    IF p_after_name IS NOT NULL THEN
        v_bounds := v_bounds || ' AND (name, id) > ($6, $7)';
    END IF;
    IF p_before_name IS NOT NULL THEN
        v_bounds := v_bounds || ' AND (name, id) < ($8, $9)';
    END IF;

    -- The first matches that start one of the first four words.
    IF v_term ~ '[[:alnum:]]{3}' AND v_looked_up = 'search_inner' THEN
        IF v_fixed THEN
            FOR r IN
                SELECT f.name, f.id FROM (SELECT DISTINCT s.name, s.id FROM (
                    (SELECT c.name, c.id FROM search_index.contacts c
                      WHERE c.organization_id = p_organization_id
                        AND left(split_part(c.search_text, ' ', 1), 3) = v_prefix
                        AND (c.name, c.id) > (v_after_name, v_after_id)
                        AND strpos(c.search_text, v_term) > 0
                        AND (p_is_vip IS NULL OR c.is_vip = p_is_vip)
                        AND (p_network IS NULL OR c.network = p_network)
                      ORDER BY c.name, c.id LIMIT p_limit)
                    UNION ALL
                    (SELECT c.name, c.id FROM search_index.contacts c
                      WHERE c.organization_id = p_organization_id
                        AND left(split_part(c.search_text, ' ', 2), 3) = v_prefix
                        AND (c.name, c.id) > (v_after_name, v_after_id)
                        AND strpos(c.search_text, v_term) > 0
                        AND (p_is_vip IS NULL OR c.is_vip = p_is_vip)
                        AND (p_network IS NULL OR c.network = p_network)
                      ORDER BY c.name, c.id LIMIT p_limit)
                    UNION ALL
                    (SELECT c.name, c.id FROM search_index.contacts c
                      WHERE c.organization_id = p_organization_id
                        AND left(split_part(c.search_text, ' ', 3), 3) = v_prefix
                        AND (c.name, c.id) > (v_after_name, v_after_id)
                        AND strpos(c.search_text, v_term) > 0
                        AND (p_is_vip IS NULL OR c.is_vip = p_is_vip)
                        AND (p_network IS NULL OR c.network = p_network)
                      ORDER BY c.name, c.id LIMIT p_limit)
                    UNION ALL
                    (SELECT c.name, c.id FROM search_index.contacts c
                      WHERE c.organization_id = p_organization_id
                        AND left(split_part(c.search_text, ' ', 4), 3) = v_prefix
                        AND (c.name, c.id) > (v_after_name, v_after_id)
                        AND strpos(c.search_text, v_term) > 0
                        AND (p_is_vip IS NULL OR c.is_vip = p_is_vip)
                        AND (p_network IS NULL OR c.network = p_network)
                      ORDER BY c.name, c.id LIMIT p_limit)
                ) s) f
                ORDER BY f.name, f.id LIMIT p_limit
            LOOP
                v_names := v_names || r.name;
                v_ids := v_ids || r.id;
            END LOOP;
        ELSE
            FOR n IN 1..4 LOOP
                v_starts := v_starts || CASE WHEN n > 1 THEN ' UNION ALL ' ELSE '' END || format(
                    '(SELECT name, id FROM search_index.contacts'
                    ' WHERE organization_id = $1 AND left(split_part(search_text, '' '', %s), 3) = $11'
                    ' AND strpos(search_text, $2) > 0%s%s ORDER BY %s LIMIT $10)',
                    n, v_bounds, v_filters, v_order);
            END LOOP;
            FOR r IN EXECUTE format(
                'SELECT name, id FROM (SELECT DISTINCT name, id FROM (%s) starts) found'
                ' ORDER BY %s LIMIT $10', v_starts, v_order)
                USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
                      p_after_name, p_after_id, p_before_name, p_before_id, p_limit, v_prefix
            LOOP
                v_names := v_names || r.name;
                v_ids := v_ids || r.id;
            END LOOP;
        END IF;
        IF cardinality(v_ids) = p_limit THEN
            v_stop := format(' AND (name, id) %s ($12, $13)',
                             CASE WHEN p_from_end THEN '>=' ELSE '<=' END);
        END IF;
    END IF;

    -- Reading the list in order finds every match up to the last of those (the scan
    -- stops there at the latest, having found them): done when that stretch is short,
    -- or shorter than looking up every match would be (the trigram index holds every
    -- organisation's, and all of them are read, whatever the cursors and filters).
    -- Without a run of three letters or digits in the term there is no trigram to look
    -- up, and the list is read in order however long.
    IF v_term ~ '[[:alnum:]]{3}' THEN
        v_to_stop := search_index.estimated_rows(
            format('SELECT 1 FROM search_index.contacts WHERE organization_id = $1%s%s',
                   v_bounds, v_stop),
            p_organization_id, v_term, v_pattern, p_is_vip, p_network, p_after_name,
            p_after_id, p_before_name, p_before_id, p_limit, v_prefix, v_names[p_limit],
            v_ids[p_limit]);
        IF v_to_stop > short_read THEN
            v_matches := search_index.estimated_rows(
                format('SELECT 1 FROM search_index.contacts WHERE %s LIKE $3', v_looked_up),
                p_organization_id, v_term, v_pattern, p_is_vip, p_network, p_after_name,
                p_after_id, p_before_name, p_before_id, p_limit, v_prefix, NULL, NULL);
            v_cap := ceil(match_cost * greatest(v_matches, 1));
        END IF;
    END IF;
    IF v_to_stop IS NULL OR v_to_stop <= greatest(short_read, v_cap) THEN
        IF v_fixed THEN
            RETURN QUERY
                SELECT c.id FROM search_index.contacts c
                 WHERE c.organization_id = p_organization_id
                   AND (c.name, c.id) > (v_after_name, v_after_id)
                   AND strpos(c.search_text, v_term) > 0
                   AND (p_is_vip IS NULL OR c.is_vip = p_is_vip)
                   AND (p_network IS NULL OR c.network = p_network)
                 ORDER BY c.name, c.id LIMIT p_limit;
        ELSE
            RETURN QUERY EXECUTE format(
                'SELECT id FROM search_index.contacts'
                ' WHERE organization_id = $1%s AND strpos(search_text, $2) > 0%s'
                ' ORDER BY %s LIMIT $10',
                v_bounds, v_filters, v_order)
                USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
                      p_after_name, p_after_id, p_before_name, p_before_id, p_limit;
        END IF;
        RETURN;
    END IF;

    -- Further than that. Yet were the matches spread evenly over the list, the first
    -- ones would be near when matches are common. If so by far, the list is read in
    -- order for a quarter of what looking them all up would take, and they are looked up
    -- only if that was not enough (they are not evenly spread when they share a name).
    v_try := v_cap / 4;
    IF v_try > short_read AND 4 * p_limit * search_index.estimated_rows(
           'SELECT 1 FROM search_index.contacts',
           p_organization_id, v_term, v_pattern, p_is_vip, p_network, p_after_name,
           p_after_id, p_before_name, p_before_id, p_limit, v_prefix, NULL, NULL)
       < v_try * greatest(v_matches, 1)
    THEN
        IF v_fixed THEN
            SELECT array_agg(h.id) INTO v_found FROM (
                SELECT w.id FROM (
                    SELECT c.id, c.name, c.search_text, c.is_vip, c.network
                      FROM search_index.contacts c
                     WHERE c.organization_id = p_organization_id
                       AND (c.name, c.id) > (v_after_name, v_after_id)
                     ORDER BY c.name, c.id LIMIT v_try) w
                 WHERE strpos(w.search_text, v_term) > 0
                   AND (p_is_vip IS NULL OR w.is_vip = p_is_vip)
                   AND (p_network IS NULL OR w.network = p_network)
                 ORDER BY w.name, w.id LIMIT p_limit) h;
        ELSE
            EXECUTE format(
                'SELECT array_agg(id) FROM ('
                '  SELECT id FROM (SELECT id, name, search_text, is_vip, network'
                '                  FROM search_index.contacts WHERE organization_id = $1%s'
                '                  ORDER BY %s LIMIT %s) read'
                '  WHERE strpos(search_text, $2) > 0%s ORDER BY %s LIMIT $10) hits',
                v_bounds, v_order, v_try, v_filters, v_order)
                INTO v_found
                USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
                      p_after_name, p_after_id, p_before_name, p_before_id, p_limit;
        END IF;
        IF cardinality(v_found) = p_limit THEN
            RETURN QUERY SELECT unnest(v_found);
            RETURN;
        END IF;
    END IF;

    -- Planned for these values every time: a plan kept for any values could combine the
    -- trigram index with a range of the list (the cursor), reading that whole range.
    RETURN QUERY EXECUTE format(
        'WITH looked_up AS MATERIALIZED ('
        '  SELECT name, id FROM search_index.contacts'
        '  WHERE organization_id = $1 AND %s LIKE $3%s%s)'
        ' SELECT id FROM ('
        '   SELECT DISTINCT name, id FROM ('
        '     SELECT name, id FROM unnest($12::text[], $13::bigint[]) AS starts (name, id)'
        '     UNION ALL (SELECT name, id FROM looked_up ORDER BY %s LIMIT $10)'
        '   ) candidates'
        ' ) found ORDER BY %s LIMIT $10',
        v_looked_up, v_bounds, v_filters, v_order, v_order)
        USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
              p_after_name, p_after_id, p_before_name, p_before_id, p_limit,
              v_prefix, v_names, v_ids;
END
$$;
REVOKE ALL ON FUNCTION search_contact_ids(bigint, text, boolean, text, text, bigint, text, bigint,
                                          boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_contact_ids(bigint, text, boolean, text, text, bigint, text,
                                             bigint, boolean, integer) TO inbox_app;

-- How many contacts of the organisation search_contact_ids() can list for these
-- arguments; 0 unless p_organization_id is the organisation the transaction is bound to.
CREATE FUNCTION count_matching_contacts(
    p_organization_id bigint, p_term text, p_is_vip boolean, p_network text
) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public SET jit = off SET enable_seqscan = off AS $$
DECLARE
    v_term text := lower(p_term);
    v_pattern text := '%' || replace(replace(replace(v_term, '\', '\\'), '%', '\%'), '_', '\_')
                      || '%';
    v_count bigint;
BEGIN
    IF p_organization_id IS DISTINCT FROM current_organization_id() THEN
        RETURN 0;
    END IF;
    -- Without a trigram to look up, the trigram index would return every row.
    EXECUTE format(
        'SELECT count(*) FROM search_index.contacts WHERE organization_id = $1 AND %s'
        ' AND ($4::boolean IS NULL OR is_vip = $4) AND ($5::text IS NULL OR network = $5)',
        CASE WHEN v_term ~ '[[:alnum:]]{3}' THEN 'search_text LIKE $3'
             ELSE 'strpos(search_text, $2) > 0' END)
        INTO v_count
        USING p_organization_id, v_term, v_pattern, p_is_vip, p_network;
    RETURN v_count;
END
$$;
REVOKE ALL ON FUNCTION count_matching_contacts(bigint, text, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION count_matching_contacts(bigint, text, boolean, text) TO inbox_app;

-- The choices above rest on the planner's estimates of how many contacts a term matches
-- and how many a stretch of the list holds: finer statistics than the default.
ALTER TABLE search_index.contacts
    ALTER COLUMN name SET STATISTICS 500,
    ALTER COLUMN search_text SET STATISTICS 500,
    ALTER COLUMN search_inner SET STATISTICS 500;
ANALYZE search_index.contacts;
