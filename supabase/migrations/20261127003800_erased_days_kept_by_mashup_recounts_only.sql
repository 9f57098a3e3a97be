-- The erased days (20261127003400) are kept by the mashup recounts only. user_days recounts a user's
-- day from the follows (followers_gained), the day's rollups (plays_received) and the raw creations
-- (mashups_created), and follow-days runs it for every (creator, day) a follow or unfollow touched:
-- keeping an erased day there left a follow made or undone on that day uncounted (a day an erasure
-- had touched is usually today). An erasure takes only creations from what user_days reads, so a
-- recount of such a day may lower mashups_created of an erased creator, which is what the erased
-- events said; the plays and likes the erasure kept stay (they are the mashup recounts' to keep).
-- Body as in 20261127003400 but for the `not p_user_rows` condition.
create or replace function aggregation.days_without_raw_events(p_from date, p_to date, p_user_rows boolean)
returns date[]
language plpgsql
stable
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
    if not p_user_rows and exists (select 1 from aggregation.erased_days x where x.day = v_day) then
      raise notice '%: an erasure deleted counted events of that day; a recount would take their plays back '
        'but not their watch time, so its rollups are kept as they are (delete the day from '
        'aggregation.erased_days to recount it anyway)', v_day;
      v_kept := v_kept || v_day;
    elsif not exists (select 1 from public.analytics_events e
                      where e."timestamp" >= aggregation.day_start(v_day)
                        and e."timestamp" < aggregation.day_start(v_day + 1)) then
      v_kept := v_kept || v_day;
    end if;
  end loop;
  return v_kept;
end;
$$;
