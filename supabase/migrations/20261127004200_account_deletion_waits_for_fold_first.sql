-- An account deletion waits for a running fold before it locks the account's row.
--
-- public.erase_listener takes the aggregation lock (20261127004000), and deleting an account runs it
-- from a row trigger on auth.users (raw_events.erase_deleted_account, 20261127002300), so after the
-- row is locked. A fold that writes that user's user_daily_stats row meanwhile (its foreign key to
-- auth.users waits for the row) while the deletion waits for the fold's lock was a deadlock:
-- PostgreSQL ended one of them, often the deletion (reproduced: `ERROR: deadlock detected` from the
-- trigger). A statement trigger fires before any row is locked: it takes the aggregation lock there,
-- so the deletion waits for the fold first and the fold never waits for the deletion. The row
-- trigger's own erase_listener then finds the lock already held by its transaction.

create function raw_events.lock_aggregation_before_account_deletion()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform aggregation.lock(true);
  return null;
end;
$$;
comment on function raw_events.lock_aggregation_before_account_deletion() is
  'BEFORE DELETE (statement) on auth.users: takes the aggregation lock before any account row is locked, so a '
  'running fold finishes first (see raw_events.erase_deleted_account). SECURITY DEFINER: the role deleting '
  'accounts (GoTrue) has no rights on the aggregation schema.';
revoke all on function raw_events.lock_aggregation_before_account_deletion() from public, anon, authenticated, service_role;

create trigger lock_aggregation_before_account_deletion
  before delete on auth.users
  for each statement execute function raw_events.lock_aggregation_before_account_deletion();
