-- The sync's window repair reads what was received since its last repair, not the whole hour.
--
-- Every realtime-sync run (every 5 minutes) wrote every member of the last hour from Postgres into
-- the Redis windows: a union, so exact whatever Redis missed, but its size follows the busiest
-- hour. Measured on a bench/generate 1000000 database with one mashup gone viral (300,000 plays in
-- the last hour): realtime_window_members took 2.9 s and returned 302,279 members, 35 MB of JSON,
-- which the function then parsed and sent to Redis as ~600k ZADD pairs (Upstash's request size and
-- an Edge Function's CPU time are both exceeded well before that). Now the repair passes the time
-- it last repaired through (less two minutes for transactions in flight and clock skew), and only
-- members of events received since come back: its cost follows what arrived. The full hour is
-- still read when the sync has no such time (first run, Redis lost its data, more than an hour
-- since), after an erasure, and by the Postgres fallback of GET /analytics/realtime.
-- Same body as before but for p_received_since.

drop function public.realtime_window_members(timestamptz, uuid);
create function public.realtime_window_members(p_now timestamp with time zone default now(), p_creator_id uuid default null,
                                               p_received_since timestamp with time zone default null)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $$
  with ev as (
    select e.id, e.event_type, e.mashup_id, e.listener_key,
           coalesce(m.creator_id, case when aggregation.user_exists(f.id) then f.id end) as creator_id,
           least(e."timestamp", e.received_at) as t
    from public.analytics_events e
    left join public.mashups m on m.id = e.mashup_id
    left join lateral (select raw_events.realtime_subject('followers', null, e.properties) as id
                       where e.event_type = 'user_followed') f on true
    -- Every catalog type, so the (event_type, "timestamp") index narrows the scan; the window
    -- itself is on the clamped time below.
    where e.event_type = any (array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                                    'mashup_shared', 'mashup_exported', 'mashup_created', 'ai_reaction',
                                    'comment_posted', 'user_followed', 'subscription_upgraded'])
      and e."timestamp" > p_now - interval '1 hour'
      -- Only what was received since (the sync's repair after its first): the BRIN index on
      -- received_at narrows the scan to those blocks.
      and (p_received_since is null or e.received_at >= p_received_since)
  ),
  windowed as (
    select ev.*, floor(extract(epoch from ev.t) * 1000)::bigint as ms
    from ev
    where ev.t <= p_now and ev.t > p_now - interval '1 hour'
      and (p_creator_id is null or ev.creator_id = p_creator_id)
  ),
  members (creator_id, member, score) as (
  select w.creator_id, 'a|' || w.listener_key, max(w.ms)
  from windowed w
  where w.t > p_now - interval '5 minutes' and w.listener_key is not null
  group by 1, 2
  union all
  select w.creator_id,
         case when w.event_type = 'mashup_play_ended' then 'x|' else 'p|' end || w.mashup_id || '|' || w.listener_key,
         max(w.ms)
  from windowed w
  where w.t > p_now - interval '60 seconds' and w.mashup_id is not null and w.listener_key is not null
    and w.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
  group by 1, 2
  union all
  select w.creator_id,
         case w.event_type when 'mashup_played' then 'e|plays|' else 'e|likes|' end || w.id,
         w.ms
  from windowed w
  where w.mashup_id is not null and w.event_type in ('mashup_played', 'mashup_liked')
  )
  -- One document, not rows: PostgREST caps table results at max_rows.
  select coalesce(jsonb_agg(jsonb_build_array(x.creator_id, x.member, x.score)), '[]'::jsonb) from members x;
$$;

comment on function public.realtime_window_members(timestamptz, uuid, timestamptz) is
  'The members of the Redis realtime sets (presence, playing, ended, plays and likes) raw events give at p_now '
  '(only of events received since p_received_since, when given).';
revoke all on function public.realtime_window_members(timestamptz, uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.realtime_window_members(timestamptz, uuid, timestamptz) to service_role;
