-- The plan's daily rollups with exactly its columns and UNIQUE keys; days are UTC days.
-- Written by the aggregation functions; creators read the rows of their own mashups / own user.

create table public.mashup_daily_stats (
  id uuid primary key default gen_random_uuid(),
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  date date not null,

  plays integer default 0,
  unique_plays integer default 0,
  likes integer default 0,
  shares integer default 0,
  comments integer default 0,
  downloads integer default 0,
  avg_watch_time numeric, -- seconds

  unique (mashup_id, date)
);
-- The plan's idx_mashup_stats_date duplicates the UNIQUE index; kept because the plan names it.
create index idx_mashup_stats_date on public.mashup_daily_stats (mashup_id, date);

create table public.user_daily_stats (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  date date not null,

  mashups_created integer default 0,
  plays_received integer default 0,
  followers_gained integer default 0,

  unique (user_id, date)
);

alter table public.mashup_daily_stats enable row level security;
alter table public.user_daily_stats enable row level security;

create policy "creators read their mashups' daily stats" on public.mashup_daily_stats
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));

create policy "users read their own daily stats" on public.user_daily_stats
  for select to authenticated using (user_id = (select auth.uid()));

revoke insert, update, delete, truncate on public.mashup_daily_stats, public.user_daily_stats
  from anon, authenticated;
