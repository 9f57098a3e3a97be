-- Analyst views: a schema of their own (`analytics`, not exposed through PostgREST), readable by
-- the `analyst` role and by nobody else. Plain views are security_invoker: an analyst reads them
-- with their own rights, granted below on the rollups (never on raw events or listener identities).
-- The two leaderboards are materialized (all-time sums over every mashup are the heaviest reads)
-- and refreshed by the nightly job through the plan's refresh_materialized_views().

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'analyst') then
    create role analyst nologin;
  end if;
end
$$;
comment on role analyst is 'Read-only access to the analytics schema (grant it to a login role).';
grant analyst to postgres;

create schema if not exists analytics;
comment on schema analytics is 'Analyst views over the rollups. Not exposed through the API.';
revoke all on schema analytics from public;
grant usage on schema analytics to analyst;

-- What the views read, and only that: rollups and mashup titles, all rows.
grant usage on schema public to analyst;
grant select on public.mashups, public.mashup_daily_stats, public.user_daily_stats,
  public.mashup_quarter_hour_stats, public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries,
  public.mashup_daily_retention, public.mashup_lifetime_stats to analyst;
create policy "analysts read all mashups" on public.mashups for select to analyst using (true);
create policy "analysts read all daily stats" on public.mashup_daily_stats for select to analyst using (true);
create policy "analysts read all user daily stats" on public.user_daily_stats for select to analyst using (true);
create policy "analysts read all quarter-hour stats" on public.mashup_quarter_hour_stats
  for select to analyst using (true);
create policy "analysts read all breakdowns" on public.mashup_quarter_hour_breakdowns
  for select to analyst using (true);
create policy "analysts read all play summaries" on public.mashup_play_summaries for select to analyst using (true);
create policy "analysts read all retention" on public.mashup_daily_retention for select to analyst using (true);
create policy "analysts read all lifetime stats" on public.mashup_lifetime_stats for select to analyst using (true);

-- Daily platform totals (UTC days) ------------------------------------------------------------
create view analytics.daily_platform_totals with (security_invoker = true) as
with m as (
  select d.date, count(*) filter (where d.plays > 0) as mashups_played,
         sum(d.plays) as plays, sum(d.likes) as likes, sum(d.shares) as shares,
         sum(d.comments) as comments, sum(d.downloads) as downloads
  from public.mashup_daily_stats d group by d.date
),
r as (
  select rt.date, sum(rt.plays) as tracked_plays, sum(rt.completed_plays) as completed_plays,
         sum(rt.watch_time_seconds) as watch_time_seconds
  from public.mashup_daily_retention rt group by rt.date
),
u as (
  select us.date, sum(us.mashups_created) as mashups_created, sum(us.followers_gained) as followers_gained
  from public.user_daily_stats us group by us.date
)
select coalesce(m.date, u.date) as date,
       coalesce(m.plays, 0) as plays, coalesce(m.likes, 0) as likes, coalesce(m.shares, 0) as shares,
       coalesce(m.comments, 0) as comments, coalesce(m.downloads, 0) as downloads,
       coalesce(m.mashups_played, 0) as mashups_played,
       coalesce(u.mashups_created, 0) as mashups_created, coalesce(u.followers_gained, 0) as followers_gained,
       round(r.watch_time_seconds / nullif(r.tracked_plays, 0), 2) as avg_watch_time,
       round(100.0 * r.completed_plays / nullif(r.tracked_plays, 0), 1) as completion_rate
from m
full join u on u.date = m.date
left join r on r.date = coalesce(m.date, u.date);
comment on view analytics.daily_platform_totals is
  'Per UTC day, platform-wide: plays, likes, shares, comments, downloads, mashups played and '
  'created, followers gained, average watch time (s) and completion rate (%).';

-- Source mix per UTC day ---------------------------------------------------------------------
create view analytics.source_mix with (security_invoker = true) as
select s.date, s.source, s.plays,
       round(100.0 * s.plays / sum(s.plays) over (partition by s.date), 1) as share_percent
from (
  select (b.bucket_start at time zone 'UTC')::date as date, b.source, sum(b.plays) as plays
  from public.mashup_quarter_hour_breakdowns b
  group by 1, 2
) s;
comment on view analytics.source_mix is 'Plays per UTC day and traffic source, with each source''s share of the day.';

-- Top mashups (materialized) ------------------------------------------------------------------
create materialized view analytics.top_mashups as
select l.mashup_id, m.title, m.creator_id, m.created_at,
       l.plays, l.unique_plays, l.likes, l.shares, l.comments, l.downloads, l.avg_watch_time,
       round(100.0 * l.completed_plays / nullif(l.tracked_plays, 0), 1) as completion_rate,
       coalesce(recent.plays, 0) as plays_last_30_days,
       rank() over (order by l.plays desc) as rank_all_time,
       rank() over (order by coalesce(recent.plays, 0) desc) as rank_last_30_days,
       now() as refreshed_at
from public.mashup_lifetime_stats l
join public.mashups m on m.id = l.mashup_id
left join lateral (
  select sum(d.plays) as plays from public.mashup_daily_stats d
  where d.mashup_id = l.mashup_id and d.date >= (now() at time zone 'UTC')::date - 30
) recent on true;
create unique index top_mashups_mashup_id_idx on analytics.top_mashups (mashup_id);
comment on materialized view analytics.top_mashups is
  'Every mashup with lifetime totals and plays in the 30 UTC days before the refresh, ranked. '
  'Refreshed nightly (refresh_materialized_views()).';

-- Creator leaderboard (materialized) ---------------------------------------------------------------
create materialized view analytics.creator_leaderboard as
select c.creator_id, c.mashups, c.plays, c.likes, c.shares,
       coalesce(recent.plays_received, 0) as plays_last_30_days,
       coalesce(recent.followers_gained, 0) as followers_gained_last_30_days,
       rank() over (order by c.plays desc) as rank_all_time,
       rank() over (order by coalesce(recent.plays_received, 0) desc) as rank_last_30_days,
       now() as refreshed_at
from (
  select m.creator_id, count(*) as mashups, coalesce(sum(l.plays), 0) as plays,
         coalesce(sum(l.likes), 0) as likes, coalesce(sum(l.shares), 0) as shares
  from public.mashups m
  left join public.mashup_lifetime_stats l on l.mashup_id = m.id
  group by m.creator_id
) c
left join lateral (
  select sum(us.plays_received) as plays_received, sum(us.followers_gained) as followers_gained
  from public.user_daily_stats us
  where us.user_id = c.creator_id and us.date >= (now() at time zone 'UTC')::date - 30
) recent on true;
create unique index creator_leaderboard_creator_id_idx on analytics.creator_leaderboard (creator_id);
comment on materialized view analytics.creator_leaderboard is
  'Creators ranked by lifetime plays and by plays in the 30 UTC days before the refresh. Refreshed nightly.';

revoke all on all tables in schema analytics from public, anon, authenticated, service_role;
grant select on all tables in schema analytics to analyst;

-- The plan's refresh_materialized_views() --------------------------------------------------------
-- SECURITY DEFINER because REFRESH MATERIALIZED VIEW requires owning the view, and the plan calls
-- it as an RPC with the service role; it refreshes exactly these two views and takes no input.
create function public.refresh_materialized_views()
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  refresh materialized view concurrently analytics.top_mashups;
  refresh materialized view concurrently analytics.creator_leaderboard;
end;
$$;
comment on function public.refresh_materialized_views() is
  'Refreshes the analyst materialized views (analytics.top_mashups, analytics.creator_leaderboard).';
revoke all on function public.refresh_materialized_views() from public, anon, authenticated;
grant execute on function public.refresh_materialized_views() to service_role;
