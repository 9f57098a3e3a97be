-- The live totals are lifetime counts: an event the reconciliation has counted stays counted when
-- its raw row goes, by erasure or by a month dropped past the retention horizon. Before
-- 20261127001500 the hourly reconciliation compared the totals with the raw events still stored,
-- so the first run after an erasure or a drop "repaired" the totals down by what had gone.
-- Still exact: real drift is repaired both ways, and an event received after the fence is not the
-- run's business even when its raw row is gone.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(15);

select tests.create_supabase_user('outlive creator');
select tests.create_supabase_user('outlive erased fan');
select tests.create_supabase_user('outlive kept fan');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-6700-4000-8000-000000000001', tests.get_supabase_uid('outlive creator'), 'outlive mashup', 200);

create temporary table who on commit drop as
select tests.get_supabase_uid('outlive creator') as creator,
       tests.get_supabase_uid('outlive erased fan') as erased_fan,
       tests.get_supabase_uid('outlive kept fan') as kept_fan,
       (date_trunc('month', now() at time zone 'UTC') - interval '3 months') at time zone 'UTC' as old_month;
grant select on who to service_role;

-- Both fans play, like and follow, in a month retention will drop and today.
insert into public.analytics_events (user_id, session_id, event_type, properties, "timestamp", received_at)
select f.fan, 'sess-' || f.n, t.event_type,
       case when t.event_type = 'user_followed' then jsonb_build_object('creator_id', (select creator from who))
            else jsonb_build_object('mashup_id', 'cccccccc-6700-4000-8000-000000000001') end,
       w.ts, w.ts + interval '1 minute'
from (values (1, (select erased_fan from who)), (2, (select kept_fan from who))) f (n, fan)
cross join (values ('mashup_played'), ('mashup_played'), ('mashup_liked'), ('mashup_shared'), ('user_followed')) t (event_type)
cross join lateral (values ((select old_month from who) + interval '2 days'), (now() - interval '2 hours')) w (ts);

create function pg_temp.reconcile() returns uuid language sql as $$
  select (public.reconcile_realtime_totals('{}', (extract(epoch from clock_timestamp()) * 1000000)::bigint + 1, 'pgtap')
          ->> 'run_id')::uuid
$$;
create function pg_temp.totals() returns table (plays bigint, likes bigint, shares bigint, followers bigint)
language sql as $$
  select m.plays, m.likes, m.shares, c.followers
  from public.mashup_realtime_totals m, public.creator_realtime_totals c
  where m.mashup_id = 'cccccccc-6700-4000-8000-000000000001' and c.creator_id = (select creator from who)
$$;
create function pg_temp.repairs(p_run uuid) returns table (counter text, expected bigint, counted bigint, repaired bigint)
language sql as $$
  select d.counter, d.expected, d.counted, d.repaired from public.realtime_drift d
  where d.run_id = p_run
    and d.subject_id in ('cccccccc-6700-4000-8000-000000000001', (select creator from who))
  order by d.counter
$$;

-- The first run counts everything: 2 fans x 2 months x (2 plays, 1 like, 1 share, 1 follow).
select results_eq($$ select * from pg_temp.repairs(pg_temp.reconcile()) $$,
  $$ values ('followers', 4::bigint, 0::bigint, 4::bigint), ('likes', 4::bigint, 0::bigint, 4::bigint),
            ('plays', 8::bigint, 0::bigint, 8::bigint), ('shares', 4::bigint, 0::bigint, 4::bigint) $$,
  'the first reconciliation counts every event toward its counter');
select results_eq($$ select * from pg_temp.totals() $$, $$ values (8::bigint, 4::bigint, 4::bigint, 4::bigint) $$,
  'the totals hold them');

-- Erasure removes the erased fan's raw events, in both months. The fold has counted them first, as
-- it does within the minute: events still queued when erased count nowhere, the live totals
-- included (20261127003900, tests/sql/79).
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
select tests.authenticate_as_service_role();
select is((public.erase_listener(p_user_id => (select erased_fan from who)) ->> 'events_deleted')::integer, 10,
  'the erasure deletes the fan''s 10 raw events');
select tests.clear_authentication();
select is_empty($$ select * from pg_temp.repairs(pg_temp.reconcile()) $$,
  'after an erasure the reconciliation repairs nothing');
select results_eq($$ select * from pg_temp.totals() $$, $$ values (8::bigint, 4::bigint, 4::bigint, 4::bigint) $$,
  'the totals still count the erased fan''s events');
select is_empty($$ select * from raw_events.removed_realtime_counts r, who
                   where strpos(r::text, who.erased_fan::text) > 0 $$,
  'what the totals keep of them names no one but the mashup and the creator');

-- Retention drops the old month (shortened horizon, final rollups), with the kept fan's events.
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
update raw_events.settings set retention_months = 2;
insert into aggregation.watermarks (job, received_through, updated_at) values ('incremental', now(), now())
on conflict (job) do update set received_through = now();
insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end)
values ('nightly', 'succeeded', now(), now(), 0, now() - interval '1 day', now());
select ok(raw_events.drop_expired() > 0, 'retention drops the old month');
select is((select count(*) from public.analytics_events where mashup_id = 'cccccccc-6700-4000-8000-000000000001'),
  4::bigint, 'four raw events of the mashup are left (the kept fan''s today)');
select is_empty($$ select * from pg_temp.repairs(pg_temp.reconcile()) $$,
  'after a dropped month the reconciliation repairs nothing');
select results_eq($$ select * from pg_temp.totals() $$, $$ values (8::bigint, 4::bigint, 4::bigint, 4::bigint) $$,
  'the totals still count the dropped month''s events');

-- Real drift is still repaired, both ways, on top of what left raw storage.
update public.mashup_realtime_totals set plays = plays - 3, likes = likes + 2
where mashup_id = 'cccccccc-6700-4000-8000-000000000001';
select results_eq($$ select * from pg_temp.repairs(pg_temp.reconcile()) $$,
  $$ values ('likes', 4::bigint, 6::bigint, -2::bigint), ('plays', 8::bigint, 5::bigint, 3::bigint) $$,
  'lost and doubled increments are repaired against raw events plus the events that left');

-- An event received after the fence is not this run's business, stored or removed.
insert into public.analytics_events (user_id, session_id, event_type, properties, "timestamp", received_at)
values ((select kept_fan from who), 'sess-later', 'mashup_played',
        '{"mashup_id": "cccccccc-6700-4000-8000-000000000001"}', now(), now() + interval '1 hour');
delete from public.analytics_events where session_id = 'sess-later';
select is_empty($$ select * from pg_temp.repairs(pg_temp.reconcile()) $$,
  'a removed event received after the fence is not expected yet');
select results_eq(
  $$ select * from pg_temp.repairs((public.reconcile_realtime_totals(
       '{}', (extract(epoch from now() + interval '2 hours') * 1000000)::bigint, 'pgtap') ->> 'run_id')::uuid) $$,
  $$ values ('plays', 9::bigint, 8::bigint, 1::bigint) $$,
  'a fence past it expects it');

-- Erasing the creator removes the follow events that name them, and what was kept of them.
select tests.authenticate_as_service_role();
select ok((public.erase_listener(p_user_id => (select creator from who)) ->> 'events_deleted')::integer >= 1,
  'erasing the creator deletes the follow that names them');
select tests.clear_authentication();
select is_empty($$ select * from raw_events.removed_realtime_counts r, who
                   where strpos(r::text, who.creator::text) > 0 $$,
  'no kept count names the erased creator');

select * from finish();
rollback;
