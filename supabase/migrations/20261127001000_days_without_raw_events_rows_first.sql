-- aggregation.days_without_raw_events looks for raw events only on the days that have rows.
--
-- As one SQL statement (20261127000800) the planner put the anti-join with the raw events first: it
-- probed the raw table for every day of the range, ~2.4 ms a day through the time index on a 50k-event
-- database (76 ms for a 31-day chunk, twice per chunk: once for mashup_days, once for user_days), even
-- in a backfill from empty rollups, where no day has rows and nothing needs probing. Now the days with
-- rows are found first (an index probe per day), and only those are looked for in the raw events.

create or replace function aggregation.days_without_raw_events(p_from date, p_to date, p_user_rows boolean)
returns date[]
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_with_rows date[];
  v_day date;
  v_kept date[] := '{}'::date[];
begin
  if p_user_rows then
    select coalesce(array_agg(g.d::date order by g.d), '{}') into v_with_rows
    from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
    where exists (select 1 from public.user_daily_stats u where u.date = g.d::date);
  else
    select coalesce(array_agg(g.d::date order by g.d), '{}') into v_with_rows
    from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
    where exists (select 1 from public.mashup_daily_stats s where s.date = g.d::date);
  end if;
  foreach v_day in array v_with_rows loop
    if not exists (select 1 from public.analytics_events e
                   where e."timestamp" >= aggregation.day_start(v_day)
                     and e."timestamp" < aggregation.day_start(v_day + 1)) then
      v_kept := v_kept || v_day;
    end if;
  end loop;
  return v_kept;
end;
$$;
