-- Fewer writes per folded event: one write per (mashup, day) and per mashup's lifetime row a run.
--
-- Before, a run wrote each touched mashup_daily_stats row three times (the counts in fold_counts,
-- unique_plays in fold_listeners, avg_watch_time in fold_plays) and each lifetime row three times
-- (counts, unique_plays, watch time). Every later write of a row is a new row version plus index
-- entries, and on the plan's mashup_daily_stats (which keeps its foreign key) a foreign-key check
-- each time, because the row was inserted by the same transaction. Now fold_listeners() and
-- fold_plays() only collect their changes in scratch tables, and fold_counts() applies all of a
-- row's changes in one upsert:
--
--   fold_listeners()      listener sets (as before) -> fold_daily_listener_deltas, fold_lifetime_listener_deltas
--   fold_plays()          play_folds, summaries, mashup_daily_retention (as before)
--                         -> fold_day_averages (avg_watch_time of the start days whose plays changed)
--   fold_counts()         one upsert per row: mashup_daily_stats (counts + new listeners + average),
--                         mashup_lifetime_stats (counts + new listeners + retention changes),
--                         the buckets, creator buckets, plays_received (as before)
--   fold_day_unique_plays(d)  a day rebuild's re-derivation of unique_plays from the day's set
--                         (was fold_listeners(d)), after fold_counts()
--
-- Also: aggregation.utc_day() is a SQL function with `set search_path`, which PostgreSQL does not
-- inline, so every call was a function call per row; the fold uses the expression
-- (ts at time zone 'UTC')::date itself.

create unlogged table aggregation.fold_daily_listener_deltas (
  mashup_id uuid not null,
  date date not null,
  listeners integer not null
);
create unlogged table aggregation.fold_lifetime_listener_deltas (
  mashup_id uuid not null,
  listeners integer not null
);
create unlogged table aggregation.fold_day_averages (
  mashup_id uuid not null,
  date date not null,
  avg_watch_time numeric
);
comment on table aggregation.fold_daily_listener_deltas is 'Per-run scratch: new listeners per (mashup, UTC day).';
comment on table aggregation.fold_lifetime_listener_deltas is 'Per-run scratch: new lifetime listeners per mashup.';
comment on table aggregation.fold_day_averages is
  'Per-run scratch: avg_watch_time of the (mashup, start day) keys whose plays changed.';
revoke all on aggregation.fold_daily_listener_deltas, aggregation.fold_lifetime_listener_deltas,
  aggregation.fold_day_averages from public, anon, authenticated;
grant select, insert, update, delete, truncate on aggregation.fold_daily_listener_deltas,
  aggregation.fold_lifetime_listener_deltas, aggregation.fold_day_averages to service_role;

create or replace function aggregation.fold_reset()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  truncate aggregation.fold_batch, aggregation.fold_count_deltas, aggregation.fold_breakdown_deltas,
    aggregation.fold_retention_deltas, aggregation.fold_daily_listener_deltas,
    aggregation.fold_lifetime_listener_deltas, aggregation.fold_day_averages;
end;
$$;

-- Unique listeners: the sets, and how many rows were new --------------------------------------------
drop function aggregation.fold_listeners(date);
create function aggregation.fold_listeners()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
begin
  with l as (
    select distinct (b."timestamp" at time zone 'UTC')::date as date, b.mashup_id, b.listener_key
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and b.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  ),
  ins as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select l.date, l.mashup_id, l.listener_key from l
    on conflict do nothing
    returning date, mashup_id
  )
  insert into aggregation.fold_daily_listener_deltas (mashup_id, date, listeners)
  select ins.mashup_id, ins.date, count(*)::integer from ins group by 1, 2;
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;

  -- Lifetime: keep each listener's earliest play; count the rows that are new.
  with f as (
    select b.mashup_id, b.listener_key, min(b."timestamp") as first_played_at
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and b.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2
  ),
  up as (
    insert into public.mashup_listeners as t (mashup_id, listener_key, first_played_at)
    select f.mashup_id, f.listener_key, f.first_played_at from f
    on conflict (mashup_id, listener_key) do update set first_played_at = excluded.first_played_at
    where excluded.first_played_at < t.first_played_at
    returning t.mashup_id, (t.xmax = 0) as inserted
  )
  insert into aggregation.fold_lifetime_listener_deltas (mashup_id, listeners)
  select up.mashup_id, count(*) filter (where up.inserted)::integer from up group by 1
  having count(*) filter (where up.inserted) > 0;
  get diagnostics v_n = row_count;
  return v_rows + v_n;
end;
$$;
comment on function aggregation.fold_listeners() is
  'Adds the batch''s listeners to the per-day and lifetime listener sets; the rows that are new go to '
  'fold_daily_listener_deltas / fold_lifetime_listener_deltas (fold_counts() adds them to unique_plays).';

-- A day rebuild: that day's unique_plays re-derived from its set (after fold_counts()).
create function aggregation.fold_day_unique_plays(p_day date)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_n bigint;
begin
  -- Two index-only counts per row of the day, no join between the day's rows (with hash joins off,
  -- a self-join of the day's rows was a nested loop, quadratic in the day's mashups).
  update public.mashup_daily_stats t
  set unique_plays = (select count(*)::integer from aggregation.mashup_daily_listeners dl
                      where dl.date = p_day and dl.mashup_id = t.mashup_id)
  where t.date = p_day
    and t.unique_plays is distinct from (select count(*)::integer from aggregation.mashup_daily_listeners dl
                                         where dl.date = p_day and dl.mashup_id = t.mashup_id);
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
comment on function aggregation.fold_day_unique_plays(date) is
  'Sets unique_plays of every mashup_daily_stats row of one UTC day to its listener set''s size.';

create or replace function aggregation.fold_plays()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_days date[];
begin
  -- (One pass per statement and joins only against indexed tables: joins between CTEs have no
  -- statistics, and a nested loop over two 25k-row CTEs is quadratic.)
  with p as (
    select b.play_id,
           min(b."timestamp") filter (where b.event_type = 'mashup_played' and b.mashup_id is not null) as started_at,
           (array_agg(b.id order by b."timestamp", b.id)
              filter (where b.event_type = 'mashup_played' and b.mashup_id is not null))[1] as started_event_id,
           (array_agg(b.mashup_id order by b."timestamp", b.id)
              filter (where b.event_type = 'mashup_played' and b.mashup_id is not null))[1] as mashup_id,
           max(b.position_seconds) filter (where b.event_type <> 'mashup_played') as max_pos,
           bool_or(b.event_type = 'mashup_play_ended') as ended
    from aggregation.fold_batch b
    where b.play_id is not null and b.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
    group by b.play_id
  ),
  folded as (
    insert into aggregation.play_folds as t (play_id, started_at, started_event_id, mashup_id, max_position_seconds, ended)
    select p.play_id, p.started_at, p.started_event_id, p.mashup_id, p.max_pos, p.ended from p
    on conflict (play_id) do update set
      started_at = case when t.started_at is null or (excluded.started_at, excluded.started_event_id)
                                                     < (t.started_at, t.started_event_id)
                        then coalesce(excluded.started_at, t.started_at) else t.started_at end,
      started_event_id = case when t.started_at is null or (excluded.started_at, excluded.started_event_id)
                                                           < (t.started_at, t.started_event_id)
                              then coalesce(excluded.started_event_id, t.started_event_id) else t.started_event_id end,
      mashup_id = case when t.started_at is null or (excluded.started_at, excluded.started_event_id)
                                                   < (t.started_at, t.started_event_id)
                       then coalesce(excluded.mashup_id, t.mashup_id) else t.mashup_id end,
      max_position_seconds = greatest(t.max_position_seconds, excluded.max_position_seconds),
      ended = t.ended or excluded.ended
    returning t.play_id, t.started_at, t.mashup_id, t.max_position_seconds, t.ended, (t.xmax = 0) as first_seen
  ),
  new as (
    select f.play_id, f.mashup_id, f.started_at,
           least(greatest(coalesce(f.max_position_seconds, 0), 0), m.duration_seconds) as furthest,
           m.duration_seconds, f.ended, f.first_seen
    from folded f join public.mashups m on m.id = f.mashup_id
    where f.started_at is not null
  ),
  -- The summary as it was before this batch (the statement's snapshot), beside the new one. A play
  -- whose play_folds row this statement inserted has no summary yet (summaries are derived from
  -- play_folds only): its lookup is skipped (the gating condition is checked before the index).
  changed as (
    select n.play_id, n.mashup_id, n.started_at, n.furthest, n.duration_seconds, n.ended,
           o.play_id as old_play_id, o.mashup_id as old_mashup_id, o.started_at as old_started_at,
           o.furthest_position_seconds as old_furthest, o.completed as old_completed
    from new n
    left join lateral (
      select s.play_id, s.mashup_id, s.started_at, s.furthest_position_seconds, s.duration_seconds, s.ended,
             s.completed
      from public.mashup_play_summaries s where s.play_id = n.play_id and not n.first_seen
    ) o on true
    where o.play_id is null
       or (o.mashup_id, o.started_at, o.furthest_position_seconds, o.duration_seconds, o.ended)
          is distinct from (n.mashup_id, n.started_at, n.furthest, n.duration_seconds, n.ended)
  ),
  summaries as (
    insert into public.mashup_play_summaries as t
      (play_id, mashup_id, started_at, furthest_position_seconds, duration_seconds, completed, ended)
    select c.play_id, c.mashup_id, c.started_at, c.furthest, c.duration_seconds,
           c.furthest >= 0.95 * c.duration_seconds, c.ended
    from changed c
    on conflict (play_id) do update set
      mashup_id = excluded.mashup_id, started_at = excluded.started_at,
      furthest_position_seconds = excluded.furthest_position_seconds,
      duration_seconds = excluded.duration_seconds, completed = excluded.completed, ended = excluded.ended
    returning 1
  ),
  moved as (
    -- A changed play leaves its old (mashup, start day, position bucket) and enters the new one.
    insert into aggregation.fold_retention_deltas
      (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    select c.old_mashup_id, (c.old_started_at at time zone 'UTC')::date, (floor(c.old_furthest / 10) * 10)::integer,
           -1, -(c.old_completed::integer), -c.old_furthest
    from changed c where c.old_play_id is not null
    union all
    select c.mashup_id, (c.started_at at time zone 'UTC')::date, (floor(c.furthest / 10) * 10)::integer,
           1, (c.furthest >= 0.95 * c.duration_seconds)::integer, c.furthest
    from changed c
    returning 1
  )
  select (select count(*) from summaries) + (select count(*) from moved) * 0 into v_n;
  v_rows := v_rows + v_n;

  with d as (
    select r.mashup_id, r.date, r.position_bucket_seconds, sum(r.plays)::integer as plays,
           sum(r.completed_plays)::integer as completed_plays, sum(r.watch_time_seconds) as watch_time_seconds
    from aggregation.fold_retention_deltas r group by 1, 2, 3
    having sum(r.plays) <> 0 or sum(r.completed_plays) <> 0 or sum(r.watch_time_seconds) <> 0
  ),
  up as (
    insert into public.mashup_daily_retention as t
      (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    select d.mashup_id, d.date, d.position_bucket_seconds, d.plays, d.completed_plays, d.watch_time_seconds from d
    on conflict (mashup_id, date, position_bucket_seconds) do update set
      plays = t.plays + excluded.plays, completed_plays = t.completed_plays + excluded.completed_plays,
      watch_time_seconds = t.watch_time_seconds + excluded.watch_time_seconds
    returning t.mashup_id, t.date, t.plays = 0 as zero
  )
  select count(*), array_agg(up.mashup_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  v_rows := v_rows + v_n;
  if v_ids is not null then
    delete from public.mashup_daily_retention t using unnest(v_ids, v_days) as k (id, day)
    where t.mashup_id = k.id and t.date = k.day and t.plays = 0;
  end if;

  -- The start days whose plays changed: their avg_watch_time from their retention rows (a few
  -- dozen each), written by fold_counts() together with the day's counts. (Lifetime watch time
  -- and completions come from fold_retention_deltas there too.)
  insert into aggregation.fold_day_averages (mashup_id, date, avg_watch_time)
  select k.mashup_id, k.date,
         (select round(sum(rt.watch_time_seconds) / nullif(sum(rt.plays), 0), 2)
          from public.mashup_daily_retention rt where rt.mashup_id = k.mashup_id and rt.date = k.date)
  from (select distinct r.mashup_id, r.date from aggregation.fold_retention_deltas r) k;
  get diagnostics v_n = row_count;
  return v_rows + v_n;
end;
$$;

create or replace function aggregation.fold_breakdowns()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_times timestamptz[];
  v_days date[];
begin
  with d as (
    select b.mashup_id, b.bucket_start, b.source, b.country, b.device, sum(b.plays)::integer as plays
    from aggregation.fold_breakdown_deltas b group by 1, 2, 3, 4, 5 having sum(b.plays) <> 0
  ),
  up as (
    insert into public.mashup_quarter_hour_breakdowns as t (mashup_id, bucket_start, source, country, device, plays)
    select d.mashup_id, d.bucket_start, d.source, d.country, d.device, d.plays from d
    on conflict (mashup_id, bucket_start, source, country, device) do update set plays = t.plays + excluded.plays
    returning t.mashup_id, t.bucket_start, t.plays = 0 as zero
  )
  select count(*), array_agg(up.mashup_id) filter (where up.zero), array_agg(up.bucket_start) filter (where up.zero)
  into v_n, v_ids, v_times from up;
  v_rows := v_rows + v_n;
  if v_ids is not null then
    delete from public.mashup_quarter_hour_breakdowns t using unnest(v_ids, v_times) as k (id, at)
    where t.mashup_id = k.id and t.bucket_start = k.at and t.plays = 0;
  end if;

  with d as (
    select m.creator_id, (b.bucket_start at time zone 'UTC')::date as date, b.source, b.country, b.device,
           sum(b.plays)::integer as plays
    from aggregation.fold_breakdown_deltas b join public.mashups m on m.id = b.mashup_id
    group by 1, 2, 3, 4, 5 having sum(b.plays) <> 0
  ),
  up as (
    insert into public.creator_daily_breakdowns as t (creator_id, date, source, country, device, plays)
    select d.creator_id, d.date, d.source, d.country, d.device, d.plays from d
    on conflict (creator_id, date, source, country, device) do update set plays = t.plays + excluded.plays
    returning t.creator_id, t.date, t.plays = 0 as zero
  )
  select count(*), array_agg(up.creator_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  if v_ids is not null then
    delete from public.creator_daily_breakdowns t using unnest(v_ids, v_days) as k (id, day)
    where t.creator_id = k.id and t.date = k.day and t.plays = 0;
  end if;
  return v_rows + v_n;
end;
$$;

create or replace function aggregation.fold_users()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_c uuid[];
  v_d date[];
  v_f text[];
begin
  with d as (
    select b.user_id, (b."timestamp" at time zone 'UTC')::date as date, count(*)::integer as n
    from aggregation.fold_batch b
    where b.event_type = 'mashup_created' and b.user_id is not null
      and exists (select 1 from auth.users u where u.id = b.user_id)
    group by 1, 2
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select d.user_id, d.date, d.n, 0, 0 from d
    on conflict (user_id, date) do update set mashups_created = coalesce(t.mashups_created, 0) + excluded.mashups_created
    returning 1
  )
  select count(*) into v_n from up;
  v_rows := v_rows + v_n;

  select coalesce(array_agg(b.creator_id), '{}'), coalesce(array_agg((b."timestamp" at time zone 'UTC')::date), '{}'),
         coalesce(array_agg(b.listener_key), '{}')
  into v_c, v_d, v_f
  from aggregation.fold_batch b
  where b.event_type = 'user_followed' and b.creator_id is not null
    and exists (select 1 from auth.users u where u.id = b.creator_id);
  if cardinality(v_c) > 0 then
    with f as (select * from aggregation.fold_follows(v_c, v_d, v_f)),
    up as (
      insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
      select f.user_id, f.date, 0, 0, f.followers_gained from f
      on conflict (user_id, date) do update set followers_gained = excluded.followers_gained
      where t.followers_gained is distinct from excluded.followers_gained
      returning 1
    )
    select count(*) into v_n from up;
    v_rows := v_rows + v_n;
  end if;
  return v_rows;
end;
$$;

comment on function aggregation.fold_plays() is
  'Folds the batch''s play events into play_folds (min/max/or: idempotent), moves each changed play''s '
  'contribution in mashup_daily_retention and records the changed start days'' avg_watch_time in '
  'fold_day_averages (fold_counts() writes it, and the lifetime watch time, with the counts).';

-- Counts, listeners and averages: one write per row -------------------------------------------------
create or replace function aggregation.fold_counts()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_times timestamptz[];
  v_days date[];
begin
  with d as (
    select c.mashup_id, c.bucket_start, sum(c.plays)::integer as plays, sum(c.likes)::integer as likes,
           sum(c.shares)::integer as shares, sum(c.comments)::integer as comments,
           sum(c.downloads)::integer as downloads
    from aggregation.fold_count_deltas c group by 1, 2
  ),
  up as (
    insert into public.mashup_quarter_hour_stats as t (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
    select d.mashup_id, d.bucket_start, d.plays, d.likes, d.shares, d.comments, d.downloads from d
    on conflict (mashup_id, bucket_start) do update set
      plays = t.plays + excluded.plays, likes = t.likes + excluded.likes, shares = t.shares + excluded.shares,
      comments = t.comments + excluded.comments, downloads = t.downloads + excluded.downloads
    returning t.mashup_id, t.bucket_start,
              (t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0) as zero
  )
  select count(*), array_agg(up.mashup_id) filter (where up.zero), array_agg(up.bucket_start) filter (where up.zero)
  into v_n, v_ids, v_times from up;
  v_rows := v_rows + v_n;
  -- Rows exist only for keys with something to count (a day recount can take counts away).
  if v_ids is not null then
    delete from public.mashup_quarter_hour_stats t using unnest(v_ids, v_times) as k (id, at)
    where t.mashup_id = k.id and t.bucket_start = k.at
      and t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0;
  end if;

  -- UTC days: the sum of their buckets' changes, the day's new listeners and the new average of the
  -- start days whose plays changed, in one write per row. (A row gets an average only from
  -- fold_day_averages; a null new average - every play of the day moved away - is set below.)
  with x as (
    select c.mashup_id, (c.bucket_start at time zone 'UTC')::date as date, c.plays, c.likes, c.shares,
           c.comments, c.downloads, 0 as listeners, null::numeric as avg_watch_time
    from aggregation.fold_count_deltas c
    union all
    select l.mashup_id, l.date, 0, 0, 0, 0, 0, l.listeners, null from aggregation.fold_daily_listener_deltas l
    union all
    select a.mashup_id, a.date, 0, 0, 0, 0, 0, 0, a.avg_watch_time from aggregation.fold_day_averages a
  ),
  d as (
    select x.mashup_id, x.date, sum(x.plays)::integer as plays, sum(x.likes)::integer as likes,
           sum(x.shares)::integer as shares, sum(x.comments)::integer as comments,
           sum(x.downloads)::integer as downloads, sum(x.listeners)::integer as listeners,
           max(x.avg_watch_time) as avg_watch_time
    from x group by 1, 2
  ),
  up as (
    insert into public.mashup_daily_stats as t
      (mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time)
    select d.mashup_id, d.date, d.plays, d.listeners, d.likes, d.shares, d.comments, d.downloads, d.avg_watch_time
    from d
    on conflict (mashup_id, date) do update set
      plays = coalesce(t.plays, 0) + excluded.plays, likes = coalesce(t.likes, 0) + excluded.likes,
      shares = coalesce(t.shares, 0) + excluded.shares, comments = coalesce(t.comments, 0) + excluded.comments,
      downloads = coalesce(t.downloads, 0) + excluded.downloads,
      unique_plays = coalesce(t.unique_plays, 0) + excluded.unique_plays,
      avg_watch_time = coalesce(excluded.avg_watch_time, t.avg_watch_time)
    returning t.mashup_id, t.date,
              (t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0) as zero
  )
  select count(*), array_agg(up.mashup_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  v_rows := v_rows + v_n;
  if v_ids is not null then
    delete from public.mashup_daily_stats t using unnest(v_ids, v_days) as k (id, day)
    where t.mashup_id = k.id and t.date = k.day
      and t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0;
  end if;
  update public.mashup_daily_stats t set avg_watch_time = null
  from aggregation.fold_day_averages a
  where a.avg_watch_time is null and t.mashup_id = a.mashup_id and t.date = a.date and t.avg_watch_time is not null;

  -- Lifetime: counts, new listeners and the plays' retention changes, one write per mashup.
  with x as (
    select c.mashup_id, c.plays::bigint as plays, c.likes::bigint as likes, c.shares::bigint as shares,
           c.comments::bigint as comments, c.downloads::bigint as downloads, 0::bigint as listeners,
           0::bigint as tracked_plays, 0::bigint as completed_plays, 0::numeric as watch_time_seconds
    from aggregation.fold_count_deltas c
    union all
    select l.mashup_id, 0, 0, 0, 0, 0, l.listeners, 0, 0, 0 from aggregation.fold_lifetime_listener_deltas l
    union all
    select r.mashup_id, 0, 0, 0, 0, 0, 0, r.plays, r.completed_plays, r.watch_time_seconds
    from aggregation.fold_retention_deltas r
  ),
  d as (
    select x.mashup_id, sum(x.plays) as plays, sum(x.likes) as likes, sum(x.shares) as shares,
           sum(x.comments) as comments, sum(x.downloads) as downloads, sum(x.listeners) as listeners,
           sum(x.tracked_plays) as tracked_plays, sum(x.completed_plays) as completed_plays,
           sum(x.watch_time_seconds) as watch_time_seconds
    from x group by 1
  ),
  up as (
    insert into public.mashup_lifetime_stats as t
      (mashup_id, plays, unique_plays, likes, shares, comments, downloads, tracked_plays, completed_plays,
       watch_time_seconds, avg_watch_time)
    select d.mashup_id, d.plays, d.listeners, d.likes, d.shares, d.comments, d.downloads, d.tracked_plays,
           d.completed_plays, d.watch_time_seconds, round(d.watch_time_seconds / nullif(d.tracked_plays, 0), 2)
    from d
    on conflict (mashup_id) do update set
      plays = t.plays + excluded.plays, likes = t.likes + excluded.likes, shares = t.shares + excluded.shares,
      comments = t.comments + excluded.comments, downloads = t.downloads + excluded.downloads,
      unique_plays = t.unique_plays + excluded.unique_plays,
      tracked_plays = t.tracked_plays + excluded.tracked_plays,
      completed_plays = t.completed_plays + excluded.completed_plays,
      watch_time_seconds = t.watch_time_seconds + excluded.watch_time_seconds,
      avg_watch_time = round((t.watch_time_seconds + excluded.watch_time_seconds)
                             / nullif(t.tracked_plays + excluded.tracked_plays, 0), 2)
    returning 1
  )
  select count(*) into v_n from up;
  v_rows := v_rows + v_n;

  -- The creator's buckets: the sum over their mashups.
  with d as (
    select m.creator_id, c.bucket_start, sum(c.plays)::integer as plays, sum(c.likes)::integer as likes,
           sum(c.shares)::integer as shares
    from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
    group by 1, 2
    having sum(c.plays) <> 0 or sum(c.likes) <> 0 or sum(c.shares) <> 0
  ),
  up as (
    insert into public.creator_quarter_hour_stats as t (creator_id, bucket_start, plays, likes, shares)
    select d.creator_id, d.bucket_start, d.plays, d.likes, d.shares from d
    on conflict (creator_id, bucket_start) do update set
      plays = t.plays + excluded.plays, likes = t.likes + excluded.likes, shares = t.shares + excluded.shares
    returning t.creator_id, t.bucket_start, (t.plays = 0 and t.likes = 0 and t.shares = 0) as zero
  )
  select count(*), array_agg(up.creator_id) filter (where up.zero), array_agg(up.bucket_start) filter (where up.zero)
  into v_n, v_ids, v_times from up;
  v_rows := v_rows + v_n;
  -- (Deletes are separate statements: a row changed by one statement cannot be deleted by another
  -- part of the same statement.)
  if v_ids is not null then
    delete from public.creator_quarter_hour_stats t using unnest(v_ids, v_times) as k (id, at)
    where t.creator_id = k.id and t.bucket_start = k.at and t.plays = 0 and t.likes = 0 and t.shares = 0;
  end if;

  -- plays_received = the plays of the creator's mashups that UTC day.
  with d as (
    select m.creator_id, (c.bucket_start at time zone 'UTC')::date as date, sum(c.plays)::integer as plays
    from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
    group by 1, 2 having sum(c.plays) <> 0
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select d.creator_id, d.date, 0, d.plays, 0 from d
    on conflict (user_id, date) do update set plays_received = coalesce(t.plays_received, 0) + excluded.plays_received
    returning t.user_id, t.date, (coalesce(t.mashups_created, 0) = 0 and coalesce(t.plays_received, 0) = 0
                                  and coalesce(t.followers_gained, 0) = 0) as zero
  )
  select count(*), array_agg(up.user_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  if v_ids is not null then
    delete from public.user_daily_stats t using unnest(v_ids, v_days) as k (id, day)
    where t.user_id = k.id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
      and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  end if;
  return v_rows + v_n;
end;
$$;
comment on function aggregation.fold_counts() is
  'Applies the run''s changes, one write per row: buckets, UTC days (counts, new listeners, '
  'avg_watch_time), lifetime (counts, new listeners, retention), creator buckets, plays_received.';

-- The whole fold of a batch of new events (the queue's): listeners and plays before the counts.
create or replace function aggregation.fold_new_events()
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_events bigint;
begin
  select count(*) into v_events from aggregation.fold_batch;
  -- Fresh statistics for the batch (a small sample: see fold_batch's column statistics).
  analyze aggregation.fold_batch;
  insert into aggregation.fold_count_deltas (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
  select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz),
         count(*) filter (where b.event_type = 'mashup_played'), count(*) filter (where b.event_type = 'mashup_liked'),
         count(*) filter (where b.event_type = 'mashup_shared'), count(*) filter (where b.event_type = 'comment_posted'),
         count(*) filter (where b.event_type = 'mashup_exported')
  from aggregation.fold_batch b
  where b.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  group by 1, 2;
  insert into aggregation.fold_breakdown_deltas (mashup_id, bucket_start, source, country, device, plays)
  select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz),
         b.source, b.country, b.device, count(*)
  from aggregation.fold_batch b
  where b.event_type = 'mashup_played' and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  group by 1, 2, 3, 4, 5;
  perform aggregation.fold_lock_mashups();
  -- Listeners and plays first: they leave their changes for fold_counts(), which writes each
  -- day and lifetime row once.
  v_rows := v_rows + aggregation.fold_listeners();
  v_rows := v_rows + aggregation.fold_plays();
  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_users();
  return jsonb_build_object(
    'events_read', v_events,
    'mashup_days', (select count(*) from (select distinct c.mashup_id, (c.bucket_start at time zone 'UTC')::date
                                          from aggregation.fold_count_deltas c) k),
    'user_days', (select count(*) from (select distinct b.user_id, (b."timestamp" at time zone 'UTC')::date
                                        from aggregation.fold_batch b
                                        where b.event_type in ('mashup_created', 'user_followed')) k),
    -- (count over a distinct subquery: hashed, where count(distinct) sorts the whole batch)
    'plays', (select count(*) from (select distinct b.play_id from aggregation.fold_batch b
                                    where b.play_id is not null) k),
    'mashups', (select count(*) from (select distinct c.mashup_id from aggregation.fold_count_deltas c) k),
    'rows_written', v_rows);
end;
$$;

-- A day rebuild: the same order; the day's unique_plays re-derived from its set at the end.
create or replace function aggregation.mashup_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_rows bigint := 0;
  v_events bigint;
  v_result jsonb;
begin
  perform aggregation.lock(true);
  perform aggregation.fold_reset();

  -- A day whose raw events are gone (a dropped partition) while its rollups remain: refuse to
  -- zero it. Lifetime numbers must not depend on raw rows still existing.
  if not exists (select 1 from public.analytics_events e where e."timestamp" >= v_t0 and e."timestamp" < v_t1)
     and exists (select 1 from public.mashup_daily_stats d where d.date = target_date) then
    raise notice 'aggregate_mashup_stats(%): no raw events left for that day; its rollups are kept as they are',
      target_date;
    return jsonb_build_object('events_read', 0, 'mashup_days', 0, 'plays', 0, 'mashups', 0, 'rows_written', 0,
                              'skipped', 'no raw events');
  end if;

  -- One statement, so one snapshot: the day's raw events it reads are exactly those whose queue
  -- rows it takes out (a raw row and its queue row commit together). Events committing later stay
  -- queued for the next incremental run.
  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1
      and q.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                           'mashup_shared', 'comment_posted', 'mashup_exported')
    returning 1
  )
  insert into aggregation.fold_batch
  select r.* from aggregation.raw_events_for_fold r
  where r."timestamp" >= v_t0 and r."timestamp" < v_t1
    and r.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported');
  get diagnostics v_events = row_count;
  analyze aggregation.fold_batch;

  -- The day's buckets: what the raw events say now minus what the rows hold.
  with n as (
    select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           count(*) filter (where b.event_type = 'mashup_played')::integer as plays,
           count(*) filter (where b.event_type = 'mashup_liked')::integer as likes,
           count(*) filter (where b.event_type = 'mashup_shared')::integer as shares,
           count(*) filter (where b.event_type = 'comment_posted')::integer as comments,
           count(*) filter (where b.event_type = 'mashup_exported')::integer as downloads
    from aggregation.fold_batch b
    where b.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2
  ),
  o as (
    select q.mashup_id, q.bucket_start, q.plays, q.likes, q.shares, q.comments, q.downloads
    from public.mashup_quarter_hour_stats q where q.bucket_start >= v_t0 and q.bucket_start < v_t1
  )
  insert into aggregation.fold_count_deltas (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
  select coalesce(n.mashup_id, o.mashup_id), coalesce(n.bucket_start, o.bucket_start),
         coalesce(n.plays, 0) - coalesce(o.plays, 0), coalesce(n.likes, 0) - coalesce(o.likes, 0),
         coalesce(n.shares, 0) - coalesce(o.shares, 0), coalesce(n.comments, 0) - coalesce(o.comments, 0),
         coalesce(n.downloads, 0) - coalesce(o.downloads, 0)
  from n full join o on o.mashup_id = n.mashup_id and o.bucket_start = n.bucket_start
  where (n.plays, n.likes, n.shares, n.comments, n.downloads) is distinct from
        (o.plays, o.likes, o.shares, o.comments, o.downloads);

  with n as (
    select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           b.source, b.country, b.device, count(*)::integer as plays
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2, 3, 4, 5
  ),
  o as (
    select q.mashup_id, q.bucket_start, q.source, q.country, q.device, q.plays
    from public.mashup_quarter_hour_breakdowns q where q.bucket_start >= v_t0 and q.bucket_start < v_t1
  )
  insert into aggregation.fold_breakdown_deltas (mashup_id, bucket_start, source, country, device, plays)
  select coalesce(n.mashup_id, o.mashup_id), coalesce(n.bucket_start, o.bucket_start), coalesce(n.source, o.source),
         coalesce(n.country, o.country), coalesce(n.device, o.device), coalesce(n.plays, 0) - coalesce(o.plays, 0)
  from n full join o on o.mashup_id = n.mashup_id and o.bucket_start = n.bucket_start and o.source = n.source
                    and o.country = n.country and o.device = n.device
  where n.plays is distinct from o.plays;

  perform aggregation.fold_lock_mashups();
  v_rows := v_rows + aggregation.fold_listeners();
  v_rows := v_rows + aggregation.fold_plays();
  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_day_unique_plays(target_date);

  select jsonb_build_object(
    'events_read', v_events, 'mashup_days', m.n,
    'plays', (select count(*) from (select distinct b.play_id from aggregation.fold_batch b
                                    where b.play_id is not null) k),
    'mashups', m.n, 'rows_written', v_rows)
  into v_result
  from (select count(*) as n from (select distinct b.mashup_id from aggregation.fold_batch b
                                   where b.mashup_id is not null) k) m;
  return v_result;
end;
$$;

-- create or replace resets a function's settings (20261126020300's reasons).
alter function aggregation.fold_counts() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_breakdowns() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_listeners() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_day_unique_plays(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_plays() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_users() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_new_events() set plan_cache_mode = force_custom_plan;
alter function aggregation.mashup_day(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_counts() set enable_hashjoin = off;
alter function aggregation.fold_counts() set enable_mergejoin = off;
alter function aggregation.fold_breakdowns() set enable_hashjoin = off;
alter function aggregation.fold_breakdowns() set enable_mergejoin = off;
alter function aggregation.fold_listeners() set enable_hashjoin = off;
alter function aggregation.fold_listeners() set enable_mergejoin = off;
alter function aggregation.fold_day_unique_plays(date) set enable_hashjoin = off;
alter function aggregation.fold_day_unique_plays(date) set enable_mergejoin = off;
alter function aggregation.fold_plays() set enable_hashjoin = off;
alter function aggregation.fold_plays() set enable_mergejoin = off;
alter function aggregation.fold_users() set enable_hashjoin = off;
alter function aggregation.fold_users() set enable_mergejoin = off;

revoke all on function aggregation.fold_listeners(), aggregation.fold_day_unique_plays(date)
  from public, anon, authenticated;
grant execute on function aggregation.fold_listeners(), aggregation.fold_day_unique_plays(date) to service_role;
