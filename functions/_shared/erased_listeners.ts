// Erased listeners leave the live windows at the next sync run. Erasure (public.erase_listener) is
// SQL and cannot reach Redis, where rt:{scope}:recent kept the erased listener's members (a|, p|,
// x|, e|) until the trim, up to an hour after their last event. The sync compares the number of
// erasures with the one it last saw and, when it grew, rebuilds every window from Postgres, whose
// raw events the erasure already deleted. The erased id is never known here (the erasure log keeps
// none), so everything is rebuilt: erasures are rare, and a rebuild is one read of the last hour.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Redis } from "@upstash/redis";
import { LISTENER_BANDS, PLATFORM_RECENT, realtimeNow, SCORE_BAND } from "./realtime.ts";
import { repairRealtimeWindows } from "./realtime_sync.ts";

/** The erasure count the windows were last rebuilt for. */
export const ERASURES_SEEN_KEY = "rt:erasures_seen";

// Every listener's members (a|, e|, p|, x|) of every window, dropped at once by their score bands,
// server-side: nothing of the hour crosses the network. The s| members (band 0), the d| work list
// and 'r' (above every band) stay.
const DROP_LISTENERS_SCRIPT = `
local function at(x) return string.format('%.0f', x) end
local function drop(key)
  for _, b in ipairs({${LISTENER_BANDS.join(", ")}}) do
    redis.call('ZREMRANGEBYSCORE', key, at(b * ${SCORE_BAND}), '(' .. at((b + 1) * ${SCORE_BAND}))
  end
end
local creators = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. at(${SCORE_BAND}))
for _, m in ipairs(creators) do
  if string.sub(m, 1, 2) == 's|' then drop('rt:c:' .. string.sub(m, 3) .. ':recent') end
end
drop(KEYS[1])
return #creators
`;

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

  // Every window's listener members dropped, then the whole hour written back from Postgres, which
  // no longer has the erased events: one script and one read of the hour, whatever the number of
  // creators (before, one read of the hour per creator). Exact under load: track commits an event
  // before it records it in Redis, so whatever the drop removed is in the read after it, and a
  // member recorded after the drop stays (ZADD GT is a union). Until the write-back (well under a
  // second) the windows read low.
  const scopes = Number(await redis.eval(DROP_LISTENERS_SCRIPT, [PLATFORM_RECENT], []));
  await repairRealtimeWindows(redis, db, now, { full: true });
  await redis.set(ERASURES_SEEN_KEY, String(erasures));
  return { erasures, rebuilt: scopes + 1 };
}
