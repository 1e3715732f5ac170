-- Guards the grants alone cannot express: what a role may write depends on
-- the row (which ledger kind, whether the call is closed).
--
-- A refusal of a record write is raised as a check violation named as a
-- sentence, so the CLI and the API read it as one, and a router replaying its
-- spool sets the record aside instead of stopping at it (router/spool.py).

-- Whether the current role has the rights of the owner of table ``tbl`` (the
-- one that runs migrations, or a superuser): it may repair rows by hand.
CREATE FUNCTION acts_as_owner_of(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = tbl
$$;

-- The ledger: the routers write charges only (a call's charge, a month's
-- minimum spend). Top-ups and adjustments are money decisions of an admin;
-- from the daemon's credential they would be free credit.
CREATE FUNCTION ledger_daemon_writes_only_charges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind NOT IN ('call-charge', 'minimum-spend')
       AND pg_has_role(current_user, 'hotline_router_daemon', 'USAGE')
       AND NOT pg_has_role(current_user, 'hotline_router_admin', 'USAGE')
       AND NOT acts_as_owner_of(TG_RELID) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format('the router''s role writes only charges to the ledger, not %L: '
                             'a top-up or an adjustment needs the admin role '
                             '(hotline-router billing topup / billing adjust)', NEW.kind);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_daemon_writes_only_charges BEFORE INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_daemon_writes_only_charges();

-- A closed call is final: who answered it, when, when it ended and how, are
-- what it is billed by (billable_ms, rating_queue). Only the owner may repair
-- one by hand. Other columns (reconciled_at, the plan's notes) may still be
-- filled in.
CREATE FUNCTION closed_call_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.ended_at IS NOT NULL
       AND (NEW.hotline_id, NEW.dialled, NEW.caller, NEW.caller_channel, NEW.started_at,
            NEW.answered_at, NEW.caller_answered_at, NEW.ended_at, NEW.outcome,
            NEW.answered_dial_string)
           IS DISTINCT FROM
           (OLD.hotline_id, OLD.dialled, OLD.caller, OLD.caller_channel, OLD.started_at,
            OLD.answered_at, OLD.caller_answered_at, OLD.ended_at, OLD.outcome,
            OLD.answered_dial_string)
       AND NOT acts_as_owner_of(TG_RELID) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'closed_call_keeps_its_answer_end_and_outcome',
            MESSAGE = format('call %s is closed: its answer, end and outcome cannot change '
                             '(closed call keeps its answer end and outcome)', OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER closed_call_is_final BEFORE UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION closed_call_is_final();

-- A ring attempt that ended keeps its end and result; an answer time, once
-- known, stays (one may still arrive after the end: a phone that answered
-- and was gone before the bridge).
CREATE FUNCTION ended_leg_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.ended_at IS NOT NULL
       AND ((NEW.call_id, NEW.dial_string, NEW.dial_started_at, NEW.ended_at, NEW.result,
             NEW.hangup_cause)
            IS DISTINCT FROM
            (OLD.call_id, OLD.dial_string, OLD.dial_started_at, OLD.ended_at, OLD.result,
             OLD.hangup_cause)
            OR (OLD.answered_at IS NOT NULL AND NEW.answered_at IS DISTINCT FROM OLD.answered_at))
       AND NOT acts_as_owner_of(TG_RELID) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'ended_ring_attempt_keeps_its_answer_end_and_result',
            MESSAGE = format('ring attempt %s has ended: its answer, end and result cannot '
                             'change (ended ring attempt keeps its answer end and result)',
                             OLD.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ended_leg_is_final BEFORE UPDATE ON call_legs
    FOR EACH ROW EXECUTE FUNCTION ended_leg_is_final();

-- The rating queue: a call leaves it in the transaction that charges it
-- (router/billing/rater.py). Taken off uncharged, it would never be billed.
CREATE FUNCTION rating_queue_keeps_uncharged_calls() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger WHERE call_id = OLD.call_id AND kind = 'call-charge')
       AND NOT acts_as_owner_of(TG_RELID) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'call_leaves_the_rating_queue_only_once_charged',
            MESSAGE = format('call %s is not charged yet: it leaves the rating queue only once '
                             'charged (hotline-router billing rate)', OLD.call_id);
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER rating_queue_keeps_uncharged_calls BEFORE DELETE ON rating_queue
    FOR EACH ROW EXECUTE FUNCTION rating_queue_keeps_uncharged_calls();

-- Dial strings into the dialplan. `Local/<extension>@<context>` runs that
-- context of Asterisk's dialplan as a phone or an overflow target; into the
-- router's own contexts (dialplan/extensions.conf) it would make a hotline
-- call itself or skip the router. An operator lists the contexts of its own
-- dialplan that bound phones and overflow may dial into; nothing else is
-- accepted.
CREATE TABLE local_contexts (
    context  text PRIMARY KEY,
    note     text NOT NULL DEFAULT '',
    added_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT local_context_must_be_letters_digits_dash_or_underscore
        CHECK (context ~ '^[A-Za-z0-9_-]{1,79}$'),
    CONSTRAINT local_context_cannot_be_one_of_the_routers_own_contexts
        CHECK (context NOT IN ('from-callers', 'hotline', 'router-reoffer', 'router-down',
                               'from-phones'))
);
COMMENT ON TABLE local_contexts IS
    'Dialplan contexts a Local/<extension>@<context> phone or overflow target may dial into.';

-- NULL when ``dial`` is acceptable, else what is wrong and how to fix it, as
-- one sentence. Only Local/ dial strings are judged here.
CREATE FUNCTION local_dial_string_problem(dial text) RETURNS text
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
    IF target IN ('from-callers', 'hotline', 'router-reoffer', 'router-down', 'from-phones') THEN
        RETURN format('dial string %s goes into the router''s own context %s, so a hotline '
                      'could call itself: dial a context of your own dialplan', dial, target);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM local_contexts WHERE context = target) THEN
        RETURN format('dial string %s goes into context %s, which is not listed: '
                      'hotline-router local-context add %s', dial, target, target);
    END IF;
    RETURN NULL;
END $$;

-- TG_ARGV[0]: the column that holds the dial string.
CREATE FUNCTION dial_string_is_allowed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    problem text := local_dial_string_problem(to_jsonb(NEW) ->> TG_ARGV[0]);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = problem;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER phone_local_dial_string_is_listed BEFORE INSERT OR UPDATE OF dial_string
    ON phones FOR EACH ROW EXECUTE FUNCTION dial_string_is_allowed('dial_string');
CREATE TRIGGER overflow_local_dial_string_is_listed BEFORE INSERT OR UPDATE OF overflow_forward_to
    ON hotlines FOR EACH ROW EXECUTE FUNCTION dial_string_is_allowed('overflow_forward_to');

-- A context stays listed while a phone or an overflow target dials into it.
CREATE FUNCTION local_context_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    user_of text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.context = OLD.context THEN
        RETURN NEW;
    END IF;
    SELECT d INTO user_of FROM (
        SELECT dial_string AS d FROM phones WHERE dial_string LIKE 'Local/%'
        UNION ALL
        SELECT overflow_forward_to FROM hotlines WHERE overflow_forward_to LIKE 'Local/%') used
    WHERE substring(d FROM '@([A-Za-z0-9_-]+)') = OLD.context
    LIMIT 1;
    IF user_of IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = format('context %s is still dialled (%s): change those dial strings first',
                             OLD.context, user_of);
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER local_context_in_use BEFORE UPDATE OR DELETE ON local_contexts
    FOR EACH ROW EXECUTE FUNCTION local_context_in_use();

-- Dial strings already there keep working: their contexts are listed, except
-- the router's own, which are only reported (fix them by hand).
INSERT INTO local_contexts (context, note)
SELECT DISTINCT substring(d FROM '^Local/[^@/]+@([A-Za-z0-9_-]+)'), 'listed by migration 0012'
FROM (SELECT dial_string AS d FROM phones UNION ALL SELECT overflow_forward_to FROM hotlines) used
WHERE substring(d FROM '^Local/[^@/]+@([A-Za-z0-9_-]+)') NOT IN
      ('from-callers', 'hotline', 'router-reoffer', 'router-down', 'from-phones')
  -- a longer name cannot be listed (Asterisk's limit): reported below instead
  AND length(substring(d FROM '^Local/[^@/]+@([A-Za-z0-9_-]+)')) <= 79
ON CONFLICT DO NOTHING;
DO $$
DECLARE
    bad text;
BEGIN
    FOR bad IN SELECT d FROM (SELECT dial_string AS d FROM phones
                              UNION ALL SELECT overflow_forward_to FROM hotlines) used
               WHERE local_dial_string_problem(d) IS NOT NULL LOOP
        RAISE WARNING '%', local_dial_string_problem(bad);
    END LOOP;
END $$;
