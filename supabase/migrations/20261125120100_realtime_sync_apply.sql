-- update_realtime_stats: the plan's sync target, taking one whole batch of counter deltas.
--
-- The realtime-sync function atomically moves the dirty Redis counters into a pending hash named
-- after a fresh batch id, then calls this with that id and the hash ({"mashup:<id>:plays": 3,
-- "creator:<id>:followers": 1, ...}). The batch id is recorded in realtime_sync_batches in the
-- same transaction as the increments, so a batch is applied exactly once: a sync that crashed
-- after committing and re-sends the batch gets applied = false and changes nothing.

create table public.realtime_sync_batches (
  batch_id text primary key check (char_length(batch_id) between 1 and 100),
  applied_at timestamptz not null default now(),
  counters integer not null default 0,
  increments bigint not null default 0,
  -- Deltas for keys that name no mashup / user (deleted, or never existed): dropped, but counted.
  skipped_counters integer not null default 0,
  skipped_increments bigint not null default 0
);
comment on table public.realtime_sync_batches is
  'Redis sync batches already applied to the realtime totals: the idempotency record.';
create index realtime_sync_batches_applied_at_idx on public.realtime_sync_batches (applied_at);

alter table public.realtime_sync_batches enable row level security;
-- No policies: only the service role (which bypasses RLS) reads or writes it.
revoke all on public.realtime_sync_batches from anon, authenticated;

-- Parses the sync's {"mashup:<uuid>:plays": delta, ...} documents into rows. Shared by the sync
-- apply and the reconciliation, which must read counter keys exactly alike. The id is cast only
-- when it is a canonical uuid (no regex: over 100k keys it is the cost that counts); otherwise null.
create function public.parse_realtime_counter_deltas(p_deltas jsonb)
returns table (kind text, subject_id uuid, counter text, delta bigint)
language sql
immutable
security invoker
set search_path = ''
as $$
  select split_part(d.key, ':', 1),
         case when length(split_part(d.key, ':', 2)) = 36
               and translate(lower(split_part(d.key, ':', 2)), '0123456789abcdef', '') = '----'
               and substr(d.key, strpos(d.key, ':') + 9, 1) = '-'
               and substr(d.key, strpos(d.key, ':') + 14, 1) = '-'
               and substr(d.key, strpos(d.key, ':') + 19, 1) = '-'
               and substr(d.key, strpos(d.key, ':') + 24, 1) = '-'
              then split_part(d.key, ':', 2)::uuid end,
         split_part(d.key, ':', 3),
         (d.value)::bigint
  from jsonb_each_text(p_deltas) as d (key, value);
$$;
revoke execute on function public.parse_realtime_counter_deltas(jsonb) from public, anon, authenticated;
grant execute on function public.parse_realtime_counter_deltas(jsonb) to service_role;

create function public.update_realtime_stats(p_batch_id text, p_deltas jsonb)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_new integer;
  v_counters integer := 0;
  v_increments bigint := 0;
  v_skipped_counters integer := 0;
  v_skipped_increments bigint := 0;
begin
  if p_batch_id is null or p_deltas is null or jsonb_typeof(p_deltas) <> 'object' then
    raise exception 'update_realtime_stats: batch id and a jsonb object of deltas are required'
      using errcode = '22023';
  end if;

  -- Claim the batch id first: a concurrent apply of the same batch waits here for ours to commit,
  -- then finds the row and applies nothing.
  insert into public.realtime_sync_batches (batch_id) values (p_batch_id) on conflict do nothing;
  get diagnostics v_new = row_count;
  if v_new = 0 then
    return jsonb_build_object('batch_id', p_batch_id, 'applied', false);
  end if;
  -- Batch ids are needed only while Redis may still re-send their batch: every sync re-sends the
  -- pending ones first, so a month is far beyond any real outage.
  delete from public.realtime_sync_batches b where b.applied_at < now() - interval '30 days';

  -- One statement: parse the keys, keep those naming an existing mashup / user, add them up.
  with parsed as materialized (
    select * from public.parse_realtime_counter_deltas(p_deltas)
  ),
  deltas as (
    select p.kind, p.subject_id, p.counter, p.delta,
           case
             when p.kind = 'mashup' and p.counter in ('plays', 'likes', 'shares', 'comments', 'downloads', 'reactions')
               then exists (select 1 from public.mashups m where m.id = p.subject_id)
             when p.kind = 'creator' and p.counter = 'followers'
               then exists (select 1 from auth.users u where u.id = p.subject_id)
             else false
           end as known
    from parsed p
  ),
  mashup_rows as (
    insert into public.mashup_realtime_totals as t
      (mashup_id, plays, likes, shares, comments, downloads, reactions, updated_at)
    select d.subject_id,
           coalesce(sum(d.delta) filter (where d.counter = 'plays'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'likes'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'shares'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'comments'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'downloads'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'reactions'), 0),
           now()
    from deltas d
    where d.known and d.kind = 'mashup'
    group by d.subject_id
    order by d.subject_id -- one lock order for every apply: concurrent batches never deadlock
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
    select d.subject_id, sum(d.delta), now()
    from deltas d
    where d.known and d.kind = 'creator'
    group by d.subject_id
    order by d.subject_id
    on conflict (creator_id) do update set
      followers = t.followers + excluded.followers,
      updated_at = excluded.updated_at
    returning 1
  )
  select count(*) filter (where d.known), coalesce(sum(d.delta) filter (where d.known), 0),
         count(*) filter (where not d.known), coalesce(sum(d.delta) filter (where not d.known), 0)
  into v_counters, v_increments, v_skipped_counters, v_skipped_increments
  from deltas d;

  update public.realtime_sync_batches b
  set counters = v_counters, increments = v_increments,
      skipped_counters = v_skipped_counters, skipped_increments = v_skipped_increments
  where b.batch_id = p_batch_id;

  return jsonb_build_object(
    'batch_id', p_batch_id, 'applied', true, 'counters', v_counters, 'increments', v_increments,
    'skipped_counters', v_skipped_counters, 'skipped_increments', v_skipped_increments);
end;
$$;
comment on function public.update_realtime_stats(text, jsonb) is
  'Applies one Redis sync batch of counter deltas to the realtime totals, exactly once per batch id.';

revoke execute on function public.update_realtime_stats(text, jsonb) from public, anon, authenticated;
