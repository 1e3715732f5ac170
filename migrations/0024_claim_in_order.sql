-- A routing decision in one statement: the router orders a group's phones by
-- its strategy (from its in-memory configuration) and this function claims the
-- first idle ones in that order, atomically, and returns every listed phone's
-- busy state as it is after the claims (router/claims.py claim_in_order).
--
-- A phone is claimed exactly as by the single-phone claim (router/claims.py
-- _CLAIM): only while it is enabled, below its capacity, signed in, past any
-- reject / no-answer delay (migration 0020) and out of wrap-up; the claim is
-- recorded in phone_claims in the same transaction. Under READ COMMITTED,
-- PostgreSQL re-evaluates each UPDATE's WHERE clause on the newest row version
-- when another router claimed the phone meanwhile, so no phone ever carries
-- more calls than its capacity.
--
-- phone_ids: the phones in the strategy's order; leg_ids: one per phone, the
-- leg that would ring it (NULL: not to be claimed by this router now, e.g. its
-- endpoint is offline; it still counts for start_at's rotation); wanted: how
-- many to claim at most (1 to hunt, all of them to ring at once, 0 to only read
-- busy state); start_at: the place in the list to begin (0-based), then on
-- around to the start (round-robin's turn: call number modulo the phones).
--
-- Locks: claiming one phone, a call holds that phone's row lock and waits for
-- no other. Claiming several, it first locks every listed row in phone id order,
-- so two calls ringing overlapping groups in different orders cannot deadlock.
CREATE FUNCTION claim_in_order(phone_ids bigint[], leg_ids uuid[], for_call uuid, by_router text,
                               wanted integer, start_at integer DEFAULT 0)
RETURNS TABLE (phone_id bigint, leg_id uuid, claimed boolean, active_calls integer,
               last_call_ended_at timestamptz, presence text, offer_after timestamptz,
               calls_today integer, talk_ms_today bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n   integer := coalesce(cardinality(phone_ids), 0);
    got uuid[] := '{}';
    i   integer;
    taken bigint;
BEGIN
    IF cardinality(leg_ids) IS DISTINCT FROM n AND n > 0 THEN
        RAISE EXCEPTION 'claim_in_order: % phones but % leg ids', n, cardinality(leg_ids)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF wanted > 1 THEN
        PERFORM 1 FROM phone_state s
        WHERE s.phone_id IN (SELECT u.p FROM unnest(phone_ids, leg_ids) AS u (p, l)
                             WHERE u.l IS NOT NULL)
        ORDER BY s.phone_id FOR UPDATE;
    END IF;
    FOR k IN 0 .. n - 1 LOOP
        EXIT WHEN cardinality(got) >= wanted;
        i := (coalesce(start_at, 0) + k) % n + 1;
        CONTINUE WHEN leg_ids[i] IS NULL OR leg_ids[i] = ANY (got);
        taken := NULL;
        UPDATE phone_state s SET active_calls = s.active_calls + 1
        FROM phones p
        WHERE s.phone_id = phone_ids[i] AND p.id = s.phone_id AND p.enabled
          AND s.active_calls < p.capacity
          AND s.presence = 'signed_in' AND (s.offer_after IS NULL OR s.offer_after <= now())
          AND (p.wrap_up_s = 0 OR s.last_call_ended_at IS NULL
               OR s.last_call_ended_at + p.wrap_up_s * interval '1 second' <= now())
        RETURNING s.phone_id INTO taken;
        IF taken IS NOT NULL THEN
            INSERT INTO phone_claims (leg_id, phone_id, call_id, router_id)
            VALUES (leg_ids[i], taken, for_call, by_router);
            got := got || leg_ids[i];
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT u.p, u.l, coalesce(u.l = ANY (got), false), s.active_calls, s.last_call_ended_at,
           s.presence, s.offer_after,
           CASE WHEN s.stats_day = stats_today() THEN s.calls_today ELSE 0 END,
           CASE WHEN s.stats_day = stats_today() THEN s.talk_ms_today ELSE 0 END::bigint
    FROM unnest(phone_ids, leg_ids) WITH ORDINALITY AS u (p, l, ord)
    JOIN phone_state s ON s.phone_id = u.p
    ORDER BY u.ord;
END $$;
COMMENT ON FUNCTION claim_in_order(bigint[], uuid[], uuid, text, integer, integer) IS
    'Claim the first idle phones of an ordered list (at most wanted, from start_at on, '
    'wrapping around) atomically; returns each listed phone''s busy state after the claims.';
