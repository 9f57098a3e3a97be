-- The dashboard RPCs check their parameters by name. Before this, PostgREST cast the JSON
-- arguments to the functions' date/uuid/integer types itself, so a bad value failed before the
-- function ran, with an error naming the value ("date/time field value out of range:
-- \"0000-01-01\"") instead of the parameter; and `p_tz` was handed to AT TIME ZONE unchecked,
-- which reads "+05:30" or "XYZ+5" as a POSIX rule (the opposite offset) and null as "no zone"
-- (every count 0).
--
-- Now the public RPCs take their arguments as text (p_limit as JSON), every one with a default so
-- that a missing one also reaches the checks ("p_start is required"), and check them in
-- public.dashboard_parameters() before calling the unchanged implementations, which move to the
-- `dashboard` schema (not exposed by PostgREST):
--   public.get_creator_dashboard(p_start, p_end, p_tz, p_limit)   -> dashboard.get_creator_dashboard(date, date, text, integer)
--   public.get_mashup_analytics(p_mashup_id, p_start, p_end, p_tz) -> dashboard.get_mashup_analytics(uuid, date, date, text)
-- and likewise the compare=previous wrappers of 20261126060000 (get_*_with_comparison).
-- This migration sorts after that one because it redefines its wrappers (their bodies are kept,
-- calling the implementations instead of the replaced public functions).
-- A bad parameter is SQLSTATE 22023, which PostgREST answers 400 {"code":"22023","message":
-- "p_tz must be ...","hint":"p_tz",...}: the message starts with the parameter and the hint is it.
--
-- To change what a dashboard response contains, redefine the implementation in `dashboard`
-- (create or replace function dashboard.get_creator_dashboard(p_start date, ...)); a public
-- function with the old date signature would be a second overload, and PostgREST refuses
-- ambiguous calls.

create schema if not exists dashboard;
comment on schema dashboard is
  'The dashboard implementations behind the public RPCs, and the time zone names they accept. Not exposed by PostgREST.';
grant usage on schema dashboard to authenticated, service_role;

-- The IANA time zone database as this server knows it (PostgreSQL's own tzdata), without the
-- posix/ and right/ copies and the non-zones. Matched case-insensitively, as AT TIME ZONE does.
-- A table, because pg_timezone_names reads ~1200 files (30 ms) on every query.
create table dashboard.time_zone_names (
  lower_name text primary key,
  name text not null
);
comment on table dashboard.time_zone_names is
  'IANA time zone names (from pg_timezone_names at migration time) that the dashboard accepts as p_tz.';
insert into dashboard.time_zone_names (lower_name, name)
select distinct on (lower(z.name)) lower(z.name), z.name
from pg_catalog.pg_timezone_names z
where z.name !~ '^(posix|right)/' and z.name not in ('Factory', 'posixrules', 'localtime')
order by lower(z.name), z.name;

alter table dashboard.time_zone_names enable row level security;
create policy "time zone names are readable by signed-in users" on dashboard.time_zone_names
  for select to authenticated using (true);
grant select on dashboard.time_zone_names to authenticated, service_role;

-- A date parameter: YYYY-MM-DD, a real calendar date within 0001-01-01 .. 9999-12-31 (year 0
-- and BC dates are PostgreSQL dates too, but no period of this product starts there).
create function public.dashboard_date_parameter(p_name text, p_value text)
returns date
language plpgsql
immutable
security invoker
set search_path = ''
as $$
declare
  parsed date;
begin
  if p_value is null then
    raise exception '% is required: a date as YYYY-MM-DD', p_name using errcode = '22023', hint = p_name;
  end if;
  if p_value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
    raise exception '% must be a date as YYYY-MM-DD', p_name using errcode = '22023', hint = p_name;
  end if;
  begin
    parsed := to_date(p_value, 'YYYY-MM-DD');
    if to_char(parsed, 'YYYY-MM-DD') <> p_value then
      raise exception using errcode = '22008';
    end if;
  exception when datetime_field_overflow or invalid_datetime_format or data_exception then
    raise exception '% is not a real calendar date between 0001-01-01 and 9999-12-31', p_name
      using errcode = '22023', hint = p_name;
  end;
  return parsed;
end;
$$;

-- The period and zone of a dashboard RPC, checked in the order of the parameters; errors name the
-- parameter (message prefix and hint).
create function public.dashboard_parameters(p_start text, p_end text, p_tz text,
                                            out start_date date, out end_date date, out tz text)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  start_date := public.dashboard_date_parameter('p_start', p_start);
  end_date := public.dashboard_date_parameter('p_end', p_end);
  if end_date <= start_date then
    raise exception 'p_end must be after p_start' using errcode = '22023', hint = 'p_end';
  end if;
  if end_date - start_date > 366 then
    raise exception 'p_end must be at most 366 days after p_start' using errcode = '22023', hint = 'p_end';
  end if;
  if p_tz is null then
    raise exception 'p_tz is required: an IANA time zone name (e.g. Europe/Berlin) or UTC'
      using errcode = '22023', hint = 'p_tz';
  end if;
  select z.name into tz from dashboard.time_zone_names z where z.lower_name = lower(p_tz);
  if tz is null then
    raise exception 'p_tz must be an IANA time zone name (e.g. Europe/Berlin) or UTC'
      using errcode = '22023', hint = 'p_tz';
  end if;
end;
$$;

-- p_limit as JSON, so that a client may send 10 or "10" (PostgREST's GET form sends strings) and
-- anything else is this function's 400 naming p_limit rather than a cast error.
create function public.dashboard_limit_parameter(p_limit jsonb)
returns integer
language plpgsql
immutable
security invoker
set search_path = ''
as $$
declare
  value text := case jsonb_typeof(p_limit) when 'number' then p_limit::text
                                           when 'string' then p_limit #>> '{}' end;
begin
  if value is null or value !~ '^[0-9]{1,3}$' or value::integer not between 1 and 100 then
    raise exception 'p_limit must be an integer between 1 and 100' using errcode = '22023', hint = 'p_limit';
  end if;
  return value::integer;
end;
$$;

-- A mashup id parameter: a UUID in its text form (any letter case).
create function public.dashboard_mashup_id_parameter(p_mashup_id text)
returns uuid
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if p_mashup_id is null
     or p_mashup_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'p_mashup_id must be a UUID' using errcode = '22023', hint = 'p_mashup_id';
  end if;
  return p_mashup_id::uuid;
end;
$$;

-- The implementations move unchanged (bodies, comments and grants go with them).
alter function public.get_creator_dashboard(date, date, text, integer) set schema dashboard;
alter function public.get_mashup_analytics(uuid, date, date, text) set schema dashboard;

create function public.get_creator_dashboard(p_start text default null, p_end text default null,
                                             p_tz text default 'UTC', p_limit jsonb default '10')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  period record;
  row_limit integer;
begin
  select * into period from public.dashboard_parameters(p_start, p_end, p_tz);
  row_limit := public.dashboard_limit_parameter(p_limit);
  return dashboard.get_creator_dashboard(period.start_date, period.end_date, period.tz, row_limit);
end;
$$;
comment on function public.get_creator_dashboard(text, text, text, jsonb) is
  'The plan''s dashboard response for the caller''s mashups (platform-wide for the service role); bad parameters are 22023 naming the parameter.';

create function public.get_mashup_analytics(p_mashup_id text default null, p_start text default null,
                                            p_end text default null, p_tz text default 'UTC')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  mashup_id uuid := public.dashboard_mashup_id_parameter(p_mashup_id);
  period record;
begin
  select * into period from public.dashboard_parameters(p_start, p_end, p_tz);
  return dashboard.get_mashup_analytics(mashup_id, period.start_date, period.end_date, period.tz);
end;
$$;
comment on function public.get_mashup_analytics(text, text, text, text) is
  'The plan''s mashup analytics response; raises P0002 (404) for a mashup the caller cannot see, 22023 naming a bad parameter.';

-- compare=previous (20261126060000_dashboard_comparison.sql) wraps the two RPCs with date
-- parameters, calling the public functions this migration replaces. Its wrappers become checked
-- text-parameter RPCs too, with the same bodies otherwise: check the comparison, then the period,
-- then the response from the implementation plus its `comparison`.
drop function public.get_creator_dashboard_with_comparison(date, date, text, integer, text);
drop function public.get_mashup_analytics_with_comparison(uuid, date, date, text, text);

create function public.get_creator_dashboard_with_comparison(p_start text default null, p_end text default null,
                                                              p_tz text default 'UTC', p_limit jsonb default '10',
                                                              p_compare text default 'previous')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  period record;
  row_limit integer;
  response jsonb;
begin
  perform public.check_compare(p_compare);
  select * into period from public.dashboard_parameters(p_start, p_end, p_tz);
  row_limit := public.dashboard_limit_parameter(p_limit);
  response := dashboard.get_creator_dashboard(period.start_date, period.end_date, period.tz, row_limit);
  return response || jsonb_build_object(
    'comparison', public.dashboard_comparison(response -> 'summary', period.start_date, period.end_date, period.tz));
end;
$$;
comment on function public.get_creator_dashboard_with_comparison(text, text, text, jsonb, text) is
  'get_creator_dashboard plus `comparison`: the previous period''s summary, change in % and series.';

create function public.get_mashup_analytics_with_comparison(p_mashup_id text default null, p_start text default null,
                                                             p_end text default null, p_tz text default 'UTC',
                                                             p_compare text default 'previous')
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  mashup_id uuid;
  period record;
  analytics jsonb;
  prev_start date;
  cur jsonb;
  prev jsonb;
begin
  perform public.check_compare(p_compare);
  mashup_id := public.dashboard_mashup_id_parameter(p_mashup_id);
  select * into period from public.dashboard_parameters(p_start, p_end, p_tz);
  prev_start := period.start_date - (period.end_date - period.start_date);
  -- First: it raises the 404 for a mashup the caller cannot see.
  analytics := dashboard.get_mashup_analytics(mashup_id, period.start_date, period.end_date, period.tz);
  cur := public.period_totals(array[mashup_id], period.start_date, period.end_date, period.tz);
  prev := public.period_totals(array[mashup_id], prev_start, period.start_date, period.tz);
  return analytics || jsonb_build_object('comparison', jsonb_build_object(
    'period', jsonb_build_object('start', prev_start, 'end', period.start_date),
    'summary', jsonb_build_object('plays', prev -> 'plays', 'likes', prev -> 'likes', 'shares', prev -> 'shares'),
    'change', jsonb_build_object(
      'plays', public.percent_change((cur ->> 'plays')::bigint, (prev ->> 'plays')::bigint),
      'likes', public.percent_change((cur ->> 'likes')::bigint, (prev ->> 'likes')::bigint),
      'shares', public.percent_change((cur ->> 'shares')::bigint, (prev ->> 'shares')::bigint)),
    'daily', (select jsonb_agg(jsonb_build_object('date', d -> 'date', 'plays', d -> 'plays', 'likes', d -> 'likes')
                               order by i)
              from jsonb_array_elements(prev -> 'daily') with ordinality as e (d, i))
  ));
end;
$$;
comment on function public.get_mashup_analytics_with_comparison(text, text, text, text, text) is
  'get_mashup_analytics plus `comparison`: the previous period''s plays, likes, shares, change in % and daily series.';

revoke execute on function public.get_creator_dashboard_with_comparison(text, text, text, jsonb, text) from public, anon;
revoke execute on function public.get_mashup_analytics_with_comparison(text, text, text, text, text) from public, anon;
revoke execute on function public.dashboard_mashup_id_parameter(text) from public, anon;
grant execute on function public.get_creator_dashboard_with_comparison(text, text, text, jsonb, text) to authenticated, service_role;
grant execute on function public.get_mashup_analytics_with_comparison(text, text, text, text, text) to authenticated, service_role;
grant execute on function public.dashboard_mashup_id_parameter(text) to authenticated, service_role;

revoke execute on function public.get_creator_dashboard(text, text, text, jsonb) from public, anon;
revoke execute on function public.get_mashup_analytics(text, text, text, text) from public, anon;
revoke execute on function public.dashboard_parameters(text, text, text) from public, anon;
revoke execute on function public.dashboard_date_parameter(text, text) from public, anon;
revoke execute on function public.dashboard_limit_parameter(jsonb) from public, anon;
grant execute on function public.get_creator_dashboard(text, text, text, jsonb) to authenticated, service_role;
grant execute on function public.get_mashup_analytics(text, text, text, text) to authenticated, service_role;
grant execute on function public.dashboard_parameters(text, text, text) to authenticated, service_role;
grant execute on function public.dashboard_date_parameter(text, text) to authenticated, service_role;
grant execute on function public.dashboard_limit_parameter(jsonb) to authenticated, service_role;
