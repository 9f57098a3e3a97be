-- Creating a missing month waits at most 1 s for the raw tables' lock, not 5 (outside audit,
-- 2026-11-27, finding F6 of the round that added it).
--
-- CREATE TABLE ... PARTITION OF takes an exclusive lock on the partitioned table. While a long
-- reader holds it (a backfill, an analyst's query of more than the timeout), the batch that needs
-- the month waits, and every other ingest batch queues behind that waiting request: the audit
-- measured 4.6 s for three ordinary batches behind a 5 s wait. Now the wait, and so the stall of
-- the others, is at most 1 s; the batch that needed the month then fails (500, the client retries)
-- until the reader is done or the daily maintenance has created the month. 1 s rather than less:
-- concurrent batches that need the same new month wait for the first to create it (the audit's 12
-- concurrent clients into one new month all succeeded).

create or replace function raw_events.create_kept_months(p_months date[])
returns integer
language plpgsql
volatile
security definer
set search_path = ''
set lock_timeout = '1s'
as $$
declare
  v_month date;
  v_from date := (raw_events.horizon() at time zone 'UTC')::date;
  v_to date := (raw_events.ceiling() at time zone 'UTC')::date;
  v_created integer := 0;
begin
  foreach v_month in array coalesce(p_months, '{}') loop
    v_month := date_trunc('month', v_month)::date;
    continue when v_month < v_from or v_month >= v_to;
    begin
      v_created := v_created + raw_events.create_month(v_month);
    exception when duplicate_table or unique_violation then
      -- Another batch created it between our look and our create: it exists, which is all we need.
      null;
    end;
  end loop;
  return v_created;
end;
$$;
