// The local stack's stand-in for the pg_cron + pg_net jobs of migration
// 20261125120400_realtime_sync_schedule.sql (pg_net is not part of the local PostgreSQL):
//   */5 * * * *   POST /functions/v1/realtime-sync {}                   (the sync)
//   7 * * * *     POST /functions/v1/realtime-sync {"reconcile": true}  (sync + reconciliation)
// Same URL, same credential (the project's secret API key, in the apikey header), same wall-clock
// schedule (UTC). Started and stopped by scripts/stack.sh; logs to .stack/logs/realtime-scheduler.log.
const url = `${Deno.env.get("SUPABASE_URL")}/functions/v1/realtime-sync`;
const key = Deno.env.get("SUPABASE_SECRET_KEY") ?? "";
if (!key) throw new Error("SUPABASE_SECRET_KEY is required");

async function run(reconcile: boolean) {
  const started = new Date().toISOString();
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { apikey: key, "Content-Type": "application/json" },
      body: JSON.stringify(reconcile ? { reconcile: true } : {}),
      signal: AbortSignal.timeout(300_000),
    });
    console.log(
      `${started} realtime-sync${reconcile ? " (reconcile)" : ""}: ${res.status} ${await res.text()}`,
    );
  } catch (e) {
    console.error(`${started} realtime-sync failed: ${(e as Error).message}`);
  }
}

// Wake at every minute boundary and do what the two cron expressions say for that minute.
for (;;) {
  const now = Date.now();
  await new Promise((r) => setTimeout(r, 60_000 - (now % 60_000) + 50));
  const minute = new Date().getUTCMinutes();
  if (minute === 7) await run(true);
  else if (minute % 5 === 0) await run(false);
}
