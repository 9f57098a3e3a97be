-- A mashup id belongs to one creator forever (issue 13 item 12).
-- Raw events keep their mashup_id after the mashup is gone, and every rollup is recomputed from
-- them, so whoever owns an id sees every listener that ever played it. A creator must therefore
-- never come to own an id that carried someone else's listeners, whatever the order of create,
-- delete and update:
--   * a signed-in user cannot choose the id of a new mashup (the database draws it) nor change
--     the id or the creator of an existing one (column privileges: insert and update name only
--     the columns a creator may set);
--   * a deleted mashup's id is retired: no one, the service role included, can create a mashup
--     with it again (trigger; SQLSTATE 23505, which PostgREST answers 409).
-- Ids never move between creators, so the Redis cache mashup id -> creator
-- (rt:mashup_creator) can never hold a wrong owner: an entry is either right or names the
-- creator of a deleted mashup, whose late plays are theirs. It needs no invalidation.

revoke insert, update on public.mashups from anon, authenticated;
grant insert (creator_id, title, duration_seconds) on public.mashups to authenticated;
grant update (title, duration_seconds) on public.mashups to authenticated;

create table aggregation.retired_mashup_ids (
  id uuid primary key,
  creator_id uuid not null,
  retired_at timestamptz not null default now()
);
comment on table aggregation.retired_mashup_ids is
  'Ids of deleted mashups, never to be used again (their raw events still carry them).';
alter table aggregation.retired_mashup_ids enable row level security;
revoke all on aggregation.retired_mashup_ids from public, anon, authenticated;

-- SECURITY DEFINER: creators delete their own mashups under RLS, and the retirement list is not
-- theirs to read or write; each function does one fixed thing with the row in hand.
create function aggregation.retire_mashup_id()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into aggregation.retired_mashup_ids (id, creator_id) values (old.id, old.creator_id)
  on conflict (id) do nothing;
  return null;
end;
$$;

create function aggregation.refuse_retired_mashup_id()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from aggregation.retired_mashup_ids r where r.id = new.id) then
    raise exception 'mashup id % belonged to a deleted mashup and cannot be used again', new.id
      using errcode = '23505', hint = 'id';
  end if;
  return new;
end;
$$;

create trigger mashups_retire_id after delete on public.mashups
  for each row execute function aggregation.retire_mashup_id();
create trigger mashups_refuse_retired_id before insert or update of id on public.mashups
  for each row execute function aggregation.refuse_retired_mashup_id();

revoke all on function aggregation.retire_mashup_id(), aggregation.refuse_retired_mashup_id()
  from public, anon, authenticated;
