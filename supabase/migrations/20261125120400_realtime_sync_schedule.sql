-- Schedule of the realtime sync on hosted Supabase: pg_cron calls the realtime-sync Edge Function
-- through pg_net every 5 minutes, and asks it to reconcile once an hour.
--
-- Created only where pg_net exists (every hosted project; not the local stack, whose
-- scripts/realtime-scheduler.ts runs the same schedule). cron.schedule with a job name replaces
-- an existing job of that name, so re-running this is harmless. The function URL and the service-role
-- key are read at run time from Supabase Vault, so no secret is stored in a migration:
--   select vault.create_secret('https://<ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service role key>', 'service_role_key');
do $do$
begin
  if not exists (select 1 from pg_available_extensions where name = 'pg_net') then
    raise notice 'pg_net is not available: realtime-sync is not scheduled by pg_cron here';
    return;
  end if;
  -- Where Supabase's docs put them.
  create extension if not exists pg_net with schema extensions;
  create extension if not exists pg_cron with schema pg_catalog;

  perform cron.schedule('realtime-sync', '*/5 * * * *', $job$
    select net.http_post(
      url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
             || '/functions/v1/realtime-sync',
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                       where name = 'service_role_key')),
      body := '{}'::jsonb,
      timeout_milliseconds := 60000)
  $job$);

  perform cron.schedule('realtime-reconcile', '7 * * * *', $job$
    select net.http_post(
      url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
             || '/functions/v1/realtime-sync',
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                       where name = 'service_role_key')),
      body := '{"reconcile": true}'::jsonb,
      timeout_milliseconds := 300000)
  $job$);
end
$do$;
