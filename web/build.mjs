// Builds the dashboard page into web/dist with esbuild: one JS bundle (the app, supabase-js,
// Chart.js, zod), one CSS file, index.html and the icon. No CDN, no inline script or style, so the
// page works offline and under the gateway's strict Content-Security-Policy.
//
//   node web/build.mjs            build when a source is newer than the last build
//   node web/build.mjs --force    build anyway
//
// It also writes web/dist/config.json, the page's runtime settings (nothing project-specific is
// compiled into the bundle), from the environment:
//   SUPABASE_PUBLISHABLE_KEY   the project's publishable key (or a legacy SUPABASE_ANON_KEY)
//   SUPABASE_URL               the project's URL; unset, the page talks to the origin it is served from
//   DEMO_LOGIN=1               the local demo stack only: the sign-in form offers the demo accounts
// For a hosted project: SUPABASE_URL=https://<ref>.supabase.co SUPABASE_PUBLISHABLE_KEY=sb_publishable_...
// node web/build.mjs --force, then put web/dist on any static host.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = join(WEB, "..");
const DIST = join(WEB, "dist");
const STAMP = join(DIST, ".build-stamp");

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) {
      const kids = readdirSync(p).filter((n) => n !== "dist").map((n) => join(p, n));
      newest = Math.max(newest, newestMtime(kids));
    } else newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

const inputs = [WEB, join(ROOT, "types", "analytics.ts"), join(ROOT, "package-lock.json")];
const force = process.argv.includes("--force");
const stale = force || !existsSync(STAMP) || newestMtime(inputs) > statSync(STAMP).mtimeMs;

if (stale) {
  const started = Date.now();
  mkdirSync(DIST, { recursive: true });
  for (const f of readdirSync(DIST)) if (f.endsWith(".map")) rmSync(join(DIST, f));
  const result = await build({
    entryPoints: { app: join(WEB, "src", "main.ts"), styles: join(WEB, "src", "styles.css") },
    outdir: DIST,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome110", "firefox110", "safari16"],
    minify: true,
    // No source maps: the served page is the production page, and its maps would hand out the
    // unminified source. (esbuild's `--sourcemap` is one flag away when debugging locally.)
    sourcemap: false,
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  });
  for (const f of ["index.html", "favicon.svg"]) copyFileSync(join(WEB, f), join(DIST, f));
  writeFileSync(STAMP, new Date().toISOString() + "\n");
  const sizes = Object.entries(result.metafile.outputs)
    .filter(([f]) => !f.endsWith(".map") && !f.endsWith(".txt"))
    .map(([f, o]) => `${f.replace(/^.*\/dist\//, "")} ${(o.bytes / 1024).toFixed(0)} KiB`);
  console.log(`built web/dist in ${Date.now() - started} ms: ${sizes.join(", ")}`);
} else {
  console.log("web/dist is up to date");
}

const publishableKey = process.env.SUPABASE_PUBLISHABLE_KEY || process.env.SUPABASE_ANON_KEY;
if (publishableKey) {
  const config = { publishableKey };
  if (process.env.SUPABASE_URL) config.supabaseUrl = process.env.SUPABASE_URL.replace(/\/+$/, "");
  if (process.env.DEMO_LOGIN === "1") {
    // The seed's accounts (supabase/seed.sql), offered only by the local demo stack's page.
    config.demo = {
      users: ["demo", "nova", "kilo", "mira", "otto", "zed"].map((n) => `${n}@mashups.local`),
      password: "demo-password-123",
    };
  }
  const file = join(DIST, "config.json");
  const body = JSON.stringify(config) + "\n";
  if (!existsSync(file) || readFileSync(file, "utf8") !== body) writeFileSync(file, body);
}
