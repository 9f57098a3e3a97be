-- A deleted account's id is left in no table (outside audit, 2026-11-27, finding F5 of the round
-- that made account deletion an erasure).
--
-- After a creator's account was deleted, its id was still in two places:
--   * aggregation.retired_mashup_ids.creator_id, for each of its mashups (kept for good). Nothing
--     reads the column: a retired id is refused for everyone, and the sync reads only ids and
--     times. The column goes, and the retirement records the id alone.
--   * public.realtime_drift.subject_id, for the reconciliation's repairs of its follower count
--     (kept 90 days). The account's deletion now deletes them, as its erasure deletes the counts
--     kept toward it.
-- (Redis's platform set names an active creator as s|{id} until the sync's trim, at most an hour
-- after the creator's last activity: docs/realtime.md.)

create or replace function aggregation.retire_mashup_id()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into aggregation.retired_mashup_ids (id) values (old.id)
  on conflict (id) do nothing;
  return null;
end;
$$;

alter table aggregation.retired_mashup_ids drop column creator_id;

-- As in 20261127002300, and the reconciliation's repairs of the account as a creator go too.
create or replace function raw_events.erase_deleted_account()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.erase_listener(p_user_id => old.id);
  delete from public.realtime_drift d where d.subject_id = old.id;
  return old;
end;
$$;
