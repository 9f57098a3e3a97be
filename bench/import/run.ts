// bench/import/run.ts: the history import's throughput on the local stack. A generated PostHog
// export (tests/_support/posthog_export.ts: plays with heartbeats, likes, shares over ten months)
// goes through `npm run import` (JSON lines -> /track/batch as the service role -> rollups of
// every touched day). Baseline in the same run: an export of the same size sent by a plain
// server the native way (POST /track, 500 events a request, service role), no file, no mapping.
//   deno run --allow-all --config deno.json bench/import/run.ts [plays=1000]
import postgres from "postgres";
import { generateExport, toJsonLines } from "../../tests/_support/posthog_export.ts";

const ENV: Record<string, string> = {};
for (const line of Deno.readTextFileSync(".env.local").split("\n")) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) ENV[m[1]] = m[2];
}
const PLAYS = Number(Deno.args[0] ?? 1000);
const sql = postgres(ENV.SUPABASE_DB_URL, { max: 1, onnotice: () => {} });
const [{ id: creator }] = await sql`select id from auth.users order by created_at limit 1`;
const mashups = [1, 2, 3].map((i) => ({ id: crypto.randomUUID(), duration: 120 + 60 * i }));
await sql`insert into public.mashups ${
  sql(
    mashups.map((m, i) => ({
      id: m.id,
      creator_id: creator,
      title: `Bench import ${i}`,
      duration_seconds: m.duration,
    })),
  )
}`;
await sql.end();

const forImport = generateExport(mashups, PLAYS, 1).events;
const forNative = generateExport(mashups, PLAYS, 2).events;
const dir = await Deno.makeTempDir({ prefix: "bench-import-" });
const file = `${dir}/export.jsonl`;
await Deno.writeTextFile(file, toJsonLines(forImport));

// Baseline: the same kind of events, natively, 500 a request.
const native = forNative.map((e) => ({
  type: e.event,
  id: e.uuid,
  timestamp: e.timestamp,
  anonymous_id: e.distinct_id,
  session_id: e.properties.$session_id,
  properties: {
    mashup_id: e.properties.mashupId,
    play_id: e.properties.playId,
    auto_play: e.properties.autoPlay,
    position_seconds: e.properties.positionSeconds,
    duration_seconds: e.properties.durationSeconds,
    platform: e.properties.platform,
    source: e.properties.source,
  },
}));
let t = performance.now();
for (let i = 0; i < native.length; i += 500) {
  const res = await fetch(`${ENV.SUPABASE_URL}/functions/v1/track`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ENV.SUPABASE_SERVICE_ROLE_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ events: native.slice(i, i + 500) }),
  });
  const body = await res.json();
  if (body.accepted !== Math.min(500, native.length - i)) throw new Error(JSON.stringify(body).slice(0, 300));
}
const nativeMs = performance.now() - t;

t = performance.now();
const out = await new Deno.Command("npm", {
  args: ["run", "--silent", "import", "--", file],
  stderr: "piped",
}).output();
const totalMs = performance.now() - t;
const summary = new TextDecoder().decode(out.stderr).trim().split("\n").pop()!;
const sent = Number(/Sent in ([\d.]+) s/.exec(summary)?.[1]) * 1000;
const rollups = Number(/rollups in ([\d.]+) s/.exec(summary)?.[1]) * 1000;
const days = Number(/; (\d+) days/.exec(summary)?.[1]);
await Deno.remove(dir, { recursive: true });

const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString("en-US")} events/s`;
console.log(
  `[import] ${forImport.length} events (import) / ${native.length} events (native) over ten months`,
);
console.log(`| path | time | throughput |\n|---|---:|---:|`);
console.log(
  `| native POST /track, 500 a request (baseline) | ${(nativeMs / 1000).toFixed(2)} s | ${
    rate(native.length, nativeMs)
  } |`,
);
console.log(
  `| npm run import: sending (read, map, /track/batch) | ${(sent / 1000).toFixed(2)} s | ${
    rate(forImport.length, sent)
  } (${(sent / nativeMs * native.length / forImport.length).toFixed(2)}× the baseline's time per event) |`,
);
console.log(
  `| npm run import: rollups of ${days} days | ${(rollups / 1000).toFixed(2)} s | ${
    (rollups / days).toFixed(0)
  } ms a day |`,
);
console.log(`| npm run import: whole command (incl. Deno start) | ${(totalMs / 1000).toFixed(2)} s | |`);
