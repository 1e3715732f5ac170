-- Privileges, re-applied after every migration run (idempotent).
--
--   hotline_router_daemon  what `hotline-router run` needs: read everything,
--                          write busy state, call records and charges; it can
--                          neither change configuration nor delete records.
--   hotline_router_admin   what the admin CLI needs: edit configuration, read
--                          records, top up; no schema changes.
--
-- Grant a login role one of them: CREATE ROLE router LOGIN PASSWORD '…'
-- IN ROLE hotline_router_daemon;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_daemon') THEN
        CREATE ROLE hotline_router_daemon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_admin') THEN
        CREATE ROLE hotline_router_admin NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO hotline_router_daemon, hotline_router_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO hotline_router_daemon, hotline_router_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO hotline_router_daemon, hotline_router_admin;

-- The daemon: busy state, records, rating.
GRANT UPDATE ON phone_state TO hotline_router_daemon;
-- UPDATE on claims and calls: a router adopts the calls of one that died.
GRANT INSERT, UPDATE, DELETE ON phone_claims TO hotline_router_daemon;
GRANT INSERT, UPDATE ON hotline_state TO hotline_router_daemon;
GRANT INSERT, UPDATE ON calls, call_legs TO hotline_router_daemon;
GRANT INSERT ON ledger TO hotline_router_daemon;
GRANT INSERT, DELETE ON rating_queue TO hotline_router_daemon;
GRANT INSERT, UPDATE ON routers TO hotline_router_daemon;

-- The admin: configuration and money in; never the records.
GRANT INSERT, UPDATE, DELETE ON hotlines, phones, bound_phones, hotline_billing, tariffs, packages
    TO hotline_router_admin;
-- Hotline plans (0005).
GRANT INSERT, UPDATE, DELETE ON plan_settings, phone_groups, group_members, caller_lists,
    schedules, schedule_windows, voice_menus, menu_keys, plan_rules TO hotline_router_admin;
GRANT INSERT, UPDATE, DELETE ON calendar_days TO hotline_router_admin;  -- (0008)
GRANT INSERT ON phone_state TO hotline_router_admin;  -- a new phone's state row (trigger)
GRANT INSERT ON ledger TO hotline_router_admin;       -- top-ups and adjustments
GRANT DELETE ON rating_queue TO hotline_router_admin; -- `billing rate` and `rerate` by hand
GRANT INSERT, UPDATE, DELETE ON number_pool TO hotline_router_admin;  -- `numbers import`
