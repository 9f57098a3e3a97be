-- Retention's "are the rollups final?" (issue 11's raw_events.rollups_final, the one function its
-- migration left for this swap) asks the fold (issue 10): nothing timestamped before p_before is
-- still queued (aggregation.is_final), and, as before, a nightly or backfill run covered the day
-- before p_before. Sorts after 20261126010200_raw_events_retention.sql.
create or replace function raw_events.rollups_final(p_before timestamptz)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select aggregation.is_final(p_before)
     and (p_before <= (select min(e."timestamp") from public.analytics_events e)
          or exists (select 1 from aggregation.runs r
                     where r.job in ('nightly', 'backfill') and r.status = 'succeeded'
                       and r.window_end >= p_before))
$$;
comment on function raw_events.rollups_final(timestamptz) is
  'True when every raw event with "timestamp" < p_before is in the rollups: none is still queued for '
  'the fold (aggregation.is_final) and a nightly or backfill run covered the day before p_before.';
