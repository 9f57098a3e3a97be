-- A signed-in user's follow is dated by the database, not by the request.
--
-- public.follows.created_at decides the UTC day a follow counts on in the creator's
-- user_daily_stats.followers_gained (docs/decisions.md, *Follows*). Signed-in users insert their own
-- follows through PostgREST (policy "users follow as themselves"), and the column had a default but
-- no guard: a body with "created_at": "2099-01-01T00:00:00Z" put a follower gained on that day into
-- another creator's dashboard. The same follow sent to `track` is dated by the receive window
-- (docs/ingestion.md, *Event time*). Now the database refuses a follow by anon or authenticated that
-- names its own time, with SQLSTATE 22023 and the column in the hint, so PostgREST answers 400 naming
-- the field, as every bad input does. A follow without it gets now(), as before. Operators and the
-- service role (ingest's follows from events, the history import, corrections, the demo's
-- re-anchoring) still set it. No update policy exists for users, so they cannot move one either; the
-- trigger covers UPDATE as well in case one is ever added.
create function aggregation.refuse_follow_time_from_users()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  -- current_user is the role PostgREST switched to for the request (anon or authenticated).
  if current_user in ('anon', 'authenticated')
     and (tg_op = 'INSERT' and new.created_at is distinct from now()
          or tg_op = 'UPDATE' and new.created_at is distinct from old.created_at) then
    raise exception 'created_at of a follow is set by the database (the time it is stored)'
      using errcode = '22023', hint = 'created_at';
  end if;
  return new;
end;
$$;
comment on function aggregation.refuse_follow_time_from_users() is
  'Refuses a follow written by anon or authenticated that sets its own created_at: the day a follow '
  'counts on is the day the database stored it.';
revoke all on function aggregation.refuse_follow_time_from_users() from public, anon, authenticated;

create trigger follows_time_set_by_the_database before insert or update of created_at on public.follows
  for each row execute function aggregation.refuse_follow_time_from_users();
