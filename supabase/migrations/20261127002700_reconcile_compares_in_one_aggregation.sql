-- The reconciliation compares its counters in one aggregation (no figures change).
--
-- After 20261127002500 the events are scanned since the cutoff only, and what is left grows with
-- the counters: at 100,000 mashups (603,372 counters, a bench/generate 10000000 database) the run
-- took 3.2 s, most of it the union of the three sources' keys (sorted, made unique) and three
-- joins back to them. Now the sources are tagged and aggregated once per counter: the same
-- expected, counted and repair for every counter (bench/realtime/reconcile.sh has the figures).
-- Body as in 20261127002500 but for the raw and compared parts.

create or replace function public.reconcile_realtime_totals(p_outstanding jsonb, p_fence_us bigint, p_reason text DEFAULT 'scheduled'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $$
declare
  v_run uuid;
  v_result jsonb;
  v_fence timestamptz;
  v_cutoff timestamptz;
begin
  if p_outstanding is null or jsonb_typeof(p_outstanding) <> 'object' or p_fence_us is null then
    raise exception 'reconcile_realtime_totals: outstanding deltas (object) and the fence (epoch microseconds) are required'
      using errcode = '22023';
  end if;
  -- Exact to the microsecond: received_at < v_fence is the same test the Redis script makes.
  v_fence := timestamptz 'epoch' + (p_fence_us::text || ' microseconds')::interval;

  insert into public.realtime_reconcile_runs (read_at, settle_seconds, reason)
  values (v_fence, 0, coalesce(p_reason, 'scheduled'))
  returning run_id into v_run;

  -- Counts received before the cutoff (kept, whatever became of their raw rows since), then what
  -- was received from the cutoff to the fence: a scan of the last hour or so, not of every event.
  v_cutoff := raw_events.advance_realtime_count_cutoff(v_fence);
  if v_fence < v_cutoff then
    raise exception 'reconcile_realtime_totals: the fence % is before the count cutoff %: events received before the cutoff are only counted in total',
      v_fence, v_cutoff using errcode = '22023';
  end if;

  with counted as (
    select b.kind, b.subject_id, b.counter, b.events as expected
    from raw_events.realtime_counted_before b
    where case when b.kind = 'creator' then aggregation.user_exists(b.subject_id)
               else exists (select 1 from public.mashups m where m.id = b.subject_id) end
    union all
    select r.kind, r.subject_id, r.counter, r.events
    from raw_events.realtime_counts_received(v_cutoff, v_fence) r
  ),
  totals as (
    select 'mashup'::text as kind, t.mashup_id as subject_id, x.counter, x.total
    from public.mashup_realtime_totals t
    cross join lateral (values ('plays', t.plays), ('likes', t.likes), ('shares', t.shares),
                               ('comments', t.comments), ('downloads', t.downloads),
                               ('reactions', t.reactions)) as x (counter, total)
    union all
    select 'creator', c.creator_id, 'followers', c.followers from public.creator_realtime_totals c
  ),
  parsed as (
    select * from public.parse_realtime_counter_deltas(p_outstanding)
  ),
  outstanding as (
    -- Only deltas the sync would apply (an existing mashup or user): the others are dropped there.
    select p.kind, p.subject_id, p.counter, sum(p.delta) as delta
    from parsed p
    where (p.kind = 'mashup' and p.counter in ('plays', 'likes', 'shares', 'comments', 'downloads', 'reactions')
           and exists (select 1 from public.mashups m where m.id = p.subject_id))
       or (p.kind = 'creator' and p.counter = 'followers'
           and aggregation.user_exists(p.subject_id))
    group by 1, 2, 3
  ),
  -- One aggregation over the three sources, tagged (a union of their keys and three joins sorted
  -- and hashed 850k rows at 100,000 mashups).
  compared as (
    select u.kind, u.subject_id, u.counter,
           coalesce(sum(u.v) filter (where u.src = 'r'), 0)::bigint as expected,
           (coalesce(sum(u.v) filter (where u.src = 't'), 0) + coalesce(sum(u.v) filter (where u.src = 'o'), 0))::bigint as counted,
           0::bigint as uncertain
    from (select x.kind, x.subject_id, x.counter, x.expected::numeric as v, 'r' as src from counted x
          union all
          select t.kind, t.subject_id, t.counter, t.total::numeric, 't' from totals t
          union all
          select o.kind, o.subject_id, o.counter, o.delta::numeric, 'o' from outstanding o) u
    group by 1, 2, 3
  ),
  judged as (
    select c.*,
           c.expected - c.counted as repair
    from compared c
  ),
  logged as (
    insert into public.realtime_drift (run_id, subject_kind, subject_id, counter, expected, counted, uncertain, repaired)
    select v_run, j.kind, j.subject_id, j.counter, j.expected, j.counted, j.uncertain, j.repair
    from judged j where j.repair <> 0
    returning 1
  ),
  mashup_rows as (
    insert into public.mashup_realtime_totals as t
      (mashup_id, plays, likes, shares, comments, downloads, reactions, updated_at)
    select j.subject_id,
           coalesce(sum(j.repair) filter (where j.counter = 'plays'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'likes'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'shares'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'comments'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'downloads'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'reactions'), 0),
           now()
    from judged j
    where j.kind = 'mashup' and j.repair <> 0
    group by j.subject_id
    on conflict (mashup_id) do update set
      plays = t.plays + excluded.plays,
      likes = t.likes + excluded.likes,
      shares = t.shares + excluded.shares,
      comments = t.comments + excluded.comments,
      downloads = t.downloads + excluded.downloads,
      reactions = t.reactions + excluded.reactions,
      updated_at = excluded.updated_at
    returning 1
  ),
  creator_rows as (
    insert into public.creator_realtime_totals as t (creator_id, followers, updated_at)
    select j.subject_id, sum(j.repair), now()
    from judged j
    where j.kind = 'creator' and j.repair <> 0
    group by j.subject_id
    on conflict (creator_id) do update set
      followers = t.followers + excluded.followers,
      updated_at = excluded.updated_at
    returning 1
  )
  select jsonb_build_object(
           'run_id', v_run,
           'counters_checked', count(*),
           'counters_repaired', count(*) filter (where j.repair <> 0),
           'increments_repaired', coalesce(sum(j.repair), 0),
           'counters_uncertain', count(*) filter (where j.expected <> j.counted + j.repair))
  into v_result
  from judged j;

  update public.realtime_reconcile_runs r
  set counters_checked = (v_result ->> 'counters_checked')::integer,
      counters_repaired = (v_result ->> 'counters_repaired')::integer,
      increments_repaired = (v_result ->> 'increments_repaired')::bigint,
      counters_uncertain = (v_result ->> 'counters_uncertain')::integer
  where r.run_id = v_run;

  return v_result;
end;
$$;
