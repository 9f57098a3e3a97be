-- The fold's per-day state of dropped months goes (20261127002100): aggregation.prune_fold_state()
-- deletes the daily listener sets and the summary-less play folds from before
-- raw_events.settings.dropped_through, keeps everything after it, and does nothing while no month
-- was dropped.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(6);

select ok(exists (select 1 from cron.job where jobname = 'prune-fold-state'), 'it runs daily on pg_cron');

select tests.create_supabase_user('prune creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-7100-4000-8000-000000000001', tests.get_supabase_uid('prune creator'), 'prune mix', 120);
insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
values ('2026-08-31', 'cccccccc-7100-4000-8000-000000000001', 'a:before'),
       ('2026-09-01', 'cccccccc-7100-4000-8000-000000000001', 'a:after');
insert into aggregation.play_folds (play_id, started_at, mashup_id, max_position_seconds, ended)
values ('00000000-0000-4000-8000-000000007101', '2026-08-31 23:59Z', gen_random_uuid(), 10, false),
       ('00000000-0000-4000-8000-000000007102', '2026-09-01 00:01Z', gen_random_uuid(), 10, false),
       ('00000000-0000-4000-8000-000000007103', null, null, 10, false);

update raw_events.settings set dropped_through = null;
select is((aggregation.prune_fold_state() ->> 'daily_listener_rows')::integer, 0, 'nothing goes while no month was dropped');

update raw_events.settings set dropped_through = '2026-09-01 00:00Z';
select ok(aggregation.prune_fold_state() is not null, 'the prune runs');
select results_eq($$ select listener_key from aggregation.mashup_daily_listeners
                     where mashup_id = 'cccccccc-7100-4000-8000-000000000001' $$,
  $$ values ('a:after') $$, 'the listener sets of days before the dropped month''s end go; later ones stay');
select results_eq($$ select play_id::text from aggregation.play_folds where play_id::text like '00000000-0000-4000-8000-00000000710%'
                     order by 1 $$,
  $$ values ('00000000-0000-4000-8000-000000007102'), ('00000000-0000-4000-8000-000000007103') $$,
  'the folds of plays started before it go; later ones and start-less ones stay');
select is((aggregation.prune_fold_state() ->> 'play_folds')::integer, 0, 'a second run finds nothing');

select * from finish();
rollback;
