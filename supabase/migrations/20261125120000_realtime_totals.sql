-- Running totals of the live counters, moved here from Redis by the realtime-sync function.
-- One row per mashup (the plan's mashup:{id}:<counter> keys) and one per creator
-- (creator:{id}:followers). Lifetime counts: every counted event, whenever it happened.
-- Written only by update_realtime_stats (the sync) and reconcile_realtime_totals (the repair);
-- creators read the rows of their own mashups / their own row, anon reads nothing.

create table public.mashup_realtime_totals (
  mashup_id uuid primary key references public.mashups (id) on delete cascade,
  plays bigint not null default 0,
  likes bigint not null default 0,
  shares bigint not null default 0,
  comments bigint not null default 0,
  downloads bigint not null default 0,
  reactions bigint not null default 0,
  updated_at timestamptz not null default now()
) with (fillfactor = 70); -- room on each page: a sync's updates stay HOT (no index writes)
comment on table public.mashup_realtime_totals is
  'Lifetime live counters per mashup, synced from Redis (mashup:{id}:<counter>) every 5 minutes.';

create table public.creator_realtime_totals (
  creator_id uuid primary key references auth.users (id) on delete cascade,
  followers bigint not null default 0,
  updated_at timestamptz not null default now()
);
comment on table public.creator_realtime_totals is
  'Lifetime follow events per creator, synced from Redis (creator:{id}:followers).';

alter table public.mashup_realtime_totals enable row level security;
alter table public.creator_realtime_totals enable row level security;

create policy "creators read their mashups' realtime totals" on public.mashup_realtime_totals
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));

create policy "creators read their own realtime totals" on public.creator_realtime_totals
  for select to authenticated using (creator_id = (select auth.uid()));

revoke insert, update, delete, truncate on public.mashup_realtime_totals, public.creator_realtime_totals
  from anon, authenticated;

-- The RPC clients read totals with: the caller's mashups (RLS), optionally narrowed to some ids.
create function public.realtime_totals(p_mashup_ids uuid[] default null)
returns table (
  mashup_id uuid, plays bigint, likes bigint, shares bigint, comments bigint, downloads bigint,
  reactions bigint, updated_at timestamptz
)
language sql
stable
security invoker
set search_path = ''
as $$
  select t.mashup_id, t.plays, t.likes, t.shares, t.comments, t.downloads, t.reactions, t.updated_at
  from public.mashup_realtime_totals t
  where p_mashup_ids is null or t.mashup_id = any (p_mashup_ids)
  order by t.mashup_id;
$$;
comment on function public.realtime_totals(uuid[]) is
  'Synced live totals of the caller''s mashups (RLS decides which); service role: all.';
