-- Demo data: six creators (the first is the demo creator whose token `npm start` prints), 42
-- mashups with a long-tail popularity, 300 signed-in fans plus anonymous listeners, and 50 days
-- of events up to now: plays from several sources, countries and devices, progress heartbeats
-- every 30 s and an ending per play, likes, shares, exports, comments, AI reactions, follows,
-- creations and upgrades. Deterministic apart from its clock: anchored at now(), or at seed.now when
-- the session sets it (tests/integration/seed_cli.test.ts reproduces npm start's data that way).
-- Demo password for every demo user: demo-password-123

select setseed(0.4242);

-- The one clock every timestamp below hangs from.
create temporary table seed_clock as
select coalesce(nullif(current_setting('seed.now', true), '')::timestamptz, now()) as now;


-- Users ---------------------------------------------------------------------------------------
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', c.id, 'authenticated', 'authenticated', c.email,
       extensions.crypt('demo-password-123', extensions.gen_salt('bf', 4)), (select now from seed_clock) - interval '200 days',
       '{"provider":"email","providers":["email"]}', jsonb_build_object('display_name', c.name),
       (select now from seed_clock) - interval '200 days', (select now from seed_clock)
from (values
  ('11111111-1111-4111-8111-111111111111'::uuid, 'demo@mashups.local', 'DJ Demo'),
  ('22222222-2222-4222-8222-222222222222'::uuid, 'nova@mashups.local', 'Nova Blend'),
  ('33333333-3333-4333-8333-333333333333'::uuid, 'kilo@mashups.local', 'Kilo Beats'),
  ('44444444-4444-4444-8444-444444444444'::uuid, 'mira@mashups.local', 'Mira Loops'),
  ('55555555-5555-4555-8555-555555555555'::uuid, 'otto@mashups.local', 'Otto Splice'),
  ('66666666-6666-4666-8666-666666666666'::uuid, 'zed@mashups.local', 'Zed Remix')
) as c (id, email, name);

insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', md5('fan-' || i)::uuid, 'authenticated', 'authenticated',
       'fan' || i || '@mashups.local', extensions.crypt('demo-password-123', extensions.gen_salt('bf', 4)),
       (select now from seed_clock) - interval '100 days', '{"provider":"email","providers":["email"]}',
       jsonb_build_object('display_name', 'Fan ' || i), (select now from seed_clock) - interval '100 days', (select now from seed_clock)
from generate_series(1, 300) as i;

-- GoTrue scans the token columns into strings: NULL makes a hosted project's password sign-in fail
-- with "converting NULL to string is unsupported" (supabase/auth#1940). Empty strings, as GoTrue
-- writes them itself.
update auth.users
set confirmation_token = coalesce(confirmation_token, ''), recovery_token = coalesce(recovery_token, ''),
    email_change_token_new = coalesce(email_change_token_new, ''), email_change = coalesce(email_change, '')
where email like '%@mashups.local';

-- Mashups: 12 for the demo creator, 6 for each of the others; popularity rank = mashup number.
create temporary table seed_mashups as
select n,
       md5('mashup-' || n)::uuid as id,
       (array['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
              '33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444',
              '55555555-5555-4555-8555-555555555555', '66666666-6666-4666-8666-666666666666']::uuid[])
         [case when n <= 12 then 1 else 2 + (n - 13) % 5 end] as creator_id,
       (array['Summer Vibes', 'Midnight Drive', 'Neon Rain', 'Golden Hour', 'Bass Cathedral',
              'Lo-Fi Sunrise', 'Disco Ghosts', 'Velvet Static', 'Arcade Hearts', 'Desert Echo',
              'Tokyo Nights', 'Paper Planes', 'Ocean Tape', 'Electric Garden'])[1 + (n - 1) % 14]
         || ' ' || (array['Mix', 'Mashup', 'Blend', 'Edit', 'Flip', 'Bootleg'])[1 + (n - 1) % 6]
         || case when n > 14 then ' ' || ((n - 1) / 14 + 1)::text else '' end as title,
       120 + ((n * 37) % 180) as duration_seconds,
       -- Most mashups are older than the demo window; a few are created inside it.
       case when n % 7 = 3 then (select now from seed_clock) - make_interval(days => 5 + (n % 30))
            else (select now from seed_clock) - make_interval(days => 60 + n * 2) end as created_at
from generate_series(1, 42) as n;

insert into public.mashups (id, creator_id, title, duration_seconds, created_at)
select id, creator_id, title, duration_seconds, created_at from seed_mashups;

-- Plays ---------------------------------------------------------------------------------------
create temporary table seed_plays as
with days as (select d from generate_series(0, 49) as d),
raw as (
  select m.id as mashup_id, m.duration_seconds, m.creator_id, m.created_at as mashup_created_at, days.d,
         -- long tail: the top mashup ~45 plays a day, rising slowly towards today
         greatest(0, round((45.0 / power(m.n, 0.8)) * (0.7 + 0.3 * (50 - days.d) / 50.0) * (0.6 + random() * 0.8)))::int
           as plays
  from seed_mashups m cross join days
)
select md5(concat_ws(':', 'play', r.mashup_id, r.d, k))::uuid as play_id, r.mashup_id, r.duration_seconds, r.creator_id,
       -- evening-heavy hour of day
       date_trunc('day', (select now from seed_clock) - make_interval(days => r.d))
         + make_interval(hours => (((20 + (random() + random() + random() - 1.5) * 9)::int % 24) + 24) % 24)
         + make_interval(secs => floor(random() * 3600)) as ts,
       random() as who, random() as src, random() as geo, random() as dev, random() as fin,
       floor(random() * 300)::int + 1 as fan, floor(random() * 1500)::int as anon
from raw r
cross join lateral generate_series(1, r.plays) as k
where date_trunc('day', (select now from seed_clock) - make_interval(days => r.d)) >= date_trunc('day', r.mashup_created_at);

-- Drop plays that would lie in the future or before the mashup existed.
delete from seed_plays p using seed_mashups m
where p.mashup_id = m.id and (p.ts > (select now from seed_clock) - interval '1 minute' or p.ts < m.created_at);

create temporary table seed_play_facts as
select p.*,
       case when who < 0.6 then md5('fan-' || fan)::uuid end as user_id,
       case when who >= 0.6 then 'anon-' || anon end as anonymous_id,
       case when src < 0.50 then 'direct' when src < 0.70 then 'twitter' when src < 0.83 then 'instagram'
            when src < 0.93 then 'tiktok' else 'youtube' end as source,
       case when geo < 0.40 then 'US' when geo < 0.52 then 'GB' when geo < 0.62 then 'DE'
            when geo < 0.72 then 'BR' when geo < 0.80 then 'IN' when geo < 0.87 then 'FR'
            when geo < 0.93 then 'CA' else 'JP' end as country,
       case when dev < 0.60 then 'mobile' when dev < 0.92 then 'desktop' else 'tablet' end as device,
       -- 55% listen to the end; the rest stop somewhere along the way
       case when fin < 0.55 then duration_seconds
            else greatest(1, floor(duration_seconds * (fin - 0.55) / 0.45))::int end as furthest
from seed_plays p;

alter table seed_play_facts add column session_id text;
update seed_play_facts
set session_id = 'sess-' || left(md5(coalesce(user_id::text, anonymous_id) || ts::date::text), 16);

insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select user_id, 'mashup_played',
       jsonb_build_object('mashup_id', mashup_id, 'source', source, 'auto_play', fin < 0.2, 'play_id', play_id),
       ts, session_id, anonymous_id, ts, country, device
from seed_play_facts;

insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select user_id, 'mashup_play_progress',
       jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', pos,
                          'duration_seconds', duration_seconds),
       ts + make_interval(secs => pos), session_id, anonymous_id, ts + make_interval(secs => pos), country, device
from seed_play_facts cross join lateral generate_series(30, furthest, 30) as pos
where ts + make_interval(secs => pos) < (select now from seed_clock);

insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select user_id, 'mashup_play_ended',
       jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', furthest,
                          'duration_seconds', duration_seconds),
       ts + make_interval(secs => furthest), session_id, anonymous_id, ts + make_interval(secs => furthest),
       country, device
from seed_play_facts
where ts + make_interval(secs => furthest) < (select now from seed_clock);

-- Reactions to plays --------------------------------------------------------------------------
insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select user_id, kind,
       case kind
         when 'mashup_liked' then jsonb_build_object('mashup_id', mashup_id)
         when 'mashup_shared' then jsonb_build_object('mashup_id', mashup_id, 'platform',
           (array['twitter', 'instagram', 'tiktok', 'whatsapp', 'copy_link'])[1 + floor(r * 5)::int])
         when 'mashup_exported' then jsonb_build_object('mashup_id', mashup_id, 'platform',
           (array['tiktok', 'youtube', 'instagram'])[1 + floor(r * 3)::int], 'format', (array['mp3', 'wav', 'mp4'])[1 + floor(r * 3)::int])
         when 'comment_posted' then jsonb_build_object('mashup_id', mashup_id, 'has_media', r < 0.2)
         else jsonb_build_object('mashup_id', mashup_id, 'reaction', (array['fire', 'love', 'wow', 'laugh'])[1 + floor(r * 4)::int])
       end,
       least(ts + make_interval(secs => 20 + floor(r * 60)), (select now from seed_clock) - interval '1 second'),
       session_id, anonymous_id, least(ts + make_interval(secs => 20 + floor(r * 60)), (select now from seed_clock) - interval '1 second'),
       country, device
from (
  select f.*, x.kind, random() as r, random() as pick
  from seed_play_facts f
  cross join (values ('mashup_liked', 0.18), ('mashup_shared', 0.05), ('mashup_exported', 0.015),
                     ('comment_posted', 0.03), ('ai_reaction', 0.04)) as x (kind, p)
  where random() < x.p * case when f.user_id is null and x.kind in ('mashup_liked', 'comment_posted') then 0 else 1 end
) as picked;

-- Creations -----------------------------------------------------------------------------------
insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at,
                                     country, device)
select creator_id, 'mashup_created',
       jsonb_build_object('mashup_id', id, 'track_count', 2 + n % 4, 'duration', duration_seconds, 'used_ai', n % 3 = 0),
       created_at, 'sess-create-' || n, created_at, 'US', 'desktop'
from seed_mashups;

-- Follows: each fan follows a few creators, spread over the last 50 days ---------------------
create temporary table seed_follows as
select distinct on (follower_id, creator_id) follower_id, creator_id, created_at
from (
  select md5('fan-' || i)::uuid as follower_id,
         (array['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
                '33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444',
                '55555555-5555-4555-8555-555555555555', '66666666-6666-4666-8666-666666666666']::uuid[])
           [1 + floor(power(random(), 1.6) * 6)::int] as creator_id,
         (select now from seed_clock) - make_interval(secs => floor(random() * 50 * 86400)) as created_at
  from generate_series(1, 300) as i cross join generate_series(1, 2)
) f;
-- The demo creator follows two peers, so "following" is non-zero too.
insert into seed_follows values
  ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', (select now from seed_clock) - interval '20 days'),
  ('11111111-1111-4111-8111-111111111111', '33333333-3333-4333-8333-333333333333', (select now from seed_clock) - interval '12 days');

insert into public.follows (follower_id, creator_id, created_at)
select follower_id, creator_id, created_at from seed_follows;

insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at,
                                     country, device)
select follower_id, 'user_followed', jsonb_build_object('creator_id', creator_id), created_at,
       'sess-follow-' || left(md5(follower_id::text || creator_id::text), 12), created_at, 'US', 'mobile'
from seed_follows;

-- A few upgrades ------------------------------------------------------------------------------
insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at)
select md5('fan-' || i)::uuid, 'subscription_upgraded',
       jsonb_build_object('from', 'free', 'to', case when i % 3 = 0 then 'studio' else 'pro' end),
       (select now from seed_clock) - make_interval(days => i % 45, hours => i % 24), 'sess-upgrade-' || i,
       (select now from seed_clock) - make_interval(days => i % 45, hours => i % 24)
from generate_series(1, 300, 11) as i;

drop table seed_play_facts, seed_plays, seed_follows, seed_mashups, seed_clock;

-- Every event above is the seed's: the demo's re-anchoring moves these and nothing else
-- (sql/reanchor_demo_data.sql; a stack holds other events too once it is used). The upgrade tests
-- load this seed into databases migrated to older states, before the table existed: there
-- 20261127003700 lists the seed's events when it runs.
do $$
begin
  if to_regclass('demo.seed_events') is not null then
    insert into demo.seed_events (id) select id from public.analytics_events on conflict (id) do nothing;
  end if;
end
$$;

analyze public.analytics_events;

-- Rollups for the demo data ---------------------------------------------------------------------
-- Every seeded UTC day. The Supabase CLI runs this file as one transaction (no psql \gset, no
-- procedure that commits), so the backfill runs inside it; it also starts the 5-minute
-- incremental job's watermark, so pg_cron carries on from here.
select aggregation.backfill_in_transaction(
  (select (min("timestamp") at time zone 'UTC')::date from public.analytics_events),
  (select (max("timestamp") at time zone 'UTC')::date + 1 from public.analytics_events));
