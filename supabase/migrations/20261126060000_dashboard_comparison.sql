-- compare=previous: the dashboard and mashup responses with the previous period beside them.
-- The plan's functions are not touched (several branches redefine them): new functions wrap them
-- and add one `comparison` key, so without the parameter the plan's JSON is exactly as before.
-- The previous period is the one of equal length just before, in the same zone's local days
-- (the rule top content's growth already uses). SECURITY INVOKER throughout: RLS decides what the
-- caller sees, in the comparison as in the response it sits in.

-- Change from previous to current as whole percent; null without a previous figure (the growth rule).
create function public.percent_change(p_current bigint, p_previous bigint)
returns integer
language sql
immutable
security invoker
set search_path = ''
as $$
  select case when coalesce(p_previous, 0) = 0 then null
              else round((coalesce(p_current, 0) - p_previous) * 100.0 / p_previous)::integer end;
$$;

-- Plays, likes and shares of some mashups over a local period, in total and per local day (zero-filled).
create function public.period_totals(p_mashup_ids uuid[], p_start date, p_end date, p_tz text)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  with bounds as (
    select * from public.dashboard_period_bounds(p_start, p_end, p_tz)
  ),
  buckets as (
    select (s.bucket_start at time zone p_tz)::date as day, s.plays, s.likes, s.shares
    from public.mashup_quarter_hour_stats s, bounds b
    where s.mashup_id = any (p_mashup_ids) and s.bucket_start >= b.start_at and s.bucket_start < b.end_at
  ),
  per_day as (
    select d::date as day, coalesce(sum(b.plays), 0)::bigint as plays, coalesce(sum(b.likes), 0)::bigint as likes,
           coalesce(sum(b.shares), 0)::bigint as shares
    from generate_series(p_start::timestamp, (p_end - 1)::timestamp, interval '1 day') as d
    left join buckets b on b.day = d::date
    group by d
  )
  select jsonb_build_object(
    'plays', sum(plays), 'likes', sum(likes), 'shares', sum(shares),
    'daily', jsonb_agg(jsonb_build_object('date', day, 'plays', plays, 'likes', likes, 'shares', shares) order by day)
  )
  from per_day;
$$;

-- The dashboard's comparison object, given the current period's summary (from the dashboard itself).
-- Totals and series are the previous period's; followers and following have no period, so their
-- previous figure is the count at the start of the period (follows made before it that still stand).
create function public.dashboard_comparison(p_summary jsonb, p_start date, p_end date, p_tz text)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  visible uuid[] := array(select m.id from public.mashups m);
  prev_start date := p_start - (p_end - p_start);
  start_at timestamptz;
  prev jsonb;
  previous jsonb;
begin
  select b.start_at into start_at from public.dashboard_period_bounds(p_start, p_end, p_tz) b;
  prev := public.period_totals(visible, prev_start, p_start, p_tz);
  previous := jsonb_build_object(
    'totalPlays', prev -> 'plays',
    'totalLikes', prev -> 'likes',
    'totalShares', prev -> 'shares',
    'followers', (select count(*) from public.follows f where f.creator_id = uid and f.created_at < start_at),
    'following', (select count(*) from public.follows f where f.follower_id = uid and f.created_at < start_at)
  );
  return jsonb_build_object(
    'period', jsonb_build_object('start', prev_start, 'end', p_start),
    'summary', previous,
    'change', (select jsonb_object_agg(k, public.percent_change((p_summary ->> k)::bigint, (previous ->> k)::bigint))
               from jsonb_object_keys(previous) as k),
    'trends', jsonb_build_object(
      'playsOverTime', (select jsonb_agg(jsonb_build_object('date', d -> 'date', 'plays', d -> 'plays') order by i)
                        from jsonb_array_elements(prev -> 'daily') with ordinality as e (d, i)),
      'likesOverTime', (select jsonb_agg(jsonb_build_object('date', d -> 'date', 'likes', d -> 'likes') order by i)
                        from jsonb_array_elements(prev -> 'daily') with ordinality as e (d, i))
    )
  );
end;
$$;

create function public.check_compare(p_compare text)
returns void
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if p_compare is distinct from 'previous' then
    raise exception 'compare must be previous' using errcode = '22023', hint = 'compare';
  end if;
end;
$$;

-- GET /analytics/dashboard?compare=previous
create function public.get_creator_dashboard_with_comparison(p_start date, p_end date, p_tz text default 'UTC',
                                                              p_limit integer default 10,
                                                              p_compare text default 'previous')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  dashboard jsonb;
begin
  perform public.check_compare(p_compare);
  dashboard := public.get_creator_dashboard(p_start, p_end, p_tz, p_limit);
  return dashboard || jsonb_build_object(
    'comparison', public.dashboard_comparison(dashboard -> 'summary', p_start, p_end, p_tz));
end;
$$;
comment on function public.get_creator_dashboard_with_comparison(date, date, text, integer, text) is
  'get_creator_dashboard plus `comparison`: the previous period''s summary, change in % and series.';

-- GET /analytics/mashups/:id?compare=previous
create function public.get_mashup_analytics_with_comparison(p_mashup_id uuid, p_start date, p_end date,
                                                             p_tz text default 'UTC',
                                                             p_compare text default 'previous')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  analytics jsonb;
  prev_start date := p_start - (p_end - p_start);
  cur jsonb;
  prev jsonb;
begin
  perform public.check_compare(p_compare);
  -- First: it raises the 404 for a mashup the caller cannot see.
  analytics := public.get_mashup_analytics(p_mashup_id, p_start, p_end, p_tz);
  cur := public.period_totals(array[p_mashup_id], p_start, p_end, p_tz);
  prev := public.period_totals(array[p_mashup_id], prev_start, p_start, p_tz);
  return analytics || jsonb_build_object('comparison', jsonb_build_object(
    'period', jsonb_build_object('start', prev_start, 'end', p_start),
    'summary', jsonb_build_object('plays', prev -> 'plays', 'likes', prev -> 'likes', 'shares', prev -> 'shares'),
    'change', jsonb_build_object(
      'plays', public.percent_change((cur ->> 'plays')::bigint, (prev ->> 'plays')::bigint),
      'likes', public.percent_change((cur ->> 'likes')::bigint, (prev ->> 'likes')::bigint),
      'shares', public.percent_change((cur ->> 'shares')::bigint, (prev ->> 'shares')::bigint)),
    'daily', (select jsonb_agg(jsonb_build_object('date', d -> 'date', 'plays', d -> 'plays', 'likes', d -> 'likes')
                               order by i)
              from jsonb_array_elements(prev -> 'daily') with ordinality as e (d, i))
  ));
end;
$$;
comment on function public.get_mashup_analytics_with_comparison(uuid, date, date, text, text) is
  'get_mashup_analytics plus `comparison`: the previous period''s plays, likes, shares, change in % and daily series.';

revoke execute on function public.percent_change(bigint, bigint), public.period_totals(uuid[], date, date, text),
  public.dashboard_comparison(jsonb, date, date, text), public.check_compare(text),
  public.get_creator_dashboard_with_comparison(date, date, text, integer, text),
  public.get_mashup_analytics_with_comparison(uuid, date, date, text, text) from public, anon;
grant execute on function public.percent_change(bigint, bigint), public.period_totals(uuid[], date, date, text),
  public.dashboard_comparison(jsonb, date, date, text), public.check_compare(text),
  public.get_creator_dashboard_with_comparison(date, date, text, integer, text),
  public.get_mashup_analytics_with_comparison(uuid, date, date, text, text) to authenticated, service_role;
