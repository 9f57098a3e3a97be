-- A mashup's retention is drawn against the duration its plays were folded against.
--
-- Since 20261128000100 a creator's duration edit is refolded by the next incremental run (within
-- five minutes), not inside the edit. Until that run, every play of the mashup is still capped and
-- completed against the duration of the last run (a run folds and refolds in one transaction, so
-- the plays of a mashup always share one), while get_mashup_analytics drew its drop-off checkpoints
-- from mashups.duration_seconds, the edited one: a response that mixed the old cap and completion
-- with the new checkpoints (100 -> 200 s: every play "stopped" by 100 s), the mix 20261126170100
-- was written to end. The checkpoints now come from the plays' own duration
-- (mashup_play_summaries.duration_seconds), so a response is consistent before the run (the old
-- duration throughout) and after it (the new one). Body as in 20261127001400 but for the
-- `plays` and `checkpoints` CTEs.
create or replace function dashboard.get_mashup_analytics(p_mashup_id uuid, p_start date, p_end date, p_tz text DEFAULT 'UTC'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  bounds record;
  m record;
  result jsonb;
begin
  select * into bounds from public.dashboard_period_bounds(p_start, p_end, p_tz);
  -- RLS hides another creator's mashup: it is then exactly as missing as one that does not exist.
  -- Code P0002 (no_data_found) with HTTP status 404, from PostgREST and the Edge Function alike.
  select mm.id, mm.title, mm.created_at, mm.duration_seconds into m
  from public.mashups mm where mm.id = p_mashup_id;
  if not found then
    -- PostgREST's custom-status form: clients get 404 {"code":"P0002",...} from RPC as well.
    raise sqlstate 'PGRST' using
      message = json_build_object('code', 'P0002', 'message', 'mashup not found', 'hint', 'id',
                                  'details', null)::text,
      detail = json_build_object('status', 404, 'headers', json_build_object())::text;
  end if;

  with buckets as (
    select s.bucket_start, s.plays, s.likes
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = m.id and s.bucket_start >= bounds.start_at and s.bucket_start < bounds.end_at
  ),
  days as (
    select d::date as day from generate_series(p_start::timestamp, (p_end - 1)::timestamp, interval '1 day') as d
  ),
  per_day as (
    select days.day, coalesce(sum(b.plays), 0)::bigint as plays, coalesce(sum(b.likes), 0)::bigint as likes
    from days left join buckets b on (b.bucket_start at time zone p_tz)::date = days.day
    group by days.day
  ),
  per_hour as (
    select extract(hour from b.bucket_start at time zone p_tz)::integer as hour, sum(b.plays)::bigint as plays
    from buckets b group by 1 having sum(b.plays) > 0
  ),
  plays as (
    select ps.furthest_position_seconds as furthest, ps.completed, ps.duration_seconds
    from public.mashup_play_summaries ps
    where ps.mashup_id = m.id and ps.started_at >= bounds.start_at and ps.started_at < bounds.end_at
  ),
  -- Drop-off checkpoints: every 30 seconds, and the end of the mashup, at the duration the plays
  -- were folded against (an edit since the last run is refolded by the next one; until then the
  -- plays share the previous duration, and so do the checkpoints).
  folded as (
    select coalesce((select max(p.duration_seconds) from plays p), m.duration_seconds) as duration
  ),
  checkpoints as (
    select t from folded, generate_series(30, folded.duration - 1, 30) as t
    union select folded.duration from folded
  ),
  lifetime as (
    select l.plays, l.unique_plays, l.likes, l.shares, l.comments
    from public.mashup_lifetime_stats l where l.mashup_id = m.id
  )
  select jsonb_build_object(
    'mashup', jsonb_build_object('id', m.id, 'title', m.title, 'createdAt', m.created_at),
    'lifetime', jsonb_build_object(
      'plays', coalesce((select plays from lifetime), 0),
      'uniquePlays', coalesce((select unique_plays from lifetime), 0),
      'likes', coalesce((select likes from lifetime), 0),
      'shares', coalesce((select shares from lifetime), 0),
      'comments', coalesce((select comments from lifetime), 0)
    ),
    'retention', jsonb_build_object(
      'avgWatchTime', coalesce((select round(avg(furthest), 1) from plays), 0),
      'completionRate', coalesce((select round(100.0 * count(*) filter (where completed) / nullif(count(*), 0))::integer
                                  from plays), 0),
      'dropOffPoints', coalesce((
        select jsonb_agg(jsonb_build_object('time', c.t, 'percentage',
                 (select round(100.0 * count(*) filter (where p.furthest < c.t) / count(*))::integer from plays p))
               order by c.t)
        from checkpoints c where exists (select 1 from plays)
      ), '[]'::jsonb)
    ),
    'daily', (select jsonb_agg(jsonb_build_object('date', day, 'plays', plays, 'likes', likes) order by day)
              from per_day),
    'peakTimes', coalesce((select jsonb_agg(jsonb_build_object('hour', hour, 'plays', plays)
                                            order by plays desc, hour) from per_hour), '[]'::jsonb)
  ) into result;
  return result;
end;
$function$;
