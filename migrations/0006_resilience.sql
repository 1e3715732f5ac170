-- Surviving crashes, reconnects and database outages.

-- Every router says it is alive once a second. A router whose last word is
-- older than its lease is dead: another router on the same Asterisk adopts
-- its calls, and during a database outage the living ones split the phones.
CREATE TABLE routers (
    router_id    text PRIMARY KEY,
    app          text NOT NULL,
    ari_url      text NOT NULL,
    started_at   timestamptz(3) NOT NULL DEFAULT now(),
    last_seen_at timestamptz(3) NOT NULL DEFAULT now()
);
COMMENT ON TABLE routers IS 'Heartbeats of the routing daemons (written by the routers).';

-- A call that ended while no router was watching is finished by
-- reconciliation; its end time is then the last moment it was known to be up.
ALTER TABLE calls ADD COLUMN reconciled_at timestamptz(3);
COMMENT ON COLUMN calls.reconciled_at IS
    'Set when the record was completed by reconciliation (its end time is the best known).';
