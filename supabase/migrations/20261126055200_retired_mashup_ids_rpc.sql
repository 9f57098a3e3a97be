-- The ids retired since a point in time, for the realtime sync to drop them from Redis's
-- mashup -> creator cache (rt:mashup_creator), so live plays of a deleted mashup stop counting
-- toward its former creator. Service role only.
grant select on aggregation.retired_mashup_ids to service_role;

create function public.retired_mashup_ids(p_after timestamptz default null, p_limit integer default 10000)
returns table (id uuid, retired_at timestamptz)
language sql
stable
security invoker
set search_path = ''
as $$
  select r.id, r.retired_at from aggregation.retired_mashup_ids r
  where p_after is null or r.retired_at > p_after
  order by r.retired_at, r.id
  limit greatest(1, least(coalesce(p_limit, 10000), 10000))
$$;
comment on function public.retired_mashup_ids(timestamptz, integer) is
  'Deleted mashups'' ids retired after p_after, oldest first: what the realtime cache must forget.';
revoke execute on function public.retired_mashup_ids(timestamptz, integer) from public, anon, authenticated;
grant execute on function public.retired_mashup_ids(timestamptz, integer) to service_role;
