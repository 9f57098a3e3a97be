-- Test fixture: makes the demo seed look :days days older (the opposite move of
-- sql/reanchor_demo_data.sql, same rows), without recomputing rollups.
\set ON_ERROR_STOP on
select created_at + interval '200 days' as anchor from auth.users
where id = '11111111-1111-4111-8111-111111111111' \gset
begin;
create temporary table age_users on commit drop as
  select id from auth.users where email like '%@mashups.local' and created_at <= :'anchor'::timestamptz;
create temporary table age_mashups on commit drop as
  select id from public.mashups where creator_id in (select id from age_users) and created_at <= :'anchor'::timestamptz;
update public.analytics_events
   set "timestamp" = "timestamp" - make_interval(days => :days), received_at = received_at - make_interval(days => :days)
 where id in (select s.id from demo.seed_events s)
   and received_at <= :'anchor'::timestamptz
   and (mashup_id in (select id from age_mashups) or user_id in (select id from age_users));
update public.follows set created_at = created_at - make_interval(days => :days)
 where follower_id in (select id from age_users) and created_at <= :'anchor'::timestamptz;
update public.mashups set created_at = created_at - make_interval(days => :days) where id in (select id from age_mashups);
update auth.users set created_at = created_at - make_interval(days => :days),
                      email_confirmed_at = email_confirmed_at - make_interval(days => :days)
 where id in (select id from age_users);
commit;
