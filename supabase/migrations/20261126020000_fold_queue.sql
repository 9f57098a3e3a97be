-- What arrived and is not yet in the rollups: a queue fed at insert, consumed exactly once.
--
-- Every new raw event the rollups count is copied, narrow and pre-parsed, into
-- aggregation.pending_events by a statement-level AFTER INSERT trigger, in the inserting
-- transaction. The raw row and its queue row therefore commit (or roll back) together, and a
-- retried event id never reaches either (ingest dedups before the raw insert: the transition table
-- holds only rows actually inserted). The 5-minute job consumes the queue with
-- DELETE ... RETURNING, so an event is folded exactly once: it cannot be read twice, a late commit
-- is simply still in the queue at the next run, and a failed run rolls its DELETE back.
--
-- Why a queue and not a received_at window: folding adds to counters, so the old overlap (re-read
-- the last 10 minutes, recompute whole keys) would double-count; an anti-join against folded ids
-- would have to remember ids for as long as any window may be re-read. The queue is a heap with no
-- index (the job takes all of it), so the insert path pays one narrow heap insert per event.
--
-- Works on a plain or a partitioned analytics_events (issue 11): statement-level triggers with
-- transition tables are allowed on a partitioned parent and fire for rows routed to partitions.

create table aggregation.pending_events (
  id uuid not null,
  event_type text not null,
  "timestamp" timestamptz not null,
  received_at timestamptz not null,
  mashup_id uuid,
  listener_key text,
  user_id uuid,
  -- mashup_played: properties.source ('unknown' when absent), country, device ('unknown' when absent)
  source text,
  country text,
  device text,
  -- play events: properties.play_id (lower-cased, when a uuid) and position_seconds (when a number)
  play_id uuid,
  position_seconds numeric,
  -- user_followed: properties.creator_id (when a uuid)
  creator_id uuid
);
comment on table aggregation.pending_events is
  'Raw events inserted but not yet folded into the rollups (fed by a trigger on analytics_events, '
  'consumed by run_incremental and by the day rebuilds). Holds listener keys until folded.';

create function aggregation.enqueue_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into aggregation.pending_events
    (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
     play_id, position_seconds, creator_id)
  select n.id, n.event_type, n."timestamp", n.received_at, n.mashup_id, n.listener_key, n.user_id,
         case when n.event_type = 'mashup_played' then coalesce(nullif(n.properties ->> 'source', ''), 'unknown') end,
         case when n.event_type = 'mashup_played' then coalesce(n.country, 'unknown') end,
         case when n.event_type = 'mashup_played' then coalesce(n.device, 'unknown') end,
         case when n.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
               and lower(n.properties ->> 'play_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then lower(n.properties ->> 'play_id')::uuid end,
         case when n.event_type in ('mashup_play_progress', 'mashup_play_ended')
               and jsonb_typeof(n.properties -> 'position_seconds') = 'number'
              then (n.properties ->> 'position_seconds')::numeric end,
         case when n.event_type = 'user_followed'
               and lower(n.properties ->> 'creator_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then lower(n.properties ->> 'creator_id')::uuid end
  from new_rows n
  where n.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created', 'user_followed');
  return null;
end;
$$;
comment on function aggregation.enqueue_events() is
  'AFTER INSERT (statement) trigger on analytics_events: queues the new rows the rollups count.';

create trigger analytics_events_enqueue_fold
  after insert on public.analytics_events
  referencing new table as new_rows
  for each statement execute function aggregation.enqueue_events();

revoke all on table aggregation.pending_events from public, anon, authenticated;
grant insert, select, delete on table aggregation.pending_events to service_role;
revoke all on function aggregation.enqueue_events() from public, anon, authenticated;
grant execute on function aggregation.enqueue_events() to service_role;
