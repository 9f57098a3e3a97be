-- Per-day unique listeners with a day set that keeps only the days after a listener's first day
-- (20261126210000): the lifetime row stands for the first day. Across runs, with a listener who
-- comes back, one whose plays span days in one batch, a late event that moves a first play back
-- over several days, an event read twice and the day rebuilds: unique_plays of every day equals the
-- distinct listeners of that day's raw plays, the day set holds exactly the days after each
-- listener's first, and a new listener writes no day-set row.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(13);
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');

select tests.create_supabase_user('days-owner');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('eeeeeeee-0000-4000-8000-0000000006d1', tests.get_supabase_uid('days-owner'), 'Days mix', 180);

-- Anonymous listener p_who (listener key 'a:' || p_who) plays the mashup at p_at, received at p_received.
create function pg_temp.play(p_who text, p_at timestamptz, p_received timestamptz)
returns void language sql as $$
  insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, received_at)
  values (gen_random_uuid(), 'mashup_played',
          jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000006d1', 'play_id', gen_random_uuid()),
          p_at, p_who, p_received)
$$;
create function pg_temp.run(p_until timestamptz)
returns void language sql as $$
  select aggregation.run_incremental(p_lag => '0', p_until => p_until, p_max_window => '100 days',
                                     p_job => 'pgtap-days', p_wait => true)
$$;
-- What the rows hold, and what the raw events say.
create function pg_temp.daily() returns table (date date, unique_plays integer) language sql as $$
  select d.date, d.unique_plays from public.mashup_daily_stats d
  where d.mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1' order by 1
$$;
create function pg_temp.daily_recount() returns table (date date, unique_plays integer) language sql as $$
  select (e."timestamp" at time zone 'UTC')::date, count(distinct e.listener_key)::integer
  from public.analytics_events e
  where e.event_type = 'mashup_played' and e.mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1'
  group by 1 order by 1
$$;
create function pg_temp.day_set() returns table (date date, listener_key text) language sql as $$
  select l.date, l.listener_key from aggregation.mashup_daily_listeners l
  where l.mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1' order by 1, 2
$$;
create function pg_temp.day_set_recount() returns table (date date, listener_key text) language sql as $$
  select distinct d.date, d.listener_key from (
    select (e."timestamp" at time zone 'UTC')::date as date, e.listener_key,
           (min(e."timestamp") over (partition by e.listener_key) at time zone 'UTC')::date as first_day
    from public.analytics_events e
    where e.event_type = 'mashup_played' and e.mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1') d
  where d.date > d.first_day order by 1, 2
$$;

-- Run 1: three new listeners on 03-10; fan-s also on 03-11 in the same batch.
select pg_temp.play('fan-a', '2026-03-10 10:00+00', '2026-03-11 10:05+00');
select pg_temp.play('fan-b', '2026-03-10 11:00+00', '2026-03-11 10:05+00');
select pg_temp.play('fan-s', '2026-03-10 23:59:59.999+00', '2026-03-11 10:05+00');
select pg_temp.play('fan-s', '2026-03-11 00:00+00', '2026-03-11 10:05+00');
select pg_temp.run('2026-03-11 10:06+00');
select results_eq('select * from pg_temp.day_set()', $$ values ('2026-03-11'::date, 'a:fan-s') $$,
  'run 1: new listeners write no day-set row; a listener whose batch spans midnight gets one for the later day');
select results_eq('select * from pg_temp.daily()', $$ values ('2026-03-10'::date, 3), ('2026-03-11', 1) $$,
  'run 1: unique listeners per UTC day (23:59:59.999 and 00:00 are two days)');

-- Run 2: fan-a comes back on 03-12 (twice), fan-b plays again on its first day, fan-n is new, and an
-- event of run 1 arrives again (a retried id: stored once, folded once).
select pg_temp.play('fan-a', '2026-03-12 08:00+00', '2026-03-12 09:05+00');
select pg_temp.play('fan-a', '2026-03-12 08:30+00', '2026-03-12 09:05+00');
select pg_temp.play('fan-b', '2026-03-10 12:00+00', '2026-03-12 09:05+00');
select pg_temp.play('fan-n', '2026-03-12 08:10+00', '2026-03-12 09:05+00');
select tests.authenticate_as_service_role();
select results_eq($$
  select count(*) filter (where is_new)::int, count(*)::int from public.ingest_events(jsonb_build_array(jsonb_build_object(
    'id', (select id from public.analytics_events where anonymous_id = 'fan-a' order by "timestamp" limit 1),
    'type', 'mashup_played', 'timestamp', '2026-03-12 08:20:00+00', 'anonymous_id', 'fan-x',
    'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000006d1', 'play_id', gen_random_uuid())))) $$,
  $$ values (0, 1) $$, 'run 2: a retried id of run 1 (another listener in its body) is not stored again');
select tests.clear_authentication();
select pg_temp.run('2026-03-12 09:06+00');
select results_eq('select * from pg_temp.day_set()',
  $$ values ('2026-03-11'::date, 'a:fan-s'), ('2026-03-12', 'a:fan-a') $$,
  'run 2: a listener back on a later day gets a row; a known listener on its first day and a new one get none');
select results_eq('select * from pg_temp.daily()', 'select * from pg_temp.daily_recount()',
  'run 2: unique listeners per day equal the raw recount (the retried id counted nothing)');

-- Run 3: late events, earlier than fan-a's first play: 03-08 (its new first day) and 03-09 (a day
-- between); fan-a's old first day, 03-10, now needs its day-set row and keeps its count.
select pg_temp.play('fan-a', '2026-03-09 07:00+00', '2026-03-12 10:05+00');
select pg_temp.play('fan-a', '2026-03-08 07:00+00', '2026-03-12 10:05+00');
select pg_temp.run('2026-03-12 10:06+00');
select results_eq('select * from pg_temp.day_set()', 'select * from pg_temp.day_set_recount()',
  'run 3: the day set holds exactly the days after each listener''s first day');
select results_eq('select * from pg_temp.daily()', 'select * from pg_temp.daily_recount()',
  'run 3: the new first day and the day between count fan-a once; the old first day keeps its count');
select results_eq($$ select first_played_at from public.mashup_listeners
                     where mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1' and listener_key = 'a:fan-a' $$,
  $$ values ('2026-03-08 07:00+00'::timestamptz) $$, 'fan-a''s lifetime row holds the new first play');

-- Run 4: a late event before fan-s's first play, on the same day: no day changes.
select pg_temp.play('fan-s', '2026-03-10 05:00+00', '2026-03-12 11:05+00');
select pg_temp.run('2026-03-12 11:06+00');
select results_eq('select * from pg_temp.day_set()', 'select * from pg_temp.day_set_recount()',
  'run 4: a first play moved back within its day changes no day-set row');
select results_eq($$ select unique_plays from public.mashup_lifetime_stats where mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1' $$,
  $$ values (4::bigint) $$, 'lifetime unique listeners: fan-a, fan-b, fan-s, fan-n');

-- The day rebuilds (backfill, repair) recount each day from its raw events and change nothing.
create temporary table before_rebuild as select * from pg_temp.daily();
select count(aggregation.mashup_day(d::date)) from generate_series('2026-03-08'::date, '2026-03-12', '1 day') d;
select results_eq('select * from pg_temp.daily()', 'select * from before_rebuild',
  'rebuilding every day changes no unique count');
select results_eq('select * from pg_temp.day_set()', 'select * from pg_temp.day_set_recount()',
  'rebuilding every day leaves the day set exact');

-- A rebuild repairs a wrong count from the raw events (not from the set's size).
update public.mashup_daily_stats set unique_plays = 99
where mashup_id = 'eeeeeeee-0000-4000-8000-0000000006d1' and date = '2026-03-10';
select count(*) from aggregation.mashup_day('2026-03-10');
select results_eq('select * from pg_temp.daily()', 'select * from pg_temp.daily_recount()',
  'a day rebuild sets unique_plays from the day''s raw plays');

select * from finish();
rollback;
