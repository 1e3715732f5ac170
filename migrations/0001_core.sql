-- Hotlines, bound phones, busy state, and call records.
--
-- Admins edit hotlines, phones and bound_phones directly; the CHECK
-- constraints are named so that a refusal says what is wrong.

CREATE TABLE hotlines (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number           text NOT NULL,
    name             text NOT NULL DEFAULT '',
    strategy         text NOT NULL DEFAULT 'sequential',
    strategy_options jsonb NOT NULL DEFAULT '{}',
    ring_timeout_s   integer NOT NULL DEFAULT 15,
    enabled          boolean NOT NULL DEFAULT true,
    created_at       timestamptz(3) NOT NULL DEFAULT now(),
    updated_at       timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT hotline_number_is_unique UNIQUE (number),
    CONSTRAINT hotline_number_must_be_400_or_800_then_7_digits
        CHECK (number ~ '^(400|800)[0-9]{7}$'),
    CONSTRAINT hotline_strategy_must_be_a_lowercase_name
        CHECK (strategy ~ '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT hotline_strategy_options_must_be_a_json_object
        CHECK (jsonb_typeof(strategy_options) = 'object'),
    CONSTRAINT hotline_ring_timeout_must_be_1_to_300_seconds
        CHECK (ring_timeout_s BETWEEN 1 AND 300)
);
COMMENT ON TABLE hotlines IS 'One row per 400/800 number; strategy names the answering rule.';

-- A phone is the thing that rings: its dial string is handed to Asterisk, so
-- it is restricted to TECH/resource with no dialplan separators (& , ( ) ^ |
-- newline, space) that could make Asterisk dial something else.
CREATE TABLE phones (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dial_string text NOT NULL,
    label       text NOT NULL DEFAULT '',
    capacity    integer NOT NULL DEFAULT 1,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT phone_dial_string_is_unique UNIQUE (dial_string),
    CONSTRAINT phone_dial_string_must_be_tech_slash_resource_no_separators
        CHECK (dial_string ~ '^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@:;=+/#*-]{1,200}$'),
    CONSTRAINT phone_capacity_must_be_1_to_100_calls
        CHECK (capacity BETWEEN 1 AND 100)
);
COMMENT ON TABLE phones IS 'Phones that can be bound to hotlines; capacity = simultaneous calls.';

CREATE TABLE bound_phones (
    hotline_id bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    phone_id   bigint NOT NULL REFERENCES phones (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    PRIMARY KEY (hotline_id, phone_id),
    CONSTRAINT bound_phone_position_must_be_positive CHECK (position >= 1)
);
CREATE INDEX bound_phones_by_phone ON bound_phones (phone_id);
COMMENT ON TABLE bound_phones IS 'Which phones answer a hotline, in the admin''s order (position).';

-- Busy state, shared by every router. active_calls counts live claims; a
-- claim is taken by one UPDATE … WHERE active_calls < capacity, which
-- PostgreSQL re-checks on the latest row version, so two routers can never
-- both take the last free slot.
CREATE TABLE phone_state (
    phone_id           bigint PRIMARY KEY REFERENCES phones (id) ON DELETE CASCADE,
    active_calls       integer NOT NULL DEFAULT 0,
    last_call_ended_at timestamptz(3),
    CONSTRAINT phone_active_calls_cannot_be_negative CHECK (active_calls >= 0)
);

CREATE TABLE phone_claims (
    leg_id     uuid PRIMARY KEY,
    phone_id   bigint NOT NULL REFERENCES phones (id) ON DELETE CASCADE,
    call_id    uuid NOT NULL,
    router_id  text NOT NULL,
    claimed_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX phone_claims_by_router ON phone_claims (router_id);

CREATE FUNCTION phones_create_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO phone_state (phone_id) VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER phones_create_state AFTER INSERT ON phones
    FOR EACH ROW EXECUTE FUNCTION phones_create_state();

CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER hotlines_touch BEFORE UPDATE ON hotlines
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Call records. Times come from Asterisk's events, UTC, milliseconds.
-- Records outlive configuration: a hotline with calls cannot be deleted
-- (disable it), a deleted phone leaves its dial string in the records.
CREATE TABLE calls (
    id                  uuid PRIMARY KEY,
    hotline_id          bigint REFERENCES hotlines (id),
    dialled             text NOT NULL,
    caller              text NOT NULL,
    caller_channel      text NOT NULL,
    router_id           text NOT NULL,
    started_at          timestamptz(3) NOT NULL,
    answered_at         timestamptz(3),
    ended_at            timestamptz(3),
    outcome             text,
    answered_phone_id   bigint REFERENCES phones (id) ON DELETE SET NULL,
    answered_dial_string text,
    billable_ms         bigint GENERATED ALWAYS AS (
        CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL
             THEN greatest(0, (extract(epoch FROM (ended_at - answered_at)) * 1000)::bigint)
             ELSE 0 END) STORED,
    CONSTRAINT call_outcome_is_known CHECK (outcome IN (
        'answered', 'busy', 'no-answer', 'failed', 'abandoned',
        'unknown-number', 'not-in-service', 'interrupted')),
    CONSTRAINT call_ended_after_start CHECK (ended_at >= started_at),
    CONSTRAINT call_answered_within_call CHECK (answered_at >= started_at AND answered_at <= ended_at)
);
CREATE INDEX calls_by_start ON calls (started_at);
CREATE INDEX calls_by_hotline_start ON calls (hotline_id, started_at);
CREATE INDEX calls_open_by_router ON calls (router_id) WHERE ended_at IS NULL;
COMMENT ON COLUMN calls.billable_ms IS 'Bound-phone answer to end of call, in milliseconds.';

CREATE TABLE call_legs (
    id              uuid PRIMARY KEY,
    call_id         uuid NOT NULL REFERENCES calls (id),
    phone_id        bigint REFERENCES phones (id) ON DELETE SET NULL,
    dial_string     text NOT NULL,
    wave            integer NOT NULL,
    dial_started_at timestamptz(3) NOT NULL,
    answered_at     timestamptz(3),
    ended_at        timestamptz(3),
    result          text,
    hangup_cause    integer,
    CONSTRAINT call_leg_result_is_known CHECK (result IN (
        'answered', 'busy', 'no-answer', 'failed', 'cancelled')),
    CONSTRAINT call_leg_ended_after_dial CHECK (ended_at >= dial_started_at)
);
CREATE INDEX call_legs_by_call ON call_legs (call_id);
CREATE INDEX call_legs_by_phone_start ON call_legs (phone_id, dial_started_at);
COMMENT ON TABLE call_legs IS 'Every ring attempt of a call, one per phone rung.';
