// bench/dashboard/parameters.ts: what the RPCs' parameter checks cost. In one run, alternating call
// by call on the demo data as the demo creator (role authenticated + JWT claims, as PostgREST runs
// it): the public RPC (checks, then the implementation) against the implementation alone
// (dashboard.get_creator_dashboard, the baseline), and the checks alone.
//   STACK_PORT=... deno run -A --config deno.json bench/dashboard/parameters.ts   (BENCH_SAMPLES, default 300)
import postgres from "postgres";

const ENV: Record<string, string> = {};
for (const line of Deno.readTextFileSync(Deno.env.get("STACK_ENV_FILE") ?? ".env.local").split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) ENV[m[1]] = m[2];
}
const SAMPLES = Number(Deno.env.get("BENCH_SAMPLES") ?? 300);
const sql = postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
const claims = JSON.stringify({ sub: ENV.DEMO_CREATOR_ID, role: "authenticated" });
const today = new Date().toISOString().slice(0, 10);
const start = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
const TZ = "Europe/Berlin";

const calls: Record<string, (tx: postgres.TransactionSql) => Promise<unknown>> = {
  "public.get_creator_dashboard (checked)": (tx) => tx`select public.get_creator_dashboard(${start}, ${today}, ${TZ}, '10')`,
  "dashboard.get_creator_dashboard (baseline)": (tx) =>
    tx`select dashboard.get_creator_dashboard(${start}::date, ${today}::date, ${TZ}, 10)`,
  "public.dashboard_parameters (checks alone)": (tx) => tx`select public.dashboard_parameters(${start}, ${today}, ${TZ})`,
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(calls).map((k) => [k, []]));

for (let i = 0; i < SAMPLES + 10; i++) {
  for (const [name, call] of Object.entries(calls)) {
    await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      const t0 = performance.now();
      await call(tx);
      if (i >= 10) times[name].push(performance.now() - t0); // the first 10 warm caches up
    });
  }
}
await sql.end();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times["dashboard.get_creator_dashboard (baseline)"]);
console.log(`[dashboard parameters] ${SAMPLES} calls each, alternating, demo creator, ${start}..${today} ${TZ}`);
for (const [name, xs] of Object.entries(times)) {
  console.log(`  ${name.padEnd(44)} median ${median(xs).toFixed(3)} ms  (${(median(xs) / base).toFixed(3)}x baseline)`);
}
