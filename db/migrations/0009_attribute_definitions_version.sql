-- A token that changes whenever an organisation's attribute definitions do. authenticate()
-- returns it with the organisation, so a server may keep the definitions between requests
-- and know, without another statement, whether its copy is current. It is a random
-- value, not a counter: a database restored or rebuilt never gives an old token to other
-- definitions.
ALTER TABLE organizations
    ADD COLUMN attribute_definitions_version uuid NOT NULL DEFAULT gen_random_uuid();

-- Statement-level, so a bulk change renews each organisation's token once. Owned by the
-- migrating role: inbox_app may not write organizations.
CREATE FUNCTION renew_attribute_definitions_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE public.organizations SET attribute_definitions_version = gen_random_uuid();
    ELSE
        UPDATE public.organizations o SET attribute_definitions_version = gen_random_uuid()
         WHERE o.id IN (SELECT c.organization_id FROM changed c);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION renew_attribute_definitions_version() FROM PUBLIC;

CREATE TRIGGER attribute_definitions_inserted AFTER INSERT ON attribute_definitions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION renew_attribute_definitions_version();
CREATE TRIGGER attribute_definitions_updated AFTER UPDATE ON attribute_definitions
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION renew_attribute_definitions_version();
CREATE TRIGGER attribute_definitions_deleted AFTER DELETE ON attribute_definitions
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION renew_attribute_definitions_version();
CREATE TRIGGER attribute_definitions_truncated AFTER TRUNCATE ON attribute_definitions
    FOR EACH STATEMENT EXECUTE FUNCTION renew_attribute_definitions_version();

-- authenticate() as before, with the token.
DROP FUNCTION authenticate(bytea);
CREATE FUNCTION authenticate(p_token_sha256 bytea)
RETURNS TABLE (organization_id bigint, id bigint, name text, email text, avatar_url text,
               role text, created_at timestamptz, organization_name text, crm_name text,
               organization_created_at timestamptz, attribute_definitions_version uuid)
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
               o.name, o.crm_name, o.created_at, o.attribute_definitions_version
          FROM public.agent_tokens t
          JOIN public.agents a ON a.organization_id = t.organization_id AND a.id = t.agent_id
          JOIN public.organizations o ON o.id = a.organization_id
         WHERE t.token_sha256 = p_token_sha256;
END
$$;
REVOKE ALL ON FUNCTION authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate(bytea) TO inbox_app;
