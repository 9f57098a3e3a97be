-- Erasure by session id (outside audit, 2026-11-27: "no erasure path exists for session-keyed
-- listeners").
--
-- A client may send events with a session id and neither a user nor an anonymous id (plain HTTP
-- clients do); the fold keys such a listener 's:<session id>'. public.erase_listener took a user id
-- or an anonymous id only, so that listener could not be erased: erase_listener(p_anonymous_id =>
-- the session id) deleted nothing. Now p_session_id erases the events of that session (whoever
-- else they name, as p_anonymous_id does for its id), the events and bot rows naming it, and the
-- 's:' listener rows and fold state. Exactly one of the three ids. The function is dropped and
-- created again with the third parameter (callers name their parameters: the RPC and the account
-- deletion trigger); its body as in 20261127001500 but for the marked parts.

alter table raw_events.erasures drop constraint erasures_by_kind_check;
alter table raw_events.erasures add constraint erasures_by_kind_check
  check (by_kind in ('user_id', 'anonymous_id', 'session_id'));

drop function public.erase_listener(uuid, text);
create function public.erase_listener(p_user_id uuid default null, p_anonymous_id text default null,
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
begin
  if num_nonnulls(p_user_id, p_anonymous_id, p_session_id) <> 1 or p_anonymous_id = '' or p_session_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id, p_anonymous_id or p_session_id'
      using errcode = '22023';
  end if;

  with gone as (
    delete from raw_events.analytics_events e
    where (p_user_id is not null and e.user_id = p_user_id)
       or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id)
       or (p_session_id is not null and e.session_id = p_session_id)
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
  'events naming them, and their listener identity in mashup_listeners and the fold''s state (counts stay). '
  'Returns counts.';
revoke all on function public.erase_listener(uuid, text, text) from public, anon, authenticated;
grant execute on function public.erase_listener(uuid, text, text) to service_role;
