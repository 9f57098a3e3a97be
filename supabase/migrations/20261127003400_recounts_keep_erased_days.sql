-- Day recounts keep the days an erasure took counted events from (audit, 2026-11-27, finding 5:
-- "erasure followed by a recount of the day lowers plays and likes but not watch time, retention or
-- the live totals"; docs/raw-storage.md said "don't recount such a day; nothing refuses it yet").
--
-- An erasure keeps the counts (numbers without identity) and deletes the raw events. A day recount
-- (aggregation.mashup_days / user_days: backfill, mashup_day, repairs) recomputes the day's counts
-- from the raw events left, so it took the erased plays, likes and creations back while the per-play
-- summaries (watch time, retention, completion) and the live totals kept them: numbers that no
-- longer agreed. Now:
--   * public.erase_listener records the UTC days of the deleted events the rollups had already
--     counted (events of the types the recounts read that were no longer queued) in
--     aggregation.erased_days (a day, nothing else: no identity, no mashup). Events still queued are
--     dropped from the queue and never counted, so their days stay recountable;
--   * aggregation.days_without_raw_events, which the recounts ask for the days to keep as they are
--     (the days whose raw events retention dropped), also returns the erased days that still have
--     rollup rows, with a NOTICE saying why. A recount of a range recounts its other days;
--   * aggregation.reset_rollups() empties aggregation.erased_days: a rebuild from empty rollups
--     counts every day from the raw events left, consistently (the erased events in none).
-- An operator who wants such a day recounted anyway (accepting that its plays drop and its watch
-- time does not) deletes its row from aggregation.erased_days first.

create table aggregation.erased_days (
  day date primary key,
  erased_at timestamptz not null default now()
);
alter table aggregation.erased_days enable row level security;
revoke all on table aggregation.erased_days from public, anon, authenticated;
-- erase_listener (service role RPC) records days; the recounts (also RPCs of the service role) read them.
grant select, insert on table aggregation.erased_days to service_role;
comment on table aggregation.erased_days is
  'UTC days an erasure (public.erase_listener) deleted already-counted raw events from: day recounts keep '
  'their rollups as they are (aggregation.days_without_raw_events). Days only, no identity.';

create or replace function public.erase_listener(p_user_id uuid default null, p_anonymous_id text default null,
                                                 p_session_id text default null)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $$
declare
  v_id text := coalesce(p_user_id::text, p_anonymous_id, p_session_id);
  -- The listener key the fold gives such events: a user's, else an anonymous id's, else a session's.
  v_key text := case when p_user_id is not null then 'u:' || p_user_id::text
                     when p_anonymous_id is not null then 'a:' || p_anonymous_id
                     else 's:' || p_session_id end;
  -- The id as a uuid when its text is canonical (a user id always is): it may sit in a uuid column.
  v_uuid uuid := case when v_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_id::uuid end;
  v_events bigint;
  v_mentions bigint;
  v_bots bigint;
  v_listeners bigint;
  v_ids uuid[];
  v_days date[];
  v_day_ids uuid[];
  -- The event types the day recounts read (aggregation.mashup_days, aggregation.user_days).
  v_recounted text[] := array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                              'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created'];
begin
  if num_nonnulls(p_user_id, p_anonymous_id, p_session_id) <> 1 or p_anonymous_id = '' or p_session_id = '' then
    raise exception 'erase_listener: give exactly one of p_user_id, p_anonymous_id or p_session_id'
      using errcode = '22023';
  end if;

  with gone as (
    delete from raw_events.analytics_events e
    where (p_user_id is not null and e.user_id = p_user_id)
       or (p_anonymous_id is not null and e.anonymous_id = p_anonymous_id)
       or (p_session_id is not null and e.session_id = p_session_id)
    returning e.id, e."timestamp", raw_events.event_type(e.event_code, e.event_name) as event_type
  )
  select count(*), coalesce(array_agg(gone.id), '{}'),
         coalesce(array_agg((gone."timestamp" at time zone 'UTC')::date) filter (where gone.event_type = any (v_recounted)), '{}'),
         coalesce(array_agg(gone.id) filter (where gone.event_type = any (v_recounted)), '{}')
  into v_events, v_ids, v_days, v_day_ids from gone;

  -- Mentions inside properties (any key, any depth): a text search over the JSON, then exact.
  -- A mashup_id or play_id lifted out of properties (canonical lower-case uuid text) mentions the id
  -- exactly when its uuid equals it; one that stayed in the jsonb is found there.
  with gone as (
    delete from raw_events.analytics_events e
    where (v_uuid is not null and (e.play_id = v_uuid or (e.mashup_id = v_uuid and not (e.properties ? 'mashup_id'))))
       or (strpos(e.properties::text, v_id) > 0
           and jsonb_path_exists(e.properties, '$.** ? (@ == $id)', jsonb_build_object('id', v_id)))
    returning e.id, e."timestamp", raw_events.event_type(e.event_code, e.event_name) as event_type
  )
  select count(*), v_ids || coalesce(array_agg(gone.id), '{}'),
         v_days || coalesce(array_agg((gone."timestamp" at time zone 'UTC')::date) filter (where gone.event_type = any (v_recounted)), '{}'),
         v_day_ids || coalesce(array_agg(gone.id) filter (where gone.event_type = any (v_recounted)), '{}')
  into v_mentions, v_ids, v_days, v_day_ids from gone;

  -- (20261127003400) The UTC days of deleted events the rollups had already counted (no longer in the
  -- fold queue; those still queued are dropped below and never counted): a recount of such a day from
  -- the raw events left would take their plays and likes back but not their watch time, retention or
  -- live totals, so day recounts keep these days as they are (aggregation.days_without_raw_events).
  insert into aggregation.erased_days (day)
  select distinct u.day from unnest(v_day_ids, v_days) as u (id, day)
  where not exists (select 1 from aggregation.pending_events q where q.id = u.id)
  on conflict (day) do nothing;

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
  values (case when p_user_id is not null then 'user_id' when p_anonymous_id is not null then 'anonymous_id'
               else 'session_id' end,
          v_events + v_mentions, v_bots, v_listeners);

  return jsonb_build_object('events_deleted', v_events + v_mentions, 'bot_events_deleted', v_bots,
                            'listener_rows_anonymised', v_listeners);
end;
$$;

comment on function public.erase_listener(uuid, text, text) is
  'Service role: erases one listener by user id, anonymous id or session id: their raw events, bot rows and '
  'events naming them, and their listener identity in mashup_listeners and the fold''s state (counts stay; '
  'the days of counted events it deleted go to aggregation.erased_days). Returns counts.';

-- The days recounts keep as they are: those with rollup rows and no raw events (retention dropped
-- them), and those with rollup rows an erasure took counted events from. Body as in 20261127001000
-- but for the erased days.
create or replace function aggregation.days_without_raw_events(p_from date, p_to date, p_user_rows boolean)
returns date[]
language plpgsql
stable
set search_path = ''
as $$
declare
  v_with_rows date[];
  v_day date;
  v_kept date[] := '{}'::date[];
begin
  if p_user_rows then
    select coalesce(array_agg(g.d::date order by g.d), '{}') into v_with_rows
    from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
    where exists (select 1 from public.user_daily_stats u where u.date = g.d::date);
  else
    select coalesce(array_agg(g.d::date order by g.d), '{}') into v_with_rows
    from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
    where exists (select 1 from public.mashup_daily_stats s where s.date = g.d::date);
  end if;
  foreach v_day in array v_with_rows loop
    if exists (select 1 from aggregation.erased_days x where x.day = v_day) then
      raise notice '%: an erasure deleted counted events of that day; a recount would take their plays back '
        'but not their watch time, so its rollups are kept as they are (delete the day from '
        'aggregation.erased_days to recount it anyway)', v_day;
      v_kept := v_kept || v_day;
    elsif not exists (select 1 from public.analytics_events e
                      where e."timestamp" >= aggregation.day_start(v_day)
                        and e."timestamp" < aggregation.day_start(v_day + 1)) then
      v_kept := v_kept || v_day;
    end if;
  end loop;
  return v_kept;
end;
$$;

-- Body as in 20261126020460 but for the erased days: every day is recounted from the raw events left.
create or replace function aggregation.reset_rollups()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform aggregation.lock(true);
  truncate public.mashup_daily_stats, public.user_daily_stats, public.mashup_quarter_hour_stats,
    public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries, public.mashup_daily_retention,
    public.mashup_listeners, public.mashup_lifetime_stats, public.creator_quarter_hour_stats,
    public.creator_daily_breakdowns, aggregation.mashup_daily_listeners, aggregation.play_folds,
    aggregation.creator_daily_followers, aggregation.erased_days;
end;
$$;
