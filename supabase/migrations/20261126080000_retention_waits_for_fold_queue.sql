-- Retention asks the fold queue too. raw_events.rollups_final (issue 11) was written against the
-- incremental watermark; since the rollups fold a queue fed at insert (issue 10), an event can sit in
-- aggregation.pending_events after the watermark has passed its receive time (a run that failed or
-- was skipped for the lock). Dropping its month then would lose it from the rollups for good, so a
-- month is final only when both hold: the watermark and the nightly/backfill checks as before, and
-- no queued event older than the month's end (aggregation.is_final).
create or replace function raw_events.rollups_final(p_before timestamptz)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select w.received_through is not null
     and not exists (
       select 1 from public.analytics_events e
       where e."timestamp" < p_before and e.received_at >= w.received_through)
     -- The nightly run of the last day before p_before finished after that day ended.
     and (p_before <= (select min(e."timestamp") from public.analytics_events e)
          or exists (select 1 from aggregation.runs r
                     where r.job in ('nightly', 'backfill') and r.status = 'succeeded'
                       and r.window_end >= p_before))
     -- Nothing older than p_before is still waiting in the fold queue.
     and aggregation.is_final(p_before)
  from (select max(received_through) as received_through
        from aggregation.watermarks where job = 'incremental') w
$$;
comment on function raw_events.rollups_final(timestamptz) is
  'True when every raw event with "timestamp" < p_before is in the rollups: the incremental watermark '
  'is past all of them, none is still in the fold queue, and a nightly or backfill run covered the day '
  'before p_before.';
revoke all on function raw_events.rollups_final(timestamptz) from public, anon, authenticated;
grant execute on function raw_events.rollups_final(timestamptz) to service_role;
