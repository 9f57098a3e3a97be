-- An erasure waits for a fold that is running (an outside audit, 2026-11-27: erasing while the
-- incremental job folded the listener's events broke the rule for good).
--
-- public.erase_listener decides per deleted event whether the rollups counted it (kept: its day goes
-- to aggregation.erased_days, its live count stays) or it is still queued (counted nowhere: dropped
-- from the queue, its live count taken back, 20261127003900), by looking in aggregation.pending_events.
-- A fold takes its events out of the queue and counts them in one transaction; until that commits,
-- an erasure in another transaction still saw them queued: it took their live counts back and did
-- not record their day, then the fold committed and the days counted them. Measured by the audit:
-- live plays/likes 3/0 against 8/2 in the days, lifetime and dashboard, never repaired (the
-- reconciliation compares with the raw events); the listener key was not anonymised either
-- (mashup_listeners rows written by the fold after the erasure's UPDATE had run). Now erase_listener
-- takes the aggregation lock (aggregation.lock(true), the one every fold, backfill and recount holds
-- for its transaction) before it reads anything, so it runs before or after a fold, never inside one.
-- The wait is at most one fold's run (the incremental job: about two seconds at its heaviest).
-- Body as in 20261127003900 but for the lock.

create or replace function public.erase_listener(p_user_id uuid default null, p_anonymous_id text default null,
                                                 p_session_id text default null)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $$
declare
  v_id text := coalesce(p_user_id::text, p_anonymous_id, p_session_id);
  -- The listener key the fold gives such events: a user's, else an anonymous id's, else a session's.
  v_key text := case when p_user_id is not null then 'u:' || p_user_id::text
                     when p_anonymous_id is not null then 'a:' || p_anonymous_id
                     else 's:' || p_session_id end;
  -- The id as a uuid when its text is canonical (a user id always is): it may sit in a uuid column.
  v_uuid uuid := case when v_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_id::uuid end;
  v_events bigint;
  v_mentions bigint;
  v_bots bigint;
  v_listeners bigint;
  v_ids uuid[];
  v_days date[];
  v_day_ids uuid[];
  v_cutoff timestamptz;
  -- The event types the day recounts read (aggregation.mashup_days, aggregation.user_days).
  v_recounted text[] := array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                              'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created'];
begin
  if num_nonnulls(p_user_id, p_anonymous_id, p_session_id) <> 1 or p_anonymous_id = '' or p_session_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id, p_anonymous_id or p_session_id'
      using errcode = '22023';
  end if;
  -- (20261127004000) Waits for a fold that is running: until it commits, the events it took out of
  -- the queue still look queued to this transaction, yet they will be counted. Taken first, the lock
  -- makes every statement below see the queue after that fold (read committed: a new snapshot each).
  perform aggregation.lock(true);

  with gone as (
    delete from raw_events.analytics_events e
    where (p_user_id is not null and e.user_id = p_user_id)
       or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id)
       or (p_session_id is not null and e.session_id = p_session_id)
    returning e.id, e."timestamp", raw_events.event_type(e.event_code, e.event_name) as event_type
  )
  select count(*), coalesce(array_agg(gone.id), '{}'),
         coalesce(array_agg((gone."timestamp" at time zone 'UTC')::date) filter (where gone.event_type = any (v_recounted)), '{}'),
         coalesce(array_agg(gone.id) filter (where gone.event_type = any (v_recounted)), '{}')
  into v_events, v_ids, v_days, v_day_ids from gone;

  -- Mentions inside properties (any key, any depth): a text search over the JSON, then exact.
  -- A mashup_id or play_id lifted out of properties (canonical lower-case uuid text) mentions the id
  -- exactly when its uuid equals it; one that stayed in the jsonb is found there.
  with gone as (
    delete from raw_events.analytics_events e
    where (v_uuid is not null and (e.play_id = v_uuid or (e.mashup_id = v_uuid and not (e.properties ? 'mashup_id'))))
       or (strpos(e.properties::text, v_id) > 0
           and jsonb_path_exists(e.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id)))
    returning e.id, e."timestamp", raw_events.event_type(e.event_code, e.event_name) as event_type
  )
  select count(*), v_ids || coalesce(array_agg(gone.id), '{}'),
         v_days || coalesce(array_agg((gone."timestamp" at time zone 'UTC')::date) filter (where gone.event_type = any (v_recounted)), '{}'),
         v_day_ids || coalesce(array_agg(gone.id) filter (where gone.event_type = any (v_recounted)), '{}')
  into v_mentions, v_ids, v_days, v_day_ids from gone;

  -- (20261127003400) The UTC days of deleted events the rollups had already counted (no longer in the
  -- fold queue; those still queued are dropped below and never counted): a recount of such a day from
  -- the raw events left would take their plays and likes back but not their watch time, retention or
  -- live totals, so day recounts keep these days as they are (aggregation.days_without_raw_events).
  insert into aggregation.erased_days (day)
  select distinct u.day from unnest(v_day_ids, v_days) as u (id, day)
  where not exists (select 1 from aggregation.pending_events q where q.id = u.id)
  on conflict (day) do nothing;

  delete from public.analytics_bot_events b
  where strpos(b.properties::text, v_id) > 0
    and jsonb_path_exists(b.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id));
  get diagnostics v_bots = row_count;

  update public.mashup_listeners ml
  set listener_key = 'x:' || gen_random_uuid()::text
  where ml.listener_key = v_key;
  get diagnostics v_listeners = row_count;
  -- (20261127003900) The deleted events still queued were never counted by the rollups and now never
  -- will be (forget_events below), but the delete trigger kept their live counts as for any deleted
  -- event (raw_events.keep_removed_realtime_counts). Those go again, from the rows the trigger wrote
  -- (read from the queue before the two calls below empty it), so the hourly reconciliation brings
  -- the live totals to what the days count: both keep exactly the erased events the rollups counted. Mashup counters only: a queued follow stays counted in
  -- followers_gained through public.follows (app data, not erased), and so in the live ledger.
  merge into raw_events.removed_realtime_counts k
  using (
    select q.mashup_id as subject_id, raw_events.realtime_counter(q.event_type) as counter, q.received_at,
           count(*) as events
    from aggregation.pending_events q
    where q.id = any (v_ids)
      and raw_events.realtime_counter(q.event_type) in ('plays', 'likes', 'shares', 'comments', 'downloads')
    group by 1, 2, 3
  ) q
  on k.kind = 'mashup' and k.subject_id = q.subject_id and k.counter = q.counter and k.received_at = q.received_at
  when matched and k.events <= q.events then delete
  when matched then update set events = k.events - q.events;
  -- A queued event received before the live count's cutoff (the fold an hour behind) is counted in
  -- raw_events.realtime_counted_before instead: it goes from there. The row lock orders this with the
  -- reconciliation moving the cutoff (raw_events.advance_realtime_count_cutoff locks it for update).
  select c.received_before into v_cutoff from raw_events.realtime_count_cutoff c for share;
  merge into raw_events.realtime_counted_before b
  using (
    select q.mashup_id as subject_id, raw_events.realtime_counter(q.event_type) as counter, count(*) as events
    from aggregation.pending_events q
    where q.id = any (v_ids) and q.received_at < v_cutoff
      and raw_events.realtime_counter(q.event_type) in ('plays', 'likes', 'shares', 'comments', 'downloads')
    group by 1, 2
  ) q
  on b.kind = 'mashup' and b.subject_id = q.subject_id and b.counter = q.counter
  when matched and b.events <= q.events then delete
  when matched then update set events = b.events - q.events;
  -- The fold's own copies of listener identities (issue 10): anonymised or dropped the same way.
  perform aggregation.forget_listener(v_key, p_user_id);
  -- Every deleted event still waiting in the queue goes too, whoever's listener key it has (an
  -- event with a user id and the erased anonymous id is keyed by the user; one naming the id in its
  -- properties is another listener's): a raw event that is gone is never counted afterwards.
  perform aggregation.forget_events(v_ids);
  -- The live totals keep the counts of the deleted events (raw_events.keep_removed_realtime_counts),
  -- except those counted toward the erased id as a creator: follow events naming them, deleted above
  -- as mentions. Those counts name the id, so they go, and its follow-event ledger stops counting them.
  if v_uuid is not null then
    delete from raw_events.removed_realtime_counts k where k.kind = 'creator' and k.subject_id = v_uuid;
    delete from raw_events.realtime_counted_before b where b.kind = 'creator' and b.subject_id = v_uuid;
  end if;

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' when p_anonymous_id is not null then 'anonymous_id'
               else 'session_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;

comment on function public.erase_listener(uuid, text, text) is
  'Service role: erases one listener by user id, anonymous id or session id: their raw events, bot rows and '
  'events naming them, and their listener identity in mashup_listeners and the fold''s state (counts stay; '
  'the days of counted events it deleted go to aggregation.erased_days; events still queued count nowhere, '
  'live totals included). Waits for a running fold (the aggregation lock). Returns counts.';
