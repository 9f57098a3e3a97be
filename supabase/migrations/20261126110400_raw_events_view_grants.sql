-- The raw events view keeps the old table's answer to the API roles (issue 11): anon and
-- authenticated may select and get no row (RLS on the stored table, no policy), as they did from
-- the old table; they write nothing. Reading through a security_invoker view checks the stored
-- table with the caller's rights, so they get USAGE on schema raw_events and SELECT on the stored
-- table only. PostgREST does not expose raw_events, and every other object in it is revoked from
-- them (tests/sql/01_schema_and_rls.test.sql checks every reachable table has RLS).
grant usage on schema raw_events to anon, authenticated;
grant select on raw_events.analytics_events to anon, authenticated;
grant select on public.analytics_events to anon, authenticated;
-- The view's own expressions (pure functions of the row's columns, inlined into it).
grant execute on function raw_events.event_type("char", text), raw_events.client_properties(jsonb, uuid, uuid),
  raw_events.device("char") to anon, authenticated;
