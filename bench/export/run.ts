// bench/export/run.ts: what compare=previous and format=csv cost over HTTP, against the plain JSON
// dashboard as the baseline, measured in the same run, alternating request by request, signed in
// as the demo creator (42 mashups, 50 days of demo events on the local stack).
//   deno run --allow-all --config deno.json bench/export/run.ts [samples=60]
// Prints p50/p95 per variant and the ratio of medians to the baseline.
const ENV: Record<string, string> = {};
for (const line of Deno.readTextFileSync(Deno.env.get("STACK_ENV_FILE") ?? ".env.local").split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) ENV[m[1]] = m[2];
}
const SAMPLES = Number(Deno.args[0] ?? 60);
const TZ = "Europe/Berlin";
const base = `${ENV.SUPABASE_URL}/functions/v1/analytics/dashboard?tz=${encodeURIComponent(TZ)}`;
const variants: Record<string, string> = {
  "JSON (baseline)": base,
  "JSON + compare=previous": `${base}&compare=previous`,
  "CSV table=daily": `${base}&format=csv&table=daily`,
  "CSV table=topContent": `${base}&format=csv&table=topContent`,
};

async function timed(url: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${ENV.DEMO_CREATOR_TOKEN}` } });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return performance.now() - t;
}

const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
for (const url of Object.values(variants)) for (let i = 0; i < 5; i++) await timed(url); // warm-up
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let i = 0; i < SAMPLES; i++) {
  for (const [name, url] of Object.entries(variants)) times[name].push(await timed(url));
}
const baseline = q(times["JSON (baseline)"], 0.5);
console.log(`[export] demo creator, last 30 days in ${TZ}, ${SAMPLES} samples each, alternating`);
console.log("| request | p50 | p95 | p50 vs JSON |\n|---|---:|---:|---:|");
for (const [name, xs] of Object.entries(times)) {
  console.log(
    `| ${name} | ${q(xs, 0.5).toFixed(1)} ms | ${q(xs, 0.95).toFixed(1)} ms | ${
      (q(xs, 0.5) / baseline).toFixed(2)
    }× |`,
  );
}
