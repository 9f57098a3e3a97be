// The dashboard page in a real browser (playwright-core + Debian's Chromium), against the running
// stack: served by the gateway under its strict CSP, signing in through the auth stand-in, and
// showing exactly the analytics API's numbers. Screenshots go to test-results/browser/.
import type { Page } from "playwright-core";
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, DEMO_TOKEN, ENV } from "../_support/env.ts";
import { userToken } from "../_support/db.ts";
import { teardown } from "../_support/teardown.ts";
import { chartInk, closeBrowser, openPage, screenshot, sessionToken, tableRows, waitForPanel, type Watched } from "../_support/browser.ts";
import type {
  ComparedDashboardResponse,
  DashboardResponse,
  MashupAnalyticsResponse,
  RealtimeResponse,
} from "../../types/analytics.ts";

const DEMO = { email: "demo@mashups.local", password: "demo-password-123" };
const opts = { sanitizeOps: false, sanitizeResources: false };

// The page reads the dashboard API; every comparison below runs against it (none is skipped).
const withApi = opts;

async function api<T>(token: string, path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${API_URL}/functions/v1/analytics/${path}?${new URLSearchParams(params)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await res.json();
  assertEquals(res.status, 200, `GET ${path}: ${JSON.stringify(body)}`);
  return body as T;
}

async function signIn(w: Watched, creds = DEMO): Promise<void> {
  await w.page.goto(`${API_URL}/`);
  await w.page.getByTestId("email").fill(creds.email);
  await w.page.getByTestId("password").fill(creds.password);
  await w.page.getByTestId("sign-in").click();
  await w.page.waitForSelector("[data-testid=panel-summary]");
}

/** The API period for what the page shows: its inclusive dates plus one day, and its zone. */
async function pagePeriod(page: Page): Promise<{ start: string; end: string; tz: string; key: string }> {
  const from = await page.inputValue("[data-testid=from]");
  const to = await page.inputValue("[data-testid=to]");
  const tz = await page.inputValue("[data-testid=tz]");
  const end = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return { start: from, end, tz, key: `${from}|${end}|${tz}` };
}

const num = (s: string) => Number(s.replace(/[^0-9-]/g, ""));

async function cardValues(page: Page, ids: string[]): Promise<Record<string, { value: number; text: string }>> {
  const out: Record<string, { value: number; text: string }> = {};
  for (const id of ids) {
    const el = page.getByTestId(id);
    out[id] = { value: Number(await el.getAttribute("data-value")), text: (await el.locator(".card-value").textContent()) ?? "" };
  }
  return out;
}

function assertClean(w: Watched) {
  assertEquals(w.problems, [], "no console errors, CSP violations, failed requests or requests to other origins");
}

Deno.test({
  name: "page: served at / under the strict CSP, everything from the same origin, sign-in form first",
  ...opts,
  async fn() {
    const res = await fetch(`${API_URL}/`);
    assertEquals(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"]) {
      assert(csp.includes(d), `CSP has ${d}: ${csp}`);
    }
    const html = await res.text();
    assert(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), "no inline script");
    assert(!/<style|\sstyle=/i.test(html), "no inline style");

    const w = await openPage();
    try {
      await w.page.goto(`${API_URL}/`);
      await w.page.waitForSelector("[data-testid=signin-form]");
      assert(w.requests.some((u) => u.endsWith("/app.js")) && w.requests.some((u) => u.endsWith("/styles.css")));
      // The stylesheet applied (a CSP block would leave the page unstyled).
      const bg = await w.page.$eval(".topbar", (el) => getComputedStyle(el).backgroundColor);
      assertEquals(bg, "rgb(17, 24, 39)");
      await screenshot(w.page, "signin");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: a wrong password shows an error; the demo creator signs in and out through the auth stand-in",
  ...opts,
  async fn() {
    // The wrong password's 400 is expected (and, while the API is missing, its 500s).
    const w = await openPage({ allowHttpErrors: /\/auth\/v1\/token/ });
    try {
      await w.page.goto(`${API_URL}/`);
      await w.page.getByTestId("email").fill(DEMO.email);
      await w.page.getByTestId("password").fill("not-the-password");
      await w.page.getByTestId("sign-in").click();
      await w.page.waitForSelector("[data-testid=signin-error]:not([hidden])");
      assertEquals(await w.page.getByTestId("signin-error").textContent(), "Wrong email or password.");

      await w.page.getByTestId("fill-demo").click();
      await w.page.getByTestId("sign-in").click();
      await w.page.waitForSelector("[data-testid=panel-summary]");
      assertEquals(await w.page.getByTestId("who").textContent(), DEMO.email);
      const claims = JSON.parse(atob((await sessionToken(w.page)).split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      assertEquals([claims.role, claims.aud, claims.email], ["authenticated", "authenticated", DEMO.email]);

      // A reload keeps the session (supabase-js stores it), sign-out ends it.
      await w.page.reload();
      await w.page.waitForSelector("[data-testid=panel-summary]");
      await w.page.getByTestId("sign-out").click();
      await w.page.waitForSelector("[data-testid=signin-form]");
      await w.page.reload();
      await w.page.waitForSelector("[data-testid=signin-form]");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: a 401 from the API signs the page out with a reason",
  ...opts,
  async fn() {
    const w = await openPage({ allowHttpErrors: /\/functions\/v1\/analytics\// });
    try {
      await w.page.route("**/functions/v1/analytics/dashboard?**", (route) =>
        route.fulfill({ status: 401, contentType: "application/json", body: JSON.stringify({ error: "JWT expired" }) }));
      await w.page.goto(`${API_URL}/`);
      await w.page.getByTestId("email").fill(DEMO.email);
      await w.page.getByTestId("password").fill(DEMO.password);
      await w.page.getByTestId("sign-in").click();
      await w.page.waitForSelector("[data-testid=signin-form]");
      await w.page.waitForSelector("[data-testid=signin-error]:not([hidden])");
      assertEquals(
        await w.page.getByTestId("signin-error").textContent(),
        "Your session is no longer valid: please sign in again.",
      );
      // Signed out for real: a reload shows the form again, not the dashboard.
      await w.page.unroute("**/functions/v1/analytics/dashboard?**");
      await w.page.reload();
      await w.page.waitForSelector("[data-testid=signin-form]");
      assertEquals(await w.page.locator("[data-testid=panel-summary]").count(), 0);
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: an API failure shows an error with Retry (never a blank panel); a bad period is refused on the page",
  ...opts,
  async fn() {
    const w = await openPage({ allowHttpErrors: /\/functions\/v1\/analytics\// });
    try {
      // Fail the dashboard call: every dashboard panel shows the error and a Retry button.
      let fail = true;
      await w.page.route("**/functions/v1/analytics/dashboard?**", (route) =>
        fail
          ? route.fulfill({ status: 500, contentType: "application/json", body: JSON.stringify({ error: "internal error" }) })
          : route.continue());
      await signIn(w);
      for (const name of ["summary", "plays", "likes", "top", "sources", "countries", "devices"]) {
        await w.page.waitForSelector(`[data-testid=panel-${name}][data-state=error]`);
        const text = await w.page.locator(`[data-testid=panel-${name}] .panel-status`).textContent();
        assert(text?.includes("internal error (HTTP 500)"), `${name}: ${text}`);
      }
      fail = false;
      await w.page.locator("[data-testid=panel-summary] .panel-status button").click();
      const p = await pagePeriod(w.page);
      const state = await waitForPanel(w.page, "summary", p.key, ["ready"]);
      assertEquals(state, "ready");

      // "To" before "From": the page says why and asks the API nothing.
      const before = w.requests.length;
      await w.page.fill("[data-testid=to]", "2026-01-01");
      await w.page.fill("[data-testid=from]", "2026-02-01");
      await w.page.dispatchEvent("[data-testid=from]", "change");
      await w.page.waitForSelector("[data-testid=period-error]:not([hidden])");
      assert(!w.requests.slice(before).some((u) => u.includes("/analytics/dashboard")), "no request for a bad period");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: a 503 (the database restarting) is asked again after its retry_after; the page recovers by itself, and shows it once retries run out",
  ...opts,
  async fn() {
    const w = await openPage({ allowHttpErrors: /\/functions\/v1\/analytics\// });
    try {
      const unavailable = { status: 503, contentType: "application/json", headers: { "Retry-After": "1" },
        body: JSON.stringify({ error: "the database is unavailable; retry shortly", retry_after: 1 }) };
      // Two 503s, then the real API: the panels end ready with no click.
      let answered503 = 0;
      let failures = 2;
      await w.page.route("**/functions/v1/analytics/dashboard?**", (route) => {
        if (failures > 0) {
          failures--;
          answered503++;
          return route.fulfill(unavailable);
        }
        return route.continue();
      });
      const started = Date.now();
      await signIn(w);
      const p = await pagePeriod(w.page);
      assertEquals(await waitForPanel(w.page, "summary", p.key, ["ready"]), "ready");
      assertEquals(answered503, 2);
      assert(Date.now() - started >= 2000, "the page waited retry_after before each new request");
      assertEquals(await w.page.locator("[data-state=error]").count(), 0);

      // A database that stays down: after three retries the panels say so, with Retry.
      failures = Infinity;
      answered503 = 0;
      await w.page.reload();
      await w.page.waitForSelector("[data-testid=panel-summary][data-state=error]", { timeout: 15_000 });
      const text = await w.page.locator("[data-testid=panel-summary] .panel-status").textContent();
      assert(text?.includes("the database is unavailable; retry shortly (HTTP 503)"), text ?? "");
      assertEquals(answered503, 4, "the first request and three retries");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: the summary cards, trends, top content, sources, countries and devices equal the API's for the same period",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      await signIn(w);
      const p = await pagePeriod(w.page);
      assertEquals(p.tz, "UTC", "the page starts in the browser's time zone");
      for (const name of ["summary", "plays", "likes", "top", "sources", "countries", "devices"]) {
        await waitForPanel(w.page, name, p.key);
      }
      const token = await sessionToken(w.page);
      const d = await api<DashboardResponse>(token, "dashboard", { start: p.start, end: p.end, tz: p.tz, limit: "10" });
      assertEquals(d.period, { start: p.start, end: p.end });
      assert(d.summary.totalPlays > 0, "the demo creator has plays in the default period");

      const cards = await cardValues(w.page, ["card-totalPlays", "card-totalLikes", "card-totalShares", "card-followers", "card-following"]);
      for (const k of ["totalPlays", "totalLikes", "totalShares", "followers", "following"] as const) {
        const c = cards[`card-${k}`];
        assertEquals(c.value, d.summary[k], `card ${k}`);
        assertEquals(num(c.text), d.summary[k], `card ${k} as shown: ${c.text}`);
      }
      assertEquals(await tableRows(w.page, "plays-table"), d.trends.playsOverTime.map((x) => [x.date, String(x.plays)]));
      assertEquals(await tableRows(w.page, "likes-table"), d.trends.likesOverTime.map((x) => [x.date, String(x.likes)]));

      const top = await w.page.$$eval("[data-testid=top-table] tbody tr", (rows) =>
        rows.map((r) => ({
          id: r.getAttribute("data-mashup-id"),
          growth: r.getAttribute("data-growth"),
          cells: Array.from((r as HTMLTableRowElement).cells).map((c) => (c.textContent ?? "").trim()),
        })));
      assertEquals(top.length, d.topContent.length);
      d.topContent.forEach((t, i) => {
        assertEquals(top[i].id, t.mashupId);
        assertEquals(top[i].cells[1], t.title);
        assertEquals([num(top[i].cells[2]), num(top[i].cells[3])], [t.plays, t.likes]);
        assertEquals(top[i].growth, t.growth === null ? "null" : String(t.growth));
        const shown = top[i].cells[4];
        if (t.growth === null) assertEquals(shown, "new");
        else assertEquals(num(shown.replace("−", "-")), t.growth, `growth shown as ${shown}`);
      });

      assertEquals(await tableRows(w.page, "sources-table"), d.sources.map((x) => [x.source, String(x.count), `${x.percentage}%`]));
      assertEquals(await tableRows(w.page, "countries-table"), d.demographics.countries.map((x) => [x.country, `${x.percentage}%`]));
      assertEquals(await tableRows(w.page, "devices-table"), d.demographics.devices.map((x) => [x.device, `${x.percentage}%`]));

      const ink = await chartInk(w.page);
      for (const c of ["plays-chart", "likes-chart", "sources-chart", "countries-chart", "devices-chart"]) {
        assert((ink[c] ?? 0) > 800, `${c} is drawn (${ink[c]} pixels)`);
      }
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: switching the time zone changes the daily series exactly as the API's does",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      await signIn(w);
      const utc = await pagePeriod(w.page);
      await waitForPanel(w.page, "plays", utc.key);
      const token = await sessionToken(w.page);
      const shownUtc = await tableRows(w.page, "plays-table");

      await w.page.selectOption("[data-testid=tz]", "Asia/Tokyo");
      const tokyo = await pagePeriod(w.page);
      assertEquals([tokyo.start, tokyo.end, tokyo.tz], [utc.start, utc.end, "Asia/Tokyo"]);
      await waitForPanel(w.page, "plays", tokyo.key);
      await waitForPanel(w.page, "likes", tokyo.key);
      const shownTokyo = await tableRows(w.page, "plays-table");

      const apiUtc = await api<DashboardResponse>(token, "dashboard", { start: utc.start, end: utc.end, tz: "UTC", limit: "10" });
      const apiTokyo = await api<DashboardResponse>(token, "dashboard", { start: utc.start, end: utc.end, tz: "Asia/Tokyo", limit: "10" });
      assert(
        JSON.stringify(apiUtc.trends.playsOverTime) !== JSON.stringify(apiTokyo.trends.playsOverTime),
        "the API's daily plays differ between UTC and Asia/Tokyo days",
      );
      assertEquals(shownUtc, apiUtc.trends.playsOverTime.map((x) => [x.date, String(x.plays)]));
      assertEquals(shownTokyo, apiTokyo.trends.playsOverTime.map((x) => [x.date, String(x.plays)]));
      assertEquals(await tableRows(w.page, "likes-table"), apiTokyo.trends.likesOverTime.map((x) => [x.date, String(x.likes)]));
      assert(JSON.stringify(shownUtc) !== JSON.stringify(shownTokyo), "the page's series changed with the zone");
      assert((await w.page.url()).includes("tz=Asia%2FTokyo"), "the zone is kept in the address");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: a chosen mashup shows its lifetime, retention curve, daily series and peak hours as the API's; screenshot",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      await signIn(w);
      await w.page.selectOption("[data-testid=tz]", "America/New_York");
      const p = await pagePeriod(w.page);
      await waitForPanel(w.page, "top", p.key);
      // Open the second mashup of the top content list.
      const row = w.page.locator("[data-testid=top-table] tbody tr").nth(1);
      const id = (await row.getAttribute("data-mashup-id"))!;
      await row.locator("button").click();
      const key = `${id}|${p.key}`;
      for (const name of ["mashup-summary", "retention", "daily", "peak"]) await waitForPanel(w.page, name, key);
      assertEquals(await w.page.inputValue("[data-testid=mashup-select]"), id);

      const token = await sessionToken(w.page);
      const m = await api<MashupAnalyticsResponse>(token, `mashups/${id}`, { start: p.start, end: p.end, tz: p.tz });
      assertEquals(await w.page.locator("[data-testid=mashup-title] .card-title").textContent(), m.mashup.title);
      const cards = await cardValues(w.page, ["mcard-plays", "mcard-uniquePlays", "mcard-likes", "mcard-shares", "mcard-comments"]);
      assertEquals(
        [cards["mcard-plays"].value, cards["mcard-uniquePlays"].value, cards["mcard-likes"].value, cards["mcard-shares"].value, cards["mcard-comments"].value],
        [m.lifetime.plays, m.lifetime.uniquePlays, m.lifetime.likes, m.lifetime.shares, m.lifetime.comments],
      );
      assertEquals(Number(await w.page.getByTestId("mcard-completionRate").getAttribute("data-value")), m.retention.completionRate);
      assertEquals(Number(await w.page.getByTestId("mcard-avgWatchTime").getAttribute("data-value")), m.retention.avgWatchTime);

      assert(m.retention.dropOffPoints.length > 0, "the mashup has drop-off points");
      const retention = await w.page.$$eval("[data-testid=retention-table] tbody tr", (rows) =>
        rows.map((r) => [Number(r.getAttribute("data-time")), (r as HTMLTableRowElement).cells[2].textContent]));
      assertEquals(retention, m.retention.dropOffPoints.map((x) => [x.time, `${x.percentage}%`]));
      assertEquals(await tableRows(w.page, "daily-table"), m.daily.map((x) => [x.date, String(x.plays), String(x.likes)]));
      assert(m.peakTimes.length > 0, "the mashup has peak hours");
      const peak = await w.page.$$eval("[data-testid=peak-table] tbody tr", (rows) =>
        rows.map((r) => [Number(r.getAttribute("data-hour")), Number((r as HTMLTableRowElement).cells[1].textContent)]));
      assertEquals(peak, m.peakTimes.map((x) => [x.hour, x.plays]), "peak hours in New York time, busiest first");

      // Every chart on the page is drawn.
      const ink = await chartInk(w.page);
      for (const c of ["plays", "likes", "sources", "countries", "devices", "retention", "daily", "peak"]) {
        assert((ink[`${c}-chart`] ?? 0) > 800, `${c} chart is drawn (${ink[`${c}-chart`]} pixels)`);
      }
      await w.page.evaluate(() => globalThis.scrollTo(0, 0));
      await w.page.waitForSelector("[data-testid=panel-realtime]:not([data-state=loading])");
      const path = await screenshot(w.page, "dashboard");
      assert((await Deno.stat(path)).size > 50_000, "a full-page screenshot was written");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: the realtime panel shows the API's numbers and refreshes every 10 seconds",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      const calls: number[] = [];
      w.page.on("request", (r) => {
        if (r.url().includes("/functions/v1/analytics/realtime")) calls.push(Date.now());
      });
      await signIn(w);
      await w.page.waitForSelector("[data-testid=panel-realtime][data-state=ready]");
      const token = await sessionToken(w.page);
      const shownRealtime = () =>
        w.page.$eval("[data-testid=panel-realtime]", (el) => ({
          activeUsers: Number(el.querySelector("[data-testid=rt-activeUsers]")!.getAttribute("data-value")),
          playingNow: Array.from(el.querySelectorAll("[data-testid=rt-playing] li")).map((li) => li.getAttribute("data-mashup-id")),
          lastHour: {
            plays: Number(el.querySelector("[data-testid=rt-lastHour-plays]")!.getAttribute("data-value")),
            likes: Number(el.querySelector("[data-testid=rt-lastHour-likes]")!.getAttribute("data-value")),
          },
        }));
      // Live numbers move; compare when the API answers the same just before and after the page asks.
      let compared = false;
      for (let attempt = 0; attempt < 3 && !compared; attempt++) {
        await w.page.waitForTimeout(5_200); // past the response's private max-age=5
        const before = await api<RealtimeResponse>(token, "realtime");
        const stamp = await w.page.getAttribute("[data-testid=panel-realtime]", "data-params");
        await w.page.getByTestId("refresh").click();
        await w.page.waitForSelector(`[data-testid=panel-realtime][data-state=ready]:not([data-params="${stamp}"])`);
        const after = await api<RealtimeResponse>(token, "realtime");
        if (JSON.stringify(before) !== JSON.stringify(after)) continue;
        const shown = await shownRealtime();
        assertEquals(shown, {
          activeUsers: before.activeUsers,
          playingNow: before.playingNow.slice(0, 6).map((p) => p.mashupId),
          lastHour: before.lastHour,
        });
        compared = true;
      }
      assert(compared, "the realtime numbers never held still for two seconds");
      // Refresh restarted the 10 s timer: the next call comes by itself 10 s after the click's.
      const last = calls.length - 1;
      await w.page.waitForTimeout(10_800);
      assert(calls.length > last + 1, `the panel asked again by itself after 10 s (${calls.length - last - 1} calls)`);
      const gap = calls[last + 1] - calls[last];
      assert(gap >= 9_000 && gap <= 11_500, `refresh interval ${gap} ms`);
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: while Redis does not answer, the realtime panel shows the database's numbers, marked not live",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      await signIn(w);
      await w.page.waitForSelector("[data-testid=panel-realtime][data-state=ready]");
      assertEquals(await w.page.getAttribute("[data-testid=rt-updated]", "class"), "rt-updated");
      await w.page.waitForTimeout(5_200); // past the response's private max-age=5
      const stamp = await w.page.getAttribute("[data-testid=panel-realtime]", "data-params");
      const redisCli = (...args: string[]) =>
        new Deno.Command("redis-cli", { args: ["-p", ENV.REDIS_PORT, ...args], env: { REDISCLI_AUTH: ENV.REDIS_PASSWORD } });
      const paused = redisCli("client", "pause", "4000", "ALL");
      assertEquals(new TextDecoder().decode((await paused.output()).stdout).trim(), "OK");
      try {
        await w.page.getByTestId("refresh").click();
        await w.page.waitForSelector(`[data-testid=panel-realtime][data-state=ready]:not([data-params="${stamp}"])`);
      } finally {
        await redisCli("client", "unpause").output();
      }
      assertEquals(await w.page.getAttribute("[data-testid=rt-updated]", "class"), "rt-updated stale");
      const note = await w.page.textContent("[data-testid=rt-updated]");
      assert(note!.includes("live counters unavailable, counted from the database"), note!);
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: a pasted token signs in too; a creator with nothing yet sees empty states, not blanks",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      // The demo creator's token from .env.local, pasted.
      await w.page.goto(`${API_URL}/`);
      await w.page.getByTestId("token").fill(DEMO_TOKEN);
      await w.page.getByTestId("use-token").click();
      await w.page.waitForSelector("[data-testid=panel-summary]");
      assert((await w.page.getByTestId("who").textContent())?.includes("(token)"));
      const p = await pagePeriod(w.page);
      await waitForPanel(w.page, "summary", p.key);
      const d = await api<DashboardResponse>(DEMO_TOKEN, "dashboard", { start: p.start, end: p.end, tz: p.tz, limit: "10" });
      assertEquals(Number(await w.page.getByTestId("card-totalPlays").getAttribute("data-value")), d.summary.totalPlays);
      await w.page.getByTestId("sign-out").click();

      // A user with no mashups: a valid token for a user id that owns nothing.
      const nobody = await userToken(crypto.randomUUID(), "nobody@test.local");
      await w.page.getByTestId("token").fill(nobody);
      await w.page.getByTestId("use-token").click();
      await waitForPanel(w.page, "summary", p.key);
      assertEquals(Number(await w.page.getByTestId("card-totalPlays").getAttribute("data-value")), 0);
      for (const name of ["top", "sources", "countries", "devices"]) await waitForPanel(w.page, name, p.key, ["empty"]);
      await w.page.waitForSelector("[data-testid=panel-retention][data-state=empty]");
      await screenshot(w.page, "empty");
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "browser: another origin's page may call the analytics API with a Bearer token (CORS, preflight)",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      // A creator's own front end on another origin: any document from http://localhost:<port>
      // (not 127.0.0.1, so another origin; served from loopback, so Chromium's local-network-access
      // rules allow it to call loopback; and not the page, whose CSP allows only its own origin).
      await w.page.goto(`http://localhost:${new URL(API_URL).port}/functions/v1/whoami`);
      const out = await w.page.evaluate(async ([base, token]) => {
        const res = await fetch(`${base}/functions/v1/analytics/dashboard?tz=Europe/Berlin`, {
          headers: { Authorization: `Bearer ${token}`, "x-client-info": "supabase-js/2" },
        });
        const body = await res.json();
        return { status: res.status, cache: res.headers.get("cache-control"), keys: Object.keys(body).sort() };
      }, [API_URL, DEMO_TOKEN]);
      assertEquals(out.status, 200);
      assertEquals(out.keys, ["demographics", "period", "sources", "summary", "topContent", "trends"]);
      assert(out.cache?.includes("private"), `a private Cache-Control: ${out.cache}`);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "page: every summary card shows the change against the previous period; CSV buttons download the API's CSV",
  ...withApi,
  async fn() {
    const w = await openPage();
    try {
      await signIn(w);
      await w.page.selectOption("[data-testid=tz]", "Asia/Kolkata");
      const p = await pagePeriod(w.page);
      for (const name of ["summary", "top", "sources"]) await waitForPanel(w.page, name, p.key);
      const token = await sessionToken(w.page);
      const d = await api<ComparedDashboardResponse>(token, "dashboard", {
        start: p.start, end: p.end, tz: p.tz, limit: "10", compare: "previous",
      });
      assert(d.comparison.summary.totalPlays > 0, "the demo creator had plays in the previous period");
      for (const k of ["totalPlays", "totalLikes", "totalShares", "followers", "following"] as const) {
        const change = w.page.getByTestId(`card-${k}-change`);
        assertEquals(await change.getAttribute("data-change"), d.comparison.change[k] === null ? "" : String(d.comparison.change[k]), k);
        assertEquals(Number(await change.getAttribute("data-previous")), d.comparison.summary[k], k);
        const text = (await change.textContent()) ?? "";
        const pct = d.comparison.change[k];
        if (pct !== null && pct !== 0) {
          assert(text.startsWith(pct > 0 ? "▲" : "▼") && text.includes(`${Math.abs(pct)}%`), `${k} shown as ${text}`);
        }
      }

      await screenshot(w.page, "comparison");
      // The top content and sources panels' CSV buttons save exactly the API's CSV for the period on screen.
      for (const [panel, table] of [["top", "topContent"], ["sources", "sources"]]) {
        const [download] = await Promise.all([w.page.waitForEvent("download"), w.page.getByTestId(`csv-${panel}`).click()]);
        const saved = await Deno.readTextFile((await download.path())!);
        const res = await fetch(`${API_URL}/functions/v1/analytics/dashboard?${new URLSearchParams({
          start: p.start, end: p.end, tz: p.tz, format: "csv", table,
        })}`, { headers: { Authorization: `Bearer ${token}` } });
        assertEquals(saved, await res.text(), panel);
        assertEquals(download.suggestedFilename(), `dashboard-${table}-${p.start}-${p.end}.csv`);
      }
      assertClean(w);
    } finally {
      await w.close();
    }
  },
});

// Closing the browser is housekeeping, not a test: it runs after this file's tests and counts nowhere.
Deno.test.afterAll(teardown("the browser", closeBrowser));
