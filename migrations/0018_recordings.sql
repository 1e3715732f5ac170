-- Call recording (通话录音): which answered calls a hotline records, and the
-- recordings Asterisk keeps for it.
--
-- Asterisk records the call's bridge (ARI POST /bridges/{id}/record) into its
-- own storage, named after the call; the router writes a row here once the
-- file is complete (through the call's records, so a database outage spools
-- it), and purges files older than the hotline's retention through ARI
-- (DELETE /recordings/stored/{name}), marking the row purged.

ALTER TABLE hotlines
    ADD COLUMN record_percent integer NOT NULL DEFAULT 0,
    ADD COLUMN record_format text NOT NULL DEFAULT 'wav',
    ADD COLUMN record_notice text,
    ADD COLUMN record_retention_days integer NOT NULL DEFAULT 30,
    ADD CONSTRAINT hotline_record_percent_must_be_0_to_100
        CHECK (record_percent BETWEEN 0 AND 100),
    ADD CONSTRAINT hotline_record_format_must_be_wav_gsm_ulaw_alaw_or_sln
        CHECK (record_format IN ('wav', 'gsm', 'ulaw', 'alaw', 'sln')),
    ADD CONSTRAINT hotline_record_notice_must_be_sound_names_separated_by_commas
        CHECK (record_notice IS NULL OR is_sound_list(record_notice)),
    ADD CONSTRAINT hotline_record_retention_must_be_1_to_3650_days
        CHECK (record_retention_days BETWEEN 1 AND 3650);
COMMENT ON COLUMN hotlines.record_percent IS
    'Share of answered calls recorded, in percent: 0 none, 100 every one.';
COMMENT ON COLUMN hotlines.record_format IS
    'File format Asterisk records in (wav: 8 kHz 16-bit PCM with a header).';
COMMENT ON COLUMN hotlines.record_notice IS
    'Sounds the caller hears before phones ring ("this call may be recorded"), as early '
    'media: the caller is not answered for it, so it is never billed.';
COMMENT ON COLUMN hotlines.record_retention_days IS
    'Days a recording is kept before the purge deletes its file.';

CREATE TABLE recordings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     uuid NOT NULL REFERENCES calls (id),
    kind        text NOT NULL DEFAULT 'call',
    name        text NOT NULL,
    format      text NOT NULL,
    asterisk    text NOT NULL,
    started_at  timestamptz(3) NOT NULL,
    duration_ms integer NOT NULL,
    size_bytes  bigint NOT NULL,
    purged_at   timestamptz(3),
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT recording_name_is_unique_per_asterisk UNIQUE (asterisk, name),
    CONSTRAINT recording_kind_must_be_call_or_voicemail CHECK (kind IN ('call', 'voicemail')),
    CONSTRAINT recording_name_must_be_letters_digits_dash_or_underscore
        CHECK (name ~ '^[A-Za-z0-9_-]{1,128}$'),
    CONSTRAINT recording_format_must_be_wav_gsm_ulaw_alaw_or_sln
        CHECK (format IN ('wav', 'gsm', 'ulaw', 'alaw', 'sln')),
    CONSTRAINT recording_duration_cannot_be_negative CHECK (duration_ms >= 0),
    CONSTRAINT recording_size_cannot_be_negative CHECK (size_bytes >= 0),
    CONSTRAINT recording_cannot_be_purged_before_it_started
        CHECK (purged_at IS NULL OR purged_at >= started_at)
);
CREATE INDEX recordings_by_call ON recordings (call_id);
CREATE INDEX recordings_to_purge ON recordings (started_at) WHERE purged_at IS NULL;
COMMENT ON TABLE recordings IS
    'One row per complete recording Asterisk stores: the call, its file (name and format, '
    'in the storage of the Asterisk at ARI address asterisk), when it started, how long '
    'and how big it is, and when its file was purged.';

-- Voicemail (语音留言): a hotline's overflow, or its action when closed, may
-- take a message. The caller is answered (billing starts there, the one rule
-- of docs/billing.md), hears the prompt and a beep, and speaks up to
-- voicemail_max_s seconds; silence or # ends it. The message is a recording
-- of kind voicemail, and a voicemail.left notification goes out.
ALTER TABLE hotlines
    ADD COLUMN closed_action text NOT NULL DEFAULT 'announce',
    ADD COLUMN voicemail_max_s integer NOT NULL DEFAULT 60,
    ADD COLUMN voicemail_prompt text NOT NULL DEFAULT 'vm-intro',
    DROP CONSTRAINT hotline_overflow_must_be_busy_queue_or_forward,
    ADD CONSTRAINT hotline_overflow_must_be_busy_queue_forward_or_voicemail
        CHECK (overflow IN ('busy', 'queue', 'forward', 'voicemail')),
    ADD CONSTRAINT hotline_closed_action_must_be_announce_or_voicemail
        CHECK (closed_action IN ('announce', 'voicemail')),
    ADD CONSTRAINT hotline_voicemail_max_must_be_5_to_600_seconds
        CHECK (voicemail_max_s BETWEEN 5 AND 600),
    ADD CONSTRAINT hotline_voicemail_prompt_must_be_sound_names_separated_by_commas
        CHECK (is_sound_list(voicemail_prompt));
COMMENT ON COLUMN hotlines.closed_action IS
    'When the plan says closed: announce (the closed announcement) or voicemail.';
COMMENT ON COLUMN hotlines.voicemail_max_s IS 'The longest voicemail message, in seconds.';
COMMENT ON COLUMN hotlines.voicemail_prompt IS 'Sounds a caller hears before the beep.';
ALTER TABLE calls
    DROP CONSTRAINT call_overflow_is_known,
    ADD CONSTRAINT call_overflow_is_known
        CHECK (overflow IN ('busy', 'queue', 'forward', 'voicemail'));

INSERT INTO notification_events (event, meaning) VALUES
    ('voicemail.left', 'a caller left a voicemail message (its recording is stored)');

CREATE FUNCTION notify_voicemail_left() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT hotline_id, caller INTO c FROM calls WHERE id = NEW.call_id;
    PERFORM notify_enqueue(c.hotline_id, 'voicemail.left', 'voicemail.left:' || NEW.id,
                           NEW.call_id, NULL, c.caller, NULL, NEW.started_at, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER notify_voicemail_left AFTER INSERT ON recordings
    FOR EACH ROW WHEN (NEW.kind = 'voicemail') EXECUTE FUNCTION notify_voicemail_left();
