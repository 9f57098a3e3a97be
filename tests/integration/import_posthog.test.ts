// History import from PostHog: `npm run import` on a generated export of a few thousand events over
// ten months (JSON lines in two sittings, then CSV), then exact numbers on the imported days, read
// as the creator reads them (supabase-js: the plan's daily table and the dashboard RPC).
// Also the rule underneath: the service role keeps client timestamps back to the retention horizon.
import { assert, assertEquals } from "../_support/assert.ts";
import { SERVICE_KEY, userClient } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import {
  expectedDaily,
  type ExportEvent,
  generateExport,
  toCsv,
  toJsonLines,
} from "../_support/posthog_export.ts";
import { track, uuid } from "../_support/track.ts";
import type { ImportState } from "../../scripts/import/state.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DAY_MS = 86_400_000;


async function runImport(
  file: string,
  ...args: string[]
): Promise<{ code: number; state: ImportState; stderr: string }> {
  const out = await new Deno.Command("npm", {
    args: ["run", "--silent", "import", "--", file, "--json", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, `import failed: ${stderr}`);
  return { code: out.code, state: JSON.parse(stdout), stderr };
}

const storedIds = async (ids: string[]) =>
  (await sql`select count(*)::int as n from public.analytics_events where id = any (${ids}::uuid[])`)[0]
    .n as number;

Deno.test({
  name:
    "import: a PostHog export over ten months lands on its own days, resumably and once, with exact rollups",
  sanitizeResources: false,
  fn: async () => {
    const creator = await createUser("importer");
    const mashups = [{ id: uuid(), duration: 240 }, { id: uuid(), duration: 150 }];
    await sql`insert into public.mashups ${
      sql(
        mashups.map((m, i) => ({
          id: m.id,
          creator_id: creator.id,
          title: `Imported ${i}`,
          duration_seconds: m.duration,
        })),
      )
    }`;
    const gen = generateExport(mashups, 900, 14_2026);
    assert(gen.events.length > 2500, `a few thousand events (${gen.events.length})`);
    const months = new Set(gen.events.map((e) => e.timestamp.slice(0, 7)));
    assert(months.size >= 9, `across months (${months.size})`);

    // JSON lines: the first two thirds of the plays' events with the $pageviews and the too-old
    // events mixed in, an unreadable line near the end; the rest goes in as CSV.
    const split = Math.floor(gen.events.length * 2 / 3);
    const jsonRows: ExportEvent[] = [...gen.events.slice(0, split), ...gen.ignored, ...gen.tooOld]
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    const csvRows = gen.events.slice(split);
    const dir = await Deno.makeTempDir({ prefix: "posthog-export-" });
    const jsonl = `${dir}/events.jsonl`;
    const csv = `${dir}/events.csv`;
    await Deno.writeTextFile(jsonl, toJsonLines(jsonRows, jsonRows.length - 10));
    await Deno.writeTextFile(csv, toCsv(csvRows));

    // First sitting: three batches of 100, then stop.
    const first = await runImport(jsonl, "--batch-size", "100", "--max-batches", "3");
    assertEquals([first.state.records, first.state.done], [300, false]);
    const firstStored = jsonRows.slice(0, 300).filter((e) =>
      !e.event.startsWith("$") && !gen.tooOld.includes(e)
    );
    assertEquals(await storedIds(firstStored.map((e) => e.uuid)), firstStored.length);
    assertEquals(first.state.accepted, firstStored.length);

    // Second sitting resumes at record 300 and sends nothing twice.
    const second = await runImport(jsonl, "--batch-size", "100");
    assert(second.stderr.includes("resuming") && second.stderr.includes("at record 300"), second.stderr);
    assertEquals(second.state.done, true);
    assertEquals(second.state.records, jsonRows.length + 1);
    assertEquals(second.state.accepted, split);
    assertEquals(second.state.duplicates, 0);
    assertEquals(second.state.ignored, gen.ignored.length);
    assertEquals(second.state.rejected, gen.tooOld.length + 1);
    assertEquals(second.state.recomputed, second.state.days);
    const rejected = (await Deno.readTextFile(`${jsonl}.import-rejected.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(rejected.filter((r) => /retention horizon/.test(r.error)).length, gen.tooOld.length);
    assertEquals(rejected.filter((r) => r.error === "not a JSON object").length, 1);

    const third = await runImport(csv);
    assertEquals([third.state.accepted, third.state.rejected, third.state.done], [csvRows.length, 0, true]);

    // Each stored event kept its own time, type, listener and the mapped properties.
    const stored =
      await sql`select id::text, event_type, "timestamp", anonymous_id, session_id, device, properties
                             from public.analytics_events where id = any (${
        gen.events.map((e) => e.uuid)
      }::uuid[])`;
    assertEquals(stored.length, gen.events.length);
    const byId = new Map(gen.events.map((e) => [e.uuid, e]));
    for (const row of stored) {
      const e = byId.get(row.id)!;
      assertEquals(
        [row.event_type, new Date(row.timestamp).toISOString(), row.anonymous_id, row.session_id],
        [e.event, e.timestamp, e.distinct_id, e.properties.$session_id],
      );
      assertEquals(
        row.device,
        String(e.properties.$raw_user_agent).includes("iPhone") ? "mobile" : "desktop",
      );
      assertEquals(row.properties.mashup_id, e.properties.mashupId);
      assertEquals(row.properties.client_timestamp, undefined);
    }
    assertEquals(await storedIds(gen.ignored.map((e) => e.uuid)), 0);
    assertEquals(await storedIds(gen.tooOld.map((e) => e.uuid)), 0);

    // The plan's daily table, as the creator reads it, is exact on every imported day.
    const creatorDb = userClient(creator.token);
    const { data: daily, error } = await creatorDb.from("mashup_daily_stats")
      .select("mashup_id, date, plays, unique_plays, likes, shares").in(
        "mashup_id",
        mashups.map((m) => m.id),
      );
    assertEquals(error, null);
    const actual = new Map(daily!.map((d) => [`${d.mashup_id}|${d.date}`, {
      plays: d.plays,
      unique_plays: d.unique_plays,
      likes: d.likes,
      shares: d.shares,
    }]));
    const expected = expectedDaily(gen.events);
    assert(expected.size > 300, `many mashup-days (${expected.size})`);
    assertEquals(actual, expected);

    // The dashboard over the whole imported span (UTC): totals, the daily series and sources.
    const days = [...new Set(gen.events.map((e) => e.timestamp.slice(0, 10)))].sort();
    const start = days[0];
    const end = new Date(Date.parse(days[days.length - 1]) + DAY_MS).toISOString().slice(0, 10);
    const { data: dash, error: dashError } = await creatorDb.rpc("get_creator_dashboard", {
      p_start: start,
      p_end: end,
      p_tz: "UTC",
      p_limit: 10,
    });
    assertEquals(dashError, null);
    const plays = gen.events.filter((e) => e.event === "mashup_played");
    const d = dash as any;
    assertEquals(d.summary.totalPlays, plays.length);
    assertEquals(d.summary.totalLikes, gen.events.filter((e) => e.event === "mashup_liked").length);
    assertEquals(d.summary.totalShares, gen.events.filter((e) => e.event === "mashup_shared").length);
    const perDay = new Map<string, number>();
    for (const p of plays) {
      perDay.set(p.timestamp.slice(0, 10), (perDay.get(p.timestamp.slice(0, 10)) ?? 0) + 1);
    }
    for (const point of d.trends.playsOverTime) {
      assertEquals(point.plays, perDay.get(point.date) ?? 0, point.date);
    }
    const sources = new Map<string, number>();
    for (const p of plays) {
      const s = p.properties.source ?? (p.properties.$referring_domain === "t.co" ? "twitter" : "direct");
      sources.set(s as string, (sources.get(s as string) ?? 0) + 1);
    }
    assertEquals(new Map(d.sources.map((s: any) => [s.source, s.count])), sources);

    // Importing the same file again stores nothing new and changes no number.
    const again = await runImport(jsonl, "--restart", "--no-recompute");
    assertEquals([again.state.accepted, again.state.duplicates], [0, split]);
    const { data: after } = await creatorDb.rpc("get_creator_dashboard", {
      p_start: start,
      p_end: end,
      p_tz: "UTC",
      p_limit: 10,
    });
    assertEquals(after, dash);
  },
});

Deno.test("track: the service role keeps a timestamp of any age inside the retention horizon; clients keep a week", async () => {
  const old = new Date(Date.now() - 200 * DAY_MS).toISOString();
  // The horizon is the first of the month 13 months back (at most ~426 days): 430 days is beyond it.
  const tooOld = new Date(Date.now() - 430 * DAY_MS).toISOString();
  const liked = (timestamp: string) => ({
    type: "mashup_liked",
    id: uuid(),
    timestamp,
    anonymous_id: "history",
    properties: { mashup_id: uuid() },
  });
  const [asService, asClient, beyond] = [liked(old), liked(old), liked(tooOld)];
  const res = await track({ events: [asService, beyond] }, { token: SERVICE_KEY });
  assertEquals(res.status, 200);
  const body = res.body;
  assertEquals(body.accepted, 1);
  assertEquals(body.rejected, [{
    index: 1,
    error: `events[1].timestamp: ${tooOld} is outside the months raw events are kept for (retention horizon); ` +
      "the event is not stored",
  }]);
  assertEquals((await track(asClient)).status, 200);
  const rows = await sql`select id::text, "timestamp", properties from public.analytics_events
                         where id = any (${[asService.id, asClient.id, beyond.id]}::uuid[])`;
  const row = (id: string) => rows.find((r) => r.id === id);
  assertEquals(new Date(row(asService.id)!.timestamp).toISOString(), old);
  assert(
    Date.now() - new Date(row(asClient.id)!.timestamp).getTime() < 3_600_000,
    "a client's old event gets its arrival time",
  );
  assertEquals(row(asClient.id)!.properties.client_timestamp, old);
  assertEquals(row(beyond.id), undefined);
});
