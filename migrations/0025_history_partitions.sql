-- Call history by month (issue 18): `calls` is partitioned by RANGE
-- (started_at) and `call_legs` by the start of its CALL (call_legs.call_started_at,
-- new), one partition per UTC month, so a call and its legs live in one month
-- and leave together, even a leg dialled after midnight of the 1st. A year of
-- a busy operator (tens of millions of rows) keeps its writes on one month's
-- indexes, and the retention purge (history_purge, `hotline-router history
-- purge`) drops whole months instead of deleting rows.
--
-- The primary key of a partitioned table must include its partition key, so
-- a call's id is kept unique by call_keys (id, started_at, caller_channel),
-- filled by a trigger on every insert into calls; the foreign keys that named
-- calls (id) (legs, ledger, rating queue, recordings) name call_keys (id), and
-- one_call_record_per_caller_channel (0014) moves there too. call_keys rows
-- outlive a dropped month while the ledger or a recording names the call:
-- money and recordings never lose their call id.
--
-- A month without its partition never loses a record: it lands in the
-- DEFAULT partition (calls_default, call_legs_default), and creating that
-- month (history_prepare_months, every hour from each router) moves those rows
-- into the new partition before attaching it.
--
-- The conversion copies every row of an existing database into the new tables
-- and re-creates their indexes, triggers, row-level security policies,
-- comments and foreign keys from the catalog, as they were before this file.

-- One row per call ever recorded (while its month is kept, or money or a
-- recording refers to it): the call's id, unique, and where it lives.
CREATE TABLE call_keys (
    id             uuid PRIMARY KEY,
    started_at     timestamptz(3) NOT NULL,
    caller_channel text NOT NULL
);
CREATE INDEX call_keys_by_start ON call_keys (started_at);
COMMENT ON TABLE call_keys IS
    'Every call''s id, start (its month: the partition of calls and call_legs) and caller '
    'channel, unique across months; kept after its month is purged while the ledger or a '
    'recording names the call.';

-- The partition of ``parent`` for the UTC month starting at ``month`` exists:
-- created empty, or from the rows of that month that sat in the DEFAULT
-- partition (moved before it is attached: attaching a month whose rows are in
-- DEFAULT would fail). Rows are moved into a table not yet attached, so no
-- record trigger fires twice (no second notification, no re-queued rating).
CREATE FUNCTION history_add_month(parent text, month date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part text := format('%s_y%sm%s', parent, to_char(month, 'YYYY'), to_char(month, 'MM'));
    key  text := CASE parent WHEN 'calls' THEN 'started_at'
                             WHEN 'call_legs' THEN 'call_started_at' END;
    lo   timestamptz := month::timestamp AT TIME ZONE 'UTC';
    hi   timestamptz := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    cols text;
    waiting boolean;
BEGIN
    IF key IS NULL OR extract(day FROM month) <> 1 THEN
        RAISE EXCEPTION 'history_add_month: % of % is not a month of calls or call_legs',
            month, parent;
    END IF;
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Rows of this month waiting in DEFAULT move with the table locked: a record
    -- write planned before the move would look for its row in DEFAULT alone and,
    -- let through after it, update nothing without an error. Locked out, it is
    -- planned again with the new month.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)',
                   parent || '_default', key, key) INTO waiting USING lo, hi;
    IF waiting THEN
        EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', parent);
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING GENERATED INCLUDING STORAGE)', part, parent);
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute
    WHERE attrelid = parent::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING %s) '
                   'INSERT INTO %I (%s) SELECT %s FROM moved',
                   parent || '_default', key, key, cols, part, cols, cols) USING lo, hi;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, part, lo, hi);
    RETURN true;
END $$;

-- Months that must have their partitions: this UTC month and ``ahead`` more
-- (none when ``ahead`` is NULL), and every month with rows in a DEFAULT
-- partition. Two routers calling it at once take turns (an advisory lock for
-- the transaction). Returns the months created now.
CREATE FUNCTION history_prepare_months(ahead integer DEFAULT 3) RETURNS SETOF date
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    m date;
    made boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('hotline-router history months', 25));
    -- Rows waiting in DEFAULT: both tables locked at once, calls first as the
    -- routers' statements take them, before any moves (history_add_month).
    IF EXISTS (SELECT 1 FROM calls_default) OR EXISTS (SELECT 1 FROM call_legs_default) THEN
        LOCK TABLE calls, call_legs IN ACCESS EXCLUSIVE MODE;
    END IF;
    FOR m IN
        SELECT (this_month + make_interval(months => n))::date
        FROM generate_series(0, ahead) n
        UNION
        SELECT date_trunc('month', started_at AT TIME ZONE 'UTC')::date FROM calls_default
        UNION
        SELECT date_trunc('month', call_started_at AT TIME ZONE 'UTC')::date FROM call_legs_default
        ORDER BY 1
    LOOP
        made := history_add_month('calls', m);
        made := history_add_month('call_legs', m) OR made;
        IF made THEN
            RETURN NEXT m;
        END IF;
    END LOOP;
END $$;

-- The retention purge: drop the months of calls (and their legs) that ended
-- before the first day of ``as_of``'s UTC month minus ``keep_months`` months
-- (0: keep forever, nothing is dropped). A month with an open call, with an
-- ended answered call not rated yet (in rating_queue), or with a recording its
-- hotline's retention has not purged yet, is kept and said so.
-- The ledger and statements are untouched; call_keys rows of dropped calls go
-- unless the ledger or a recording names the call. One row per month looked
-- at: its first day, the calls and legs dropped, and why it was kept.
CREATE FUNCTION history_purge(keep_months integer, as_of timestamptz DEFAULT now())
RETURNS TABLE (month date, calls_dropped bigint, legs_dropped bigint, kept_because text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cutoff date;
    part   text;
    lo     timestamptz;
    hi     timestamptz;
    doomed date[] := ARRAY[]::date[];
    m      date;
BEGIN
    IF keep_months IS NULL OR keep_months <= 0 THEN
        RETURN;
    END IF;
    cutoff := (date_trunc('month', as_of AT TIME ZONE 'UTC')
               - make_interval(months => keep_months))::date;
    PERFORM history_prepare_months(NULL);  -- old rows sitting in DEFAULT get their month first
    -- First what may go, under no lock that stops the routers' writes...
    FOR part, month IN
        SELECT c.relname, to_date(substring(c.relname FROM 'y(\d{4}m\d{2})$'), 'YYYY"m"MM')
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'calls'::regclass AND c.relname ~ '^calls_y\d{4}m\d{2}$'
        ORDER BY 2
    LOOP
        EXIT WHEN month >= cutoff;
        lo := month::timestamp AT TIME ZONE 'UTC';
        hi := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        kept_because := NULL;
        EXECUTE format('SELECT count(*) FROM %I', part) INTO calls_dropped;
        SELECT count(*) INTO legs_dropped FROM call_legs l
        WHERE l.call_started_at >= lo AND l.call_started_at < hi;
        IF EXISTS (SELECT 1 FROM calls c WHERE c.started_at >= lo AND c.started_at < hi
                   AND c.ended_at IS NULL) THEN
            kept_because := 'a call of this month is still open';
        ELSIF EXISTS (SELECT 1 FROM rating_queue q JOIN call_keys k ON k.id = q.call_id
                      WHERE k.started_at >= lo AND k.started_at < hi) THEN
            kept_because := 'a call of this month is not rated yet';
        ELSIF EXISTS (SELECT 1 FROM recordings r JOIN call_keys k ON k.id = r.call_id
                      WHERE k.started_at >= lo AND k.started_at < hi
                        AND r.purged_at IS NULL) THEN
            -- the recordings' own purge finds their hotline's retention through the call
            kept_because := 'a recording of this month is not purged yet';
        END IF;
        IF kept_because IS NOT NULL THEN
            calls_dropped := 0;
            legs_dropped := 0;
        ELSE
            doomed := doomed || month;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF cardinality(doomed) = 0 THEN
        RETURN;
    END IF;
    -- ...then the drops: both tables locked at once, calls first as the routers'
    -- statements take them, until the end of this (short) transaction.
    LOCK TABLE calls, call_legs IN ACCESS EXCLUSIVE MODE;
    FOREACH m IN ARRAY doomed LOOP
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('DROP TABLE IF EXISTS %I', format('call_legs_y%sm%s',
                       to_char(m, 'YYYY'), to_char(m, 'MM')));
        EXECUTE format('DROP TABLE %I', format('calls_y%sm%s', to_char(m, 'YYYY'),
                       to_char(m, 'MM')));
        DELETE FROM call_keys k
        WHERE k.started_at >= lo AND k.started_at < hi
          AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.call_id = k.id)
          AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = k.id);
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION history_add_month(text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION history_prepare_months(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION history_purge(integer, timestamptz) FROM PUBLIC;

-- Every new call gets its key first (a replayed record's key is already there).
CREATE FUNCTION calls_keep_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_keys (id, started_at, caller_channel)
    VALUES (NEW.id, NEW.started_at, NEW.caller_channel)
    ON CONFLICT (id) DO NOTHING;
    RETURN NEW;
END $$;

-- --- the conversion -------------------------------------------------------------
DO $$
DECLARE
    tbl      text;
    saved    record;
    defs     text[] := ARRAY[]::text[];
    fk_in    text[] := ARRAY[]::text[];
    cols     text;
    def      text;
    months   date[];
BEGIN
    -- What the two tables carry today, to re-create on the partitioned ones.
    FOR saved IN
        SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
        WHERE i.indrelid IN ('calls'::regclass, 'call_legs'::regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        UNION ALL
        SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
        WHERE t.tgrelid IN ('calls'::regclass, 'call_legs'::regclass) AND NOT t.tgisinternal
        UNION ALL
        SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                      pg_get_constraintdef(c.oid))
        FROM pg_constraint c
        WHERE c.conrelid IN ('calls'::regclass, 'call_legs'::regclass) AND c.contype = 'f'
          AND c.confrelid NOT IN ('calls'::regclass, 'call_legs'::regclass)
        UNION ALL
        SELECT format('CREATE POLICY %I ON %I AS %s FOR %s TO %s%s%s', p.policyname,
                      p.tablename, p.permissive, p.cmd, array_to_string(p.roles, ', '),
                      ' USING (' || p.qual || ')', ' WITH CHECK (' || p.with_check || ')')
        FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename IN ('calls', 'call_legs')
        UNION ALL
        SELECT format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', c.relname)
        FROM pg_class c WHERE c.oid IN ('calls'::regclass, 'call_legs'::regclass)
          AND c.relrowsecurity
        UNION ALL
        SELECT format('COMMENT ON TABLE %I IS %L', c.relname, obj_description(c.oid, 'pg_class'))
        FROM pg_class c WHERE c.oid IN ('calls'::regclass, 'call_legs'::regclass)
          AND obj_description(c.oid, 'pg_class') IS NOT NULL
    LOOP
        defs := defs || saved.def;
    END LOOP;
    -- Foreign keys naming a call: they will name its key.
    FOR saved IN
        SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.confrelid = 'calls'::regclass AND c.contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', saved.tbl, saved.conname);
        fk_in := fk_in || format('ALTER TABLE %I ADD CONSTRAINT %I %s', saved.tbl,
                                 saved.conname,
                                 regexp_replace(saved.def, 'REFERENCES (public\.)?calls\(',
                                                'REFERENCES call_keys('));
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = 'call_legs'::regclass) THEN
        RAISE EXCEPTION 'a foreign key names call_legs: 0025 does not know how to keep it';
    END IF;

    ALTER TABLE calls DROP CONSTRAINT one_call_record_per_caller_channel;
    INSERT INTO call_keys (id, started_at, caller_channel)
        SELECT id, started_at, caller_channel FROM calls;
    ALTER TABLE call_keys ADD CONSTRAINT one_call_record_per_caller_channel
        UNIQUE (caller_channel);

    ALTER TABLE calls RENAME TO calls_unpartitioned;
    ALTER TABLE call_legs RENAME TO call_legs_unpartitioned;
    CREATE TABLE calls (LIKE calls_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                        INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)
        PARTITION BY RANGE (started_at);
    CREATE TABLE call_legs (LIKE call_legs_unpartitioned INCLUDING DEFAULTS
                            INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE
                            INCLUDING COMMENTS,
                            call_started_at timestamptz(3) NOT NULL)
        PARTITION BY RANGE (call_started_at);
    CREATE TABLE calls_default PARTITION OF calls DEFAULT;
    CREATE TABLE call_legs_default PARTITION OF call_legs DEFAULT;

    -- Every month with calls, and this one and three ahead.
    SELECT array_agg(DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC')::date)
    INTO months FROM calls_unpartitioned;
    FOR saved IN SELECT unnest(coalesce(months, ARRAY[]::date[])) AS m LOOP
        PERFORM history_add_month('calls', saved.m);
        PERFORM history_add_month('call_legs', saved.m);
    END LOOP;
    PERFORM history_prepare_months(3);

    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute
    WHERE attrelid = 'calls_unpartitioned'::regclass AND attnum > 0 AND NOT attisdropped
      AND attgenerated = '';
    EXECUTE format('INSERT INTO calls (%s) SELECT %s FROM calls_unpartitioned', cols, cols);
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum),
           string_agg('l.' || quote_ident(attname), ', ' ORDER BY attnum) INTO cols, def
    FROM pg_attribute
    WHERE attrelid = 'call_legs_unpartitioned'::regclass AND attnum > 0 AND NOT attisdropped
      AND attgenerated = '';
    EXECUTE format('INSERT INTO call_legs (%s, call_started_at) SELECT %s, k.started_at '
                   'FROM call_legs_unpartitioned l JOIN call_keys k ON k.id = l.call_id',
                   cols, def);
    IF (SELECT count(*) FROM call_legs) <> (SELECT count(*) FROM call_legs_unpartitioned) THEN
        RAISE EXCEPTION 'call_legs: a ring attempt has no call; nothing was changed';
    END IF;

    DROP TABLE call_legs_unpartitioned;
    DROP TABLE calls_unpartitioned;

    ALTER TABLE calls ADD CONSTRAINT calls_pkey PRIMARY KEY (id, started_at);
    ALTER TABLE call_legs ADD CONSTRAINT call_legs_pkey PRIMARY KEY (id, call_started_at);
    FOREACH def IN ARRAY defs || fk_in LOOP  -- call_legs' own call_id key is among fk_in
        EXECUTE def;
    END LOOP;
END $$;

CREATE TRIGGER calls_keep_key BEFORE INSERT ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_keep_key();
COMMENT ON COLUMN call_legs.call_started_at IS
    'When the leg''s call started (calls.started_at): the month the leg is kept and purged with.';

-- The record triggers that read a leg's call name its month (one partition).
CREATE OR REPLACE FUNCTION notify_leg_ringing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT hotline_id, caller INTO c FROM calls
    WHERE id = NEW.call_id AND started_at = NEW.call_started_at;
    IF c.hotline_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM notify_targets WHERE hotline_id = c.hotline_id AND enabled
                   AND 'call.ringing' = ANY (events)) THEN
        PERFORM notify_enqueue(c.hotline_id, 'call.ringing', 'call.ringing:' || NEW.id,
                               NEW.call_id, NEW.id, c.caller, NULL, NEW.dial_started_at,
                               interval '30 seconds');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION call_legs_count_misses() RETURNS trigger LANGUAGE plpgsql AS $$
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
    LEFT JOIN calls c ON c.id = NEW.call_id AND c.started_at = NEW.call_started_at
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
