-- Live configuration, readable delete refusals, and the number pool.

-- Every running router LISTENs on this channel and reloads its configuration
-- snapshot when told. The payload is the table's name (for the log only).
-- One notification per statement, not per row: a bulk edit reloads once.
-- A later configuration table joins with one line:
--   CREATE TRIGGER <table>_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
--       ON <table> FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE FUNCTION notify_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_router_config', TG_TABLE_NAME);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION notify_config_changed() IS
    'Tells every router (LISTEN hotline_router_config) to reload its configuration.';

CREATE TRIGGER hotlines_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hotlines
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER phones_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON phones
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER bound_phones_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bound_phones
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();

-- The database's own refusal should say what to do, in psql as in the CLI.
ALTER TABLE calls RENAME CONSTRAINT calls_hotline_id_fkey
    TO hotline_has_call_records_disable_it_instead_of_deleting;
ALTER TABLE bound_phones RENAME CONSTRAINT bound_phones_pkey
    TO phone_is_already_bound_to_this_hotline;

-- Numbers an operator has for sale. carrier, tier and patterns are computed by
-- `hotline-router numbers import` (router/vanity.py); tier 1 is the best grade,
-- NULL means no vanity pattern. patterns is a JSON array of
-- {"pattern": "AABB", "place": "tail", "tier": 3, "digits": "1122", "start": 6}.
CREATE TABLE number_pool (
    number   text PRIMARY KEY,
    carrier  text,
    tier     smallint,
    patterns jsonb NOT NULL DEFAULT '[]',
    note     text NOT NULL DEFAULT '',
    added_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT pool_number_must_be_400_or_800_then_7_digits
        CHECK (number ~ '^(400|800)[0-9]{7}$'),
    CONSTRAINT pool_tier_must_be_1_to_9 CHECK (tier BETWEEN 1 AND 9),
    CONSTRAINT pool_patterns_must_be_a_json_array CHECK (jsonb_typeof(patterns) = 'array')
);
CREATE INDEX number_pool_patterns ON number_pool USING gin (patterns jsonb_path_ops);
CREATE INDEX number_pool_by_tier ON number_pool (tier, number);
COMMENT ON TABLE number_pool IS '400/800 numbers for sale, graded by vanity pattern.';
