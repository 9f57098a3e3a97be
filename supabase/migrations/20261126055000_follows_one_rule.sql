-- One rule for follows, whichever way they arrive (issue 13 item 7).
--
-- A follow is a (follower user, creator) pair, and public.follows is where it lives:
--   * a row in public.follows (the app's own write)                  -> a follow;
--   * a user_followed event from a signed-in user (user_id from the verified JWT) -> the same row,
--     written here on insert (the first arrival wins: an event for a pair that already has a row,
--     or a second event, changes nothing; created_at = the event's time);
--   * both -> one follow;
--   * an unfollow is the row's deletion (the catalog has no unfollow event);
--   * a user_followed event without a user (anonymous) is stored but is no follow: there is no
--     account that follows, so it counts in none of the three numbers.
-- Then, for a creator:
--   followers          = rows with creator_id = the creator        (dashboard summary, current)
--   following          = rows with follower_id = the user          (dashboard summary, current)
--   followers_gained(d) = rows with creator_id = the creator and created_at in UTC day d, i.e. the
--                        follows made that day that still stand; so sum(followers_gained) over all
--                        days = followers, always, and an unfollow takes its follow out of its day.
-- user_daily_stats.followers_gained is kept current on both paths: the incremental job recomputes
-- the day of every user_followed event it reads; a direct insert or delete on public.follows
-- recomputes that (creator, day) at once (trigger below).
--
-- For the owners of the aggregation SQL (issue-10): the only change to recompute_user_days is its
-- followers_gained column, which now calls aggregation.followers_gained(user, t0, t1) instead of
-- counting distinct listener keys of user_followed events.

-- followers_gained of one creator and UTC day [t0, t1) ------------------------------------------
create function aggregation.followers_gained(creator uuid, t0 timestamptz, t1 timestamptz)
returns integer
language sql
stable
security invoker
set search_path = ''
as $$
  select count(*)::integer from public.follows f
  where f.creator_id = creator and f.created_at >= t0 and f.created_at < t1
$$;
comment on function aggregation.followers_gained(uuid, timestamptz, timestamptz) is
  'Follows of this creator made in [t0, t1) that still stand: user_daily_stats.followers_gained.';

-- Signed-in user_followed events become follows ---------------------------------------------------
create function aggregation.follows_from_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into public.follows (follower_id, creator_id, created_at)
  select distinct on (n.user_id, c.id) n.user_id, c.id, n."timestamp"
  from inserted n
  join auth.users c on c.id = aggregation.to_uuid(n.properties ->> 'creator_id')
  where n.event_type = 'user_followed' and n.user_id is not null and n.user_id <> c.id
  order by n.user_id, c.id, n."timestamp"
  on conflict (follower_id, creator_id) do nothing;
  return null;
end;
$$;
comment on function aggregation.follows_from_events() is
  'Writes the follow of every signed-in user_followed event into public.follows (first arrival wins).';

create trigger analytics_events_follows
  after insert on public.analytics_events
  referencing new table as inserted
  for each statement execute function aggregation.follows_from_events();

-- A follow written or deleted directly: its creator's day is recomputed now ------------------------
-- SECURITY DEFINER: a signed-in user follows and unfollows under RLS, but user_daily_stats and the
-- aggregation functions are the service role's; this does exactly one recompute of the row's
-- (creator, day) and nothing the caller chooses. Follows written by the events trigger above are
-- skipped: the incremental job recomputes their day, and ingestion must not wait for its lock.
create function aggregation.recompute_follow_day()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  f public.follows := case when tg_op = 'DELETE' then old else new end;
begin
  if pg_catalog.pg_trigger_depth() > 1 then
    return null;
  end if;
  perform aggregation.lock(true);
  perform aggregation.recompute_user_days(array[f.creator_id], array[aggregation.utc_day(f.created_at)]);
  return null;
end;
$$;
comment on function aggregation.recompute_follow_day() is
  'After a direct follow or unfollow: recomputes user_daily_stats of the creator and the follow''s UTC day.';

create trigger follows_recompute_day
  after insert or delete on public.follows
  for each row execute function aggregation.recompute_follow_day();

revoke all on function aggregation.followers_gained(uuid, timestamptz, timestamptz),
  aggregation.follows_from_events(), aggregation.recompute_follow_day() from public, anon, authenticated;
grant execute on function aggregation.followers_gained(uuid, timestamptz, timestamptz) to service_role;

create or replace function aggregation.recompute_user_days(user_ids uuid[], days date[])
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_u uuid[];
  v_d date[];
  v_rows bigint;
begin
  select coalesce(array_agg(k.user_id), '{}'), coalesce(array_agg(k.day), '{}')
  into v_u, v_d
  from (
    select distinct u.user_id, u.day
    from unnest(user_ids, days) as u (user_id, day)
    where u.user_id is not null and u.day is not null
      and exists (select 1 from auth.users au where au.id = u.user_id)
  ) k;
  if cardinality(v_u) = 0 then
    return 0;
  end if;

  with k as (
    select u.user_id, u.day, aggregation.day_start(u.day) as t0, aggregation.day_start(u.day + 1) as t1
    from unnest(v_u, v_d) as u (user_id, day)
  ),
  computed as (
    select k.user_id, k.day,
           (select count(*)
            from public.analytics_events e
            where e.user_id = k.user_id and e."timestamp" >= k.t0 and e."timestamp" < k.t1
              and e.event_type = 'mashup_created')::integer as mashups_created,
           (select coalesce(sum(d.plays), 0)
            from public.mashups m
            join public.mashup_daily_stats d on d.mashup_id = m.id and d.date = k.day
            where m.creator_id = k.user_id)::integer as plays_received,
           aggregation.followers_gained(k.user_id, k.t0, k.t1) as followers_gained
    from k
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select c.user_id, c.day, c.mashups_created, c.plays_received, c.followers_gained
    from computed c
    where c.mashups_created > 0 or c.plays_received > 0 or c.followers_gained > 0
    on conflict (user_id, date) do update set
      mashups_created = excluded.mashups_created, plays_received = excluded.plays_received,
      followers_gained = excluded.followers_gained
    where (t.mashups_created, t.plays_received, t.followers_gained)
      is distinct from (excluded.mashups_created, excluded.plays_received, excluded.followers_gained)
    returning 1
  ),
  del as (
    delete from public.user_daily_stats t
    using computed c
    where t.user_id = c.user_id and t.date = c.day
      and c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_rows;
  return v_rows;
end;
$$;
comment on function aggregation.recompute_user_days(uuid[], date[]) is
  'Recomputes user_daily_stats of these (user, UTC day) keys; run after their creators'' mashup days. '
  'followers_gained reads public.follows (aggregation.followers_gained).';
alter function aggregation.recompute_user_days(uuid[], date[]) set plan_cache_mode = force_custom_plan;
