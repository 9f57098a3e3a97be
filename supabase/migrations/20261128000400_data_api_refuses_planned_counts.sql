-- The Data API refuses `Prefer: count=planned` and `count=estimated` from anon and signed-in users.
--
-- Found by an outside audit (2026-11-28): PostgREST answers `count=planned` with the planner's row
-- estimate (Content-Range: */963), and the planner estimates a query from the table's statistics,
-- which are gathered over every creator's rows. RLS filters the rows, not the statistics: equality
-- on a uuid is leakproof, so the estimate for `mashup_id=eq.<another creator's mashup>` follows that
-- mashup's real count (half of it for play summaries, about a sixth for follows), while the rows
-- and `count=exact` say 0. Any signed-in user could read the size of any creator's audience from
-- 13 tables that way. `count=estimated` gives the planned count past db-max-rows.
--
-- PostgREST calls a pre-request function (db-pre-request) in every request's transaction, after it
-- has switched to the request's role and set request.headers; raising there ends the request. Ours
-- refuses the two counts for anon and authenticated (400, PostgREST's error shape, the `hint` names
-- the field as the dashboard RPCs do); count=exact stays (it counts the rows RLS lets through). The
-- service role and the analyst read every row anyway. Set as hosted Supabase documents it, on the
-- authenticator role (in-database configuration, reloaded by NOTIFY), so the same migration
-- configures the local stack and a hosted project. In a schema of its own, not exposed as an RPC.
--
-- What it cannot see: PostgREST reads every Prefer header of a request but passes only the last to
-- request.headers, so `Prefer: count=planned` followed by a second Prefer header gets past the hook.
-- The local gateway forwards one Prefer header (scripts/nginx.conf.template), so locally the hook
-- sees what PostgREST reads; a hosted project's gateway forwards both (docs/decisions.md).

create schema data_api;
comment on schema data_api is 'Hooks of the Data API (PostgREST) itself, not exposed: the pre-request check.';
-- PostgREST calls the hook as whichever role the request runs as.
grant usage on schema data_api to anon, authenticated, service_role;

create function data_api.check_request()
returns void
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  -- The request's Prefer header as PostgREST hands it over (request.headers keeps one value per
  -- name: the last, when a client sends the header twice; see the gateway below).
  v_prefer text := coalesce(pg_catalog.current_setting('request.headers', true), '{}')::json ->> 'prefer';
begin
  if current_user not in ('anon', 'authenticated') then
    return;
  end if;
  if v_prefer ~* 'count\s*=\s*(planned|estimated)' then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'PGRST100',
        'message', 'prefer: count=planned and count=estimated are not available; use count=exact',
        'details', 'a planned count is estimated from statistics over every user''s rows, which row-level security does not filter',
        'hint', 'prefer')::text,
      detail = json_build_object('status', 400, 'headers', json_build_object())::text;
  end if;
end;
$$;
comment on function data_api.check_request() is
  'PostgREST pre-request hook: refuses Prefer count=planned / count=estimated for anon and authenticated (their '
  'estimates come from statistics over all rows, past RLS).';
revoke all on function data_api.check_request() from public;
grant execute on function data_api.check_request() to anon, authenticated, service_role;

alter role authenticator set pgrst.db_pre_request = 'data_api.check_request';
notify pgrst, 'reload config';
