-- How many erasures have run: the realtime sync rebuilds the live windows when it grows.
--
-- Erasure is SQL and cannot reach Redis, where the live windows (rt:{scope}:recent) kept an erased
-- listener's members until the sync's trim, up to an hour after their last event (an outside
-- audit). The sync now compares this count with the one it last saw and, when it grew, rebuilds
-- every window from Postgres, whose raw events the erasure already deleted
-- (functions/_shared/erased_listeners.ts). A count, not a time: raw_events.erasures only grows, and
-- an erasure whose transaction started before another's but committed after it is still seen.

create function public.erasure_count()
returns bigint
language sql
stable
security invoker
set search_path = ''
as $$
  select count(*) from raw_events.erasures
$$;
comment on function public.erasure_count() is
  'Service role: how many erasures have run (raw_events.erasures only grows); the realtime sync rebuilds its windows when it grows.';
revoke all on function public.erasure_count() from public, anon, authenticated;
grant execute on function public.erasure_count() to service_role;
