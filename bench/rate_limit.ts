// bench/rate_limit: what track's rate limits cost a request, measured in one run against the
// baseline of the same request not limited. Anonymous callers are limited (two token buckets, per
// client IP and per anonymous id); the service role is not, and otherwise takes the same path. So
// the bench sends single-event requests alternately as an anonymous visitor and as the service
// role, and prints the latency of each and the Redis commands each costs (from Redis's own
// INFO commandstats, read through the Upstash REST endpoint before and after each phase).
//
//   node_modules/.bin/deno run --allow-all --config deno.json bench/rate_limit.ts [--requests 300]
//
// Every request is a new event from a new anonymous id, from one of 64 loopback addresses (so no
// bucket ever refuses: this measures the check, not a refusal). The bench's rows are deleted after.
import { parseArgs } from "node:util";
import postgres from "postgres";
import { ENV as env } from "../tests/_support/env.ts";

const { values: args } = parseArgs({ args: Deno.args, options: { requests: { type: "string", default: "300" } } });
const REQUESTS = Number(args.requests);

const TRACK_URL = `${env.SUPABASE_URL}/functions/v1/track`;
const RUN = `bench-rl-${Date.now().toString(36)}`;
const UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const CLIENTS = Array.from(
  { length: 64 },
  (_, i) => Deno.createHttpClient({ localAddress: `127.0.78.${i + 1}` } as Deno.CreateHttpClientOptions),
);

async function redisCommands(): Promise<number> {
  const res = await fetch(env.UPSTASH_REDIS_REST_URL, {
    method: "POST",
    headers: { Authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}` },
    body: JSON.stringify(["INFO", "commandstats"]),
  });
  const text = String((await res.json()).result);
  let calls = 0;
  for (const m of text.matchAll(/^cmdstat_([a-z_|]+):calls=(\d+)/gm)) if (m[1] !== "info") calls += Number(m[2]);
  return calls;
}

async function send(i: number, asService: boolean): Promise<number> {
  // An event with no mashup: no counter key left behind, the same realtime writes both ways.
  const event = {
    type: "subscription_upgraded",
    id: crypto.randomUUID(),
    anonymous_id: `${RUN}-${i}`,
    properties: { from: "free", to: "pro" },
  };
  const started = performance.now();
  const res = await fetch(TRACK_URL, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "User-Agent": UA,
      ...(asService ? { Authorization: `Bearer ${env.SUPABASE_SERVICE_ROLE_KEY}` } : {}),
    },
    body: JSON.stringify(event),
    client: CLIENTS[i % CLIENTS.length],
  } as RequestInit);
  const body = await res.json();
  const ms = performance.now() - started;
  if (res.status !== 200 || body.accepted !== 1) throw new Error(`unexpected ${res.status} ${JSON.stringify(body)}`);
  return ms;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

// Warm up both paths (scripts loaded, connections open).
for (let i = 0; i < 20; i++) await send(i, i % 2 === 0);

const latency = { limited: [] as number[], unlimited: [] as number[] };
const commands = { limited: 0, unlimited: 0 };
// Alternating blocks of 10, so both see the same machine load.
for (let block = 0; block < REQUESTS / 10; block++) {
  for (const kind of ["limited", "unlimited"] as const) {
    const before = await redisCommands();
    for (let j = 0; j < 10; j++) latency[kind].push(await send(1000 + block * 20 + j + (kind === "limited" ? 0 : 10), kind === "unlimited"));
    commands[kind] += (await redisCommands()) - before;
  }
}

const n = latency.limited.length;
console.log(`bench/rate_limit: ${n} single-event requests each way, alternating blocks of 10\n`);
console.log("| request | p50 ms | p95 ms | mean ms | Redis commands / request |");
console.log("|---|---:|---:|---:|---:|");
for (const kind of ["unlimited", "limited"] as const) {
  const xs = latency[kind];
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `| ${kind === "limited" ? "anonymous (rate limited)" : "service role (not limited, baseline)"} | ` +
      `${pct(xs, 0.5).toFixed(1)} | ${pct(xs, 0.95).toFixed(1)} | ${mean.toFixed(1)} | ` +
      `${(commands[kind] / xs.length).toFixed(2)} |`,
  );
}
console.log(
  `\nlimiter cost: p50 ${(pct(latency.limited, 0.5) - pct(latency.unlimited, 0.5)).toFixed(1)} ms, ` +
    `${((commands.limited - commands.unlimited) / n).toFixed(2)} Redis commands per request`,
);

const sql = postgres(env.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
await sql`delete from public.analytics_events where anonymous_id like ${RUN + "-%"}`;
await sql.end();
for (const c of CLIENTS) c.close();
