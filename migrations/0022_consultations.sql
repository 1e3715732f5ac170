-- Attended transfers by the agent: the phone talking with a caller puts it on
-- hold and calls another target of the hotline (a consultation call, dialled
-- on the phone); the target is rung as a leg of the SAME call, of purpose
-- 'consult', claimed like any phone. When the phone then transfers (REFER with
-- Replaces) the caller is joined with that target, which becomes the talking
-- leg; the agent's leg ends 'transferred'. Billing is unchanged: one call,
-- from the caller's answer to the caller's end.

ALTER TABLE call_legs DROP CONSTRAINT call_leg_purpose_is_known,
    ADD CONSTRAINT call_leg_purpose_is_known
        CHECK (purpose IN ('phone', 'overflow-forward', 'transfer', 'consult'));
COMMENT ON COLUMN call_legs.purpose IS
    'phone: a bound phone hunted; overflow-forward: the hotline''s forward number; '
    'transfer: rung because the phone talking with the caller transferred the call; '
    'consult: rung by that phone''s consultation call (an attended transfer''s target).';

-- The consultation calls' contexts are the router's own too
-- (dialplan/extensions.conf): no Local/ dial string may enter them (0012, 0020).
CREATE OR REPLACE FUNCTION is_routers_own_context(context text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT context IN ('from-callers', 'hotline', 'router-reoffer', 'router-down', 'from-phones',
                       'phone-features', 'phone-feature-said', 'phone-consult',
                       'phone-consult-refused')
$$;
