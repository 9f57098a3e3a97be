-- anon and authenticated lose TRUNCATE, TRIGGER and REFERENCES on the tables of the exposed schema.
--
-- An outside audit (2026-11-28) listed them: Supabase's default privileges grant every privilege
-- on new public tables to the API roles, so anon and authenticated held TRUNCATE on mashups and
-- follows (RLS does not apply to TRUNCATE) and TRIGGER/REFERENCES on every rollup. No HTTP path
-- issues any of the three today (PostgREST runs no DDL and no TRUNCATE), so nothing was exploitable;
-- they are taken away so that nothing added later can reach them either. What the API roles need
-- stays: SELECT under RLS everywhere, the writes of mashups and follows their policies allow.
-- The default privileges for tables postgres creates in public from now on follow the same rule.

revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
alter default privileges for role postgres in schema public
  revoke truncate, trigger, references on tables from anon, authenticated;
