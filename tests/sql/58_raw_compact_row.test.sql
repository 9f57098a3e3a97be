-- The compact raw row (issue 11): public.analytics_events reads back exactly what was written, for
-- any properties (uuids lifted out only when canonical), any event type and device; every way of
-- writing the view stores through the same split and the same id claim (INSERT, COPY, ingest_events),
-- and the fold sees the same columns as before the split.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(16);

select tests.authenticate_as_service_role();

-- Generated events: properties mixing canonical, upper-case, braced and non-uuid mashup_id/play_id
-- values, numbers, nulls, nested objects and odd keys; catalog and non-catalog types; every device.
select setseed(0.58);
create temporary table written on commit drop as
select gen_random_uuid() as id,
       (array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked', 'mashup_shared',
              'mashup_exported', 'mashup_created', 'ai_reaction', 'comment_posted', 'user_followed',
              'subscription_upgraded', 'custom_event', 'Mashup_Played', ''])[1 + floor(random() * 14)::int] as event_type,
       jsonb_strip_nulls(jsonb_build_object(
         'mashup_id', case floor(random() * 6)::int
           when 0 then to_jsonb(gen_random_uuid()::text) when 1 then to_jsonb(upper(gen_random_uuid()::text))
           when 2 then to_jsonb('{' || gen_random_uuid()::text || '}') when 3 then to_jsonb(replace(gen_random_uuid()::text, '-', ''))
           when 4 then to_jsonb(gen_random_uuid()::text) else null end,
         'play_id', case floor(random() * 7)::int
           when 0 then to_jsonb(gen_random_uuid()::text) when 1 then to_jsonb(upper(gen_random_uuid()::text))
           when 2 then to_jsonb('not a uuid'::text) when 3 then to_jsonb(42) when 4 then 'null'::jsonb
           when 5 then jsonb_build_object('nested', gen_random_uuid()::text) else null end,
         'position_seconds', case when random() < 0.5 then to_jsonb(round((random() * 300)::numeric, 1)) end,
         '', case when random() < 0.1 then to_jsonb('empty key'::text) end,
         'source', case when random() < 0.5 then to_jsonb((array['direct', 'twitter', ''])[1 + floor(random() * 3)::int]) end
       )) as properties,
       now() - random() * interval '20 days' as ts,
       case when random() < 0.5 then 'anon-' || floor(random() * 100)::int end as anonymous_id,
       'sess-' || floor(random() * 1000)::int as session_id,
       (array['mobile', 'tablet', 'desktop', 'tv', 'console', 'other', null])[1 + floor(random() * 7)::int] as device,
       (array['US', 'DE', null])[1 + floor(random() * 3)::int] as country,
       g as n
from generate_series(1, 600) g;
grant select on written to service_role;

-- Half through INSERT on the view (the rule), half through ingest_events.
insert into public.analytics_events (id, event_type, properties, "timestamp", session_id, anonymous_id, country, device)
select id, event_type, properties, ts, session_id, anonymous_id, country, device from written where n % 2 = 0;
select is((select count(*) from public.ingest_events((select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
  'id', id, 'type', event_type, 'properties', properties, 'timestamp', ts, 'session_id', session_id,
  'anonymous_id', anonymous_id, 'country', country, 'device', device))) from written where n % 2 = 1)) where is_new),
  300::bigint, 'ingest_events stores its half');

select is_empty($$
  select w.id from written w left join public.analytics_events e on e.id = w.id
  where e.id is null or e.properties is distinct from w.properties or e.event_type is distinct from w.event_type
     or e.device is distinct from w.device or e.country is distinct from w.country
     or e."timestamp" is distinct from w.ts or e.session_id is distinct from w.session_id
     or e.anonymous_id is distinct from w.anonymous_id
$$, 'every event reads back through the view exactly as written: properties equal as jsonb, type, device, times, ids');
select is_empty($$
  select w.id from written w join public.analytics_events e on e.id = w.id
  where e.mashup_id is distinct from (w.properties ->> 'mashup_id')::uuid
     or e.listener_key <> coalesce('a:' || w.anonymous_id, 's:' || w.session_id)
$$, 'mashup_id and listener_key mean what the old generated columns meant');
select is((select count(*) from raw_events.analytics_events r join written w using (id)
           where r.properties ? 'mashup_id' or r.properties ? 'play_id'),
  (select count(*) from written w
   where (w.properties ? 'mashup_id' and (w.properties ->> 'mashup_id') !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
      or (w.properties ? 'play_id' and (jsonb_typeof(w.properties -> 'play_id') <> 'string'
          or (w.properties ->> 'play_id') !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'))),
  'a uuid leaves the stored jsonb exactly when it is a canonical lower-case uuid string');
select is((select count(*) from raw_events.analytics_events r join written w using (id) where r.event_name is not null),
  (select count(*) from written where event_type not in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended',
     'mashup_liked', 'mashup_shared', 'mashup_exported', 'mashup_created', 'ai_reaction', 'comment_posted',
     'user_followed', 'subscription_upgraded')),
  'only a type outside the catalog is stored as text');

-- The fold sees the same columns as it computes from the client's own properties.
select is_empty($$
  select q.id, q.event_type, q.mashup_id, q.listener_key, q.source, q.country, q.device, q.play_id,
         q.position_seconds, q.creator_id
  from aggregation.pending_events q join written w using (id)
  except
  select w.id, w.event_type, (w.properties ->> 'mashup_id')::uuid, coalesce('a:' || w.anonymous_id, 's:' || w.session_id),
         case when w.event_type = 'mashup_played' then coalesce(nullif(w.properties ->> 'source', ''), 'unknown') end,
         case when w.event_type = 'mashup_played' then coalesce(w.country, 'unknown') end,
         case when w.event_type = 'mashup_played' then coalesce(w.device, 'unknown') end,
         case when w.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
               and lower(w.properties ->> 'play_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then lower(w.properties ->> 'play_id')::uuid end,
         case when w.event_type in ('mashup_play_progress', 'mashup_play_ended')
               and jsonb_typeof(w.properties -> 'position_seconds') = 'number'
              then (w.properties ->> 'position_seconds')::numeric end,
         null::uuid
  from written w
$$, 'the fold queue holds exactly the columns the old trigger derived from the client''s properties');
select is((select count(*) from aggregation.pending_events q join written w using (id)),
  (select count(*) from written where event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended',
     'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created', 'user_followed')),
  'and only the events the rollups count are queued');
select is_empty($$
  select f.* from aggregation.raw_events_for_fold f join written w using (id)
  where f.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created', 'user_followed')
  except select q.* from aggregation.pending_events q join written w using (id)
$$, 'the day rebuilds'' view reads the same columns as the queue (for the types the rollups count)');

-- COPY into the view: the same split, one claim per id (a duplicate inside the COPY and a resend of
-- a stored id are skipped), and the fold queue gets each new row once.
create temporary table copied (id uuid, event_type text, properties jsonb, session_id text) on commit drop;
copy copied from stdin with (format csv);
cccccccc-5800-4000-8000-000000000001,mashup_played,"{""mashup_id"": ""cccccccc-5800-4000-8000-0000000000aa"", ""play_id"": ""cccccccc-5800-4000-8000-0000000000bb"", ""source"": ""direct""}",s-copy
cccccccc-5800-4000-8000-000000000002,mashup_liked,"{""mashup_id"": ""CCCCCCCC-5800-4000-8000-0000000000AA""}",s-copy
cccccccc-5800-4000-8000-000000000001,mashup_played,"{""source"": ""resent in the same copy""}",s-copy
\.
grant select on copied to service_role;
insert into public.analytics_events (id, event_type, properties, session_id)
values ('cccccccc-5800-4000-8000-000000000003', 'mashup_shared', '{}', 's-copy');
copy public.analytics_events (id, event_type, properties, session_id) from stdin with (format csv);
cccccccc-5800-4000-8000-000000000001,mashup_played,"{""mashup_id"": ""cccccccc-5800-4000-8000-0000000000aa"", ""play_id"": ""cccccccc-5800-4000-8000-0000000000bb"", ""source"": ""direct""}",s-copy
cccccccc-5800-4000-8000-000000000002,mashup_liked,"{""mashup_id"": ""CCCCCCCC-5800-4000-8000-0000000000AA""}",s-copy
cccccccc-5800-4000-8000-000000000001,mashup_played,"{""source"": ""resent in the same copy""}",s-copy
cccccccc-5800-4000-8000-000000000003,mashup_shared,"{""source"": ""resent after an insert""}",s-copy
\.
select is((select count(*) from public.analytics_events where session_id = 's-copy'), 3::bigint,
  'COPY into the view stores each id once (a duplicate in the COPY and a stored id are skipped)');
select is_empty($$
  select c.id, c.properties from (select distinct on (id) * from copied order by id) c
  except select e.id, e.properties from public.analytics_events e where e.session_id = 's-copy'
$$, 'COPY into the view stores the first row of each id, reading back as written');
select is((select count(*) from aggregation.pending_events where id::text like 'cccccccc-5800-%'), 3::bigint,
  'each new row of the COPY (and of the INSERT) is queued for the fold once');
select is((select count(*) from raw_events.copy_buffer), 0::bigint, 'the COPY buffer is empty afterwards');

-- UPDATE and DELETE through the view reach the stored row.
update public.analytics_events set properties = properties || '{"edited": true}'
where id = 'cccccccc-5800-4000-8000-000000000002';
select is((select properties from public.analytics_events where id = 'cccccccc-5800-4000-8000-000000000002'),
  '{"mashup_id": "CCCCCCCC-5800-4000-8000-0000000000AA", "edited": true}'::jsonb, 'an UPDATE through the view reads back');
delete from public.analytics_events where session_id = 's-copy';
select is((select count(*) from raw_events.analytics_events where session_id = 's-copy'), 0::bigint,
  'a DELETE through the view removes the stored rows');

-- Erasure finds an id in the uuid columns lifted out of properties as well as in the jsonb.
select tests.create_supabase_user('compact erased');
insert into public.analytics_events (id, event_type, properties, session_id) values
  ('cccccccc-5800-4000-8000-000000000010', 'mashup_played',
   jsonb_build_object('play_id', tests.get_supabase_uid('compact erased')::text), 's-erase'),
  ('cccccccc-5800-4000-8000-000000000011', 'mashup_liked',
   jsonb_build_object('mashup_id', tests.get_supabase_uid('compact erased')::text), 's-erase'),
  ('cccccccc-5800-4000-8000-000000000012', 'user_followed',
   jsonb_build_object('creator_id', tests.get_supabase_uid('compact erased')::text), 's-erase'),
  ('cccccccc-5800-4000-8000-000000000013', 'mashup_liked', jsonb_build_object('mashup_id', gen_random_uuid()::text), 's-erase');
select is((public.erase_listener(p_user_id => tests.get_supabase_uid('compact erased')) ->> 'events_deleted')::int, 3,
  'erase_listener deletes the events naming the id, lifted out of properties or not');
select is((select array_agg(id::text) from public.analytics_events where session_id = 's-erase'),
  array['cccccccc-5800-4000-8000-000000000013'], 'and keeps the others');

select * from finish();
rollback;
