// Deleted mashups leave the realtime layer: the sync reads the ids retired since its last look
// (public.retired_mashup_ids) and drops them from Redis's mashup -> creator cache, so a late play of
// a deleted mashup no longer counts toward its former creator's live numbers. Ids are never reused
// (migration 20261126055100), so nothing else in the cache can ever name the wrong creator.
//
// The plays, likes and listeners the mashup already had in the creator's windows leave them too:
// the creator's set is rebuilt from Postgres, where a deleted mashup's events belong to no creator
// (realtime_window_members). Before, they stayed in the creator's live numbers for up to an hour,
// while the same request answered from Postgres (Redis down) already left them out.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Redis } from "@upstash/redis";
import { forgetMashupCreators, MASHUP_CREATOR_HASH } from "./creator_cache.ts";
import { keys, realtimeNow, windowScore } from "./realtime.ts";
import { windowMembersFromDatabase } from "./realtime_from_database.ts";

/** Where the last forgetting stopped (the retired_at of the last id handled). */
export const RETIRED_THROUGH_KEY = "rt:mashup_creator:retired_through";

// Each look reaches back this far before the mark: a delete committed late (its retired_at is its
// transaction's start), or a track request that re-cached an id while it was being deleted, is
// caught by the next runs. Forgetting twice costs nothing.
const OVERLAP_MS = 10 * 60_000;

export async function forgetRetiredMashups(redis: Redis, db: SupabaseClient): Promise<{ forgotten: number }> {
  let forgotten = 0;
  for (let pages = 0; pages < 100; pages++) {
    const after = await redis.get<string>(RETIRED_THROUGH_KEY);
    const from = after ? new Date(Date.parse(after) - (pages === 0 ? OVERLAP_MS : 0)).toISOString() : undefined;
    const { data, error } = await db.rpc("retired_mashup_ids", { p_after: from });
    if (error) throw new Error(`retired_mashup_ids: ${error.message}`);
    const rows = (data ?? []) as { id: string; retired_at: string }[];
    if (rows.length === 0) break;
    const creators = await cachedCreators(redis, rows.map((r) => r.id));
    await forgetMashupCreators(redis, rows.map((r) => r.id));
    for (const creatorId of creators) await rebuildCreatorWindows(redis, db, creatorId);
    const last = rows[rows.length - 1].retired_at;
    if (!after || Date.parse(last) > Date.parse(after)) await redis.set(RETIRED_THROUGH_KEY, last);
    forgotten += rows.length;
    if (rows.length < 10000) break;
  }
  return { forgotten };
}

/** The creators the cache still names for these mashups: those whose live sets may hold them. */
async function cachedCreators(redis: Redis, mashupIds: string[]): Promise<Set<string>> {
  const creators = new Set<string>();
  for (let i = 0; i < mashupIds.length; i += 1000) {
    const ids = mashupIds.slice(i, i + 1000);
    const named = await redis.hmget<Record<string, string>>(MASHUP_CREATOR_HASH, ...ids);
    for (const c of Object.values(named ?? {})) if (typeof c === "string" && c) creators.add(c);
  }
  return creators;
}

/**
 * A creator's live set, emptied and filled again from Postgres. Exact while events keep arriving:
 * track commits an event before it records it in Redis, so whatever the DEL removed is in the
 * snapshot read after it, and a member recorded after the DEL stays (ZADD GT is a union).
 */
export async function rebuildCreatorWindows(
  redis: Redis,
  db: SupabaseClient,
  creatorId: string,
  now = realtimeNow(),
): Promise<number> {
  const key = keys.recent({ creatorId });
  await redis.del(key);
  const members = await windowMembersFromDatabase(db, now, creatorId);
  const pairs = members.filter(([c]) => c === creatorId)
    .map(([, member, t]) => ({ score: windowScore(member, t), member }));
  for (let i = 0; i < pairs.length; i += 1000) {
    const [first, ...rest] = pairs.slice(i, i + 1000);
    await redis.zadd(key, { gt: true }, first, ...rest);
  }
  return pairs.length;
}
