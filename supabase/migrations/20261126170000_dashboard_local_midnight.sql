-- A local day starts at its first instant, also where midnight happens twice.
--
-- The dashboards turned a local date into an instant with `date::timestamp at time zone tz`. Where
-- a fall-back change repeats midnight (Atlantic/Azores on 2026-10-25: 01:00 -> 00:00 at 01:00 UTC;
-- America/Havana on 2026-11-01: 01:00 -> 00:00), PostgreSQL reads the repeated wall time with the
-- offset in force after the change, i.e. the SECOND midnight. So the local day 2026-10-25 in the
-- Azores began an hour late: its first hour (00:00-01:00 UTC, local 00:00-01:00 +00) counted in no
-- day of a period starting that day, and in the totals, peak hours, retention, growth and
-- comparison of a period ending that day without appearing in its daily series (totals <> sum of
-- the series). Found by tests/sql/43_dashboard_randomized_zones.test.sql against a recount that
-- takes each event's local date (`"timestamp" at time zone tz`)::date.
--
-- public.dashboard_local_midnight(day, tz) is the first instant whose local date is `day`:
-- PostgreSQL's reading, or an earlier instant that also reads as `day` 00:00 under the offset in
-- force shortly before (checked in 15-minute steps up to 4 hours back, more than any change of
-- offset). Where midnight falls in a gap (spring-forward at 00:00, e.g. Havana 2026-03-08),
-- PostgreSQL's reading (the first instant after the gap) is already the first instant of the day.
-- Where the offset 4 hours earlier is the same, PostgreSQL's reading is returned at once (~12 us a
-- call). Checked against the first minute with that local date for every zone PostgreSQL knows
-- and every day from 2015 to 2035 (4,578,990 zone-days, 95 of them with a repeated midnight): equal.
-- It replaces the expression in the period bounds (every dashboard RPC and the comparison read
-- them) and in the creator dashboard's previous period (topContent growth); the rest of
-- dashboard.get_creator_dashboard is unchanged (body of 20261126020500, moved by 20261126065000).

create function public.dashboard_local_midnight(p_day date, p_tz text)
returns timestamptz
language sql
immutable
parallel safe
security invoker
set search_path = ''
as $$
  select case
    -- No change of offset in the 4 hours before: PostgreSQL's reading is the only midnight.
    when (pg.at at time zone p_tz) - (pg.at at time zone 'UTC')
         = ((pg.at - interval '4 hours') at time zone p_tz) - ((pg.at - interval '4 hours') at time zone 'UTC')
      then pg.at
    else (
      select min(c.at)
      from (
        select pg.at
        union all
        -- local midnight under the offset in force k quarter-hours before PostgreSQL's reading
        select (p_day::timestamp - ((pg.at - k * interval '15 minutes') at time zone p_tz
                                    - (pg.at - k * interval '15 minutes') at time zone 'UTC')) at time zone 'UTC'
        from generate_series(1, 16) as k
      ) c (at)
      where c.at = pg.at or (c.at at time zone p_tz) = p_day::timestamp)
  end
  from (select p_day::timestamp at time zone p_tz as at) pg;
$$;
comment on function public.dashboard_local_midnight(date, text) is
  'The first instant of local date p_day in zone p_tz (also where a fall-back change repeats midnight).';
revoke execute on function public.dashboard_local_midnight(date, text) from public, anon;
grant execute on function public.dashboard_local_midnight(date, text) to authenticated, service_role;

-- Unchanged but for the two bounds.
create or replace function public.dashboard_period_bounds(p_start date, p_end date, p_tz text,
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
    start_at := public.dashboard_local_midnight(p_start, p_tz);
    end_at := public.dashboard_local_midnight(p_end, p_tz);
  exception when invalid_parameter_value then
    raise exception 'tz is not a known IANA time zone: %', p_tz using errcode = '22023', hint = 'tz';
  end;
end;
$$;

create or replace function dashboard.get_creator_dashboard(p_start date, p_end date, p_tz text default 'UTC',
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
  -- The previous period of equal length, in the same zone's local days (its first instant, as
  -- for the period: dashboard_local_midnight).
  prev_start_at := public.dashboard_local_midnight(p_start - (p_end - p_start), p_tz);

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
