// A real browser for the page tests: playwright-core driving Debian's Chromium (/usr/bin/chromium;
// `npx playwright install` cannot download here). Every page records console errors, failed
// requests, requests to any other origin and Content-Security-Policy violations, so a test can
// assert the page ran clean under the gateway's strict CSP and fetched nothing from elsewhere.
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { API_URL } from "./env.ts";

export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
export const SCREENSHOTS = new URL("../../test-results/browser/", import.meta.url).pathname;

let browser: Browser | null = null;

export async function launch(): Promise<Browser> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return browser;
}

export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = null;
}

export type Watched = {
  context: BrowserContext;
  page: Page;
  /** console errors, page errors, CSP violations, requests to other origins */
  problems: string[];
  /** every request URL the page made */
  requests: string[];
  close: () => Promise<void>;
};

/** A fresh context (own storage) in UTC, en-US, reduced motion, a desktop viewport. */
export async function openPage(opts: { timezoneId?: string; allowHttpErrors?: RegExp } = {}): Promise<Watched> {
  const b = await launch();
  const context = await b.newContext({
    viewport: { width: 1360, height: 900 },
    deviceScaleFactor: 1,
    timezoneId: opts.timezoneId ?? "UTC",
    locale: "en-US",
    reducedMotion: "reduce",
    serviceWorkers: "block",
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems: string[] = [];
  const requests: string[] = [];
  const origin = new URL(API_URL).origin;
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "(inline)"}`);
    });
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text();
    // A failed HTTP call the test provoked on purpose shows up as a console error too.
    if (opts.allowHttpErrors && /Failed to load resource/.test(text) && opts.allowHttpErrors.test(m.location().url ?? "")) return;
    problems.push(`console: ${text} (${m.location().url ?? ""})`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    requests.push(r.url());
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) problems.push(`request to another origin: ${r.url()}`);
  });
  page.on("requestfailed", (r) => {
    const why = r.failure()?.errorText ?? "";
    if (!/ERR_ABORTED/.test(why)) problems.push(`request failed: ${r.url()} ${why}`);
  });
  return { context, page, problems, requests, close: () => context.close() };
}

/** The access token supabase-js stored for the signed-in page. */
export function sessionToken(page: Page): Promise<string> {
  return page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i)!;
      if (/^sb-.*-auth-token$/.test(k)) return JSON.parse(localStorage.getItem(k)!).access_token as string;
    }
    throw new Error("no supabase-js session in localStorage");
  });
}

/** A table's body rows as text cells. */
export function tableRows(page: Page, testId: string): Promise<string[][]> {
  return page.$$eval(
    `[data-testid="${testId}"] tbody tr`,
    (rows) => rows.map((r) => Array.from((r as HTMLTableRowElement).cells).map((c) => (c.textContent ?? "").trim())),
  );
}

/** Waits until a panel shows data (or its empty state) for exactly these parameters. */
export async function waitForPanel(page: Page, name: string, params: string, states = ["ready"]): Promise<string> {
  const sel = states.map((s) => `[data-testid="panel-${name}"][data-state="${s}"][data-params="${params}"]`).join(", ");
  try {
    await page.waitForSelector(sel, { state: "attached" });
  } catch (e) {
    const now = await page.$eval(`[data-testid="panel-${name}"]`, (el) => `${el.getAttribute("data-state")} ${el.getAttribute("data-params")} ${el.textContent?.slice(0, 300)}`).catch(() => "missing");
    throw new Error(`panel ${name} never showed ${states.join("/")} for ${params}; it is: ${now}\n${(e as Error).message}`);
  }
  return (await page.getAttribute(`[data-testid="panel-${name}"]`, "data-state"))!;
}

/** How many pixels of each chart canvas in ready panels are drawn (neither transparent nor white). */
export function chartInk(page: Page): Promise<Record<string, number>> {
  return page.$$eval(".panel[data-state=ready] canvas", (canvases) => {
    const out: Record<string, number> = {};
    for (const c of canvases as HTMLCanvasElement[]) {
      const ctx = c.getContext("2d")!;
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 0 && !(data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245)) ink++;
      }
      out[c.dataset.testid ?? "?"] = ink;
    }
    return out;
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const path = `${SCREENSHOTS}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
