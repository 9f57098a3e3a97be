-- The live totals outlive the raw events they counted.
--
-- mashup_realtime_totals and creator_realtime_totals are lifetime counts, and docs/raw-storage.md
-- promises that erasure and retention leave aggregate counts alone. But the hourly reconciliation
-- (reconcile_realtime_totals) expected exactly the raw events still stored: the first run after an
-- erasure, or after retention dropped a month, "repaired" every total down by the events that had
-- left (tests/sql/67_realtime_totals_outlive_raw_events).
--
-- Now every counted event that leaves raw storage leaves its count behind, in
-- raw_events.removed_realtime_counts, and the reconciliation expects raw events + those counts:
--   * a DELETE of raw events (erasure, or anything else): a statement trigger with the deleted rows;
--   * a dropped month (raw_events.drop_expired): the month's counts, just before the drop.
-- Each count keeps when its events were received, because the reconciliation only expects events
-- received before its fence. Counts older than a day are merged into one row per counter
-- (received_at = '-infinity': before any fence) by the daily maintenance, so the table holds one
-- row per counter plus a day of erasures.
-- erase_listener removes the counts kept for the erased id as a creator: those are follow events
-- that name them (the erasure deletes every event naming the id), so their follow-event ledger no
-- longer counts them, and no row of ours names them.
-- Events removed before this migration are not in the table: a reconciliation since then has
-- already taken them out of the totals.

-- Which live counter an event type counts toward: one definition for the reconciliation, the
-- trigger and the drop (the record script in functions/_shared/realtime.ts is its TypeScript twin).
-- Not SET search_path, like raw_events.event_type: a SQL function with SET is never inlined, and the
-- reconciliation reads every stored event through it. Neither helper names anything outside itself.
create function raw_events.realtime_counter(p_event_type text)
returns text
language sql
immutable
parallel safe
as $$
  select case p_event_type
    when 'mashup_played' then 'plays' when 'mashup_liked' then 'likes'
    when 'mashup_shared' then 'shares' when 'comment_posted' then 'comments'
    when 'mashup_exported' then 'downloads' when 'ai_reaction' then 'reactions'
    when 'user_followed' then 'followers'
  end
$$;
comment on function raw_events.realtime_counter(text) is
  'The live counter an event type counts toward (plays ... reactions of its mashup; followers of the '
  'creator in properties.creator_id), or null.';

-- The subject an event counts toward: its mashup, or for a follow the creator followed (a uuid in
-- any case, as the reconciliation has always compared it: lower(text)).
create function raw_events.realtime_subject(p_counter text, p_mashup_id uuid, p_properties jsonb)
returns uuid
language sql
immutable
parallel safe
as $$
  select case
    when p_counter is null then null
    when p_counter <> 'followers' then p_mashup_id
    when lower(p_properties ->> 'creator_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then lower(p_properties ->> 'creator_id')::uuid
  end
$$;
comment on function raw_events.realtime_subject(text, uuid, jsonb) is
  'The mashup (or, for followers, the creator) a counted event counts toward; null if none.';

create table raw_events.removed_realtime_counts (
  kind text not null check (kind in ('mashup', 'creator')),
  subject_id uuid not null,
  counter text not null,
  received_at timestamptz not null,
  events bigint not null check (events > 0),
  primary key (kind, subject_id, counter, received_at)
);
comment on table raw_events.removed_realtime_counts is
  'Counted events that left raw storage (erased, or in a dropped month), per live counter and time '
  'received (''-infinity'': merged, older than a day). The reconciliation expects raw events + these.';
revoke all on raw_events.removed_realtime_counts from public, anon, authenticated;
grant select, insert, update, delete on raw_events.removed_realtime_counts to service_role;

-- Deleted raw events: their counts stay (one row per counter and received_at; a batch shares one).
create function raw_events.keep_removed_realtime_counts()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
  select case when c.counter = 'followers' then 'creator' else 'mashup' end, c.subject_id, c.counter,
         c.received_at, count(*)
  from (select raw_events.realtime_counter(raw_events.event_type(r.event_code, r.event_name)) as counter,
               r.mashup_id, r.properties, r.received_at
        from removed r) e
  cross join lateral (select e.counter, raw_events.realtime_subject(e.counter, e.mashup_id, e.properties) as subject_id,
                             e.received_at) c
  where c.subject_id is not null
    -- Only what the reconciliation counts: an existing mashup, an existing user.
    and (case when c.counter = 'followers'
              then exists (select 1 from auth.users u where u.id = c.subject_id)
              else exists (select 1 from public.mashups m where m.id = c.subject_id) end)
  group by 1, 2, 3, 4
  on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events;
  return null;
end;
$$;
comment on function raw_events.keep_removed_realtime_counts() is
  'Statement trigger: deleted raw events leave their live-counter counts in removed_realtime_counts.';

create trigger keep_removed_realtime_counts
  after delete on raw_events.analytics_events
  referencing old table as removed
  for each statement execute function raw_events.keep_removed_realtime_counts();

-- The reconciliation expects raw events received before the fence plus the kept counts of events
-- received before it. Otherwise as in 20261126045100.
create or replace function public.reconcile_realtime_totals(
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

  with stored as (
    select 'mashup'::text as kind, e.mashup_id as subject_id,
           raw_events.realtime_counter(e.event_type) as counter,
           count(*) as expected
    from public.analytics_events e
    join public.mashups m on m.id = e.mashup_id
    where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted',
                           'mashup_exported', 'ai_reaction')
      and e.received_at < v_fence
    group by 1, 2, 3
    union all
    select 'creator', u.id, 'followers', count(*)
    from public.analytics_events e
    join auth.users u on u.id::text = lower(e.properties ->> 'creator_id')
    where e.event_type = 'user_followed' and e.received_at < v_fence
    group by 1, 2, 3
  ),
  removed as (
    -- Counted events no longer stored (erased, or in a dropped month): their counts stay.
    select k.kind, k.subject_id, k.counter, sum(k.events) as expected
    from raw_events.removed_realtime_counts k
    where k.received_at < v_fence
      and (case when k.kind = 'creator'
                then exists (select 1 from auth.users u where u.id = k.subject_id)
                else exists (select 1 from public.mashups m where m.id = k.subject_id) end)
    group by 1, 2, 3
  ),
  raw as (
    select kind, subject_id, counter, sum(expected)::bigint as expected, 0::bigint as uncertain
    from (select * from stored union all select * from removed) x
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
  'Compares realtime totals (+ outstanding Redis deltas) with the counted events received before the fence '
  '(stored raw events + the counts kept of removed ones); repairs the difference.';

-- A dropped month leaves its counts (one row per counter, at its latest received_at), and the
-- counts older than a day are merged, one row per counter. Otherwise as in 20261126110000.
create or replace function raw_events.drop_expired(p_now timestamptz default now())
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_horizon timestamptz := raw_events.horizon(p_now);
  v_month date;
  v_month_end timestamptz;
  v_final date[] := '{}'::date[];
  v_part text;
  v_ids bigint;
  v_n bigint;
  v_parts integer;
  v_dropped integer := 0;
begin
  -- Decide every month first, then drop: a check must not run on a plan that saw a dropped partition.
  for v_month in
    select distinct to_date(right(c.relname, 6), 'YYYYMM')
    from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('raw_events.analytics_events'::regclass, 'public.analytics_bot_events'::regclass)
      and c.relnamespace = 'raw_events'::regnamespace and c.relname ~ '_p[0-9]{6}$'
    order by 1
  loop
    v_month_end := (v_month + interval '1 month')::timestamp at time zone 'UTC';
    continue when v_month_end > v_horizon;
    if raw_events.rollups_final(v_month_end) then
      v_final := v_final || v_month;
    else
      insert into raw_events.maintenance_log (action, month, detail)
      values ('kept', v_month, 'past the horizon, but its rollups are not final yet');
    end if;
  end loop;

  foreach v_month in array v_final loop
    v_parts := 0;
    v_ids := 0;
    foreach v_part in array array['analytics_events', 'analytics_bot_events'] loop
      v_part := v_part || '_p' || to_char(v_month, 'YYYYMM');
      if to_regclass('raw_events.' || v_part) is not null then
        -- The live totals keep counting the month's events (DROP fires no delete trigger).
        if v_part like 'analytics_events_%' then
          execute format($sql$
            insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
            select case when c.counter = 'followers' then 'creator' else 'mashup' end, c.subject_id, c.counter,
                   max(c.received_at), count(*)
            from (select raw_events.realtime_counter(raw_events.event_type(e.event_code, e.event_name)) as counter,
                         e.mashup_id, e.properties, e.received_at
                  from raw_events.%I e) x
            cross join lateral (select x.counter, raw_events.realtime_subject(x.counter, x.mashup_id, x.properties) as subject_id,
                                       x.received_at) c
            where c.subject_id is not null
              and (case when c.counter = 'followers'
                        then exists (select 1 from auth.users u where u.id = c.subject_id)
                        else exists (select 1 from public.mashups m where m.id = c.subject_id) end)
            group by 1, 2, 3
            on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events
          $sql$, v_part);
        end if;
        -- The month's ids first, by its own rows (no event of a dropped month can come back: the
        -- horizon refuses it).
        execute format('delete from public.analytics_event_ids i using raw_events.%I e where i.id = e.id', v_part);
        get diagnostics v_n = row_count;
        v_ids := v_ids + v_n;
        execute format('drop table raw_events.%I', v_part);
        v_parts := v_parts + 1;
      end if;
    end loop;
    insert into raw_events.maintenance_log (action, month, partitions, event_ids_deleted, detail)
    values ('dropped', v_month, v_parts, v_ids, 'past the horizon ' || v_horizon || ' and final');
    v_dropped := v_dropped + v_parts;
  end loop;

  -- Kept counts older than a day are before any fence (a fence is at least the reconciling
  -- caller's clock): merged into one row per counter; those of deleted mashups and users go.
  with merged as (
    delete from raw_events.removed_realtime_counts k
    where k.received_at > '-infinity' and k.received_at < now() - interval '1 day'
    returning k.kind, k.subject_id, k.counter, k.events
  )
  insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
  select m.kind, m.subject_id, m.counter, '-infinity', sum(m.events)
  from merged m
  group by 1, 2, 3
  on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events;
  delete from raw_events.removed_realtime_counts k
  where case when k.kind = 'creator'
             then not exists (select 1 from auth.users u where u.id = k.subject_id)
             else not exists (select 1 from public.mashups m where m.id = k.subject_id) end;
  return v_dropped;
end;
$$;

-- Erasure: as in 20261126180300, and the counts kept of follow events naming the erased id go.
create or replace function public.erase_listener(p_user_id uuid default null, p_anonymous_id text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
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
  end if;

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' else 'anonymous_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;
