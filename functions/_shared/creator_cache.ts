// The mashup -> creator cache in Redis (HASH rt:mashup_creator), so recording a batch of events
// does not ask Postgres whose mashup each one is. The record script (realtime.ts) reads it in the
// same HMGET as the fence; misses are filled from Postgres here. Code that changes a mashup's
// owner or id calls forgetMashupCreators().
import type { Redis } from "@upstash/redis";
import { directDb } from "./db.ts";

export const MASHUP_CREATOR_HASH = "rt:mashup_creator";

/** mashup id -> creator id for the ids given; ids missing from the result are unknown mashups. */
export type CreatorLookup = (mashupIds: string[]) => Promise<Map<string, string>>;

/**
 * The default lookup: public.mashups over the direct connection, the ids bound as one uuid[]
 * parameter. Never a URL: a PostgREST `in.(...)` filter carries every id in the query string and
 * a batch of a hundred new mashups outgrows what the gateway accepts (414/502).
 */
export const creatorsFromDatabase: CreatorLookup = async (ids) => {
  const rows = await directDb()<{ id: string; creator_id: string }[]>`
    select id, creator_id from public.mashups where id = any(${ids}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r.creator_id]));
};

/**
 * Looks the misses up (default: Postgres) and caches what it finds. A failed lookup leaves them
 * unknown (their events count platform-wide only until the next window repair) rather than
 * failing the batch.
 */
export async function fillMashupCreators(
  redis: Redis,
  mashupIds: string[],
  lookup: CreatorLookup = creatorsFromDatabase,
): Promise<Map<string, string>> {
  if (mashupIds.length === 0) return new Map();
  let found: Map<string, string>;
  try {
    found = await lookup(mashupIds);
  } catch (e) {
    console.error(`[realtime] creators of ${mashupIds.length} mashups not looked up: ${(e as Error).message}`);
    return new Map();
  }
  if (found.size > 0) await redis.hset(MASHUP_CREATOR_HASH, Object.fromEntries(found));
  return found;
}

/** Drops cached owners (a mashup deleted, re-created under another owner, or its id changed). */
export async function forgetMashupCreators(redis: Redis, mashupIds: string[]): Promise<void> {
  for (let i = 0; i < mashupIds.length; i += 1000) {
    const [first, ...rest] = mashupIds.slice(i, i + 1000);
    if (first) await redis.hdel(MASHUP_CREATOR_HASH, first, ...rest);
  }
}
