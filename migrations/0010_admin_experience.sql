-- Caller ids as delivered, and group weights that follow the binding.

-- A caller id that carried control or format characters (CR LF forging a row
-- of a listing, ESC steering a terminal) is stored cleaned in calls.caller
-- (escaped, e.g. '\x0d\x0a') and as delivered here, for forensics. NULL: the
-- caller id was clean, calls.caller is what arrived.
ALTER TABLE calls ADD COLUMN caller_raw text;
COMMENT ON COLUMN calls.caller_raw IS
    'The caller id exactly as delivered, when it had to be cleaned for calls.caller; else NULL.';

-- Calls recorded before this migration: clean them the same way (control
-- characters, C1 and the format characters that reorder a line, escaped as
-- \xNN or \uNNNN), keeping what arrived in caller_raw.
UPDATE calls SET caller_raw = caller, caller = (
    SELECT string_agg(CASE WHEN ch ~ '[[:cntrl:]]'
                            OR ch ~ '[\u0080-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]'
                           THEN CASE WHEN ascii(ch) < 256
                                     THEN '\x' || lpad(to_hex(ascii(ch)), 2, '0')
                                     ELSE '\u' || lpad(to_hex(ascii(ch)), 4, '0') END
                           ELSE ch END, '' ORDER BY n)
    FROM regexp_split_to_table(caller, '') WITH ORDINALITY AS c(ch, n))
WHERE caller ~ '[[:cntrl:]]'
   OR caller ~ '[\u0080-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]';

-- A group member's weight for the weighted rule: NULL follows the phone's
-- binding (bound_phones.weight), so one weight serves the hotline's own rule
-- and its groups; a number is the group's own share. 1 was the default every
-- member got without asking: those follow the binding from now on.
ALTER TABLE group_members ALTER COLUMN weight DROP NOT NULL,
                          ALTER COLUMN weight DROP DEFAULT;
UPDATE group_members SET weight = NULL WHERE weight = 1;
COMMENT ON COLUMN group_members.weight IS
    'Share for the weighted rule within the group; NULL: the binding''s weight (bound_phones.weight).';
