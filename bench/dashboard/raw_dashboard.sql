-- The baseline of bench/dashboard: the same dashboard response built on demand from raw events,
-- the way the plan's API would without rollups (counts over analytics_events for the period, the
-- previous period for growth, group-bys for sources, countries, devices). Benchmark-only: lives in
-- schema bench of the benchmark stack, never in a migration.
create schema if not exists bench;

create or replace function bench.dashboard_from_raw(p_creator uuid, p_start date, p_end date, p_tz text, p_limit int)
returns jsonb
language sql
stable
set search_path = ''
as $$
  with bounds as (
    select p_start::timestamp at time zone p_tz as s, p_end::timestamp at time zone p_tz as e,
           (p_start - (p_end - p_start))::timestamp at time zone p_tz as ps
  ),
  mine as (select id, title from public.mashups where creator_id = p_creator),
  ev as (
    select a.mashup_id, a.event_type, (a."timestamp" at time zone p_tz)::date as day, a.properties ->> 'source' as source,
           a.country, a.device
    from public.analytics_events a, bounds b
    where a.mashup_id in (select id from mine) and a."timestamp" >= b.s and a."timestamp" < b.e
      and a.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared')
  ),
  prev as (
    select a.mashup_id, count(*) as plays
    from public.analytics_events a, bounds b
    where a.mashup_id in (select id from mine) and a."timestamp" >= b.ps and a."timestamp" < b.s
      and a.event_type = 'mashup_played'
    group by a.mashup_id
  ),
  days as (select d::date as day from generate_series(p_start::timestamp, (p_end - 1)::timestamp, interval '1 day') d),
  plays as (select * from ev where event_type = 'mashup_played')
  select jsonb_build_object(
    'period', jsonb_build_object('start', p_start, 'end', p_end),
    'summary', jsonb_build_object(
      'totalPlays', (select count(*) from plays),
      'totalLikes', (select count(*) from ev where event_type = 'mashup_liked'),
      'totalShares', (select count(*) from ev where event_type = 'mashup_shared'),
      'followers', (select count(*) from public.follows where creator_id = p_creator),
      'following', (select count(*) from public.follows where follower_id = p_creator)),
    'trends', jsonb_build_object(
      'playsOverTime', (select jsonb_agg(jsonb_build_object('date', d.day, 'plays',
         (select count(*) from plays p where p.day = d.day)) order by d.day) from days d),
      'likesOverTime', (select jsonb_agg(jsonb_build_object('date', d.day, 'likes',
         (select count(*) from ev where ev.event_type = 'mashup_liked' and ev.day = d.day)) order by d.day) from days d)),
    'topContent', (select coalesce(jsonb_agg(t), '[]') from (
       select m.id as "mashupId", m.title, count(*) filter (where ev.event_type = 'mashup_played') as plays,
              count(*) filter (where ev.event_type = 'mashup_liked') as likes,
              round((count(*) filter (where ev.event_type = 'mashup_played') - max(pv.plays)) * 100.0 / nullif(max(pv.plays), 0)) as growth
       from ev join mine m on m.id = ev.mashup_id left join prev pv on pv.mashup_id = m.id
       group by m.id, m.title order by plays desc limit p_limit) t),
    'sources', (select coalesce(jsonb_agg(x), '[]') from (select source, count(*) from plays group by source order by 2 desc) x),
    'demographics', jsonb_build_object(
      'countries', (select coalesce(jsonb_agg(x), '[]') from (select country, count(*) from plays group by country order by 2 desc) x),
      'devices', (select coalesce(jsonb_agg(x), '[]') from (select device, count(*) from plays group by device order by 2 desc) x))
  );
$$;
