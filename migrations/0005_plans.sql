-- Hotline plans: phone groups, caller lists, schedules, voice menus, plan
-- rules, per-hotline announcements, and what the plan decided for each call.
--
-- A hotline without plan rules routes as before: its own strategy over all its
-- bound phones. Rules are tried in order (position, then id); the first whose
-- conditions all hold decides. Every table here is configuration: it NOTIFYs
-- the routers, who reload within a second.

-- Per-hotline plan settings; a hotline without a row gets these defaults
-- (router/plan.py holds the same defaults for an unknown number). Sounds are
-- Asterisk sound names, several joined by commas, played in order.
CREATE FUNCTION is_sound_list(sounds text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    -- No dots: a sound name never climbs out of Asterisk's sounds directory.
    SELECT sounds ~ '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*(,[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*)*$'
           AND length(sounds) <= 500
$$;

CREATE TABLE plan_settings (
    hotline_id           bigint PRIMARY KEY REFERENCES hotlines (id) ON DELETE CASCADE,
    time_zone            text NOT NULL DEFAULT 'Asia/Shanghai',
    greeting_sound       text,
    closed_sound         text NOT NULL DEFAULT 'please-try-call-later',
    refused_sound        text NOT NULL DEFAULT 'cannot-complete-as-dialed',
    busy_sound           text NOT NULL DEFAULT 'all-circuits-busy-now',
    not_in_service_sound text NOT NULL DEFAULT 'ss-noservice',
    landline_only_sound  text NOT NULL DEFAULT 'feature-not-avail-line',
    CONSTRAINT plan_time_zone_must_be_a_known_zone CHECK (is_time_zone(time_zone)),
    CONSTRAINT announcement_must_be_sound_names_separated_by_commas CHECK (
        (greeting_sound IS NULL OR is_sound_list(greeting_sound))
        AND is_sound_list(closed_sound) AND is_sound_list(refused_sound)
        AND is_sound_list(busy_sound) AND is_sound_list(not_in_service_sound)
        AND is_sound_list(landline_only_sound))
);
COMMENT ON TABLE plan_settings IS
    'Time zone of a hotline''s schedules, its greeting, and its announcements.';

-- Phone groups: some of a hotline's bound phones with their own answering rule.
CREATE TABLE phone_groups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id       bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    name             text NOT NULL,
    strategy         text NOT NULL DEFAULT 'sequential',
    strategy_options jsonb NOT NULL DEFAULT '{}',
    enabled          boolean NOT NULL DEFAULT true,
    CONSTRAINT group_name_is_already_used_by_this_hotline UNIQUE (hotline_id, name),
    CONSTRAINT phone_groups_id_hotline UNIQUE (id, hotline_id),
    CONSTRAINT group_name_must_be_1_to_40_letters_digits_dashes
        CHECK (name ~ '^[A-Za-z0-9_-]{1,40}$'),
    CONSTRAINT group_strategy_must_be_a_lowercase_name
        CHECK (strategy ~ '^[a-z][a-z0-9_]{0,62}$')
);
COMMENT ON TABLE phone_groups IS 'Phones of a hotline that a plan routes to, with their own rule.';

CREATE FUNCTION phone_groups_check_strategy_options() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    problem text := strategy_options_problem(NEW.strategy, NEW.strategy_options);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'group %: %', NEW.name, problem USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER phone_groups_check_strategy_options BEFORE INSERT OR UPDATE ON phone_groups
    FOR EACH ROW EXECUTE FUNCTION phone_groups_check_strategy_options();

-- hotline_id is copied from the group by a trigger, so psql users give only
-- group_id and phone_id; it lets the foreign key demand a bound phone.
CREATE TABLE group_members (
    group_id   bigint NOT NULL,
    hotline_id bigint NOT NULL,
    phone_id   bigint NOT NULL,
    position   integer NOT NULL DEFAULT 1,
    weight     integer NOT NULL DEFAULT 1,
    CONSTRAINT phone_is_already_a_member_of_this_group PRIMARY KEY (group_id, phone_id),
    CONSTRAINT group_members_group FOREIGN KEY (group_id, hotline_id)
        REFERENCES phone_groups (id, hotline_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT group_member_must_be_a_phone_bound_to_the_groups_hotline
        FOREIGN KEY (hotline_id, phone_id) REFERENCES bound_phones (hotline_id, phone_id)
        ON DELETE CASCADE,
    CONSTRAINT group_member_position_must_be_positive CHECK (position >= 1),
    CONSTRAINT group_member_weight_must_be_0_to_100 CHECK (weight BETWEEN 0 AND 100)
);
CREATE INDEX group_members_by_binding ON group_members (hotline_id, phone_id);
COMMENT ON TABLE group_members IS 'Bound phones in a group, in the group''s own order and weights.';

CREATE FUNCTION copy_hotline_of_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT hotline_id INTO NEW.hotline_id FROM phone_groups WHERE id = NEW.group_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no group with id %', NEW.group_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER group_members_copy_hotline BEFORE INSERT OR UPDATE OF group_id ON group_members
    FOR EACH ROW EXECUTE FUNCTION copy_hotline_of_group();

-- Caller lists, per hotline or global (hotline_id NULL). 'blacklist' refuses
-- the caller before any rule, unless the hotline's own 'whitelist' names them;
-- any list (whitelist, vip, …) can be a rule's condition.
CREATE TABLE caller_lists (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id bigint REFERENCES hotlines (id) ON DELETE CASCADE,
    list       text NOT NULL,
    match      text NOT NULL DEFAULT 'exact',
    value      text NOT NULL,
    note       text NOT NULL DEFAULT '',
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT caller_list_name_must_be_a_lowercase_name CHECK (list ~ '^[a-z][a-z0-9_-]{0,39}$'),
    CONSTRAINT caller_list_match_must_be_exact_prefix_or_area_code
        CHECK (match IN ('exact', 'prefix', 'area-code')),
    CONSTRAINT caller_list_number_or_prefix_must_be_1_to_20_digits
        CHECK (match = 'area-code' OR value ~ '^[0-9]{1,20}$'),
    CONSTRAINT caller_list_area_code_must_be_0_then_2_or_3_digits
        CHECK (match <> 'area-code' OR value ~ '^0[1-9][0-9]{1,2}$')
);
CREATE UNIQUE INDEX caller_is_already_on_this_list
    ON caller_lists (coalesce(hotline_id, 0), list, match, value);
COMMENT ON TABLE caller_lists IS
    'Callers by exact number, prefix or area code; hotline_id NULL: every hotline.';

-- Business hours. Each date is one day key: a public holiday is 'holiday', a
-- make-up workday (调休) takes the hours of makeup_workday_as, other dates
-- their weekday. The schedule is open while a window of that key covers the
-- time of day in the hotline's time zone, unless overridden.
CREATE TABLE schedules (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id         bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    name               text NOT NULL,
    observe_holidays   boolean NOT NULL DEFAULT true,
    makeup_workday_as  text NOT NULL DEFAULT 'mon',
    override           text,
    override_until     timestamptz(3),
    CONSTRAINT schedule_name_is_already_used_by_this_hotline UNIQUE (hotline_id, name),
    CONSTRAINT schedules_id_hotline UNIQUE (id, hotline_id),
    CONSTRAINT schedule_name_must_be_1_to_40_letters_digits_dashes
        CHECK (name ~ '^[A-Za-z0-9_-]{1,40}$'),
    CONSTRAINT schedule_makeup_workday_must_be_mon_to_fri
        CHECK (makeup_workday_as IN ('mon', 'tue', 'wed', 'thu', 'fri')),
    CONSTRAINT schedule_override_must_be_open_or_closed CHECK (override IN ('open', 'closed')),
    CONSTRAINT schedule_override_until_needs_an_override
        CHECK (override_until IS NULL OR override IS NOT NULL)
);
COMMENT ON COLUMN schedules.override IS
    'open or closed: "open now" / "closed now", whatever the hours say, until override_until '
    '(NULL: until cleared).';

CREATE TABLE schedule_windows (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    days        text[] NOT NULL,
    opens       time(0) NOT NULL,
    closes      time(0) NOT NULL,
    CONSTRAINT window_days_must_be_mon_to_sun_or_holiday CHECK (
        cardinality(days) >= 1
        AND days <@ ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'holiday']),
    CONSTRAINT window_must_close_after_it_opens CHECK (closes > opens)
);
CREATE INDEX schedule_windows_by_schedule ON schedule_windows (schedule_id);
COMMENT ON TABLE schedule_windows IS
    'Opening hours: on these day keys from opens until closes (24:00 is the end of the day).';

-- Voice menus (语音导航): a prompt, then a key per choice. Menus nest at most
-- 5 levels, and never lead back to themselves.
CREATE TABLE voice_menus (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id       bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    name             text NOT NULL,
    prompt           text NOT NULL,
    timeout_s        integer NOT NULL DEFAULT 5,
    attempts         integer NOT NULL DEFAULT 3,
    invalid_sound    text NOT NULL DEFAULT 'pbx-invalid',
    default_group_id bigint,
    CONSTRAINT menu_name_is_already_used_by_this_hotline UNIQUE (hotline_id, name),
    CONSTRAINT voice_menus_id_hotline UNIQUE (id, hotline_id),
    CONSTRAINT menu_name_must_be_1_to_40_letters_digits_dashes
        CHECK (name ~ '^[A-Za-z0-9_-]{1,40}$'),
    CONSTRAINT menu_prompt_must_be_sound_names_separated_by_commas
        CHECK (is_sound_list(prompt) AND is_sound_list(invalid_sound)),
    CONSTRAINT menu_timeout_must_be_1_to_60_seconds CHECK (timeout_s BETWEEN 1 AND 60),
    CONSTRAINT menu_attempts_must_be_1_to_10 CHECK (attempts BETWEEN 1 AND 10),
    CONSTRAINT group_is_the_default_of_a_voice_menu FOREIGN KEY (default_group_id, hotline_id)
        REFERENCES phone_groups (id, hotline_id)
);
COMMENT ON COLUMN voice_menus.attempts IS
    'Prompts played before giving up on a key (invalid key or no input); then default_group_id, '
    'or the hotline''s own phones when it is NULL.';

CREATE TABLE menu_keys (
    menu_id    bigint NOT NULL,
    hotline_id bigint NOT NULL,
    key        text NOT NULL,
    action     text NOT NULL,
    group_id   bigint,
    submenu_id bigint,
    CONSTRAINT key_is_already_used_in_this_menu PRIMARY KEY (menu_id, key),
    CONSTRAINT menu_keys_menu FOREIGN KEY (menu_id, hotline_id)
        REFERENCES voice_menus (id, hotline_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT group_is_used_by_a_menu_key FOREIGN KEY (group_id, hotline_id)
        REFERENCES phone_groups (id, hotline_id),
    CONSTRAINT menu_is_a_submenu_of_another_menu FOREIGN KEY (submenu_id, hotline_id)
        REFERENCES voice_menus (id, hotline_id),
    CONSTRAINT menu_key_must_be_a_digit_star_or_hash CHECK (key ~ '^[0-9*#]$'),
    CONSTRAINT menu_key_action_must_be_group_submenu_repeat_or_back
        CHECK (action IN ('group', 'submenu', 'repeat', 'back')),
    CONSTRAINT menu_key_group_action_needs_a_group_and_only_it
        CHECK ((action = 'group') = (group_id IS NOT NULL)),
    CONSTRAINT menu_key_submenu_action_needs_a_submenu_and_only_it
        CHECK ((action = 'submenu') = (submenu_id IS NOT NULL)),
    CONSTRAINT menu_cannot_be_its_own_submenu CHECK (submenu_id <> menu_id)
);
CREATE INDEX menu_keys_by_group ON menu_keys (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX menu_keys_by_submenu ON menu_keys (submenu_id) WHERE submenu_id IS NOT NULL;

CREATE FUNCTION copy_hotline_of_menu() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT hotline_id INTO NEW.hotline_id FROM voice_menus WHERE id = NEW.menu_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no voice menu with id %', NEW.menu_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER menu_keys_copy_hotline BEFORE INSERT OR UPDATE OF menu_id ON menu_keys
    FOR EACH ROW EXECUTE FUNCTION copy_hotline_of_menu();

-- Depth and cycles: the longest chain of menus through the new key (menus
-- above it, this one, and below its submenu) must be at most 5, and the
-- submenu must not reach back to this menu. The walks stop at 10 levels.
CREATE FUNCTION menu_keys_check_nesting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    above integer;
    below integer;
    loops boolean;
BEGIN
    IF NEW.submenu_id IS NULL THEN
        RETURN NEW;
    END IF;
    WITH RECURSIVE up (id, depth) AS (
        SELECT NEW.menu_id, 1
        UNION ALL
        SELECT k.menu_id, up.depth + 1 FROM menu_keys k JOIN up ON k.submenu_id = up.id
        WHERE up.depth < 10 AND NOT (k.menu_id = NEW.menu_id AND k.key = NEW.key))
    SELECT max(depth) INTO above FROM up;
    WITH RECURSIVE down (id, depth) AS (
        SELECT NEW.submenu_id, 1
        UNION ALL
        SELECT k.submenu_id, down.depth + 1 FROM menu_keys k JOIN down ON k.menu_id = down.id
        WHERE k.submenu_id IS NOT NULL AND down.depth < 10
          AND NOT (k.menu_id = NEW.menu_id AND k.key = NEW.key))
    SELECT max(depth), bool_or(id = NEW.menu_id) INTO below, loops FROM down;
    IF loops THEN
        RAISE EXCEPTION 'a voice menu cannot lead back to itself' USING ERRCODE = 'check_violation';
    END IF;
    IF above + below > 5 THEN
        RAISE EXCEPTION 'voice menus nest at most 5 levels (this key would make %)', above + below
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER menu_keys_check_nesting BEFORE INSERT OR UPDATE ON menu_keys
    FOR EACH ROW EXECUTE FUNCTION menu_keys_check_nesting();

-- Plan rules: conditions (all given must hold; none: always) and an action.
CREATE TABLE plan_rules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hotline_id     bigint NOT NULL REFERENCES hotlines (id) ON DELETE CASCADE,
    position       integer NOT NULL,
    name           text NOT NULL DEFAULT '',
    caller_list    text,
    caller_region  text,
    schedule_id    bigint,
    schedule_is    text,
    action         text NOT NULL,
    group_id       bigint,
    menu_id        bigint,
    enabled        boolean NOT NULL DEFAULT true,
    CONSTRAINT rule_position_must_be_positive CHECK (position >= 1),
    CONSTRAINT rule_caller_list_must_be_a_lowercase_name
        CHECK (caller_list ~ '^[a-z][a-z0-9_-]{0,39}$'),
    CONSTRAINT rule_caller_region_must_be_a_province_city_or_area_code
        CHECK (length(caller_region) BETWEEN 2 AND 40 AND caller_region !~ '[,;]'),
    CONSTRAINT rule_schedule_needs_open_or_closed
        CHECK ((schedule_id IS NULL) = (schedule_is IS NULL) AND schedule_is IN ('open', 'closed')),
    CONSTRAINT rule_action_must_be_group_menu_closed_or_refuse
        CHECK (action IN ('group', 'menu', 'closed', 'refuse')),
    CONSTRAINT rule_group_action_needs_a_group_and_only_it
        CHECK ((action = 'group') = (group_id IS NOT NULL)),
    CONSTRAINT rule_menu_action_needs_a_menu_and_only_it
        CHECK ((action = 'menu') = (menu_id IS NOT NULL)),
    CONSTRAINT schedule_is_used_by_a_plan_rule FOREIGN KEY (schedule_id, hotline_id)
        REFERENCES schedules (id, hotline_id),
    CONSTRAINT group_is_used_by_a_plan_rule FOREIGN KEY (group_id, hotline_id)
        REFERENCES phone_groups (id, hotline_id),
    CONSTRAINT menu_is_used_by_a_plan_rule FOREIGN KEY (menu_id, hotline_id)
        REFERENCES voice_menus (id, hotline_id)
);
CREATE INDEX plan_rules_by_hotline ON plan_rules (hotline_id, position, id);
COMMENT ON TABLE plan_rules IS
    'A hotline''s plan, tried in order (position, id): the first rule whose conditions all hold '
    'decides. No rule matches (or none exist): the hotline''s own phones and strategy.';

-- What the plan decided, so an admin can see why a call went where it went.
ALTER TABLE calls
    ADD COLUMN plan_result   text,
    ADD COLUMN plan_reason   text,
    ADD COLUMN plan_rule_id  bigint,
    ADD COLUMN plan_group    text,
    ADD COLUMN menu_keys     text,
    ADD COLUMN caller_region text,
    ADD CONSTRAINT call_plan_result_is_known CHECK (plan_result IN (
        'default', 'group', 'menu', 'closed', 'refused', 'blacklisted', 'mobile-on-800'));
COMMENT ON COLUMN calls.plan_result IS
    'default (no rule matched), group, menu (the caller left in it), closed, refused (a rule), '
    'blacklisted, mobile-on-800.';
COMMENT ON COLUMN calls.plan_reason IS 'The step or rule that decided, in words.';
COMMENT ON COLUMN calls.menu_keys IS 'Voice menu keys the caller pressed, in order.';

-- New outcomes, extending whatever the list holds by now (as 0003 does).
DO $$
DECLARE
    allowed text[];
    outcome text;
BEGIN
    SELECT array_agg(m[1]) INTO allowed
    FROM pg_constraint c,
         regexp_matches(pg_get_constraintdef(c.oid), '''([^'']+)''', 'g') AS m
    WHERE c.conrelid = 'calls'::regclass AND c.conname = 'call_outcome_is_known';
    FOREACH outcome IN ARRAY ARRAY['refused', 'closed', 'mobile-on-800'] LOOP
        IF NOT outcome = ANY (allowed) THEN
            allowed := allowed || outcome;
        END IF;
    END LOOP;
    ALTER TABLE calls DROP CONSTRAINT call_outcome_is_known;
    EXECUTE format('ALTER TABLE calls ADD CONSTRAINT call_outcome_is_known CHECK (outcome IN (%s))',
                   (SELECT string_agg(quote_literal(a), ', ') FROM unnest(allowed) AS a));
END $$;

-- Deleting a hotline's binding also takes the phone out of its groups (FK
-- cascade above); deleting a group, schedule or menu that a rule, key or menu
-- still uses is refused with the constraint's sentence.

CREATE TRIGGER plan_settings_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plan_settings
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER phone_groups_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON phone_groups
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER group_members_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER caller_lists_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON caller_lists
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER schedules_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER schedule_windows_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON schedule_windows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER voice_menus_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON voice_menus
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER menu_keys_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON menu_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
CREATE TRIGGER plan_rules_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plan_rules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
