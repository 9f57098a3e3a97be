-- erase_listener on the compact raw row (issue 11): it deletes from the physical table
-- raw_events.analytics_events directly (not through the view's rules, which join the view back to
-- the table), and finds the id in the uuid columns lifted out of properties as well as in the
-- jsonb. The body is 20261126020470_fold_erasure.sql's (issue 10's forget_listener call included)
-- with those two statements changed.

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
begin
  if (p_user_id is null) = (p_anonymous_id is null) or p_anonymous_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id or p_anonymous_id'
      using errcode = '22023';
  end if;

  delete from raw_events.analytics_events e
  where (p_user_id is not null and e.user_id = p_user_id)
     or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id);
  get diagnostics v_events = row_count;

  -- Mentions inside properties (any key, any depth): a text search over the JSON, then exact.
  -- A mashup_id or play_id lifted out of properties (canonical lower-case uuid text) mentions the id
  -- exactly when its uuid equals it; one that stayed in the jsonb is found there.
  delete from raw_events.analytics_events e
  where (v_uuid is not null and (e.play_id = v_uuid or (e.mashup_id = v_uuid and not (e.properties ? 'mashup_id'))))
     or (strpos(e.properties::text, v_id) > 0
         and jsonb_path_exists(e.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id)));
  get diagnostics v_mentions = row_count;

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
