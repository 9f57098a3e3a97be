-- COPY into the raw events view claims each id in its row trigger (issue 11: the write path).
-- The row trigger of 20261126110200 buffered every row and the flush's INSERT then paid the raw
-- table's claim trigger per row: two PL/pgSQL calls a row. Now the view's row trigger claims the id
-- itself (public.analytics_event_ids, ON CONFLICT DO NOTHING: a duplicate inside the COPY or an id
-- already stored is skipped there, the first row of an id wins, a concurrent claim waits) and
-- buffers only claimed rows; the flush stores them with the claim trigger skipped
-- (raw_events.ids_claimed, as ingest_events does).
create or replace function raw_events.copy_into_view()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into public.analytics_event_ids (id) values (new.id) on conflict (id) do nothing;
  if not found then
    return null; -- already stored: skipped, like `on conflict (id) do nothing`
  end if;
  insert into raw_events.copy_buffer (r)
  select c from raw_events.compact(new.id, new.user_id, new.event_type, new.properties, new."timestamp",
                                   new.session_id, new.anonymous_id, new.received_at, new.country, new.device) c;
  return new;
end;
$$;
comment on function raw_events.copy_into_view() is
  'INSTEAD OF INSERT (row) on public.analytics_events, i.e. COPY into the view: claims the id, buffers '
  'the compact row.';

create or replace function raw_events.flush_copy_buffer()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  -- Every buffered id is claimed already (copy_into_view).
  perform set_config('raw_events.ids_claimed', 'on', true);
  with taken as (
    delete from raw_events.copy_buffer b where b.tx = pg_current_xact_id() returning b.r
  )
  insert into raw_events.analytics_events select (t.r).* from taken t;
  perform set_config('raw_events.ids_claimed', '', true);
  return null;
end;
$$;
