-- The web console and HTTP API: customer accounts, API tokens, row-level
-- security for customer tokens, change notifications for the wallboard, and
-- the indexes the call log and reports read by.
--
-- Who sees what: an operator token works as hotline_router_admin (every
-- hotline); a customer token works as hotline_router_customer, and the
-- policies below show that role only the rows of its own account's hotlines.
-- The account is found from the token itself (hashed here, in SQL), so a
-- query the web process gets wrong still cannot reach another customer.

-- A 400 customer (the company renting numbers) and its hotlines.
CREATE TABLE customers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT customer_name_is_already_used UNIQUE (name),
    CONSTRAINT customer_name_must_be_1_to_80_characters CHECK (length(name) BETWEEN 1 AND 80)
);
COMMENT ON TABLE customers IS 'Customer accounts: a customer token sees only its hotlines.';

ALTER TABLE hotlines ADD COLUMN customer_id bigint
    CONSTRAINT customer_has_hotlines_move_them_first REFERENCES customers (id);
CREATE INDEX hotlines_by_customer ON hotlines (customer_id) WHERE customer_id IS NOT NULL;
COMMENT ON COLUMN hotlines.customer_id IS 'The customer account that owns it (NULL: none yet).';

-- API tokens. Only a SHA-256 of the token is kept: tokens are 32 random
-- bytes, so a fast hash is enough (nothing to guess), and a stolen table
-- gives no usable token. The token is shown once, when it is created.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    token_sha256 bytea NOT NULL,
    scope        text NOT NULL,
    customer_id  bigint REFERENCES customers (id) ON DELETE CASCADE,
    created_at   timestamptz(3) NOT NULL DEFAULT now(),
    revoked_at   timestamptz(3),
    last_used_at timestamptz(3),
    CONSTRAINT api_token_hash_is_unique UNIQUE (token_sha256),
    CONSTRAINT api_token_name_must_be_1_to_80_characters CHECK (length(name) BETWEEN 1 AND 80),
    CONSTRAINT api_token_scope_must_be_operator_or_customer
        CHECK (scope IN ('operator', 'customer')),
    CONSTRAINT customer_token_needs_a_customer_and_operator_token_none
        CHECK ((scope = 'customer') = (customer_id IS NOT NULL)),
    CONSTRAINT api_token_hash_must_be_32_bytes CHECK (length(token_sha256) = 32)
);
COMMENT ON TABLE api_tokens IS
    'API tokens (SHA-256 only); operator: everything, customer: its own hotlines.';

-- The customer whose token this transaction presented (the web process sets
-- hotline_router.token with set_config(..., true) after SET LOCAL ROLE).
-- SECURITY DEFINER: it reads api_tokens and hotlines past the caller's rights.
CREATE FUNCTION web_customer_hotlines() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(array_agg(h.id), '{}')
    FROM api_tokens t JOIN hotlines h ON h.customer_id = t.customer_id
    WHERE t.scope = 'customer' AND t.revoked_at IS NULL
      AND t.token_sha256 = sha256(convert_to(
              coalesce(current_setting('hotline_router.token', true), ''), 'UTF8'))
$$;
CREATE FUNCTION web_customer_id() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.customer_id FROM api_tokens t
    WHERE t.scope = 'customer' AND t.revoked_at IS NULL
      AND t.token_sha256 = sha256(convert_to(
              coalesce(current_setting('hotline_router.token', true), ''), 'UTF8'))
$$;
REVOKE ALL ON FUNCTION web_customer_hotlines(), web_customer_id() FROM PUBLIC;

-- The customer role: no login; the web process switches to it per request.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_customer') THEN
        CREATE ROLE hotline_router_customer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_web') THEN
        CREATE ROLE hotline_router_web NOLOGIN NOINHERIT;  -- see grants.sql
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_daemon') THEN
        CREATE ROLE hotline_router_daemon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_admin') THEN
        CREATE ROLE hotline_router_admin NOLOGIN;
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION web_customer_hotlines(), web_customer_id() TO hotline_router_customer;

-- Row-level security. With it on, a role that no policy names sees no rows:
-- the routers and admins keep everything (policy "all_rows"), customers get
-- their own. A new role that reads these tables needs its own policy. The
-- owner running migrations (and superusers) are not subject to it.
-- `(SELECT web_customer_hotlines())::bigint[]` is evaluated once per query, and
-- `hotline_id = ANY (…)` can use the (hotline_id, …) indexes.
DO $$
DECLARE
    tbl text;
    own text;
BEGIN
    FOR tbl, own IN VALUES
        ('hotlines', 'id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('bound_phones', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('phones', 'id IN (SELECT b.phone_id FROM bound_phones b
                           WHERE b.hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[]))'),
        ('phone_state', 'phone_id IN (SELECT b.phone_id FROM bound_phones b
                           WHERE b.hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[]))'),
        ('calls', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('call_legs', 'call_id IN (SELECT c.id FROM calls c
                           WHERE c.hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[]))'),
        ('plan_settings', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('phone_groups', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('group_members', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('caller_lists', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('schedules', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('schedule_windows', 'schedule_id IN (SELECT s.id FROM schedules s
                           WHERE s.hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[]))'),
        ('voice_menus', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('menu_keys', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('plan_rules', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('hotline_billing', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('tariffs', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('packages', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('ledger', 'hotline_id = ANY ((SELECT web_customer_hotlines())::bigint[])'),
        ('customers', 'id = (SELECT web_customer_id())')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('CREATE POLICY all_rows ON %I TO hotline_router_daemon, '
                       'hotline_router_admin USING (true) WITH CHECK (true)', tbl);
        EXECUTE format('CREATE POLICY own_hotlines ON %I TO hotline_router_customer '
                       'USING (%s) WITH CHECK (%s)', tbl, own, own);
    END LOOP;
END $$;

-- The web process names the customer of the token it checked (customers only).
CREATE POLICY token_lookup ON customers FOR SELECT TO hotline_router_web USING (true);

-- The wallboard's push: one notification per statement that changes a call
-- or a leg (the routers write one row per statement). The web process
-- re-reads the live calls; the payload only names the table.
CREATE FUNCTION notify_calls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_router_calls', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER calls_notify_web AFTER INSERT OR UPDATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION notify_calls_changed();
CREATE TRIGGER call_legs_notify_web AFTER INSERT OR UPDATE ON call_legs
    FOR EACH STATEMENT EXECUTE FUNCTION notify_calls_changed();

-- The call log reads a hotline newest first in keyset pages on (started_at,
-- id): 0001's calls_by_hotline_start serves that. Narrowed by caller or by an
-- outcome (a rare one would otherwise scan the hotline's whole history),
-- these two serve it; live calls and open legs for the wallboard.
CREATE INDEX calls_log_by_hotline_caller ON calls (hotline_id, caller, started_at DESC);
CREATE INDEX calls_log_by_hotline_outcome ON calls (hotline_id, outcome, started_at DESC);
CREATE INDEX calls_live ON calls (started_at) WHERE ended_at IS NULL;
CREATE INDEX call_legs_open ON call_legs (phone_id) WHERE ended_at IS NULL;
