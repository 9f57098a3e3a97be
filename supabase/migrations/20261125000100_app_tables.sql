-- The app tables the analytics refers to: mashups (with their creator) and follows.
-- RLS from the start: a creator sees and edits only their own mashups; a follow is visible to
-- both sides of it. anon reads nothing.

create table public.mashups (
  id uuid primary key default gen_random_uuid(),
  creator_id uuid not null references auth.users (id) on delete cascade,
  title text not null check (char_length(title) between 1 and 200),
  -- Length of the mashup in seconds: the denominator of completion and drop-off.
  duration_seconds integer not null check (duration_seconds > 0),
  created_at timestamptz not null default now()
);
comment on table public.mashups is 'Mashups; creator_id owns the analytics of each.';
create index mashups_creator_id_idx on public.mashups (creator_id, created_at);

alter table public.mashups enable row level security;

create policy "creators read their own mashups" on public.mashups
  for select to authenticated using (creator_id = (select auth.uid()));
create policy "creators insert their own mashups" on public.mashups
  for insert to authenticated with check (creator_id = (select auth.uid()));
create policy "creators update their own mashups" on public.mashups
  for update to authenticated
  using (creator_id = (select auth.uid())) with check (creator_id = (select auth.uid()));
create policy "creators delete their own mashups" on public.mashups
  for delete to authenticated using (creator_id = (select auth.uid()));

create table public.follows (
  follower_id uuid not null references auth.users (id) on delete cascade,
  creator_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (follower_id, creator_id),
  constraint follows_not_self check (follower_id <> creator_id)
);
comment on table public.follows is 'Who follows whom; the dashboard''s followers/following counts.';
create index follows_creator_id_idx on public.follows (creator_id, created_at);

alter table public.follows enable row level security;

create policy "users read follows they are part of" on public.follows
  for select to authenticated
  using (follower_id = (select auth.uid()) or creator_id = (select auth.uid()));
create policy "users follow as themselves" on public.follows
  for insert to authenticated with check (follower_id = (select auth.uid()));
create policy "users unfollow as themselves" on public.follows
  for delete to authenticated using (follower_id = (select auth.uid()));
