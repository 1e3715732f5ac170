-- Billing: tariffs, packages, the append-only ledger, and the rating queue.
--
-- Money is integer fen. A ledger amount is what it does to the hotline
-- owner's prepaid balance: a top-up is positive, a charge negative. The
-- balance is the sum of the ledger; nothing else holds money.

-- When our router answered the caller (greeting, voice menu, or the bridge to
-- the phone that answered). Billing starts at the earlier of this and the
-- bound phone's answer. No CHECK ties it to ended_at: this time is taken by
-- the router and must never make the record of the call's end fail.
ALTER TABLE calls ADD COLUMN caller_answered_at timestamptz(3);
COMMENT ON COLUMN calls.caller_answered_at IS
    'When the router answered the caller; billing starts at the earlier of this and answered_at.';

-- A call the router refuses because its hotline has no balance left. Other
-- migrations may add outcomes too, so the allowed list is extended as found,
-- not rewritten from a copy.
DO $$
DECLARE
    allowed text[];
BEGIN
    SELECT array_agg(m[1]) INTO allowed
    FROM pg_constraint c,
         regexp_matches(pg_get_constraintdef(c.oid), '''([^'']+)''', 'g') AS m
    WHERE c.conrelid = 'calls'::regclass AND c.conname = 'call_outcome_is_known';
    IF NOT 'refused-no-balance' = ANY (allowed) THEN
        allowed := allowed || 'refused-no-balance'::text;
    END IF;
    ALTER TABLE calls DROP CONSTRAINT call_outcome_is_known;
    EXECUTE format('ALTER TABLE calls ADD CONSTRAINT call_outcome_is_known CHECK (outcome IN (%s))',
                   (SELECT string_agg(quote_literal(a), ', ') FROM unnest(allowed) AS a));
END $$;

-- True when PostgreSQL knows the zone (e.g. 'Asia/Shanghai').
CREATE FUNCTION is_time_zone(zone text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM now() AT TIME ZONE zone;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END $$;

-- Per-hotline billing settings; a hotline without a row gets the defaults.
CREATE TABLE hotline_billing (
    hotline_id      bigint PRIMARY KEY REFERENCES hotlines (id) ON DELETE CASCADE,
    time_zone       text NOT NULL DEFAULT 'Asia/Shanghai',
    low_balance_fen bigint NOT NULL DEFAULT 0,
    at_zero_balance text NOT NULL DEFAULT 'keep-routing',
    CONSTRAINT billing_time_zone_must_be_a_known_zone CHECK (is_time_zone(time_zone)),
    CONSTRAINT billing_low_balance_threshold_cannot_be_negative CHECK (low_balance_fen >= 0),
    CONSTRAINT billing_at_zero_balance_must_be_keep_routing_or_refuse
        CHECK (at_zero_balance IN ('keep-routing', 'refuse'))
);
COMMENT ON TABLE hotline_billing IS
    'Billing time zone (month boundaries), low-balance threshold, and what to do at zero balance.';

-- A tariff applies from valid_from until the hotline's next tariff. Fixing a
-- wrong price is an UPDATE here followed by `billing rerate`.
CREATE TABLE tariffs (
    hotline_id         bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    valid_from         timestamptz(3) NOT NULL,
    unit_s             integer NOT NULL DEFAULT 60,
    price_per_unit_fen integer NOT NULL,
    note               text NOT NULL DEFAULT '',
    PRIMARY KEY (hotline_id, valid_from),
    -- A unit that divides a minute keeps included minutes a whole number of units.
    CONSTRAINT tariff_unit_must_divide_60_seconds
        CHECK (unit_s IN (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)),
    -- ¥10 a unit is far above any 400 rate: a larger figure is a yuan/fen mix-up.
    CONSTRAINT tariff_price_must_be_0_to_1000_fen_per_unit
        CHECK (price_per_unit_fen BETWEEN 0 AND 1000)
);
COMMENT ON TABLE tariffs IS 'Billing unit and price per unit of a hotline, from valid_from on.';

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- A prepaid package: while valid, each month's first included_minutes are
-- free, later units cost overage_per_unit_fen (NULL: the tariff's price), and
-- a month that starts inside it owes at least monthly_minimum_fen.
CREATE TABLE packages (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id           bigint NOT NULL REFERENCES hotlines (id),
    name                 text NOT NULL DEFAULT '',
    valid_from           timestamptz(3) NOT NULL,
    valid_until          timestamptz(3) NOT NULL,
    included_minutes     integer NOT NULL DEFAULT 0,
    overage_per_unit_fen integer,
    monthly_minimum_fen  bigint NOT NULL DEFAULT 0,
    created_at           timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT package_must_end_after_it_starts CHECK (valid_until > valid_from),
    CONSTRAINT package_included_minutes_cannot_be_negative CHECK (included_minutes >= 0),
    CONSTRAINT package_overage_price_must_be_0_to_1000_fen_per_unit
        CHECK (overage_per_unit_fen BETWEEN 0 AND 1000),
    CONSTRAINT package_monthly_minimum_cannot_be_negative CHECK (monthly_minimum_fen >= 0),
    CONSTRAINT package_periods_of_a_hotline_cannot_overlap
        EXCLUDE USING gist (hotline_id WITH =, tstzrange(valid_from, valid_until) WITH &&)
);
COMMENT ON TABLE packages IS 'Prepaid packages: validity, included minutes a month, overage, minimum spend.';

CREATE TABLE ledger (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id         bigint NOT NULL REFERENCES hotlines (id),
    entered_at         timestamptz(3) NOT NULL DEFAULT now(),
    kind               text NOT NULL,
    amount_fen         bigint NOT NULL,
    -- The billing month (its first day, in the hotline's time zone) of a
    -- charge, a minimum spend, or an adjustment; NULL for top-ups.
    month              date,
    -- The call a call charge is for, or whose charge an adjustment corrects.
    call_id            uuid REFERENCES calls (id),
    -- What an adjustment corrects: a call's charge, a month's minimum spend,
    -- or the balance itself (a manual correction).
    adjusts            text,
    -- How the call was rated (call charges and their adjustments): the
    -- newest row of a call holds its current rating.
    billable_ms        bigint,
    unit_s             integer,
    units              integer,
    included_units     integer,
    price_per_unit_fen integer,
    package_id         bigint REFERENCES packages (id),
    note               text NOT NULL DEFAULT '',
    CONSTRAINT ledger_kind_is_top_up_call_charge_minimum_spend_or_adjustment
        CHECK (kind IN ('top-up', 'call-charge', 'minimum-spend', 'adjustment')),
    CONSTRAINT ledger_top_up_must_be_a_positive_amount
        CHECK (kind <> 'top-up' OR (amount_fen > 0 AND month IS NULL AND call_id IS NULL)),
    CONSTRAINT ledger_charge_cannot_credit_the_balance
        CHECK (kind NOT IN ('call-charge', 'minimum-spend') OR amount_fen <= 0),
    CONSTRAINT ledger_adjustment_must_say_what_it_adjusts
        CHECK ((kind = 'adjustment') = (adjusts IS NOT NULL)),
    CONSTRAINT ledger_adjustment_is_of_a_call_charge_minimum_spend_or_balance
        CHECK (adjusts IN ('call-charge', 'minimum-spend', 'balance')),
    CONSTRAINT ledger_call_rows_must_name_the_call_its_month_and_its_rating
        CHECK ((kind = 'call-charge' OR adjusts IS NOT DISTINCT FROM 'call-charge') =
               coalesce(call_id IS NOT NULL AND month IS NOT NULL AND billable_ms >= 0
                        AND unit_s > 0 AND units >= 0 AND included_units BETWEEN 0 AND units
                        AND price_per_unit_fen >= 0, false)),
    CONSTRAINT ledger_call_charge_must_be_its_charged_units_times_the_price
        CHECK (kind <> 'call-charge'
               OR amount_fen = -((units - included_units)::bigint * price_per_unit_fen)),
    CONSTRAINT ledger_minimum_spend_must_name_its_month_and_no_call
        CHECK (NOT (kind = 'minimum-spend' OR adjusts IS NOT DISTINCT FROM 'minimum-spend')
               OR (month IS NOT NULL AND call_id IS NULL)),
    CONSTRAINT ledger_month_must_be_the_first_day_of_a_month
        CHECK (extract(day FROM month) = 1)
);
-- Exactly once: a call is charged once, a month's minimum spend is settled
-- once; later corrections are adjustments.
CREATE UNIQUE INDEX ledger_charges_each_call_once ON ledger (call_id) WHERE kind = 'call-charge';
CREATE UNIQUE INDEX ledger_settles_each_minimum_spend_once ON ledger (hotline_id, month)
    WHERE kind = 'minimum-spend';
CREATE INDEX ledger_by_hotline_month ON ledger (hotline_id, month);
CREATE INDEX ledger_by_call ON ledger (call_id) WHERE call_id IS NOT NULL;
COMMENT ON TABLE ledger IS
    'Every movement of a hotline''s prepaid money; append-only: correct with an adjustment.';

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % refused; correct an entry by adding an adjustment',
        TG_OP USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_refuses_update_and_delete BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_refuses_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

-- Calls waiting to be rated. A row is added in the same transaction that
-- records an answered call's end, and removed in the transaction that
-- charges it: a router that dies in between leaves the row for the next.
CREATE TABLE rating_queue (
    call_id   uuid PRIMARY KEY REFERENCES calls (id),
    queued_at timestamptz(3) NOT NULL DEFAULT now()
);
COMMENT ON TABLE rating_queue IS 'Answered, ended calls not rated yet; kept by the routers.';

CREATE FUNCTION calls_queue_for_rating() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_queue (call_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER calls_queue_for_rating
    AFTER INSERT OR UPDATE OF ended_at, answered_at, caller_answered_at ON calls
    FOR EACH ROW
    WHEN (NEW.ended_at IS NOT NULL AND NEW.hotline_id IS NOT NULL
          AND (NEW.answered_at IS NOT NULL OR NEW.caller_answered_at IS NOT NULL))
    EXECUTE FUNCTION calls_queue_for_rating();

-- Calls answered before billing existed are rated once their hotline has a tariff.
INSERT INTO rating_queue (call_id)
    SELECT id FROM calls
    WHERE ended_at IS NOT NULL AND hotline_id IS NOT NULL AND answered_at IS NOT NULL;
