-- One listener set instead of two: lifetime unique listeners from the day set.
--
-- A run inserted each new listener twice: into the day set (aggregation.mashup_daily_listeners,
-- (date, mashup, listener)) and into the lifetime set (public.mashup_listeners, (mashup, listener),
-- with first_played_at), each a heap row, a B-tree entry and a speculative insertion, plus an
-- UPDATE pass probing every batch listener for an earlier first play. On a ~50k-event run with every
-- play new, the two sets were 30 % of the run (docs/benchmarks.md).
--
-- Now the day set alone: a (mashup, listener) pair is new to the mashup's lifetime when the day set
-- had no row for it, on any day, before the run: an index on (mashup_id, listener_key) answers that
-- in the same statement that inserts the day rows (its snapshot does not see them). The lifetime
-- count (mashup_lifetime_stats.unique_plays) grows by those pairs, as before; the day counts by the
-- rows inserted, as before. Nothing served read public.mashup_listeners (service role only; its
-- first_played_at was in no response), so it goes.
--
-- Pairs the lifetime set held without any day row (days whose raw events a retention dropped
-- before the day set existed) get a day row on their first play's day first, so those listeners
-- stay known. Anonymised rows ('x:' keys, erasure) are never matched again and are left out.

create index mashup_daily_listeners_mashup_listener_idx
  on aggregation.mashup_daily_listeners (mashup_id, listener_key);

insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
select (l.first_played_at at time zone 'UTC')::date, l.mashup_id, l.listener_key
from public.mashup_listeners l
where l.listener_key not like 'x:%'
  and not exists (select 1 from aggregation.mashup_daily_listeners d
                  where d.mashup_id = l.mashup_id and d.listener_key = l.listener_key)
on conflict do nothing;

create or replace function aggregation.fold_listeners()
returns bigint
language plpgsql
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  v_days bigint;
  v_lifetime bigint;
begin
  with l as (
    select distinct (b."timestamp" at time zone 'UTC')::date as date, b.mashup_id, b.listener_key
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and b.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  ),
  ins as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select l.date, l.mashup_id, l.listener_key from l
    on conflict do nothing
    returning date, mashup_id, listener_key
  ),
  day_deltas as (
    insert into aggregation.fold_daily_listener_deltas (mashup_id, date, listeners)
    select ins.mashup_id, ins.date, count(*)::integer from ins group by 1, 2
    returning 1
  ),
  -- New to the mashup's lifetime: a pair with no day row before this statement (its snapshot does
  -- not see the rows `ins` adds). A listener seen before, on any day, counts nothing here.
  first_heard as (
    select distinct i.mashup_id, i.listener_key from ins i
    where not exists (select 1 from aggregation.mashup_daily_listeners d
                      where d.mashup_id = i.mashup_id and d.listener_key = i.listener_key)
  ),
  lifetime_deltas as (
    insert into aggregation.fold_lifetime_listener_deltas (mashup_id, listeners)
    select f.mashup_id, count(*)::integer from first_heard f group by 1
    returning 1
  )
  select (select count(*) from day_deltas), (select count(*) from lifetime_deltas) into v_days, v_lifetime;
  return v_days + v_lifetime;
end;
$$;

-- The recompute path of the first rollups (before the fold); nothing calls it since
-- 20261126020000, and it wrote the lifetime set.
drop function if exists aggregation.fold_listeners(timestamptz, timestamptz, timestamptz, timestamptz);
drop function if exists aggregation.recompute_lifetime(uuid[]);

CREATE OR REPLACE FUNCTION aggregation.delete_mashup_rollups()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_ids uuid[];
  v_times timestamptz[];
  v_days date[];
begin
  -- The creator's buckets, minus the mashups' buckets; rows left at zero go.
  with d as (
    select g.creator_id, q.bucket_start, sum(q.plays)::integer as plays, sum(q.likes)::integer as likes,
           sum(q.shares)::integer as shares
    from gone g join public.mashup_quarter_hour_stats q on q.mashup_id = g.id
    group by 1, 2
  ),
  up as (
    update public.creator_quarter_hour_stats t
    set plays = t.plays - d.plays, likes = t.likes - d.likes, shares = t.shares - d.shares
    from d
    where t.creator_id = d.creator_id and t.bucket_start = d.bucket_start
    returning t.creator_id, t.bucket_start, (t.plays = 0 and t.likes = 0 and t.shares = 0) as zero
  )
  select array_agg(up.creator_id) filter (where up.zero), array_agg(up.bucket_start) filter (where up.zero)
  into v_ids, v_times from up;
  if v_ids is not null then
    delete from public.creator_quarter_hour_stats t using unnest(v_ids, v_times) as k (id, at)
    where t.creator_id = k.id and t.bucket_start = k.at and t.plays = 0 and t.likes = 0 and t.shares = 0;
  end if;

  -- The creator's UTC-day breakdowns, minus the mashups' bucket breakdowns of those days.
  with d as (
    select g.creator_id, (b.bucket_start at time zone 'UTC')::date as date, b.source, b.country, b.device,
           sum(b.plays)::integer as plays
    from gone g join public.mashup_quarter_hour_breakdowns b on b.mashup_id = g.id
    group by 1, 2, 3, 4, 5
  ),
  up as (
    update public.creator_daily_breakdowns t set plays = t.plays - d.plays
    from d
    where t.creator_id = d.creator_id and t.date = d.date and t.source = d.source and t.country = d.country
      and t.device = d.device
    returning t.creator_id, t.date, t.plays = 0 as zero
  )
  select array_agg(up.creator_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_ids, v_days from up;
  if v_ids is not null then
    delete from public.creator_daily_breakdowns t using unnest(v_ids, v_days) as k (id, day)
    where t.creator_id = k.id and t.date = k.day and t.plays = 0;
  end if;

  -- plays_received: the plays the mashups' days held.
  with d as (
    select g.creator_id, (q.bucket_start at time zone 'UTC')::date as date, sum(q.plays)::integer as plays
    from gone g join public.mashup_quarter_hour_stats q on q.mashup_id = g.id
    group by 1, 2 having sum(q.plays) <> 0
  ),
  up as (
    update public.user_daily_stats t set plays_received = coalesce(t.plays_received, 0) - d.plays
    from d
    where t.user_id = d.creator_id and t.date = d.date
    returning t.user_id, t.date, (coalesce(t.mashups_created, 0) = 0 and coalesce(t.plays_received, 0) = 0
                                  and coalesce(t.followers_gained, 0) = 0) as zero
  )
  select array_agg(up.user_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_ids, v_days from up;
  if v_ids is not null then
    delete from public.user_daily_stats t using unnest(v_ids, v_days) as k (id, day)
    where t.user_id = k.id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
      and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  end if;

  -- The plays' folds stay known: a play whose earliest played event is the deleted mashup's has no
  -- summary whatever arrives later (a retry naming another mashup at a later time included), so its
  -- fold waits in play_folds like that of a play of a mashup that never existed. (A play may have a
  -- row there already, when its summary's start was not its earliest one's: the two are folded.)
  insert into aggregation.play_folds as t (play_id, started_at, started_event_id, mashup_id, max_position_seconds, ended)
  select s.play_id, s.started_at, s.started_event_id, s.mashup_id, s.max_position_seconds, coalesce(s.ended, false)
  from public.mashup_play_summaries s join gone g on g.id = s.mashup_id
  on conflict (play_id) do update set
    started_at = case when t.started_at is null or excluded.started_at < t.started_at
                        or (excluded.started_at = t.started_at and excluded.started_event_id < t.started_event_id)
                      then excluded.started_at else t.started_at end,
    started_event_id = case when t.started_at is null or excluded.started_at < t.started_at
                              or (excluded.started_at = t.started_at and excluded.started_event_id < t.started_event_id)
                            then excluded.started_event_id else t.started_event_id end,
    mashup_id = case when t.started_at is null or excluded.started_at < t.started_at
                       or (excluded.started_at = t.started_at and excluded.started_event_id < t.started_event_id)
                     then excluded.mashup_id else t.mashup_id end,
    max_position_seconds = greatest(t.max_position_seconds, excluded.max_position_seconds),
    ended = coalesce(t.ended, false) or coalesce(excluded.ended, false);

  delete from public.mashup_quarter_hour_stats t using gone g where t.mashup_id = g.id;
  delete from public.mashup_quarter_hour_breakdowns t using gone g where t.mashup_id = g.id;
  delete from public.mashup_play_summaries t using gone g where t.mashup_id = g.id;
  delete from public.mashup_daily_retention t using gone g where t.mashup_id = g.id;
  delete from public.mashup_lifetime_stats t using gone g where t.mashup_id = g.id;
  delete from aggregation.mashup_daily_listeners t using gone g where t.mashup_id = g.id;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION aggregation.reset_rollups()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform aggregation.lock(true);
  truncate public.mashup_daily_stats, public.user_daily_stats, public.mashup_quarter_hour_stats,
    public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries, public.mashup_daily_retention,
    public.mashup_lifetime_stats, public.creator_quarter_hour_stats,
    public.creator_daily_breakdowns, aggregation.mashup_daily_listeners, aggregation.play_folds,
    aggregation.creator_daily_followers;
end;
$function$;

CREATE OR REPLACE FUNCTION public.erase_listener(p_user_id uuid DEFAULT NULL::uuid, p_anonymous_id text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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

  -- The mashups this listener is known to (the lifetime set's rows before 20261126190100: one per
  -- mashup); their day-set rows are anonymised next.
  select count(distinct dl.mashup_id) into v_listeners
  from aggregation.mashup_daily_listeners dl where dl.listener_key = v_key;
  -- The fold's own copies of listener identities (issue 10): anonymised or dropped.
  perform aggregation.forget_listener(v_key, p_user_id);
  -- Every deleted event still waiting in the queue goes too, whoever's listener key it has (an
  -- event with a user id and the erased anonymous id is keyed by the user; one naming the id in its
  -- properties is another listener's): a raw event that is gone is never counted afterwards.
  perform aggregation.forget_events(v_ids);

  insert into raw_events.erasures (by_kind, events_deleted, bot_events_deleted, listener_rows_anonymised)
  values (case when p_user_id is not null then 'user_id' else 'anonymous_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$function$;

drop table public.mashup_listeners;
