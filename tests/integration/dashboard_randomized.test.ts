// The dashboard RPCs through PostgREST, as signed-in creators with supabase-js, against the
// independent recount from raw events (tests/sql/_dashboard_recount.psql), every field, on
// committed data: random events of every catalog type sent through public.ingest_events in four
// batches (late events, duplicate ids, unknown mashups, events at local midnights and DST changes
// of the test zones), each batch folded by its own aggregation.run_incremental(p_lag => '0') in a
// transaction of its own, as the 5-minute job does; one UTC day finalised by the plan's
// aggregate_mashup_stats between two runs. Then random periods (1-61 days, 366) in zones with
// DST, +05:30/+05:45, -03:30, +14, -11 and repeated midnights, and every 2026 DST day of each.
// The recount runs in a transaction that is rolled back (its functions and temporary tables are
// never left on the stack). DASHBOARD_SEED picks another history.
import { assertEquals } from "../_support/assert.ts";
import { userClient } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import { rng } from "../_support/rng.ts";

const SEED = Number(Deno.env.get("DASHBOARD_SEED") ?? 2026);
const r = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const run = crypto.randomUUID().slice(0, 8);
const ZONES = [
  "UTC",
  "Europe/Berlin",
  "America/New_York",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Australia/Adelaide",
  "America/St_Johns",
  "Pacific/Kiritimati",
  "Pacific/Pago_Pago",
  "Atlantic/Azores",
  "America/Havana",
] as const;

const creators = [await createUser(`dash-random-c1-${run}`), await createUser(`dash-random-c2-${run}`)];
const fans = await Promise.all([1, 2, 3, 4].map((i) => createUser(`dash-random-fan${i}-${run}`)));

// Mashups as their creators make them (RLS: a creator inserts only their own).
const mashups: { id: string; creator: number }[] = [];
for (const [c, n] of [[0, 5], [1, 1]] as const) {
  const { data, error } = await userClient(creators[c].token).from("mashups")
    .insert(Array.from({ length: n }, (_, i) => ({
      creator_id: creators[c].id,
      title: `Random ${run} ${c}-${i}`,
      duration_seconds: 20 + Math.floor(r() * 380),
    }))).select("id");
  assertEquals(error, null);
  for (const m of data!) mashups.push({ id: m.id, creator: c });
}

// Instants at the edges of local days: each zone's midnights around its 2026 offset changes (and
// where midnight repeats), just before and after them, an hour either side.
const edges = (await sql<{ t: string }[]>`
  with z as (select unnest(${ZONES as unknown as string[]}::text[]) as z),
  days as (
    select z.z, d::date as d from z, generate_series('2026-01-01'::date, '2026-12-31'::date, interval '1 day') d
    where ((d::date + 1)::timestamp at time zone z.z) - (d::date::timestamp at time zone z.z) <> interval '24 hours'
       or ((d::date::timestamp + interval '12 hours') at time zone z.z)
          - ((d::date::timestamp - interval '12 hours') at time zone z.z) <> interval '24 hours'
  )
  select distinct ((days.d + k)::timestamp at time zone days.z + o)::text as t
  from days, generate_series(-1, 1) k,
       unnest(array['0', '-1 microsecond', '-1 second', '1 second', '-1 hour', '1 hour']::interval[]) o
  order by 1`).map((e) => e.t);
const dstDays = await sql<{ z: string; d: string }[]>`
  select z, d::date::text as d
  from unnest(${ZONES as unknown as string[]}::text[]) z,
       generate_series('2026-01-01'::date, '2026-12-31'::date, interval '1 day') d
  where ((d::date + 1)::timestamp at time zone z) - (d::date::timestamp at time zone z) <> interval '24 hours'
     or ((d::date::timestamp + interval '12 hours') at time zone z)
        - ((d::date::timestamp - interval '12 hours') at time zone z) <> interval '24 hours'`;

type Ev = Record<string, unknown> & { id: string; batch: number };
const SESSION = `dash-random-${run}-sess-`;
const playIds = Array.from({ length: 300 }, () => crypto.randomUUID());
const day = 86_400_000;
const events: Ev[] = [];
for (let n = 0; n < 1400; n++) {
  const x = r();
  const type = x < 0.45
    ? "mashup_played"
    : x < 0.62
    ? "mashup_play_progress"
    : x < 0.7
    ? "mashup_play_ended"
    : x < 0.8
    ? "mashup_liked"
    : x < 0.87
    ? "mashup_shared"
    : x < 0.91
    ? "comment_posted"
    : x < 0.94
    ? "mashup_exported"
    : x < 0.96
    ? "ai_reaction"
    : x < 0.98
    ? "user_followed"
    : "subscription_upgraded";
  const unknownMashup = r() < 0.03;
  const m = mashups[Math.floor(Math.pow(r(), 1.5) * mashups.length)];
  const w = r();
  // Events without a mashup, and events of unknown mashups, come from fans (the cleanup finds them).
  const signedIn = w < 0.35 || unknownMashup || type === "user_followed" || type === "subscription_upgraded";
  const ts = r() < 0.45
    ? pick(edges)
    : new Date(Date.UTC(2026, 2, 1) + r() * (r() < 0.5 ? 61 : 250) * day).toISOString();
  const playId = pick(playIds);
  const properties: Record<string, unknown> = {};
  if (type === "user_followed") properties.creator_id = pick(creators).id;
  else if (type !== "subscription_upgraded") {
    properties.mashup_id = unknownMashup ? crypto.randomUUID() : r() < 0.1 ? m.id.toUpperCase() : m.id;
  }
  if (type.startsWith("mashup_play")) properties.play_id = r() < 0.3 ? playId.toUpperCase() : playId;
  if (type === "mashup_played") properties.source = pick(["direct", "twitter", "instagram", "", "direct"]);
  if (type === "mashup_play_progress" || type === "mashup_play_ended") {
    properties.position_seconds = Math.round((r() * 440 - 10) * 10) / 10;
  }
  events.push({
    id: crypto.randomUUID(),
    batch: Math.floor(r() * 4),
    type,
    timestamp: ts,
    properties,
    session_id: SESSION + Math.floor(r() * 40),
    ...(signedIn
      ? { user_id: pick(fans).id }
      : w < 0.7
      ? { anonymous_id: `anon-test-dash-random-${Math.floor(r() * 20)}` }
      : {}),
    ...(r() < 0.85 ? { country: pick(["US", "DE", "IN", "NP", "AU"]) } : {}),
    ...(r() < 0.85 ? { device: pick(["mobile", "desktop", "tablet", "tv"]) } : {}),
  });
}
// Duplicate ids: again in the same batch or a later one, some with other contents (the first stored counts).
for (const e of events.filter(() => r() < 0.08)) {
  events.push({
    ...e,
    batch: Math.min(3, e.batch + Math.floor(r() * 2)),
    ...(r() < 0.3 ? { timestamp: pick(edges) } : {}),
  });
}

for (let b = 0; b < 4; b++) {
  const batch = events.filter((e) => e.batch === b).map(({ batch: _, ...e }) => e);
  await sql`select count(*) from public.ingest_events(${sql.json(batch as never)})`;
  if (b === 2) {
    const [d] = await sql<{ d: string }[]>`select (${
      pick(edges)
    }::timestamptz at time zone 'UTC')::date::text as d`;
    await sql`select public.aggregate_mashup_stats(${d.d}::date)`;
  }
  await sql`select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'test-dashboard-random', p_wait => true)`;
}

type Call = { creator: number; mashup: string; start: string; end: string; tz: string; limit: number };
const addDays = (d: string, n: number) => new Date(Date.parse(d) + n * day).toISOString().slice(0, 10);
const calls: Call[] = [];
for (let i = 0; i < 24; i++) {
  const c = Math.floor(r() * 2);
  const start = addDays("2026-02-25", Math.floor(r() * 260));
  calls.push({
    creator: c,
    mashup: pick(mashups.filter((m) => m.creator === c)).id,
    start,
    end: addDays(start, pick([1, 2, 7, 30, 61, 366])),
    tz: pick(ZONES),
    limit: 1 + Math.floor(r() * 6),
  });
}
for (const { z, d } of dstDays) {
  calls.push({
    creator: 0,
    mashup: pick(mashups.filter((m) => m.creator === 0)).id,
    start: d,
    end: addDays(d, 1),
    tz: z,
    limit: 10,
  });
}

Deno.test({
  name: "dashboard: every field of the four RPCs equals a recount from raw events, random periods and zones",
  sanitizeResources: false,
  fn: async () => {
    const got: { dashboard: unknown; mashup: unknown }[] = [];
    for (const c of calls) {
      const client = userClient(creators[c.creator].token);
      const dash = await client.rpc("get_creator_dashboard_with_comparison", {
        p_start: c.start,
        p_end: c.end,
        p_tz: c.tz,
        p_limit: c.limit,
        p_compare: "previous",
      });
      assertEquals(dash.error, null);
      const plain = await client.rpc("get_creator_dashboard", {
        p_start: c.start,
        p_end: c.end,
        p_tz: c.tz,
        p_limit: c.limit,
      });
      assertEquals(plain.error, null);
      const { comparison: _, ...withoutComparison } = dash.data as Record<string, unknown>;
      assertEquals(
        plain.data,
        withoutComparison as never,
        `${JSON.stringify(c)}: the plain RPC is the compared one without comparison`,
      );
      const mashup = await client.rpc("get_mashup_analytics_with_comparison", {
        p_mashup_id: c.mashup,
        p_start: c.start,
        p_end: c.end,
        p_tz: c.tz,
        p_compare: "previous",
      });
      assertEquals(mashup.error, null);
      got.push({ dashboard: dash.data, mashup: mashup.data });
    }

    const recount = await Deno.readTextFile(new URL("../sql/_dashboard_recount.psql", import.meta.url));
    const rollback = new Error("rollback");
    let checked = 0;
    let plays = 0;
    await sql.begin(async (tx) => {
      await tx.unsafe("create schema if not exists tests");
      await tx.unsafe(recount);
      await tx`select tests.recount_load(${SESSION})`;
      [{ plays }] = await tx<{ plays: number }[]>`
        select count(*)::int as plays from recount_events where event_type = 'mashup_played'`;
      for (const [i, c] of calls.entries()) {
        const [want] = await tx<{ dashboard: unknown; mashup: unknown }[]>`
          select tests.recount_creator_dashboard(${
          creators[c.creator].id
        }::uuid, ${c.start}::date, ${c.end}::date,
                                                 ${c.tz}, ${c.limit}, true) as dashboard,
                 tests.recount_mashup_analytics(${c.mashup}::uuid, ${c.start}::date, ${c.end}::date, ${c.tz}, true) as mashup`;
        assertEquals(got[i].dashboard, want.dashboard, `creator dashboard ${JSON.stringify(c)}`);
        assertEquals(got[i].mashup, want.mashup, `mashup analytics ${JSON.stringify(c)}`);
        checked++;
      }
      throw rollback;
    }).catch((e) => {
      if (e !== rollback) throw e;
    });
    assertEquals(checked, calls.length);
    assertEquals(plays > 400, true, `hundreds of plays stored (${plays})`);
  },
});
