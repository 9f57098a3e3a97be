-- Platform bootstrap: what a hosted Supabase project (or `supabase start`) already has before
-- any project migration runs. Applied by scripts/stack.sh to the stack's plain PostgreSQL when it
-- lacks it (no `supabase_admin` role) and again whenever this file changed since it was applied
-- (its sha256 is kept in the comment on schema auth), so a database made by an older checkout gets
-- what a new one has: every statement here can run again. It is never part of
-- supabase/migrations, because on hosted Supabase the platform owns these objects.
--
-- Sources, so each definition can be checked against the original:
--   roles and grants ......... supabase/postgres: migrations/db/init-scripts/00000000000000-initial-schema.sql
--                              and 00000000000001-auth-schema.sql (role names, bypassrls, noinherit)
--   auth.users ............... supabase/auth: migrations/00_init_auth_schema.up.sql (column subset
--                              that PostgREST clients and this project use)
--   auth.uid/role/email ...... supabase/auth: migrations/20220224000811_update_auth_functions.up.sql
--   auth.jwt ................. supabase/auth: migrations/20220531120530_add_auth_jwt_function.up.sql
--   extensions schema ........ supabase/postgres: initial-schema.sql (pgcrypto, uuid-ossp live there)

\set ON_ERROR_STOP on

-- Roles ----------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin login superuser createdb createrole replication bypassrls password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole password 'postgres';
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
-- PostgREST sets statement timeouts per role on Supabase; keep the same defaults.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- Schemas --------------------------------------------------------------------------------------
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
-- pgtap and plpgsql_check are installed as packages but not created here: pgTAP tests create
-- pgtap inside their own rolled-back transaction (as Supabase's testing guide does), and
-- `supabase db lint` creates plpgsql_check for the duration of its run.

-- Supabase's default privileges on public: every API role may use what the project creates,
-- and row-level security is what restricts rows. Kept identical so RLS is tested for real.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- auth -----------------------------------------------------------------------------------------
create schema if not exists auth authorization supabase_admin;
grant usage on schema auth to anon, authenticated, service_role, postgres;
alter schema auth owner to supabase_admin;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255) unique,
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  is_anonymous boolean not null default false,
  -- GoTrue reads these into strings: a user whose tokens are NULL cannot sign in on hosted
  -- (supabase/auth#1940); the seed sets them to ''.
  confirmation_token varchar(255),
  recovery_token varchar(255),
  email_change_token_new varchar(255),
  email_change varchar(255)
);
-- Columns this file added after databases were made with it (create table if not exists leaves an
-- existing table as it is).
alter table auth.users add column if not exists is_anonymous boolean not null default false;
alter table auth.users add column if not exists confirmation_token varchar(255);
alter table auth.users add column if not exists recovery_token varchar(255);
alter table auth.users add column if not exists email_change_token_new varchar(255);
alter table auth.users add column if not exists email_change varchar(255);
alter table auth.users owner to supabase_admin;
-- On Supabase, postgres may read and write auth.users (seeding, admin tooling); API roles may not,
-- the service role included (hosted grants it USAGE on the schema only): functions it runs ask
-- aggregation.user_exists() instead (migration 20261127001800).
grant all on auth.users to postgres;
-- (an older version of this file granted the service role everything on auth.users)
revoke all on auth.users from service_role;
-- GoTrue connects as supabase_auth_admin, which owns the auth schema on Supabase; here it gets what
-- the auth stand-in's admin delete needs (scripts/auth-server.ts), and nothing outside auth.
grant usage on schema auth to supabase_auth_admin;
grant select, insert, update, delete on auth.users to supabase_auth_admin;

create or replace function auth.uid()
returns uuid
language sql stable
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim.sub', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create or replace function auth.role()
returns text
language sql stable
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim.role', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create or replace function auth.email()
returns text
language sql stable
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim.email', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create or replace function auth.jwt()
returns jsonb
language sql stable
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim', true), ''),
      nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

alter function auth.uid() owner to supabase_admin;
alter function auth.role() owner to supabase_admin;
alter function auth.email() owner to supabase_admin;
alter function auth.jwt() owner to supabase_admin;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to postgres, anon, authenticated, service_role;

-- PostgREST reloads its schema cache on this notification (what Supabase's pgrst_watch does).
create or replace function extensions.pgrst_watch() returns event_trigger
language plpgsql
as $$
begin
  notify pgrst, 'reload schema';
end;
$$;
drop event trigger if exists pgrst_watch;
create event trigger pgrst_watch on ddl_command_end execute procedure extensions.pgrst_watch();
