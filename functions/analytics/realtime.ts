// The realtime response, read from Redis (functions/_shared/realtime.ts): scoped to the caller's
// own mashups for a creator, platform-wide for the service role. While Redis is down or slow, the
// same numbers are counted from Postgres's raw events and the response says so (`stale: true`):
// the page then marks the live panel as not live.
import type { Caller } from "../_shared/auth.ts";
import { asService } from "../_shared/db.ts";
import { readRealtime, realtimeNow } from "../_shared/realtime.ts";
import { snapshotFromMembers, windowMembersFromDatabase } from "../_shared/realtime_from_database.ts";
import type { RealtimeResponse } from "../../types/analytics.ts";

/** How long the live read may take before Postgres answers instead. */
const REDIS_TIMEOUT_MS = 1000;

export async function readRealtimeFor(caller: Exclude<Caller, { kind: "anon" }>): Promise<RealtimeResponse> {
  const scope = caller.kind === "service" ? "platform" as const : { creatorId: caller.userId };
  const now = realtimeNow();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const { activeUsers, playingNow, lastHour } = await Promise.race([
      readRealtime(scope, { now }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${REDIS_TIMEOUT_MS} ms`)), REDIS_TIMEOUT_MS);
      }),
    ]);
    return { activeUsers, playingNow, lastHour };
  } catch (e) {
    console.error(`[analytics] realtime from Redis failed, answering from Postgres: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  // The creator id is the verified token's subject; the function is the service role's only.
  const members = await windowMembersFromDatabase(asService(), now, scope === "platform" ? undefined : scope.creatorId);
  return { ...snapshotFromMembers(members, now), stale: true };
}
