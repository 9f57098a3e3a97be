-- The listener set (aggregation.mashup_daily_listeners, one row per UTC day, mashup and listener)
-- across runs: a listener is counted once per day and once per lifetime; one the mashup has heard
-- before, on any day, adds a day row on a new day but no lifetime listener; a late event on an
-- earlier day counts for that day; a listener seen again the same day leaves the set alone - no row
-- lock, no new row version (20261126140000 for the lifetime set, which 20261126190100 folded into
-- the day set).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(8);
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');

select tests.create_supabase_user('listeners-owner');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('eeeeeeee-0000-4000-8000-0000000000d1', tests.get_supabase_uid('listeners-owner'), 'Listeners mix', 180);

-- Anonymous listener p_who (listener key 'a:' || p_who) plays the mashup at p_at, received at p_received.
create function pg_temp.play(p_who text, p_at timestamptz, p_received timestamptz)
returns void language sql as $$
  insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, received_at)
  values (gen_random_uuid(), 'mashup_played',
          jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000000d1', 'play_id', gen_random_uuid()),
          p_at, p_who, p_received)
$$;
create function pg_temp.run(p_until timestamptz)
returns void language sql as $$
  select aggregation.run_incremental(p_lag => '0', p_until => p_until, p_max_window => '100 days',
                                     p_job => 'pgtap-listeners', p_wait => true)
$$;
create function pg_temp.set_rows()
returns table (date date, listener_key text, row_version text, locked boolean)
language sql as $$
  select l.date, l.listener_key, l.ctid::text, l.xmax::text <> '0'
  from aggregation.mashup_daily_listeners l
  where l.mashup_id = 'eeeeeeee-0000-4000-8000-0000000000d1'
$$;
-- Lifetime unique listeners and plays, then (day, unique listeners, plays) of each day.
create function pg_temp.counts()
returns text language sql as $$
  select l.unique_plays || '/' || l.plays || ' ' ||
         (select string_agg(d.date || ':' || d.unique_plays || '/' || d.plays, ' ' order by d.date)
          from public.mashup_daily_stats d where d.mashup_id = l.mashup_id)
  from public.mashup_lifetime_stats l where l.mashup_id = 'eeeeeeee-0000-4000-8000-0000000000d1'
$$;

-- Run 1: three listeners on 2026-03-10.
select pg_temp.play('fan-a', '2026-03-10 10:00+00', '2026-03-10 10:05+00');
select pg_temp.play('fan-b', '2026-03-10 10:01+00', '2026-03-10 10:05+00');
select pg_temp.play('fan-c', '2026-03-10 10:02+00', '2026-03-10 10:05+00');
select pg_temp.run('2026-03-10 10:06+00');
create temporary table before_run_2 as select * from pg_temp.set_rows();

-- Run 2: fan-a again (later), fan-b late with an earlier play the same day, fan-d new.
select pg_temp.play('fan-a', '2026-03-10 11:00+00', '2026-03-10 11:05+00');
select pg_temp.play('fan-b', '2026-03-10 09:00+00', '2026-03-10 11:05+00');
select pg_temp.play('fan-d', '2026-03-10 11:01+00', '2026-03-10 11:05+00');
select pg_temp.run('2026-03-10 11:06+00');
select is(pg_temp.counts(), '4/6 2026-03-10:4/6', 'lifetime and daily unique listeners: 4 (fan-d is the only new one in run 2), 6 plays');
select is_empty($$ select b.* from before_run_2 b except select r.* from pg_temp.set_rows() r $$,
  'listeners seen again the same day: their rows are neither rewritten nor locked');

-- Run 3: only known listeners, the same day: nothing in the set changes, no listener is counted again.
create temporary table before_run_3 as select * from pg_temp.set_rows();
select pg_temp.play('fan-a', '2026-03-10 12:00+00', '2026-03-10 12:05+00');
select pg_temp.play('fan-c', '2026-03-10 12:01+00', '2026-03-10 12:05+00');
select pg_temp.play('fan-d', '2026-03-10 12:02+00', '2026-03-10 12:05+00');
select pg_temp.run('2026-03-10 12:06+00');
select set_eq('select * from pg_temp.set_rows()', 'select * from before_run_3',
  'a run that sees only listeners known that day leaves every row of the set as it was');
select is(pg_temp.counts(), '4/9 2026-03-10:4/9', 'known listeners add plays, not listeners');

-- Run 4: the next day fan-a and fan-c come back, fan-e is new; a late event of fan-f (new) and one
-- of fan-a on the day before.
select pg_temp.play('fan-a', '2026-03-11 08:00+00', '2026-03-11 08:05+00');
select pg_temp.play('fan-c', '2026-03-11 08:01+00', '2026-03-11 08:05+00');
select pg_temp.play('fan-e', '2026-03-11 08:02+00', '2026-03-11 08:05+00');
select pg_temp.play('fan-f', '2026-03-09 23:59:59.999+00', '2026-03-11 08:05+00');
select pg_temp.play('fan-a', '2026-03-09 20:00+00', '2026-03-11 08:05+00');
select pg_temp.run('2026-03-11 08:06+00');
select is(pg_temp.counts(), '6/14 2026-03-09:2/2 2026-03-10:4/9 2026-03-11:3/3',
  'a listener heard before counts on a new day, not again in the lifetime; new ones count in both');
select is_empty($$ select b.* from before_run_3 b except select r.* from pg_temp.set_rows() r $$,
  'the earlier day''s rows stay as they were');

-- Rebuilding the days from the raw events changes nothing; the set holds each (day, listener) once.
select aggregation.mashup_day(d) from unnest(array['2026-03-09', '2026-03-10', '2026-03-11']::date[]) d;
select is(pg_temp.counts(), '6/14 2026-03-09:2/2 2026-03-10:4/9 2026-03-11:3/3', 'day rebuilds keep every count');
select is((select count(*)::int from pg_temp.set_rows()), 9, 'nine (day, listener) rows: 2 + 4 + 3');

select * from finish();
rollback;
