-- UPDATE ... RETURNING and DELETE ... RETURNING on the raw events view (issue 11), as on the old
-- table: tests/_support/cleanup.sql deletes events and their ids in one statement
-- (`with removed as (delete from public.analytics_events ... returning id) ...`). The rules are those
-- of 20261126110000 plus the RETURNING list of the view's columns, computed from the stored row.
create or replace rule analytics_events_update as on update to public.analytics_events do instead
  update raw_events.analytics_events e
  set ("timestamp", received_at, id, user_id, mashup_id, play_id, event_code, device_code, event_name, session_id,
       anonymous_id, country, properties)
    = (select c."timestamp", c.received_at, c.id, c.user_id, c.mashup_id, c.play_id, c.event_code, c.device_code,
              c.event_name, c.session_id, c.anonymous_id, c.country, c.properties
       from raw_events.compact(new.id, new.user_id, new.event_type, new.properties, new."timestamp", new.session_id,
                               new.anonymous_id, new.received_at, new.country, new.device) c)
  where e.id = old.id and e."timestamp" = old."timestamp"
  returning e.id, e.user_id, raw_events.event_type(e.event_code, e.event_name),
            raw_events.client_properties(e.properties, e.mashup_id, e.play_id), e."timestamp", e.session_id,
            e.anonymous_id, e.received_at, e.country, raw_events.device(e.device_code), e.mashup_id,
            coalesce('u:' || e.user_id::text, 'a:' || e.anonymous_id, 's:' || e.session_id, 'e:' || e.id::text);

create or replace rule analytics_events_delete as on delete to public.analytics_events do instead
  delete from raw_events.analytics_events e where e.id = old.id and e."timestamp" = old."timestamp"
  returning e.id, e.user_id, raw_events.event_type(e.event_code, e.event_name),
            raw_events.client_properties(e.properties, e.mashup_id, e.play_id), e."timestamp", e.session_id,
            e.anonymous_id, e.received_at, e.country, raw_events.device(e.device_code), e.mashup_id,
            coalesce('u:' || e.user_id::text, 'a:' || e.anonymous_id, 's:' || e.session_id, 'e:' || e.id::text);
