// The dashboard API as creators use it: supabase-js signed in as a creator, calling the RPCs and
// the analytics Edge Function, every field checked against numbers computed independently from
// the fixture's raw events (tests/_support/dashboard_fixture.ts).
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, SERVICE_KEY, userClient } from "../_support/env.ts";
import { createUser, endSql, sql } from "../_support/db.ts";
import { expectedDashboard, expectedMashup, insertFixture } from "../_support/dashboard_fixture.ts";
import { aggregateDays } from "../_support/aggregate.ts";
import { dashboardResponse, errorResponse, mashupAnalyticsResponse, realtimeResponse } from "../../types/analytics.ts";

const creatorA = await createUser("creator-a");
const creatorB = await createUser("creator-b");
const fans = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => createUser(`fan-${i}`)));
const fx = await insertFixture(creatorA.id, creatorB.id, fans.map((f) => f.id));
await aggregateDays("2026-02-09", "2026-03-22");
const [alpha, beta, gamma] = fx.mashups;

const NY = "America/New_York";
const fn = (path: string, token?: string) =>
  fetch(`${API_URL}/functions/v1/analytics${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

Deno.test({
  name: "dashboard: RPC and function return exactly what the raw events say (New York, across DST)",
  sanitizeResources: false,
  fn: async () => {
    const expected = expectedDashboard(fx, creatorA.id, 3, 1, "2026-03-01", "2026-03-15", NY);
    assert(expected.trends.playsOverTime.some((d) => d.plays === 0), "the fixture has a day without plays");
    assert(expected.topContent.some((t) => t.growth === null), "one mashup had no plays in the previous period");
    assert(expected.topContent.some((t) => t.growth !== null), "one mashup has a growth figure");

    const { data, error } = await userClient(creatorA.token).rpc("get_creator_dashboard", {
      p_start: "2026-03-01",
      p_end: "2026-03-15",
      p_tz: NY,
      p_limit: 10,
    });
    assertEquals(error, null);
    assertEquals(dashboardResponse.parse(data), expected as unknown);

    const res = await fn(`/dashboard?start=2026-03-01&end=2026-03-15&tz=${encodeURIComponent(NY)}`, creatorA.token);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("cache-control"), "private, max-age=60");
    assertEquals(res.headers.get("access-control-allow-origin"), "*");
    const got = dashboardResponse.parse(await res.json());
    assertEquals(got, expected as unknown);

    // The API's own percentages (not the expectation's) are whole numbers summing to exactly 100.
    for (const list of [got.sources, got.demographics.countries, got.demographics.devices]) {
      assert(list.length > 1, "a breakdown with several entries");
      assertEquals(list.reduce((a, x) => a + x.percentage, 0), 100, "percentages sum to 100");
    }
  },
});

Deno.test({
  name: "dashboard: local days differ by time zone exactly as the raw events do",
  sanitizeResources: false,
  fn: async () => {
    const db = userClient(creatorA.token);
    for (const tz of ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Asia/Kathmandu"]) { // +09:00, +05:30, +05:45
      const { data, error } = await db.rpc("get_creator_dashboard", {
        p_start: "2026-03-01", p_end: "2026-03-15", p_tz: tz, p_limit: 1,
      });
      assertEquals(error, null);
      const expected = expectedDashboard(fx, creatorA.id, 3, 1, "2026-03-01", "2026-03-15", tz, 1);
      assertEquals(dashboardResponse.parse(data), expected as unknown, tz);
    }
  },
});

Deno.test({
  name: "mashup analytics: lifetime, retention, zero-filled daily and peak hours across the DST change",
  sanitizeResources: false,
  fn: async () => {
    for (const m of [alpha, beta]) {
      const expected = expectedMashup(fx, m.id, "2026-03-01", "2026-03-15", NY);
      const { data, error } = await userClient(creatorA.token).rpc("get_mashup_analytics", {
        p_mashup_id: m.id, p_start: "2026-03-01", p_end: "2026-03-15", p_tz: NY,
      });
      assertEquals(error, null);
      const got = mashupAnalyticsResponse.parse(data);
      const { createdAt, ...mashup } = got.mashup;
      assert(!Number.isNaN(Date.parse(createdAt)));
      assertEquals({ ...got, mashup }, expected as unknown, m.title);
      const drops = got.retention.dropOffPoints.map((d) => d.percentage);
      assertEquals(drops, [...drops].sort((a, b) => a - b), "drop-off is cumulative");

      const res = await fn(`/mashups/${m.id}?start=2026-03-01&end=2026-03-15&tz=${encodeURIComponent(NY)}`, creatorA.token);
      assertEquals(res.status, 200);
      const body = mashupAnalyticsResponse.parse(await res.json());
      assertEquals(body, got);
    }
  },
});

Deno.test({
  name: "creator B gets 404 for creator A's mashup, through the function and through RPC, like a missing one",
  sanitizeResources: false,
  fn: async () => {
    const theirs = await fn(`/mashups/${alpha.id}`, creatorB.token);
    const missing = await fn(`/mashups/${crypto.randomUUID()}`, creatorB.token);
    assertEquals(theirs.status, 404);
    assertEquals(missing.status, 404);
    assertEquals(await theirs.json(), await missing.json());

    const { data, error, status } = await userClient(creatorB.token).rpc("get_mashup_analytics", {
      p_mashup_id: alpha.id, p_start: "2026-03-01", p_end: "2026-03-15", p_tz: "UTC",
    });
    assertEquals(data, null);
    assertEquals(status, 404);
    assertEquals(error?.code, "P0002");

    // B's own mashup works, and B's dashboard contains nothing of A's.
    const own = await fn(`/mashups/${gamma.id}?start=2026-03-01&end=2026-03-15`, creatorB.token);
    assertEquals(own.status, 200);
    await own.body?.cancel();
    const dash = dashboardResponse.parse(await (await fn(`/dashboard?start=2026-03-01&end=2026-03-15`, creatorB.token)).json());
    const expectedB = expectedDashboard(fx, creatorB.id, 0, 0, "2026-03-01", "2026-03-15", "UTC");
    assert(expectedB.topContent.length > 0, "creator B has plays in the period");
    assertEquals(dash.topContent, expectedB.topContent, "B's top content is B's mashups exactly");
    assertEquals(dash.summary.totalPlays, expectedB.summary.totalPlays);
  },
});

Deno.test({
  name: "the analytics function answers 401 without a valid JWT, 400 naming the bad parameter",
  sanitizeResources: false,
  fn: async () => {
    for (const path of ["/dashboard", `/mashups/${alpha.id}`, "/realtime"]) {
      const res = await fn(path);
      assertEquals(res.status, 401, path);
      await res.body?.cancel();
    }
    const anon = await fn("/dashboard", (await import("../_support/env.ts")).ANON_KEY);
    assertEquals(anon.status, 401, "the anon key is not a user");
    await anon.body?.cancel();

    const cases: [string, string][] = [
      ["/dashboard?start=2026-02-30", "start"],
      ["/dashboard?start=yesterday", "start"],
      ["/dashboard?start=2026-03-10&end=2026-03-10", "end"],
      ["/dashboard?start=2026-03-10&end=2026-03-01", "end"],
      ["/dashboard?start=2025-01-01&end=2026-03-01", "end"],
      ["/dashboard?tz=Mars/Olympus_Mons", "tz"],
      ["/dashboard?limit=0", "limit"],
      ["/dashboard?limit=101", "limit"],
      ["/dashboard?limit=ten", "limit"],
      ["/mashups/not-a-uuid", "id"],
    ];
    for (const [path, field] of cases) {
      const res = await fn(path, creatorA.token);
      assertEquals(res.status, 400, path);
      const body = errorResponse.parse(await res.json());
      assertEquals(body.field, field, path);
      assert(body.error.includes(field), `${path}: "${body.error}" names ${field}`);
    }
    // The same rules hold for a direct RPC call.
    const { error } = await userClient(creatorA.token).rpc("get_creator_dashboard", {
      p_start: "2026-03-10", p_end: "2026-03-01", p_tz: "UTC", p_limit: 10,
    });
    assertEquals(error?.code, "22023");
    assertEquals(error?.hint, "p_end");
  },
});

Deno.test({
  name: "the default period is the last 30 days in the requested zone",
  sanitizeResources: false,
  fn: async () => {
    const res = await fn("/dashboard?tz=Asia/Tokyo", creatorA.token);
    const body = dashboardResponse.parse(await res.json());
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo" }).format(new Date());
    const tomorrow = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    assertEquals(body.period.end, tomorrow);
    assertEquals(body.trends.playsOverTime.length, 30);
    // The service role sees the whole platform's dashboard.
    const svc = await fetch(`${API_URL}/functions/v1/analytics/dashboard?start=2026-03-01&end=2026-03-15`, {
      headers: { Authorization: `Bearer ${SERVICE_KEY}` },
    });
    const all = dashboardResponse.parse(await svc.json());
    const mine = dashboardResponse.parse(await (await fn("/dashboard?start=2026-03-01&end=2026-03-15", creatorA.token)).json());
    // Platform-wide: every play stored for that period, whoever's mashup (counted from raw events).
    const [raw] = await sql<{ n: number }[]>`select count(*)::int as n from public.analytics_events
      where event_type = 'mashup_played' and "timestamp" >= '2026-03-01T00:00:00Z' and "timestamp" < '2026-03-15T00:00:00Z'
        and mashup_id in (select id from public.mashups)`;
    const playsB = expectedDashboard(fx, creatorB.id, 0, 0, "2026-03-01", "2026-03-15", "UTC").summary.totalPlays;
    assert(playsB > 0 && raw.n >= mine.summary.totalPlays + playsB);
    assertEquals(all.summary.totalPlays, raw.n, "platform-wide plays equal the raw events of the period");
  },
});

Deno.test({
  name: "realtime: a creator sees live listeners of their own mashups, the service role the whole platform",
  sanitizeResources: false,
  fn: async () => {
    // Fresh listeners on creator A's mashups, sent through the real track function, now.
    const now = new Date().toISOString();
    const play = (mashupId: string, anon: string) => ({
      type: "mashup_played", id: crypto.randomUUID(), timestamp: now, anonymous_id: anon, session_id: `s-${anon}`,
      properties: { mashup_id: mashupId, source: "direct", auto_play: false, play_id: crypto.randomUUID() },
    });
    const tag = crypto.randomUUID().slice(0, 8);
    const events = [
      play(alpha.id, `rt-${tag}-1`), play(alpha.id, `rt-${tag}-2`), play(alpha.id, `rt-${tag}-3`),
      play(beta.id, `rt-${tag}-1`),
      { type: "mashup_liked", id: crypto.randomUUID(), timestamp: now, anonymous_id: `rt-${tag}-4`,
        properties: { mashup_id: beta.id } },
      play(gamma.id, `rt-${tag}-9`), // creator B's: never in A's view
    ];
    const sent = await fetch(`${API_URL}/functions/v1/track`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ events }),
    });
    assertEquals((await sent.json()).accepted, events.length);

    const res = await fn("/realtime", creatorA.token);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("cache-control"), "private, max-age=5");
    const mine = realtimeResponse.parse(await res.json());
    assertEquals(mine, {
      activeUsers: 4,
      playingNow: [{ mashupId: alpha.id, listeners: 3 }, { mashupId: beta.id, listeners: 1 }],
      lastHour: { plays: 4, likes: 1 },
    });

    const svc = await fetch(`${API_URL}/functions/v1/analytics/realtime`, {
      headers: { Authorization: `Bearer ${SERVICE_KEY}` },
    });
    const all = realtimeResponse.parse(await svc.json());
    // Other listeners on the stack come and go; the fixture's fresh mashups are known exactly.
    const playing = Object.fromEntries(all.playingNow.map((p) => [p.mashupId, p.listeners]));
    assertEquals([playing[alpha.id], playing[beta.id], playing[gamma.id]], [3, 1, 1], "creator B's listener included");
  },
});

// Closing the pool is housekeeping, not a test: it runs after this file's tests and counts nowhere.
Deno.test.afterAll(endSql);
