// The local stack as a user runs it: each part supervised by this checkout's own supervisord.
// Every part is killed with -9 and must be back, answering, within 10 s with no command; the edge
// runtime leaves no orphaned worker; logs are appended to; and nothing outside this checkout is
// touched: stand-ins for another checkout's processes (the same programs, elsewhere) survive the
// kills, the restarts and an `npm stop` run against their port.
import { assert, assertEquals } from "../_support/assert.ts";
import { ENV } from "../_support/env.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const CONF = `${ROOT}/.stack/run/supervisord.conf`;
const dec = new TextDecoder();

async function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr).trim() };
}
const ctl = (...args: string[]) => sh("supervisorctl", ["-c", CONF, ...args]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function partPid(name: string): Promise<number> {
  return Number((await ctl("pid", name)).out);
}
async function partsRunning(): Promise<Record<string, string>> {
  const { out } = await ctl("status");
  return Object.fromEntries(out.split("\n").map((l) => l.split(/\s+/)).map(([n, s]) => [n, s]));
}
function pgidOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return null;
  }
}
function processesInGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(e.name) && pgidOf(Number(e.name)) === pgid) out.push(Number(e.name));
  }
  return out;
}
const alive = (pid: number) => {
  try {
    Deno.statSync(`/proc/${pid}`);
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ");
  } catch {
    return false;
  }
};
async function answers(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  try {
    const r = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
    await r.body?.cancel();
    return r.status < 500;
  } catch {
    return false;
  }
}
const base = Number(new URL(ENV.SUPABASE_URL).port);
const HEALTH: Record<string, () => Promise<boolean>> = {
  postgres: async () => (await sh("psql", ["-X", "-Atc", "select 1", ENV.SUPABASE_DB_URL])).out === "1",
  redis: async () =>
    (await sh("redis-cli", ["-p", ENV.REDIS_PORT, "ping"], { REDISCLI_AUTH: ENV.REDIS_PASSWORD })).out === "PONG",
  "upstash-rest": () => answers(ENV.UPSTASH_REDIS_REST_URL),
  postgrest: () => answers(`http://127.0.0.1:${base + 7}/ready`),
  "edge-runtime": async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${base + 8}/_internal/health`, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      return r.status === 200;
    } catch {
      return false;
    }
  },
  auth: () => answers(`http://127.0.0.1:${base + 9}/health`),
  gateway: () => answers(`${ENV.SUPABASE_URL}/rest/v1/`, { apikey: ENV.SUPABASE_ANON_KEY }),
  "realtime-scheduler": () => Promise.resolve(true),
};

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Stand-ins for another checkout's stack: the same programs, run from another directory. */
async function strangers() {
  const dir = await Deno.makeTempDir({ prefix: "other-checkout-" });
  const redisPort = freePort();
  const redis = new Deno.Command("redis-server", {
    args: ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deno = new Deno.Command(Deno.execPath(), {
    args: ["eval", "setInterval(() => {}, 1000)"],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 50 && (await sh("redis-cli", ["-p", String(redisPort), "ping"])).out !== "PONG"; i++) await sleep(100);
  return {
    dir,
    redisPort,
    pids: [redis.pid, deno.pid],
    async stop() {
      for (const c of [redis, deno]) {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
        await c.status;
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("every part killed with -9 is back within 10 s, no orphans, logs appended, other checkouts untouched", async () => {
  const before = await partsRunning();
  const names = Object.keys(HEALTH);
  assertEquals(names.filter((n) => before[n] !== "RUNNING"), [], `all parts run under supervisord: ${JSON.stringify(before)}`);
  const other = await strangers();
  try {
    for (const name of names) {
      const pid = await partPid(name);
      const group = pgidOf(pid)!;
      const groupBefore = processesInGroup(group);
      const logPath = `${ROOT}/.stack/logs/${name === "gateway" ? "nginx" : name}.log`;
      const logBefore = Deno.statSync(logPath).size;
      Deno.kill(pid, "SIGKILL");
      const t0 = performance.now();
      let back = false;
      while (performance.now() - t0 < 10_000) {
        const now = await partPid(name);
        if (now && now !== pid && (await partsRunning())[name] === "RUNNING" && (await HEALTH[name]())) {
          back = true;
          break;
        }
        await sleep(200);
      }
      assert(back, `${name} (pid ${pid}) is back and answering within 10 s`);
      if (name !== "postgres") {
        // Postgres's backends leave by themselves (postmaster death); the others' children must be gone.
        const left = groupBefore.filter(alive);
        assertEquals(left, [], `${name}: nothing of the killed process group is left (${groupBefore.length} were)`);
      }
      const logAfter = Deno.statSync(logPath).size;
      assert(logAfter >= logBefore, `${name}: its log was appended to, not overwritten (${logBefore} -> ${logAfter})`);
    }
    // The edge runtime's workers: exactly one set, each a child of the running runtime.
    const runtime = await partPid("edge-runtime");
    const workers = processesInGroup(pgidOf(runtime)!).filter((p) => p !== runtime);
    assertEquals(workers.length, 4, "one worker per function");
    for (const pid of other.pids) assert(alive(pid), `another checkout's process ${pid} survived`);
    assertEquals((await sh("redis-cli", ["-p", String(other.redisPort), "ping"])).out, "PONG");
  } finally {
    await other.stop();
  }
});

Deno.test("npm stop / reset of another stack dir never reach this checkout's stack or a port's owner", async () => {
  const other = await strangers();
  const scratch = await Deno.makeTempDir({ prefix: "stack-dir-" });
  try {
    const supervisord = Number(Deno.readTextFileSync(`${ROOT}/.stack/run/supervisord.pid`));
    // A checkout whose stack is not running, with STACK_PORT aimed at the block whose Redis is the
    // stranger's: `stop` acts on its own (empty) stack, not on whatever listens on those ports.
    const r = await sh("bash", ["scripts/stack.sh", "stop"], {
      STACK_DIR: scratch,
      STACK_ENV_FILE: `${scratch}/.env.local`,
      STACK_PORT: String(other.redisPort - 5),
    });
    assertEquals(r.code, 0, r.err);
    assertEquals((await sh("redis-cli", ["-p", String(other.redisPort), "ping"])).out, "PONG", "the stranger's Redis answers");
    for (const pid of other.pids) assert(alive(pid), `process ${pid} survived`);
    assert(alive(supervisord), "this checkout's supervisord survived");
    const parts = await partsRunning();
    assertEquals(Object.values(parts).filter((s) => s !== "RUNNING"), [], JSON.stringify(parts));
  } finally {
    await other.stop();
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test(".env.local is readable by its owner only; Redis refuses commands without the password", async () => {
  assertEquals(Deno.statSync(`${ROOT}/.env.local`).mode! & 0o777, 0o600);
  const noAuth = await sh("redis-cli", ["-p", ENV.REDIS_PORT, "get", "rt:epoch"]);
  assert(/NOAUTH/.test(noAuth.out + noAuth.err), `without a password: ${noAuth.out} ${noAuth.err}`);
  const wrong = await sh("redis-cli", ["-p", ENV.REDIS_PORT, "ping"], { REDISCLI_AUTH: "wrong" });
  assert(/WRONGPASS|invalid/i.test(wrong.out + wrong.err), `a wrong password: ${wrong.out} ${wrong.err}`);
  assert(ENV.REDIS_PASSWORD.length >= 32, "a long random password");
});
