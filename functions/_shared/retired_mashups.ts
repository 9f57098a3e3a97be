// Deleted mashups leave the realtime layer: the sync reads the ids retired since its last look
// (public.retired_mashup_ids) and drops them from Redis's mashup -> creator cache, so a late play of
// a deleted mashup no longer counts toward its former creator's live numbers. Ids are never reused
// (migration 20261126055100), so nothing else in the cache can ever name the wrong creator.
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Redis } from "@upstash/redis";
import { forgetMashupCreators } from "./creator_cache.ts";

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
    await forgetMashupCreators(redis, rows.map((r) => r.id));
    const last = rows[rows.length - 1].retired_at;
    if (!after || Date.parse(last) > Date.parse(after)) await redis.set(RETIRED_THROUGH_KEY, last);
    forgotten += rows.length;
    if (rows.length < 10000) break;
  }
  return { forgotten };
}
