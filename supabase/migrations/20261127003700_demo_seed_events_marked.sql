-- The demo seed's raw events are marked by id, so moving the demo forward moves them and nothing else
-- (outside audit, 2026-11-27, upgrade F1). sql/reanchor_demo_data.sql moved the events "received
-- before the anchor" of the demo users and mashups; after one re-anchoring the seed's rows lie where
-- events sent since then lie too, so the next re-anchoring moved those as if they were the seed's
-- (events a demo user sent, or sent to a demo mashup, by hours or days: numbers on other days).
-- supabase/seed.sql now lists its events here as it loads them; for a stack seeded before, this
-- migration lists the events the old rule would move now (the best it can know: events sent there
-- since the last re-anchoring are told apart, earlier ones are not).
-- Local demo data only: on a hosted project without the seed the table stays empty.
create schema if not exists demo;
revoke all on schema demo from public, anon, authenticated;
comment on schema demo is 'The local demo seed''s bookkeeping (sql/reanchor_demo_data.sql); not exposed.';

create table demo.seed_events (id uuid primary key);
alter table demo.seed_events enable row level security;
revoke all on table demo.seed_events from public, anon, authenticated;
comment on table demo.seed_events is
  'Ids of the raw events supabase/seed.sql loaded: the only events the demo''s re-anchoring moves.';

insert into demo.seed_events (id)
select e.id
from public.analytics_events e
cross join lateral (select u.created_at + interval '200 days' as anchor from auth.users u
                    where u.id = '11111111-1111-4111-8111-111111111111') a
where e.received_at <= a.anchor
  and (e.mashup_id in (select m.id from public.mashups m
                       join auth.users u on u.id = m.creator_id
                       where u.email like '%@mashups.local' and m.created_at <= a.anchor)
       or e.user_id in (select u.id from auth.users u where u.email like '%@mashups.local' and u.created_at <= a.anchor));
