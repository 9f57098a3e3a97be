-- The reconciliation of the live totals scans only what was received since a cutoff
-- (20261127002500): events received before it are counted in raw_events.realtime_counted_before,
-- whatever became of their raw rows. Exact whichever way rows arrive or move: written with an old
-- received_at (a seed, a restore), moved across the cutoff by an UPDATE, deleted on either side of
-- it, or received between the cutoff and the hour before the fence (the cutoff's move counts them).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(19);

select tests.create_supabase_user('cutoff creator');
select tests.create_supabase_user('cutoff fan');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-7400-4000-8000-000000000001', tests.get_supabase_uid('cutoff creator'), 'cutoff mashup', 200);
create temporary table who on commit drop as
select tests.get_supabase_uid('cutoff creator') as creator, tests.get_supabase_uid('cutoff fan') as fan;

create function pg_temp.cutoff() returns timestamptz language sql as
  $$ select received_before from raw_events.realtime_count_cutoff $$;
create function pg_temp.kept() returns table (counter text, events bigint) language sql as $$
  select b.counter, b.events from raw_events.realtime_counted_before b
  where b.subject_id in ('cccccccc-7400-4000-8000-000000000001', (select creator from who)) order by 1
$$;
-- The counters of this test's mashup and creator that a reconciliation repaired (the stack's own
-- data may have drift of its own).
create function pg_temp.repaired() returns integer language plpgsql as $$
declare
  v_run uuid := (public.reconcile_realtime_totals('{}', (extract(epoch from clock_timestamp()) * 1000000)::bigint + 1,
                                                  'pgtap') ->> 'run_id')::uuid;
begin
  return (select count(*)::integer from public.realtime_drift d
          where d.run_id = v_run and d.subject_id in ('cccccccc-7400-4000-8000-000000000001', (select creator from who)));
end;
$$;
create function pg_temp.totals() returns table (plays bigint, likes bigint, followers bigint) language sql as $$
  select coalesce((select plays from public.mashup_realtime_totals where mashup_id = 'cccccccc-7400-4000-8000-000000000001'), 0),
         coalesce((select likes from public.mashup_realtime_totals where mashup_id = 'cccccccc-7400-4000-8000-000000000001'), 0),
         coalesce((select followers from public.creator_realtime_totals where creator_id = (select creator from who)), 0)
$$;
-- n events of a type received at a time (sessions name them, for the moves below).
create function pg_temp.send(p_type text, p_n integer, p_received timestamptz, p_session text,
                              p_at timestamptz default null) returns void language sql as $$
  insert into public.analytics_events (user_id, session_id, event_type, properties, "timestamp", received_at)
  select (select fan from who), p_session, p_type,
         case when p_type = 'user_followed' then jsonb_build_object('creator_id', (select creator from who))
              else '{"mashup_id":"cccccccc-7400-4000-8000-000000000001"}'::jsonb end,
         coalesce(p_at, least(p_received, now())), p_received
  from generate_series(1, p_n)
$$;

-- Written with a received_at two days before the cutoff (a seed would): counted there at once.
select pg_temp.send('mashup_played', 3, pg_temp.cutoff() - interval '2 days', 'late');
select pg_temp.send('mashup_liked', 1, pg_temp.cutoff() - interval '2 days', 'late');
select pg_temp.send('user_followed', 1, pg_temp.cutoff() - interval '2 days', 'late');
select results_eq('select * from pg_temp.kept()',
  $$ values ('followers', 1::bigint), ('likes', 1::bigint), ('plays', 3::bigint) $$,
  'events written before the cutoff are counted before it by the insert');
-- Received now (ingest): not before the cutoff.
select pg_temp.send('mashup_played', 2, now(), 'now');
select results_eq('select * from pg_temp.kept()',
  $$ values ('followers', 1::bigint), ('likes', 1::bigint), ('plays', 3::bigint) $$,
  'events received now are left to the scan since the cutoff');

select is(pg_temp.repaired(), 3, 'the first reconciliation counts the new subject''s counters');
select results_eq('select * from pg_temp.totals()', $$ values (5::bigint, 1::bigint, 1::bigint) $$,
  'the totals are every event sent, before and after the cutoff');

-- Deleted on either side of the cutoff: counted events stay counted.
delete from raw_events.analytics_events e where e.session_id = 'late' and raw_events.event_type(e.event_code, e.event_name) = 'mashup_played';
delete from raw_events.analytics_events e where e.session_id = 'now' and e.id = (
  select min(x.id::text)::uuid from raw_events.analytics_events x where x.session_id = 'now');
select is(pg_temp.repaired(), 0, 'removed events, before or after the cutoff, need no repair');
select results_eq('select * from pg_temp.totals()', $$ values (5::bigint, 1::bigint, 1::bigint) $$, 'the totals keep them');

-- Moved across the cutoff by an UPDATE (the demo data's re-anchoring does): counted once.
update raw_events.analytics_events e set received_at = pg_temp.cutoff() - interval '1 day' where e.session_id = 'now';
select results_eq($$ select events from pg_temp.kept() where counter = 'plays' $$, $$ values (4::bigint) $$,
  'a row moved before the cutoff is counted there');
update raw_events.analytics_events e set received_at = now() where e.session_id = 'late';
select results_eq('select * from pg_temp.kept()',
  $$ values ('followers', 0::bigint), ('likes', 0::bigint), ('plays', 4::bigint) $$,
  'rows moved after the cutoff leave its counts (the removed plays stay: they were counted)');
select is(pg_temp.repaired(), 0, 'moves in both directions need no repair');
select results_eq('select * from pg_temp.totals()', $$ values (5::bigint, 1::bigint, 1::bigint) $$, 'the totals are unchanged');

-- A month retention drops, whose events were received on both sides of the cutoff (an import
-- into old months while the drop comes): counted once (20261127002900; before, the drop kept the
-- whole month's count after the cutoff, and the events before it counted twice).
select pg_temp.send('mashup_liked', 3, pg_temp.cutoff() - interval '1 day', 'dropped-before',
                    (date_trunc('month', now() at time zone 'UTC') - interval '3 months' + interval '3 days') at time zone 'UTC');
select pg_temp.send('mashup_liked', 1, now(), 'dropped-after',
                    (date_trunc('month', now() at time zone 'UTC') - interval '3 months' + interval '4 days') at time zone 'UTC');
select is(pg_temp.repaired(), 1, 'the 4 likes are counted');
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
update raw_events.settings set retention_months = 2;
insert into aggregation.watermarks (job, received_through, updated_at) values ('incremental', now(), now())
on conflict (job) do update set received_through = now();
insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end)
values ('nightly', 'succeeded', now(), now(), 0, now() - interval '1 day', now());
select ok(raw_events.drop_expired() > 0, 'retention drops the month');
select results_eq($$ select (select plays from pg_temp.totals()), pg_temp.repaired(), (select likes from pg_temp.totals()) $$,
  $$ values (5::bigint, 0, 5::bigint) $$, 'after the drop nothing is repaired: the likes are 1 + 4, each counted once');

-- The cutoff moves: what was received between it and an hour before the fence is counted by the
-- move. (An older state: the cutoff three hours back, its counts rebuilt from scratch.)
delete from raw_events.realtime_counted_before;
update raw_events.realtime_count_cutoff set received_before = '-infinity';
select lives_ok($$ select raw_events.advance_realtime_count_cutoff(clock_timestamp() - interval '2 hours') $$,
  'the counts before a cutoff three hours back are rebuilt');
select pg_temp.send('mashup_played', 4, clock_timestamp() - interval '150 minutes', 'between');
select results_eq($$ select events from pg_temp.kept() where counter = 'plays' $$, $$ values (4::bigint) $$,
  'events received after the cutoff are not counted before it');
select is(pg_temp.repaired(), 1, 'the reconciliation counts the 4 new plays');
select ok(pg_temp.cutoff() > clock_timestamp() - interval '61 minutes', 'and moved the cutoff to an hour before its fence');
select results_eq($$ select events from pg_temp.kept() where counter = 'plays' $$, $$ values (8::bigint) $$,
  'the move counted the plays received in between');

select throws_ok($$ select public.reconcile_realtime_totals('{}', (extract(epoch from clock_timestamp() - interval '2 hours') * 1000000)::bigint, 'pgtap') $$,
  '22023', null, 'a fence before the cutoff is refused');

select * from finish();
rollback;
