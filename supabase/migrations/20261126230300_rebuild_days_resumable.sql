-- A rebuild of many UTC days that an interruption does not leave half done (issue 10).
--
-- A rebuild that starts the rollups over (aggregation.reset_rollups(), then every day recounted, as
-- the demo re-anchoring in sql/reanchor_demo_data.sql does) commits one day at a time, so a stack
-- stopped or a backend killed halfway left the days not yet recounted empty, and nothing picked them
-- up again: the next start saw a current seed and recounted nothing. The days to recount are now a
-- durable list, written in the transaction that empties the rollups, and every day leaves the list
-- in the transaction that recounts it. Whatever stops the rebuild, the list holds exactly the days
-- still to do, and calling the procedure again finishes them.

create table aggregation.rebuild_days (
  day date primary key,
  queued_at timestamptz not null default now()
);
comment on table aggregation.rebuild_days is
  'UTC days whose rollups are to be recounted from raw events by call aggregation.rebuild_queued_days(); '
  'a day leaves the list in the transaction that recounts it.';
alter table aggregation.rebuild_days enable row level security;
revoke all on aggregation.rebuild_days from public, anon, authenticated;
grant select, insert, delete on aggregation.rebuild_days to service_role;

-- No SET clause (search_path): a procedure with one cannot COMMIT, as aggregation.backfill() cannot.
-- Every name is qualified instead.
create procedure aggregation.rebuild_queued_days(inout p_days integer default 0)
language plpgsql
as $$
declare
  v_day date;
begin
  p_days := 0;
  loop
    -- Oldest first. A day another caller is recounting is skipped (its row is locked until that
    -- caller commits), so two callers share the list instead of doing each day twice.
    select r.day into v_day from aggregation.rebuild_days r order by r.day limit 1 for update skip locked;
    exit when v_day is null;
    perform aggregation.mashup_day(v_day);
    perform aggregation.user_day(v_day);
    delete from aggregation.rebuild_days r where r.day = v_day;
    commit;
    p_days := p_days + 1;
    v_day := null;
  end loop;
end;
$$;
comment on procedure aggregation.rebuild_queued_days(integer) is
  'Recounts every day in aggregation.rebuild_days (aggregation.mashup_day and user_day), oldest first, '
  'one committed transaction per day; returns how many it did. Interrupted, call it again. Run outside '
  'a transaction block: call aggregation.rebuild_queued_days().';
revoke all on procedure aggregation.rebuild_queued_days(integer) from public, anon, authenticated;
grant execute on procedure aggregation.rebuild_queued_days(integer) to service_role;
