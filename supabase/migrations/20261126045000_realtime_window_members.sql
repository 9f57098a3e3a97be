-- realtime_window_members: what the Redis realtime sets (rt:{scope}:recent) should hold at p_now,
-- member by member, from raw events. The sync writes these into Redis every run (a union: members
-- are unique per listener or event, so a member Redis already has changes nothing), which repairs
-- the windows after a Redis outage or wipe exactly, whatever arrives meanwhile; the analytics
-- function reads them directly when Redis is down. Same rules as windowMembers() in
-- functions/_shared/realtime.ts:
--   * an event's time is its timestamp, but never later than when it was received;
--   * a|{listener}           latest event in (p_now - 5 min, p_now]
--   * p|{mashup}|{listener}  latest mashup_played / mashup_play_progress in (p_now - 60 s, p_now]
--   * x|{mashup}|{listener}  latest mashup_play_ended in (p_now - 60 s, p_now]
--   * e|plays|{event id}, e|likes|{event id}: each play and like in (p_now - 1 h, p_now]
--   * the creator an event counts toward: its mashup's creator, or the creator followed (null:
--     platform scope only).
-- Returns [[creator_id, member, score], ...]; scores are epoch milliseconds. p_creator_id limits
-- the members to one creator's scope.

create function public.realtime_window_members(p_now timestamptz default now(), p_creator_id uuid default null)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  with ev as (
    select e.id, e.event_type, e.mashup_id, e.listener_key,
           coalesce(m.creator_id, u.id) as creator_id,
           least(e."timestamp", e.received_at) as t
    from public.analytics_events e
    left join public.mashups m on m.id = e.mashup_id
    left join auth.users u on e.event_type = 'user_followed' and u.id::text = lower(e.properties ->> 'creator_id')
    -- Every catalog type, so the (event_type, "timestamp") index narrows the scan; the window
    -- itself is on the clamped time below.
    where e.event_type = any (array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                                    'mashup_shared', 'mashup_exported', 'mashup_created', 'ai_reaction',
                                    'comment_posted', 'user_followed', 'subscription_upgraded'])
      and e."timestamp" > p_now - interval '1 hour'
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
comment on function public.realtime_window_members(timestamptz, uuid) is
  'The members of the Redis realtime sets (presence, playing, ended, plays and likes) raw events give at p_now.';

revoke execute on function public.realtime_window_members(timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.realtime_window_members(timestamptz, uuid) to service_role;

-- Replaced by the function above (the minute buckets it served are gone from Redis).
drop function public.realtime_recent_activity(timestamptz);
