-- Time zones by tz database name only ("Asia/Shanghai", "UTC").
--
-- PostgreSQL's AT TIME ZONE also takes abbreviations and POSIX strings, which
-- read wrongly for an admin in China: 'CST' is US Central (UTC-6), and 'UTC+8'
-- or '+08' mean UTC-8. Billing would move month boundaries by up to 16 hours
-- without a word, and plans (read with Python's zoneinfo) could not open the
-- zone at all. Rows already stored are not re-checked.
CREATE OR REPLACE FUNCTION is_time_zone(zone text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF zone IS DISTINCT FROM 'UTC' AND zone !~ '^[A-Z][A-Za-z_-]+(/[A-Za-z0-9_+-]+)+$' THEN
        RETURN false;
    END IF;
    PERFORM now() AT TIME ZONE zone;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END $$;
