-- Notifications and call-event webhooks, durable through an outbox.
--
-- An admin gives a hotline notification targets (a CRM's webhook, an SMS
-- number) and picks the events each receives. The outbox rows are written by
-- triggers, in the same transaction as the record change they announce: the
-- call's end (call.ended, call.missed), its answer (call.answered), a ring
-- attempt (call.ringing), a charge that takes the balance below its threshold
-- (balance.low). So a notification exists exactly when its event does: a
-- router that dies after the call's end leaves the row for any dispatcher, and
-- a spool replay (which closes only what is open, router/records/sql.py)
-- fires nothing twice. One row per (target, event key): UNIQUE below.
-- Dispatchers (router/notify/dispatcher.py) claim due rows with
-- FOR UPDATE SKIP LOCKED, send, and mark them in the same transaction.

CREATE TABLE notification_events (
    event   text PRIMARY KEY,
    meaning text NOT NULL
);
COMMENT ON TABLE notification_events IS 'Every event a notification target may subscribe to.';
INSERT INTO notification_events (event, meaning) VALUES
    ('call.ringing', 'a bound phone starts ringing (screen pop); best-effort, given up '
                     'when not sent within 30 s'),
    ('call.answered', 'a bound phone answered and was bridged with the caller'),
    ('call.ended', 'a call ended, with its full record (outcome, legs, billable time)'),
    ('call.missed', 'a call ended without an answer, with an outcome the target chose; '
                    'repeated missed calls from one caller are folded'),
    ('balance.low', 'a charge took the prepaid balance below the low-balance threshold');

CREATE TABLE notify_targets (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id      bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    name            text NOT NULL,
    sender          text NOT NULL DEFAULT 'webhook',
    address         text NOT NULL,
    secret          text NOT NULL DEFAULT '',
    events          text[] NOT NULL DEFAULT '{call.missed}',
    missed_outcomes text[] NOT NULL DEFAULT '{abandoned,busy,no-answer,closed}',
    fold_minutes    integer NOT NULL DEFAULT 0,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT notify_target_name_is_unique_per_hotline UNIQUE (hotline_id, name),
    CONSTRAINT notify_target_name_must_be_letters_digits_dash_or_underscore
        CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
    CONSTRAINT notify_target_sender_must_be_a_lowercase_name
        CHECK (sender ~ '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT notify_target_webhook_address_must_be_an_http_or_https_url
        CHECK (sender <> 'webhook'
               OR address ~ '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^[:space:]]*)?$'),
    CONSTRAINT notify_target_address_must_be_1_to_2000_printable_characters
        CHECK (address ~ '^[[:graph:]]+$' AND length(address) <= 2000),
    CONSTRAINT notify_target_webhook_secret_must_be_at_least_16_characters
        CHECK (sender <> 'webhook' OR length(secret) >= 16),
    CONSTRAINT notify_target_must_have_at_least_one_event
        CHECK (cardinality(events) >= 1),
    CONSTRAINT notify_target_fold_minutes_must_be_0_to_1440
        CHECK (fold_minutes BETWEEN 0 AND 1440)
);
CREATE INDEX notify_targets_by_hotline ON notify_targets (hotline_id) WHERE enabled;
COMMENT ON TABLE notify_targets IS
    'Where a hotline''s notifications go: a sender plug-in (webhook, sms, …), its address, '
    'the events it receives, and which outcomes count as missed.';
COMMENT ON COLUMN notify_targets.fold_minutes IS
    'Missed calls from one caller within this many minutes of a notified one are folded '
    'into it (0: never).';

-- Events and missed outcomes must be known words: named in a sentence.
CREATE FUNCTION notify_target_words_are_known() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT e INTO bad FROM unnest(NEW.events) e
    WHERE e IS NULL OR NOT EXISTS (SELECT 1 FROM notification_events n WHERE n.event = e) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = format('event %L is not known: use %s (notify target events must be known)',
                             bad, (SELECT string_agg(event, ', ' ORDER BY event)
                                   FROM notification_events));
    END IF;
    SELECT o INTO bad FROM unnest(NEW.missed_outcomes) o
    WHERE o IS NULL OR o = 'answered'
       OR NOT EXISTS (SELECT 1 FROM call_outcomes c WHERE c.outcome = o) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = format('missed outcome %L is not an unanswered call outcome: use outcomes '
                             'of table call_outcomes other than answered (notify target missed '
                             'outcomes must be unanswered outcomes)', bad);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER notify_target_words_are_known BEFORE INSERT OR UPDATE ON notify_targets
    FOR EACH ROW EXECUTE FUNCTION notify_target_words_are_known();

CREATE TABLE notification_outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id   bigint NOT NULL REFERENCES notify_targets (id) ON DELETE CASCADE,
    hotline_id  bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    event       text NOT NULL REFERENCES notification_events (event),
    event_key   text NOT NULL,
    call_id     uuid,
    leg_id      uuid,
    caller      text,
    event_at    timestamptz(3) NOT NULL,
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    due_at      timestamptz(3) NOT NULL DEFAULT now(),
    expires_at  timestamptz(3),
    state       text NOT NULL DEFAULT 'pending',
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    sent_at     timestamptz(3),
    folded_into bigint REFERENCES notification_outbox (id) ON DELETE CASCADE,
    CONSTRAINT notification_is_once_per_target_and_event UNIQUE (target_id, event_key),
    CONSTRAINT notification_state_is_pending_sent_dead_folded_or_expired
        CHECK (state IN ('pending', 'sent', 'dead', 'folded', 'expired')),
    CONSTRAINT notification_attempts_cannot_be_negative CHECK (attempts >= 0),
    CONSTRAINT notification_is_folded_exactly_when_it_names_the_one_it_folds_into
        CHECK ((state = 'folded') = (folded_into IS NOT NULL))
);
CREATE INDEX notification_outbox_due ON notification_outbox (due_at) WHERE state = 'pending';
CREATE INDEX notification_outbox_dead ON notification_outbox (created_at) WHERE state = 'dead';
CREATE INDEX notification_outbox_fold ON notification_outbox (target_id, caller, event_at)
    WHERE event = 'call.missed' AND state <> 'folded';
CREATE INDEX notification_outbox_by_call ON notification_outbox (call_id);
COMMENT ON TABLE notification_outbox IS
    'One row per notification to send: pending, sent, dead (gave up after its tries), '
    'folded (a repeated missed call told in an earlier row) or expired (best-effort, too late).';

-- Enqueue ``event`` for every enabled target of ``hotline`` that takes it.
-- Folding (call.missed): a missed call from a caller who already has an
-- unfolded missed-call row for this target whose call ended within the
-- target's fold_minutes before is stored folded into that row, and the
-- dispatcher tells the folded calls with it (if still unsent) — so the window
-- is anchored at the notified call: one notification per caller per window.
-- Decided here, at insert time, under a transaction lock per (target,
-- caller), so two routers closing two calls of one caller at once still fold.
CREATE FUNCTION notify_enqueue(p_hotline bigint, p_event text, p_key text, p_call uuid,
                               p_leg uuid, p_caller text, p_outcome text,
                               p_event_at timestamptz, p_ttl interval) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    first_id bigint;
    queued boolean := false;
BEGIN
    IF p_hotline IS NULL THEN
        RETURN;
    END IF;
    FOR t IN SELECT id, fold_minutes, missed_outcomes FROM notify_targets
             WHERE hotline_id = p_hotline AND enabled AND p_event = ANY (events) LOOP
        IF p_event = 'call.missed' AND NOT (p_outcome = ANY (t.missed_outcomes)) THEN
            CONTINUE;
        END IF;
        first_id := NULL;
        IF p_event = 'call.missed' AND t.fold_minutes > 0 AND coalesce(p_caller, '') <> '' THEN
            PERFORM pg_advisory_xact_lock(hashtextextended(t.id || '/' || p_caller, 17));
            SELECT id INTO first_id FROM notification_outbox
            WHERE target_id = t.id AND event = 'call.missed' AND caller = p_caller
              AND state <> 'folded'
              AND event_at BETWEEN p_event_at - make_interval(mins => t.fold_minutes)
                               AND p_event_at
            ORDER BY event_at LIMIT 1;
        END IF;
        INSERT INTO notification_outbox (target_id, hotline_id, event, event_key, call_id,
                                         leg_id, caller, event_at, expires_at, state,
                                         folded_into)
        VALUES (t.id, p_hotline, p_event, p_key, p_call, p_leg, p_caller, p_event_at,
                now() + p_ttl, CASE WHEN first_id IS NULL THEN 'pending' ELSE 'folded' END,
                first_id)
        ON CONFLICT ON CONSTRAINT notification_is_once_per_target_and_event DO NOTHING;
        queued := queued OR (FOUND AND first_id IS NULL);
    END LOOP;
    IF queued THEN
        -- Delivered at commit: a dispatcher wakes at once instead of at its next poll.
        PERFORM pg_notify('hotline_router_notifications', p_event);
    END IF;
END $$;

-- A call's record closed (ended_at set once; the close writes only open rows).
CREATE FUNCTION notify_call_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_enqueue(NEW.hotline_id, 'call.ended', 'call.ended:' || NEW.id, NEW.id, NULL,
                           NEW.caller, NEW.outcome, NEW.ended_at, NULL);
    IF NEW.answered_at IS NULL THEN
        PERFORM notify_enqueue(NEW.hotline_id, 'call.missed', 'call.missed:' || NEW.id, NEW.id,
                               NULL, NEW.caller, NEW.outcome, NEW.ended_at, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_call_closed AFTER UPDATE OF ended_at ON calls
    FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
    EXECUTE FUNCTION notify_call_ended();
CREATE TRIGGER notify_call_inserted_closed AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL)
    EXECUTE FUNCTION notify_call_ended();

CREATE FUNCTION notify_call_answered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_enqueue(NEW.hotline_id, 'call.answered', 'call.answered:' || NEW.id, NEW.id,
                           NULL, NEW.caller, NULL, NEW.answered_at, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER notify_call_answered AFTER UPDATE OF answered_at ON calls
    FOR EACH ROW WHEN (OLD.answered_at IS NULL AND NEW.answered_at IS NOT NULL)
    EXECUTE FUNCTION notify_call_answered();

-- A ring attempt begins: screen pop. Best-effort: a row not sent within 30 s
-- is given up (expired), never retried into the middle of another call.
CREATE FUNCTION notify_leg_ringing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT hotline_id, caller INTO c FROM calls WHERE id = NEW.call_id;
    IF c.hotline_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM notify_targets WHERE hotline_id = c.hotline_id AND enabled
                   AND 'call.ringing' = ANY (events)) THEN
        PERFORM notify_enqueue(c.hotline_id, 'call.ringing', 'call.ringing:' || NEW.id,
                               NEW.call_id, NEW.id, c.caller, NULL, NEW.dial_started_at,
                               interval '30 seconds');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_leg_ringing AFTER INSERT ON call_legs
    FOR EACH ROW EXECUTE FUNCTION notify_leg_ringing();

-- A ledger row that takes the balance from at or above the hotline's
-- low-balance threshold to below it (router/billing/balance.py's rule).
CREATE FUNCTION notify_balance_low() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    threshold bigint;
    after_fen bigint;
BEGIN
    IF NEW.amount_fen >= 0 THEN
        RETURN NULL;
    END IF;
    SELECT low_balance_fen INTO threshold FROM hotline_billing WHERE hotline_id = NEW.hotline_id;
    IF coalesce(threshold, 0) <= 0
       OR NOT EXISTS (SELECT 1 FROM notify_targets WHERE hotline_id = NEW.hotline_id AND enabled
                      AND 'balance.low' = ANY (events)) THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(amount_fen), 0) INTO after_fen FROM ledger
    WHERE hotline_id = NEW.hotline_id;
    IF after_fen < threshold AND after_fen - NEW.amount_fen >= threshold THEN
        PERFORM notify_enqueue(NEW.hotline_id, 'balance.low', 'balance.low:' || NEW.id, NULL,
                               NULL, NULL, NULL, now(), NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_balance_low AFTER INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION notify_balance_low();
