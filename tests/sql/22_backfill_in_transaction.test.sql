-- aggregation.backfill_in_transaction: the seed's backfill, which runs inside the caller's transaction
-- (the Supabase CLI applies a seed file as one), where the committing procedure cannot.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(8);

select tests.create_supabase_user('bf_creator');
select tests.create_supabase_user('bf_fan');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('dddddddd-0000-4000-8000-00000000000a', tests.get_supabase_uid('bf_creator'), 'Backfilled', 120);

-- Two recent days (inside the raw tables' partition horizon): 3 plays and a like on the first, 2 on the second.
insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at)
select case when i % 2 = 0 then tests.get_supabase_uid('bf_fan') end, 'mashup_played',
       jsonb_build_object('mashup_id', 'dddddddd-0000-4000-8000-00000000000a', 'source', 'direct',
                          'auto_play', false, 'play_id', md5('bf-play-' || i)::uuid),
       t, 'sess-bf-' || i, t
from (values (1, (current_date - 10)::timestamptz), (2, (current_date - 10) + interval '12 hours'),
             (3, (current_date - 10) + interval '23:59:59.999'), (4, (current_date - 9)::timestamptz), (5, (current_date - 9) + interval '8 hours')) as v (i, t);
insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at)
values (tests.get_supabase_uid('bf_fan'), 'mashup_liked', '{"mashup_id": "dddddddd-0000-4000-8000-00000000000a"}',
        (current_date - 10) + interval '10 hours', 'sess-bf-like', (current_date - 10) + interval '10 hours');

-- The committing procedure cannot run here: this is why the seed uses the function.
select throws_ok($$ call aggregation.backfill(current_date - 10, current_date - 8) $$, '2D000', null,
  'the committing backfill procedure fails inside a transaction');

select lives_ok($$ select aggregation.backfill_in_transaction(current_date - 10, current_date - 8) $$,
  'backfill_in_transaction runs inside the transaction');

select results_eq($$
  select date, plays, likes from public.mashup_daily_stats
  where mashup_id = 'dddddddd-0000-4000-8000-00000000000a' order by date $$,
  $$ values (current_date - 10, 3, 1), (current_date - 9, 2, 0) $$,
  'every day of the range is rolled up from the raw events, UTC day bounds');

select results_eq($$
  select from_date, to_date, status, days_total, days_done, last_day
  from aggregation.backfills order by id desc limit 1 $$,
  $$ values (current_date - 10, current_date - 8, 'succeeded'::text, 2, 2, current_date - 9) $$,
  'the run is recorded in aggregation.backfills');

select results_eq($$
  select job, status from aggregation.runs order by id desc limit 1 $$,
  $$ values ('backfill'::text, 'succeeded'::text) $$,
  'and in aggregation.runs');

select throws_ok($$ select aggregation.backfill_in_transaction(current_date, current_date) $$, '22023', null,
  'an empty range is refused');

select is(has_function_privilege('authenticated', 'aggregation.backfill_in_transaction(date, date)', 'execute'), false,
  'signed-in users cannot run it');
select is(has_function_privilege('anon', 'aggregation.backfill_in_transaction(date, date)', 'execute'), false,
  'nor can anon');

select * from finish();
rollback;
