// Erased listeners leave the live windows at the next sync run. Erasure (public.erase_listener) is
// SQL and cannot reach Redis, where rt:{scope}:recent kept the erased listener's members (a|, p|,
// x|, e|) until the trim, up to an hour after their last event. The sync compares the number of
// erasures with the one it last saw and, when it grew, rebuilds every window from Postgres, whose
// raw events the erasure already deleted. The erased id is never known here (the erasure log keeps
// none), so everything is rebuilt: erasures are rare, and a rebuild is one read of the last hour.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Redis } from "@upstash/redis";
import { PLATFORM_RECENT, realtimeNow } from "./realtime.ts";
import { rebuildCreatorWindows } from "./retired_mashups.ts";
import { repairRealtimeWindows } from "./realtime_sync.ts";

/** The erasure count the windows were last rebuilt for. */
export const ERASURES_SEEN_KEY = "rt:erasures_seen";

// Members that name a listener or an event; d| (the sync's work list), s| and r are the sync's own.
const LISTENER_MEMBER = /^[apxe]\|/;

export async function forgetErasedListeners(
  redis: Redis,
  db: SupabaseClient,
  now = realtimeNow(),
): Promise<{ erasures: number; rebuilt: number }> {
  const { data, error } = await db.rpc("erasure_count");
  if (error) throw new Error(`erasure_count: ${error.message}`);
  const erasures = Number(data ?? 0);
  const seen = Number((await redis.get<string | number>(ERASURES_SEEN_KEY)) ?? 0);
  if (erasures <= seen) return { erasures, rebuilt: 0 };

  // Every creator's set, emptied and filled again from Postgres (exact under load: see
  // rebuildCreatorWindows). Then the platform set: its listener members removed, and the union
  // with Postgres written back. A member recorded after the ZRANGE is not removed; one recorded
  // between the ZRANGE and the ZREM is in the snapshot read after it (track commits first).
  const platform = (await redis.zrange(PLATFORM_RECENT, 0, -1)) as string[];
  const creators = platform.filter((m) => m.startsWith("s|")).map((m) => m.slice(2));
  for (const creatorId of creators) await rebuildCreatorWindows(redis, db, creatorId, now);
  const listeners = platform.filter((m) => LISTENER_MEMBER.test(m));
  for (let i = 0; i < listeners.length; i += 1000) {
    const [first, ...rest] = listeners.slice(i, i + 1000);
    await redis.zrem(PLATFORM_RECENT, first, ...rest);
  }
  await repairRealtimeWindows(redis, db, now, { full: true });
  await redis.set(ERASURES_SEEN_KEY, String(erasures));
  return { erasures, rebuilt: creators.length + 1 };
}
