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
