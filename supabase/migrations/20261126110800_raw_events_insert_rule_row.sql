-- INSERT through the raw events view computes each stored row once per inserted row (issue 11).
--
-- The rule of 20261126110000 called the set-returning raw_events.compact(new.*) in FROM. When an
-- argument is volatile (a default id: gen_random_uuid()), the function is not inlined, and the
-- planner may put a Memoize node over it keyed on the other arguments: two inserted rows that
-- differ only in the volatile id then got the cached row, same id, and the second was skipped as a
-- duplicate (tests/integration/aggregation_runs.test.ts inserts two identical plays per day).
-- A scalar function in the select list cannot be memoized: raw_events.compact_row returns the
-- stored row as one composite value, inlined into a ROW(...) whose fields are the stored columns
-- (p_id appears once, so a volatile id is evaluated once per row).
create function raw_events.compact_row(
  p_id uuid, p_user_id uuid, p_event_type text, p_properties jsonb, p_timestamp timestamptz,
  p_session_id text, p_anonymous_id text, p_received_at timestamptz, p_country text, p_device text)
returns raw_events.analytics_events
language sql
immutable
parallel safe
as $$
  -- No SET search_path: inlined into the view's INSERT rule (built-ins and raw_events only).
  select row(p_timestamp, p_received_at, p_id, p_user_id,
             (p_properties ->> 'mashup_id')::uuid, raw_events.split_uuid(p_properties, 'play_id'),
             raw_events.event_code(p_event_type), raw_events.device_code(p_device),
             case when raw_events.event_code(p_event_type) is null then p_event_type end,
             p_session_id, p_anonymous_id, p_country, raw_events.stored_properties(p_properties)
  )::raw_events.analytics_events
$$;
comment on function raw_events.compact_row(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text) is
  'raw_events.compact as one composite value (the view''s INSERT rule).';
revoke all on function raw_events.compact_row(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text)
  from public, anon, authenticated;
grant execute on function raw_events.compact_row(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text)
  to service_role;

create or replace rule analytics_events_insert as on insert to public.analytics_events do instead
  insert into raw_events.analytics_events
  select (raw_events.compact_row(new.id, new.user_id, new.event_type, new.properties, new."timestamp",
                                 new.session_id, new.anonymous_id, new.received_at, new.country, new.device)).*
  returning analytics_events.id, analytics_events.user_id,
            raw_events.event_type(analytics_events.event_code, analytics_events.event_name),
            raw_events.client_properties(analytics_events.properties, analytics_events.mashup_id,
                                         analytics_events.play_id),
            analytics_events."timestamp", analytics_events.session_id, analytics_events.anonymous_id,
            analytics_events.received_at, analytics_events.country, raw_events.device(analytics_events.device_code),
            analytics_events.mashup_id,
            coalesce('u:' || analytics_events.user_id::text, 'a:' || analytics_events.anonymous_id,
                     's:' || analytics_events.session_id, 'e:' || analytics_events.id::text);
