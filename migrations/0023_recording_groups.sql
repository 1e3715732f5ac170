-- Recording per group, and the recording told with a call's end.
--
-- A group may record a share of its answered calls other than its hotline's
-- (the sales line recorded, the complaints line always, 通话录音 by group);
-- NULL keeps the hotline's record_percent. Format, notice and retention stay
-- the hotline's: one storage rule per customer.
ALTER TABLE phone_groups
    ADD COLUMN record_percent integer,
    ADD CONSTRAINT group_record_percent_must_be_none_or_0_to_100
        CHECK (record_percent IS NULL OR record_percent BETWEEN 0 AND 100);
COMMENT ON COLUMN phone_groups.record_percent IS
    'Share of this group''s answered calls recorded, in percent (0 none, 100 every one); '
    'NULL: the hotline''s record_percent.';

-- A call whose bridge Asterisk was asked to record. Its recordings row only
-- appears once Asterisk has finished the file, a few seconds after the call's
-- end (router/call/recording.py, FINISH_WAIT_S = 5 s), so the call.ended
-- notification of such a call waits for it (up to 10 s) to carry its id.
ALTER TABLE calls ADD COLUMN recorded boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN calls.recorded IS
    'Asterisk was asked to record this call''s bridge; its file is in recordings once complete.';

-- The longest a call.ended notification waits for its call's recording row:
-- FINISH_WAIT_S (5 s) for the file, and room for the row's write.
CREATE FUNCTION recording_wait() RETURNS interval LANGUAGE sql IMMUTABLE
    AS $$ SELECT interval '10 seconds' $$;

CREATE OR REPLACE FUNCTION notify_call_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_enqueue(NEW.hotline_id, 'call.ended', 'call.ended:' || NEW.id, NEW.id, NULL,
                           NEW.caller, NEW.outcome, NEW.ended_at, NULL);
    IF NEW.recorded AND NOT EXISTS (SELECT 1 FROM recordings r
                                    WHERE r.call_id = NEW.id AND r.kind = 'call') THEN
        UPDATE notification_outbox SET due_at = greatest(due_at, now() + recording_wait())
        WHERE event_key = 'call.ended:' || NEW.id AND state = 'pending';
    END IF;
    IF NEW.answered_at IS NULL THEN
        PERFORM notify_enqueue(NEW.hotline_id, 'call.missed', 'call.missed:' || NEW.id, NEW.id,
                               NULL, NEW.caller, NEW.outcome, NEW.ended_at, NULL);
    END IF;
    RETURN NULL;
END $$;

-- The recording's row arrived: its call's end is told now, with it.
CREATE FUNCTION notify_recording_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notification_outbox SET due_at = now()
    WHERE call_id = NEW.call_id AND event = 'call.ended' AND state = 'pending'
      AND due_at > now();
    IF FOUND THEN
        PERFORM pg_notify('hotline_router_notifications', 'call.ended');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_recording_stored AFTER INSERT ON recordings
    FOR EACH ROW WHEN (NEW.kind = 'call') EXECUTE FUNCTION notify_recording_stored();
