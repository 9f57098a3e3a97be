-- Keeps the demo data current (local stack only; run by scripts/post-start.d/40-demo-data-current.sh).
-- supabase/seed.sql anchors its 50 days of events, users, mashups and follows at the time it was
-- loaded; a stack started weeks later would show an empty "last 30 days". This moves every seeded
-- row forward by the seed's age, so the demo looks as if loaded now, then recomputes the rollups
-- of the days involved. Only rows of the seed move: its users (@mashups.local), their mashups and
-- follows, and the seed's own events (by id: demo.seed_events, filled by supabase/seed.sql); anything
-- sent to the stack after the load stays where it is, through any number of re-anchorings.
--
-- The anchor is the demo creator's created_at + 200 days (the seed creates it 200 days before the
-- load), so moving the seed moves the anchor too. Moves only when the seed is over an hour old and
-- no count would be lost (below); the recount after it finishes whatever an earlier start left
-- queued in aggregation.rebuild_days.
\set ON_ERROR_STOP on
select coalesce(extract(epoch from now() - (created_at + interval '200 days'))::bigint, 0) as age_s,
       (created_at + interval '200 days') as anchor
from auth.users where id = '11111111-1111-4111-8111-111111111111'
union all select 0, null where not exists (select from auth.users where id = '11111111-1111-4111-8111-111111111111')
limit 1 \gset
select :age_s > 3600 as stale \gset
-- The move starts every rollup over from the raw events. Counts the rollups hold and the raw events
-- no longer do would be lost: the plays of an erased listener (aggregation.erased_days: days an
-- erasure took counted events from) and every month retention dropped. A stack holding such counts
-- keeps its demo where it is unless asked (-v force=true, STACK_DEMO_CURRENT=force).
\if :{?force}
\else
\set force false
\endif
select (select count(distinct e.day) from aggregation.erased_days e) as erased_days,
       (select count(distinct l.month) from raw_events.maintenance_log l where l.action = 'dropped') as dropped_months \gset
select :'stale'::boolean and (:erased_days > 0 or :dropped_months > 0) and not :'force'::boolean as held,
       :'stale'::boolean and (:erased_days = 0 and :dropped_months = 0 or :'force'::boolean) as move \gset
\if :held
\echo kept where it is: the rollups hold counts the raw events no longer have (days an erasure took counted events from: :erased_days; months retention dropped: :dropped_months), which a re-anchoring would lose
\endif
\if :move
begin;
create temporary table reanchor_users on commit drop as
  select id from auth.users where email like '%@mashups.local' and created_at <= :'anchor'::timestamptz;
create temporary table reanchor_mashups on commit drop as
  select id from public.mashups where creator_id in (select id from reanchor_users)
    and created_at <= :'anchor'::timestamptz;
-- The seed's own events, by id (demo.seed_events, filled by supabase/seed.sql): events sent to the
-- stack since, by demo users or to demo mashups, stay where they are, whenever they were sent.
update public.analytics_events
   set "timestamp" = "timestamp" + make_interval(secs => :age_s),
       received_at = received_at + make_interval(secs => :age_s)
 where id in (select s.id from demo.seed_events s)
   and received_at <= :'anchor'::timestamptz
   and (mashup_id in (select id from reanchor_mashups) or user_id in (select id from reanchor_users));
update public.follows set created_at = created_at + make_interval(secs => :age_s)
 where follower_id in (select id from reanchor_users) and created_at <= :'anchor'::timestamptz;
update public.mashups set created_at = created_at + make_interval(secs => :age_s)
 where id in (select id from reanchor_mashups);
update auth.users set created_at = created_at + make_interval(secs => :age_s),
                      email_confirmed_at = email_confirmed_at + make_interval(secs => :age_s)
 where id in (select id from reanchor_users);
-- Events moved in place: the rollups start over (their folds only grow) and every UTC day that
-- has events is recounted from the raw events (only those days: the stack may hold test events
-- years apart). user_daily_stats also counts follows (followers_gained: public.follows made that
-- day), so the user days are the days with events or follows: a follow on a day without events
-- (an operator's backdated follow, tests/integration/dashboard_export.test.ts's) lost its row here.
-- The rollups are emptied and the days to recount listed in the same transaction as the move, so
-- whatever stops the recount below, aggregation.rebuild_days holds exactly the days still to do.
select aggregation.reset_rollups();
insert into aggregation.rebuild_days (day)
select ("timestamp" at time zone 'UTC')::date from public.analytics_events
union
select (created_at at time zone 'UTC')::date from public.follows
on conflict (day) do nothing;
commit;
\echo re-anchoring the demo data: moved :age_s s forward
\endif
-- The recount, one day per transaction (aggregation.rebuild_queued_days(); on a stack that holds more
-- than the demo, bench/dashboard/run.sh's 11.5M events, all days in one transaction were still
-- running after 15 minutes, day by day took 5.6 minutes, vacuum included). Days an earlier start
-- left queued (stopped, killed halfway) are finished here, whether or not the seed moved now.
select count(*) > 0 as rebuild, count(*) as rebuild_days from aggregation.rebuild_days \gset
\if :rebuild
\echo recounting the rollups of :rebuild_days days
call aggregation.rebuild_queued_days();
-- Every rollup row was just written anew: until a vacuum marks their pages all-visible, the
-- dashboard's index-only reads of the creator rollups fetch every row from the heap (at 10M events:
-- 1,473 heap fetches and a 112 ms call for one top creator against 39 ms after a vacuum, cold).
vacuum (analyze) public.mashup_daily_stats, public.user_daily_stats, public.mashup_quarter_hour_stats,
  public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries, public.mashup_daily_retention,
  public.mashup_listeners, public.mashup_lifetime_stats, public.creator_quarter_hour_stats,
  public.creator_daily_breakdowns, aggregation.mashup_daily_listeners, aggregation.play_folds;
select public.refresh_materialized_views();
analyze public.analytics_events;
\echo re-anchored
\endif
