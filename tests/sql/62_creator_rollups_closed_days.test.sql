-- The creator rollups hold closed UTC days (20261127000100_creator_rollups_closed_days.sql):
-- creator_quarter_hour_stats and creator_daily_breakdowns have rows for the UTC days before
-- dashboard.creator_rollup_days.open_from and none after; the fold writes them for closed days only;
-- an incremental run closes the days that have ended (their rows summed from the mashups' rollups);
-- open_creator_days_from moves the boundary both ways; the dashboard reads the open days from the
-- mashups' rollups. Every rollup is compared with the recount of bench/exactness.sql and every
-- dashboard with a recount from raw events, with the boundary in the past, at today and after it.
-- Before the migration the file stops at its first test (no boundary table); with the fold as it was
-- (the creator rows of every day written by every run), tests 6 and 7 fail and closing today stops at
-- a duplicate key.
begin;
\ir _helpers.psql
\ir ../../bench/exactness.sql
\ir _dashboard_recount.psql
\ir _dashboard_scenario.psql
\ir _fold_scenario.psql
set search_path = public, extensions, tests;
select plan(22);
update raw_events.settings set retention_months = 1200;

select ok((select c.relrowsecurity from pg_class c where c.oid = 'dashboard.creator_rollup_days'::regclass),
  'the boundary''s table has row-level security');

-- As the migrations leave it (20261127000300): no day after today is closed, so a database's first
-- day is open too and its runs do not write that day's creator rows. (It ran 20261127000100, which
-- alone put the boundary at tomorrow, today or on an earlier day.)
select ok((select s.open_from from dashboard.creator_rollup_days s) <= (now() at time zone 'UTC')::date,
  'the migrations leave today open: the creator rollups end at today or earlier, never tomorrow');

-- Every day from May on is open; the scenario's own incremental runs then close the days that have
-- ended, summing their creator rows from the mashups' rollups.
select aggregation.open_creator_days_from('2026-05-01');
select tests.dashboard_scenario(0.37, 'cd', 900);
select is((select s.open_from from dashboard.creator_rollup_days s), (now() at time zone 'UTC')::date,
  'an incremental run closes every UTC day that has ended: the creator rollups end at today');
select is_empty($$ select * from check_rollups.mismatches(tests.users_of_this_test()) where mismatched <> 0 $$,
  'closed by the runs: every rollup row equals the recount from raw events');
select is_empty($$ select * from tests.dashboard_mismatches(0.37, 'cd', 25) $$,
  'closed by the runs: every field of every dashboard response equals the recount');

-- Today's events: the fold leaves the creator rollups alone (today is open) and the dashboard reads
-- today from the mashups' buckets.
insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select gen_random_uuid(), null, t, jsonb_build_object('mashup_id', m.id, 'play_id', p, 'source', s), ts, 'cd-sess-today',
       'cd-anon-' || n % 7, now(), (array['US', 'DE', 'IN'])[1 + n % 3], (array['mobile', 'desktop'])[1 + n % 2]
from (select n, (array['mashup_played', 'mashup_liked', 'mashup_shared'])[1 + n % 3] as t, gen_random_uuid() as p,
             (array['direct', 'tiktok'])[1 + n % 2] as s,
             date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' + n * interval '7 minutes' as ts,
             (select array_agg(m.id order by m.title, m.id) from public.mashups m where m.title like 'cd %') as ms
      from generate_series(0, 59) n) x
cross join lateral (select x.ms[1 + x.n % 5] as id) m;
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'closed-days', p_wait => true);
select cmp_ok((select count(*) from public.mashup_quarter_hour_stats q
               where q.bucket_start >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
                 and q.mashup_id in (select m.id from public.mashups m where m.title like 'cd %')), '>', 0::bigint,
  'today''s events are in the mashups'' buckets');
select is_empty($$ select 1 from public.creator_quarter_hour_stats s
                   where s.bucket_start >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
                   union all
                   select 1 from public.creator_daily_breakdowns b where b.date >= (now() at time zone 'UTC')::date $$,
  'an open day has no creator rows: the fold writes closed days only');
select is_empty($$ select * from check_rollups.mismatches(tests.users_of_this_test()) where mismatched <> 0 $$,
  'today open: every rollup row equals the recount');

-- Periods that end today, in UTC and zones whose local days cut UTC days (and the previous period
-- of equal length for growth): the responses equal the recount, before and after today closes and
-- with the boundary moved back into the period.
create temporary table periods on commit drop as
select who, s, e, tz from (values ('cd-c1'), ('cd-c2')) w (who),
  (values (1), (7), (30), (200)) l (n),
  (values ('UTC'), ('Europe/Berlin'), ('Asia/Kolkata'), ('America/St_Johns')) z (tz),
  lateral (select (now() at time zone z.tz)::date + 1 - l.n as s, (now() at time zone z.tz)::date + 1 as e) p;
create temporary table responses (k text, who text, s date, e date, tz text, r jsonb) on commit drop;
grant select, insert on periods, responses to authenticated;
create or replace function pg_temp.respond(p_k text) returns void language plpgsql as $$
declare p record;
begin
  for p in select * from periods loop
    perform tests.authenticate_as(p.who);
    insert into responses
    select p_k, p.who, p.s, p.e, p.tz,
           public.get_creator_dashboard(p.s::text, p.e::text, p.tz, '10');
    perform tests.clear_authentication();
  end loop;
end $$;
select pg_temp.respond('today open');
select is_empty($$ select p.who, p.s, p.e, p.tz, d.* from periods p, tests.dashboard_mismatches(p.who, p.s, p.e, p.tz) d $$,
  'today open: dashboards over periods ending today equal the recount (UTC, Berlin, Kolkata, St. John''s)');

-- Close today by hand (as the first run after midnight does): its creator rows come from the
-- mashups' rollups, and no response changes.
select aggregation.open_creator_days_from((now() at time zone 'UTC')::date + 1);
select isnt_empty($$ select 1 from public.creator_quarter_hour_stats s
                     where s.bucket_start >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' $$,
  'closing today writes its creator buckets');
select is_empty($$ select * from check_rollups.mismatches(tests.users_of_this_test()) where mismatched <> 0 $$,
  'today closed: every rollup row equals the recount');
select pg_temp.respond('today closed');
select is_empty($$ select a.who, a.s, a.tz from responses a join responses b using (who, s, e, tz)
                   where a.k = 'today open' and b.k = 'today closed' and a.r is distinct from b.r $$,
  'closing a day changes no dashboard response');

-- Back to June: every later creator row goes, the dashboard reads those days from the mashups.
select aggregation.open_creator_days_from('2026-06-15');
select is_empty($$ select 1 from public.creator_quarter_hour_stats s where s.bucket_start >= '2026-06-15 00:00+00'
                   union all select 1 from public.creator_daily_breakdowns b where b.date >= '2026-06-15' $$,
  'moving the boundary back deletes the creator rows of the days it opens');
select pg_temp.respond('open from June');
select is_empty($$ select a.who, a.s, a.tz from responses a join responses b using (who, s, e, tz)
                   where a.k = 'today open' and b.k = 'open from June' and a.r is distinct from b.r $$,
  'reopened days change no dashboard response');
select tests.recount_load('cd-sess-');   -- the recount reads today's events too
select is_empty($$ select * from tests.dashboard_mismatches(0.37, 'cd', 25) $$,
  'open from June 15: every field of every dashboard response over 2026 equals the recount');

-- A mashup with plays on closed and open days is deleted, and a late event lands on a closed day:
-- the run closes the open days again and every rollup is still exact.
delete from public.mashups m where m.id = (select m2.id from public.mashups m2 where m2.title = 'cd Mix 4');
insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select gen_random_uuid(), null, 'mashup_played',
       jsonb_build_object('mashup_id', m.id, 'play_id', gen_random_uuid(), 'source', 'late'),
       '2026-04-02 23:59:59.999+00', 'cd-sess-late', 'cd-late', now(), 'BR', 'tv'
from public.mashups m where m.title = 'cd Mix 1';
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'closed-days', p_wait => true);
select is_empty($$ select * from check_rollups.mismatches(tests.users_of_this_test()) where mismatched <> 0 $$,
  'after a delete across the boundary, a late event on a closed day and the days closed again: every rollup row equals the recount');

-- As the service role (an RPC caller may run the jobs): a run that has a day to close closes it.
select aggregation.open_creator_days_from((now() at time zone 'UTC')::date - 1);
set local role service_role;
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'closed-days-service',
                                   p_wait => true) as service_run \gset
reset role;
select results_eq($$ select r.status, s.open_from from aggregation.runs r, dashboard.creator_rollup_days s
                     where r.id = $$ || :'service_run' || $$ $$,
  $$ values ('succeeded', (now() at time zone 'UTC')::date) $$,
  'a run as the service role closes the day that ended (20261127000200)');

-- A backfill through today (20261127000400): the creator rollups' days from its first day on are
-- opened first (their rows are rebuilt anyway) and summed once at its end; a backfill of past days
-- only leaves the boundary where it is.
select is(aggregation.backfill_opens_creator_days((now() at time zone 'UTC')::date - 40,
                                                  (now() at time zone 'UTC')::date),
          false, 'a backfill of past days only does not move the boundary');
select is(aggregation.backfill_opens_creator_days((now() at time zone 'UTC')::date - 40,
                                                  (now() at time zone 'UTC')::date + 1),
          true, 'a backfill through today moves the boundary');
select results_eq($$ select (select s.open_from from dashboard.creator_rollup_days s),
                            exists (select 1 from public.creator_quarter_hour_stats c
                                    where c.bucket_start >= (now() at time zone 'UTC')::date - 40)
                              or exists (select 1 from public.creator_daily_breakdowns c
                                         where c.date >= (now() at time zone 'UTC')::date - 40) $$,
  $$ values ((now() at time zone 'UTC')::date - 40, false) $$,
  'it opens the days from its first one: their creator rows are gone until its end');
select aggregation.backfill_in_transaction((now() at time zone 'UTC')::date - 40, (now() at time zone 'UTC')::date + 1);
select is((select s.open_from from dashboard.creator_rollup_days s), (now() at time zone 'UTC')::date,
  'at its end the backfill closes every day before today');
select is_empty($$ select * from check_rollups.mismatches(tests.users_of_this_test()) where mismatched <> 0 $$,
  'after a backfill through today: every rollup row equals the recount from raw events');

select * from finish();
rollback;
