-- Plays whose start was never seen (heartbeats only) leave aggregation.play_folds once every event
-- they hold is before a dropped month's end (20261127002600). The fold keeps the latest event time it
-- folded (last_event_at, never moved back by an older heartbeat), and the daily prune deletes the
-- start-less folds whose latest event is before raw_events.settings.dropped_through.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(6);

select tests.create_supabase_user('start-less creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-7500-4000-8000-000000000001', tests.get_supabase_uid('start-less creator'), 'start-less mix', 300);
create temporary table t on commit drop as
select (date_trunc('month', now() at time zone 'UTC') - interval '3 months' + interval '5 days') at time zone 'UTC' as old_at,
       now() - interval '2 hours' as recent_at;

-- Heartbeats of two plays never started (an old one, a recent one), and one started play.
insert into public.analytics_events (anonymous_id, session_id, event_type, properties, "timestamp", received_at)
select 'anon-75', 's-75', x.type, jsonb_build_object('mashup_id', 'cccccccc-7500-4000-8000-000000000001',
                                                     'play_id', x.play, 'position_seconds', x.pos), x.at, x.at
from (values ('mashup_play_progress', '00000000-0000-4000-8000-000000007501'::uuid, 30, (select old_at from t)),
             ('mashup_play_progress', '00000000-0000-4000-8000-000000007501'::uuid, 60, (select old_at from t) + interval '30 seconds'),
             ('mashup_play_progress', '00000000-0000-4000-8000-000000007502'::uuid, 30, (select recent_at from t))) x (type, play, pos, at);
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;

select results_eq($$ select play_id::text, started_at, last_event_at from aggregation.play_folds
                     where play_id::text like '00000000-0000-4000-8000-00000000750%' order by 1 $$,
  $$ values ('00000000-0000-4000-8000-000000007501', null::timestamptz, (select old_at from t) + interval '30 seconds'),
            ('00000000-0000-4000-8000-000000007502', null::timestamptz, (select recent_at from t)) $$,
  'a start-less fold keeps the time of its latest event');

-- An older heartbeat of the recent play arrives later: the latest time stays.
insert into public.analytics_events (anonymous_id, session_id, event_type, properties, "timestamp", received_at)
values ('anon-75', 's-75', 'mashup_play_progress',
        jsonb_build_object('mashup_id', 'cccccccc-7500-4000-8000-000000000001', 'play_id', '00000000-0000-4000-8000-000000007502',
                           'position_seconds', 10), (select recent_at from t) - interval '1 minute', now());
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
select is((select last_event_at from aggregation.play_folds where play_id = '00000000-0000-4000-8000-000000007502'),
  (select recent_at from t), 'an older heartbeat folded later does not move it back');

update raw_events.settings set dropped_through = null;
select is((aggregation.prune_fold_state() ->> 'play_folds')::integer, 0, 'nothing goes while no month was dropped');

-- The old play's month is dropped (its end is the new floor).
update raw_events.settings
set dropped_through = (date_trunc('month', (select old_at from t) at time zone 'UTC') + interval '1 month') at time zone 'UTC';
select is((aggregation.prune_fold_state() ->> 'play_folds')::integer >= 1, true, 'the prune deletes start-less folds');
select results_eq($$ select play_id::text from aggregation.play_folds
                     where play_id::text like '00000000-0000-4000-8000-00000000750%' order by 1 $$,
  $$ values ('00000000-0000-4000-8000-000000007502') $$,
  'the fold whose every event is before the dropped month''s end goes; the recent one stays');
select is((aggregation.prune_fold_state() ->> 'play_folds')::integer, 0, 'a second run finds nothing');

select * from finish();
rollback;
