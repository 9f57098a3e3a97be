-- The lifetime listener set (public.mashup_listeners) across runs: a new listener is inserted and
-- counted once; a late event with an earlier first play moves first_played_at back; a listener the
-- set already holds, seen again later, leaves their row alone - no row lock, no new row version
-- (20261126140000: before it, ON CONFLICT DO UPDATE ... WHERE locked every known listener's row).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(7);
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
create function pg_temp.listener_row(p_who text)
returns table (first_played_at timestamptz, row_version text, locked boolean)
language sql as $$
  select l.first_played_at, l.ctid::text, l.xmax::text <> '0'
  from public.mashup_listeners l
  where l.mashup_id = 'eeeeeeee-0000-4000-8000-0000000000d1' and l.listener_key = 'a:' || p_who
$$;

-- Run 1: three listeners.
select pg_temp.play('fan-a', '2026-03-10 10:00+00', '2026-03-10 10:05+00');
select pg_temp.play('fan-b', '2026-03-10 10:01+00', '2026-03-10 10:05+00');
select pg_temp.play('fan-c', '2026-03-10 10:02+00', '2026-03-10 10:05+00');
select pg_temp.run('2026-03-10 10:06+00');
create temporary table before_run_2 as
select w.who, r.* from unnest(array['fan-a', 'fan-b', 'fan-c']) as w (who), pg_temp.listener_row(w.who) r;

-- Run 2: fan-a again (later), fan-b late with an earlier first play, fan-d new.
select pg_temp.play('fan-a', '2026-03-10 11:00+00', '2026-03-10 11:05+00');
select pg_temp.play('fan-b', '2026-03-10 09:00+00', '2026-03-10 11:05+00');
select pg_temp.play('fan-d', '2026-03-10 11:01+00', '2026-03-10 11:05+00');
select pg_temp.run('2026-03-10 11:06+00');

select results_eq($$
  select listener_key, first_played_at from public.mashup_listeners
  where mashup_id = 'eeeeeeee-0000-4000-8000-0000000000d1' order by listener_key $$,
  $$ values ('a:fan-a', '2026-03-10 10:00+00'::timestamptz), ('a:fan-b', '2026-03-10 09:00+00'),
            ('a:fan-c', '2026-03-10 10:02+00'), ('a:fan-d', '2026-03-10 11:01+00') $$,
  'each listener once, with their earliest play (a late event moved fan-b''s back)');
select results_eq($$
  select l.unique_plays::int, d.unique_plays, l.plays::int
  from public.mashup_lifetime_stats l
  join public.mashup_daily_stats d on d.mashup_id = l.mashup_id and d.date = '2026-03-10'
  where l.mashup_id = 'eeeeeeee-0000-4000-8000-0000000000d1' $$,
  $$ values (4, 4, 6) $$,
  'lifetime and daily unique listeners: 4 (fan-d is the only new one in run 2), 6 plays');
select results_eq($$
  select r.row_version = b.row_version, r.locked from before_run_2 b, pg_temp.listener_row(b.who) r where b.who = 'fan-a' $$,
  $$ values (true, false) $$,
  'fan-a, known and seen again later: the row is neither rewritten nor locked');
select results_eq($$
  select r.row_version = b.row_version from before_run_2 b, pg_temp.listener_row(b.who) r where b.who = 'fan-b' $$,
  $$ values (false) $$,
  'fan-b, whose late event is earlier: the row is rewritten with the new first play');

-- Run 3: only known listeners, later: nothing in the set changes, no listener is counted again.
create temporary table before_run_3 as
select w.who, r.* from unnest(array['fan-a', 'fan-b', 'fan-c', 'fan-d']) as w (who), pg_temp.listener_row(w.who) r;
select pg_temp.play('fan-a', '2026-03-10 12:00+00', '2026-03-10 12:05+00');
select pg_temp.play('fan-c', '2026-03-10 12:01+00', '2026-03-10 12:05+00');
select pg_temp.play('fan-d', '2026-03-10 12:02+00', '2026-03-10 12:05+00');
select pg_temp.run('2026-03-10 12:06+00');
select is_empty($$
  select b.who from before_run_3 b, pg_temp.listener_row(b.who) r
  where r.row_version <> b.row_version or r.locked or r.first_played_at <> b.first_played_at $$,
  'a run that sees only known listeners leaves every row of the set as it was');
select results_eq($$
  select l.unique_plays::int, d.unique_plays, l.plays::int
  from public.mashup_lifetime_stats l
  join public.mashup_daily_stats d on d.mashup_id = l.mashup_id and d.date = '2026-03-10'
  where l.mashup_id = 'eeeeeeee-0000-4000-8000-0000000000d1' $$,
  $$ values (4, 4, 9) $$,
  'known listeners add plays, not listeners');
select is(
  (select status from aggregation.runs where job = 'pgtap-listeners' order by id desc limit 1), 'succeeded',
  'the runs succeeded');

select * from finish();
rollback;
