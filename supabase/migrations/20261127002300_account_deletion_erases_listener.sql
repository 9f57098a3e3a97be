-- Deleting an account erases its analytics first (outside audit, 2026-11-27, finding 1).
--
-- Raw events keep their user's id with ON DELETE SET NULL (ingest_events relies on the key to
-- store a deleted user's still-valid token's events without the user). So deleting an account
-- before erasing it left the person's events under no id at all: public.erase_listener(user id)
-- then found nothing, the person's listening history stayed stored, and a recount of a day keyed
-- those events by their anonymous id, counting the person again as a second listener.
--
-- Now a BEFORE DELETE trigger on auth.users runs the erasure for the account's id before the row
-- goes, in the same transaction: the events go (their live counts kept, as for any erasure), the
-- listener rows are anonymised, the fold's copies forgotten, and raw_events.erasures records it
-- (so the realtime sync rebuilds its windows). The foreign key's SET NULL then finds nothing.
-- Whoever deletes the account (GoTrue's admin API, the dashboard, SQL) gets the same.
--
-- SECURITY DEFINER, written reason: the role that deletes accounts on Supabase
-- (supabase_auth_admin, GoTrue) has no rights on the analytics tables and must not get them; the
-- trigger does one thing, the erasure of the row being deleted, with the owner's rights. A trigger
-- function cannot be called directly, and EXECUTE is revoked besides. This is the pattern Supabase
-- documents for triggers on auth.users, which hosted projects may still create (the function lives
-- outside auth: since April 2025 hosted refuses new functions in the auth schema).
--
-- Cost: the erasure scans raw events for the id (as the foreign key's SET NULL already does, one
-- partition at a time), about 70 ms at 90k raw events. Soft deletes (GoTrue's deleted_at) keep the
-- row and are not erasures: call public.erase_listener for them.

create function raw_events.erase_deleted_account()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.erase_listener(p_user_id => old.id);
  return old;
end;
$$;
comment on function raw_events.erase_deleted_account() is
  'BEFORE DELETE on auth.users: erases the account''s analytics (public.erase_listener) before the row goes. '
  'SECURITY DEFINER: the role deleting accounts (GoTrue) has no rights on analytics tables.';
revoke all on function raw_events.erase_deleted_account() from public, anon, authenticated, service_role;

create trigger erase_analytics_of_deleted_account
  before delete on auth.users
  for each row execute function raw_events.erase_deleted_account();
