// bench/realtime/commands: Redis commands per event, as Redis itself counts them (INFO
// commandstats, every command including those a script runs), and what they cost at Upstash's
// pay-as-you-go price ($0.20 per 100,000 commands: https://upstash.com/pricing/redis and
// https://upstash.com/docs/redis/overall/billing). Issue 14's targets: <= 6 commands for a
// single-event request, <= 0.5 per event in a batch of 50.
//
// Each case runs the same events through today's recordRealtime and through the recording as it
// was before the cut (bench/realtime/baseline_record.ts, commit e04b96b), in the same run, with a
// warm creator cache (steady state), each case 5 times (median). Then today's code end to end:
// POST /functions/v1/track as the service role (whose only Redis work is that recording) and
// anonymously (plus track's rate limits).
// Run against the local stack (npm start first):
//   STACK_PORT=55400 node_modules/.bin/deno run --allow-all --config deno.json bench/realtime/commands.ts
// Writes bench/results/realtime-commands.json. Cleans up what it created. Measures on the stack's
// redis-server: keep other clients of this stack quiet while it runs (a few seconds).
import { Redis } from "@upstash/redis";
import postgres from "postgres";
import { type RealtimeEvent, readRealtime, recordRealtime } from "../../functions/_shared/realtime.ts";
import { fillMashupCreators } from "../../functions/_shared/creator_cache.ts";
import {
  readRealtime as readBefore,
  type RealtimeEvent as EventBefore,
  recordRealtime as recordBefore,
} from "./baseline_record.ts";

const env: Record<string, string> = {};
for (const line of Deno.readTextFileSync(new URL("../../.env.local", import.meta.url)).split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) env[m[1]] = m[2];
}
for (const k of ["SUPABASE_DB_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"]) Deno.env.set(k, env[k]);
const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, retry: false });
const sql = postgres(env.SUPABASE_DB_URL, { max: 2, onnotice: () => {} });
const RUNS = 5;
/** Upstash pay-as-you-go: $0.20 per 100,000 commands. */
const DOLLARS_PER_COMMAND = 0.2 / 100_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Calls per command name since the server started, from redis-server itself. */
async function commandStats(): Promise<Map<string, number>> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", env.REDIS_PORT, "info", "commandstats"],
    env: { REDISCLI_AUTH: env.REDIS_PASSWORD ?? "" },
  }).output();
  const stats = new Map<string, number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^cmdstat_([a-z|_-]+):calls=(\d+)/.exec(line.trim());
    // INFO is this bench's own; AUTH is the local REST endpoint logging into redis-server on a
    // new pooled connection (Upstash authenticates the HTTP token, no command is billed for it).
    if (m && m[1] !== "info" && m[1] !== "auth") stats.set(m[1], Number(m[2]));
  }
  return stats;
}

type Commands = { total: number; by: Record<string, number> };

/** The commands one call of `work` made Redis run: total and per command name. */
async function commandsOfOnce(work: () => Promise<unknown>): Promise<Commands> {
  const before = await commandStats();
  await work();
  const after = await commandStats();
  const by: Record<string, number> = {};
  let total = 0;
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) {
      by[name] = d;
      total += d;
    }
  }
  return { total, by };
}

/** The median of RUNS calls of `work`. */
async function commandsOf(work: () => Promise<unknown>): Promise<Commands> {
  const runs: Commands[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(await commandsOfOnce(work));
  const m = median(runs.map((r) => r.total));
  return runs.find((r) => r.total === m)!;
}

// --- fixture: 20 creators with 20 mashups each -----------------------------------------------
const creators = [...Array(20)].map(() => crypto.randomUUID());
for (const id of creators) {
  await sql`insert into auth.users (id, aud, role, email) values (${id}, 'authenticated', 'authenticated', ${`bench-cmd-${id}@bench.local`})`;
}
const mashupsOf = new Map<string, string[]>();
for (const c of creators) {
  mashupsOf.set(
    c,
    (await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
      select ${c}, 'bench ' || i, 180 from generate_series(1, 20) as i returning id`).map((r) => r.id),
  );
}
const allMashups = [...mashupsOf.values()].flat();
await fillMashupCreators(redis, allMashups); // warm cache: the steady state of a platform

// A clock in 2001: nothing written here shows in anyone's current windows, and the sync trims it.
const benchNow = Date.UTC(2001, 0, 1, 12);
const RUN = `cmd-${Date.now().toString(36)}`;

/** bench/ingest's mix (plays, two heartbeats, likes) over the mashups given, one per event in turn. */
function mix(n: number, mashups: string[]): RealtimeEvent[] {
  const receivedAtUs = Date.now() * 1000; // after any fence: nothing is refused
  return [...Array(n)].map((_, i) => ({
    id: crypto.randomUUID(),
    type: ["mashup_played", "mashup_play_progress", "mashup_play_progress", "mashup_liked"][i % 4],
    mashupId: mashups[i % mashups.length],
    listenerKey: `a:${RUN}-${i % 7}`,
    timestamp: new Date(benchNow - (n - i) * 100).toISOString(),
    receivedAtUs,
    properties: {},
  }));
}
const single = (type: string): RealtimeEvent[] => mix(1, mashupsOf.get(creators[0])!).map((e) => ({ ...e, type }));

type Case = { name: string; events: () => RealtimeEvent[] };
const cases: Case[] = [
  { name: "single event: mashup_played", events: () => single("mashup_played") },
  { name: "single event: mashup_play_progress", events: () => single("mashup_play_progress") },
  { name: "single event: mashup_liked", events: () => single("mashup_liked") },
  {
    name: "batch of 50: bench/ingest mix, 20 mashups of one creator",
    events: () => mix(50, mashupsOf.get(creators[0])!),
  },
  {
    name: "batch of 50: same mix, 20 mashups of 20 creators",
    events: () => mix(50, creators.map((c) => mashupsOf.get(c)![0])),
  },
  { name: "batch of 50: 50 different mashups (10 creators x 5)", events: () => mix(50, allMashups.slice(0, 50)) },
];

const lookup = async () => new Map<string, string>(); // never reached: the cache is warm
const rows: { case: string; events: number; before: number; after: number; beforeBy: object; afterBy: object }[] = [];
for (const c of cases) {
  const before = await commandsOf(() =>
    recordBefore(c.events() as EventBefore[], redis, { now: benchNow, creatorsOf: lookup })
  );
  const after = await commandsOf(async () => {
    const r = await recordRealtime(c.events(), redis, { now: benchNow, creatorsOf: lookup });
    if (r.refused > 0) throw new Error("increments refused by the fence: the bench's clock is behind it");
  });
  rows.push({
    case: c.name,
    events: c.events().length,
    before: before.total,
    after: after.total,
    beforeBy: before.by,
    afterBy: after.by,
  });
}

// One poll of the page's live panel (creator scope with 20 mashups playing), before and after.
const reads = {
  before: await commandsOf(() => readBefore({ creatorId: creators[0] }, { now: benchNow, redis })),
  after: await commandsOf(() => readRealtime({ creatorId: creators[0] }, { now: benchNow, redis })),
};

// End to end through the track function (today's code): one event, then a batch of 50.
const trackUrl = `${env.SUPABASE_URL}/functions/v1/track`;
const trackedIds: string[] = [];
type Visitor = { anonymousId: string; fetch: typeof fetch };
let visitors = 0;
/** A new visitor: their own anonymous id, speaking from their own loopback address (their IP). */
function newVisitor(): Visitor {
  visitors++;
  const address = `127.${100 + (visitors >> 16)}.${(visitors >> 8) & 255}.${visitors & 255}`;
  const client = Deno.createHttpClient({ localAddress: address } as Deno.CreateHttpClientOptions);
  return {
    anonymousId: `${RUN}-visitor-${visitors}`,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)) as typeof fetch,
  };
}
const MIX = ["mashup_played", "mashup_play_progress", "mashup_play_progress", "mashup_liked"];

async function post(n: number, asService = false, visitor?: Visitor, types = MIX) {
  const mashups = mashupsOf.get(creators[0])!;
  const events = [...Array(n)].map((_, i) => {
    const id = crypto.randomUUID();
    trackedIds.push(id);
    const type = types[i % types.length];
    const mashup_id = mashups[i % mashups.length];
    const properties = type === "mashup_played"
      ? { mashup_id, source: "twitter", auto_play: false, play_id: crypto.randomUUID() }
      : type === "mashup_liked"
      ? { mashup_id }
      : { mashup_id, play_id: crypto.randomUUID(), position_seconds: 30, duration_seconds: 185 };
    const anonymous_id = visitor?.anonymousId ?? `${RUN}-${i % 7}`;
    return { id, type, anonymous_id, session_id: `${RUN}-s`, properties };
  });
  const res = await (visitor?.fetch ?? fetch)(trackUrl, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
      ...(asService ? { Authorization: `Bearer ${env.SUPABASE_SERVICE_ROLE_KEY}` } : {}),
    },
    body: JSON.stringify(n === 1 ? events[0] : { events }),
  });
  const body = await res.json();
  if (body.accepted !== n) throw new Error(`track accepted ${JSON.stringify(body)}`);
}
await post(1); // warm the worker and its pools
// Anonymous requests also pass track's rate limits (two @upstash/ratelimit token buckets, per IP and
// per anonymous id, taken in blocks: docs/ingestion.md); the service role's are not limited, so
// they show the realtime recording alone.
const viaTrack = {
  single: await commandsOf(() => post(1, true)),
  batch50: await commandsOf(() => post(50, true)),
  anonymousSingle: await commandsOf(() => post(1)),
  anonymousBatch50: await commandsOf(() => post(50)),
};

// Visitors as a browser sends them: single-event requests, each visitor from a new IP with a new
// anonymous id. A listening visit: a play, 17 progress heartbeats (every 10 s for 3 minutes), the
// end of the play and a like = 20 requests.
const VISIT = ["mashup_played", ...Array(17).fill("mashup_play_progress"), "mashup_play_ended", "mashup_liked"];
const firstRequest = await commandsOf(() => post(1, false, newVisitor(), ["mashup_played"]));
const steady = newVisitor();
await post(1, false, steady, ["mashup_played"]);
const nextRequest = await commandsOf(() => post(1, false, steady, ["mashup_played"]));
const visits: { total: number; perRequest: number[] }[] = [];
for (let v = 0; v < RUNS; v++) {
  const visitor = newVisitor();
  const perRequest: number[] = [];
  for (const type of VISIT) perRequest.push((await commandsOfOnce(() => post(1, false, visitor, [type]))).total);
  visits.push({ total: perRequest.reduce((a, b) => a + b, 0), perRequest });
}
const visit = visits.sort((a, b) => a.total - b.total)[Math.floor(visits.length / 2)];

// Baseline, same run: the limiter as it was before the blocks (commit 4b8beaf): every anonymous
// request asked both token buckets in Redis (@upstash/ratelimit, the same settings as track's).
const { Ratelimit } = await import("@upstash/ratelimit");
const perRequestLimiter = [3000, 120].map((max, i) =>
  new Ratelimit({
    redis,
    limiter: Ratelimit.tokenBucket(max / 60, "1000 ms", max),
    prefix: `rl:bench-before:${RUN}:${i}`,
    ephemeralCache: false,
    analytics: false,
  })
);
const limiterBefore = await commandsOf(() =>
  Promise.all(perRequestLimiter.map((rl) => rl.limit(`bench-${RUN}`, { rate: 1 })))
);
await redis.del(...[0, 1].map((i) => `rl:bench-before:${RUN}:${i}:bench-${RUN}`));

// --- cleanup -------------------------------------------------------------------------------------
const counterKeys = allMashups.flatMap((m) =>
  ["plays", "likes"].map((c) => `mashup:${m}:${c}`)
);
await redis.del(...counterKeys);
await redis.zrem("rt:platform:recent", ...counterKeys.map((k) => `d|${k}`));
await redis.srem("rt:dirty", ...counterKeys);
await redis.hdel("rt:mashup_creator", ...allMashups);
for (const c of creators) {
  await redis.del(`rt:c:${c}:recent`, `rt:c:${c}:active`, `rt:c:${c}:playing`);
}
await sql`delete from public.analytics_events where id = any(${trackedIds}::uuid[])`;
await sql`delete from auth.users where id = any(${creators}::uuid[])`; // cascades to the mashups
await sql.end();

// --- report ----------------------------------------------------------------------------------------
const perEvent = (n: number, events: number) => n / events;
const dollars = (n: number, events: number) => perEvent(n, events) * DOLLARS_PER_COMMAND * 1_000_000;
console.log(`\nRedis commands per event (INFO commandstats, median of ${RUNS}), and $ per million events at`);
console.log("Upstash pay-as-you-go ($0.20 per 100k commands). Before = commit e04b96b's recording, same run.\n");
console.log(
  "case".padEnd(56) + "events".padStart(7) + "  commands before -> after".padStart(28) + "  per event".padStart(20) +
    "  $/M events".padStart(22),
);
for (const r of rows) {
  console.log(
    r.case.padEnd(56) + String(r.events).padStart(7) + `${r.before} -> ${r.after}`.padStart(28) +
      `${perEvent(r.before, r.events).toFixed(2)} -> ${perEvent(r.after, r.events).toFixed(2)}`.padStart(20) +
      `${dollars(r.before, r.events).toFixed(2)} -> ${dollars(r.after, r.events).toFixed(2)}`.padStart(22),
  );
}
console.log(
  `\nOne poll of the live panel (creator, 20 mashups playing): ${reads.before.total} -> ${reads.after.total} commands`,
);
console.log(
  `Through POST /track as the service role (not rate limited): single event ${viaTrack.single.total} commands ${
    JSON.stringify(viaTrack.single.by)
  }; batch of 50 ${viaTrack.batch50.total} (${(viaTrack.batch50.total / 50).toFixed(2)}/event) ${
    JSON.stringify(viaTrack.batch50.by)
  }`,
);
console.log(
  `Through POST /track anonymously (rate limited): single event ${viaTrack.anonymousSingle.total} commands ${
    JSON.stringify(viaTrack.anonymousSingle.by)
  }; batch of 50 ${viaTrack.anonymousBatch50.total} (${(viaTrack.anonymousBatch50.total / 50).toFixed(2)}/event)`,
);
const before1 = viaTrack.single.total + limiterBefore.total;
console.log(
  `\nAnonymous single-event requests as visitors send them (track's limits in blocks; before = the same ` +
    `recording plus both buckets asked per request, ${limiterBefore.total} commands ${JSON.stringify(limiterBefore.by)}, same run):`,
);
console.log(`  a new visitor's first request (new IP, new anonymous id): ${firstRequest.total} commands ${JSON.stringify(firstRequest.by)} (before ${before1})`);
console.log(`  the same visitor's next request: ${nextRequest.total} commands ${JSON.stringify(nextRequest.by)} (before ${before1})`);
console.log(
  `  a listening visit, ${VISIT.length} single-event requests (play, 17 heartbeats, end, like), median of ${RUNS} visitors: ` +
    `${visit.total} commands = ${(visit.total / VISIT.length).toFixed(2)} per request, most in one request ` +
    `${Math.max(...visit.perRequest)} (${visit.perRequest.join(" ")}); $${dollars(visit.total, VISIT.length).toFixed(2)} per million events`,
);
console.log("\nPer command, after:");
for (const r of rows) console.log(`  ${r.case}: ${JSON.stringify(r.afterBy)}`);
console.log("Per command, before:");
for (const r of rows) console.log(`  ${r.case}: ${JSON.stringify(r.beforeBy)}`);

await Deno.mkdir(new URL("../results", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("../results/realtime-commands.json", import.meta.url),
  JSON.stringify({ dollarsPerCommand: DOLLARS_PER_COMMAND, runs: RUNS, rows, reads, viaTrack, firstRequest, nextRequest, visit, limiterBefore }, null, 2),
);
