-- Public holidays and make-up workdays (调休) entered by admins.
--
-- The chinese-calendar package knows the years announced before its release;
-- the State Council announces the next year's days each November or December.
-- A day here overrides the package for that date, so admins can enter a new
-- year (or a local holiday) without waiting for a release.
CREATE TABLE calendar_days (
    day  date PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL DEFAULT '',
    CONSTRAINT calendar_day_must_be_holiday_makeup_workday_or_normal
        CHECK (kind IN ('holiday', 'makeup-workday', 'normal')),
    CONSTRAINT calendar_day_name_must_be_at_most_40_characters CHECK (length(name) <= 40)
);
COMMENT ON TABLE calendar_days IS
    'Holidays and make-up workdays entered by admins; they override chinese-calendar for their date.';

CREATE TRIGGER calendar_days_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config_changed();
