-- A month past the horizon is kept while any of its events still waits in the fold queue, whatever
-- the incremental watermark says; once the queue is folded it may go.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(5);

select tests.create_supabase_user('queue retention creator');
create temporary table clock on commit drop as
select (date_trunc('month', now() at time zone 'UTC') - interval '5 months') at time zone 'UTC' as old_month;
select raw_events.create_month(((select old_month from clock) at time zone 'UTC')::date);
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-5300-4000-8000-000000000001', tests.get_supabase_uid('queue retention creator'), 'queued mix', 120);

-- Everything older than the month's end is folded first, so only this test's event is queued.
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years');
select aggregation.run_nightly();
insert into public.analytics_events (event_type, properties, "timestamp", session_id, received_at)
values ('mashup_played', '{"mashup_id": "cccccccc-5300-4000-8000-000000000001"}',
        (select old_month from clock) + interval '3 days', 'sess-queued', now() - interval '10 minutes');
-- The watermark claims to be past it (as after a run that skipped the queue).
update aggregation.watermarks set received_through = now() + interval '1 minute' where job = 'incremental';

select ok(not aggregation.is_final((select old_month from clock) + interval '1 month'),
  'the queued event makes its month not final for the fold');
select ok(not raw_events.rollups_final((select old_month from clock) + interval '1 month'),
  'retention sees it too, although the watermark is past the event');
update raw_events.settings set retention_months = 2;
select raw_events.drop_expired();
select ok(to_regclass('raw_events.analytics_events_p' || to_char((select old_month from clock) at time zone 'UTC', 'YYYYMM'))
  is not null, 'so the month is kept');

update aggregation.watermarks set received_through = now() - interval '1 hour' where job = 'incremental';
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years');
select ok(aggregation.is_final((select old_month from clock) + interval '1 month'), 'after the fold nothing is queued');
select is((select plays from public.mashup_lifetime_stats where mashup_id = 'cccccccc-5300-4000-8000-000000000001'),
  1::bigint, 'and the event is in the rollups');

select * from finish();
rollback;
