-- Privileges, re-applied after every migration run (idempotent).
--
--   hotline_router_daemon  what `hotline-router run` needs: read everything,
--                          write busy state, call records, charges and the
--                          notification outbox (sending it); it can
--                          neither change configuration nor delete records,
--                          nor write money in (only charges reach the ledger),
--                          nor change a closed call (0012_guards.sql).
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

-- Nobody but the owner creates objects in the schema (PostgreSQL before 15
-- let every role do it: a login could shadow a function the others call).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO hotline_router_daemon, hotline_router_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO hotline_router_daemon, hotline_router_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO hotline_router_daemon, hotline_router_admin;

-- The daemon: busy state, records, rating.
GRANT UPDATE ON phone_state TO hotline_router_daemon;
-- UPDATE on claims and calls: a router adopts the calls of one that died.
GRANT INSERT, UPDATE, DELETE ON phone_claims TO hotline_router_daemon;
-- Claims written back after an outage that would exceed capacity (0014).
GRANT INSERT ON claim_conflicts TO hotline_router_daemon;
GRANT INSERT, UPDATE ON hotline_state TO hotline_router_daemon;
GRANT INSERT, UPDATE ON calls, call_legs TO hotline_router_daemon;
GRANT INSERT ON ledger TO hotline_router_daemon;
GRANT INSERT, DELETE ON rating_queue TO hotline_router_daemon;
GRANT INSERT, UPDATE ON routers TO hotline_router_daemon;
-- Notifications (0017): the record triggers enqueue as the writing role; the
-- dispatcher marks rows sent, retried or dead. Targets are configuration.
GRANT INSERT, UPDATE, DELETE ON notification_outbox TO hotline_router_daemon;  -- DELETE: old sent rows
-- Recordings (0018): a row when a file is complete; purged_at when the purge deleted it.
GRANT INSERT, UPDATE (purged_at) ON recordings TO hotline_router_daemon;
-- The hold queue's waiters (0019).
GRANT INSERT, UPDATE, DELETE ON queue_waiters TO hotline_router_daemon;

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
GRANT INSERT, UPDATE, DELETE ON local_contexts TO hotline_router_admin;  -- `local-context` (0012)
-- Notification targets, and `notifications retry` of dead rows (0017). INSERT on
-- the outbox: an adjustment that takes a balance below its threshold enqueues.
GRANT INSERT, UPDATE, DELETE ON notify_targets TO hotline_router_admin;
GRANT INSERT, UPDATE ON notification_outbox TO hotline_router_admin;
-- Presence (0020): sign in, sign out, pause and resume (set_presence()); every
-- change is logged by a trigger as the changing role. The daemon changes it
-- for feature codes dialled on a phone and for auto-pause.
GRANT UPDATE (presence, presence_reason) ON phone_state TO hotline_router_admin;
GRANT INSERT ON presence_history TO hotline_router_daemon, hotline_router_admin;
-- `recordings purge`: it marks what it deleted (0018) and first gives a row to files
-- left without one (router/recordings/orphans.py).
GRANT INSERT, UPDATE (purged_at) ON recordings TO hotline_router_admin;

-- The web console and API (0011). The web process logs in as a member of
-- hotline_router_web, which by itself may only look tokens up; for each
-- request it switches (SET LOCAL ROLE) to the token's scope:
--   operator -> hotline_router_admin (everything the admin CLI may do);
--   customer -> hotline_router_customer (its own hotlines: row-level security).
-- NOINHERIT: the login gets neither scope's rights without switching.
-- Create its login as: CREATE ROLE web LOGIN PASSWORD '…' IN ROLE hotline_router_web;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_customer') THEN
        CREATE ROLE hotline_router_customer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline_router_web') THEN
        CREATE ROLE hotline_router_web NOLOGIN NOINHERIT;
    END IF;
END $$;
GRANT hotline_router_admin, hotline_router_customer TO hotline_router_web;
GRANT USAGE ON SCHEMA public TO hotline_router_web, hotline_router_customer;
GRANT SELECT, UPDATE (last_used_at) ON api_tokens TO hotline_router_web;
GRANT SELECT (id, name) ON customers TO hotline_router_web;
GRANT SELECT ON schema_migrations TO hotline_router_web;  -- `web` checks it is migrated
GRANT INSERT, UPDATE, DELETE ON customers, api_tokens TO hotline_router_admin;  -- `customer`, `token`
-- A customer reads its hotlines, their phones, calls, plans and bills...
GRANT SELECT ON hotlines, bound_phones, phones, phone_state, calls, call_legs, plan_settings,
    phone_groups, group_members, caller_lists, schedules, schedule_windows, voice_menus,
    menu_keys, plan_rules, hotline_billing, tariffs, packages, ledger, customers, calendar_days
    TO hotline_router_customer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO hotline_router_customer;
-- ...and makes the everyday edits: answering rule, phone order/weight/on-off, plans, hours.
-- Not the number, its owner, its phones' dial strings, tariffs or money.
-- Not where overflow forwards to either: a dial string, as a phone's is (it
-- could send calls out through the operator's trunk at the operator's cost).
-- Screening, whisper, ringback and the caller id shown are everyday edits (0013).
GRANT UPDATE (name, strategy, strategy_options, ring_timeout_s, total_timeout_s, max_attempts,
              overflow, overflow_max_wait_s, confirm_key, confirm_timeout_s, confirm_prompt,
              whisper_sound, ringback_sound, caller_id_shown, caller_id_prefix)
    ON hotlines TO hotline_router_customer;
REVOKE UPDATE (overflow_forward_to) ON hotlines FROM hotline_router_customer;
GRANT UPDATE (position, weight, enabled, confirm_key) ON bound_phones TO hotline_router_customer;
GRANT INSERT, UPDATE, DELETE ON plan_settings, phone_groups, group_members, caller_lists,
    schedules, schedule_windows, voice_menus, menu_keys, plan_rules TO hotline_router_customer;

-- Call history by month (0025): a call's key is written by the trigger on its
-- insert, as the writing role. Partitions are made (every hour, by each router)
-- and dropped (the retention purge, an admin's act) by functions that run as
-- the tables' owner; nobody else may call them.
GRANT INSERT ON call_keys TO hotline_router_daemon;
-- A statement of a purged month still dates its charged calls: a customer reads
-- a call's start by the id its own ledger names (no caller, no hotline here).
GRANT SELECT (id, started_at) ON call_keys TO hotline_router_customer;
GRANT EXECUTE ON FUNCTION history_prepare_months(integer)
    TO hotline_router_daemon, hotline_router_admin;
GRANT EXECUTE ON FUNCTION history_purge(integer, timestamptz) TO hotline_router_admin;
