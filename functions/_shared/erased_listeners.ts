// Erased listeners leave the live windows at the next sync run. Erasure (public.erase_listener) is
// SQL and cannot reach Redis, where rt:{scope}:recent kept the erased listener's members (a|, p|,
// x|, e|) until the trim, up to an hour after their last event. The sync compares the number of
// erasures with the one it last saw and, when it grew, rebuilds every window from Postgres, whose
// raw events the erasure already deleted. The erased id is never known here (the erasure log keeps
// none), so everything is rebuilt: erasures are rare, and a rebuild is one read of the last hour.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Redis } from "@upstash/redis";
import { LISTENER_BANDS, PLATFORM_RECENT, realtimeNow, SCORE_BAND } from "./realtime.ts";
import { windowMembersFromDatabase } from "./realtime_from_database.ts";
import { WINDOWS_REPAIRED_KEY, writeWindowMembers } from "./realtime_sync.ts";

/** The erasure count the windows were last rebuilt for. */
export const ERASURES_SEEN_KEY = "rt:erasures_seen";

// Every listener's members (a|, e|, p|, x|) of every window, dropped at once by their score bands,
// server-side: nothing of the hour crosses the network. The windows are the platform set, the
// creator sets it lists (s|) and those of the creators Postgres has members for (ARGV: a set the
// platform set no longer lists, after it was lost, is still cleaned). The s| members (band 0), the
// d| work list and 'r' (above every band) stay. Returns the creator sets dropped.
const DROP_LISTENERS_SCRIPT = `
local function at(x) return string.format('%.0f', x) end
local function drop(key)
  for _, b in ipairs({${LISTENER_BANDS.join(", ")}}) do
    redis.call('ZREMRANGEBYSCORE', key, at(b * ${SCORE_BAND}), '(' .. at((b + 1) * ${SCORE_BAND}))
  end
end
local creators = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. at(${SCORE_BAND}))) do
  if string.sub(m, 1, 2) == 's|' then creators[string.sub(m, 3)] = true end
end
for _, c in ipairs(ARGV) do creators[c] = true end
local n = 0
for c, _ in pairs(creators) do drop('rt:c:' .. c .. ':recent'); n = n + 1 end
drop(KEYS[1])
return n
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

  // The hour from Postgres, which no longer has the erased events (one read, whatever the number of
  // creators); then every window's listener members dropped, and the hour written back. A member
  // track records between the read and the drop is dropped with the rest and written back by the
  // next run's repair (its event was received after the last repair). Until the write-back (well
  // under a second) the windows read low.
  const wall = Date.now();
  const members = await windowMembersFromDatabase(db, now);
  const creators = [...new Set(members.map(([c]) => c).filter((c): c is string => !!c))];
  const scopes = Number(await redis.eval(DROP_LISTENERS_SCRIPT, [PLATFORM_RECENT], creators));
  await writeWindowMembers(redis, members, now);
  await redis.set(WINDOWS_REPAIRED_KEY, String(wall));
  await redis.set(ERASURES_SEEN_KEY, String(erasures));
  return { erasures, rebuilt: scopes + 1 };
}
