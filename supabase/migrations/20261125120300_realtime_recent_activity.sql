-- realtime_recent_activity: what the Redis realtime windows should hold at p_now, from raw events.
-- Used to rebuild them after Redis lost its data (flush, restart without persistence, new
-- instance). Same rules as recordRealtime in functions/_shared/realtime.ts:
--   * an event's time is its timestamp, but never later than when it was received;
--   * active listeners: any event in (p_now - 5 min, p_now], latest time per listener;
--   * playing: mashup_played / mashup_play_progress in (p_now - 60 s, p_now], per mashup and listener;
--   * minute buckets: counted events per UTC minute, the current minute and the 59 before it;
--   * the creator an event counts toward: its mashup's creator, or the creator followed.
-- Times are epoch milliseconds, minutes epoch minutes (what the Redis sorted sets and keys use);
-- each list is ordered, so the same data always gives the same document.

create function public.realtime_recent_activity(p_now timestamptz default now())
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  with ev as (
    select e.event_type, e.mashup_id, e.listener_key,
           coalesce(m.creator_id, u.id) as creator_id,
           least(e."timestamp", e.received_at) as t
    from public.analytics_events e
    left join public.mashups m on m.id = e.mashup_id
    left join auth.users u on e.event_type = 'user_followed' and u.id::text = lower(e.properties ->> 'creator_id')
    where e.event_type = any (array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                                    'mashup_shared', 'mashup_exported', 'mashup_created', 'ai_reaction',
                                    'comment_posted', 'user_followed', 'subscription_upgraded'])
      and e."timestamp" >= date_trunc('minute', p_now) - interval '59 minutes'
  ),
  windowed as (
    select ev.*, floor(extract(epoch from ev.t) * 1000)::bigint as ms
    from ev
    -- The prefilter above is on the client timestamp; the window is on the clamped time.
    where ev.t <= p_now and ev.t >= date_trunc('minute', p_now) - interval '59 minutes'
  )
  select jsonb_build_object(
    'active', coalesce((
      select jsonb_agg(jsonb_build_array(a.creator_id, a.listener_key, a.ms) order by a.creator_id, a.listener_key)
      from (select w.creator_id, w.listener_key, max(w.ms) as ms from windowed w
            where w.t > p_now - interval '5 minutes' group by 1, 2) a), '[]'::jsonb),
    'playing', coalesce((
      select jsonb_agg(jsonb_build_array(p.creator_id, p.mashup_id, p.listener_key, p.ms)
                       order by p.creator_id, p.mashup_id, p.listener_key)
      from (select w.creator_id, w.mashup_id, w.listener_key, max(w.ms) as ms from windowed w
            where w.t > p_now - interval '60 seconds' and w.mashup_id is not null
              and w.event_type in ('mashup_played', 'mashup_play_progress')
            group by 1, 2, 3) p), '[]'::jsonb),
    'minutes', coalesce((
      select jsonb_agg(jsonb_build_array(b.creator_id, b.minute, b.counter, b.n) order by b.creator_id, b.minute, b.counter)
      from (select w.creator_id, floor(extract(epoch from w.t) / 60)::bigint as minute,
                   case w.event_type
                     when 'mashup_played' then 'plays' when 'mashup_liked' then 'likes'
                     when 'mashup_shared' then 'shares' when 'comment_posted' then 'comments'
                     when 'mashup_exported' then 'downloads' when 'ai_reaction' then 'reactions'
                   end as counter,
                   count(*) as n
            from windowed w
            where w.mashup_id is not null
              and w.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted',
                                   'mashup_exported', 'ai_reaction')
            group by 1, 2, 3) b), '[]'::jsonb)
  );
$$;
comment on function public.realtime_recent_activity(timestamptz) is
  'The realtime windows (presence, playing now, minute buckets) as raw events give them at p_now.';

revoke execute on function public.realtime_recent_activity(timestamptz) from public, anon, authenticated;
