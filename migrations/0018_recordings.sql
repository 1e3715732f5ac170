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
