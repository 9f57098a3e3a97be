// The Edge Functions runtime of the local stack: what Supabase's edge-runtime main service does.
// It reads supabase/config.toml, runs each declared function (its `entrypoint`) as its own Deno
// process, and routes /<name>/... to it. Functions with `verify_jwt = true` (the default) only get
// requests carrying a valid JWT (the same check as functions/_shared/auth.ts: the project's JWKS or
// the legacy secret); others answer 401 here. This repo's functions all set verify_jwt = false and
// check their callers themselves. CORS preflights pass through unverified, as on hosted Supabase,
// so each function answers its own OPTIONS.
// Requests reach a worker unchanged (scripts/forward.ts).
import { parse } from "smol-toml";
import { verifyJwt } from "../functions/_shared/auth.ts";
import { forward } from "./forward.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PORT = Number(Deno.env.get("RUNTIME_PORT") ?? 54329);
const WORKER_BASE_PORT = Number(Deno.env.get("WORKER_BASE_PORT") ?? 54341);

type FunctionConfig = { entrypoint?: string; verify_jwt?: boolean };
const config = parse(await Deno.readTextFile(`${ROOT}/supabase/config.toml`)) as {
  functions?: Record<string, FunctionConfig>;
};

type Worker = { name: string; port: number; verifyJwt: boolean; entry: string; child?: Deno.ChildProcess };
const workers = new Map<string, Worker>();
let i = 0;
for (const [name, fn] of Object.entries(config.functions ?? {})) {
  const entry = new URL(fn.entrypoint ?? `../functions/${name}/index.ts`, `file://${ROOT}/supabase/`).pathname;
  workers.set(name, { name, port: WORKER_BASE_PORT + i++, verifyJwt: fn.verify_jwt ?? true, entry });
}

// Secrets Supabase injects into every function (SUPABASE_*), plus the project's own, set on a
// hosted project with `supabase secrets set` (so none may start with SUPABASE_).
const passEnv = [
  "SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_URL",
  "SUPABASE_PUBLISHABLE_KEYS", "SUPABASE_SECRET_KEYS",
  "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "LEGACY_JWT_SECRET", "JWKS_CACHE_SECONDS",
  "TRACK_COUNTRY_HEADER", "TRACK_CLOCK_SKEW_SECONDS", "ANALYTICS_NOW", "TRACK_RATE_LIMIT_IP",
  "TRACK_RATE_LIMIT_ANONYMOUS", "TRACK_RATE_LIMIT_USER", "TRACK_RATE_LIMIT_SERVICE", "TRACK_RATE_LIMIT_BLOCK",
  "TRACK_CLIENT_IP_HEADER",
];

function spawn(w: Worker) {
  const env: Record<string, string> = { DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${w.port}`, NO_COLOR: "1" };
  for (const k of passEnv) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", `${ROOT}/deno.json`, w.entry],
    env,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  w.child = child;
  child.status.then((s) => {
    console.error(`[edge-runtime] function ${w.name} exited (${s.code}); restarting in 1s`);
    setTimeout(() => spawn(w), 1000);
  });
}
for (const w of workers.values()) spawn(w);

async function ready(w: Worker): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: w.port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

// The runtime's own answers keep Supabase's shape ({code, message}) and add this API's
// ({error: "<field>: ...", field}); CORS as every function answer has it.
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "access-control-allow-origin": "*", "cache-control": "no-store" },
  });

async function verify(req: Request): Promise<string | null> {
  const auth = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  if (!m) return "Missing authorization header";
  try {
    await verifyJwt(m[1]);
    return null;
  } catch {
    return "Invalid JWT";
  }
}

Deno.serve({ hostname: "127.0.0.1", port: PORT }, async (req) => {
  const url = new URL(req.url);
  if (url.pathname === "/_internal/health") {
    const states = await Promise.all([...workers.values()].map(ready));
    return states.every(Boolean) ? json(200, { ok: true, functions: [...workers.keys()] }) : json(503, { ok: false });
  }
  const name = url.pathname.split("/")[1] ?? "";
  const w = workers.get(name);
  if (!w) {
    return json(404, {
      code: "NOT_FOUND",
      message: "Requested function was not found",
      error: `path: no function named ${JSON.stringify(name)}`,
      field: "path",
    });
  }
  if (w.verifyJwt && req.method !== "OPTIONS") {
    const problem = await verify(req);
    if (problem) return json(401, { code: 401, message: problem, error: `authorization: ${problem}`, field: "authorization" });
  }
  try {
    return await forward(req, w.port, `${url.pathname}${url.search}`);
  } catch (e) {
    return json(502, { code: "BOOT_ERROR", message: `function ${name} is not answering: ${(e as Error).message}` });
  }
});
