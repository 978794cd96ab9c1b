-- The data model. Every tenant table carries organization_id in its primary key and in
-- every foreign key, so the schema can be distributed by organization_id unchanged.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE organizations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 200),
    crm_name text CHECK (crm_name IS NULL OR btrim(crm_name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));

CREATE TABLE agents (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 200),
    email text NOT NULL CHECK (email LIKE '_%@_%' AND length(email) <= 320),
    avatar_url text,
    role text NOT NULL DEFAULT 'AGENT' CHECK (role IN ('AGENT', 'ADMIN')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX agents_email_key ON agents (organization_id, lower(email));

CREATE TABLE agent_tokens (
    organization_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    agent_id bigint NOT NULL,
    token_sha256 bytea NOT NULL CHECK (length(token_sha256) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX agent_tokens_sha256_key ON agent_tokens (token_sha256);
CREATE INDEX agent_tokens_agent_idx ON agent_tokens (organization_id, agent_id);

CREATE TABLE teams (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX teams_name_key ON teams (organization_id, lower(name));

CREATE TABLE vip_groups (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 100),
    priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000),
    team_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, team_id) REFERENCES teams (organization_id, id)
);
CREATE UNIQUE INDEX vip_groups_name_key ON vip_groups (organization_id, lower(name));

CREATE TABLE contacts (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    network text NOT NULL
        CHECK (network IN ('X', 'INSTAGRAM', 'FACEBOOK', 'LINKEDIN', 'TIKTOK', 'YOUTUBE')),
    network_user_id text NOT NULL CHECK (btrim(network_user_id) <> ''),
    handle text NOT NULL CHECK (btrim(handle) <> '' AND length(handle) <= 100),
    name text NOT NULL CHECK (length(name) <= 200),
    avatar_url text,
    validation_status text NOT NULL DEFAULT 'NOT_VALIDATED'
        CHECK (validation_status IN ('VALIDATED', 'NOT_VALIDATED')),
    crm_record_id text,
    validated_at timestamptz,
    last_lookup_at timestamptz,
    is_vip boolean NOT NULL DEFAULT false,
    vip_group_id bigint,
    -- Lower-cased name, handle, email and phone, kept by triggers: one trigram index
    -- serves contacts(search:).
    search_text text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, network, network_user_id),
    FOREIGN KEY (organization_id, vip_group_id) REFERENCES vip_groups (organization_id, id),
    CHECK (vip_group_id IS NULL OR is_vip),
    CHECK (validation_status = 'NOT_VALIDATED' OR validated_at IS NOT NULL)
);
CREATE INDEX contacts_name_idx ON contacts (organization_id, name, id);
CREATE INDEX contacts_vip_group_idx ON contacts (organization_id, vip_group_id)
    WHERE vip_group_id IS NOT NULL;
CREATE INDEX contacts_search_idx ON contacts USING gin (search_text gin_trgm_ops);

CREATE TABLE attribute_definitions (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
    label text NOT NULL CHECK (btrim(label) <> '' AND length(label) <= 100),
    kind text NOT NULL CHECK (kind IN ('COMMON', 'CRM', 'CUSTOM')),
    type text NOT NULL
        CHECK (type IN ('TEXT', 'NUMBER', 'BOOLEAN', 'DATE', 'URL', 'EMAIL', 'PHONE', 'SELECT')),
    options text[] NOT NULL DEFAULT '{}',
    pattern text,
    description text CHECK (length(description) <= 1000),
    editable boolean NOT NULL DEFAULT true,
    position integer NOT NULL DEFAULT 0,
    archived boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, key),
    CHECK (type = 'SELECT' OR cardinality(options) = 0),
    CHECK (type <> 'SELECT' OR cardinality(options) > 0)
);
CREATE INDEX attribute_definitions_position_idx
    ON attribute_definitions (organization_id, position, id);

CREATE TABLE contact_attribute_values (
    organization_id bigint NOT NULL,
    contact_id bigint NOT NULL,
    definition_id bigint NOT NULL,
    value text NOT NULL CHECK (length(value) <= 2000),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint,
    PRIMARY KEY (organization_id, contact_id, definition_id),
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, definition_id)
        REFERENCES attribute_definitions (organization_id, id),
    FOREIGN KEY (organization_id, updated_by) REFERENCES agents (organization_id, id)
);
CREATE INDEX contact_attribute_values_definition_idx
    ON contact_attribute_values (organization_id, definition_id);

-- Changes agents made to editable CRM-managed attributes, written in the same
-- transaction as the change, for delivery to the CRM.
CREATE TABLE crm_outbox (
    organization_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    contact_id bigint NOT NULL,
    definition_id bigint NOT NULL,
    key text NOT NULL,
    old_value text,
    new_value text,
    agent_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, definition_id)
        REFERENCES attribute_definitions (organization_id, id),
    FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id)
);
CREATE INDEX crm_outbox_pending_idx ON crm_outbox (organization_id, id)
    WHERE delivered_at IS NULL;

CREATE TABLE conversations (
    organization_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    contact_id bigint NOT NULL,
    network text NOT NULL
        CHECK (network IN ('X', 'INSTAGRAM', 'FACEBOOK', 'LINKEDIN', 'TIKTOK', 'YOUTUBE')),
    status text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'PENDING', 'CLOSED')),
    subject text CHECK (length(subject) <= 500),
    -- The team the conversation was assigned to; routed_team_id is where it goes now
    -- (its contact's VIP group's team, if any, else team_id). Both routed_team_id and
    -- priority are kept by triggers so the queue order is one index scan.
    team_id bigint,
    routed_team_id bigint,
    priority integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, team_id) REFERENCES teams (organization_id, id),
    FOREIGN KEY (organization_id, routed_team_id) REFERENCES teams (organization_id, id)
);
CREATE INDEX conversations_contact_idx
    ON conversations (organization_id, contact_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_queue_idx
    ON conversations (organization_id, (-priority), last_message_at, id);
CREATE INDEX conversations_status_queue_idx
    ON conversations (organization_id, status, (-priority), last_message_at, id);
CREATE INDEX conversations_team_queue_idx
    ON conversations (organization_id, routed_team_id, (-priority), last_message_at, id);
CREATE INDEX conversations_newest_idx
    ON conversations (organization_id, last_message_at DESC, id DESC);

CREATE TABLE messages (
    organization_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    conversation_id bigint NOT NULL,
    direction text NOT NULL CHECK (direction IN ('INBOUND', 'OUTBOUND')),
    author_name text NOT NULL,
    body text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, conversation_id)
        REFERENCES conversations (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation_idx ON messages (organization_id, conversation_id, sent_at, id);

CREATE TABLE notes (
    organization_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    contact_id bigint,
    conversation_id bigint,
    body text NOT NULL CHECK (length(body) <= 2000 AND body ~ '[^[:space:]]'),
    author_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    deleted_at timestamptz,
    deleted_by bigint,
    PRIMARY KEY (organization_id, id),
    CHECK ((contact_id IS NULL) <> (conversation_id IS NULL)),
    CHECK ((deleted_at IS NULL) = (deleted_by IS NULL)),
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, conversation_id)
        REFERENCES conversations (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, author_id) REFERENCES agents (organization_id, id),
    FOREIGN KEY (organization_id, updated_by) REFERENCES agents (organization_id, id),
    FOREIGN KEY (organization_id, deleted_by) REFERENCES agents (organization_id, id)
);
CREATE INDEX notes_contact_idx ON notes (organization_id, contact_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL AND contact_id IS NOT NULL;
CREATE INDEX notes_conversation_idx
    ON notes (organization_id, conversation_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL AND conversation_id IS NOT NULL;

CREATE TABLE note_revisions (
    organization_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    note_id bigint NOT NULL,
    -- The body as it was before the edit made at edited_at by edited_by.
    body text NOT NULL,
    edited_at timestamptz NOT NULL DEFAULT now(),
    edited_by bigint NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, note_id) REFERENCES notes (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, edited_by) REFERENCES agents (organization_id, id)
);
CREATE INDEX note_revisions_note_idx ON note_revisions (organization_id, note_id, id);

-- contacts.search_text: what contacts(search:) matches, lower-cased.
CREATE FUNCTION contact_search_text(p_organization_id bigint, p_contact_id bigint,
                                    p_name text, p_handle text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT lower(concat_ws(' ', p_name, p_handle, (
        SELECT string_agg(v.value, ' ' ORDER BY d.key)
        FROM contact_attribute_values v
        JOIN attribute_definitions d
          ON d.organization_id = v.organization_id AND d.id = v.definition_id
        WHERE v.organization_id = p_organization_id AND v.contact_id = p_contact_id
          AND d.key IN ('email', 'phone')
    )))
$$;

CREATE FUNCTION contacts_set_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := contact_search_text(NEW.organization_id, NEW.id, NEW.name, NEW.handle);
    RETURN NEW;
END
$$;
CREATE TRIGGER contacts_search_text BEFORE INSERT OR UPDATE OF name, handle ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_set_search_text();

CREATE FUNCTION attribute_values_refresh_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    UPDATE contacts c
       SET search_text = contact_search_text(c.organization_id, c.id, c.name, c.handle)
     WHERE c.organization_id = r.organization_id AND c.id = r.contact_id
       AND EXISTS (SELECT 1 FROM attribute_definitions d
                   WHERE d.organization_id = r.organization_id AND d.id = r.definition_id
                     AND d.key IN ('email', 'phone'));
    RETURN NULL;
END
$$;
CREATE TRIGGER contact_attribute_values_search_text
    AFTER INSERT OR UPDATE OR DELETE ON contact_attribute_values
    FOR EACH ROW EXECUTE FUNCTION attribute_values_refresh_search_text();

-- Queue routing: a conversation's priority is 0 for a non-VIP contact and
-- 1 + the VIP group's priority for a VIP; a VIP group with a team routes there.
CREATE FUNCTION conversations_set_routing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_is_vip boolean;
    v_priority integer;
    v_team bigint;
BEGIN
    SELECT c.is_vip, g.priority, g.team_id INTO v_is_vip, v_priority, v_team
      FROM contacts c
      LEFT JOIN vip_groups g ON g.organization_id = c.organization_id AND g.id = c.vip_group_id
     WHERE c.organization_id = NEW.organization_id AND c.id = NEW.contact_id;
    NEW.priority := CASE WHEN v_is_vip THEN 1 + coalesce(v_priority, 0) ELSE 0 END;
    NEW.routed_team_id := coalesce(CASE WHEN v_is_vip THEN v_team END, NEW.team_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER conversations_routing BEFORE INSERT OR UPDATE OF contact_id, team_id ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_set_routing();

CREATE FUNCTION contacts_refresh_routing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations v
       SET priority = CASE WHEN NEW.is_vip THEN 1 + coalesce(g.priority, 0) ELSE 0 END,
           routed_team_id = coalesce(CASE WHEN NEW.is_vip THEN g.team_id END, v.team_id)
      FROM (SELECT 1) AS one
      LEFT JOIN vip_groups g ON g.organization_id = NEW.organization_id AND g.id = NEW.vip_group_id
     WHERE v.organization_id = NEW.organization_id AND v.contact_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER contacts_routing AFTER UPDATE OF is_vip, vip_group_id ON contacts
    FOR EACH ROW WHEN (OLD.is_vip IS DISTINCT FROM NEW.is_vip
                       OR OLD.vip_group_id IS DISTINCT FROM NEW.vip_group_id)
    EXECUTE FUNCTION contacts_refresh_routing();

CREATE FUNCTION vip_groups_refresh_routing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations v
       SET priority = 1 + NEW.priority,
           routed_team_id = coalesce(NEW.team_id, v.team_id)
      FROM contacts c
     WHERE c.organization_id = NEW.organization_id AND c.vip_group_id = NEW.id AND c.is_vip
       AND v.organization_id = c.organization_id AND v.contact_id = c.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER vip_groups_routing AFTER UPDATE OF priority, team_id ON vip_groups
    FOR EACH ROW WHEN (OLD.priority IS DISTINCT FROM NEW.priority
                       OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION vip_groups_refresh_routing();
