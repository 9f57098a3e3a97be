-- Reconciliation with a fence: exact repairs while events keep arriving (issue 13 item 10).
--
-- The version in 20261125120200 could not tell an increment still on its way from one that was
-- lost, so it left every counter with recent raw events alone ("uncertain"): under steady load,
-- right after a Redis wipe, it repaired nothing. Now the realtime-sync function first runs one
-- Redis script that (atomically, under sync:lock, with no batch pending):
--   * picks the fence F (epoch µs): later than the received_at of every increment Redis has
--     counted (member r of rt:platform:recent) and than the database's clock a moment before;
--   * stores it in rt:fence: from then on the record script refuses the increments of events
--     received before F (their event is in the comparison below, counted from Postgres);
--   * reads every outstanding counter delta.
-- Then, in this one statement (one snapshot), for every counter:
--   expected = raw events counted toward it with received_at < F
--   counted  = synced total + outstanding Redis delta
-- and expected - counted is the drift exactly, because every increment in `counted` belongs to an
-- event received before F (Redis had it before F was picked) and every event received before F is
-- either counted or will never be (refused). The repair is expected - counted, both ways. An event
-- received before F but committed after this snapshot is neither in `expected` nor counted (its
-- increment is refused): the next run repairs it. `uncertain` is kept in the tables, always 0.

drop function public.reconcile_realtime_totals(jsonb, timestamptz, integer, text);

create function public.reconcile_realtime_totals(
  p_outstanding jsonb,
  p_fence_us bigint,
  p_reason text default 'scheduled'
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_run uuid;
  v_result jsonb;
  v_fence timestamptz;
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

  with raw as (
    select 'mashup'::text as kind, e.mashup_id as subject_id,
           case e.event_type
             when 'mashup_played' then 'plays' when 'mashup_liked' then 'likes'
             when 'mashup_shared' then 'shares' when 'comment_posted' then 'comments'
             when 'mashup_exported' then 'downloads' when 'ai_reaction' then 'reactions'
           end as counter,
           count(*) as expected,
           0::bigint as uncertain
    from public.analytics_events e
    join public.mashups m on m.id = e.mashup_id
    where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted',
                           'mashup_exported', 'ai_reaction')
      and e.received_at < v_fence
    group by 1, 2, 3
    union all
    select 'creator', u.id, 'followers', count(*),
           0::bigint
    from public.analytics_events e
    join auth.users u on u.id::text = lower(e.properties ->> 'creator_id')
    where e.event_type = 'user_followed' and e.received_at < v_fence
    group by 1, 2, 3
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
           and exists (select 1 from auth.users u where u.id = p.subject_id))
    group by 1, 2, 3
  ),
  compared as (
    select k.kind, k.subject_id, k.counter,
           coalesce(r.expected, 0) as expected,
           coalesce(t.total, 0) + coalesce(o.delta, 0) as counted,
           coalesce(r.uncertain, 0) as uncertain
    from (select kind, subject_id, counter from raw
          union select kind, subject_id, counter from totals
          union select kind, subject_id, counter from outstanding) k
    left join raw r using (kind, subject_id, counter)
    left join totals t using (kind, subject_id, counter)
    left join outstanding o using (kind, subject_id, counter)
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
comment on function public.reconcile_realtime_totals(jsonb, bigint, text) is
  'Compares realtime totals (+ outstanding Redis deltas) with raw events received before the fence; repairs the difference.';

revoke execute on function public.reconcile_realtime_totals(jsonb, bigint, text) from public, anon, authenticated;
grant execute on function public.reconcile_realtime_totals(jsonb, bigint, text) to service_role;
