-- Folding: the rollups change by what arrived, never by recounting a (mashup, day) from raw events.
--
-- A run puts its events in aggregation.fold_batch (the queue's rows, or a day's raw rows for a
-- rebuild), turns them into changes, and applies the changes:
--
--   fold_count_deltas     (mashup, bucket) +plays/likes/... -> fold_counts()
--                         mashup_quarter_hour_stats, mashup_daily_stats, mashup_lifetime_stats,
--                         creator_quarter_hour_stats, user_daily_stats.plays_received
--   fold_breakdown_deltas (mashup, bucket, source, country, device) +plays -> fold_breakdowns()
--                         mashup_quarter_hour_breakdowns, creator_daily_breakdowns
--   fold_batch played     -> fold_listeners(): set inserts into mashup_daily_listeners and
--                         mashup_listeners; a listener counts only when its row is new
--   fold_batch play events-> fold_plays(): play_folds (min/max/or), the changed summaries, and
--                         their old/new contributions to mashup_daily_retention, lifetime
--                         watch time and the start day's avg_watch_time
--   fold_batch follows/creations -> fold_users(): user_daily_stats (followers via fold_follows())
--
-- Every write touches only the keys of the batch, so a run costs O(events it folds), whatever the
-- size of the days, mashups or creators they belong to. Each applier is either additive over
-- events that are folded exactly once (the queue), or idempotent (set inserts, min/max/or), so
-- reading an event twice in a day rebuild changes nothing.

-- Counts: buckets, days, lifetime, creators, plays_received --------------------------------------
create function aggregation.fold_counts()
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

  -- UTC days: the sum of their buckets' changes.
  with d as (
    select c.mashup_id, aggregation.utc_day(c.bucket_start) as date, sum(c.plays)::integer as plays,
           sum(c.likes)::integer as likes, sum(c.shares)::integer as shares, sum(c.comments)::integer as comments,
           sum(c.downloads)::integer as downloads
    from aggregation.fold_count_deltas c group by 1, 2
  ),
  up as (
    insert into public.mashup_daily_stats as t (mashup_id, date, plays, unique_plays, likes, shares, comments, downloads)
    select d.mashup_id, d.date, d.plays, 0, d.likes, d.shares, d.comments, d.downloads from d
    on conflict (mashup_id, date) do update set
      plays = coalesce(t.plays, 0) + excluded.plays, likes = coalesce(t.likes, 0) + excluded.likes,
      shares = coalesce(t.shares, 0) + excluded.shares, comments = coalesce(t.comments, 0) + excluded.comments,
      downloads = coalesce(t.downloads, 0) + excluded.downloads
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

  with d as (
    select c.mashup_id, sum(c.plays) as plays, sum(c.likes) as likes, sum(c.shares) as shares,
           sum(c.comments) as comments, sum(c.downloads) as downloads
    from aggregation.fold_count_deltas c group by 1
  ),
  up as (
    insert into public.mashup_lifetime_stats as t (mashup_id, plays, likes, shares, comments, downloads)
    select d.mashup_id, d.plays, d.likes, d.shares, d.comments, d.downloads from d
    on conflict (mashup_id) do update set
      plays = t.plays + excluded.plays, likes = t.likes + excluded.likes, shares = t.shares + excluded.shares,
      comments = t.comments + excluded.comments, downloads = t.downloads + excluded.downloads
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
    select m.creator_id, aggregation.utc_day(c.bucket_start) as date, sum(c.plays)::integer as plays
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
  'Adds aggregation.fold_count_deltas to the bucket, day, lifetime, creator-bucket and plays_received rollups.';

-- Breakdowns: per mashup and bucket, per creator and UTC day --------------------------------------
create function aggregation.fold_breakdowns()
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
    select m.creator_id, aggregation.utc_day(b.bucket_start) as date, b.source, b.country, b.device,
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
comment on function aggregation.fold_breakdowns() is
  'Adds aggregation.fold_breakdown_deltas to the mashup bucket and creator day breakdowns.';

-- Unique listeners: per UTC day and lifetime, as sets ------------------------------------------------
-- A listener counts when their set row is new: an event read twice, a late play or a second play
-- the same day inserts nothing. p_day (a rebuild of that day) also re-derives that day's
-- unique_plays from its set, absolute.
create function aggregation.fold_listeners(p_day date default null)
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
    select distinct aggregation.utc_day(b."timestamp") as date, b.mashup_id, b.listener_key
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and b.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  ),
  ins as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select l.date, l.mashup_id, l.listener_key from l
    on conflict do nothing
    returning date, mashup_id
  ),
  n as (select ins.date, ins.mashup_id, count(*)::integer as n from ins group by 1, 2),
  up as (
    update public.mashup_daily_stats t set unique_plays = coalesce(t.unique_plays, 0) + n.n
    from n where t.mashup_id = n.mashup_id and t.date = n.date
    returning 1
  )
  select count(*) into v_n from up;
  v_rows := v_rows + v_n;

  if p_day is not null then
    with c as (
      select ds.mashup_id, (select count(*)::integer from aggregation.mashup_daily_listeners dl
                            where dl.date = p_day and dl.mashup_id = ds.mashup_id) as n
      from public.mashup_daily_stats ds where ds.date = p_day
    ),
    up as (
      update public.mashup_daily_stats t set unique_plays = c.n
      from c where t.mashup_id = c.mashup_id and t.date = p_day and t.unique_plays is distinct from c.n
      returning 1
    )
    select count(*) into v_n from up;
    v_rows := v_rows + v_n;
  end if;

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
  ),
  n as (select up.mashup_id, count(*) filter (where up.inserted) as n from up group by 1),
  lt as (
    update public.mashup_lifetime_stats t set unique_plays = t.unique_plays + n.n
    from n where t.mashup_id = n.mashup_id and n.n > 0
    returning 1
  )
  select (select count(*) from up) + (select count(*) from lt) into v_n;
  return v_rows + v_n;
end;
$$;
comment on function aggregation.fold_listeners(date) is
  'Adds the batch''s listeners to the per-day and lifetime listener sets; unique_plays grows by the '
  'rows that are new. With p_day, that day''s unique_plays is re-derived from its set.';

-- Plays: fold each play's events, then move its contribution in the retention rollups --------------
create function aggregation.fold_plays()
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
    returning t.play_id, t.started_at, t.mashup_id, t.max_position_seconds, t.ended
  ),
  new as (
    select f.play_id, f.mashup_id, f.started_at,
           least(greatest(coalesce(f.max_position_seconds, 0), 0), m.duration_seconds) as furthest,
           m.duration_seconds, f.ended
    from folded f join public.mashups m on m.id = f.mashup_id
    where f.started_at is not null
  ),
  -- The summary as it was before this batch (the statement's snapshot), beside the new one.
  changed as (
    select n.*, o.play_id as old_play_id, o.mashup_id as old_mashup_id, o.started_at as old_started_at,
           o.furthest_position_seconds as old_furthest, o.completed as old_completed
    from new n left join public.mashup_play_summaries o on o.play_id = n.play_id
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
    select c.old_mashup_id, aggregation.utc_day(c.old_started_at), (floor(c.old_furthest / 10) * 10)::integer,
           -1, -(c.old_completed::integer), -c.old_furthest
    from changed c where c.old_play_id is not null
    union all
    select c.mashup_id, aggregation.utc_day(c.started_at), (floor(c.furthest / 10) * 10)::integer,
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

  with d as (
    select r.mashup_id, sum(r.plays) as plays, sum(r.completed_plays) as completed_plays,
           sum(r.watch_time_seconds) as watch_time_seconds
    from aggregation.fold_retention_deltas r group by 1
  ),
  up as (
    insert into public.mashup_lifetime_stats as t (mashup_id, tracked_plays, completed_plays, watch_time_seconds, avg_watch_time)
    select d.mashup_id, d.plays, d.completed_plays, d.watch_time_seconds,
           round(d.watch_time_seconds / nullif(d.plays, 0), 2) from d
    on conflict (mashup_id) do update set
      tracked_plays = t.tracked_plays + excluded.tracked_plays,
      completed_plays = t.completed_plays + excluded.completed_plays,
      watch_time_seconds = t.watch_time_seconds + excluded.watch_time_seconds,
      avg_watch_time = round((t.watch_time_seconds + excluded.watch_time_seconds)
                             / nullif(t.tracked_plays + excluded.tracked_plays, 0), 2)
    returning 1
  )
  select count(*) into v_n from up;
  v_rows := v_rows + v_n;

  -- avg_watch_time of the start days whose plays changed, from their retention rows (a few dozen).
  with k as (select distinct r.mashup_id, r.date from aggregation.fold_retention_deltas r),
  a as (
    select k.mashup_id, k.date,
           (select round(sum(rt.watch_time_seconds) / nullif(sum(rt.plays), 0), 2)
            from public.mashup_daily_retention rt where rt.mashup_id = k.mashup_id and rt.date = k.date) as avg_watch_time
    from k
  ),
  up as (
    update public.mashup_daily_stats t set avg_watch_time = a.avg_watch_time
    from a where t.mashup_id = a.mashup_id and t.date = a.date and t.avg_watch_time is distinct from a.avg_watch_time
    returning 1
  )
  select count(*) into v_n from up;
  return v_rows + v_n;
end;
$$;
comment on function aggregation.fold_plays() is
  'Folds the batch''s play events into play_folds (min/max/or: idempotent) and moves each changed '
  'play''s contribution in mashup_daily_retention, lifetime watch time and the day''s avg_watch_time.';

-- followers_gained: the one place its rule lives --------------------------------------------------
-- Adds follows (creator, UTC day, follower listener key) to the set and returns the absolute
-- followers_gained of every (creator, day) given. Swap this function to change the rule (e.g. read
-- public.follows): its callers only use what it returns.
create function aggregation.fold_follows(p_creators uuid[], p_days date[], p_followers text[])
returns table (user_id uuid, date date, followers_gained integer)
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into aggregation.creator_daily_followers (creator_id, date, follower_key)
  select distinct u.creator_id, u.day, u.follower
  from unnest(p_creators, p_days, p_followers) as u (creator_id, day, follower)
  where u.creator_id is not null and u.day is not null and u.follower is not null
  on conflict do nothing;
  return query
  select k.creator_id, k.day,
         (select count(*)::integer from aggregation.creator_daily_followers f
          where f.creator_id = k.creator_id and f.date = k.day)
  from (select distinct u.creator_id, u.day from unnest(p_creators, p_days) as u (creator_id, day)
        where u.creator_id is not null and u.day is not null) k;
end;
$$;
comment on function aggregation.fold_follows(uuid[], date[], text[]) is
  'followers_gained rule: distinct follower listener keys of user_followed events per creator and UTC '
  'day. Adds the given follows, returns the absolute count of each given (creator, day).';

-- User days: creations (additive) and followers (absolute, from fold_follows) -------------------------
create function aggregation.fold_users()
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
    select b.user_id, aggregation.utc_day(b."timestamp") as date, count(*)::integer as n
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

  select coalesce(array_agg(b.creator_id), '{}'), coalesce(array_agg(aggregation.utc_day(b."timestamp")), '{}'),
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
comment on function aggregation.fold_users() is
  'Folds the batch''s mashup_created (additive) and user_followed (absolute, fold_follows) events into user_daily_stats.';

-- The whole fold of a batch of new events (the queue's) ---------------------------------------------
create function aggregation.fold_new_events()
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
  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_listeners(null);
  v_rows := v_rows + aggregation.fold_plays();
  v_rows := v_rows + aggregation.fold_users();
  return jsonb_build_object(
    'events_read', v_events,
    'mashup_days', (select count(*) from (select distinct c.mashup_id, aggregation.utc_day(c.bucket_start)
                                          from aggregation.fold_count_deltas c) k),
    'user_days', (select count(*) from (select distinct b.user_id, aggregation.utc_day(b."timestamp")
                                        from aggregation.fold_batch b
                                        where b.event_type in ('mashup_created', 'user_followed')) k),
    'plays', (select count(distinct b.play_id) from aggregation.fold_batch b),
    'mashups', (select count(distinct c.mashup_id) from aggregation.fold_count_deltas c),
    'rows_written', v_rows);
end;
$$;
comment on function aggregation.fold_new_events() is
  'Folds aggregation.fold_batch (events not counted before) into every rollup; returns run-log counts.';

-- Empties the per-run scratch tables at the start of a run (the caller holds aggregation.lock()).
create function aggregation.fold_reset()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  truncate aggregation.fold_batch, aggregation.fold_count_deltas, aggregation.fold_breakdown_deltas,
    aggregation.fold_retention_deltas;
end;
$$;

-- Raw events in the queue's shape (keep in step with aggregation.enqueue_events()) -------------------
create view aggregation.raw_events_for_fold with (security_invoker = true) as
select e.id, e.event_type, e."timestamp", e.received_at, e.mashup_id, e.listener_key, e.user_id,
       case when e.event_type = 'mashup_played' then coalesce(nullif(e.properties ->> 'source', ''), 'unknown') end as source,
       case when e.event_type = 'mashup_played' then coalesce(e.country, 'unknown') end as country,
       case when e.event_type = 'mashup_played' then coalesce(e.device, 'unknown') end as device,
       case when e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
             and lower(e.properties ->> 'play_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then lower(e.properties ->> 'play_id')::uuid end as play_id,
       case when e.event_type in ('mashup_play_progress', 'mashup_play_ended')
             and jsonb_typeof(e.properties -> 'position_seconds') = 'number'
            then (e.properties ->> 'position_seconds')::numeric end as position_seconds,
       case when e.event_type = 'user_followed'
             and lower(e.properties ->> 'creator_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then lower(e.properties ->> 'creator_id')::uuid end as creator_id
from public.analytics_events e;
comment on view aggregation.raw_events_for_fold is
  'analytics_events in the columns of aggregation.pending_events (for day rebuilds).';

revoke all on all functions in schema aggregation from public, anon, authenticated;
grant execute on all functions in schema aggregation to service_role;
revoke all on aggregation.raw_events_for_fold from public, anon, authenticated;
grant select on aggregation.raw_events_for_fold to service_role;
