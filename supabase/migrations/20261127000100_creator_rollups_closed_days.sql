-- The creator rollups hold closed UTC days; the days still open are read from the mashups' rollups.
--
-- creator_quarter_hour_stats (creator x bucket) and creator_daily_breakdowns (creator x UTC day x
-- source/country/device) exist for the dashboard's reads: one row per creator and bucket (day)
-- instead of one per mashup. Keeping them current cost every run an upsert per touched (creator,
-- bucket) and (creator, day, source, country, device), the second one never HOT (its count is an
-- INCLUDE column of the key): 13 % of a 3-per-play run and 22 % of a run in bench/generate's mix at
-- 10M events (docs/benchmarks.md, fourteenth look). The rows of the current UTC day are rewritten by
-- every 5-minute run of the day.
--
-- Now they hold every UTC day before `dashboard.creator_rollup_days.open_from`:
-- - the fold writes their rows only for days before open_from (late events into closed days fold
--   in as before);
-- - once a UTC day has ended, the next incremental run closes it: its creator rows are summed from
--   the day's mashup rows in one pass (aggregation.close_creator_days), and open_from moves on;
-- - the dashboard reads days from open_from on (today, usually) from the mashups' buckets, as it
--   already reads the edges of a local period: get_creator_dashboard's totals and trends from
--   mashup_quarter_hour_stats, dashboard_breakdown_totals' sources and demographics from
--   mashup_quarter_hour_breakdowns. Every sum is over the same events: responses are unchanged.
--
-- open_from starts at tomorrow (UTC): every row a database holds now stays valid, and the first run
-- of the next UTC day finds that day open. The plan's tables (user_daily_stats.plays_received
-- included) are written by every run as before.

create table dashboard.creator_rollup_days (
  only_row boolean primary key default true check (only_row),
  -- creator_quarter_hour_stats and creator_daily_breakdowns hold exactly the UTC days before this.
  open_from date not null,
  updated_at timestamptz not null default now()
);
insert into dashboard.creator_rollup_days (open_from) values ((now() at time zone 'UTC')::date + 1);

alter table dashboard.creator_rollup_days enable row level security;
-- The date holds no data of anyone; the dashboard's functions (SECURITY INVOKER) read it.
create policy "dashboard reads where the creator rollups end" on dashboard.creator_rollup_days
  for select to authenticated, service_role using (true);
revoke all on dashboard.creator_rollup_days from public, anon, authenticated, service_role;
grant select on dashboard.creator_rollup_days to authenticated, service_role;

-- Moves open_from to p_day, keeping "the creator rollups hold exactly the days before open_from":
-- forward, the days in between are summed from the mashups' rollups; backward (tests, an operator's
-- repair), the creator rows of days from p_day on are deleted. Takes the aggregation lock.
create or replace function aggregation.open_creator_days_from(p_day date)
returns void
language plpgsql
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_from date;
  v_lo timestamptz;
  v_hi timestamptz;
begin
  if p_day is null then
    raise exception 'p_day must not be null' using errcode = '22004';
  end if;
  perform aggregation.lock(true);
  select s.open_from into v_from from dashboard.creator_rollup_days s for update;
  if p_day > v_from then
    v_lo := v_from::timestamp at time zone 'UTC';
    v_hi := p_day::timestamp at time zone 'UTC';
    -- The days' mashups, locked as a run locks its batch's (FOR KEY SHARE): a delete of one of them
    -- waits for this commit, then takes its counts out of the rows written here
    -- (aggregation.delete_mashup_rollups). The bucket bound is stated for the partial bucket indexes.
    perform 1 from public.mashups m
    where m.id in (select q.mashup_id from public.mashup_quarter_hour_stats q
                   where q.bucket_start >= v_lo and q.bucket_start < v_hi and q.bucket_start > '-infinity')
    for key share of m;
    insert into public.creator_quarter_hour_stats (creator_id, bucket_start, plays, likes, shares)
    select m.creator_id, q.bucket_start, sum(q.plays)::integer, sum(q.likes)::integer, sum(q.shares)::integer
    from public.mashup_quarter_hour_stats q join public.mashups m on m.id = q.mashup_id
    where q.bucket_start >= v_lo and q.bucket_start < v_hi and q.bucket_start > '-infinity'
    group by 1, 2
    having sum(q.plays) <> 0 or sum(q.likes) <> 0 or sum(q.shares) <> 0;
    insert into public.creator_daily_breakdowns (creator_id, date, source, country, device, plays)
    select m.creator_id, (b.bucket_start at time zone 'UTC')::date, b.source, b.country, b.device,
           sum(b.plays)::integer
    from public.mashup_quarter_hour_breakdowns b join public.mashups m on m.id = b.mashup_id
    where b.bucket_start >= v_lo and b.bucket_start < v_hi and b.bucket_start > '-infinity'
    group by 1, 2, 3, 4, 5
    having sum(b.plays) <> 0;
  elsif p_day < v_from then
    delete from public.creator_quarter_hour_stats t where t.bucket_start >= (p_day::timestamp at time zone 'UTC');
    delete from public.creator_daily_breakdowns t where t.date >= p_day;
  end if;
  update dashboard.creator_rollup_days s set open_from = p_day, updated_at = now();
end;
$$;

-- The UTC days that have ended join the creator rollups (run_incremental calls it under its lock:
-- the first run after midnight UTC pays one pass over the day's mashup rows).
create or replace function aggregation.close_creator_days()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_today date := (now() at time zone 'UTC')::date;
begin
  if (select s.open_from from dashboard.creator_rollup_days s) < v_today then
    perform aggregation.open_creator_days_from(v_today);
  end if;
end;
$$;

revoke all on function aggregation.open_creator_days_from(date) from public, anon, authenticated;
revoke all on function aggregation.close_creator_days() from public, anon, authenticated;
grant execute on function aggregation.open_creator_days_from(date) to service_role;
grant execute on function aggregation.close_creator_days() to service_role;

-- The fold writes the creator rollups for closed days only; the run closes ended days first; the
-- dashboard reads open days from the mashups' rollups. (Bodies as in 20261126230000,
-- 20261126230200 and 20261127000000, with the open_from bound added; their settings kept.)
CREATE OR REPLACE FUNCTION aggregation.fold_counts()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'auto'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_days date[];
  -- Creator buckets hold the UTC days before this (dashboard.creator_rollup_days).
  v_open_at timestamptz := (select s.open_from::timestamp at time zone 'UTC' from dashboard.creator_rollup_days s);
begin
  -- A rollup row is written by one MERGE where no index but the primary key can serve the probe
  -- (see the lifetime rows below); the day-grain index on the buckets is partial since
  -- 20261126230100, so a join on the key cannot use it. Inputs in key order: consecutive rows land
  -- on the same index leaves.
  merge into public.mashup_quarter_hour_stats as t
  using (
    select c.mashup_id, c.bucket_start, sum(c.plays)::integer as plays, sum(c.likes)::integer as likes,
           sum(c.shares)::integer as shares, sum(c.comments)::integer as comments,
           sum(c.downloads)::integer as downloads
    from aggregation.fold_count_deltas c group by 1, 2 order by 1, 2
  ) d on t.mashup_id = d.mashup_id and t.bucket_start = d.bucket_start
  when matched then update set
    plays = t.plays + d.plays, likes = t.likes + d.likes, shares = t.shares + d.shares,
    comments = t.comments + d.comments, downloads = t.downloads + d.downloads
  when not matched and (d.plays <> 0 or d.likes <> 0 or d.shares <> 0 or d.comments <> 0 or d.downloads <> 0) then
    insert (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
    values (d.mashup_id, d.bucket_start, d.plays, d.likes, d.shares, d.comments, d.downloads);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  -- Rows exist only for keys with something to count: a row a negative delta (a day recount) may
  -- have emptied is deleted, among the keys that had one.
  delete from public.mashup_quarter_hour_stats t
  using (select distinct c.mashup_id, c.bucket_start from aggregation.fold_count_deltas c
         where c.plays < 0 or c.likes < 0 or c.shares < 0 or c.comments < 0 or c.downloads < 0) k
  where t.mashup_id = k.mashup_id and t.bucket_start = k.bucket_start
    and t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0;

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

  -- Lifetime: counts, new listeners and the plays' retention changes, one write per mashup. A MERGE:
  -- the primary key's probe, then an update in place or an insert (INSERT ... ON CONFLICT DO UPDATE
  -- also locked each existing row before updating it, a WAL record and a page write more per row).
  -- Only aggregation jobs write the rollups, one at a time under aggregation.lock(), so no other
  -- transaction inserts the same key meanwhile; the primary key is the table's only index, so the
  -- probe is the one ON CONFLICT made.
  merge into public.mashup_lifetime_stats as t
  using (
    select x.mashup_id, sum(x.plays) as plays, sum(x.likes) as likes, sum(x.shares) as shares,
           sum(x.comments) as comments, sum(x.downloads) as downloads, sum(x.listeners) as listeners,
           sum(x.tracked_plays) as tracked_plays, sum(x.completed_plays) as completed_plays,
           sum(x.watch_time_seconds) as watch_time_seconds
    from (
      select c.mashup_id, c.plays::bigint as plays, c.likes::bigint as likes, c.shares::bigint as shares,
             c.comments::bigint as comments, c.downloads::bigint as downloads, 0::bigint as listeners,
             0::bigint as tracked_plays, 0::bigint as completed_plays, 0::numeric as watch_time_seconds
      from aggregation.fold_count_deltas c
      union all
      select l.mashup_id, 0, 0, 0, 0, 0, l.listeners, 0, 0, 0 from aggregation.fold_lifetime_listener_deltas l
      union all
      select r.mashup_id, 0, 0, 0, 0, 0, 0, r.plays, r.completed_plays, r.watch_time_seconds
      from aggregation.fold_retention_deltas r
    ) x
    group by 1 order by 1
  ) d on t.mashup_id = d.mashup_id
  when matched then update set
    plays = t.plays + d.plays, likes = t.likes + d.likes, shares = t.shares + d.shares,
    comments = t.comments + d.comments, downloads = t.downloads + d.downloads,
    unique_plays = t.unique_plays + d.listeners,
    tracked_plays = t.tracked_plays + d.tracked_plays,
    completed_plays = t.completed_plays + d.completed_plays,
    watch_time_seconds = t.watch_time_seconds + d.watch_time_seconds,
    avg_watch_time = round((t.watch_time_seconds + d.watch_time_seconds) / nullif(t.tracked_plays + d.tracked_plays, 0), 2)
  when not matched then
    insert (mashup_id, plays, unique_plays, likes, shares, comments, downloads, tracked_plays, completed_plays,
            watch_time_seconds, avg_watch_time)
    values (d.mashup_id, d.plays, d.listeners, d.likes, d.shares, d.comments, d.downloads, d.tracked_plays,
            d.completed_plays, d.watch_time_seconds, round(d.watch_time_seconds / nullif(d.tracked_plays, 0), 2));
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;

  -- The creator's buckets: the sum over their mashups (a MERGE, as above; the primary key is the
  -- table's only index), for the UTC days before open_from only: later days are added when they
  -- close (aggregation.open_creator_days_from). A row a negative delta (a day recount) may have
  -- emptied is deleted after, among the keys that had one.
  merge into public.creator_quarter_hour_stats as t
  using (
    select m.creator_id, c.bucket_start, sum(c.plays)::integer as plays, sum(c.likes)::integer as likes,
           sum(c.shares)::integer as shares
    from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
    where c.bucket_start < v_open_at
    group by 1, 2
    having sum(c.plays) <> 0 or sum(c.likes) <> 0 or sum(c.shares) <> 0
    order by 1, 2
  ) d on t.creator_id = d.creator_id and t.bucket_start = d.bucket_start
  when matched then update set plays = t.plays + d.plays, likes = t.likes + d.likes, shares = t.shares + d.shares
  when not matched then
    insert (creator_id, bucket_start, plays, likes, shares) values (d.creator_id, d.bucket_start, d.plays, d.likes, d.shares);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  delete from public.creator_quarter_hour_stats t
  using (select distinct m.creator_id, c.bucket_start
         from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
         where (c.plays < 0 or c.likes < 0 or c.shares < 0) and c.bucket_start < v_open_at) k
  where t.creator_id = k.creator_id and t.bucket_start = k.bucket_start
    and t.plays = 0 and t.likes = 0 and t.shares = 0;

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
$function$;

CREATE OR REPLACE FUNCTION aggregation.fold_breakdowns()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_days date[];
  v_open_at timestamptz := (select s.open_from::timestamp at time zone 'UTC' from dashboard.creator_rollup_days s);
begin
  -- A MERGE, as in fold_counts(): the bucket-only index is partial (20261126230100), so the probe
  -- goes through the primary key. A key is inserted only with plays to count; a row a negative
  -- delta (a day recount) may have emptied is deleted after, among the keys that had one.
  merge into public.mashup_quarter_hour_breakdowns as t
  using (
    select b.mashup_id, b.bucket_start, b.source, b.country, b.device, sum(b.plays)::integer as plays
    from aggregation.fold_breakdown_deltas b group by 1, 2, 3, 4, 5 having sum(b.plays) <> 0
    order by 1, 2, 3, 4, 5
  ) d on t.mashup_id = d.mashup_id and t.bucket_start = d.bucket_start and t.source = d.source
     and t.country = d.country and t.device = d.device
  when matched then update set plays = t.plays + d.plays
  when not matched then
    insert (mashup_id, bucket_start, source, country, device, plays)
    values (d.mashup_id, d.bucket_start, d.source, d.country, d.device, d.plays);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  delete from public.mashup_quarter_hour_breakdowns t
  using (select distinct b.mashup_id, b.bucket_start from aggregation.fold_breakdown_deltas b where b.plays < 0) k
  where t.mashup_id = k.mashup_id and t.bucket_start = k.bucket_start and t.plays = 0;

  -- The creator's days keep INSERT ... ON CONFLICT: their index on the day alone serves reads by
  -- day, and a MERGE could be planned through it. Only the UTC days before open_from (see
  -- fold_counts): later days are added when they close.
  with d as (
    select m.creator_id, (b.bucket_start at time zone 'UTC')::date as date, b.source, b.country, b.device,
           sum(b.plays)::integer as plays
    from aggregation.fold_breakdown_deltas b join public.mashups m on m.id = b.mashup_id
    where b.bucket_start < v_open_at
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
$function$;

CREATE OR REPLACE FUNCTION aggregation.run_incremental(p_lag interval DEFAULT '00:00:30'::interval, p_overlap interval DEFAULT '00:10:00'::interval, p_max_window interval DEFAULT '06:00:00'::interval, p_until timestamp with time zone DEFAULT NULL::timestamp with time zone, p_job text DEFAULT 'incremental'::text, p_wait boolean DEFAULT false)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
AS $function$
declare
  v_started timestamptz := clock_timestamp();
  v_wm timestamptz;
  v_oldest timestamptz;
  v_to timestamptz;
  v_stats jsonb := '{}'::jsonb;
  v_run bigint;
  v_err text;
  v_ctx text;
begin
  if not aggregation.lock(p_wait) then
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, error)
    values (p_job, 'skipped', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            'another aggregation run held the lock; the next run takes what is queued')
    returning id into v_run;
    return v_run;
  end if;

  begin
    -- p_overlap is not needed any more (nothing is re-read); a negative one was never valid.
    if p_overlap < interval '0' then
      raise exception 'p_overlap must not be negative' using errcode = '22023';
    end if;
    select w.received_through into v_wm from aggregation.watermarks w where w.job = p_job;
    v_to := least(now() - p_lag, p_until);
    select min(q.received_at) into v_oldest from aggregation.pending_events q where q.received_at < v_to;
    v_to := least(v_to, v_oldest + p_max_window);

    -- UTC days that ended since the last run join the creator rollups (once a day: one pass over
    -- that day's mashup buckets).
    perform aggregation.close_creator_days();
    perform aggregation.fold_reset();
    with taken as (
      delete from aggregation.pending_events q where q.received_at < v_to returning q.*
    )
    insert into aggregation.fold_batch select * from taken;
    v_stats := aggregation.fold_new_events();

    insert into aggregation.watermarks as w (job, received_through, updated_at)
    values (p_job, greatest(v_to, v_wm), now())
    on conflict (job) do update
      set received_through = greatest(w.received_through, excluded.received_through), updated_at = excluded.updated_at;

    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                  events_read, mashup_days, user_days, plays, mashups, rows_written)
    values (p_job, 'succeeded', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_oldest, v_to,
            (v_stats ->> 'events_read')::bigint, (v_stats ->> 'mashup_days')::integer,
            (v_stats ->> 'user_days')::integer, (v_stats ->> 'plays')::integer, (v_stats ->> 'mashups')::integer,
            (v_stats ->> 'rows_written')::bigint)
    returning id into v_run;
  exception when others or query_canceled then
    -- Everything above is rolled back (the queue's DELETE too): the next run takes the same events.
    get stacked diagnostics v_err = message_text, v_ctx = pg_exception_context;
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end, error)
    values (p_job, 'failed', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_oldest, v_to,
            v_err || coalesce(E'\n' || v_ctx, ''))
    returning id into v_run;
  end;
  return v_run;
end;
$function$;

CREATE OR REPLACE FUNCTION public.dashboard_breakdown_totals(p_creators uuid[], p_mashups uuid[], p_from timestamp with time zone, p_to timestamp with time zone)
 RETURNS TABLE(source text, country text, device text, plays bigint)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_sort TO 'off'
AS $function$
declare
  p record;
  v_closed_end date;
  v_tail_start timestamptz;
begin
  select * into p from public.dashboard_period_parts(p_from, p_to);
  -- The creator rollups hold the UTC days before open_from: whole days from open_from on are read
  -- from the mashups' buckets with the period's tail (a stable function: one snapshot for both).
  v_closed_end := least(p.end_day, greatest(p.first_day,
                    coalesce((select s.open_from from dashboard.creator_rollup_days s), p.end_day)));
  v_tail_start := case when v_closed_end < p.end_day then v_closed_end::timestamp at time zone 'UTC'
                       else p.tail_start end;
  return query
  select parts.source, parts.country, parts.device, sum(parts.plays)::bigint
  from (
    -- Grouped byte-wise (20261126100400): the same groups, cheaper to sort.
    select b.source collate "C" as source, b.country collate "C" as country, b.device collate "C" as device,
           b.plays
    from public.creator_daily_breakdowns b
    where b.creator_id = any (p_creators) and b.date >= p.first_day and b.date < v_closed_end
    union all
    select b.source, b.country, b.device, b.plays
    from public.mashup_quarter_hour_breakdowns b
    where b.mashup_id = any (p_mashups) and b.bucket_start >= p_from and b.bucket_start < p.head_end
    union all
    select b.source, b.country, b.device, b.plays
    from public.mashup_quarter_hour_breakdowns b
    where b.mashup_id = any (p_mashups) and b.bucket_start < p_to and b.bucket_start >= v_tail_start
  ) parts
  group by 1, 2, 3;
end;
$function$;

CREATE OR REPLACE FUNCTION dashboard.get_creator_dashboard(p_start date, p_end date, p_tz text DEFAULT 'UTC'::text, p_limit integer DEFAULT 10)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  bounds record;
  prev_start_at timestamptz;
  uid uuid := auth.uid();
  -- The mashups this caller may see (RLS: a creator's own; all for the service role). Filtering
  -- the rollups by these ids lets every read below use the (mashup_id, bucket_start) keys; left to
  -- the row-level policy alone, the planner scanned every creator's buckets of the period.
  visible uuid[] := array(select m.id from public.mashups m);
  visible_creators uuid[] := array(select distinct m.creator_id from public.mashups m);
  -- The creator buckets hold the UTC days before this; later ones are read from the mashups' buckets.
  open_at timestamptz := coalesce((select s.open_from::timestamp at time zone 'UTC' from dashboard.creator_rollup_days s),
                                  'infinity');
  result jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100 then
    raise exception 'limit must be between 1 and 100' using errcode = '22023', hint = 'limit';
  end if;
  select * into bounds from public.dashboard_period_bounds(p_start, p_end, p_tz);
  -- The previous period of equal length, in the same zone's local days (its first instant, as
  -- for the period: dashboard_local_midnight).
  prev_start_at := public.dashboard_local_midnight(p_start - (p_end - p_start), p_tz);

  with buckets as (
    -- One row per bucket of the creator (not per mashup and bucket): see creator_quarter_hour_stats.
    select (s.bucket_start at time zone p_tz)::date as day, s.plays, s.likes, s.shares
    from public.creator_quarter_hour_stats s
    where s.creator_id = any (visible_creators) and s.bucket_start >= bounds.start_at
      and s.bucket_start < least(bounds.end_at, open_at)
    union all
    -- The UTC days not yet closed into the creator rollups (today, usually): the mashups' buckets.
    select (q.bucket_start at time zone p_tz)::date, q.plays, q.likes, q.shares
    from public.mashup_quarter_hour_stats q
    where q.mashup_id = any (visible) and q.bucket_start >= greatest(bounds.start_at, open_at)
      and q.bucket_start < bounds.end_at
  ),
  days as (
    select d::date as day from generate_series(p_start::timestamp, (p_end - 1)::timestamp, interval '1 day') as d
  ),
  per_day as (
    select days.day, coalesce(sum(b.plays), 0)::bigint as plays, coalesce(sum(b.likes), 0)::bigint as likes
    from days left join buckets b on b.day = days.day
    group by days.day
  ),
  per_mashup as (
    select t.mashup_id, t.plays, t.likes
    from public.dashboard_mashup_totals(visible, bounds.start_at, bounds.end_at) t
  ),
  previous as (
    select t.mashup_id, t.plays
    from public.dashboard_mashup_totals(visible, prev_start_at, bounds.start_at) t
  ),
  top as (
    select pm.mashup_id, m.title, pm.plays, pm.likes,
           case when coalesce(pv.plays, 0) = 0 then null
                else round((pm.plays - pv.plays) * 100.0 / pv.plays)::integer end as growth
    from per_mashup pm
    join public.mashups m on m.id = pm.mashup_id
    left join previous pv on pv.mashup_id = pm.mashup_id
    where pm.plays > 0 or pm.likes > 0
    order by pm.plays desc, pm.likes desc, m.title, pm.mashup_id
    limit p_limit
  ),
  breakdowns as (
    select b.source, b.country, b.device, b.plays
    from public.dashboard_breakdown_totals(visible_creators, visible, bounds.start_at, bounds.end_at) b
  ),
  by_source as (select source as key, sum(plays)::bigint as n from breakdowns group by source),
  by_country as (select country as key, sum(plays)::bigint as n from breakdowns group by country),
  by_device as (select device as key, sum(plays)::bigint as n from breakdowns group by device)
  select jsonb_build_object(
    'period', jsonb_build_object('start', p_start, 'end', p_end),
    'summary', jsonb_build_object(
      'totalPlays', (select coalesce(sum(plays), 0) from buckets),
      'totalLikes', (select coalesce(sum(likes), 0) from buckets),
      'totalShares', (select coalesce(sum(shares), 0) from buckets),
      -- Current counts: a follow has no period, and RLS shows a user only their own follows.
      'followers', (select count(*) from public.follows f where f.creator_id = uid),
      'following', (select count(*) from public.follows f where f.follower_id = uid)
    ),
    'trends', jsonb_build_object(
      'playsOverTime', (select jsonb_agg(jsonb_build_object('date', day, 'plays', plays) order by day) from per_day),
      'likesOverTime', (select jsonb_agg(jsonb_build_object('date', day, 'likes', likes) order by day) from per_day)
    ),
    'topContent', coalesce((
      select jsonb_agg(jsonb_build_object('mashupId', mashup_id, 'title', title, 'plays', plays,
                                          'likes', likes, 'growth', growth)
                       order by plays desc, likes desc, title, mashup_id)
      from top), '[]'::jsonb),
    'sources', coalesce((
      select jsonb_agg(jsonb_build_object('source', p.key, 'count', p.count, 'percentage', p.percentage))
      from public.whole_percentages((select array_agg(key) from by_source), (select array_agg(n) from by_source)) p
    ), '[]'::jsonb),
    'demographics', jsonb_build_object(
      'countries', coalesce((
        select jsonb_agg(jsonb_build_object('country', p.key, 'percentage', p.percentage))
        from public.whole_percentages((select array_agg(key) from by_country), (select array_agg(n) from by_country)) p
      ), '[]'::jsonb),
      'devices', coalesce((
        select jsonb_agg(jsonb_build_object('device', p.key, 'percentage', p.percentage))
        from public.whole_percentages((select array_agg(key) from by_device), (select array_agg(n) from by_device)) p
      ), '[]'::jsonb)
    )
  ) into result;
  return result;
end;
$function$;
