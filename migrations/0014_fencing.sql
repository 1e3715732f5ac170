-- Fencing between routers: one record per caller channel, and claims that a
-- router writes back after a database outage kept within each phone's capacity.

-- A caller channel is routed by one router: two routers that both took the same
-- caller (one of them cut off from the database, or adopting the other's calls
-- while it still drives them) would otherwise leave two records and two bills.
-- Asterisk names each channel once ("<epoch>.<n>", or "<systemname>-<epoch>.<n>"
-- when asterisk.conf sets systemname, which several Asterisk servers sharing one
-- database must do).
DO $$
DECLARE
    doubled text;
BEGIN
    SELECT string_agg(caller_channel, ', ') INTO doubled FROM (
        SELECT caller_channel FROM calls GROUP BY caller_channel HAVING count(*) > 1
        ORDER BY caller_channel LIMIT 5) d;
    IF doubled IS NOT NULL THEN
        RAISE EXCEPTION 'calls has more than one record for caller channel %', doubled
            USING HINT = 'Keep one record per caller channel (move or delete the others '
                         'with their call_legs), then migrate again.';
    END IF;
END $$;
ALTER TABLE calls ADD CONSTRAINT one_call_record_per_caller_channel UNIQUE (caller_channel);

-- A claim a router took on its own while the database was away is written back
-- when it returns (router/claims.py adopt). If the phone filled up meanwhile
-- (another router claimed it), the claim is not inserted: the phone would carry
-- more calls than its capacity. It is kept here instead, for the operator.
CREATE TABLE claim_conflicts (
    leg_id       uuid PRIMARY KEY,
    phone_id     bigint REFERENCES phones (id) ON DELETE CASCADE,
    call_id      uuid NOT NULL,
    router_id    text NOT NULL,
    active_calls integer NOT NULL,
    capacity     integer NOT NULL,
    noted_at     timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX claim_conflicts_by_time ON claim_conflicts (noted_at);
COMMENT ON TABLE claim_conflicts IS
    'Claims taken during a database outage that were not written back: the phone was at capacity.';
COMMENT ON COLUMN claim_conflicts.active_calls IS
    'The live calls the phone had in phone_state when the claim came back.';
