// realtime-sync: moves the Redis counters into Postgres (service role only), every 5 minutes
// (pg_cron + pg_net on hosted Supabase, scripts/realtime-scheduler.ts locally).
//   POST /functions/v1/realtime-sync                      recover if Redis lost its data, sync, then
//                                                         repair and trim the windows from Postgres
//   POST /functions/v1/realtime-sync {"reconcile": true}  ... then reconcile totals with raw events
// Answers the run's report as JSON. Only the service role may run it: the secret API key
// (apikey: sb_secret_..., how the pg_net schedule calls it) or a service-role JWT; any other caller
// gets 403, a missing or invalid credential 401 (checked here; verify_jwt = false).
import { preflight } from "../_shared/cors.ts";
import { json, jsonError } from "../_shared/http.ts";
import { AuthError, callerFrom } from "../_shared/auth.ts";
import { asService } from "../_shared/db.ts";
import { redisBulkClient } from "../_shared/redis.ts";
import {
  reconcileRealtime,
  recoverIfRedisLostData,
  repairRealtimeWindows,
  syncRealtime,
} from "../_shared/realtime_sync.ts";
import { forgetRetiredMashups } from "../_shared/retired_mashups.ts";
import { forgetErasedListeners } from "../_shared/erased_listeners.ts";

Deno.serve(async (req) => {
  const pre = preflight(req);
  if (pre) return pre;
  if (req.method !== "POST") return jsonError(405, "method not allowed: use POST", "method");

  try {
    const caller = await callerFrom(req);
    if (caller.kind === "anon" && caller.token === null && !caller.apiKey) {
      return jsonError(401, "authorization: missing, send the secret API key or a service-role JWT", "authorization");
    }
    if (caller.kind !== "service") {
      return jsonError(403, "authorization: only the service role may run the sync", "authorization");
    }
  } catch (e) {
    if (e instanceof AuthError) return jsonError(401, `authorization: ${e.message}`, "authorization");
    throw e;
  }

  let body: { reconcile?: unknown } = {};
  const text = await req.text();
  if (text.trim()) {
    try {
      body = JSON.parse(text);
    } catch {
      return jsonError(400, "body must be JSON", "body");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return jsonError(400, "body must be a JSON object", "body");
    }
    if (body.reconcile !== undefined && typeof body.reconcile !== "boolean") {
      return jsonError(400, "reconcile must be a boolean", "reconcile");
    }
  }

  const redis = redisBulkClient();
  const db = asService();
  const started = performance.now();
  try {
    const recovery = await recoverIfRedisLostData(redis, db);
    const sync = await syncRealtime(redis, db);
    // The whole hour after Redis lost its data and on the hourly reconciliation's run; otherwise
    // what arrived since the last run.
    const windows = await repairRealtimeWindows(redis, db, undefined, {
      full: recovery.recovered || body.reconcile === true,
    });
    const reconcile = body.reconcile === true ? await reconcileRealtime(redis, db) : undefined;
    const deletedMashups = await forgetRetiredMashups(redis, db);
    const erasures = await forgetErasedListeners(redis, db);
    return json({ recovery, sync, windows, reconcile, deletedMashups, erasures, ms: Math.round(performance.now() - started) }, 200, {
      "Cache-Control": "no-store",
    });
  } catch (e) {
    console.error("[realtime-sync]", e);
    return jsonError(503, `sync failed, nothing lost (it resumes on the next run): ${(e as Error).message}`);
  }
});
