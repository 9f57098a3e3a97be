// Moving the Redis counters into Postgres without losing or doubling an increment, reconciling
// the totals with raw events, and rebuilding Redis after it lost its data. Used by the
// realtime-sync Edge Function; each step is exported so tests can stop between them.
//
// Keys of the sync (besides those in realtime.ts):
//   sync:batches          ZSET batch id -> time it was moved: batches not yet known to be applied
//   sync:pending:{batch}  HASH counter key -> delta moved out of Redis in that batch
//   sync:lock             held by a reconciliation: no batch is moved while it is set
//   rt:epoch              set once Redis's realtime data is known to be whole; missing = lost
//
// The algorithm (docs/realtime.md):
//   1. Re-apply every batch still listed in sync:batches (a previous run died after moving it).
//   2. A Lua script, atomic in Redis: take up to N dirty marks (d|{key} members of
//      rt:platform:recent, and the legacy rt:dirty set), take and delete their counters' values
//      (MGET + DEL: GETDEL in bulk), HSET them into sync:pending:{batch}, ZADD the batch to
//      sync:batches. An increment landing after the script re-creates its key and re-marks it
//      dirty: it belongs to the next batch.
//   3. update_realtime_stats(batch, deltas): applies the batch and records its id in the same
//      transaction; a second apply of the same id changes nothing.
//   4. Only then DEL the pending hash and ZREM the batch. A crash anywhere leaves either the
//      deltas in their keys (before 2), or the batch pending (2..4), to be applied by the next run.
import type { Redis } from "@upstash/redis";
import type { SupabaseClient } from "@supabase/supabase-js";
import {
  BAND,
  FENCE_FIELD,
  keys,
  LAST_HOUR_MS,
  LEGACY_DIRTY_SET,
  PLATFORM_RECENT,
  PLAYING_WINDOW_MS,
  realtimeNow,
  SCORE_BAND,
  windowScore,
} from "./realtime.ts";
import { MASHUP_CREATOR_HASH } from "./creator_cache.ts";
import { type WindowMember, windowMembersFromDatabase } from "./realtime_from_database.ts";

export const BATCHES = "sync:batches";
export const LOCK = "sync:lock";
export const EPOCH = "rt:epoch";
export const pendingKey = (batchId: string) => `sync:pending:${batchId}`;

/**
 * How long after an event is stored its Redis increment may still arrive (track increments right
 * after the insert commits, with no retries). Reconciliation treats raw events younger than this
 * as possibly in flight and never repairs them: larger is safer, smaller converges sooner.
 */
export const DEFAULT_SETTLE_SECONDS = 60;

/** Counters moved per Lua call / Postgres transaction. */
export const DEFAULT_BATCH_SIZE = 10_000;

// KEYS: rt:platform:recent, pending hash, batch list, lock, legacy dirty set. ARGV: batch id, max
// keys, time (ms). Returns -1 while a reconciliation holds the lock, else "key delta\nkey delta\n...":
// one string, because tens of thousands of array items cost far more over the REST protocol.
const MOVE_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local max = tonumber(ARGV[2])
local marks = redis.call('ZRANGEBYSCORE', KEYS[1], '+inf', '+inf', 'LIMIT', 0, max)
local popped = {}
for j = 1, #marks do popped[j] = string.sub(marks[j], 3) end
for i = 1, #marks, 1000 do
  redis.call('ZREM', KEYS[1], unpack(marks, i, math.min(i + 999, #marks)))
end
if #popped < max then
  for _, k in ipairs(redis.call('SPOP', KEYS[5], max - #popped)) do popped[#popped + 1] = k end
end
local out = {}
-- MGET + DEL + HSET per 1000 keys: GETDEL's effect (value taken, key gone) at a fraction of the
-- cost of one call per key. The batch id is new, so HSET never meets an earlier field.
for i = 1, #popped, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #popped) do chunk[#chunk + 1] = popped[j] end
  local vals = redis.call('MGET', unpack(chunk))
  redis.call('DEL', unpack(chunk))
  local fields = {}
  for j = 1, #chunk do
    local v = vals[j]
    if v and tonumber(v) ~= 0 then
      fields[#fields + 1] = chunk[j]
      fields[#fields + 1] = v
      out[#out + 1] = chunk[j] .. ' ' .. v
    end
  end
  if #fields > 0 then redis.call('HSET', KEYS[2], unpack(fields)) end
end
if #out > 0 then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) end
return table.concat(out, '\\n')
`;

export type Deltas = Record<string, number>;
export type MovedBatch = { batchId: string; deltas: Deltas };

function linesToDeltas(text: string): Deltas {
  const d: Deltas = {};
  for (const line of text.split("\n")) {
    const sp = line.lastIndexOf(" ");
    if (sp > 0) d[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return d;
}

/**
 * Step 2: atomically moves up to `limit` dirty counters into a new pending batch.
 * null when nothing is dirty; "locked" while a reconciliation runs.
 */
export async function moveDirtyToPending(
  redis: Redis,
  limit = DEFAULT_BATCH_SIZE,
): Promise<MovedBatch | null | "locked"> {
  const batchId = `${Date.now()}-${crypto.randomUUID()}`;
  const r = await redis.eval(MOVE_SCRIPT, [PLATFORM_RECENT, pendingKey(batchId), BATCHES, LOCK, LEGACY_DIRTY_SET], [
    batchId,
    String(limit),
    String(Date.now()),
  ]);
  if (r === -1) return "locked";
  const text = typeof r === "string" ? r : "";
  if (text === "") return null;
  return { batchId, deltas: linesToDeltas(text) };
}

export type ApplyResult = {
  batch_id: string;
  applied: boolean;
  counters?: number;
  increments?: number;
  skipped_counters?: number;
  skipped_increments?: number;
};

/** Step 3: the batch into Postgres, exactly once per batch id. */
export async function applyBatchToDatabase(db: SupabaseClient, batch: MovedBatch): Promise<ApplyResult> {
  const { data, error } = await db.rpc("update_realtime_stats", {
    p_batch_id: batch.batchId,
    p_deltas: batch.deltas,
  });
  if (error) throw new Error(`update_realtime_stats(${batch.batchId}): ${error.message}`);
  return data as ApplyResult;
}

/** Step 4: forget a batch Postgres has. */
export async function forgetBatch(redis: Redis, batchId: string): Promise<void> {
  const tx = redis.multi();
  tx.del(pendingKey(batchId));
  tx.zrem(BATCHES, batchId);
  await tx.exec();
}

/** Step 1: batches moved by an earlier run that may not have reached Postgres. */
export async function pendingBatches(redis: Redis): Promise<MovedBatch[]> {
  const ids = ((await redis.zrange(BATCHES, 0, -1)) as unknown[]).map(String);
  const out: MovedBatch[] = [];
  for (const batchId of ids) {
    const h = await redis.hgetall<Record<string, unknown>>(pendingKey(batchId));
    const deltas: Deltas = {};
    for (const [k, v] of Object.entries(h ?? {})) deltas[k] = Number(v);
    out.push({ batchId, deltas });
  }
  return out;
}

export type SyncReport = {
  recoveredBatches: number;
  batches: number;
  counters: number;
  increments: number;
  skippedIncrements: number;
  locked: boolean;
};

/**
 * Steps 1-4 until nothing is dirty (or maxBatches were moved, so one run stays bounded).
 * `parallel` (default 3) move/apply loops run side by side, so Redis moves one batch while Postgres applies
 * another; each move takes a disjoint set of keys, and update_realtime_stats writes rows in id
 * order, so concurrent applies cannot deadlock.
 */
export async function syncRealtime(
  redis: Redis,
  db: SupabaseClient,
  options: { batchSize?: number; maxBatches?: number; parallel?: number } = {},
): Promise<SyncReport> {
  const report: SyncReport = {
    recoveredBatches: 0,
    batches: 0,
    counters: 0,
    increments: 0,
    skippedIncrements: 0,
    locked: false,
  };
  const count = (r: ApplyResult) => {
    if (!r.applied) return;
    report.counters += r.counters ?? 0;
    report.increments += r.increments ?? 0;
    report.skippedIncrements += r.skipped_increments ?? 0;
  };
  for (const b of await pendingBatches(redis)) {
    if (Object.keys(b.deltas).length > 0) count(await applyBatchToDatabase(db, b));
    await forgetBatch(redis, b.batchId);
    report.recoveredBatches++;
  }
  const maxBatches = options.maxBatches ?? 1000;
  let stop = false;
  const loop = async () => {
    while (!stop && report.batches < maxBatches) {
      const moved = await moveDirtyToPending(redis, options.batchSize);
      if (moved === "locked") report.locked = true;
      if (moved === "locked" || moved === null) {
        stop = true;
        break;
      }
      report.batches++;
      count(await applyBatchToDatabase(db, moved));
      await forgetBatch(redis, moved.batchId);
    }
  };
  await Promise.all([...Array(Math.max(1, options.parallel ?? 3))].map(loop));
  return report;
}

// --- reconciliation -------------------------------------------------------------------------

// KEYS: batch list, lock, rt:platform:recent, legacy dirty set, the creator cache hash (which
// holds the fence). ARGV: token, lock ttl (ms), candidate fence (epoch µs: the caller's clock).
// Refuses while a batch is pending (its deltas are neither in Redis counters nor surely in the
// totals); otherwise, in one atomic step: takes the lock, raises the fence past every counted
// received_at (member r) and the candidate, and returns the fence and every outstanding delta.
const RECONCILE_READ_SCRIPT = `
if redis.call('ZCARD', KEYS[1]) > 0 then return -1 end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return -2 end
local counted = tonumber(redis.call('ZSCORE', KEYS[3], 'r') or '0')
local fence = math.max(tonumber(redis.call('HGET', KEYS[5], '${FENCE_FIELD}') or '0'), counted + 1, tonumber(ARGV[3]))
local fenceText = string.format('%.0f', fence)
redis.call('HSET', KEYS[5], '${FENCE_FIELD}', fenceText)
local dirty = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '+inf', '+inf')) do dirty[#dirty + 1] = string.sub(m, 3) end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[4])) do dirty[#dirty + 1] = k end
local out = {}
for i = 1, #dirty, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #dirty) do chunk[#chunk + 1] = dirty[j] end
  local vals = redis.call('MGET', unpack(chunk))
  for j = 1, #chunk do
    if vals[j] then out[#out + 1] = chunk[j] .. ' ' .. vals[j] end
  end
end
return {'f' .. fenceText, table.concat(out, '\\n')}
`;
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export type ReconcileReport = {
  run_id: string;
  counters_checked: number;
  counters_repaired: number;
  increments_repaired: number;
  counters_uncertain: number;
};

/**
 * Compares the totals (+ outstanding Redis deltas) with the raw events received before a fence,
 * and repairs the difference exactly (reconcile_realtime_totals; migration
 * 20261126045100_realtime_reconcile_fence.sql explains why that is exact under load). Run right
 * after a sync, so no batch is pending.
 */
export async function reconcileRealtime(
  redis: Redis,
  db: SupabaseClient,
  options: { reason?: string } = {},
): Promise<ReconcileReport | "pending" | "locked"> {
  const token = crypto.randomUUID();
  const r = await redis.eval(RECONCILE_READ_SCRIPT, [BATCHES, LOCK, PLATFORM_RECENT, LEGACY_DIRTY_SET, MASHUP_CREATOR_HASH], [
    token,
    "300000",
    String(Date.now() * 1000),
  ]);
  if (r === -1) return "pending";
  if (r === -2) return "locked";
  try {
    const [fence, lines] = r as [string, string];
    const { data, error } = await db.rpc("reconcile_realtime_totals", {
      p_outstanding: linesToDeltas(typeof lines === "string" ? lines : ""),
      p_fence_us: String(fence).slice(1),
      p_reason: options.reason ?? "scheduled",
    });
    if (error) throw new Error(`reconcile_realtime_totals: ${error.message}`);
    return data as ReconcileReport;
  } finally {
    await redis.eval(RELEASE_SCRIPT, [LOCK], [token]);
  }
}

// --- the windows: repaired from Postgres, trimmed -------------------------------------------

// KEYS: rt:platform:recent. ARGV: cutoff (ms). Members at or before the cutoff (in their score
// band, realtime.ts's SCORE_BAND) are out of every window: removed from the platform set and from
// the set of every creator listed there (s|{id}); a creator idle since the cutoff loses the whole set.
const TRIM_SCRIPT = `
local cutoff = tonumber(ARGV[1])
local playingCutoff = tonumber(ARGV[2])
local function at(x) return string.format('%.0f', x) end
-- Out of every window: band 0 (time alone) up to the cutoff, each score band up to its cutoff, and
-- the playing band after its minute (no read looks further back).
local function trim(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', at(cutoff))
  for b = 1, 3 do
    redis.call('ZREMRANGEBYSCORE', key, at(b * ${SCORE_BAND}), at(b * ${SCORE_BAND} + cutoff))
  end
  local g = ${BAND.playing} * ${SCORE_BAND}
  redis.call('ZREMRANGEBYSCORE', key, at(g), at(g + playingCutoff))
end
-- The creators listed in the platform set (s| members, band 0 only: not the hour's members).
local all = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. at(${SCORE_BAND}), 'WITHSCORES')
local n = 0
for j = 1, #all, 2 do
  local m = all[j]
  if string.sub(m, 1, 2) == 's|' then
    local key = 'rt:c:' .. string.sub(m, 3) .. ':recent'
    if tonumber(all[j + 1]) <= cutoff then redis.call('DEL', key) else trim(key) end
    n = n + 1
  end
end
trim(KEYS[1])
return n
`;

/**
 * The wall clock (epoch ms) of the last window repair that completed: the next one reads from
 * there on. The wall clock, not the windows' clock: a pinned ANALYTICS_NOW ahead of the database
 * must not move the repair past events the database receives now.
 */
// (":v2": the score bands. A store written before them has no such key, so its first repair reads
// the whole hour and rewrites every member in its band; ZADD GT takes the higher, banded score.)
export const WINDOWS_REPAIRED_KEY = "rt:windows_repaired_at:v2";
/** Read back before the last repair's time: transactions still in flight then, clocks apart. */
export const REPAIR_OVERLAP_MS = 120_000;
/** Members per Redis request: a viral hour must not become one request of tens of megabytes. */
const MEMBERS_PER_REQUEST = 20_000;

/**
 * Writes window members from Postgres into the Redis sets (ZADD GT: a member Redis has is
 * unchanged, so this is exact while events keep arriving), in requests of at most
 * MEMBERS_PER_REQUEST members, then trims what has left every window. Returns the members added.
 */
export async function writeWindowMembers(redis: Redis, members: WindowMember[], now: number): Promise<{
  added: number;
  scopes: number;
}> {
  const sets = new Map<string, Map<string, number>>();
  const add = (k: string, m: string, score: number) => {
    const s = sets.get(k) ?? new Map<string, number>();
    s.set(m, Math.max(score, s.get(m) ?? -Infinity));
    sets.set(k, s);
  };
  for (const [creatorId, m, t] of members) {
    add(PLATFORM_RECENT, m, windowScore(m, t));
    if (creatorId) {
      add(keys.recent({ creatorId }), m, windowScore(m, t));
      add(PLATFORM_RECENT, `s|${creatorId}`, t);
    }
  }
  let added = 0;
  let p = redis.pipeline();
  let inRequest = 0;
  const flush = async () => {
    if (inRequest === 0) return;
    added += ((await p.exec()) as number[]).reduce((a, b) => a + Number(b), 0);
    p = redis.pipeline();
    inRequest = 0;
  };
  for (const [k, s] of sets) {
    const pairs = [...s].map(([member, score]) => ({ score, member }));
    for (let i = 0; i < pairs.length; i += 1000) {
      const [first, ...rest] = pairs.slice(i, i + 1000);
      p.zadd(k, { gt: true }, first, ...rest);
      inRequest += 1 + rest.length;
      if (inRequest >= MEMBERS_PER_REQUEST) await flush();
    }
  }
  await flush();
  await redis.eval(TRIM_SCRIPT, [PLATFORM_RECENT], [
    String(now - LAST_HOUR_MS),
    String(now - PLAYING_WINDOW_MS),
  ]);
  return { added, scopes: sets.size };
}

/**
 * Every sync run: writes the members Postgres gives into the Redis sets and trims (above), which
 * repairs whatever an outage or a failed write left out. It reads only the events received since
 * the last completed repair (less REPAIR_OVERLAP_MS): its cost follows what arrived, not the
 * busiest hour (a mashup with 300,000 plays in the hour made every run move 35 MB). `full` reads
 * the whole hour: after Redis lost its data, after an erasure, on the hourly reconciliation's run
 * (a set lost on its own, an evicted key, is whole again within the hour), and whenever the last
 * repair is older than the hour or ahead of the clock.
 */
export async function repairRealtimeWindows(
  redis: Redis,
  db: SupabaseClient,
  now = realtimeNow(),
  opts: { full?: boolean } = {},
): Promise<{
  members: number;
  added: number;
  scopes: number;
  since: string | null;
}> {
  const wall = Date.now();
  const last = opts.full ? null : Number((await redis.get<string | number>(WINDOWS_REPAIRED_KEY)) ?? NaN);
  const recent = last !== null && Number.isFinite(last) && last <= wall &&
    last - REPAIR_OVERLAP_MS > wall - LAST_HOUR_MS;
  const since = recent ? last! - REPAIR_OVERLAP_MS : undefined;
  const members = await windowMembersFromDatabase(db, now, undefined, since);
  const { added, scopes } = await writeWindowMembers(redis, members, now);
  await redis.set(WINDOWS_REPAIRED_KEY, String(wall));
  const sinceIso = since === undefined ? null : new Date(since).toISOString();
  return { members: members.length, added, scopes, since: sinceIso };
}

// --- recovery after Redis lost its data -------------------------------------------------------

export type RecoveryReport = {
  recovered: boolean;
  reconcile?: ReconcileReport | "pending" | "locked";
};

/**
 * If rt:epoch is missing, Redis lost (or never had) its realtime data: reconcile the totals (the
 * increments lost with Redis are repaired from raw events) and set rt:epoch. The windows are
 * repaired by every sync run anyway. Cheap when nothing was lost: one EXISTS.
 */
export async function recoverIfRedisLostData(redis: Redis, db: SupabaseClient): Promise<RecoveryReport> {
  if ((await redis.exists(EPOCH)) === 1) return { recovered: false };
  // Batches listed before the loss are gone with it; whatever was applied is in the totals, and
  // what was not is repaired below from raw events.
  await syncRealtime(redis, db);
  const reconcile = await reconcileRealtime(redis, db, { reason: "redis-recovery" });
  if (typeof reconcile === "object") await redis.set(EPOCH, new Date().toISOString());
  return { recovered: true, reconcile };
}
