-- The hourly reconciliation of the live totals scans what arrived since a cutoff, not every raw
-- event (outside audit of a hosted project, 2026-11-27, finding M1).
--
-- public.reconcile_realtime_totals counted every stored raw event of the counted types in one
-- grouped scan: ~80 ms at 90k raw events, about 9 s at 10M. Hosted Supabase stops the Data API's
-- statements at 8 s (authenticator's statement_timeout), the service role's too, and the realtime
-- sync calls the reconciliation through it: at the issue's 10M events it would fail every hour.
--
-- Now the counts of events received before a cutoff are kept in raw_events.realtime_counted_before
-- (per live counter and subject, for existing mashups and users), the way the counts of removed
-- events already were (20261127001500), and the reconciliation expects
--   realtime_counted_before + events received in [cutoff, fence) + kept counts of removed events
--   received in [cutoff, fence).
-- Each reconciliation first moves the cutoff to an hour before the fence (or the clock, if
-- earlier), adding what was received in between: the scan is the last hour, through the BRIN index
-- on received_at. The hour is room for transactions still open: a row is counted by the cutoff's
-- move only once committed.
--
-- What keeps the kept counts exact:
-- - an event counted before the cutoff stays counted whatever happens to its raw row (erasure,
--   retention), as the live totals are lifetime counts; removed counts before the cutoff are then
--   ignored (they are already in);
-- - a row written with a received_at before the cutoff (a seed, a restore, a test; never ingest,
--   which stamps the receive time) is added by a statement trigger on insert, and an UPDATE that
--   moves rows across the cutoff (the demo data's re-anchoring) by one on update, both under the
--   cutoff row's lock so a concurrent move of the cutoff cannot miss them;
-- - the erasure of an id removes what was kept toward it as a creator, as before;
-- - the daily maintenance moves the cutoff before it merges old removed counts, and forgets the
--   counts of deleted mashups and users;
-- - a fence before the cutoff (a caller's clock more than an hour behind) is refused (22023).
-- The migration counts everything received before its own cutoff once (one scan, outside the API).

create table raw_events.realtime_count_cutoff (
  singleton boolean primary key default true check (singleton),
  received_before timestamptz not null
);
comment on table raw_events.realtime_count_cutoff is
  'One row: events received before this are counted in realtime_counted_before.';
alter table raw_events.realtime_count_cutoff enable row level security;
revoke all on raw_events.realtime_count_cutoff from public, anon, authenticated;
grant select, update on raw_events.realtime_count_cutoff to service_role;
insert into raw_events.realtime_count_cutoff (received_before) values ('-infinity');

create table raw_events.realtime_counted_before (
  kind text not null check (kind in ('mashup', 'creator')),
  subject_id uuid not null,
  counter text not null,
  events bigint not null,
  primary key (kind, subject_id, counter)
);
comment on table raw_events.realtime_counted_before is
  'Counted events received before raw_events.realtime_count_cutoff, per live counter and subject, '
  'whether their raw rows are still stored or not. The reconciliation adds what was received since.';
alter table raw_events.realtime_counted_before enable row level security;
revoke all on raw_events.realtime_counted_before from public, anon, authenticated;
grant select, insert, update, delete on raw_events.realtime_counted_before to service_role;

-- Counted events received in [p_from, p_to): stored raw rows and the kept counts of removed ones,
-- toward existing mashups and users (what the reconciliation compares).
create function raw_events.realtime_counts_received(p_from timestamptz, p_to timestamptz)
returns table (kind text, subject_id uuid, counter text, events bigint)
language sql
stable
set search_path = ''
as $$
  select k.kind, k.subject_id, k.counter, sum(k.events)::bigint
  from (
    select case when c.counter = 'followers' then 'creator' else 'mashup' end as kind,
           raw_events.realtime_subject(c.counter, e.mashup_id, e.properties) as subject_id, c.counter,
           count(*) as events
    from raw_events.analytics_events e
    cross join lateral (select raw_events.realtime_counter(raw_events.event_type(e.event_code, e.event_name)) as counter) c
    where e.received_at >= p_from and e.received_at < p_to and c.counter is not null
    group by 1, 2, 3
    union all
    select r.kind, r.subject_id, r.counter, r.events
    from raw_events.removed_realtime_counts r
    where r.received_at >= p_from and r.received_at < p_to
  ) k
  where k.subject_id is not null
    and case when k.kind = 'creator' then aggregation.user_exists(k.subject_id)
             else exists (select 1 from public.mashups m where m.id = k.subject_id) end
  group by 1, 2, 3
$$;
comment on function raw_events.realtime_counts_received(timestamptz, timestamptz) is
  'Counted events received in [p_from, p_to), stored or removed, per live counter and existing subject.';
revoke all on function raw_events.realtime_counts_received(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function raw_events.realtime_counts_received(timestamptz, timestamptz) to service_role;

-- Moves the cutoff to an hour before p_to (at most the clock), adding what was received in between.
create function raw_events.advance_realtime_count_cutoff(p_to timestamptz)
returns timestamptz
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_from timestamptz;
  v_to timestamptz := least(p_to, clock_timestamp()) - interval '1 hour';
begin
  -- The lock orders this with the triggers below: a late row's writer holds it until commit, so
  -- the count after it sees that row (each statement of a function takes a new snapshot).
  select c.received_before into v_from from raw_events.realtime_count_cutoff c for update;
  if v_to <= v_from then
    return v_from;
  end if;
  insert into raw_events.realtime_counted_before as b (kind, subject_id, counter, events)
  select r.kind, r.subject_id, r.counter, r.events
  from raw_events.realtime_counts_received(v_from, v_to) r
  on conflict (kind, subject_id, counter) do update set events = b.events + excluded.events;
  update raw_events.realtime_count_cutoff c set received_before = v_to where c.singleton;
  return v_to;
end;
$$;
comment on function raw_events.advance_realtime_count_cutoff(timestamptz) is
  'Moves the live-count cutoff to an hour before p_to (or the clock), counting what was received in between.';
revoke all on function raw_events.advance_realtime_count_cutoff(timestamptz) from public, anon, authenticated;
grant execute on function raw_events.advance_realtime_count_cutoff(timestamptz) to service_role;

-- Rows written with a received_at before the cutoff, or moved across it. Ingest stamps the receive
-- time, so its batches only pay a pass over their own rows; the lock is taken only when a row is
-- older than half an hour by the clock (the cutoff is at least an hour old when it moves).
create function raw_events.count_late_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_cutoff timestamptz;
begin
  if not exists (select 1 from new_rows r where r.received_at < clock_timestamp() - interval '30 minutes') then
    return null;
  end if;
  select c.received_before into v_cutoff from raw_events.realtime_count_cutoff c for update;
  insert into raw_events.realtime_counted_before as b (kind, subject_id, counter, events)
  select k.kind, k.subject_id, k.counter, count(*)
  from (select case when c.counter = 'followers' then 'creator' else 'mashup' end as kind,
               raw_events.realtime_subject(c.counter, r.mashup_id, r.properties) as subject_id, c.counter
        from new_rows r
        cross join lateral (select raw_events.realtime_counter(raw_events.event_type(r.event_code, r.event_name)) as counter) c
        where r.received_at < v_cutoff and c.counter is not null) k
  where k.subject_id is not null
    and case when k.kind = 'creator' then aggregation.user_exists(k.subject_id)
             else exists (select 1 from public.mashups m where m.id = k.subject_id) end
  group by 1, 2, 3
  on conflict (kind, subject_id, counter) do update set events = b.events + excluded.events;
  return null;
end;
$$;
comment on function raw_events.count_late_events() is
  'Statement trigger: raw events inserted with a received_at before the live-count cutoff are counted there.';

create trigger analytics_events_count_late
  after insert on raw_events.analytics_events
  referencing new table as new_rows
  for each statement execute function raw_events.count_late_events();

create function raw_events.recount_moved_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_cutoff timestamptz;
begin
  if not exists (select 1 from old_rows r where r.received_at < clock_timestamp() - interval '30 minutes')
     and not exists (select 1 from new_rows r where r.received_at < clock_timestamp() - interval '30 minutes') then
    return null;
  end if;
  select c.received_before into v_cutoff from raw_events.realtime_count_cutoff c for update;
  -- Before the update a row counted here if received before the cutoff; after it, the same test.
  insert into raw_events.realtime_counted_before as b (kind, subject_id, counter, events)
  select k.kind, k.subject_id, k.counter, sum(k.sign)
  from (select case when c.counter = 'followers' then 'creator' else 'mashup' end as kind,
               raw_events.realtime_subject(c.counter, x.mashup_id, x.properties) as subject_id, c.counter, x.sign
        from (select o.event_code, o.event_name, o.mashup_id, o.properties, -1 as sign from old_rows o
              where o.received_at < v_cutoff
              union all
              select n.event_code, n.event_name, n.mashup_id, n.properties, 1 from new_rows n
              where n.received_at < v_cutoff) x
        cross join lateral (select raw_events.realtime_counter(raw_events.event_type(x.event_code, x.event_name)) as counter) c
        where c.counter is not null) k
  where k.subject_id is not null
    and case when k.kind = 'creator' then aggregation.user_exists(k.subject_id)
             else exists (select 1 from public.mashups m where m.id = k.subject_id) end
  group by 1, 2, 3
  having sum(k.sign) <> 0
  on conflict (kind, subject_id, counter) do update set events = b.events + excluded.events;
  return null;
end;
$$;
comment on function raw_events.recount_moved_events() is
  'Statement trigger: an UPDATE of raw events that moves rows across the live-count cutoff moves their counts.';

create trigger analytics_events_recount_moved
  after update on raw_events.analytics_events
  referencing old table as old_rows new table as new_rows
  for each statement execute function raw_events.recount_moved_events();

-- The daily maintenance moves the cutoff first (so no removed count it merges is after it) and
-- forgets the kept counts of deleted mashups and users.
create or replace function raw_events.maintain(p_now timestamptz default now())
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_created integer := raw_events.ensure_partitions(p_now);
  v_dropped integer;
begin
  if v_created > 0 then
    insert into raw_events.maintenance_log (action, partitions) values ('created', v_created);
  end if;
  perform raw_events.advance_realtime_count_cutoff(p_now);
  v_dropped := raw_events.drop_expired(p_now);
  delete from raw_events.realtime_counted_before b
  where case when b.kind = 'creator' then not aggregation.user_exists(b.subject_id)
             else not exists (select 1 from public.mashups m where m.id = b.subject_id) end;
  return jsonb_build_object('created', v_created, 'dropped', v_dropped);
end;
$$;

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
  raw as (
    select kind, subject_id, counter, sum(expected)::bigint as expected, 0::bigint as uncertain
    from counted x
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
           and aggregation.user_exists(p.subject_id))
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

create or replace function public.erase_listener(p_user_id uuid DEFAULT NULL::uuid, p_anonymous_id text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $$
declare
  v_id text := coalesce(p_user_id::text, p_anonymous_id);
  v_key text := case when p_user_id is not null then 'u:' || p_user_id::text else 'a:' || p_anonymous_id end;
  -- The id as a uuid when its text is canonical (a user id always is): it may sit in a uuid column.
  v_uuid uuid := case when v_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_id::uuid end;
  v_events bigint;
  v_mentions bigint;
  v_bots bigint;
  v_listeners bigint;
  v_ids uuid[];
begin
  if (p_user_id is null) = (p_anonymous_id is null) or p_anonymous_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id or p_anonymous_id'
      using errcode = '22023';
  end if;

  with gone as (
    delete from raw_events.analytics_events e
    where (p_user_id is not null and e.user_id = p_user_id)
       or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id)
    returning e.id
  )
  select count(*), coalesce(array_agg(gone.id), '{}') into v_events, v_ids from gone;

  -- Mentions inside properties (any key, any depth): a text search over the JSON, then exact.
  -- A mashup_id or play_id lifted out of properties (canonical lower-case uuid text) mentions the id
  -- exactly when its uuid equals it; one that stayed in the jsonb is found there.
  with gone as (
    delete from raw_events.analytics_events e
    where (v_uuid is not null and (e.play_id = v_uuid or (e.mashup_id = v_uuid and not (e.properties ? 'mashup_id'))))
       or (strpos(e.properties::text, v_id) > 0
           and jsonb_path_exists(e.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id)))
    returning e.id
  )
  select count(*), v_ids || coalesce(array_agg(gone.id), '{}') into v_mentions, v_ids from gone;

  delete from public.analytics_bot_events b
  where strpos(b.properties::text, v_id) > 0
    and jsonb_path_exists(b.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id));
  get diagnostics v_bots = row_count;

  update public.mashup_listeners ml
  set listener_key = 'x:' || gen_random_uuid()::text
  where ml.listener_key = v_key;
  get diagnostics v_listeners = row_count;
  -- The fold's own copies of listener identities (issue 10): anonymised or dropped the same way.
  perform aggregation.forget_listener(v_key, p_user_id);
  -- Every deleted event still waiting in the queue goes too, whoever's listener key it has (an
  -- event with a user id and the erased anonymous id is keyed by the user; one naming the id in its
  -- properties is another listener's): a raw event that is gone is never counted afterwards.
  perform aggregation.forget_events(v_ids);
  -- The live totals keep the counts of the deleted events (raw_events.keep_removed_realtime_counts),
  -- except those counted toward the erased id as a creator: follow events naming them, deleted above
  -- as mentions. Those counts name the id, so they go, and its follow-event ledger stops counting them.
  if v_uuid is not null then
    delete from raw_events.removed_realtime_counts k where k.kind = 'creator' and k.subject_id = v_uuid;
    delete from raw_events.realtime_counted_before b where b.kind = 'creator' and b.subject_id = v_uuid;
  end if;

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' else 'anonymous_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;

comment on function public.reconcile_realtime_totals(jsonb, bigint, text) is
  'Compares realtime totals (+ outstanding Redis deltas) with the counted events received before the fence '
  '(the counts kept before the cutoff, which it first moves to an hour before the fence, + what was received '
  'since, stored or removed); repairs the difference.';

-- Everything received before the first cutoff, counted once (outside the API's statement timeout).
select raw_events.advance_realtime_count_cutoff(now()) is not null as counted;
