-- One billable time, and what the caller and the answering phone hear.
--
-- Billing starts when the caller is answered: by a voice menu (the router's
-- answer), or by the bound phone that connects (its answer; its confirmation
-- when the hotline screens calls). `calls.caller_answered_at` holds that one
-- time and `calls.billable_ms` is computed from it alone, so `calls`, the
-- ledger, statements and `billing reconcile` can only show the same number.
-- `calls.answered_at` and `call_legs.answered_at` keep the phone's own answer.

-- Records written before: billing started at the earlier of the two answers.
-- Make that the stored time, without queueing every old call for rating again.
ALTER TABLE calls DISABLE TRIGGER calls_queue_for_rating;
UPDATE calls SET caller_answered_at = answered_at
WHERE answered_at IS NOT NULL
  AND (caller_answered_at IS NULL OR answered_at < caller_answered_at);
ALTER TABLE calls ENABLE TRIGGER calls_queue_for_rating;

ALTER TABLE calls DROP COLUMN billable_ms;
ALTER TABLE calls ADD COLUMN billable_ms bigint GENERATED ALWAYS AS (
    -- A row written without caller_answered_at (by hand, or by an older
    -- router) bills from the phone's answer, as router/billing/rating.py does.
    CASE WHEN coalesce(caller_answered_at, answered_at) IS NOT NULL AND ended_at IS NOT NULL
         THEN greatest(0, (extract(epoch FROM (ended_at - coalesce(caller_answered_at,
                                                                   answered_at))) * 1000)::bigint)
         ELSE 0 END) STORED;
COMMENT ON COLUMN calls.billable_ms IS
    'Billable milliseconds: from caller_answered_at (menu answer, or the connecting phone''s answer or confirmation) to the end.';
COMMENT ON COLUMN calls.caller_answered_at IS
    'When billing starts: the router answered the caller for a voice menu, or the phone that connects answered (confirmed, when screened).';
COMMENT ON COLUMN calls.answered_at IS 'When the bound phone that connected answered (its own answer).';

-- Answer screening (按键确认接听): the phone that answers must press a key
-- before it gets the call, so a carrier's voicemail or secretary service
-- (来电管家, 秘书台) that answers a forwarded mobile never wins the hunt.
ALTER TABLE call_legs ADD COLUMN confirmed_at timestamptz(3),
    ADD CONSTRAINT call_leg_is_confirmed_after_it_answered CHECK (confirmed_at >= answered_at);
COMMENT ON COLUMN call_legs.confirmed_at IS
    'When the phone pressed the confirm key (screened calls); billing starts here.';

INSERT INTO leg_results (result, meaning) VALUES
    ('unconfirmed', 'the phone answered but did not press the confirm key in time (a voicemail '
                    'or secretary service, a wrong key, or it hung up)')
ON CONFLICT (result) DO NOTHING;

-- The confirm key: 'none' (no screening) or one key. A hotline sets it for all
-- its calls; a group and a binding may override it (NULL: as above them).
CREATE FUNCTION is_confirm_key(key text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT key ~ '^(none|[0-9*#])$'
$$;

ALTER TABLE hotlines
    ADD COLUMN confirm_key text NOT NULL DEFAULT 'none',
    ADD COLUMN confirm_timeout_s integer NOT NULL DEFAULT 10,
    ADD COLUMN confirm_prompt text NOT NULL DEFAULT 'beep',
    ADD COLUMN whisper_sound text,
    ADD COLUMN ringback_sound text,
    ADD COLUMN caller_id_shown text NOT NULL DEFAULT 'caller',
    ADD COLUMN caller_id_prefix text,
    ADD CONSTRAINT hotline_confirm_key_must_be_none_or_one_key_0_to_9_star_or_hash
        CHECK (is_confirm_key(confirm_key)),
    ADD CONSTRAINT hotline_confirm_timeout_must_be_1_to_60_seconds
        CHECK (confirm_timeout_s BETWEEN 1 AND 60),
    ADD CONSTRAINT hotline_sounds_must_be_sound_names_separated_by_commas
        CHECK (is_sound_list(confirm_prompt)
               AND (whisper_sound IS NULL OR is_sound_list(whisper_sound))
               AND (ringback_sound IS NULL OR is_sound_list(ringback_sound))),
    ADD CONSTRAINT hotline_caller_id_shown_must_be_caller_hotline_or_prefix
        CHECK (caller_id_shown IN ('caller', 'hotline', 'prefix')),
    ADD CONSTRAINT hotline_caller_id_prefix_is_needed_for_prefix_and_1_to_16_plain_characters
        CHECK ((caller_id_shown <> 'prefix' OR caller_id_prefix IS NOT NULL)
               AND (caller_id_prefix IS NULL OR caller_id_prefix ~ '^[A-Za-z0-9+*#. _-]{1,16}$'));
COMMENT ON COLUMN hotlines.confirm_key IS
    'Answer screening: the key a bound phone presses to take a call, or none.';
COMMENT ON COLUMN hotlines.confirm_timeout_s IS
    'Seconds a screened phone has to press the confirm key after it answered.';
COMMENT ON COLUMN hotlines.confirm_prompt IS 'Sounds a screened phone hears after the whisper.';
COMMENT ON COLUMN hotlines.whisper_sound IS
    'Sounds the answering phone hears before the bridge (来电报号), never the caller.';
COMMENT ON COLUMN hotlines.ringback_sound IS
    'Custom ringback (企业彩铃): looped to the unanswered caller as early media while phones ring.';
COMMENT ON COLUMN hotlines.caller_id_shown IS
    'Caller id presented to bound phones: the caller''s number, the 400 number, or prefix + caller.';

ALTER TABLE phone_groups
    ADD COLUMN confirm_key text,
    ADD COLUMN caller_id_prefix text,
    ADD CONSTRAINT group_confirm_key_must_be_none_or_one_key_0_to_9_star_or_hash
        CHECK (confirm_key IS NULL OR is_confirm_key(confirm_key)),
    ADD CONSTRAINT group_caller_id_prefix_must_be_1_to_16_plain_characters
        CHECK (caller_id_prefix IS NULL OR caller_id_prefix ~ '^[A-Za-z0-9+*#. _-]{1,16}$');
COMMENT ON COLUMN phone_groups.confirm_key IS
    'Overrides the hotline''s confirm key for this group''s calls; NULL: the hotline''s.';
COMMENT ON COLUMN phone_groups.caller_id_prefix IS
    'Put before the caller id shown to this group''s phones (e.g. the menu choice); NULL: the hotline''s rule.';

ALTER TABLE bound_phones
    ADD COLUMN confirm_key text,
    ADD CONSTRAINT binding_confirm_key_must_be_none_or_one_key_0_to_9_star_or_hash
        CHECK (confirm_key IS NULL OR is_confirm_key(confirm_key));
COMMENT ON COLUMN bound_phones.confirm_key IS
    'Overrides the group''s and hotline''s confirm key for this phone; NULL: theirs.';
