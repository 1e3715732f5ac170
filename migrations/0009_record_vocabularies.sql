-- The closed vocabularies of call records become reference tables: one list per
-- vocabulary that the database and the router (router/records/kinds.py) share.
-- A later feature adds an outcome or a leg result with one INSERT, instead of
-- rebuilding a CHECK constraint from its own text. A router refuses to start
-- when an outcome it writes is missing here (records.check_vocabulary).

CREATE TABLE call_outcomes (
    outcome text PRIMARY KEY,
    meaning text NOT NULL
);
COMMENT ON TABLE call_outcomes IS 'Every value calls.outcome may take, and what it means.';

INSERT INTO call_outcomes (outcome, meaning) VALUES
    ('answered', 'a phone answered and was bridged with the caller'),
    ('busy', 'no idle phone, or every phone rung was busy'),
    ('no-answer', 'phones rang, none answered in time'),
    ('failed', 'phones unreachable, or an error on the router''s side'),
    ('abandoned', 'the caller hung up before a phone answered'),
    ('unknown-number', 'the dialled number is no hotline'),
    ('not-in-service', 'the hotline is disabled'),
    ('refused-no-balance', 'the prepaid balance is used up'),
    ('refused', 'the plan refused the caller (blacklist, a refuse rule)'),
    ('closed', 'outside business hours, or closed by an override'),
    ('mobile-on-800', '800 numbers take landline callers only'),
    ('interrupted', 'its router stopped before the call ended');

-- Whatever the CHECK constraint allows by now (another migration may have
-- added values) is kept: read it one last time, then replace it.
INSERT INTO call_outcomes (outcome, meaning)
SELECT m[1], 'added by an earlier migration'
FROM pg_constraint c,
     regexp_matches(pg_get_constraintdef(c.oid), '''([^'']+)''', 'g') AS m
WHERE c.conrelid = 'calls'::regclass AND c.conname = 'call_outcome_is_known'
ON CONFLICT (outcome) DO NOTHING;

ALTER TABLE calls DROP CONSTRAINT call_outcome_is_known,
    ADD CONSTRAINT call_outcome_is_known FOREIGN KEY (outcome) REFERENCES call_outcomes (outcome);

CREATE TABLE leg_results (
    result  text PRIMARY KEY,
    meaning text NOT NULL
);
COMMENT ON TABLE leg_results IS 'Every value call_legs.result may take, and what it means.';

INSERT INTO leg_results (result, meaning) VALUES
    ('answered', 'the phone answered and talked with the caller'),
    ('busy', 'the phone was busy'),
    ('no-answer', 'the phone rang until its ring timeout'),
    ('failed', 'the phone could not be reached'),
    ('cancelled', 'hung up by the router: another phone answered, or the call ended');

INSERT INTO leg_results (result, meaning)
SELECT m[1], 'added by an earlier migration'
FROM pg_constraint c,
     regexp_matches(pg_get_constraintdef(c.oid), '''([^'']+)''', 'g') AS m
WHERE c.conrelid = 'call_legs'::regclass AND c.conname = 'call_leg_result_is_known'
ON CONFLICT (result) DO NOTHING;

ALTER TABLE call_legs DROP CONSTRAINT call_leg_result_is_known,
    ADD CONSTRAINT call_leg_result_is_known FOREIGN KEY (result) REFERENCES leg_results (result);
