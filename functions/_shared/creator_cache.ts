// The mashup -> creator cache in Redis (HASH rt:mashup_creator), so recording a batch of events
// does not ask Postgres whose mashup each one is. Everything that reads, fills or invalidates it
// goes through this file: code that changes a mashup's owner or id calls forgetMashupCreators().
import type { Redis } from "@upstash/redis";
import { directDb } from "./db.ts";

export const MASHUP_CREATOR_HASH = "rt:mashup_creator";

/** mashup id -> creator id for the ids given; ids missing from the result are unknown mashups. */
export type CreatorLookup = (mashupIds: string[]) => Promise<Map<string, string>>;

/**
 * The default lookup: public.mashups over the direct connection, the ids bound as one uuid[]
 * parameter. Never a URL: a PostgREST `in.(...)` filter carries every id in the query string and
 * a batch of a few hundred new mashups outgrows what the gateway accepts (414/502).
 */
export const creatorsFromDatabase: CreatorLookup = async (ids) => {
  const rows = await directDb()<{ id: string; creator_id: string }[]>`
    select id, creator_id from public.mashups where id = any(${ids}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r.creator_id]));
};

/**
 * The creator of each mashup id: the cache first (one HMGET), Postgres for the misses, which are
 * then cached. A failed database lookup leaves the misses unknown (their events count platform-
 * wide only until the next window repair puts them right) instead of failing the batch.
 */
export async function creatorsOf(
  redis: Redis,
  mashupIds: string[],
  lookup: CreatorLookup = creatorsFromDatabase,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (mashupIds.length === 0) return found;
  const cached = await redis.hmget<Record<string, string>>(MASHUP_CREATOR_HASH, ...mashupIds);
  const misses = mashupIds.filter((id) => {
    const c = cached?.[id];
    if (c) found.set(id, String(c));
    return !c;
  });
  if (misses.length === 0) return found;
  let fromDb: Map<string, string>;
  try {
    fromDb = await lookup(misses);
  } catch (e) {
    console.error(`[realtime] creators of ${misses.length} mashups not looked up: ${(e as Error).message}`);
    return found;
  }
  if (fromDb.size > 0) {
    await redis.hset(MASHUP_CREATOR_HASH, Object.fromEntries(fromDb));
    for (const [m, c] of fromDb) found.set(m, c);
  }
  return found;
}

/** Drops cached owners (a mashup deleted, re-created under another owner, or its id changed). */
export async function forgetMashupCreators(redis: Redis, mashupIds: string[]): Promise<void> {
  if (mashupIds.length > 0) await redis.hdel(MASHUP_CREATOR_HASH, ...mashupIds);
}
