// The realtime response, read from Redis: scoped to the caller's mashups, platform-wide for the
// service role. Filled in by the realtime-counter work (functions/_shared/realtime.ts).
import type { Caller } from "../_shared/auth.ts";
import type { RealtimeResponse } from "../../types/analytics.ts";

export function readRealtimeFor(_caller: Caller): Promise<RealtimeResponse> {
  return Promise.reject(new Error("realtime reader not wired yet"));
}
