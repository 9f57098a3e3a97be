// The real posthog-js (the npm package's browser bundle) on a site of its own origin, in Debian's
// Chromium, pointed at the track function with nothing but `api_host` set, as docs/ingestion.md
// says. Every request the library makes must succeed (remote config, flags, capture), the console
// must stay free of errors, and the plan's events must be stored as the visitor's anonymous events.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL } from "../_support/env.ts";
import { chromium } from "playwright-core";
import { CHROMIUM } from "../_support/browser.ts";
import { storedEventsWhere, UA, uuid } from "../_support/track.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const POSTHOG_BUNDLE = new URL("../../node_modules/posthog-js/dist/array.js", import.meta.url);
const API_HOST = `${API_URL}/functions/v1/track`;

/** A site on its own origin that loads posthog-js and calls the plan's capture calls. */
function startSite(page: string): { origin: string; close: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/posthog.js") {
      return new Response(await Deno.readFile(POSTHOG_BUNDLE), {
        headers: { "Content-Type": "application/javascript" },
      });
    }
    if (path === "/favicon.ico") return new Response(null, { status: 204 });
    return new Response(page, { headers: { "Content-Type": "text/html; charset=utf-8" } });
  });
  return { origin: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

Deno.test({
  name: "posthog-js with only api_host: no failed request, no console error, the plan's events stored",
  ...opts,
  fn: async () => {
    const [mashup, play, creator] = [uuid(), uuid(), uuid()];
    const token = `phc_${uuid().replaceAll("-", "")}`;
    // The plan's client calls, exactly as lib/analytics/events.ts makes them.
    const site = startSite(`<!doctype html><html><head><title>mashups</title>
<script src="/posthog.js"></script>
<script>
  posthog.init(${JSON.stringify(token)}, { api_host: ${JSON.stringify(API_HOST)} });
  window.captureAll = () => {
    posthog.capture("mashup_played", { mashup_id: ${JSON.stringify(mashup)}, source: "twitter",
                                       autoPlay: false, playId: ${JSON.stringify(play)} });
    posthog.capture("ai_reaction", { mashup_id: ${JSON.stringify(mashup)}, reaction: "fire" });
    posthog.capture("user_followed", { creator_id: ${JSON.stringify(creator)} });
    posthog.capture("mashup_created", { trackCount: 3, duration: 185, usedAI: true,
                                        mashup_id: ${JSON.stringify(mashup)} });
  };
</script></head><body><button id="go">go</button></body></html>`);

    // A visitor's browser, not an automated one: posthog-js drops every event when
    // navigator.webdriver is true (its bot filter), which Chromium sets under --enable-automation.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      ignoreDefaultArgs: ["--enable-automation"],
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-blink-features=AutomationControlled"],
    });
    // A visitor's Chrome: posthog-js (and track) treat a HeadlessChrome User-Agent as a bot.
    const context = await browser.newContext({ userAgent: UA.windowsChrome });
    const page = await context.newPage();
    const problems: string[] = [];
    const apiRequests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.url().startsWith(API_HOST)) apiRequests.push(`${r.request().method()} ${r.url().slice(API_HOST.length)} ${r.status()}`);
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    try {
      await page.goto(site.origin);
      const distinctId = await page.evaluate(() => (globalThis as any).posthog.get_distinct_id() as string);
      assert(distinctId, "posthog-js made up an anonymous distinct id");
      await page.evaluate(() => (globalThis as any).captureAll());

      const rows = await waitFor(() => storedEventsWhere("anonymous_id", distinctId), (r) => r.length >= 4);
      assertEquals(rows.length, 4, `stored; requests: ${apiRequests.join(", ")}; problems: ${problems.join(", ")}`);
      assertEquals(rows.map((r) => [r.event_type, r.properties]).sort(), [
        ["ai_reaction", { mashup_id: mashup, reaction: "fire" }],
        ["mashup_created", { mashup_id: mashup, track_count: 3, duration: 185, used_ai: true }],
        ["mashup_played", { mashup_id: mashup, source: "twitter", auto_play: false, play_id: play }],
        ["user_followed", { creator_id: creator }],
      ]);
      for (const r of rows) {
        assertEquals([r.user_id, r.listener_key, r.device], [null, `a:${distinctId}`, "desktop"]);
      }
      // Give the library's own follow-up requests (flags, $pageview, retries) time to happen.
      await page.waitForTimeout(1500);
      assert(
        apiRequests.some((r) => r.startsWith(`GET /array/${token}/config.js 200`)),
        `posthog-js loaded its remote config: ${apiRequests.join(", ")}`,
      );
      assert(apiRequests.some((r) => /^POST \/(e|i\/v0\/e|batch|capture)\/?(\?\S*)? 200$/.test(r)), apiRequests.join(", "));
      assertEquals(problems, [], `every request succeeded and the console stayed clean; requests: ${apiRequests.join(", ")}`);
    } finally {
      await browser.close();
      await site.close();
    }
  },
});

Deno.test("posthog side endpoints answer like a PostHog project without flags", async () => {
  const token = "phc_side_endpoints";
  const js = await fetch(`${API_HOST}/array/${token}/config.js`);
  assertEquals([js.status, js.headers.get("content-type")], [200, "application/javascript; charset=utf-8"]);
  const script = await js.text();
  const window: Record<string, any> = {};
  new Function("window", script)(window);
  const config = window._POSTHOG_REMOTE_CONFIG[token];
  assertEquals(config.siteApps, []);
  assertEquals([config.config.token, config.config.hasFeatureFlags, config.config.sessionRecording], [token, false, false]);

  const json = await fetch(`${API_HOST}/array/${token}/config`);
  assertEquals(json.status, 200);
  assertEquals({ ...(await json.json()), siteApps: undefined }, { ...config.config, siteApps: undefined });

  const flags = await fetch(`${API_HOST}/flags/?v=2`, { method: "POST", body: JSON.stringify({ token, distinct_id: "x" }) });
  const flagsBody = await flags.json();
  assertEquals([flags.status, flagsBody.flags, flagsBody.errorsWhileComputingFlags], [200, {}, false]);

  const legacy = await fetch(`${API_HOST}/decide/?v=3`, { method: "POST", body: "{}" });
  const legacyBody = await legacy.json();
  assertEquals([legacy.status, legacyBody.featureFlags, legacyBody.featureFlagPayloads, legacyBody.sessionRecording], [
    200,
    {},
    {},
    false,
  ]);

  const injected = await fetch(`${API_HOST}/array/${encodeURIComponent("x';alert(1)//")}/config.js`);
  assertEquals([injected.status, await injected.json()], [404, {
    error: "token: not a project token ([A-Za-z0-9_-], at most 200 characters)",
    field: "token",
  }]);
});
