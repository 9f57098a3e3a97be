-- A mashup's id and creator never change, for any role (issue 10's rollups, issue 13 item 12).
--
-- Column privileges already keep signed-in creators from changing either (20261126055100). The
-- service role and operators could still: an UPDATE of creator_id left the mashup's plays, likes and
-- shares in the old creator's rollups (creator_quarter_hour_stats, creator_daily_breakdowns,
-- user_daily_stats.plays_received: folded per creator as events arrived) while topContent and
-- analysts' views followed the new one; an UPDATE of id left every per-mashup rollup under the old
-- id (they have no foreign key since 20261126100000). The rollups, the raw events (which keep the
-- mashup id they were sent with) and the Redis cache mashup -> creator (rt:mashup_creator, never
-- invalidated) all rely on the pair being fixed, so the database refuses to change it. Moving a
-- mashup to another creator is a new mashup. (The retired-id check, mashups_refuse_retired_id,
-- fires first and keeps its own error: triggers fire in name order.)
create function aggregation.refuse_mashup_rekeying()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if new.id is distinct from old.id or new.creator_id is distinct from old.creator_id then
    raise exception 'a mashup''s id and creator never change (mashup %)', old.id
      using errcode = '42501',
            hint = 'its rollups and raw events belong to them; create a new mashup instead';
  end if;
  return new;
end;
$$;
comment on function aggregation.refuse_mashup_rekeying() is
  'Refuses an UPDATE that changes a mashup''s id or creator_id (every role): rollups are keyed by them.';
revoke all on function aggregation.refuse_mashup_rekeying() from public, anon, authenticated;

create trigger mashups_stay_with_their_creator before update of id, creator_id on public.mashups
  for each row execute function aggregation.refuse_mashup_rekeying();
