-- Erasure drops every deleted event that is still queued, not only the erased key's.
--
-- public.erase_listener deletes the raw events of a user id or an anonymous id and every event that
-- names the id, and aggregation.forget_listener dropped the queued copies whose listener key is
-- the erased one. An event with both a user id and the erased anonymous id is keyed 'u:<user>', and
-- an event that only mentions the id belongs to another listener: their queue rows stayed, and the
-- next run counted events whose raw rows were gone (every rollup one more than a recount of the raw
-- events; a later day rebuild took them out again). Found by tests/sql/27_fold_all_rollups_randomized.
-- Now erase_listener collects the ids it deletes and aggregation.forget_events(ids) drops them from
-- the queue and the last run's scratch batch. (Counts of events already folded stay, as before:
-- docs/raw-storage.md.)

create function aggregation.forget_events(p_ids uuid[])
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if cardinality(p_ids) > 0 then
    delete from aggregation.pending_events q using unnest(p_ids) as k (id) where q.id = k.id;
    delete from aggregation.fold_batch b using unnest(p_ids) as k (id) where b.id = k.id;
  end if;
end;
$$;
comment on function aggregation.forget_events(uuid[]) is
  'Drops these events from the fold queue and the last run''s batch (erasure: their raw rows are deleted).';
revoke all on function aggregation.forget_events(uuid[]) from public, anon, authenticated;
grant execute on function aggregation.forget_events(uuid[]) to service_role;

create or replace function public.erase_listener(p_user_id uuid default null, p_anonymous_id text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_id text := coalesce(p_user_id::text, p_anonymous_id);
  v_key text := case when p_user_id is not null then 'u:' || p_user_id::text else 'a:' || p_anonymous_id end;
  -- The id as a uuid when its text is canonical (a user id always is): it may sit in a uuid column.
  v_uuid uuid := case when v_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_id::uuid end;
  v_events bigint;
  v_mentions bigint;
  v_bots bigint;
  v_listeners bigint;
  v_ids uuid[];
begin
  if (p_user_id is null) = (p_anonymous_id is null) or p_anonymous_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id or p_anonymous_id'
      using errcode = '22023';
  end if;

  with gone as (
    delete from raw_events.analytics_events e
    where (p_user_id is not null and e.user_id = p_user_id)
       or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id)
    returning e.id
  )
  select count(*), coalesce(array_agg(gone.id), '{}') into v_events, v_ids from gone;

  -- Mentions inside properties (any key, any depth): a text search over the JSON, then exact.
  -- A mashup_id or play_id lifted out of properties (canonical lower-case uuid text) mentions the id
  -- exactly when its uuid equals it; one that stayed in the jsonb is found there.
  with gone as (
    delete from raw_events.analytics_events e
    where (v_uuid is not null and (e.play_id = v_uuid or (e.mashup_id = v_uuid and not (e.properties ? 'mashup_id'))))
       or (strpos(e.properties::text, v_id) > 0
           and jsonb_path_exists(e.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id)))
    returning e.id
  )
  select count(*), v_ids || coalesce(array_agg(gone.id), '{}') into v_mentions, v_ids from gone;

  delete from public.analytics_bot_events b
  where strpos(b.properties::text, v_id) > 0
    and jsonb_path_exists(b.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id));
  get diagnostics v_bots = row_count;

  update public.mashup_listeners ml
  set listener_key = 'x:' || gen_random_uuid()::text
  where ml.listener_key = v_key;
  get diagnostics v_listeners = row_count;
  -- The fold's own copies of listener identities (issue 10): anonymised or dropped the same way.
  perform aggregation.forget_listener(v_key, p_user_id);
  -- Every deleted event still waiting in the queue goes too, whoever's listener key it has (an
  -- event with a user id and the erased anonymous id is keyed by the user; one naming the id in its
  -- properties is another listener's): a raw event that is gone is never counted afterwards.
  perform aggregation.forget_events(v_ids);

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' else 'anonymous_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;

comment on function public.erase_listener(uuid, text) is
  'Service role: erases one listener by user id or anonymous id: their raw events, bot rows and '
  'events naming them, and their listener identity in mashup_listeners and the fold''s state (counts '
  'stay). Returns counts.';
revoke execute on function public.erase_listener(uuid, text) from public, anon, authenticated;
grant execute on function public.erase_listener(uuid, text) to service_role;
