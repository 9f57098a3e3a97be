-- whoami(): who the database thinks the caller is, and how many mashups RLS lets them see.
-- The smallest end-to-end check of the identity path (JWT -> PostgREST -> auth.uid() -> RLS),
-- used by the whoami Edge Function and by operators debugging a key or token.
create function public.whoami()
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select jsonb_build_object(
    'user_id', auth.uid(),
    'role', coalesce(auth.role(), current_user),
    'email', auth.email(),
    'mashups', (select count(*) from public.mashups)
  );
$$;
comment on function public.whoami() is 'The caller''s identity as the database sees it.';
