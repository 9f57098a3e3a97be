-- Erasure of one listener (issue 11): public.erase_listener(p_user_id, p_anonymous_id), service
-- role only (POST /rest/v1/rpc/erase_listener with the service key).
--
-- Removes, in one transaction:
--   * their raw events: analytics_events rows with that user_id / anonymous_id, in every partition
--     still kept (dropped months hold nothing any more);
--   * every raw event and bot row whose properties name the id (e.g. a user_followed event that
--     followed them carries their id as creator_id; bot rows keep no identity column, but their
--     properties may quote one);
--   * their listener rows: public.mashup_listeners under their listener key. These are the only
--     rollup rows that hold a listener identity, and they outlive dropped raw partitions, so this
--     works after retention too.
-- What stays (docs/raw-storage.md, "Erasure"): aggregate counts (plays, unique listeners per day and lifetime, watch
-- time...) hold no identity. Lifetime unique listeners keep counting them: their mashup_listeners
-- rows are replaced by anonymous tombstones ('x:' || random uuid), so the dashboards do not change;
-- a later recompute of a day with their events counts without them. Event ids stay in
-- analytics_event_ids (an id with a time, no identity) so a client resending an erased event does
-- not store it again.
-- The id is not logged anywhere: raw_events.erasures keeps counts only.

create table raw_events.erasures (
  id bigint generated always as identity primary key,
  erased_at timestamptz not null default now(),
  by_kind text not null check (by_kind in ('user_id', 'anonymous_id')),
  events_deleted bigint not null,
  bot_events_deleted bigint not null,
  listener_rows_anonymised bigint not null
);
comment on table raw_events.erasures is
  'One row per erase_listener call: what kind of id and how many rows; never the id itself.';
revoke all on raw_events.erasures from public, anon, authenticated;
grant select, insert on raw_events.erasures to service_role;

create function public.erase_listener(p_user_id uuid default null, p_anonymous_id text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_id text := coalesce(p_user_id::text, p_anonymous_id);
  v_key text := case when p_user_id is not null then 'u:' || p_user_id::text else 'a:' || p_anonymous_id end;
  v_events bigint;
  v_mentions bigint;
  v_bots bigint;
  v_listeners bigint;
begin
  if (p_user_id is null) = (p_anonymous_id is null) or p_anonymous_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id or p_anonymous_id'
      using errcode = '22023';
  end if;

  delete from public.analytics_events e
  where (p_user_id is not null and e.user_id = p_user_id)
     or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id);
  get diagnostics v_events = row_count;

  -- Mentions inside properties (any key, any depth): a text search over the JSON, then exact.
  delete from public.analytics_events e
  where strpos(e.properties::text, v_id) > 0
    and jsonb_path_exists(e.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id));
  get diagnostics v_mentions = row_count;

  delete from public.analytics_bot_events b
  where strpos(b.properties::text, v_id) > 0
    and jsonb_path_exists(b.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id));
  get diagnostics v_bots = row_count;

  update public.mashup_listeners ml
  set listener_key = 'x:' || gen_random_uuid()::text
  where ml.listener_key = v_key;
  get diagnostics v_listeners = row_count;

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' else 'anonymous_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;
comment on function public.erase_listener(uuid, text) is
  'Service role: erases one listener by user id or anonymous id: their raw events, bot rows and '
  'events naming them, and their listener identity in mashup_listeners (counts stay). Returns counts.';

revoke execute on function public.erase_listener(uuid, text) from public, anon, authenticated;
grant execute on function public.erase_listener(uuid, text) to service_role;
