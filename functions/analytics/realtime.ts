// The realtime response, read from Redis (functions/_shared/realtime.ts): scoped to the caller's
// own mashups for a creator, platform-wide for the service role.
import type { Caller } from "../_shared/auth.ts";
import { readRealtime } from "../_shared/realtime.ts";
import type { RealtimeResponse } from "../../types/analytics.ts";

export async function readRealtimeFor(caller: Exclude<Caller, { kind: "anon" }>): Promise<RealtimeResponse> {
  const scope = caller.kind === "service" ? "platform" as const : { creatorId: caller.userId };
  const { activeUsers, playingNow, lastHour } = await readRealtime(scope);
  return { activeUsers, playingNow, lastHour };
}
