// bench/ingest: events per second through the track function with batches of 1, 50 and 500,
// against COPY of the same rows into the same table (public.analytics_events) in the same run,
// plus single-event latency (p50, p95). Runs against the running stack (`npm start`).
//
//   node_modules/.bin/deno run --allow-all --config deno.json bench/ingest.ts [--events 20000] [--rounds 3]
//        [--concurrency 4] [--latency 1000]
//
// Each round stores `events` rows by COPY, then the same number through the function with batches
// of 500 and 50, then `events / 10` single-event requests; figures are medians over the rounds.
// Every request is a new batch of new events from a phone's browser (so none is a duplicate or a
// bot): the full path of validation, enrichment, the RPC and the Redis counters. The bench's rows
// and counters are deleted afterwards. Results also go to bench/results/ingest-<time>.json.
import { parseArgs } from "node:util";
import { ENV as env } from "../tests/_support/env.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    events: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "4" },
    latency: { type: "string", default: "1000" },
  },
});
const EVENTS = Number(args.events);
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);
const LATENCY_SAMPLES = Number(args.latency);

const ROOT = new URL("..", import.meta.url).pathname;
const TRACK_URL = `${env.SUPABASE_URL}/functions/v1/track`;
const BROWSER_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const RUN = `bench-${Date.now().toString(36)}`;
const MASHUPS = Array.from({ length: 20 }, () => crypto.randomUUID());
// track limits anonymous traffic per client IP (docs/ingestion.md, Rate limits): the bench speaks
// from 64 loopback addresses, round robin, as that many visitors would, each with kept-alive
// connections.
const CLIENTS = Array.from(
  { length: 64 },
  (_, i) => Deno.createHttpClient({ localAddress: `127.0.77.${i + 1}` } as Deno.CreateHttpClientOptions),
);
let nextClient = 0;

type Event = {
  type: string;
  id: string;
  timestamp: string;
  session_id: string;
  anonymous_id: string;
  properties: Record<string, unknown>;
};

/** A realistic mix: mostly plays and their heartbeats, some likes. */
function makeEvents(n: number): Event[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const mashup = MASHUPS[i % MASHUPS.length];
    const kind = i % 4;
    const properties = kind === 0
      ? { mashup_id: mashup, source: "https://t.co/x", auto_play: false, play_id: crypto.randomUUID() }
      : kind === 3
      ? { mashup_id: mashup }
      : { mashup_id: mashup, play_id: crypto.randomUUID(), position_seconds: 30 * kind, duration_seconds: 185 };
    return {
      type: ["mashup_played", "mashup_play_progress", "mashup_play_progress", "mashup_liked"][kind],
      id: crypto.randomUUID(),
      timestamp: new Date(now - (n - i)).toISOString(),
      session_id: `${RUN}-s${i % 500}`,
      anonymous_id: `${RUN}-a${i % 1000}`,
      properties,
    };
  });
}

async function post(events: Event[]): Promise<void> {
  const body = events.length === 1 ? events[0] : { events };
  const res = await fetch(TRACK_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json", "User-Agent": BROWSER_UA, "cf-ipcountry": "DE" },
    body: JSON.stringify(body),
    client: CLIENTS[nextClient++ % CLIENTS.length],
  } as RequestInit);
  const answer = await res.json();
  if (res.status !== 200 || answer.accepted !== events.length) {
    throw new Error(`unexpected answer ${res.status} ${JSON.stringify(answer).slice(0, 300)}`);
  }
}

/** Events per second posting `events` in batches of `size`, `CONCURRENCY` requests in flight. */
async function throughFunction(events: Event[], size: number): Promise<number> {
  const batches: Event[][] = [];
  for (let i = 0; i < events.length; i += size) batches.push(events.slice(i, i + size));
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < batches.length) await post(batches[next++]);
  }));
  return events.length / ((performance.now() - started) / 1000);
}

function psql(args: string[], stdin?: string): Promise<{ ms: number; out: string }> {
  const cmd = new Deno.Command("psql", {
    args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", env.SUPABASE_DB_URL, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const started = performance.now();
  const child = cmd.spawn();
  return (async () => {
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    const ms = performance.now() - started;
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return { ms, out: new TextDecoder().decode(out.stdout) };
  })();
}

const csv = (v: string | null) => (v === null ? "" : `"${v.replaceAll('"', '""')}"`);

/** Rows per second for COPY of the rows the function would store (same columns, same enrichment). */
async function throughCopy(events: Event[]): Promise<number> {
  const rows = events.map((e) =>
    [
      e.id,
      e.type,
      JSON.stringify(e.type === "mashup_played" ? { ...e.properties, source: "twitter" } : e.properties),
      e.timestamp,
      e.session_id,
      e.anonymous_id,
      "DE",
      "mobile",
    ].map(csv).join(",")
  ).join("\n") + "\n";
  const { ms } = await psql([
    "-c",
    "\\copy public.analytics_events (id, event_type, properties, \"timestamp\", session_id, anonymous_id, country, device) from stdin with (format csv)",
  ], rows);
  return events.length / (ms / 1000);
}

async function latencies(n: number): Promise<{ p50: number; p95: number; mean: number }> {
  const events = makeEvents(n);
  const ms: number[] = [];
  for (const e of events) {
    const started = performance.now();
    await post([e]);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  return { p50: at(0.5), p95: at(0.95), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Math.round(x);

async function cleanUp() {
  await psql(["-c", `delete from public.analytics_events where session_id like '${RUN}-%'`]);
  const keys = MASHUPS.flatMap((m) => ["plays", "likes"].map((c) => `mashup:${m}:${c}`));
  await new Deno.Command("redis-cli", {
    args: ["-p", env.REDIS_PORT, "del", ...keys],
    env: { REDISCLI_AUTH: env.REDIS_PASSWORD },
    stdout: "null",
  }).output();
}

console.log(`bench/ingest: ${EVENTS} events per measurement, ${ROUNDS} rounds, concurrency ${CONCURRENCY}`);
await post(makeEvents(50)); // warm up the function worker, the pools and the plans
const results = { copy: [] as number[], batch500: [] as number[], batch50: [] as number[], batch1: [] as number[] };
try {
  for (let r = 1; r <= ROUNDS; r++) {
    results.copy.push(await throughCopy(makeEvents(EVENTS)));
    results.batch500.push(await throughFunction(makeEvents(EVENTS), 500));
    results.batch50.push(await throughFunction(makeEvents(EVENTS), 50));
    results.batch1.push(await throughFunction(makeEvents(Math.max(100, EVENTS / 10)), 1));
    console.log(
      `round ${r}: COPY ${round(results.copy.at(-1)!)}/s, batch 500 ${round(results.batch500.at(-1)!)}/s, ` +
        `batch 50 ${round(results.batch50.at(-1)!)}/s, batch 1 ${round(results.batch1.at(-1)!)}/s`,
    );
  }
  const latency = await latencies(LATENCY_SAMPLES);
  const copy = median(results.copy);
  const line = (name: string, xs: number[]) =>
    `| ${name} | ${round(median(xs))} | ${Math.round((median(xs) / copy) * 100)}% |`;
  const table = [
    "| path | events/s (median) | of COPY |",
    "|---|---:|---:|",
    `| COPY into analytics_events (baseline, psql \\copy) | ${round(copy)} | 100% |`,
    line("track, batches of 500", results.batch500),
    line("track, batches of 50", results.batch50),
    line("track, one event per request", results.batch1),
    "",
    `single event, sequential (${LATENCY_SAMPLES} requests): p50 ${latency.p50.toFixed(1)} ms, ` +
    `p95 ${latency.p95.toFixed(1)} ms, mean ${latency.mean.toFixed(1)} ms`,
  ].join("\n");
  console.log(`\n${table}`);
  const ratios = results.batch500.map((x, i) => x / results.copy[i]);
  console.log(`batches of 500 / COPY per round: ${ratios.map((r) => `${Math.round(r * 100)}%`).join(", ")}`);
  const ratio = median(results.batch500) / copy;
  console.log(`\ntarget: batches of 500 >= 50% of COPY: ${ratio >= 0.5 ? "met" : "MISSED"} (${Math.round(ratio * 100)}%)`);
  console.log(`target: single-event p95 < 20 ms: ${latency.p95 < 20 ? "met" : "MISSED"} (${latency.p95.toFixed(1)} ms)`);
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  await Deno.writeTextFile(
    `${ROOT}bench/results/ingest-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
    JSON.stringify({ events: EVENTS, rounds: ROUNDS, concurrency: CONCURRENCY, results, latency }, null, 2),
  );
} finally {
  await cleanUp();
}
