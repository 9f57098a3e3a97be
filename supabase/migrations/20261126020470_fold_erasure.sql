-- Erasure (issue 11's public.erase_listener) reaches the fold's state too (issue 10). Sorts after
-- 20261126010300_erase_listener.sql; its body is that migration's, plus one call.
--   aggregation.mashup_daily_listeners  listener key anonymised (x:<random>), like mashup_listeners:
--                                       per-day unique counts stay
--   aggregation.creator_daily_followers follower key anonymised
--   aggregation.pending_events          queued rows of the listener dropped (their raw events are
--                                       deleted; not yet counted, so no count changes)
--   aggregation.fold_batch              the last run's scratch rows of the listener dropped
create function aggregation.forget_listener(p_key text, p_user_id uuid)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  update aggregation.mashup_daily_listeners dl set listener_key = 'x:' || gen_random_uuid()::text
  where dl.listener_key = p_key;
  update aggregation.creator_daily_followers f set follower_key = 'x:' || gen_random_uuid()::text
  where f.follower_key = p_key;
  delete from aggregation.pending_events q
  where q.listener_key = p_key or (p_user_id is not null and p_user_id in (q.user_id, q.creator_id));
  delete from aggregation.fold_batch b
  where b.listener_key = p_key or (p_user_id is not null and p_user_id in (b.user_id, b.creator_id));
end;
$$;
comment on function aggregation.forget_listener(text, uuid) is
  'Erasure of one listener key from the fold''s state (sets anonymised, queued rows dropped).';
revoke all on function aggregation.forget_listener(text, uuid) from public, anon, authenticated;
grant execute on function aggregation.forget_listener(text, uuid) to service_role;

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
  -- The fold's own copies of listener identities (issue 10): anonymised or dropped the same way.
  perform aggregation.forget_listener(v_key, p_user_id);

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' else 'anonymous_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;
