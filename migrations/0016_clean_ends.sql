-- Ends that say where their time came from, and routers that say they stopped.
--
-- calls.end_source: Asterisk's own timestamp of a hangup ('asterisk'), the
-- router's wall clock where it had to end the call itself and Asterisk gave no
-- time (ring limit, longest call allowed, drain, failure: 'router-clock'), or
-- the last moment the records knew of, for a call closed after its router
-- stopped or lost it ('last-known', with reconciled_at set). NULL while open,
-- and for calls closed before this column existed.
ALTER TABLE calls ADD COLUMN end_source text;
ALTER TABLE calls ADD CONSTRAINT call_end_source_is_asterisk_router_clock_or_last_known
    CHECK (end_source IN ('asterisk', 'router-clock', 'last-known'));
COMMENT ON COLUMN calls.end_source IS
    'Where ended_at came from: asterisk (its hangup event), router-clock (the router ended '
    'the call and Asterisk gave no time), last-known (closed after its router stopped).';

-- A router that stops cleanly ends its lease at once: peers stop counting it
-- among the living (their share of the phones during an outage) right away.
ALTER TABLE routers ADD COLUMN stopped_at timestamptz(3);
COMMENT ON COLUMN routers.stopped_at IS
    'When the router stopped cleanly (its lease ended then); NULL while it runs.';
