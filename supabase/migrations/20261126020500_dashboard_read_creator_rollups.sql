-- The dashboard reads the biggest creators fast: it no longer reads every mashup's 15-minute buckets
-- of the period.
--   totals, trends ........ creator_quarter_hour_stats (one row per creator and bucket)
--   topContent, growth .... dashboard_mashup_totals(): whole UTC days from mashup_daily_stats, only the
--                           period's edges (a local-zone period starts and ends inside UTC days) from
--                           mashup_quarter_hour_stats
--   sources, demographics . dashboard_breakdown_totals(): whole UTC days from creator_daily_breakdowns,
--                           the edges from mashup_quarter_hour_breakdowns
-- Every number is the same sum as before, over the same buckets (days are exact unions of buckets),
-- so every response is unchanged. get_creator_dashboard keeps its body apart from where those
-- three reads come from (other branches change it too: keep the change small).

-- A period [p_from, p_to) as whole UTC days [first_day, end_day) plus up to two edge ranges.
create function public.dashboard_period_parts(p_from timestamptz, p_to timestamptz,
                                              out first_day date, out end_day date,
                                              out head_end timestamptz, out tail_start timestamptz)
language sql
immutable
security invoker
set search_path = ''
as $$
  with d as (
    select (p_from at time zone 'UTC')::date
             + case when p_from = ((p_from at time zone 'UTC')::date::timestamp at time zone 'UTC') then 0 else 1 end
             as d0,
           (p_to at time zone 'UTC')::date as d1
  )
  select d.d0, greatest(d.d1, d.d0),
         case when d.d1 > d.d0 then d.d0::timestamp at time zone 'UTC' else p_to end,
         case when d.d1 > d.d0 then d.d1::timestamp at time zone 'UTC' else p_to end
  from d
$$;
comment on function public.dashboard_period_parts(timestamptz, timestamptz) is
  'Splits [p_from, p_to) into whole UTC days [first_day, end_day) and the edges [p_from, head_end), '
  '[tail_start, p_to).';

-- Plays and likes per mashup over [p_from, p_to): day rows for whole UTC days, buckets at the edges.
create function public.dashboard_mashup_totals(p_mashups uuid[], p_from timestamptz, p_to timestamptz)
returns table (mashup_id uuid, plays bigint, likes bigint)
language sql
stable
security invoker
set search_path = ''
as $$
  with p as (select * from public.dashboard_period_parts(p_from, p_to)),
  parts as (
    select d.mashup_id, d.plays, d.likes
    from public.mashup_daily_stats d, p
    where d.mashup_id = any (p_mashups) and d.date >= p.first_day and d.date < p.end_day
    union all
    select s.mashup_id, s.plays, s.likes
    from public.mashup_quarter_hour_stats s, p
    where s.mashup_id = any (p_mashups) and s.bucket_start >= p_from and s.bucket_start < p.head_end
    union all
    select s.mashup_id, s.plays, s.likes
    from public.mashup_quarter_hour_stats s, p
    where s.mashup_id = any (p_mashups) and s.bucket_start >= p.tail_start and s.bucket_start < p_to
  )
  select parts.mashup_id, sum(parts.plays)::bigint, sum(parts.likes)::bigint from parts group by parts.mashup_id
$$;
comment on function public.dashboard_mashup_totals(uuid[], timestamptz, timestamptz) is
  'Plays and likes per mashup over a period: whole UTC days from mashup_daily_stats, edges from buckets.';

-- Plays per (source, country, device) over [p_from, p_to) for these creators' mashups.
create function public.dashboard_breakdown_totals(p_creators uuid[], p_mashups uuid[], p_from timestamptz,
                                                  p_to timestamptz)
returns table (source text, country text, device text, plays bigint)
language sql
stable
security invoker
set search_path = ''
as $$
  with p as (select * from public.dashboard_period_parts(p_from, p_to)),
  parts as (
    select b.source, b.country, b.device, b.plays
    from public.creator_daily_breakdowns b, p
    where b.creator_id = any (p_creators) and b.date >= p.first_day and b.date < p.end_day
    union all
    select b.source, b.country, b.device, b.plays
    from public.mashup_quarter_hour_breakdowns b, p
    where b.mashup_id = any (p_mashups) and b.bucket_start >= p_from and b.bucket_start < p.head_end
    union all
    select b.source, b.country, b.device, b.plays
    from public.mashup_quarter_hour_breakdowns b, p
    where b.mashup_id = any (p_mashups) and b.bucket_start >= p.tail_start and b.bucket_start < p_to
  )
  select parts.source, parts.country, parts.device, sum(parts.plays)::bigint from parts group by 1, 2, 3
$$;
comment on function public.dashboard_breakdown_totals(uuid[], uuid[], timestamptz, timestamptz) is
  'Plays per source, country and device over a period: whole UTC days from creator_daily_breakdowns, '
  'edges from mashup_quarter_hour_breakdowns.';

revoke execute on function public.dashboard_period_parts(timestamptz, timestamptz),
  public.dashboard_mashup_totals(uuid[], timestamptz, timestamptz),
  public.dashboard_breakdown_totals(uuid[], uuid[], timestamptz, timestamptz) from public, anon;
grant execute on function public.dashboard_period_parts(timestamptz, timestamptz),
  public.dashboard_mashup_totals(uuid[], timestamptz, timestamptz),
  public.dashboard_breakdown_totals(uuid[], uuid[], timestamptz, timestamptz) to authenticated, service_role;

-- GET /api/analytics/dashboard ---------------------------------------------------------------
create or replace function public.get_creator_dashboard(p_start date, p_end date, p_tz text default 'UTC',
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
  visible_creators uuid[] := array(select distinct m.creator_id from public.mashups m);
  result jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100 then
    raise exception 'limit must be between 1 and 100' using errcode = '22023', hint = 'limit';
  end if;
  select * into bounds from public.dashboard_period_bounds(p_start, p_end, p_tz);
  -- The previous period of equal length, in the same zone's local days.
  prev_start_at := (p_start - (p_end - p_start))::timestamp at time zone p_tz;

  with buckets as (
    -- One row per bucket of the creator (not per mashup and bucket): see creator_quarter_hour_stats.
    select (s.bucket_start at time zone p_tz)::date as day, s.plays, s.likes, s.shares
    from public.creator_quarter_hour_stats s
    where s.creator_id = any (visible_creators) and s.bucket_start >= bounds.start_at and s.bucket_start < bounds.end_at
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
$$;
comment on function public.get_creator_dashboard(date, date, text, integer) is
  'The plan''s dashboard response for the caller''s mashups (platform-wide for the service role).';
