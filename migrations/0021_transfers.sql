-- Transfers by the agent: a bound phone that talks with a caller passes it on
-- (SIP REFER, handled by the router through ARI) to another bound phone of the
-- same hotline, one of its groups, or an outside number the hotline allows.
--
-- The record keeps one call: the phone that transferred ends 'transferred'
-- (its talk time counted up to then), the target is a leg of purpose
-- 'transfer', and billing runs on from the caller's answer to the end of the
-- call as before (calls.caller_answered_at, calls.billable_ms unchanged).

INSERT INTO leg_results (result, meaning) VALUES
    ('transferred', 'the phone talked with the caller, then passed it on (a transfer)')
ON CONFLICT (result) DO NOTHING;

ALTER TABLE call_legs DROP CONSTRAINT call_leg_purpose_is_known,
    ADD CONSTRAINT call_leg_purpose_is_known
        CHECK (purpose IN ('phone', 'overflow-forward', 'transfer'));
COMMENT ON COLUMN call_legs.purpose IS
    'phone: a bound phone hunted; overflow-forward: the hotline''s forward number; '
    'transfer: rung because the phone talking with the caller transferred the call.';

-- Outside numbers: none unless the admin allows some. A number is allowed
-- when it starts with one of the prefixes; it is dialled through the dial
-- string with {number} in it (e.g. PJSIP/carrier/sip:{number}@10.0.0.1).
ALTER TABLE hotlines
    ADD COLUMN transfer_numbers text,
    ADD COLUMN transfer_dial text,
    ADD CONSTRAINT hotline_transfer_numbers_must_be_digit_prefixes_with_commas
        CHECK (transfer_numbers IS NULL OR transfer_numbers ~ '^[0-9]{1,20}(,[0-9]{1,20})*$'),
    ADD CONSTRAINT hotline_transfer_dial_must_be_a_dial_string_with_number_in_it
        CHECK (transfer_dial IS NULL
               OR (transfer_dial ~ '^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@:;=+/#*{}-]{1,200}$'
                   AND strpos(transfer_dial, '{number}') > 0)),
    ADD CONSTRAINT hotline_transfer_numbers_need_a_transfer_dial
        CHECK (transfer_numbers IS NULL OR transfer_dial IS NOT NULL);
COMMENT ON COLUMN hotlines.transfer_numbers IS
    'Outside numbers a bound phone may transfer callers to: digit prefixes, comma-separated; '
    'NULL: none.';
COMMENT ON COLUMN hotlines.transfer_dial IS
    'How an allowed outside transfer number is dialled: a dial string with {number} in it.';
