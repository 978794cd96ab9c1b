-- contacts(search:) at a million contacts, for terms that are inside words too.
--
-- search_contact_ids() (migration 0007) takes the first matches that start one of the
-- first four words from the word indexes; to know that no other match comes before them
-- it either looks up every contact whose search_inner holds the term (in a trigram index
-- of every organisation) or reads the list in name order up to the last of them. Both
-- grow with the organisation, and the first often needlessly: a term's letters are
-- inside the words of the very contacts that have a word starting with them, as a last
-- name is in the handle and the email ("ada_torres12"), so for "tor" search_inner lists
-- every Torres, tens of thousands at a million contacts, whose matches the word indexes
-- give anyway. Then the planning: two estimates (EXPLAIN) per search, and the fixed
-- statements planned again at every call once the organisation is large.
--
-- A contact whose text holds the term's first three characters where one of its first
-- four words starts with them is among the matches of that word's index (the index is
-- keyed by those three characters and filtered on the whole text). The look-up has only
-- to find the others: search_starts is search_text with each occurrence of the first
-- three characters of those words broken by a space ("ada_torres12" becomes
-- "ad da_to orres12" for Ada Torres), and its trigram index lists, for "tor", the
-- contacts holding "tor" but no word starting with it (a Viktor Abara, not a Viktor
-- Torres). Most terms are in few such contacts: search_contact_ids() now looks those up
-- first and, when there are few, is done after the word indexes and that look-up,
-- without estimating the other ways; its other ways are unchanged.

-- search_text with the occurrences of the first three characters of each of its first
-- four words broken by a space. Every three characters without a space in the result
-- occur in search_text, and every three characters without a space of search_text occur
-- in the result unless they are those of a word: the space goes between the second and
-- third of them, so the characters before and after still follow one another. Words of
-- fewer than three characters are left alone (their characters are not a key of the word
-- indexes). Occurrences that overlap one replaced before may be left whole, which only
-- lists a contact more.
CREATE FUNCTION search_index.broken_start(t text, word_start text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(t, word_start, CASE WHEN length(word_start) = 3
                                       THEN left(word_start, 2) || ' ' || right(word_start, 2)
                                       ELSE word_start END)
$$;
-- A single expression, which PostgreSQL inlines (a call per word would cost more than
-- the replacement).
CREATE FUNCTION search_index.starts_text(search_text text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT search_index.broken_start(search_index.broken_start(search_index.broken_start(
               search_index.broken_start(search_text, left(split_part(search_text, ' ', 1), 3)),
               left(split_part(search_text, ' ', 2), 3)), left(split_part(search_text, ' ', 3), 3)),
               left(split_part(search_text, ' ', 4), 3))
$$;

-- Stored, though adding it rewrites the table: trigram look-ups recheck every row the
-- index lists, and computing the text again for each would cost more than reading it.
-- The rewrite clears the table's visibility map: until it is vacuumed, reading the list
-- in order visits the table too (bench.run vacuums after new migrations).
ALTER TABLE search_index.contacts
    ADD COLUMN search_starts text NOT NULL
        GENERATED ALWAYS AS (search_index.starts_text(search_text)) STORED;
CREATE INDEX search_index_contacts_starts_idx ON search_index.contacts
    USING gin (search_starts gin_trgm_ops);

-- estimated_rows() with the LIKE pattern of the term's first three characters ($14), and
-- optionally the largest estimate of any node of the plan: for a look-up, the entries its
-- index scan reads (the plan's own estimate is of those left after its other conditions).
DROP FUNCTION search_index.estimated_rows(text, bigint, text, text, boolean, text, text, bigint,
                                          text, bigint, integer, text, text, bigint);
CREATE FUNCTION search_index.estimated_rows(
    query text, organization_id bigint, term text, pattern text, is_vip boolean,
    network text, after_name text, after_id bigint, before_name text, before_id bigint,
    row_limit integer, prefix text, stop_name text, stop_id bigint, starts_pattern text,
    of_any_node boolean
) RETURNS float8
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan
        USING organization_id, term, pattern, is_vip, network, after_name, after_id,
              before_name, before_id, row_limit, prefix, stop_name, stop_id, starts_pattern;
    IF of_any_node THEN
        RETURN (SELECT max(n::text::float8) FROM jsonb_path_query(plan, 'strict $.**."Plan Rows"') n);
    END IF;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END
$$;

-- search_contact_ids() of 0007 (see there), but for the look-up of the matches that do
-- not start a word, done first when few (see below), and for its plans. Its fixed
-- statement (the word indexes, on forward pages) is planned once per session, no longer
-- at every call: at a million contacts the planner found plans made for the values
-- cheaper and made them every time, half a millisecond of planning per search for the
-- same plan. The statements it assembles (EXECUTE), now also those reading the list in
-- order, are still planned for their values, whatever plan_cache_mode says.
CREATE OR REPLACE FUNCTION search_contact_ids(
    p_organization_id bigint, p_term text, p_is_vip boolean, p_network text,
    p_after_name text, p_after_id bigint, p_before_name text, p_before_id bigint,
    p_from_end boolean, p_limit integer
) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public SET jit = off SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- What reading one match from a trigram index costs (the index, the row, the sort),
    -- in contacts read in list order; measured at a million contacts.
    match_cost CONSTANT float8 := 3;
    -- A stretch of the list read in order faster than the estimates below are made.
    short_read CONSTANT float8 := 2000;
    -- As many matches as looking up costs a short read (short_read / match_cost).
    few_matches CONSTANT integer := 666;
    v_term text := lower(p_term);
    v_prefix text := left(lower(p_term), 3);
    v_pattern text := '%' || replace(replace(replace(v_term, '\', '\\'), '%', '\%'), '_', '\_')
                      || '%';
    -- The same for the term's first three characters, looked up in search_starts.
    v_starts_pattern text := '%' || replace(replace(replace(left(v_term, 3), '\', '\\'), '%', '\%'),
                                            '_', '\_') || '%';
    -- How the matches not found otherwise are looked up: for a term without a space, the
    -- contacts holding its first three characters where no word starts with them
    -- (search_starts: exact for a term of three characters, which it then holds) and
    -- holding the term inside a word (search_inner: exact for a longer one; the planner
    -- reads the index with fewer entries for it); for a term with one, in search_text.
    v_looked_up text := CASE WHEN strpos(v_term, ' ') > 0 THEN 'search_text LIKE $3'
                             WHEN length(v_term) = 3
                             THEN 'search_starts LIKE $3'
                             ELSE 'search_starts LIKE $14'
                                  ' AND search_inner LIKE $3' END;
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
    v_few text;
    v_few_names text[];
    v_few_ids bigint[];
    r record;
BEGIN
    IF p_organization_id IS DISTINCT FROM current_organization_id() THEN
        RETURN;
    END IF;
    -- Parameters of the assembled statements: $1 organisation, $2 term, $3 LIKE pattern,
    -- $4 is_vip, $5 network, $6 $7 after, $8 $9 before, $10 limit, $11 the term's first
    -- three characters, $12 $13 the last match that starts a word, $14 the LIKE pattern
    -- of the term's first three characters.
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
    IF v_term ~ '[[:alnum:]]{3}' AND strpos(v_term, ' ') = 0 THEN
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

    -- Most terms are in few contacts other than at the start of one of their words: when
    -- the planner expects no more of those than reading them costs a short read, they
    -- are looked up first, and if there are indeed few, they and the matches that start
    -- a word are all the matches that can come first. This costs about the same for any
    -- size of organisation. (The organisation's condition is written so that no btree
    -- index can serve it: with a LIMIT and without one, the planner could prefer reading
    -- the organisation through such an index until enough rows matched, all of it when
    -- none do.)
    --
    -- Otherwise, reading the list in order finds every match up to the last of those (the
    -- scan stops there at the latest, having found them): done when that stretch is
    -- shorter than looking up every match would be (the trigram index holds every
    -- organisation's, and all of them are read, whatever the cursors and filters).
    -- Without a run of three letters or digits in the term there is no trigram to look
    -- up, and the list is read in order however long.
    IF v_term ~ '[[:alnum:]]{3}' THEN
        v_few := format(
            'SELECT array_agg(name), array_agg(id) FROM ('
            '  SELECT name, id FROM search_index.contacts'
            '  WHERE organization_id + 0 = $1 AND %s%s%s LIMIT %s) few',
            v_looked_up, v_bounds, v_filters, few_matches + 1);
        v_matches := search_index.estimated_rows(
            v_few, p_organization_id, v_term, v_pattern, p_is_vip, p_network, p_after_name,
            p_after_id, p_before_name, p_before_id, p_limit, v_prefix, NULL, NULL,
            v_starts_pattern, true);
        IF v_matches <= few_matches THEN
            EXECUTE v_few INTO v_few_names, v_few_ids
                USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
                      p_after_name, p_after_id, p_before_name, p_before_id, p_limit,
                      v_prefix, v_names, v_ids, v_starts_pattern;
            IF coalesce(cardinality(v_few_ids), 0) <= few_matches THEN
                IF p_from_end THEN
                    RETURN QUERY
                        SELECT f.id FROM (
                            SELECT DISTINCT s.name, s.id FROM (
                                SELECT * FROM unnest(v_names, v_ids)
                                UNION ALL SELECT * FROM unnest(v_few_names, v_few_ids)
                            ) s (name, id)) f
                         ORDER BY f.name DESC, f.id DESC LIMIT p_limit;
                ELSE
                    RETURN QUERY
                        SELECT f.id FROM (
                            SELECT DISTINCT s.name, s.id FROM (
                                SELECT * FROM unnest(v_names, v_ids)
                                UNION ALL SELECT * FROM unnest(v_few_names, v_few_ids)
                            ) s (name, id)) f
                         ORDER BY f.name, f.id LIMIT p_limit;
                END IF;
                RETURN;
            END IF;
            v_matches := few_matches + 1;
        END IF;
        v_cap := ceil(match_cost * v_matches);
        v_to_stop := search_index.estimated_rows(
            format('SELECT 1 FROM search_index.contacts WHERE organization_id = $1%s%s',
                   v_bounds, v_stop),
            p_organization_id, v_term, v_pattern, p_is_vip, p_network, p_after_name,
            p_after_id, p_before_name, p_before_id, p_limit, v_prefix, v_names[p_limit],
            v_ids[p_limit], v_starts_pattern, false);
    END IF;
    IF v_cap IS NULL OR v_to_stop <= v_cap THEN
        -- Assembled on forward pages too: a plan kept for any values would test the
        -- filters' parameters on every row read, a tenth more on a long stretch.
        RETURN QUERY EXECUTE format(
            'SELECT id FROM search_index.contacts'
            ' WHERE organization_id = $1%s AND strpos(search_text, $2) > 0%s'
            ' ORDER BY %s LIMIT $10',
            v_bounds, v_filters, v_order)
            USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
                  p_after_name, p_after_id, p_before_name, p_before_id, p_limit;
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
           p_after_id, p_before_name, p_before_id, p_limit, v_prefix, NULL, NULL, NULL, false)
       < v_try * greatest(v_matches, 1)
    THEN
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
        '  WHERE organization_id = $1 AND %s%s%s)'
        ' SELECT id FROM ('
        '   SELECT DISTINCT name, id FROM ('
        '     SELECT name, id FROM unnest($12::text[], $13::bigint[]) AS starts (name, id)'
        '     UNION ALL (SELECT name, id FROM looked_up ORDER BY %s LIMIT $10)'
        '   ) candidates'
        ' ) found ORDER BY %s LIMIT $10',
        v_looked_up, v_bounds, v_filters, v_order, v_order)
        USING p_organization_id, v_term, v_pattern, p_is_vip, p_network,
              p_after_name, p_after_id, p_before_name, p_before_id, p_limit,
              v_prefix, v_names, v_ids, v_starts_pattern;
END
$$;

-- The planner's estimates of how many contacts the look-ups list decide between them and
-- reading in order (see 0007).
ALTER TABLE search_index.contacts ALTER COLUMN search_starts SET STATISTICS 500;
ANALYZE search_index.contacts;
