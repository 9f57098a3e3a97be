// bench/dashboard/measure.ts (run by bench/dashboard/run.sh): latency of the analytics endpoints
// over HTTP as signed-in creators, and in the same run the dashboard built from rollups (the RPC,
// as PostgREST runs it: role authenticated plus JWT claims) against the same dashboard built
// straight from raw events (bench/dashboard/raw_dashboard.sql), alternating creator by creator.
import postgres from "postgres";
import { SignJWT } from "jose";
import { createHash } from "node:crypto";

const envFile = Deno.env.get("STACK_ENV_FILE") ?? ".env.local";
const ENV: Record<string, string> = {};
for (const line of Deno.readTextFileSync(envFile).split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) ENV[m[1]] = m[2];
}
const SAMPLES = Number(Deno.env.get("BENCH_SAMPLES") ?? 100);
const RAW_SAMPLES = Number(Deno.env.get("BENCH_RAW_SAMPLES") ?? 40);
// The period: BENCH_START..BENCH_END (half-open) in BENCH_TZ; default the last 30 days in Berlin.
const TZ = Deno.env.get("BENCH_TZ") ?? "Europe/Berlin";
const PERIOD = Deno.env.get("BENCH_START") && Deno.env.get("BENCH_END")
  ? `&start=${Deno.env.get("BENCH_START")}&end=${Deno.env.get("BENCH_END")}`
  : "";
const sql = postgres(ENV.SUPABASE_DB_URL, { max: 2, onnotice: () => {} });

const md5uuid = (s: string) => {
  const h = createHash("md5").update(s).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const [{ creators, mashups, events }] = await sql`
  select (select count(*) from auth.users where email like 'creator%@bench.local')::int as creators,
         (select count(*) from public.mashups where title like 'Bench mashup %')::int as mashups,
         -- public.analytics_events is a view over monthly partitions (issue 11): their estimates, summed.
         (select coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'raw_events.analytics_events'::regclass) as events`;
console.log(`[dashboard] ${events} raw events (estimate), ${mashups} mashups, ${creators} creators; tz ${TZ}${PERIOD || " (last 30 days)"}`);

// Deterministic sample: mostly random creators (the long tail), plus the ten biggest.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const sample: number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
while (sample.length < SAMPLES) sample.push(1 + Math.floor(rand() * (creators - 1)));
const secret = new TextEncoder().encode(ENV.SUPABASE_JWT_SECRET);
const who = await Promise.all(sample.map(async (i) => {
  const id = md5uuid(`bench-creator-${i}`);
  const token = await new SignJWT({ role: "authenticated", aud: "authenticated" }).setProtectedHeader({ alg: "HS256" })
    .setSubject(id).setIssuedAt().setExpirationTime("1h").sign(secret);
  // Creator i owns mashups i, i + creators, ...; mashup i is its most played.
  return { i, id, token, mashup: md5uuid(`bench-mashup-${i}`) };
}));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  (n=${xs.length})`;

async function timeFetch(path: string, token: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${ENV.SUPABASE_URL}/functions/v1/analytics${path}`, { headers: { Authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  return ms;
}

// Warm-up: connections, plans, caches.
for (const w of who.slice(0, 10)) {
  await timeFetch(`/dashboard?tz=${TZ}${PERIOD}`, w.token);
  await timeFetch(`/mashups/${w.mashup}?tz=${TZ}${PERIOD}`, w.token);
}

const http = { dashboard: [] as number[], mashup: [] as number[], realtime: [] as number[] };
for (const w of who) {
  http.dashboard.push(await timeFetch(`/dashboard?tz=${TZ}${PERIOD}`, w.token));
  http.mashup.push(await timeFetch(`/mashups/${w.mashup}?tz=${TZ}${PERIOD}`, w.token));
  http.realtime.push(await timeFetch(`/realtime`, w.token));
}
console.log("\nHTTP through the gateway, as the creator:");
console.log(`  GET /analytics/dashboard      ${fmt(http.dashboard)}`);
console.log(`  GET /analytics/mashups/:id    ${fmt(http.mashup)}`);
console.log(`  GET /analytics/realtime       ${fmt(http.realtime)}`);

// Same run, same creators, same period: rollup RPC vs raw scan, alternating.
const rawSql = Deno.readTextFileSync(new URL("./raw_dashboard.sql", import.meta.url));
await sql.unsafe(rawSql);
// The plan's own on-demand way: its schema has no mashup column or index (the id is inside
// properties), so events are found through its (event_type, timestamp) index and filtered on JSON.
await sql.unsafe(
  rawSql.replace("bench.dashboard_from_raw(", "bench.dashboard_from_raw_plan(")
    .replaceAll("where a.mashup_id in (select id from mine)", "where (a.properties ->> 'mashup_id')::uuid in (select id from mine)"),
);
const [{ start, end }] = Deno.env.get("BENCH_START")
  ? [{ start: Deno.env.get("BENCH_START")!, end: Deno.env.get("BENCH_END")! }]
  : await sql`select ((now() at time zone ${TZ})::date - 29)::text as start, ((now() at time zone ${TZ})::date + 1)::text as end`;
const rollupCall = (tx: postgres.TransactionSql, id: string) =>
  tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ sub: id, role: "authenticated" })}, true)`
    .then(() => tx`select public.get_creator_dashboard(${start}, ${end}, ${TZ}, '10')`);
// A new connection plans the RPC's statements once (PostgREST's pooled connections are warm, and new
// ones close after 30 s idle): printed on its own, then both of this pool's connections are warmed,
// as the HTTP part is above, with the last creator (never sampled below), for all three ways.
const first = postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
await first`select 1`; // connected: the time below is the call's, not the connection's
const t1 = performance.now();
await first.begin((tx) => rollupCall(tx, who[0].id));
const firstCall = performance.now() - t1;
await first.end();
const spare = md5uuid(`bench-creator-${creators}`);
// Two at a time: one on each connection.
await Promise.all([0, 1].map(() => sql.begin((tx) => rollupCall(tx, spare))));
await Promise.all([0, 1].map(() => sql`select bench.dashboard_from_raw(${spare}, ${start}, ${end}, ${TZ}, 10)`));
await Promise.all([0, 1].map(() => sql`select bench.dashboard_from_raw_plan(${spare}, ${start}, ${end}, ${TZ}, 10)`));
const rollup: number[] = [];
const raw: number[] = [];
const plan: number[] = [];
const rollupTop: number[] = [];
const rawTop: number[] = [];
const planTop: number[] = [];
for (const [k, w] of who.slice(0, RAW_SAMPLES).entries()) {
  let t0 = performance.now();
  await sql.begin((tx) => rollupCall(tx, w.id));
  const a = performance.now() - t0;
  t0 = performance.now();
  await sql`select bench.dashboard_from_raw(${w.id}, ${start}, ${end}, ${TZ}, 10)`;
  const b = performance.now() - t0;
  t0 = performance.now();
  await sql`select bench.dashboard_from_raw_plan(${w.id}, ${start}, ${end}, ${TZ}, 10)`;
  const c = performance.now() - t0;
  (k < 10 ? rollupTop : rollup).push(a);
  (k < 10 ? rawTop : raw).push(b);
  (k < 10 ? planTop : plan).push(c);
}
const ratio = (x: number[], y: number[], p: number) => (pct(x, p) / pct(y, p)).toFixed(1);
console.log("\nDashboard in SQL, same creators and period, same run, alternating creator by creator:");
console.log(`  (the first call on a new connection, the biggest creator, not among the calls below: ${firstCall.toFixed(1)} ms)`);
const rows: [string, number[], number[], number[]][] = [
  ["top-10 creators", rollupTop, rawTop, planTop],
  ["random creators", rollup, raw, plan],
  ["all sampled", [...rollupTop, ...rollup], [...rawTop, ...raw], [...planTop, ...plan]],
];
for (const [label, r, x, p] of rows) {
  console.log(`  ${label}`);
  console.log(`    from rollups (this repo)                 ${fmt(r)}`);
  console.log(`    from raw events, mashup_id index         ${fmt(x)}   rollups faster by p50 ${ratio(x, r, 50)}x, p95 ${ratio(x, r, 95)}x`);
  console.log(`    from raw events, the plan's indexes      ${fmt(p)}   rollups faster by p50 ${ratio(p, r, 50)}x, p95 ${ratio(p, r, 95)}x`);
}
await sql.end();
