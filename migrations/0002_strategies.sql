-- Answering rules: hunting limits, overflow, per-phone stats and shares.

ALTER TABLE hotlines
    ADD COLUMN total_timeout_s     integer NOT NULL DEFAULT 60,
    ADD COLUMN max_attempts        integer,
    ADD COLUMN overflow            text NOT NULL DEFAULT 'busy',
    ADD COLUMN overflow_max_wait_s integer NOT NULL DEFAULT 60,
    ADD COLUMN overflow_forward_to text,
    ADD CONSTRAINT hotline_total_timeout_must_be_1_to_600_seconds
        CHECK (total_timeout_s BETWEEN 1 AND 600),
    ADD CONSTRAINT hotline_max_attempts_must_be_at_least_1
        CHECK (max_attempts >= 1),
    ADD CONSTRAINT hotline_overflow_must_be_busy_queue_or_forward
        CHECK (overflow IN ('busy', 'queue', 'forward')),
    ADD CONSTRAINT hotline_overflow_max_wait_must_be_1_to_1800_seconds
        CHECK (overflow_max_wait_s BETWEEN 1 AND 1800),
    ADD CONSTRAINT hotline_overflow_forward_to_must_be_a_dial_string
        CHECK (overflow_forward_to ~ '^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@:;=+/#*-]{1,200}$'),
    ADD CONSTRAINT hotline_forward_overflow_needs_overflow_forward_to
        CHECK (overflow <> 'forward' OR overflow_forward_to IS NOT NULL);
COMMENT ON COLUMN hotlines.ring_timeout_s IS
    'Seconds each phone rings when there are several; a lone phone rings up to total_timeout_s.';
COMMENT ON COLUMN hotlines.total_timeout_s IS 'Longest the caller hears ringback before overflow.';
COMMENT ON COLUMN hotlines.max_attempts IS 'Most phones rung for one call (NULL: no limit).';
COMMENT ON COLUMN hotlines.overflow IS
    'No idle phone, or none answered: busy (announce, hang up), queue (music, retry as phones '
    'free, up to overflow_max_wait_s), forward (ring overflow_forward_to).';

-- Wrap-up: a phone stays unavailable this long after each call it took.
ALTER TABLE phones
    ADD COLUMN wrap_up_s integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT phone_wrap_up_must_be_0_to_3600_seconds CHECK (wrap_up_s BETWEEN 0 AND 3600);

-- The weighted rule's share of each phone (relative; percentages are typical).
ALTER TABLE bound_phones
    ADD COLUMN weight integer NOT NULL DEFAULT 1,
    ADD CONSTRAINT bound_phone_weight_must_be_0_to_100 CHECK (weight BETWEEN 0 AND 100);

-- Today's answered calls and talk time per phone, for fewest_calls and
-- least_talk_time; stats_day says which day the counters belong to.
ALTER TABLE phone_state
    ADD COLUMN stats_day     date,
    ADD COLUMN calls_today   integer NOT NULL DEFAULT 0,
    ADD COLUMN talk_ms_today bigint NOT NULL DEFAULT 0;

-- Round robin: the hotline's call counter, shared by every router.
CREATE TABLE hotline_state (
    hotline_id bigint PRIMARY KEY REFERENCES hotlines (id) ON DELETE CASCADE,
    calls_routed bigint NOT NULL DEFAULT 0
);

ALTER TABLE calls ADD COLUMN overflow text,
    ADD CONSTRAINT call_overflow_is_known CHECK (overflow IN ('busy', 'queue', 'forward'));
COMMENT ON COLUMN calls.overflow IS 'What the hotline''s overflow did for this call, if anything.';

-- A leg rings a bound phone, or the overflow forward number (phone_id NULL).
ALTER TABLE call_legs ADD COLUMN purpose text NOT NULL DEFAULT 'phone',
    ADD CONSTRAINT call_leg_purpose_is_known CHECK (purpose IN ('phone', 'overflow-forward'));

-- Options of the built-in rules are checked here, so psql edits meet the same
-- refusals as the CLI. Rules from plug-ins are checked by the router.
CREATE FUNCTION strategy_options_problem(strategy text, options jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    allowed text[] := CASE strategy
        WHEN 'ring_progressively' THEN ARRAY['interval_s']
        WHEN 'sequential' THEN ARRAY[]::text[]
        WHEN 'random' THEN ARRAY[]::text[]
        WHEN 'round_robin' THEN ARRAY[]::text[]
        WHEN 'simultaneous' THEN ARRAY[]::text[]
        WHEN 'weighted' THEN ARRAY[]::text[]
        WHEN 'longest_idle' THEN ARRAY[]::text[]
        WHEN 'fewest_calls' THEN ARRAY[]::text[]
        WHEN 'least_talk_time' THEN ARRAY[]::text[]
    END;
    key text;
BEGIN
    IF jsonb_typeof(options) IS DISTINCT FROM 'object' THEN
        RETURN 'strategy options must be a JSON object, e.g. {"interval_s": 5}';
    END IF;
    IF allowed IS NULL THEN
        RETURN NULL;  -- a plug-in's rule
    END IF;
    FOR key IN SELECT jsonb_object_keys(options) LOOP
        IF NOT key = ANY (allowed) THEN
            RETURN format('strategy %s has no option %L (allowed: %s)', strategy, key,
                          coalesce(nullif(array_to_string(allowed, ', '), ''), 'none'));
        END IF;
    END LOOP;
    IF options ? 'interval_s' AND (jsonb_typeof(options -> 'interval_s') <> 'number'
            OR (options ->> 'interval_s')::numeric NOT BETWEEN 1 AND 60) THEN
        RETURN format('strategy %s option ''interval_s'' must be a number of seconds from 1 to 60',
                      strategy);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION hotlines_check_strategy_options() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    problem text := strategy_options_problem(NEW.strategy, NEW.strategy_options);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'hotline %: %', NEW.number, problem USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hotlines_check_strategy_options BEFORE INSERT OR UPDATE ON hotlines
    FOR EACH ROW EXECUTE FUNCTION hotlines_check_strategy_options();

-- "Today" for the per-phone counters is China Standard Time, for every router.
CREATE FUNCTION stats_today() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date
$$;
