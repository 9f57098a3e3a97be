-- Reconciliation: the realtime totals against counts from raw events, drift repaired and recorded.
--
-- Why drift can exist at all: the track function stores an event, then increments Redis. If Redis
-- is down at that moment, or is flushed / restarted without its data before the next sync, those
-- increments never reach the totals; the raw events are the truth they are repaired from.
--
-- How it stays exact while events keep arriving: the realtime-sync function takes a Redis lock
-- (no sync can move or apply a batch until this commits), checks no sync batch is pending, reads
-- every outstanding Redis delta at p_read_at and only then calls this function, whose single
-- statement sees one snapshot. For each counter:
--   expected  = raw events counted toward it (all time)
--   counted   = synced total + outstanding delta in Redis at p_read_at
--   uncertain = raw events received after p_read_at - p_settle_seconds: their Redis increment may
--               still have been on its way (track increments right after storing)
--   measured  = expected - counted = true drift + (in-flight increments, between 0 and uncertain)
-- so the true drift lies in [measured - uncertain, measured]. The repair is the part that is
-- certain: measured - uncertain when that is positive (increments surely lost), measured when it
-- is negative (surely counted twice), else nothing. Quiet counters (uncertain = 0) are repaired
-- exactly; a busy one never by more than its drift, and the rest at a later run.

create table public.realtime_reconcile_runs (
  run_id uuid primary key default gen_random_uuid(),
  started_at timestamptz not null default now(),
  read_at timestamptz not null,
  settle_seconds integer not null,
  reason text not null default 'scheduled',
  counters_checked integer not null default 0,
  counters_repaired integer not null default 0,
  increments_repaired bigint not null default 0,
  -- Counters whose drift could not be settled this run (raw events inside the settle window).
  counters_uncertain integer not null default 0
);
comment on table public.realtime_reconcile_runs is 'One row per reconciliation of the realtime totals.';

create table public.realtime_drift (
  id bigint generated always as identity primary key,
  run_id uuid not null references public.realtime_reconcile_runs (run_id) on delete cascade,
  detected_at timestamptz not null default now(),
  subject_kind text not null check (subject_kind in ('mashup', 'creator')),
  subject_id uuid not null,
  counter text not null,
  expected bigint not null,
  counted bigint not null,
  uncertain bigint not null,
  repaired bigint not null
);
comment on table public.realtime_drift is
  'Counters found off their raw-event count, and the correction applied (expected - counted, '
  'less what may still have been in flight).';
create index realtime_drift_subject_idx on public.realtime_drift (subject_id, detected_at);

alter table public.realtime_reconcile_runs enable row level security;
alter table public.realtime_drift enable row level security;
revoke all on public.realtime_reconcile_runs, public.realtime_drift from anon, authenticated;

create function public.reconcile_realtime_totals(
  p_outstanding jsonb,
  p_read_at timestamptz,
  p_settle_seconds integer default 60,
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
begin
  if p_outstanding is null or jsonb_typeof(p_outstanding) <> 'object' or p_read_at is null
     or p_settle_seconds is null or p_settle_seconds < 0 then
    raise exception 'reconcile_realtime_totals: outstanding deltas (object), read time and settle seconds >= 0 are required'
      using errcode = '22023';
  end if;

  insert into public.realtime_reconcile_runs (read_at, settle_seconds, reason)
  values (p_read_at, p_settle_seconds, coalesce(p_reason, 'scheduled'))
  returning run_id into v_run;

  with raw as (
    select 'mashup'::text as kind, e.mashup_id as subject_id,
           case e.event_type
             when 'mashup_played' then 'plays' when 'mashup_liked' then 'likes'
             when 'mashup_shared' then 'shares' when 'comment_posted' then 'comments'
             when 'mashup_exported' then 'downloads' when 'ai_reaction' then 'reactions'
           end as counter,
           count(*) as expected,
           count(*) filter (where e.received_at > p_read_at - make_interval(secs => p_settle_seconds)) as uncertain
    from public.analytics_events e
    join public.mashups m on m.id = e.mashup_id
    where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted',
                           'mashup_exported', 'ai_reaction')
    group by 1, 2, 3
    union all
    select 'creator', u.id, 'followers', count(*),
           count(*) filter (where e.received_at > p_read_at - make_interval(secs => p_settle_seconds))
    from public.analytics_events e
    join auth.users u on u.id::text = lower(e.properties ->> 'creator_id')
    where e.event_type = 'user_followed'
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
           case when c.expected - c.counted > c.uncertain then c.expected - c.counted - c.uncertain
                when c.expected - c.counted < 0 then c.expected - c.counted
                else 0 end as repair
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
comment on function public.reconcile_realtime_totals(jsonb, timestamptz, integer, text) is
  'Compares realtime totals (+ outstanding Redis deltas) with raw-event counts; repairs certain drift.';

revoke execute on function public.reconcile_realtime_totals(jsonb, timestamptz, integer, text)
  from public, anon, authenticated;
