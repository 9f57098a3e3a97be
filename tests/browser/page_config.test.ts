// The page's runtime config decides what only the local demo shows: the demo accounts are not in
// the bundle, the local stack's config.json offers them, and a page configured for a hosted project
// (its URL and publishable key, no demo) shows none and still signs in with supabase-js.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, PUBLISHABLE_KEY } from "../_support/env.ts";
import { closeBrowser, openPage } from "../_support/browser.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const DEMO = { email: "demo@mashups.local", password: "demo-password-123" };

Deno.test({
  name: "page config: demo accounts come only from the local demo's config.json, never from the bundle",
  ...opts,
  async fn() {
    const bundle = await (await fetch(`${API_URL}/app.js`)).text();
    assert(bundle.length > 10_000, "the bundle is served");
    for (const secret of [DEMO.password, DEMO.email, PUBLISHABLE_KEY]) {
      assert(!bundle.includes(secret), `the bundle does not contain ${secret}`);
    }
    const local = await (await fetch(`${API_URL}/config.json`)).json();
    assertEquals(local.publishableKey, PUBLISHABLE_KEY);
    assertEquals(local.demo.password, DEMO.password);
    assertEquals(local.demo.users[0], DEMO.email);

    const w = await openPage();
    try {
      await w.page.goto(`${API_URL}/`);
      await w.page.waitForSelector("[data-testid=signin-form]");
      assert(await w.page.getByTestId("demo-accounts").isVisible(), "the local demo offers its accounts");
    } finally {
      await w.close();
    }

    // The same page built for a hosted project: URL and publishable key, no demo.
    const hosted = await openPage();
    try {
      await hosted.page.route("**/config.json", (route) =>
        route.fulfill({
          contentType: "application/json",
          body: JSON.stringify({ supabaseUrl: API_URL, publishableKey: PUBLISHABLE_KEY }),
        }));
      await hosted.page.goto(`${API_URL}/`);
      await hosted.page.waitForSelector("[data-testid=signin-form]");
      assertEquals(await hosted.page.getByTestId("demo-accounts").count(), 0);
      assertEquals(await hosted.page.getByTestId("fill-demo").count(), 0);
      const text = await hosted.page.textContent("body");
      assert(!text!.includes(DEMO.password) && !text!.includes("mashups.local"), "no demo account on the page");

      // Signing in works as on any project: supabase-js with the publishable key, an ES256 session.
      await hosted.page.getByTestId("email").fill(DEMO.email);
      await hosted.page.getByTestId("password").fill(DEMO.password);
      await hosted.page.getByTestId("sign-in").click();
      await hosted.page.waitForSelector("[data-testid=panel-summary]");
      assertEquals(await hosted.page.getByTestId("who").textContent(), DEMO.email);
      assertEquals(hosted.problems, []);
    } finally {
      await hosted.close();
      await closeBrowser();
    }
  },
});
