-- COPY into the view public.analytics_events, buffered (issue 11).
--
-- COPY does not apply rules, so COPY into the view goes through the row-level INSTEAD OF trigger.
-- Inserting each row into raw_events.analytics_events from there made every row its own INSERT
-- statement, firing the physical table's statement triggers (the fold queue, follows) once per
-- row: about a third of the rate of COPY into the old table. Now the row trigger only appends the
-- compact row to an unlogged buffer, and a statement-level AFTER INSERT trigger on the view (which
-- fires for COPY, not for INSERTs the rules rewrite) moves the statement's rows into the physical
-- table in one INSERT: one claim per row as before, one fold-queue insert per COPY.
--
-- The buffer's rows never commit: they are deleted by the same statement's flush (a failed COPY
-- rolls both back). Each transaction takes only its own rows (tx), so concurrent COPYs do not mix.

create unlogged table raw_events.copy_buffer (
  tx xid8 not null default pg_current_xact_id(),
  r raw_events.analytics_events not null
);
comment on table raw_events.copy_buffer is
  'Rows of a COPY into public.analytics_events between the row trigger and the statement flush; '
  'always empty outside a running COPY.';
alter table raw_events.copy_buffer enable row level security;
revoke all on raw_events.copy_buffer from public, anon, authenticated;
grant select, insert, delete on raw_events.copy_buffer to service_role;

create or replace function raw_events.copy_into_view()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into raw_events.copy_buffer (r)
  select c from raw_events.compact(new.id, new.user_id, new.event_type, new.properties, new."timestamp",
                                   new.session_id, new.anonymous_id, new.received_at, new.country, new.device) c;
  return new;
end;
$$;
comment on function raw_events.copy_into_view() is
  'INSTEAD OF INSERT (row) on public.analytics_events, i.e. COPY into the view: buffers the compact row.';

create function raw_events.flush_copy_buffer()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  with taken as (
    delete from raw_events.copy_buffer b where b.tx = pg_current_xact_id() returning b.r
  )
  insert into raw_events.analytics_events select (t.r).* from taken t;
  return null;
end;
$$;
comment on function raw_events.flush_copy_buffer() is
  'AFTER INSERT (statement) on public.analytics_events: stores the buffered rows of this COPY in one INSERT.';

create trigger analytics_events_copy_flush
  after insert on public.analytics_events
  for each statement execute function raw_events.flush_copy_buffer();

revoke all on function raw_events.flush_copy_buffer() from public, anon, authenticated;
grant execute on function raw_events.flush_copy_buffer() to service_role;
