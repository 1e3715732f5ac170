-- A real hold queue: callers of a hotline (or of one of its groups) who wait
-- for a phone are served first come first served, VIP callers ahead, across
-- every router.
--
-- queue_waiters holds one row per waiting call. The order is (priority
-- DESC, arrived_at, seq): VIP callers (priority 1, on the caller list 'vip')
-- first, then by the moment the call arrived (its StasisStart, from the one
-- Asterisk all routers share), ties by the order they joined. A waiter is
-- offered the phones only while it is among the first N waiters not yet
-- offered, N being the free call slots of its group less the offers not yet
-- turned into a claim; routers decide that under one advisory lock per
-- hotline (router/waiting.py), so two routers never both act on one freed
-- slot and never skip a waiter.
--
-- A phone that frees (phone_state.active_calls goes down) and a waiter that
-- leaves or gives an offer back NOTIFY hotline_router_queue with the hotline's
-- id, so the head of the queue rings the freed phone at once.

CREATE TABLE queue_waiters (
    call_id    uuid PRIMARY KEY,
    hotline_id bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    group_id   bigint NOT NULL DEFAULT 0,
    router_id  text NOT NULL,
    priority   smallint NOT NULL DEFAULT 0,
    arrived_at timestamptz(3) NOT NULL,
    joined_at  timestamptz(3) NOT NULL DEFAULT now(),
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    offered_at timestamptz(3),
    CONSTRAINT queue_waiter_priority_must_be_0_normal_or_1_vip CHECK (priority IN (0, 1))
);
CREATE INDEX queue_waiters_in_order ON queue_waiters (hotline_id, group_id, priority DESC,
                                                      arrived_at, seq);
COMMENT ON TABLE queue_waiters IS
    'Callers waiting for a phone (overflow queue), one row per call, written by the routers.';
COMMENT ON COLUMN queue_waiters.group_id IS
    'The phone group waited for; 0: the hotline''s own phones (no plan group).';
COMMENT ON COLUMN queue_waiters.priority IS '1: a VIP caller (caller list vip), served first.';
COMMENT ON COLUMN queue_waiters.offered_at IS
    'When the waiter was let ring the free phones; NULL while it waits its turn.';

-- Per hotline: how the queue behaves.
ALTER TABLE hotlines
    ADD COLUMN queue_max_waiting       integer,
    ADD COLUMN queue_music_class       text NOT NULL DEFAULT 'default',
    ADD COLUMN queue_announce_position boolean NOT NULL DEFAULT false,
    ADD COLUMN queue_announce_every_s  integer NOT NULL DEFAULT 0,
    ADD COLUMN queue_announce_hold     boolean NOT NULL DEFAULT false,
    ADD COLUMN queue_overflow          text NOT NULL DEFAULT 'busy',
    ADD CONSTRAINT hotline_queue_max_waiting_must_be_1_to_1000
        CHECK (queue_max_waiting BETWEEN 1 AND 1000),
    ADD CONSTRAINT hotline_queue_music_class_must_be_a_music_on_hold_class
        CHECK (queue_music_class ~ '^[A-Za-z0-9_-]{1,80}$'),
    ADD CONSTRAINT hotline_queue_announce_every_must_be_0_or_10_to_600_seconds
        CHECK (queue_announce_every_s = 0 OR queue_announce_every_s BETWEEN 10 AND 600),
    ADD CONSTRAINT hotline_queue_overflow_must_be_busy_forward_or_voicemail
        CHECK (queue_overflow IN ('busy', 'forward', 'voicemail')),
    ADD CONSTRAINT hotline_queue_overflow_forward_needs_overflow_forward_to
        CHECK (queue_overflow <> 'forward' OR overflow_forward_to IS NOT NULL);
COMMENT ON COLUMN hotlines.queue_max_waiting IS
    'Most callers waiting at once (overflow queue); NULL: no limit. One more gets queue_overflow.';
COMMENT ON COLUMN hotlines.queue_music_class IS
    'Asterisk music on hold class (musiconhold.conf) a waiting caller hears.';
COMMENT ON COLUMN hotlines.queue_announce_position IS
    'Tell a waiting caller their place ("you are caller number N") when they join.';
COMMENT ON COLUMN hotlines.queue_announce_every_s IS
    'Repeat the position (and hold time) this often while waiting; 0: only on joining.';
COMMENT ON COLUMN hotlines.queue_announce_hold IS
    'Also tell the expected wait, from recent answer times (queue_hold_ms).';
COMMENT ON COLUMN hotlines.queue_overflow IS
    'What a caller who cannot wait (queue full, waited overflow_max_wait_s) gets: busy '
    '(the busy announcement), forward (ring overflow_forward_to) or voicemail (leave a message).';

-- Recent wait of answered queued callers, a running average (as Asterisk's
-- app_queue keeps its holdtime: three parts the old value, one part the new).
ALTER TABLE hotline_state ADD COLUMN queue_hold_ms bigint;
COMMENT ON COLUMN hotline_state.queue_hold_ms IS
    'Running average wait of answered queued callers, in ms; NULL: none answered yet.';

-- Wake the waiters of every hotline the freed phone serves.
CREATE FUNCTION queue_phone_freed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_router_queue', q.hotline_id::text)
    FROM (SELECT DISTINCT w.hotline_id FROM queue_waiters w
          JOIN bound_phones b ON b.hotline_id = w.hotline_id
          WHERE b.phone_id = NEW.phone_id) q;
    RETURN NULL;
END $$;
CREATE TRIGGER phone_state_wakes_queue AFTER UPDATE OF active_calls ON phone_state
    FOR EACH ROW WHEN (NEW.active_calls < OLD.active_calls)
    EXECUTE FUNCTION queue_phone_freed();

-- A waiter that leaves or gives its offer back may let the next one in.
CREATE FUNCTION queue_waiter_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_router_queue', OLD.hotline_id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER queue_waiter_left AFTER DELETE ON queue_waiters
    FOR EACH ROW EXECUTE FUNCTION queue_waiter_moved();
CREATE TRIGGER queue_waiter_gave_back AFTER UPDATE OF offered_at ON queue_waiters
    FOR EACH ROW WHEN (NEW.offered_at IS NULL AND OLD.offered_at IS NOT NULL)
    EXECUTE FUNCTION queue_waiter_moved();
