-- The agent's presence (示忙/示闲, 小休): a bound phone is signed in, signed out
-- or paused with a reason. Only a signed-in phone is offered calls; the claim
-- (router/claims.py) checks it in the same statement that takes the slot, so
-- no router can ring a phone that signed out a moment ago.
--
-- Busy, ringing and wrap-up are derived from the claims and the last call's
-- end (phone_state.active_calls, last_call_ended_at), never stored twice.
--
-- Auto-pause (app_queue's autopause, mod_callcenter's max-no-answer): after N
-- legs in a row that rang out or were rejected, the phone is paused with the
-- reason 'no-answer'. Optional delays after a reject or a no-answer keep the
-- phone from being offered again at once (mod_callcenter's reject-delay-time
-- and no-answer-delay-time). Both are decided here, by a trigger on the legs'
-- results, so every router sees the same count.

ALTER TABLE phone_state
    ADD COLUMN presence        text NOT NULL DEFAULT 'signed_in',
    ADD COLUMN presence_reason text,
    ADD COLUMN presence_since  timestamptz(3) NOT NULL DEFAULT now(),
    ADD COLUMN missed_in_a_row integer NOT NULL DEFAULT 0,
    ADD COLUMN offer_after     timestamptz(3),
    ADD CONSTRAINT phone_presence_must_be_signed_in_signed_out_or_paused
        CHECK (presence IN ('signed_in', 'signed_out', 'paused')),
    ADD CONSTRAINT phone_pause_needs_a_reason_and_only_a_pause_has_one
        CHECK ((presence = 'paused') = (presence_reason IS NOT NULL)),
    ADD CONSTRAINT phone_pause_reason_must_be_1_to_40_printable_characters
        CHECK (presence_reason IS NULL OR presence_reason ~ '^[[:print:]]{1,40}$');
COMMENT ON COLUMN phone_state.presence IS
    'signed_in (offered calls), signed_out or paused (never offered a call).';
COMMENT ON COLUMN phone_state.presence_reason IS 'Why the phone is paused (paused only).';
COMMENT ON COLUMN phone_state.presence_since IS 'When the presence last changed.';
COMMENT ON COLUMN phone_state.missed_in_a_row IS
    'Legs in a row the phone let ring out or rejected (auto-pause counts these).';
COMMENT ON COLUMN phone_state.offer_after IS
    'The phone is not offered a call before this time (reject / no-answer delay).';

ALTER TABLE phones
    ADD COLUMN auto_pause_after  integer,
    ADD COLUMN reject_delay_s    integer NOT NULL DEFAULT 0,
    ADD COLUMN no_answer_delay_s integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT phone_auto_pause_after_must_be_1_to_100_missed_calls_or_empty
        CHECK (auto_pause_after IS NULL OR auto_pause_after BETWEEN 1 AND 100),
    ADD CONSTRAINT phone_reject_and_no_answer_delays_must_be_0_to_3600_seconds
        CHECK (reject_delay_s BETWEEN 0 AND 3600 AND no_answer_delay_s BETWEEN 0 AND 3600);
COMMENT ON COLUMN phones.auto_pause_after IS
    'Pause the phone (reason no-answer) after this many missed legs in a row; NULL: the hotline''s.';
COMMENT ON COLUMN phones.reject_delay_s IS 'Seconds after a rejected leg before the next offer.';
COMMENT ON COLUMN phones.no_answer_delay_s IS
    'Seconds after a leg that rang out before the next offer.';

ALTER TABLE hotlines
    ADD COLUMN auto_pause_after integer,
    ADD CONSTRAINT hotline_auto_pause_after_must_be_1_to_100_missed_calls_or_empty
        CHECK (auto_pause_after IS NULL OR auto_pause_after BETWEEN 1 AND 100);
COMMENT ON COLUMN hotlines.auto_pause_after IS
    'Pause a phone after this many of its legs for this hotline in a row were missed; NULL: off.';

CREATE TABLE presence_history (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_id  bigint NOT NULL REFERENCES phones (id) ON DELETE CASCADE,
    at        timestamptz(3) NOT NULL DEFAULT now(),
    presence  text NOT NULL,
    reason    text,
    source    text NOT NULL,
    who       text NOT NULL,
    CONSTRAINT presence_change_source_must_be_cli_sql_phone_or_auto
        CHECK (source IN ('cli', 'sql', 'phone', 'auto'))
);
CREATE INDEX presence_history_by_phone ON presence_history (phone_id, at);
COMMENT ON TABLE presence_history IS
    'Every presence change of a phone: when (UTC), to what, why, from where and by whom.';
COMMENT ON COLUMN presence_history.source IS
    'cli (hotline-router phone …), sql (set_presence() or an UPDATE), phone (a feature code '
    'dialled on it) or auto (auto-pause).';

-- Every change is logged, however it was made: set_presence() says where
-- from and who in two transaction-local settings; a plain UPDATE is 'sql' by
-- the database login.
CREATE FUNCTION phone_state_log_presence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_history (phone_id, at, presence, reason, source, who)
    VALUES (NEW.phone_id, NEW.presence_since, NEW.presence, NEW.presence_reason,
            coalesce(nullif(current_setting('hotline_router.presence_source', true), ''), 'sql'),
            coalesce(nullif(current_setting('hotline_router.presence_who', true), ''),
                     session_user));
    RETURN NULL;
END $$;
CREATE TRIGGER phone_state_log_presence
    AFTER UPDATE OF presence, presence_reason ON phone_state FOR EACH ROW
    WHEN (OLD.presence IS DISTINCT FROM NEW.presence
          OR OLD.presence_reason IS DISTINCT FROM NEW.presence_reason)
    EXECUTE FUNCTION phone_state_log_presence();

-- A changed presence starts its own "since"; signing in or resuming starts
-- the missed-call count afresh.
CREATE FUNCTION phone_state_presence_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.presence_since := now();
    IF NEW.presence = 'signed_in' THEN
        NEW.missed_in_a_row := 0;
        NEW.offer_after := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER phone_state_presence_since
    BEFORE UPDATE OF presence, presence_reason ON phone_state FOR EACH ROW
    WHEN (OLD.presence IS DISTINCT FROM NEW.presence
          OR OLD.presence_reason IS DISTINCT FROM NEW.presence_reason)
    EXECUTE FUNCTION phone_state_presence_since();

-- set_presence(phone, presence, reason, source, who): the one way the CLI,
-- the feature codes and auto-pause change a presence. Returns true when it
-- changed, false when the phone already was so. Refuses, with a message
-- naming what to fix: an unknown phone, a pause without a reason, a reason
-- without a pause.
CREATE FUNCTION set_presence(phone bigint, new_presence text, reason text DEFAULT NULL,
                             source text DEFAULT 'sql', who text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF new_presence IS NULL OR new_presence NOT IN ('signed_in', 'signed_out', 'paused') THEN
        RAISE EXCEPTION 'presence must be signed_in, signed_out or paused, not %',
            coalesce(new_presence, 'empty') USING ERRCODE = 'check_violation';
    END IF;
    IF new_presence = 'paused' AND coalesce(reason, '') = '' THEN
        RAISE EXCEPTION 'a pause needs a reason (e.g. lunch)' USING ERRCODE = 'check_violation';
    END IF;
    IF new_presence <> 'paused' AND reason IS NOT NULL THEN
        RAISE EXCEPTION 'only a pause has a reason' USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('hotline_router.presence_source', source, true);
    PERFORM set_config('hotline_router.presence_who', coalesce(who, session_user), true);
    UPDATE phone_state SET presence = new_presence, presence_reason = reason
    WHERE phone_id = phone
      AND (presence IS DISTINCT FROM new_presence OR presence_reason IS DISTINCT FROM reason)
    RETURNING true INTO changed;
    PERFORM set_config('hotline_router.presence_source', '', true);
    PERFORM set_config('hotline_router.presence_who', '', true);
    IF changed IS NULL AND NOT EXISTS (SELECT 1 FROM phone_state WHERE phone_id = phone) THEN
        RAISE EXCEPTION 'no phone with id %', phone USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN coalesce(changed, false);
END $$;

-- A leg's result counts toward auto-pause: busy (rejected) and no-answer
-- are misses; an answer starts the count afresh (so does an answered call the
-- agent passed on, 'transferred', 0021); a cancelled leg (another
-- phone won, the caller hung up) or a failed one (unreachable) says nothing
-- about the agent. The delays apply whether or not auto-pause is on.
CREATE FUNCTION call_legs_count_misses() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    limit_n integer;
    delay_s integer;
    missed  integer;
BEGIN
    IF NEW.result IN ('answered', 'transferred') THEN
        UPDATE phone_state SET missed_in_a_row = 0
        WHERE phone_id = NEW.phone_id AND missed_in_a_row <> 0;
        RETURN NULL;
    END IF;
    SELECT coalesce(p.auto_pause_after, h.auto_pause_after),
           CASE NEW.result WHEN 'busy' THEN p.reject_delay_s ELSE p.no_answer_delay_s END
    INTO limit_n, delay_s
    FROM phones p
    LEFT JOIN calls c ON c.id = NEW.call_id
    LEFT JOIN hotlines h ON h.id = c.hotline_id
    WHERE p.id = NEW.phone_id;
    UPDATE phone_state
    SET missed_in_a_row = missed_in_a_row + 1,
        offer_after = CASE WHEN delay_s > 0
                           THEN greatest(offer_after, NEW.ended_at + make_interval(secs => delay_s))
                           ELSE offer_after END
    WHERE phone_id = NEW.phone_id
    RETURNING missed_in_a_row INTO missed;
    IF limit_n IS NOT NULL AND missed >= limit_n THEN
        PERFORM set_presence(NEW.phone_id, 'paused', 'no-answer', 'auto',
                             format('%s missed calls in a row', missed))
        FROM phone_state WHERE phone_id = NEW.phone_id AND presence = 'signed_in';
        UPDATE phone_state SET missed_in_a_row = 0 WHERE phone_id = NEW.phone_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER call_legs_count_misses
    AFTER UPDATE OF result ON call_legs FOR EACH ROW
    WHEN (OLD.result IS NULL AND NEW.result IN ('answered', 'transferred', 'busy', 'no-answer')
          AND NEW.phone_id IS NOT NULL)
    EXECUTE FUNCTION call_legs_count_misses();

-- The feature codes' contexts are the router's own too (dialplan/extensions.conf):
-- no Local/ dial string may enter them (0012). The router's contexts are listed
-- once, here, for the table's CHECK and for the dial-string guard.
CREATE FUNCTION is_routers_own_context(context text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT context IN ('from-callers', 'hotline', 'router-reoffer', 'router-down', 'from-phones',
                       'phone-features', 'phone-feature-said')
$$;
ALTER TABLE local_contexts
    DROP CONSTRAINT local_context_cannot_be_one_of_the_routers_own_contexts,
    ADD CONSTRAINT local_context_cannot_be_one_of_the_routers_own_contexts
        CHECK (NOT is_routers_own_context(context));

CREATE OR REPLACE FUNCTION local_dial_string_problem(dial text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    target text;
BEGIN
    -- Not Local/, or not a dial string at all: the tables' own CHECK names that.
    IF dial IS NULL OR dial NOT LIKE 'Local/%'
       OR dial !~ '^Local/[A-Za-z0-9_.@:;=+/#*-]{1,200}$' THEN
        RETURN NULL;
    END IF;
    -- One @ and no / in the extension: Asterisk versions disagree on which
    -- slash ends the extension, so an ambiguous string is not accepted.
    IF dial !~ '^Local/[^@/]+@[A-Za-z0-9_-]+(/[a-z]+)?$' THEN
        RETURN format('dial string %s must be Local/<extension>@<context> '
                      '(optionally /n): no other @ or /', dial);
    END IF;
    target := substring(dial FROM '@([A-Za-z0-9_-]+)');
    IF is_routers_own_context(target) THEN
        RETURN format('dial string %s goes into the router''s own context %s, so a hotline '
                      'could call itself: dial a context of your own dialplan', dial, target);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM local_contexts WHERE context = target) THEN
        RETURN format('dial string %s goes into context %s, which is not listed: '
                      'hotline-router local-context add %s', dial, target, target);
    END IF;
    RETURN NULL;
END $$;

-- A phone signed in or resumed frees a slot as a finished call does: the hold
-- queue's head is told at once (0019), not at its next look.
CREATE TRIGGER phone_state_signed_in_wakes_queue AFTER UPDATE OF presence ON phone_state
    FOR EACH ROW WHEN (NEW.presence = 'signed_in' AND OLD.presence <> 'signed_in')
    EXECUTE FUNCTION queue_phone_freed();
