-- Tenant isolation enforced by PostgreSQL. The server connects as inbox_app: it owns no
-- table, is no superuser and cannot bypass row-level security. Each transaction names
-- its organisation with set_config('app.organization_id', $1, true); without it a
-- policy matches nothing.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'inbox_app') THEN
        CREATE ROLE inbox_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;

-- Read once per statement when used as (SELECT current_organization_id()); an unset or
-- reset setting is NULL, and NULL equals nothing.
CREATE FUNCTION current_organization_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT NULLIF(current_setting('app.organization_id', true), '')::bigint
$$;

-- Enables and forces row-level security with the tenant policy on every table that has an
-- organization_id column, and grants inbox_app what it needs. Later migrations that add
-- tables call it again; it is idempotent.
CREATE FUNCTION secure_tenant_tables() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND a.attname = 'organization_id' AND NOT a.attisdropped
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        -- agent_tokens is read only through authenticate(), as its owner; inbox_app has
        -- no privilege on it at all.
        IF t <> 'agent_tokens'::regclass THEN
            EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = t AND polname = 'tenant') THEN
            EXECUTE format(
                'CREATE POLICY tenant ON %s USING (organization_id = (SELECT current_organization_id()))'
                ' WITH CHECK (organization_id = (SELECT current_organization_id()))', t);
        END IF;
        IF t <> 'agent_tokens'::regclass THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO inbox_app', t);
        END IF;
    END LOOP;
    GRANT USAGE ON SCHEMA public TO inbox_app;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO inbox_app;
END
$$;

SELECT secure_tenant_tables();

-- The organisation row itself: the app may read its own, nothing more.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON organizations FOR SELECT TO inbox_app
    USING (id = (SELECT current_organization_id()));
GRANT SELECT ON organizations TO inbox_app;

-- Authentication happens before the organisation is known: this function, owned by the
-- migrating role, looks the token's hash up past RLS, and on success sets the agent's
-- organisation for the rest of the transaction. It returns no row for an unknown or
-- revoked token.
CREATE FUNCTION authenticate(p_token_sha256 bytea)
RETURNS TABLE (organization_id bigint, id bigint, name text, email text, avatar_url text,
               role text, created_at timestamptz, organization_name text, crm_name text,
               organization_created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_organization_id bigint;
BEGIN
    SELECT t.organization_id INTO v_organization_id
      FROM public.agent_tokens t
     WHERE t.token_sha256 = p_token_sha256 AND t.revoked_at IS NULL;
    IF v_organization_id IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('app.organization_id', v_organization_id::text, true);
    RETURN QUERY
        SELECT a.organization_id, a.id, a.name, a.email, a.avatar_url, a.role, a.created_at,
               o.name, o.crm_name, o.created_at
          FROM public.agent_tokens t
          JOIN public.agents a ON a.organization_id = t.organization_id AND a.id = t.agent_id
          JOIN public.organizations o ON o.id = a.organization_id
         WHERE t.token_sha256 = p_token_sha256;
END
$$;
REVOKE ALL ON FUNCTION authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate(bytea) TO inbox_app;
