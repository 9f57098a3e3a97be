-- ingest_events with one id twice in a batch: the id's first copy that raw storage keeps is stored;
-- a copy refused for its time (outside raw_events.horizon()..ceiling()) answers with that time and
-- does not take the id from a later kept copy; every other copy is a duplicate
-- (supabase/migrations/20261127001200_ingest_events_first_kept_copy.sql; before it the first case
-- answered refused + duplicate and stored nothing).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(7);

-- A like, dated now (kept) or by a client time before the horizon (a client's out-of-window time
-- is sent as client_timestamp with no "timestamp", as track sends it).
create function tests.like_event(p_id uuid, p_old boolean)
returns jsonb
language sql
as $$
  select jsonb_build_object('id', p_id, 'type', 'mashup_liked', 'session_id', 's', 'anonymous_id', 'a-65',
                            'properties', jsonb_build_object('mashup_id', 'bbbbbbbb-6500-4000-8000-000000000001'))
         || case when p_old then jsonb_build_object('client_timestamp', raw_events.horizon() - interval '1 day')
                 else '{}'::jsonb end
$$;

select tests.authenticate_as_service_role();
create temporary table answers on commit drop as
select 'refused first' as batch, r.ordinality, r.is_new, r."timestamp"
from public.ingest_events(jsonb_build_array(tests.like_event('aaaaaaaa-6500-4000-8000-000000000001', true),
                                            tests.like_event('aaaaaaaa-6500-4000-8000-000000000001', false))) r
union all
select 'kept first', r.ordinality, r.is_new, r."timestamp"
from public.ingest_events(jsonb_build_array(tests.like_event('aaaaaaaa-6500-4000-8000-000000000002', false),
                                            tests.like_event('aaaaaaaa-6500-4000-8000-000000000002', true),
                                            tests.like_event('aaaaaaaa-6500-4000-8000-000000000002', false))) r
union all
select 'both refused', r.ordinality, r.is_new, r."timestamp"
from public.ingest_events(jsonb_build_array(tests.like_event('aaaaaaaa-6500-4000-8000-000000000003', true),
                                            tests.like_event('aaaaaaaa-6500-4000-8000-000000000003', true))) r;

select results_eq(
  $$select ordinality::int, is_new, "timestamp" = raw_events.horizon() - interval '1 day' from answers
    where batch = 'refused first' order by ordinality$$,
  $$values (1, false, true), (2, true, false)$$,
  'a refused first copy answers with its time; the later kept copy is stored');
select results_eq(
  $$select ordinality::int, is_new, "timestamp" = raw_events.horizon() - interval '1 day' from answers
    where batch = 'kept first' order by ordinality$$,
  $$values (1, true, false), (2, false, true), (3, false, null::boolean)$$,
  'a kept first copy is stored; a later refused copy answers with its time; a later kept copy is a duplicate');
select results_eq(
  $$select ordinality::int, is_new, "timestamp" is not null from answers where batch = 'both refused' order by ordinality$$,
  $$values (1, false, true), (2, false, true)$$,
  'two refused copies are both refused');
select results_eq(
  $$select id::text, count(*)::int from public.analytics_events
    where id in ('aaaaaaaa-6500-4000-8000-000000000001', 'aaaaaaaa-6500-4000-8000-000000000002',
                 'aaaaaaaa-6500-4000-8000-000000000003') group by 1 order by 1$$,
  $$values ('aaaaaaaa-6500-4000-8000-000000000001', 1), ('aaaaaaaa-6500-4000-8000-000000000002', 1)$$,
  'each kept id is stored once; the refused one not at all');
select ok((select "timestamp" >= raw_events.horizon() from public.analytics_events
           where id = 'aaaaaaaa-6500-4000-8000-000000000001'),
  'the stored copy is the kept one (dated now, not before the horizon)');

-- Sent again: the stored ids are duplicates (no time), the refused copies still refused.
select results_eq(
  $$select r.ordinality::int, r.is_new, r."timestamp" is not null
    from public.ingest_events(jsonb_build_array(tests.like_event('aaaaaaaa-6500-4000-8000-000000000001', true),
                                                tests.like_event('aaaaaaaa-6500-4000-8000-000000000001', false))) r
    order by 1$$,
  $$values (1, false, true), (2, false, false)$$,
  'resent: the refused copy is refused again, the kept copy is a duplicate');
select is((select count(*)::int from public.analytics_events where id = 'aaaaaaaa-6500-4000-8000-000000000001'), 1,
  'and nothing is stored twice');

select * from finish();
rollback;
