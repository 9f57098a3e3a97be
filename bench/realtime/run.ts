// bench/realtime: how fast the realtime layer counts, and how fast the sync empties Redis.
//   1. INCR/s through @upstash/redis (REST, pipelined) against redis-benchmark -t incr on the same
//      redis-server (RESP, no REST), in the same run: the cost of the Upstash protocol layer.
//   2. Events/s through recordRealtime (every structure: counters, dirty set, presence,
//      playing-now, lastHour members, platform + creator scope), batches of 100 as track sends them.
//   3. Time to sync 100k dirty counters into Postgres (target <= 2 s), the realtime-sync path, marked
//      as recordRealtime marks them and, as the same-run baseline, in the legacy rt:dirty set.
// Run against the local stack (npm start first):
//   STACK_PORT=57321 node_modules/.bin/deno run --allow-all --config deno.json bench/realtime/run.ts
// Writes its figures to bench/results/realtime.json as well. Cleans up what it created.
import { Redis } from "@upstash/redis";
import postgres from "postgres";
import { createClient } from "@supabase/supabase-js";
import { PLATFORM_RECENT, type RealtimeEvent, recordRealtime } from "../../functions/_shared/realtime.ts";
import { syncRealtime } from "../../functions/_shared/realtime_sync.ts";

const env: Record<string, string> = {};
for (const line of Deno.readTextFileSync(new URL("../../.env.local", import.meta.url)).split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) env[m[1]] = m[2];
}
const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
// The sync's client, as the realtime-sync function builds it (redisBulkClient: no base64).
const bulkRedis = new Redis({
  url: env.UPSTASH_REDIS_REST_URL,
  token: env.UPSTASH_REDIS_REST_TOKEN,
  responseEncoding: false,
});
const service = createClient(env.SUPABASE_URL, env.SUPABASE_SERVICE_ROLE_KEY, {
  auth: { persistSession: false },
});
const sql = postgres(env.SUPABASE_DB_URL, { max: 2, onnotice: () => {} });
const RUNS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function redisBenchmark(pipeline: number, n: number): Promise<number> {
  const out = await new Deno.Command("redis-benchmark", {
    args: ["-p", env.REDIS_PORT, "-a", env.REDIS_PASSWORD, "-t", "incr", "-n", String(n), "-P", String(pipeline), "-c", "4", "-q"],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /INCR: ([\d.]+) requests per second/.exec(text.replaceAll("\r", "\n"));
  if (!m) throw new Error(`redis-benchmark said: ${text}`);
  return Number(m[1]);
}

async function upstashIncr(n: number, pipelineSize: number, concurrency: number): Promise<number> {
  const per = Math.ceil(n / concurrency);
  const started = performance.now();
  await Promise.all([...Array(concurrency)].map(async (_, w) => {
    for (let done = 0; done < per; done += pipelineSize) {
      const p = redis.pipeline();
      for (let i = 0; i < pipelineSize && done + i < per; i++) {
        p.incr(`bench:incr:${w}:${(done + i) % 10_000}`);
      }
      await p.exec();
    }
  }));
  return n / ((performance.now() - started) / 1000);
}

async function cleanupKeys(pattern: string) {
  // SCAN, never KEYS (the point of this whole issue).
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: pattern, count: 5000 });
    if (keys.length) await redis.del(...keys);
    cursor = String(next);
  } while (cursor !== "0");
}

// --- 1. increments per second -----------------------------------------------------------------
const N = 200_000;
const rows: Record<string, number[]> = {
  "redis-benchmark -t incr -P 1 -c 4 (RESP, unpipelined)": [],
  "redis-benchmark -t incr -P 1000 -c 4 (RESP, pipelined)": [],
  "@upstash/redis pipeline 1000 x 1 (REST)": [],
  "@upstash/redis pipeline 1000 x 4 concurrent (REST)": [],
};
for (let r = 0; r < RUNS; r++) {
  rows["redis-benchmark -t incr -P 1 -c 4 (RESP, unpipelined)"].push(await redisBenchmark(1, N / 2));
  rows["redis-benchmark -t incr -P 1000 -c 4 (RESP, pipelined)"].push(await redisBenchmark(1000, N * 5));
  rows["@upstash/redis pipeline 1000 x 1 (REST)"].push(await upstashIncr(N, 1000, 1));
  rows["@upstash/redis pipeline 1000 x 4 concurrent (REST)"].push(await upstashIncr(N, 1000, 4));
}
await cleanupKeys("bench:incr:*");
await cleanupKeys("key:__rand_int__");

// --- fixture: a bench creator with 100k mashups (deleted at the end) -------------------------------
const COUNTERS = 100_000;
const creatorId = crypto.randomUUID();
await sql`insert into auth.users (id, aud, role, email) values (${creatorId}, 'authenticated', 'authenticated', ${`bench-${creatorId}@bench.local`})`;
const mashupIds =
  (await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
  select ${creatorId}, 'bench ' || i, 180 from generate_series(1, ${COUNTERS}) as i returning id`).map((r) =>
    r.id
  );

// --- 2. recordRealtime events per second ---------------------------------------------------------
// A clock in 2001: the bench's presence and buckets never show in anyone's current windows.
const benchNow = Date.UTC(2001, 0, 1, 12);
const TYPES = [
  "mashup_played",
  "mashup_play_progress",
  "mashup_play_progress",
  "mashup_liked",
  "mashup_shared",
];
const recordRates: number[] = [];
let recordedPlays = 0;
for (let r = 0; r < RUNS; r++) {
  const batches = 200;
  const started = performance.now();
  await Promise.all([...Array(4)].map(async (_, w) => {
    for (let b = w; b < batches; b += 4) {
      const events: RealtimeEvent[] = [...Array(100)].map((_, i) => ({
        id: crypto.randomUUID(),
        receivedAtUs: Date.now() * 1000,
        type: TYPES[(b + i) % TYPES.length],
        mashupId: mashupIds[(b * 100 + i) % 5000],
        creatorId,
        listenerKey: `a:bench-${(b * 37 + i) % 3000}`,
        timestamp: new Date(benchNow - (i % 60) * 1000).toISOString(),
        properties: {},
      }));
      recordedPlays += events.filter((e) => e.type === "mashup_played").length;
      await recordRealtime(events, redis, { now: benchNow });
    }
  }));
  recordRates.push((batches * 100) / ((performance.now() - started) / 1000));
}

// --- 3. sync 100k dirty counters -------------------------------------------------------------------
await syncRealtime(bulkRedis, service); // start from an empty dirty set (and sync part 2's plays)
// Marked as recordRealtime marks them (d| members of rt:platform:recent) and, as the baseline in the
// same run, as the recording before them did (the rt:dirty set, still drained after an upgrade).
const syncMs: number[] = [];
const legacySyncMs: number[] = [];
let lastReport = {};
for (let r = 0; r < RUNS; r++) {
  for (const legacy of [false, true]) {
    for (let i = 0; i < COUNTERS; i += 5000) {
      const p = redis.pipeline();
      for (const id of mashupIds.slice(i, i + 5000)) {
        p.incrby(`mashup:${id}:plays`, 2);
        if (legacy) p.sadd("rt:dirty", `mashup:${id}:plays`);
        // The dirty mark recordRealtime writes with the increment (score +inf, sent as Redis spells it).
        else p.zadd(PLATFORM_RECENT, { score: "+inf" as unknown as number, member: `d|mashup:${id}:plays` });
      }
      await p.exec();
    }
    const started = performance.now();
    const report = await syncRealtime(bulkRedis, service);
    (legacy ? legacySyncMs : syncMs).push(performance.now() - started);
    if (!legacy) lastReport = report;
    if (report.counters < COUNTERS) {
      throw new Error(`only ${report.counters} counters synced: ${JSON.stringify(report)}`);
    }
  }
}
const [check] = await sql<
  { n: string; s: string }[]
>`select count(*) as n, sum(plays) as s from public.mashup_realtime_totals t
  join public.mashups m on m.id = t.mashup_id where m.creator_id = ${creatorId}`;

// --- cleanup -------------------------------------------------------------------------------------
await sql`delete from auth.users where id = ${creatorId}`; // cascades to mashups and their totals
await redis.del(`rt:c:${creatorId}:recent`);
await redis.hdel("rt:mashup_creator", ...mashupIds.slice(0, 5000));
await sql.end();

// --- report ----------------------------------------------------------------------------------------
const result = {
  machine: `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, load average ${
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
  }`,
  runs: RUNS,
  incrPerSecond: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, Math.round(median(v))])),
  recordRealtimeEventsPerSecond: Math.round(median(recordRates)),
  sync100k: {
    medianMs: Math.round(median(syncMs)),
    runsMs: syncMs.map(Math.round),
    legacyDirtySetMedianMs: Math.round(median(legacySyncMs)),
    legacyRunsMs: legacySyncMs.map(Math.round),
    targetMs: 2000,
    lastReport,
    totalsCheck: {
      counters: Number(check.n),
      sum: Number(check.s),
      expectedSum: COUNTERS * 2 * RUNS * 2 + recordedPlays,
    },
  },
};
console.log("\nrealtime benchmark (medians of", RUNS, "runs) on", result.machine, "\n");
console.log("INCR per second, same redis-server, same run:");
for (const [k, v] of Object.entries(result.incrPerSecond)) {
  console.log(`  ${k.padEnd(56)} ${fmt(v).padStart(12)}`);
}
console.log(
  `\nrecordRealtime, batches of 100 events, 4 concurrent:   ${
    fmt(result.recordRealtimeEventsPerSecond)
  } events/s`,
);
console.log(
  `sync of ${fmt(COUNTERS)} dirty counters into Postgres:       ${
    fmt(result.sync100k.medianMs)
  } ms (target <= 2,000 ms; runs ${
    result.sync100k.runsMs.join(", ")
  } ms; the first run inserts the 100k total rows, the others update them)`,
);
console.log(
  `  baseline, same run, marked in the old rt:dirty set:  ${fmt(result.sync100k.legacyDirtySetMedianMs)} ms (runs ${
    result.sync100k.legacyRunsMs.join(", ")
  } ms)`,
);
console.log(
  `totals after ${RUNS} syncs: ${fmt(Number(check.n))} rows, sum ${fmt(Number(check.s))} (expected ${
    fmt(COUNTERS * 2 * RUNS * 2 + recordedPlays)
  }: ${RUNS * 2} x 2 per counter + ${fmt(recordedPlays)} plays from step 2)`,
);
await Deno.mkdir(new URL("../results", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("../results/realtime.json", import.meta.url),
  JSON.stringify(result, null, 2),
);
