begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(16);

-- The parameter an error names (its HINT), or null when the call succeeds.
create function pg_temp.refused_param(p_call text) returns text language plpgsql as $$
declare
  hint text;
begin
  execute p_call;
  return null;
exception when others then
  get stacked diagnostics hint = pg_exception_hint;
  return coalesce(hint, 'no hint: ' || sqlerrm);
end;
$$;

-- Time zones ------------------------------------------------------------------------------------
select is((select count(*)::int from dashboard.time_zone_names z
           where pg_temp.refused_param(format('select public.dashboard_parameters(%L, %L, %L)',
                                              '2026-03-01', '2026-03-15', z.name)) is not null),
          0, 'every IANA name of the server''s tz database is accepted');
select is((select count(*)::int from dashboard.time_zone_names z
           where (select p.tz from public.dashboard_parameters('2026-03-01', '2026-03-15', upper(z.name)) p) <> z.name),
          0, 'names are matched case-insensitively and passed on in their canonical case');
select ok((select count(*) from dashboard.time_zone_names) > 300
          and exists (select 1 from dashboard.time_zone_names where name = 'UTC')
          and not exists (select 1 from dashboard.time_zone_names where name ~ '^(posix|right)/|^Factory$'),
          'the list holds the zones and none of tzdata''s POSIX copies');

-- Offsets (which AT TIME ZONE reads as POSIX rules, sign inverted), POSIX rules, abbreviations.
with offsets as (
  select s || lpad(h::text, 2, '0') || sep || m as tz
  from unnest(array['+', '-']) s, generate_series(0, 14) h, unnest(array[':', '']) sep,
       unnest(array['00', '30', '45']) m
), posix as (
  select chr(65 + (i * 7) % 26) || chr(65 + (i * 11) % 26) || chr(65 + (i * 13) % 26)
         || (array['+', '-'])[1 + i % 2] || (i % 13)::text
         || case when i % 3 = 0 then chr(65 + i % 26) || 'DT' else '' end as tz
  from generate_series(1, 200) i
), abbreviations as (
  select a.abbrev as tz from pg_catalog.pg_timezone_abbrevs a
  where not exists (select 1 from dashboard.time_zone_names z where z.lower_name = lower(a.abbrev))
), corpus as (
  select tz from offsets union all select tz from posix
  where not exists (select 1 from dashboard.time_zone_names z where z.lower_name = lower(posix.tz))
  union all select tz from abbreviations
  union all values ('Mars/Base'), ('posix/Europe/Berlin'), ('right/UTC'), ('Factory'), (''), (' UTC'), ('UTC+3')
)
select is((select count(*)::int from corpus
           where pg_temp.refused_param(format('select public.dashboard_parameters(%L, %L, %L)',
                                              '2026-03-01', '2026-03-15', tz)) is distinct from 'p_tz'),
          0, 'offsets, POSIX rules, abbreviations and junk are refused naming p_tz');
select is(pg_temp.refused_param($$ select public.get_creator_dashboard('2026-03-01', '2026-03-15', null) $$), 'p_tz',
          'p_tz null is refused, not read as "no zone"');
select throws_ok($$ select public.get_creator_dashboard('2026-03-01', '2026-03-15', '+05:30') $$,
  '22023', 'p_tz must be an IANA time zone name (e.g. Europe/Berlin) or UTC', 'the message names p_tz and the rule');

-- Dates -----------------------------------------------------------------------------------------
select is((select count(*)::int
           from generate_series('2023-01-01'::date, '2024-12-31'::date, interval '1 day') d
           where (select p.start_date from public.dashboard_parameters(to_char(d, 'YYYY-MM-DD'),
                                                                      to_char(d + interval '1 day', 'YYYY-MM-DD'), 'UTC') p)
                 <> d::date),
          0, 'every day of a leap and a common year is accepted as itself');
with bad as (
  select '0000-' || lpad(m::text, 2, '0') || '-01' as d from generate_series(1, 12) m
  union all select lpad(y::text, 4, '0') || '-02-29' from generate_series(1, 2400, 7) y
    where not (y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0))
  union all select '2026-' || m || '-31' from unnest(array['04', '06', '09', '11']) m
  union all select '2026-' || m || '-10' from unnest(array['00', '13', '20', '99']) m
  union all select '2026-03-' || dd from unnest(array['00', '32', '40', '99']) dd
  union all values ('yesterday'), ('2026-3-1'), ('26-03-01'), ('2026/03/01'), ('20260301'),
                   ('+2026-03-01'), ('-0001-01-01'), ('2026-03-01T00:00'), (''), ('10000-01-01')
)
select is((select count(*)::int from bad
           where pg_temp.refused_param(format('select public.get_creator_dashboard(%L, %L)', d, '2026-03-01')) is distinct from 'p_start'
              or pg_temp.refused_param(format('select public.get_mashup_analytics(%L, %L, %L)',
                                              gen_random_uuid(), '2026-02-01', d)) is distinct from 'p_end'),
          0, 'impossible dates and other forms are refused naming p_start / p_end');
select is(pg_temp.refused_param($$ select public.get_creator_dashboard(null, '2026-03-01') $$), 'p_start', 'p_start is required');
select is(pg_temp.refused_param($$ select public.get_creator_dashboard('2026-03-01', '2026-03-01') $$), 'p_end', 'an empty period names p_end');

-- p_limit and p_mashup_id -------------------------------------------------------------------------
select is((select count(*)::int
           from unnest(array['0', '101', '-1', '1.5', '"ten"', '""', 'null', 'true', '[5]', '{"n":5}', '"1e2"', '1e10']::jsonb[]) l
           where pg_temp.refused_param(format('select public.get_creator_dashboard(%L, %L, %L, %L::jsonb)',
                                              '2026-03-01', '2026-03-15', 'UTC', l)) is distinct from 'p_limit'),
          0, 'limits other than an integer 1..100 (number or digits) are refused naming p_limit');
select is((select count(*)::int
           from unnest(array['x', '', 'cccccccc-0000-4000-8000-00000000000', 'gggggggg-0000-4000-8000-000000000000']) i
           where pg_temp.refused_param(format('select public.get_mashup_analytics(%L, %L, %L)', i, '2026-03-01', '2026-03-15'))
                 is distinct from 'p_mashup_id'),
          0, 'a mashup id that is not a UUID is refused naming p_mashup_id');

-- The checked RPCs answer exactly what the moved implementations answer -------------------------
select tests.create_supabase_user('param_a');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('dddddddd-0000-4000-8000-00000000000a', tests.get_supabase_uid('param_a'), 'Param A', 120);
insert into public.mashup_quarter_hour_stats (mashup_id, bucket_start, plays, likes)
select 'dddddddd-0000-4000-8000-00000000000a', '2026-03-01'::timestamptz + (i * interval '15 minutes'), i % 7, i % 3
from generate_series(0, 1500, 13) i;
select tests.authenticate_as('param_a');
select is((select count(*)::int
           from unnest(array['UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'America/St_Johns', 'Pacific/Chatham']) tz,
                unnest(array['2026-03-01', '2026-03-05', '2026-02-20']) s
           where public.get_creator_dashboard(s, '2026-03-20', lower(tz), '5')
                 is distinct from dashboard.get_creator_dashboard(s::date, '2026-03-20', tz, 5)),
          0, 'the dashboard RPC answers as the implementation does, zone by zone');
select is((select count(*)::int
           from unnest(array['UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'America/St_Johns']) tz
           where public.get_mashup_analytics('DDDDDDDD-0000-4000-8000-00000000000A', '2026-03-01', '2026-03-20', tz)
                 is distinct from dashboard.get_mashup_analytics('dddddddd-0000-4000-8000-00000000000a', '2026-03-01', '2026-03-20', tz)),
          0, 'the mashup RPC answers as the implementation does (an upper-case id too)');
select is((select count(*)::int
           from unnest(array['UTC', 'Asia/Kathmandu', 'America/St_Johns']) tz
           where public.get_creator_dashboard_with_comparison('2026-03-05', '2026-03-20', tz, '5') - 'comparison'
                 is distinct from dashboard.get_creator_dashboard('2026-03-05', '2026-03-20', tz, 5)),
          0, 'the comparison RPC''s dashboard part is the implementation''s');
select is(pg_temp.refused_param($$ select public.get_mashup_analytics_with_comparison('x', '2026-03-01', '2026-03-20') $$),
          'p_mashup_id', 'the comparison RPCs check their parameters by name too');
select tests.clear_authentication();

select * from finish();
rollback;
