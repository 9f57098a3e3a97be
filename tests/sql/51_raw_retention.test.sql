-- Retention: months past the horizon are dropped only once their rollups are final, and then every
-- dashboard and mashup response is the same before and after the drop (and after the aggregation
-- jobs run again). Generated events over four months around a shortened horizon; nothing here
-- depends on the calendar date.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(15);

select tests.create_supabase_user('retention creator');
select tests.create_supabase_user('retention fan 1');
select tests.create_supabase_user('retention fan 2');

-- The month the test runs in, and the horizon once retention is shortened to 2 months.
create temporary table clock on commit drop as
select date_trunc('month', now() at time zone 'UTC') at time zone 'UTC' as this_month,
       (date_trunc('month', now() at time zone 'UTC') - interval '2 months') at time zone 'UTC' as short_horizon,
       (date_trunc('month', now() at time zone 'UTC') - interval '4 months') at time zone 'UTC' as first_day;

insert into public.mashups (id, creator_id, title, duration_seconds)
select ('cccccccc-5100-4000-8000-00000000000' || i)::uuid, tests.get_supabase_uid('retention creator'),
       'retention mashup ' || i, 120 + 30 * i
from generate_series(1, 3) i;

-- Plays (played, progress heartbeats, sometimes an end), likes and shares, by users and anonymous
-- listeners, spread over the four months before now.
select setseed(0.51);
create temporary table fixture_plays on commit drop as
select gen_random_uuid() as play_id,
       ('cccccccc-5100-4000-8000-00000000000' || (1 + floor(random() * 3))::int)::uuid as mashup_id,
       case when random() < 0.3 then tests.get_supabase_uid('retention fan ' || (1 + floor(random() * 2))::int) end
         as user_id,
       'anon-ret-' || floor(random() * 12)::int as anonymous_id,
       (select first_day from clock) + random() * (now() - interval '1 day' - (select first_day from clock)) as started,
       floor(random() * 6)::int as heartbeats
from generate_series(1, 160);

insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select p.user_id, x.event_type, x.properties, x.ts, 'sess-' || p.play_id, p.anonymous_id, x.ts + interval '1 minute',
       (array['US', 'DE', 'BR'])[1 + (p.heartbeats % 3)], (array['mobile', 'desktop'])[1 + (p.heartbeats % 2)]
from fixture_plays p
cross join lateral (
  select 'mashup_played' as event_type, p.started as ts,
         jsonb_build_object('mashup_id', p.mashup_id, 'play_id', p.play_id, 'source', 'twitter', 'auto_play', false)
           as properties
  union all
  select 'mashup_play_progress', p.started + h * interval '30 seconds',
         jsonb_build_object('mashup_id', p.mashup_id, 'play_id', p.play_id, 'position_seconds', 30 * h,
                            'duration_seconds', 150)
  from generate_series(1, p.heartbeats) h
  union all
  select 'mashup_play_ended', p.started + (p.heartbeats + 1) * interval '30 seconds',
         jsonb_build_object('mashup_id', p.mashup_id, 'play_id', p.play_id, 'position_seconds', 30 * p.heartbeats + 10,
                            'duration_seconds', 150)
  where p.heartbeats >= 3
  union all
  select 'mashup_liked', p.started + interval '10 seconds', jsonb_build_object('mashup_id', p.mashup_id)
  where p.heartbeats % 2 = 0
  union all
  select 'mashup_shared', p.started + interval '20 seconds', jsonb_build_object('mashup_id', p.mashup_id, 'platform', 'x')
  where p.heartbeats = 5
) x;

-- Fold them: the days they touch, then the nightly run of yesterday.
select count(*) from (select public.aggregate_mashup_stats(d) from (
  select distinct (e."timestamp" at time zone 'UTC')::date as d from public.analytics_events e
  join fixture_plays p on p.play_id = aggregation.play_id_text(e.properties)::uuid) days) folded;
select count(*) from (select public.aggregate_user_stats(d) from (
  select distinct (p.started at time zone 'UTC')::date as d from fixture_plays p) days) folded;
update raw_events.settings set retention_months = 2;

-- Not final yet (the incremental job has not passed these events): past the horizon but kept.
create temporary table saved_watermark on commit drop as
select * from aggregation.watermarks where job = 'incremental';
delete from aggregation.watermarks where job = 'incremental';
select is(raw_events.drop_expired(), 0, 'months past the horizon whose rollups are not final are not dropped');
select ok(exists (select 1 from raw_events.maintenance_log where action = 'kept'
                  and month = ((select first_day from clock) at time zone 'UTC')::date),
  'and the log says which month was kept and why');
select ok(to_regclass('raw_events.analytics_events_p' || to_char((select first_day from clock) at time zone 'UTC', 'YYYYMM'))
  is not null, 'its partition is still there');

-- Final: the incremental job has folded everything that arrived (from its real watermark on), the
-- nightly run has covered yesterday.
insert into aggregation.watermarks select * from saved_watermark;
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years');
select is((select status from aggregation.runs where job = 'incremental' order by id desc limit 1), 'succeeded',
  'the incremental run succeeded');
select aggregation.run_nightly();
select is((select status from aggregation.runs where job = 'nightly' order by id desc limit 1), 'succeeded',
  'the nightly run succeeded');

-- Every response, before --------------------------------------------------------------------------------
create temporary table periods on commit drop as
select (m at time zone 'UTC')::date as p_start, ((m + interval '1 month') at time zone 'UTC')::date as p_end, tz
from generate_series((select first_day from clock) - interval '1 month', (select this_month from clock),
                     interval '1 month') m
cross join (values ('UTC'), ('America/New_York'), ('Asia/Kolkata')) z (tz)
union all
select ((select first_day from clock) at time zone 'UTC')::date, (now() at time zone 'UTC')::date + 1, 'UTC';
grant select on periods to authenticated, service_role;
grant select on clock to service_role;

create temporary table responses (phase text, kind text, p_start date, p_end date, tz text, mashup_id uuid,
                                  body jsonb) on commit drop;
grant select, insert on responses to authenticated, service_role;
create function pg_temp.capture(p_phase text) returns void language plpgsql as $$
begin
  perform tests.authenticate_as_service_role();
  insert into responses select p_phase, 'platform dashboard', p.p_start, p.p_end, p.tz, null,
    public.get_creator_dashboard(p.p_start::text, p.p_end::text, p.tz, '100'::jsonb) from periods p;
  perform tests.authenticate_as('retention creator');
  insert into responses select p_phase, 'creator dashboard', p.p_start, p.p_end, p.tz, null,
    public.get_creator_dashboard(p.p_start::text, p.p_end::text, p.tz, '100'::jsonb) from periods p;
  insert into responses select p_phase, 'mashup', p.p_start, p.p_end, p.tz, m.id,
    public.get_mashup_analytics(m.id::text, p.p_start::text, p.p_end::text, p.tz)
  from periods p cross join public.mashups m where m.title like 'retention mashup %';
  perform tests.clear_authentication();
  insert into responses select p_phase, 'lifetime', null, null, null, l.mashup_id, to_jsonb(l)
  from public.mashup_lifetime_stats l;
  insert into responses select p_phase, 'top mashups', null, null, null, null, jsonb_agg(t order by t.mashup_id)
  from analytics.top_mashups t;
end;
$$;
select pg_temp.capture('before');
select ok((select count(*) from responses where phase = 'before' and kind = 'mashup'
           and (body -> 'lifetime' ->> 'plays')::int > 0
           and exists (select 1 from jsonb_array_elements(body -> 'daily') d where (d ->> 'plays')::int > 0)) > 0,
  'the fixture has plays in the dashboards');

-- Drop ------------------------------------------------------------------------------------------------
create temporary table expired_ids on commit drop as
select id from public.analytics_events where "timestamp" < (select short_horizon from clock)
union all select id from public.analytics_bot_events where "timestamp" < (select short_horizon from clock);
create temporary table dropped on commit drop as select raw_events.drop_expired() as n;
select ok((select n from dropped) >= 4, 'the two months past the horizon are dropped, in both raw tables');
select is((select count(*) from public.analytics_events where "timestamp" < (select short_horizon from clock)),
  0::bigint, 'no raw event before the horizon is left');
select is((select count(*) from public.analytics_event_ids i where i.id in (select id from expired_ids)),
  0::bigint, 'nor its event id');
select ok(to_regclass('raw_events.analytics_events_p' || to_char((select first_day from clock) at time zone 'UTC', 'YYYYMM'))
  is null, 'the oldest fixture month''s partition is gone');
select ok(exists (select 1 from public.analytics_events e join fixture_plays p
                  on p.play_id = aggregation.play_id_text(e.properties)::uuid),
  'the kept months'' events are still there');

select pg_temp.capture('after drop');
select is_empty($$
  (select kind, p_start, p_end, tz, mashup_id, body from responses where phase = 'before'
   except all
   select kind, p_start, p_end, tz, mashup_id, body from responses where phase = 'after drop')
  union all
  (select kind, p_start, p_end, tz, mashup_id, body from responses where phase = 'after drop'
   except all
   select kind, p_start, p_end, tz, mashup_id, body from responses where phase = 'before')
$$, 'every dashboard, mashup, lifetime and leaderboard response is identical after the drop');

-- The jobs keep running on what is left, and change nothing.
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years');
select pg_temp.capture('after jobs');
select is_empty($$
  select kind, p_start, p_end, tz, mashup_id, body from responses where phase = 'before'
  except all
  select kind, p_start, p_end, tz, mashup_id, body from responses where phase = 'after jobs'
$$, 'and still identical after the incremental job runs over what is left');

-- A late event for a dropped month: refused, nothing breaks, no partition comes back.
select tests.authenticate_as_service_role();
select is((select "timestamp" is not null and not is_new from public.ingest_events(jsonb_build_array(
  jsonb_build_object('type', 'mashup_liked', 'id', gen_random_uuid(), 'session_id', 's-too-late',
    'properties', jsonb_build_object('mashup_id', 'cccccccc-5100-4000-8000-000000000001'),
    'timestamp', (select first_day from clock) + interval '1 day')))), true,
  'a late event older than the horizon is refused with its time');
select tests.clear_authentication();
select is(raw_events.ensure_partitions(), 0, 'the daily job does not bring dropped months back');

select * from finish();
rollback;
