-- The dashboard API in SQL: the plan's creator dashboard and mashup analytics responses, built
-- from rollups only (never raw events), callable as RPC under the caller's identity. SECURITY
-- INVOKER: row-level security on the rollups is what limits a creator to their own mashups, so a
-- client calling these RPCs directly gets exactly what the analytics Edge Function returns; the
-- service role (RLS bypassed) gets the platform-wide figures.
--
-- Time: a period is p_start..p_end, half-open, in local days of the IANA zone p_tz. Local days and
-- local hours are sums of the 15-minute UTC buckets of mashup_quarter_hour_stats, exact in every
-- zone and across daylight-saving changes (every zone's offset is a multiple of 15 minutes).

-- Checks a period and returns its bounds as instants. Errors use SQLSTATE 22023 with the
-- parameter's name as HINT, which the Edge Function turns into a 400 naming that parameter.
create function public.dashboard_period_bounds(p_start date, p_end date, p_tz text,
                                               out start_at timestamptz, out end_at timestamptz)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if p_start is null then
    raise exception 'start is required' using errcode = '22023', hint = 'start';
  end if;
  if p_end is null then
    raise exception 'end is required' using errcode = '22023', hint = 'end';
  end if;
  if p_end <= p_start then
    raise exception 'end must be after start' using errcode = '22023', hint = 'end';
  end if;
  if p_end - p_start > 366 then
    raise exception 'end must be at most 366 days after start' using errcode = '22023', hint = 'end';
  end if;
  begin
    start_at := p_start::timestamp at time zone p_tz;
    end_at := p_end::timestamp at time zone p_tz;
  exception when invalid_parameter_value then
    raise exception 'tz is not a known IANA time zone: %', p_tz using errcode = '22023', hint = 'tz';
  end;
end;
$$;

-- Whole percentages of a set of counts that sum to exactly 100 (largest remainder: floors first,
-- then one point each to the largest fractional parts). Keys with ties keep a stable order.
create function public.whole_percentages(p_keys text[], p_counts bigint[])
returns table (key text, count bigint, percentage integer)
language sql
immutable
security invoker
set search_path = ''
as $$
  with input as (
    select k as key, c as count from unnest(p_keys, p_counts) as u (k, c) where c > 0
  ), exact as (
    select key, count, count * 100.0 / sum(count) over () as share from input
  ), floored as (
    select key, count, floor(share)::integer as base, share - floor(share) as remainder,
           100 - sum(floor(share)::integer) over () as missing
    from exact
  )
  select key, count,
         base + case when row_number() over (order by remainder desc, count desc, key) <= missing
                     then 1 else 0 end
  from floored
  order by count desc, key;
$$;

-- GET /api/analytics/dashboard ---------------------------------------------------------------
create function public.get_creator_dashboard(p_start date, p_end date, p_tz text default 'UTC',
                                             p_limit integer default 10)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  bounds record;
  prev_start_at timestamptz;
  uid uuid := auth.uid();
  -- The mashups this caller may see (RLS: a creator's own; all for the service role). Filtering
  -- the rollups by these ids lets every read below use the (mashup_id, bucket_start) keys; left to
  -- the row-level policy alone, the planner scanned every creator's buckets of the period.
  visible uuid[] := array(select m.id from public.mashups m);
  result jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100 then
    raise exception 'limit must be between 1 and 100' using errcode = '22023', hint = 'limit';
  end if;
  select * into bounds from public.dashboard_period_bounds(p_start, p_end, p_tz);
  -- The previous period of equal length, in the same zone's local days.
  prev_start_at := (p_start - (p_end - p_start))::timestamp at time zone p_tz;

  with buckets as (
    select s.mashup_id, (s.bucket_start at time zone p_tz)::date as day, s.plays, s.likes, s.shares
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = any (visible) and s.bucket_start >= bounds.start_at and s.bucket_start < bounds.end_at
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
    select b.mashup_id, sum(b.plays)::bigint as plays, sum(b.likes)::bigint as likes
    from buckets b group by b.mashup_id
  ),
  previous as (
    select s.mashup_id, sum(s.plays)::bigint as plays
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = any (visible) and s.bucket_start >= prev_start_at and s.bucket_start < bounds.start_at
    group by s.mashup_id
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
    from public.mashup_quarter_hour_breakdowns b
    where b.mashup_id = any (visible) and b.bucket_start >= bounds.start_at and b.bucket_start < bounds.end_at
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
$$;
comment on function public.get_creator_dashboard(date, date, text, integer) is
  'The plan''s dashboard response for the caller''s mashups (platform-wide for the service role).';

-- GET /api/analytics/mashups/:id ---------------------------------------------------------------
create function public.get_mashup_analytics(p_mashup_id uuid, p_start date, p_end date,
                                            p_tz text default 'UTC')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  bounds record;
  m record;
  result jsonb;
begin
  select * into bounds from public.dashboard_period_bounds(p_start, p_end, p_tz);
  -- RLS hides another creator's mashup: it is then exactly as missing as one that does not exist.
  -- Code P0002 (no_data_found) with HTTP status 404, from PostgREST and the Edge Function alike.
  select mm.id, mm.title, mm.created_at, mm.duration_seconds into m
  from public.mashups mm where mm.id = p_mashup_id;
  if not found then
    -- PostgREST's custom-status form: clients get 404 {"code":"P0002",...} from RPC as well.
    raise sqlstate 'PGRST' using
      message = json_build_object('code', 'P0002', 'message', 'mashup not found', 'hint', 'id',
                                  'details', null)::text,
      detail = json_build_object('status', 404, 'headers', json_build_object())::text;
  end if;

  with buckets as (
    select s.bucket_start, s.plays, s.likes
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = m.id and s.bucket_start >= bounds.start_at and s.bucket_start < bounds.end_at
  ),
  days as (
    select d::date as day from generate_series(p_start::timestamp, (p_end - 1)::timestamp, interval '1 day') as d
  ),
  per_day as (
    select days.day, coalesce(sum(b.plays), 0)::bigint as plays, coalesce(sum(b.likes), 0)::bigint as likes
    from days left join buckets b on (b.bucket_start at time zone p_tz)::date = days.day
    group by days.day
  ),
  per_hour as (
    select extract(hour from b.bucket_start at time zone p_tz)::integer as hour, sum(b.plays)::bigint as plays
    from buckets b group by 1 having sum(b.plays) > 0
  ),
  plays as (
    select ps.furthest_position_seconds as furthest, ps.completed
    from public.mashup_play_summaries ps
    where ps.mashup_id = m.id and ps.started_at >= bounds.start_at and ps.started_at < bounds.end_at
  ),
  -- Drop-off checkpoints: every 30 seconds, and the end of the mashup.
  checkpoints as (
    select t from generate_series(30, m.duration_seconds - 1, 30) as t
    union select m.duration_seconds
  ),
  lifetime as (
    select l.plays, l.unique_plays, l.likes, l.shares, l.comments
    from public.mashup_lifetime_stats l where l.mashup_id = m.id
  )
  select jsonb_build_object(
    'mashup', jsonb_build_object('id', m.id, 'title', m.title, 'createdAt', m.created_at),
    'lifetime', jsonb_build_object(
      'plays', coalesce((select plays from lifetime), 0),
      'uniquePlays', coalesce((select unique_plays from lifetime), 0),
      'likes', coalesce((select likes from lifetime), 0),
      'shares', coalesce((select shares from lifetime), 0),
      'comments', coalesce((select comments from lifetime), 0)
    ),
    'retention', jsonb_build_object(
      'avgWatchTime', coalesce((select round(avg(furthest), 1) from plays), 0),
      'completionRate', coalesce((select round(100.0 * count(*) filter (where completed) / nullif(count(*), 0))::integer
                                  from plays), 0),
      'dropOffPoints', coalesce((
        select jsonb_agg(jsonb_build_object('time', c.t, 'percentage',
                 (select round(100.0 * count(*) filter (where p.furthest < c.t) / count(*))::integer from plays p))
               order by c.t)
        from checkpoints c where exists (select 1 from plays)
      ), '[]'::jsonb)
    ),
    'daily', (select jsonb_agg(jsonb_build_object('date', day, 'plays', plays, 'likes', likes) order by day)
              from per_day),
    'peakTimes', coalesce((select jsonb_agg(jsonb_build_object('hour', hour, 'plays', plays)
                                            order by plays desc, hour) from per_hour), '[]'::jsonb)
  ) into result;
  return result;
end;
$$;
comment on function public.get_mashup_analytics(uuid, date, date, text) is
  'The plan''s mashup analytics response; raises P0002 (404) for a mashup the caller cannot see.';

-- Readable by signed-in creators and the service role only; anon gets nothing.
revoke execute on function public.get_creator_dashboard(date, date, text, integer) from public, anon;
revoke execute on function public.get_mashup_analytics(uuid, date, date, text) from public, anon;
revoke execute on function public.dashboard_period_bounds(date, date, text) from public, anon;
grant execute on function public.get_creator_dashboard(date, date, text, integer) to authenticated, service_role;
grant execute on function public.get_mashup_analytics(uuid, date, date, text) to authenticated, service_role;
grant execute on function public.dashboard_period_bounds(date, date, text) to authenticated, service_role;
