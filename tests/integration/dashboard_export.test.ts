// compare=previous and the CSV downloads, as creators use them: supabase-js RPCs and the analytics
// function with a creator's token, checked against numbers computed from the fixture's raw events
// (tests/_support/dashboard_fixture.ts) and, for CSV, against the JSON response of the same request.
import { parse } from "csv-parse/sync";
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, userClient } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import { expectedDashboard, expectedMashup, insertFixture } from "../_support/dashboard_fixture.ts";
import { aggregateDays } from "../_support/aggregate.ts";
import {
  comparedDashboardResponse,
  comparedMashupAnalyticsResponse,
  dashboardResponse,
  mashupAnalyticsResponse,
} from "../../types/analytics.ts";

const creatorA = await createUser("export-a");
const creatorB = await createUser("export-b");
const fans = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => createUser(`export-fan-${i}`)));
const fx = await insertFixture(creatorA.id, creatorB.id, fans.map((f) => f.id));
await aggregateDays("2026-02-09", "2026-03-22");
const [alpha, , gamma] = fx.mashups;
// Two of A's three followers followed before March: followers at the start of the period are 2.
await sql`update public.follows set created_at = '2026-02-01T00:00:00Z'
          where creator_id = ${creatorA.id} and follower_id = any (${
  fans.slice(0, 2).map((f) => f.id)
}::uuid[])`;

const NY = "America/New_York";
const PERIOD = { start: "2026-03-01", end: "2026-03-15" };
const PREVIOUS = { start: "2026-02-15", end: "2026-03-01" };
const query = `start=${PERIOD.start}&end=${PERIOD.end}&tz=${encodeURIComponent(NY)}`;
const fn = (path: string, token?: string) =>
  fetch(`${API_URL}/functions/v1/analytics${path}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
const pct = (cur: number, prev: number) => prev === 0 ? null : Math.round(((cur - prev) * 100) / prev);

Deno.test({
  name: "compare=previous: the previous period's totals, change and series, through RPC and the function",
  sanitizeResources: false,
  fn: async () => {
    const current = expectedDashboard(fx, creatorA.id, 3, 1, PERIOD.start, PERIOD.end, NY);
    const previous = expectedDashboard(fx, creatorA.id, 2, 0, PREVIOUS.start, PREVIOUS.end, NY);
    assert(
      previous.summary.totalPlays > 0 && previous.summary.totalLikes > 0,
      "the previous period has activity",
    );
    const expected = {
      ...current,
      comparison: {
        period: PREVIOUS,
        summary: previous.summary,
        change: Object.fromEntries(
          Object.entries(current.summary).map((
            [k, v],
          ) => [k, pct(v, previous.summary[k as keyof typeof previous.summary])]),
        ),
        trends: previous.trends,
      },
    };
    assertEquals(expected.comparison.change.followers, 50);
    assertEquals(expected.comparison.change.following, null);

    const db = userClient(creatorA.token);
    const { data, error } = await db.rpc("get_creator_dashboard_with_comparison", {
      p_start: PERIOD.start,
      p_end: PERIOD.end,
      p_tz: NY,
      p_limit: 10,
      p_compare: "previous",
    });
    assertEquals(error, null);
    assertEquals(comparedDashboardResponse.parse(data), expected as unknown);

    const res = await fn(`/dashboard?${query}&compare=previous`, creatorA.token);
    assertEquals(res.status, 200);
    assertEquals(await res.json(), data);

    // Without the parameter: the plan's JSON exactly, with no comparison key, from RPC and function.
    const { data: plain } = await db.rpc("get_creator_dashboard", {
      p_start: PERIOD.start,
      p_end: PERIOD.end,
      p_tz: NY,
      p_limit: 10,
    });
    assertEquals(plain, current as unknown);
    assertEquals(Object.keys(plain as object).sort(), Object.keys(dashboardResponse.shape).sort());
    const plainRes = await fn(`/dashboard?${query}`, creatorA.token);
    assertEquals(await plainRes.json(), plain);

    // A mashup: the previous period's plays, likes, shares and daily series.
    const prevM = expectedMashup(fx, alpha.id, PREVIOUS.start, PREVIOUS.end, NY);
    const curM = expectedMashup(fx, alpha.id, PERIOD.start, PERIOD.end, NY);
    const shares = (s: string, e: string) =>
      fx.events.filter((x) => x.type === "mashup_shared" && x.mashupId === alpha.id)
        .filter((x) => {
          const d = new Intl.DateTimeFormat("en-CA", { timeZone: NY }).format(x.at);
          return d >= s && d < e;
        }).length;
    const sum = (xs: { plays: number; likes: number }[], k: "plays" | "likes") =>
      xs.reduce((a, x) => a + x[k], 0);
    const mRes = await fn(`/mashups/${alpha.id}?${query}&compare=previous`, creatorA.token);
    assertEquals(mRes.status, 200);
    const m = comparedMashupAnalyticsResponse.parse(await mRes.json());
    const prevSummary = {
      plays: sum(prevM.daily, "plays"),
      likes: sum(prevM.daily, "likes"),
      shares: shares(PREVIOUS.start, PREVIOUS.end),
    };
    assertEquals(m.comparison, {
      period: PREVIOUS,
      summary: prevSummary,
      change: {
        plays: pct(sum(curM.daily, "plays"), prevSummary.plays),
        likes: pct(sum(curM.daily, "likes"), prevSummary.likes),
        shares: pct(shares(PERIOD.start, PERIOD.end), prevSummary.shares),
      },
      daily: prevM.daily,
    });
    const { data: mRpc } = await db.rpc("get_mashup_analytics_with_comparison", {
      p_mashup_id: alpha.id,
      p_start: PERIOD.start,
      p_end: PERIOD.end,
      p_tz: NY,
      p_compare: "previous",
    });
    assertEquals(mRpc, m as unknown);
    const mPlain = await (await fn(`/mashups/${alpha.id}?${query}`, creatorA.token)).json();
    assertEquals(Object.keys(mPlain).sort(), Object.keys(mashupAnalyticsResponse.shape).sort());

    // Bad values name the parameter; another creator's mashup stays a 404 with the comparison too.
    const bad = await fn(`/dashboard?${query}&compare=last_year`, creatorA.token);
    assertEquals([bad.status, (await bad.json()).field], [400, "compare"]);
    const { error: rpcBad } = await db.rpc("get_creator_dashboard_with_comparison", {
      p_start: PERIOD.start,
      p_end: PERIOD.end,
      p_compare: "next",
    });
    assertEquals(rpcBad?.code, "22023");
    const hidden = await fn(`/mashups/${gamma.id}?${query}&compare=previous`, creatorA.token);
    assertEquals(hidden.status, 404);
    await hidden.body?.cancel();
  },
});

/** JSON values as a CSV cell holds them: null is an empty cell, numbers their text. */
const cells = (rows: Record<string, unknown>[]) =>
  rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? "" : String(v)])));

async function csvOf(path: string, token: string) {
  const res = await fn(path, token);
  assertEquals(res.status, 200, path);
  assertEquals(res.headers.get("content-type"), "text/csv; charset=utf-8");
  assert(/^attachment; filename=".+\.csv"$/.test(res.headers.get("content-disposition") ?? ""));
  return parse(await res.text(), { columns: true }) as Record<string, string>[];
}

Deno.test({
  name: "CSV export: every dashboard table equals the JSON response, under the same auth and RLS",
  sanitizeResources: false,
  fn: async () => {
    for (const creator of [creatorA, creatorB]) {
      const json = dashboardResponse.parse(await (await fn(`/dashboard?${query}`, creator.token)).json());
      assert(json.topContent.length > 0 && json.sources.length > 1, "non-empty tables");
      const daily = json.trends.playsOverTime.map((p, i) => ({
        ...p,
        likes: json.trends.likesOverTime[i].likes,
      }));
      assertEquals(await csvOf(`/dashboard?${query}&format=csv&table=daily`, creator.token), cells(daily));
      assertEquals(
        await csvOf(`/dashboard?${query}&format=csv&table=topContent`, creator.token),
        cells(json.topContent),
      );
      assertEquals(
        await csvOf(`/dashboard?${query}&format=csv&table=sources`, creator.token),
        cells(json.sources),
      );
      assertEquals(
        await csvOf(`/dashboard?${query}&format=csv&table=countries`, creator.token),
        cells(json.demographics.countries),
      );
      assertEquals(
        await csvOf(`/dashboard?${query}&format=csv&table=devices`, creator.token),
        cells(json.demographics.devices),
      );
    }
    // The numbers are the fixture's: A's top content in CSV is what the raw events say.
    const expected = expectedDashboard(fx, creatorA.id, 3, 1, PERIOD.start, PERIOD.end, NY);
    assertEquals(
      await csvOf(`/dashboard?${query}&format=csv&table=topContent`, creatorA.token),
      cells(expected.topContent),
    );
    const growth = expected.topContent.find((t) => t.growth === null);
    assert(growth, "a null growth is an empty cell");

    // With compare=previous, the daily table has the previous period's day beside each day.
    const compared = await (await fn(`/dashboard?${query}&compare=previous`, creatorA.token)).json();
    assertEquals(
      await csvOf(`/dashboard?${query}&compare=previous&format=csv&table=daily`, creatorA.token),
      cells(compared.trends.playsOverTime.map((p: any, i: number) => ({
        date: p.date,
        plays: p.plays,
        likes: compared.trends.likesOverTime[i].likes,
        previousDate: compared.comparison.trends.playsOverTime[i].date,
        previousPlays: compared.comparison.trends.playsOverTime[i].plays,
        previousLikes: compared.comparison.trends.likesOverTime[i].likes,
      }))),
    );

    // A mashup's retention, daily and peak times.
    const m = mashupAnalyticsResponse.parse(
      await (await fn(`/mashups/${alpha.id}?${query}`, creatorA.token)).json(),
    );
    assert(m.retention.dropOffPoints.length > 0);
    assertEquals(
      await csvOf(`/mashups/${alpha.id}?${query}&format=csv&table=retention`, creatorA.token),
      cells(m.retention.dropOffPoints.map((p) => ({
        ...p,
        avgWatchTime: m.retention.avgWatchTime,
        completionRate: m.retention.completionRate,
      }))),
    );
    assertEquals(
      await csvOf(`/mashups/${alpha.id}?${query}&format=csv&table=daily`, creatorA.token),
      cells(m.daily),
    );
    assertEquals(
      await csvOf(`/mashups/${alpha.id}?${query}&format=csv&table=peakTimes`, creatorA.token),
      cells(m.peakTimes),
    );

    // Same auth and RLS as JSON: no token 401, another creator's mashup 404, unknown table 400.
    const anon = await fn(`/dashboard?${query}&format=csv&table=daily`);
    assertEquals(anon.status, 401);
    await anon.body?.cancel();
    const other = await fn(`/mashups/${gamma.id}?${query}&format=csv&table=retention`, creatorA.token);
    assertEquals(other.status, 404);
    await other.body?.cancel();
    const unknown = await fn(`/dashboard?${query}&format=csv&table=retention`, creatorA.token);
    assertEquals([unknown.status, (await unknown.json()).field], [400, "table"]);
  },
});

Deno.test({
  name: "CSV export: a title a spreadsheet would run as a formula is escaped, quotes and commas survive",
  sanitizeResources: false,
  fn: async () => {
    const creator = await createUser("export-titles");
    const titles = ['=HYPERLINK("http://evil.test","x")', 'Mix, "Live" at 3am'];
    const ids = titles.map(() => crypto.randomUUID());
    await sql`insert into public.mashups ${
      sql(titles.map((title, i) => ({ id: ids[i], creator_id: creator.id, title, duration_seconds: 100 })))
    }`;
    const at = "2026-03-02T12:00:00Z";
    await sql`insert into public.analytics_events ${
      sql(ids.map((id) => ({
        id: crypto.randomUUID(),
        event_type: "mashup_played",
        properties: sql.json({ mashup_id: id, source: "direct", auto_play: false }),
        timestamp: at,
        received_at: at,
        anonymous_id: "csv-listener",
      })))
    }`;
    await aggregateDays("2026-03-02", "2026-03-03");
    const rows = await csvOf(
      `/dashboard?start=2026-03-01&end=2026-03-08&format=csv&table=topContent`,
      creator.token,
    );
    assertEquals(rows.map((r) => r.title).sort(), [`'${titles[0]}`, titles[1]].sort());
  },
});
