-- Deleting a mashup (by its creator, through RLS) or an account removes their rollup rows, as the
-- foreign keys' ON DELETE CASCADE did before 20261126100000 replaced them with statement triggers;
-- the other mashup's and creator's rows stay, and nothing else changes.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(8);
-- Fixed dates in March 2026, inside the raw-event retention horizon with their month's partition.
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');

select tests.create_supabase_user('cascade-owner');
select tests.create_supabase_user('cascade-other');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('eeeeeeee-0000-4000-8000-0000000000c1', tests.get_supabase_uid('cascade-owner'), 'Deleted mix', 180),
  ('eeeeeeee-0000-4000-8000-0000000000c2', tests.get_supabase_uid('cascade-owner'), 'Kept mix', 180),
  ('eeeeeeee-0000-4000-8000-0000000000c3', tests.get_supabase_uid('cascade-other'), 'Other mix', 180);

-- Each mashup: two plays with a heartbeat, one listener played twice, a like.
insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, country, device)
select gen_random_uuid(), e.t,
       jsonb_build_object('mashup_id', m.id, 'play_id', md5(m.id::text || p.n)::uuid, 'source', 'direct',
                          'position_seconds', 100),
       '2026-03-10 10:00+00'::timestamptz + p.n * interval '1 minute' + e.o, 'fan-' || (p.n % 2), 'DE', 'mobile'
from (values ('eeeeeeee-0000-4000-8000-0000000000c1'::uuid), ('eeeeeeee-0000-4000-8000-0000000000c2'),
             ('eeeeeeee-0000-4000-8000-0000000000c3')) m (id),
     generate_series(1, 3) p (n),
     (values ('mashup_played', interval '0'), ('mashup_play_progress', interval '30 seconds'),
             ('mashup_liked', interval '40 seconds')) e (t, o);
-- One listener comes back the next day: a row of the day set (it keeps only days after a
-- listener's first day, 20261126210000).
insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, country, device)
select gen_random_uuid(), 'mashup_played',
       jsonb_build_object('mashup_id', m.id, 'play_id', md5(m.id::text || 'next-day')::uuid, 'source', 'direct'),
       '2026-03-11 09:00+00', 'fan-1', 'DE', 'mobile'
from (values ('eeeeeeee-0000-4000-8000-0000000000c1'::uuid), ('eeeeeeee-0000-4000-8000-0000000000c2'),
             ('eeeeeeee-0000-4000-8000-0000000000c3')) m (id);
select aggregation.mashup_day('2026-03-10');
select aggregation.mashup_day('2026-03-11');

create temporary table rollup_rows on commit drop as
select 'quarter_hour_stats' as t, mashup_id as k from public.mashup_quarter_hour_stats
union all select 'breakdowns', mashup_id from public.mashup_quarter_hour_breakdowns
union all select 'play_summaries', mashup_id from public.mashup_play_summaries
union all select 'retention', mashup_id from public.mashup_daily_retention
union all select 'listeners', mashup_id from public.mashup_listeners
union all select 'lifetime', mashup_id from public.mashup_lifetime_stats
union all select 'daily_listeners', mashup_id from aggregation.mashup_daily_listeners
union all select 'daily_stats', mashup_id from public.mashup_daily_stats;
create function pg_temp.rollup_rows_of(p_id uuid)
returns setof text language sql as $$
  select t from (
    select 'quarter_hour_stats' as t, mashup_id as k from public.mashup_quarter_hour_stats
    union all select 'breakdowns', mashup_id from public.mashup_quarter_hour_breakdowns
    union all select 'play_summaries', mashup_id from public.mashup_play_summaries
    union all select 'retention', mashup_id from public.mashup_daily_retention
    union all select 'listeners', mashup_id from public.mashup_listeners
    union all select 'lifetime', mashup_id from public.mashup_lifetime_stats
    union all select 'daily_listeners', mashup_id from aggregation.mashup_daily_listeners
    union all select 'daily_stats', mashup_id from public.mashup_daily_stats) r
  where r.k = p_id group by t order by t
$$;

select is(array(select pg_temp.rollup_rows_of('eeeeeeee-0000-4000-8000-0000000000c1')),
  array['breakdowns', 'daily_listeners', 'daily_stats', 'lifetime', 'listeners', 'play_summaries',
        'quarter_hour_stats', 'retention'],
  'before: the mashup has rows in every per-mashup rollup');

-- The creator deletes one of their mashups through RLS (a role that cannot write rollups).
select tests.authenticate_as('cascade-owner');
delete from public.mashups where id = 'eeeeeeee-0000-4000-8000-0000000000c1';
select tests.clear_authentication();

select is(array(select pg_temp.rollup_rows_of('eeeeeeee-0000-4000-8000-0000000000c1')), '{}'::text[],
  'a deleted mashup leaves no row in any per-mashup rollup');
select is(
  (select array_agg(t order by t, k) from (select r.t, r.k from rollup_rows r
   where r.k <> 'eeeeeeee-0000-4000-8000-0000000000c1' except all
   select x.t, x.k from (
     select 'quarter_hour_stats' as t, mashup_id as k from public.mashup_quarter_hour_stats
     union all select 'breakdowns', mashup_id from public.mashup_quarter_hour_breakdowns
     union all select 'play_summaries', mashup_id from public.mashup_play_summaries
     union all select 'retention', mashup_id from public.mashup_daily_retention
     union all select 'listeners', mashup_id from public.mashup_listeners
     union all select 'lifetime', mashup_id from public.mashup_lifetime_stats
     union all select 'daily_listeners', mashup_id from aggregation.mashup_daily_listeners
     union all select 'daily_stats', mashup_id from public.mashup_daily_stats) x) d),
  null, 'the other mashups keep every row');

select ok(exists (select 1 from public.creator_quarter_hour_stats where creator_id = tests.get_supabase_uid('cascade-owner'))
          and exists (select 1 from public.creator_daily_breakdowns where creator_id = tests.get_supabase_uid('cascade-owner')),
  'the creator keeps creator rows while they have an account');

-- The account goes: its mashups (foreign key on mashups) and its creator rollups go with it.
create temporary table gone_ids on commit drop as
select tests.get_supabase_uid('cascade-owner') as owner, tests.get_supabase_uid('cascade-other') as other;
delete from auth.users where id = (select owner from gone_ids);
select is(array(select pg_temp.rollup_rows_of('eeeeeeee-0000-4000-8000-0000000000c2')), '{}'::text[],
  'a deleted account''s mashups leave no rollup rows');
select ok(not exists (select 1 from public.creator_quarter_hour_stats where creator_id = (select owner from gone_ids))
          and not exists (select 1 from public.creator_daily_breakdowns where creator_id = (select owner from gone_ids)),
  'a deleted account leaves no creator rows');
select ok(exists (select 1 from public.creator_quarter_hour_stats where creator_id = (select other from gone_ids))
          and exists (select 1 from public.creator_daily_breakdowns where creator_id = (select other from gone_ids)),
  'another creator keeps their creator rows');

-- The rollup tables a delete cascades to are exactly those without a foreign key to mashups.
select is(
  (select count(*)::int from pg_constraint c
   where c.contype = 'f' and c.confrelid = 'public.mashups'::regclass
     and c.conrelid in ('public.mashup_quarter_hour_stats'::regclass, 'public.mashup_quarter_hour_breakdowns'::regclass,
                        'public.mashup_play_summaries'::regclass, 'public.mashup_daily_retention'::regclass,
                        'public.mashup_listeners'::regclass, 'public.mashup_lifetime_stats'::regclass,
                        'aggregation.mashup_daily_listeners'::regclass)),
  0, 'the fold''s per-mashup rollups have no per-row foreign-key triggers');

select * from finish();
rollback;
