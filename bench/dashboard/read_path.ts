// bench/dashboard/read_path.ts: the dashboard RPC in SQL, the current read path against the one it
// replaced (every mashup's 15-minute buckets of the period, migration 20261125130000, created here
// as bench.old_creator_dashboard), same database, same run, alternating call by call; and every
// response compared: the new read path must return exactly the same JSON.
//   deno run --allow-all --config deno.json bench/dashboard/read_path.ts <database url>
// Env: BENCH_TZ (default Europe/Berlin), BENCH_ROUNDS (default 5 calls per creator and version),
// BENCH_RANDOM (default 20 random creators besides the 10 biggest). Period: the last 30 local days.
import postgres from "postgres";
import { createHash } from "node:crypto";

const url = Deno.args[0];
if (!url) throw new Error("usage: read_path.ts <database url>");
const TZ = Deno.env.get("BENCH_TZ") ?? "Europe/Berlin";
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 5);
const RANDOM = Number(Deno.env.get("BENCH_RANDOM") ?? 20);
const sql = postgres(url, { max: 1, onnotice: () => {} });

// The replaced function, verbatim from its migration, under another name.
const migration = Deno.readTextFileSync(
  new URL("../../supabase/migrations/20261125130000_dashboard_functions.sql", import.meta.url),
);
const body = migration.slice(migration.indexOf("create function public.get_creator_dashboard("),
  migration.indexOf("comment on function public.get_creator_dashboard"))
  .replace("create function public.get_creator_dashboard(", "create or replace function bench.old_creator_dashboard(");
await sql.unsafe("create schema if not exists bench");
await sql.unsafe(body);
await sql.unsafe("grant usage on schema bench to authenticated; grant execute on all functions in schema bench to authenticated");

const md5uuid = (s: string) => {
  const h = createHash("md5").update(s).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const [{ creators, events }] = await sql`
  select (select count(*) from auth.users where email like 'creator%@bench.local')::int as creators,
         (select coalesce(sum(c.reltuples), 0)::bigint from pg_class c join pg_inherits i on i.inhrelid = c.oid
           where i.inhparent = 'raw_events.analytics_events'::regclass and c.reltuples > 0) as events`;
const [{ start, end }] = await sql`
  select ((now() at time zone ${TZ})::date - 29)::text as start, ((now() at time zone ${TZ})::date + 1)::text as end`;
console.log(`[read_path] ${events} raw events (estimate), ${creators} creators; ${start}..${end} ${TZ}`);

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const sample: number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
while (sample.length < 10 + RANDOM) sample.push(1 + Math.floor(rand() * (creators - 1)));

async function call(fn: string, creator: string): Promise<[number, string]> {
  const claims = JSON.stringify({ sub: creator, role: "authenticated" });
  const t0 = performance.now();
  const out = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
    return await tx.unsafe(`select ${fn}($1, $2, $3, '10')::text as r`, [start, end, TZ]);
  });
  return [performance.now() - t0, out[0].r as string];
}

const times = { newTop: [] as number[], oldTop: [] as number[], newRest: [] as number[], oldRest: [] as number[] };
let differing = 0;
for (const w of sample.slice(0, 3)) { // warm-up
  await call("public.get_creator_dashboard", md5uuid(`bench-creator-${w}`));
  await call("bench.old_creator_dashboard", md5uuid(`bench-creator-${w}`));
}
for (let round = 0; round < ROUNDS; round++) {
  for (const [k, i] of sample.entries()) {
    const id = md5uuid(`bench-creator-${i}`);
    const [a, ra] = await call("public.get_creator_dashboard", id);
    const [b, rb] = await call("bench.old_creator_dashboard", id);
    if (JSON.stringify(JSON.parse(ra)) !== JSON.stringify(JSON.parse(rb))) differing++;
    (k < 10 ? times.newTop : times.newRest).push(a);
    (k < 10 ? times.oldTop : times.oldRest).push(b);
  }
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  (n=${xs.length})`;
console.log("get_creator_dashboard in SQL as the creator (role authenticated + JWT claims), alternating:");
console.log(`  top-10 creators     current ${fmt(times.newTop)}`);
console.log(`                      before  ${fmt(times.oldTop)}   (baseline: every mashup's buckets)`);
console.log(`  ${String(RANDOM).padEnd(2)} random creators  current ${fmt(times.newRest)}`);
console.log(`                      before  ${fmt(times.oldRest)}`);
console.log(`responses differing from the baseline's: ${differing} of ${ROUNDS * sample.length}`);
await sql.unsafe("drop function bench.old_creator_dashboard(date, date, text, integer)");
await sql.end();
if (differing > 0) Deno.exit(1);
