-- Day recounts keep the days an erasure took counted events from (20261127003400): erasing a listener
-- keeps the counts, and a recount of such a day from the raw events left would take the erased plays
-- and likes back but not their watch time. erase_listener records the UTC days of the deleted events
-- the rollups had counted; mashup_day / mashup_days keep those days as they are and recount the
-- others; events erased while still queued were never counted, so their days stay recountable.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(14);

select tests.create_supabase_user('recount creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-7800-4000-8000-000000000001', tests.get_supabase_uid('recount creator'), 'recount mashup', 200);

-- Four UTC days, well inside the kept months: d1 the erased listener's plays (one completed, one
-- heartbeat short) and a like; d2 another listener's plays; d3 a listener erased before any run
-- folds it; d4 another listener's like that names the erased listener (erased as a mention).
create temporary table days on commit drop as
select (current_date - 5) as d1, (current_date - 4) as d2, (current_date - 3) as d3, (current_date - 2) as d4;
create function pg_temp.at(p_day date, p_time text) returns timestamptz language sql
as $$ select (p_day::text || ' ' || p_time || '+00')::timestamptz $$;

insert into public.analytics_events (id, anonymous_id, session_id, event_type, properties, "timestamp", received_at)
select md5(x.tag)::uuid, x.who, 'sess-' || x.who, x.type,
       jsonb_build_object('mashup_id', 'cccccccc-7800-4000-8000-000000000001') || x.props,
       pg_temp.at(x.day, x.t), now() - interval '1 hour'
from (values
  ('e-play-1', 'erase78-e', 'mashup_played', jsonb_build_object('play_id', md5('e-p1')::uuid, 'source', 'search'), (select d1 from days), '10:00'),
  ('e-beat-1', 'erase78-e', 'mashup_play_ended', jsonb_build_object('play_id', md5('e-p1')::uuid, 'position_seconds', 199), (select d1 from days), '10:04'),
  ('e-play-2', 'erase78-e', 'mashup_played', jsonb_build_object('play_id', md5('e-p2')::uuid), (select d1 from days), '11:00'),
  ('e-beat-2', 'erase78-e', 'mashup_play_progress', jsonb_build_object('play_id', md5('e-p2')::uuid, 'position_seconds', 30), (select d1 from days), '11:01'),
  ('e-like-1', 'erase78-e', 'mashup_liked', '{}'::jsonb, (select d1 from days), '11:02'),
  ('k-play-1', 'erase78-k', 'mashup_played', jsonb_build_object('play_id', md5('k-p1')::uuid), (select d1 from days), '12:00'),
  ('k-play-2', 'erase78-k', 'mashup_played', jsonb_build_object('play_id', md5('k-p2')::uuid), (select d2 from days), '09:00'),
  ('k-play-3', 'erase78-k', 'mashup_played', jsonb_build_object('play_id', md5('k-p3')::uuid), (select d2 from days), '09:30'),
  ('k-like-4', 'erase78-k', 'mashup_liked', jsonb_build_object('referrer', 'erase78-e'), (select d4 from days), '08:00')
) x (tag, who, type, props, day, t);
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 years', p_wait => true) is not null as folded;

create temporary table rollups_before on commit drop as
select 'daily' as what, s.date::text as k, row(s.plays, s.unique_plays, s.likes, s.avg_watch_time)::text as v
from public.mashup_daily_stats s where s.mashup_id = 'cccccccc-7800-4000-8000-000000000001'
union all
select 'bucket', q.bucket_start::text, row(q.plays, q.likes)::text
from public.mashup_quarter_hour_stats q where q.mashup_id = 'cccccccc-7800-4000-8000-000000000001'
union all
select 'retention', r.date::text || ' ' || r.position_bucket_seconds::text, row(r.plays, r.completed_plays, r.watch_time_seconds)::text
from public.mashup_daily_retention r where r.mashup_id = 'cccccccc-7800-4000-8000-000000000001'
union all
select 'lifetime', '', row(l.plays, l.unique_plays, l.likes, l.tracked_plays, l.completed_plays, l.watch_time_seconds)::text
from public.mashup_lifetime_stats l where l.mashup_id = 'cccccccc-7800-4000-8000-000000000001';

-- The listener of d3 sends and is erased before any run: nothing of it was counted.
insert into public.analytics_events (id, anonymous_id, session_id, event_type, properties, "timestamp", received_at)
values (md5('q-play-1')::uuid, 'erase78-q', 'sess-q', 'mashup_played',
        jsonb_build_object('mashup_id', 'cccccccc-7800-4000-8000-000000000001', 'play_id', md5('q-p1')::uuid),
        pg_temp.at((select d3 from days), '10:00'), now() - interval '1 hour');

select tests.authenticate_as_service_role();
select public.erase_listener(p_anonymous_id => 'erase78-e') is not null as erased;
select public.erase_listener(p_anonymous_id => 'erase78-q') is not null as erased;
select tests.clear_authentication();

select results_eq(
  $$ select x.day from aggregation.erased_days x
     where x.day in ((select d1 from days), (select d2 from days), (select d3 from days), (select d4 from days))
     order by 1 $$,
  $$ values ((select d1 from days)), ((select d4 from days)) $$,
  'the erasure records the days it took counted events from (the listener''s and the one naming it), not a day of events still queued');
select results_eq($$ select distinct x.mashup_id from aggregation.erased_days x
                     where x.day in ((select d1 from days), (select d4 from days)) $$,
  $$ values ('cccccccc-7800-4000-8000-000000000001'::uuid) $$,
  'the record is a day and the mashup whose counts it keeps, no identity');

-- A recount of d1 keeps it: plays, likes, watch time and retention stay as the fold left them.
select is(aggregation.mashup_day((select d1 from days)) ->> 'skipped', 'no raw events',
  'mashup_day of an erased day keeps its rollups');
-- A manual correction on d2 (a raw event deleted by hand) is still recounted, in a range holding d1.
delete from raw_events.analytics_events where id = md5('k-play-3')::uuid;
select ok((aggregation.mashup_days((select d1 from days) - 1, (select d4 from days) + 1) ->> 'events_read')::int > 0,
  'a range holding erased days recounts its other days');

select set_eq(
  $$ select what, k, v from rollups_before where not (what = 'daily' and k = (select d2 from days)::text)
       and not (what = 'bucket' and k::timestamptz = pg_temp.at((select d2 from days), '09:30'))
       and what <> 'lifetime' $$,
  $$ select 'daily', s.date::text, row(s.plays, s.unique_plays, s.likes, s.avg_watch_time)::text
     from public.mashup_daily_stats s
     where s.mashup_id = 'cccccccc-7800-4000-8000-000000000001' and s.date <> (select d2 from days)
     union all
     select 'bucket', q.bucket_start::text, row(q.plays, q.likes)::text
     from public.mashup_quarter_hour_stats q
     where q.mashup_id = 'cccccccc-7800-4000-8000-000000000001' and q.bucket_start <> pg_temp.at((select d2 from days), '09:30')
     union all
     select 'retention', r.date::text || ' ' || r.position_bucket_seconds::text, row(r.plays, r.completed_plays, r.watch_time_seconds)::text
     from public.mashup_daily_retention r where r.mashup_id = 'cccccccc-7800-4000-8000-000000000001' $$,
  'after the recounts every day, bucket and retention row of the erased days is as it was');
select is((select row(s.plays, s.unique_plays)::text from public.mashup_daily_stats s
           where s.mashup_id = 'cccccccc-7800-4000-8000-000000000001' and s.date = (select d2 from days)),
  '(1,1)', 'd2 was recounted from its raw events: the event deleted by hand no longer counts');
select is_empty($$ select * from public.mashup_quarter_hour_stats q
                   where q.mashup_id = 'cccccccc-7800-4000-8000-000000000001'
                     and q.bucket_start = pg_temp.at((select d2 from days), '09:30') $$,
  'and its bucket is gone');
select is((select row(l.plays, l.likes, l.tracked_plays, l.completed_plays, l.watch_time_seconds)::text
           from public.mashup_lifetime_stats l where l.mashup_id = 'cccccccc-7800-4000-8000-000000000001'),
  '(4,2,5,1,229)', 'lifetime: the erased plays, like and watch time (199 + 30 s) stay; the play deleted by hand leaves the plays');

-- The user recounts (follow-days runs them for every day a follow touched) are not held back by an
-- erased day: a follow made on d1 counts there (20261127003800).
-- (The follow is written with triggers off, so only the recount can count it.)
select tests.create_supabase_user('recount follower');
set local session_replication_role = replica;
insert into public.follows (follower_id, creator_id, created_at)
values (tests.get_supabase_uid('recount follower'), tests.get_supabase_uid('recount creator'), pg_temp.at((select d1 from days), '13:00'));
set local session_replication_role = origin;
select aggregation.user_day((select d1 from days)) is not null as recounted;
select is((select followers_gained from public.user_daily_stats
           where user_id = tests.get_supabase_uid('recount creator') and date = (select d1 from days)),
  1, 'a user day recount of an erased day counts the follow made that day');

-- The day of the listener erased while queued is recounted like any other.
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 years', p_wait => true) is not null as folded;
select is(aggregation.mashup_day((select d3 from days)) ->> 'skipped', null,
  'a day whose erased events were never counted is recounted');
select is_empty($$ select * from public.mashup_daily_stats s
                   where s.mashup_id = 'cccccccc-7800-4000-8000-000000000001' and s.date = (select d3 from days) $$,
  'and counts nothing of the erased listener');

-- A deleted mashup's rollups go with it, and so does the record of what they kept (20261127004100).
select ok(exists (select 1 from aggregation.erased_days x where x.mashup_id = 'cccccccc-7800-4000-8000-000000000001'),
  'the erased days name the mashup');
delete from public.mashups where id = 'cccccccc-7800-4000-8000-000000000001';
select is_empty($$ select * from aggregation.erased_days x where x.mashup_id = 'cccccccc-7800-4000-8000-000000000001' $$,
  'deleting the mashup takes its erased days with it');

-- A rebuild from empty rollups counts every day from the raw events left: nothing to keep then.
insert into aggregation.erased_days (day) values ((select d1 from days));
select aggregation.reset_rollups();
select is_empty($$ select * from aggregation.erased_days $$, 'reset_rollups forgets the erased days');

select * from finish();
rollback;
