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
//   2. A Lua script, atomic in Redis: SPOP up to N dirty keys, take and delete their values
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
  ACTIVE_WINDOW_MS,
  DIRTY_SET,
  keys,
  PLAYING_WINDOW_MS,
  realtimeNow,
  type RealtimeScope,
} from "./realtime.ts";

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

// KEYS: dirty set, pending hash, batch list, lock. ARGV: batch id, max keys, time (ms).
// Returns -1 while a reconciliation holds the lock, else "key delta\nkey delta\n...": one string,
// because tens of thousands of array items cost far more over the REST protocol than one string.
const MOVE_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local popped = redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))
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
  const r = await redis.eval(MOVE_SCRIPT, [DIRTY_SET, pendingKey(batchId), BATCHES, LOCK], [
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

// KEYS: batch list, lock, dirty set. ARGV: token, lock ttl (ms).
// Refuses while a batch is pending (its deltas are neither in Redis counters nor surely in the
// totals); otherwise takes the lock and returns every outstanding delta ("key delta" lines), all
// in one atomic step.
const RECONCILE_READ_SCRIPT = `
if redis.call('ZCARD', KEYS[1]) > 0 then return -1 end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return -2 end
local dirty = redis.call('SMEMBERS', KEYS[3])
local out = {}
for i = 1, #dirty, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #dirty) do chunk[#chunk + 1] = dirty[j] end
  local vals = redis.call('MGET', unpack(chunk))
  for j = 1, #chunk do
    if vals[j] then out[#out + 1] = chunk[j] .. ' ' .. vals[j] end
  end
end
return table.concat(out, '\\n')
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
 * Compares the totals (+ outstanding Redis deltas) with raw-event counts and repairs what is
 * certainly drift (reconcile_realtime_totals). Run right after a sync, so no batch is pending.
 * settleSeconds: how long after storing an event its Redis increment may still be on its way.
 */
export async function reconcileRealtime(
  redis: Redis,
  db: SupabaseClient,
  options: { settleSeconds?: number; reason?: string } = {},
): Promise<ReconcileReport | "pending" | "locked"> {
  const token = crypto.randomUUID();
  // The read time is taken before Redis is read: earlier is the safe side (more events uncertain).
  const readAt = new Date(Date.now());
  const r = await redis.eval(RECONCILE_READ_SCRIPT, [BATCHES, LOCK, DIRTY_SET], [token, "300000"]);
  if (r === -1) return "pending";
  if (r === -2) return "locked";
  try {
    const outstanding = linesToDeltas(typeof r === "string" ? r : "");
    const { data, error } = await db.rpc("reconcile_realtime_totals", {
      p_outstanding: outstanding,
      p_read_at: readAt.toISOString(),
      p_settle_seconds: options.settleSeconds ?? DEFAULT_SETTLE_SECONDS,
      p_reason: options.reason ?? "scheduled",
    });
    if (error) throw new Error(`reconcile_realtime_totals: ${error.message}`);
    return data as ReconcileReport;
  } finally {
    await redis.eval(RELEASE_SCRIPT, [LOCK], [token]);
  }
}

// --- recovery after Redis lost its data -------------------------------------------------------

type Activity = {
  active: [string | null, string, number][];
  playing: [string | null, string, string, number][];
  minutes: [string | null, number, string, number][];
};

/**
 * Rebuilds the realtime windows (presence, playing now, minute buckets of the last hour) from
 * raw events, as realtime_recent_activity computes them at `now`. Sorted sets take the later of
 * the two times (ZADD GT); minute buckets are overwritten with the database's counts.
 */
export async function rebuildRealtimeWindows(redis: Redis, db: SupabaseClient, now = realtimeNow()): Promise<{
  active: number;
  playing: number;
  minuteBuckets: number;
}> {
  const { data, error } = await db.rpc("realtime_recent_activity", { p_now: new Date(now).toISOString() });
  if (error) throw new Error(`realtime_recent_activity: ${error.message}`);
  const a = data as Activity;
  const p = redis.pipeline();
  const scopesOf = (creatorId: string | null): RealtimeScope[] =>
    creatorId ? ["platform", { creatorId }] : ["platform"];
  const touched = new Map<string, number>();
  for (const [creatorId, listener, ms] of a.active) {
    for (const s of scopesOf(creatorId)) {
      p.zadd(keys.active(s), { gt: true }, { score: ms, member: listener });
      touched.set(keys.active(s), ACTIVE_WINDOW_MS);
    }
  }
  for (const [creatorId, mashupId, listener, ms] of a.playing) {
    p.zadd(keys.playing(mashupId), { gt: true }, { score: ms, member: listener });
    touched.set(keys.playing(mashupId), PLAYING_WINDOW_MS);
    for (const s of scopesOf(creatorId)) {
      p.zadd(keys.playingIndex(s), { gt: true }, { score: ms, member: mashupId });
      touched.set(keys.playingIndex(s), PLAYING_WINDOW_MS);
    }
  }
  // Per scope and minute the sum over creators (the platform bucket adds up every creator's).
  const buckets = new Map<string, Record<string, number>>();
  for (const [creatorId, minute, counter, n] of a.minutes) {
    for (const s of scopesOf(creatorId)) {
      const k = keys.minute(s, minute);
      const b = buckets.get(k) ?? {};
      b[counter] = (b[counter] ?? 0) + n;
      buckets.set(k, b);
    }
  }
  for (const [k, fields] of buckets) {
    p.hset(k, fields);
    p.expire(k, 2 * 3600);
  }
  for (const [k, w] of touched) p.pexpire(k, 2 * w);
  if (touched.size + buckets.size > 0) await p.exec();
  return { active: a.active.length, playing: a.playing.length, minuteBuckets: buckets.size };
}

export type RecoveryReport = {
  recovered: boolean;
  windows?: { active: number; playing: number; minuteBuckets: number };
  reconcile?: ReconcileReport | "pending" | "locked";
};

/**
 * If rt:epoch is missing, Redis lost (or never had) its realtime data: rebuild the windows from
 * raw events, reconcile the totals (increments lost with Redis are repaired from raw events), and
 * set rt:epoch. Cheap when nothing was lost: one EXISTS.
 */
export async function recoverIfRedisLostData(
  redis: Redis,
  db: SupabaseClient,
  options: { now?: number; settleSeconds?: number } = {},
): Promise<RecoveryReport> {
  if ((await redis.exists(EPOCH)) === 1) return { recovered: false };
  // Batches listed before the loss are gone with it; whatever was applied is in the totals, and
  // what was not is repaired below from raw events.
  await syncRealtime(redis, db);
  const windows = await rebuildRealtimeWindows(redis, db, options.now);
  const reconcile = await reconcileRealtime(redis, db, {
    settleSeconds: options.settleSeconds,
    reason: "redis-recovery",
  });
  if (typeof reconcile === "object") await redis.set(EPOCH, new Date().toISOString());
  return { recovered: true, windows, reconcile };
}
