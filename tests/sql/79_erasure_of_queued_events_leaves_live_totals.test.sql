-- An erasure keeps the same counts live and daily (20261127003900). erase_listener keeps the counts
-- of the deleted events the rollups had counted and drops the events still queued for the fold, which
-- then count nowhere: not in the days, and, since this migration, not in the live totals either (the
-- delete trigger had kept their live counts, so the live plays stayed above the days' for good).
-- The rule, over randomized histories: after erasures at random points of the fold, a fold of what is
-- left and a reconciliation, every mashup's live totals equal the sums of its daily rows. Then one
-- case worked through by hand, with a queued event older than the live count's cutoff and a follow.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(9);

select tests.create_supabase_user('queued erase creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
select ('cccccccc-7900-4000-8000-0000000000' || s || i)::uuid, tests.get_supabase_uid('queued erase creator'), 'queued ' || s || i, 180
from generate_series(1, 4) s, generate_series(1, 3) i;

create function pg_temp.reconcile() returns jsonb language sql as $$
  select public.reconcile_realtime_totals('{}', (extract(epoch from clock_timestamp()) * 1000000)::bigint + 1, 'pgtap')
$$;
create function pg_temp.fold() returns boolean language sql as $$
  select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years', p_wait => true) is not null
$$;
-- Per mashup and counter: the live total and the sum of its daily rows (exports are downloads).
create function pg_temp.live_against_days(p_set int) returns table (mashup_id uuid, counter text, live bigint, days bigint)
language sql as $$
  select t.mashup_id, x.counter, x.live, x.days
  from public.mashup_realtime_totals t
  cross join lateral (
    select coalesce(sum(d.plays), 0) as plays, coalesce(sum(d.likes), 0) as likes, coalesce(sum(d.shares), 0) as shares,
           coalesce(sum(d.comments), 0) as comments, coalesce(sum(d.downloads), 0) as downloads
    from public.mashup_daily_stats d where d.mashup_id = t.mashup_id) s
  cross join lateral (values ('plays', t.plays, s.plays), ('likes', t.likes, s.likes), ('shares', t.shares, s.shares),
                             ('comments', t.comments, s.comments), ('downloads', t.downloads, s.downloads)) x (counter, live, days)
  where t.mashup_id::text like 'cccccccc-7900-4000-8000-0000000000' || p_set || '_'
$$;

-- Randomized histories: 8 listeners, 3 mashups, 5 rounds of events received over the last four
-- hours (so some before the live count's cutoff, an hour behind the reconciliation's fence), each
-- round folded or not, reconciled or not; then two listeners erased with part of their events
-- queued. Three seeds, each on mashups of its own.
create temporary table rule_results (seed double precision, mashup_id uuid, counter text, live bigint, days bigint)
  on commit drop;
create temporary table erased_state (seed double precision, queued bigint, folded bigint) on commit drop;
create function pg_temp.history(p_seed double precision, p_set int) returns void language plpgsql as $$
declare
  v_round int;
  v_erased text[];
begin
  perform setseed(p_seed);
  for v_round in 1 .. 5 loop
    insert into public.analytics_events (anonymous_id, session_id, event_type, properties, "timestamp", received_at)
    select 'q79-' || p_seed || '-L' || (1 + floor(random() * 8))::int, 'q79-s',
           (array['mashup_played', 'mashup_played', 'mashup_played', 'mashup_liked', 'mashup_shared',
                  'comment_posted', 'mashup_exported'])[1 + floor(random() * 7)::int],
           jsonb_build_object('mashup_id', 'cccccccc-7900-4000-8000-0000000000' || p_set || (1 + floor(random() * 3))::int,
                              'play_id', gen_random_uuid()),
           r.at, r.at + interval '2 seconds'
    from generate_series(1, 20 + floor(random() * 20)::int) n
    cross join lateral (select now() - interval '4 hours' + (v_round - 1) * interval '55 minutes'
                               + random() * interval '50 minutes' + n * interval '0 seconds' as at) r;
    if random() < 0.6 then perform pg_temp.fold(); end if;
    if random() < 0.5 then perform pg_temp.reconcile(); end if;
  end loop;
  -- The last round stays queued for two listeners who have events in it.
  select array_agg(l) into v_erased from (
    select q.listener_key as l from aggregation.pending_events q
    where q.listener_key like 'a:q79-' || p_seed || '-%' group by 1 order by count(*) desc, 1 limit 2) k;
  insert into erased_state
  select p_seed,
         (select count(*) from aggregation.pending_events q where q.listener_key = any (v_erased)),
         (select count(*) from public.analytics_events e where 'a:' || e.anonymous_id = any (v_erased)
            and not exists (select 1 from aggregation.pending_events q where q.id = e.id));
  perform public.erase_listener(p_anonymous_id => substr(l, 3)) from unnest(v_erased) l;
  perform pg_temp.fold();
  perform pg_temp.reconcile();
  insert into rule_results select p_seed, r.* from pg_temp.live_against_days(p_set) r;
end;
$$;
select pg_temp.history(0.17, 1);
select pg_temp.history(-0.42, 2);
select pg_temp.history(0.73, 3);

select is_empty($$ select * from rule_results where live <> days $$,
  'every seed: after erasures with events folded and queued, each mashup''s live totals equal the sums of its days');
select is((select count(*) from rule_results where days > 0), (select count(*) from rule_results where live > 0),
  'and the comparison compared counts (every counter with a count on one side has it on the other)');
select ok((select bool_and(queued > 0 and folded > 0) from erased_state) and (select count(*) from erased_state) = 3,
  'every seed erased listeners with events still queued and events already folded');

-- The case by hand. Listener A: a like counted (folded), then two plays and a share still queued, and
-- a play received two hours ago that the fold has not reached (older than the live count's cutoff).
-- Listener B: a play. A also follows the creator (queued).
insert into public.analytics_events (anonymous_id, session_id, event_type, properties, "timestamp", received_at)
values ('q79-A', 's', 'mashup_liked', '{"mashup_id": "cccccccc-7900-4000-8000-000000000041"}', now() - interval '3 hours', now() - interval '3 hours'),
       ('q79-B', 's', 'mashup_played', '{"mashup_id": "cccccccc-7900-4000-8000-000000000041"}', now() - interval '3 hours', now() - interval '3 hours');
select pg_temp.fold();
insert into public.analytics_events (anonymous_id, session_id, event_type, properties, "timestamp", received_at)
values ('q79-A', 's', 'mashup_played', '{"mashup_id": "cccccccc-7900-4000-8000-000000000041"}', now() - interval '10 minutes', now() - interval '10 minutes'),
       ('q79-A', 's', 'mashup_played', '{"mashup_id": "cccccccc-7900-4000-8000-000000000041"}', now() - interval '9 minutes', now() - interval '9 minutes'),
       ('q79-A', 's', 'mashup_shared', '{"mashup_id": "cccccccc-7900-4000-8000-000000000041"}', now() - interval '8 minutes', now() - interval '8 minutes'),
       ('q79-A', 's', 'mashup_played', '{"mashup_id": "cccccccc-7900-4000-8000-000000000041"}', now() - interval '2 hours', now() - interval '2 hours');
insert into public.analytics_events (anonymous_id, session_id, event_type, properties, "timestamp", received_at)
select 'q79-A', 's', 'user_followed', jsonb_build_object('creator_id', tests.get_supabase_uid('queued erase creator')),
       now() - interval '7 minutes', now() - interval '7 minutes';
select pg_temp.reconcile();
select results_eq($$ select m.plays, m.likes, m.shares, c.followers
                     from public.mashup_realtime_totals m, public.creator_realtime_totals c
                     where m.mashup_id = 'cccccccc-7900-4000-8000-000000000041'
                       and c.creator_id = tests.get_supabase_uid('queued erase creator') $$,
  $$ values (4::bigint, 1::bigint, 1::bigint, 1::bigint) $$,
  'before the erasure the live totals count every event, queued or not');
select ok((select count(*) from aggregation.pending_events q where q.listener_key = 'a:q79-A') = 5
          and (select c.received_before > now() - interval '2 hours' from raw_events.realtime_count_cutoff c),
  'A has five events queued, one of them counted before the cutoff');

select tests.authenticate_as_service_role();
select is((public.erase_listener(p_anonymous_id => 'q79-A') ->> 'events_deleted')::integer, 6, 'the erasure deletes A''s six events');
select tests.clear_authentication();
select pg_temp.fold();
create function pg_temp.repairs(p_run jsonb) returns table (counter text, repaired bigint) language sql as $$
  select d.counter, d.repaired from public.realtime_drift d
  where d.run_id = (p_run ->> 'run_id')::uuid
    and d.subject_id in ('cccccccc-7900-4000-8000-000000000041', tests.get_supabase_uid('queued erase creator'))
  order by 1
$$;
select results_eq($$ select * from pg_temp.repairs(pg_temp.reconcile()) $$,
  $$ values ('plays', -3::bigint), ('shares', -1::bigint) $$,
  'the reconciliation takes back the three queued plays (one from before the cutoff) and the queued share; the counted like and the follow stay');
select results_eq($$ select m.plays, m.likes, m.shares, c.followers
                     from public.mashup_realtime_totals m, public.creator_realtime_totals c
                     where m.mashup_id = 'cccccccc-7900-4000-8000-000000000041'
                       and c.creator_id = tests.get_supabase_uid('queued erase creator') $$,
  $$ values (1::bigint, 1::bigint, 0::bigint, 1::bigint) $$,
  'the live totals keep B''s play and A''s counted like, and the follow (the live follower ledger keeps a follow event''s count)');
select results_eq($$ select sum(plays)::bigint, sum(likes)::bigint, sum(shares)::bigint from public.mashup_daily_stats
                     where mashup_id = 'cccccccc-7900-4000-8000-000000000041' $$,
  $$ values (1::bigint, 1::bigint, 0::bigint) $$,
  'the same as the days');

select * from finish();
rollback;
