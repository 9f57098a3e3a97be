-- The hosted realtime-sync schedule calls the function with the project's secret API key.
-- A hosted project of today holds sb_secret_... keys, which are not JWTs: pg_net sends the key in
-- the apikey header, as the function (functions/_shared/auth.ts) expects it. A project that set up
-- the earlier Vault secret service_role_key (a legacy service-role JWT) keeps working: that one is
-- still sent as the bearer when present. Vault secrets, read at run time:
--   select vault.create_secret('https://<ref>.supabase.co', 'project_url');
--   select vault.create_secret('sb_secret_...', 'secret_key');
-- Only where pg_net exists (hosted projects); the local stack's scripts/realtime-scheduler.ts runs
-- the same schedule with the same header. cron.schedule replaces the jobs of the same names.
do $do$
begin
  if not exists (select 1 from pg_available_extensions where name = 'pg_net') then
    raise notice 'pg_net is not available: realtime-sync is not scheduled by pg_cron here';
    return;
  end if;
  create extension if not exists pg_net with schema extensions;
  create extension if not exists pg_cron with schema pg_catalog;

  perform cron.schedule('realtime-sync', '*/5 * * * *', $job$
    select net.http_post(
      url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
             || '/functions/v1/realtime-sync',
      headers := jsonb_strip_nulls(jsonb_build_object(
        'Content-Type', 'application/json',
        'apikey', (select decrypted_secret from vault.decrypted_secrets where name = 'secret_key'),
        'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                       where name = 'service_role_key'))),
      body := '{}'::jsonb,
      timeout_milliseconds := 60000)
  $job$);

  perform cron.schedule('realtime-reconcile', '7 * * * *', $job$
    select net.http_post(
      url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
             || '/functions/v1/realtime-sync',
      headers := jsonb_strip_nulls(jsonb_build_object(
        'Content-Type', 'application/json',
        'apikey', (select decrypted_secret from vault.decrypted_secrets where name = 'secret_key'),
        'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                       where name = 'service_role_key'))),
      body := '{"reconcile": true}'::jsonb,
      timeout_milliseconds := 300000)
  $job$);
end
$do$;
