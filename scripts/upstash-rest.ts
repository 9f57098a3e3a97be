// The Upstash Redis REST protocol in front of a local redis-server, so `@upstash/redis` with its
// default options talks to it exactly as to Upstash:
//   POST /             body ["INCR","k"]                 -> {"result": 1}
//   POST /pipeline     body [["INCR","k"],["GET","k"]]   -> [{"result":2},{"result":"2"}]
//   POST /multi-exec   same body, run in MULTI/EXEC      -> [{"result":...}, ...]
//   GET|POST /incr/k   path form                          -> {"result": 3}
// Authorization: Bearer <token> (or ?_token=); a wrong token is 401 {"error":"Unauthorized"}.
// A Redis error is 400 {"error":"ERR ..."}; inside a pipeline it is that entry's {"error"}.
// With `Upstash-Encoding: base64` (the client's default) bulk strings come back base64-encoded,
// recursively inside arrays; integers, nulls and status replies ("OK") are left as they are.
// Lua scripts (EVAL, EVALSHA, SCRIPT LOAD/EXISTS, as @upstash/ratelimit sends them): Upstash
// accepts shebang flags that Redis 7.0 refuses (`#!lua flags=allow-key-locking`); those are
// dropped before Redis sees the script, and EVALSHA with the client's hash of the original text
// is mapped to the hash Redis knows, so a script costs one EVALSHA as it does on Upstash.

type Reply = string | number | null | Reply[] | RedisError | Status;
class RedisError {
  constructor(readonly message: string) {}
}
class Status {
  constructor(readonly value: string) {}
}
class BulkString {
  constructor(readonly bytes: Uint8Array) {}
}

const PORT = Number(Deno.env.get("PORT") ?? 54325);
const REDIS_PORT = Number(Deno.env.get("REDIS_PORT") ?? 6379);
// The local redis-server requires a password (requirepass); every pooled connection AUTHs first.
const REDIS_PASSWORD = Deno.env.get("REDIS_PASSWORD") ?? "";
const TOKEN = Deno.env.get("UPSTASH_REDIS_REST_TOKEN") ?? "";
if (!TOKEN) throw new Error("UPSTASH_REDIS_REST_TOKEN is required");

const enc = new TextEncoder();
const dec = new TextDecoder();

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function encodeCommand(args: unknown[]): Uint8Array {
  const parts: Uint8Array[] = [enc.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = enc.encode(typeof a === "string" ? a : typeof a === "object" ? JSON.stringify(a) : String(a));
    parts.push(enc.encode(`$${b.length}\r\n`), b, enc.encode("\r\n"));
  }
  return concatBytes(parts);
}

/** One RESP2 connection; requests on it are serialised by the pool. */
class Connection {
  private buf = new Uint8Array(0);
  private off = 0;
  broken = false;
  private constructor(private conn: Deno.TcpConn) {}

  static async open(): Promise<Connection> {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: REDIS_PORT });
    c.setNoDelay(true);
    const conn = new Connection(c);
    if (REDIS_PASSWORD) {
      const [reply] = await conn.send([["AUTH", REDIS_PASSWORD]]);
      if (reply instanceof RedisError) {
        conn.close();
        throw new Error(`redis AUTH failed: ${reply.message}`);
      }
    }
    return conn;
  }

  close() {
    this.broken = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  async send(commands: unknown[][]): Promise<(Reply | BulkString)[]> {
    const all = concatBytes(commands.map(encodeCommand));
    let w = 0;
    while (w < all.length) w += await this.conn.write(all.subarray(w));
    const replies: (Reply | BulkString)[] = [];
    for (let i = 0; i < commands.length; i++) replies.push(await this.readReply());
    return replies;
  }

  private async fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const r = await this.conn.read(chunk);
    if (r === null) throw new Error("connection closed by redis");
    const rest = this.buf.subarray(this.off);
    const merged = new Uint8Array(rest.length + r);
    merged.set(rest, 0);
    merged.set(chunk.subarray(0, r), rest.length);
    this.buf = merged;
    this.off = 0;
  }

  private async line(): Promise<string> {
    for (;;) {
      for (let i = this.off; i + 1 < this.buf.length; i++) {
        if (this.buf[i] === 13 && this.buf[i + 1] === 10) {
          const s = dec.decode(this.buf.subarray(this.off, i));
          this.off = i + 2;
          return s;
        }
      }
      await this.fill();
    }
  }

  private async bytes(n: number): Promise<Uint8Array> {
    while (this.buf.length - this.off < n + 2) await this.fill();
    const b = this.buf.slice(this.off, this.off + n);
    this.off += n + 2;
    return b;
  }

  private async readReply(): Promise<Reply | BulkString> {
    const l = await this.line();
    const t = l[0];
    const rest = l.slice(1);
    switch (t) {
      case "+":
        return new Status(rest);
      case "-":
        return new RedisError(rest);
      case ":":
        return Number(rest);
      case "$": {
        const n = Number(rest);
        return n < 0 ? null : new BulkString(await this.bytes(n));
      }
      case "*": {
        const n = Number(rest);
        if (n < 0) return null;
        const arr: Reply[] = [];
        for (let i = 0; i < n; i++) arr.push((await this.readReply()) as Reply);
        return arr;
      }
      default:
        throw new Error(`unexpected RESP type ${JSON.stringify(t)}`);
    }
  }
}

class Pool {
  private idle: Connection[] = [];
  async use<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
    const c = this.idle.pop() ?? (await Connection.open());
    try {
      const out = await fn(c);
      if (this.idle.length < 32 && !c.broken) this.idle.push(c);
      else c.close();
      return out;
    } catch (e) {
      c.close();
      throw e;
    }
  }
}
const pool = new Pool();

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function shape(r: Reply | BulkString, base64: boolean): unknown {
  if (r instanceof BulkString) return base64 ? toBase64(r.bytes) : dec.decode(r.bytes);
  if (r instanceof Status) return r.value;
  if (Array.isArray(r)) return r.map((x) => (x instanceof RedisError ? x.message : shape(x, base64)));
  return r;
}

function entry(r: Reply | BulkString, base64: boolean) {
  return r instanceof RedisError ? { error: r.message } : { result: shape(r, base64) };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

// --- Lua scripts -------------------------------------------------------------------------------
// Shebang flags Redis 7.0 knows; any other is Upstash's own and is dropped.
const REDIS_SCRIPT_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);
/** Client's SHA1 of a script's original text -> SHA1 of the text Redis was given. */
const scriptShas = new Map<string, string>();

async function sha1(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", enc.encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The script as Redis 7.0 accepts it: unknown shebang flags removed. */
function forRedis(script: string): string {
  const m = /^#!lua([^\n]*)/.exec(script);
  if (!m) return script;
  const flags = /flags=([^\s]*)/.exec(m[1])?.[1].split(",").filter((f) => REDIS_SCRIPT_FLAGS.has(f)) ?? [];
  const shebang = flags.length > 0 ? `#!lua flags=${flags.join(",")}` : "#!lua";
  return shebang + script.slice(m[0].length);
}

/** Rewrites script commands for Redis, remembering which hash stands for which. */
async function translateScripts(cmd: unknown[]): Promise<unknown[]> {
  const name = String(cmd[0]).toLowerCase();
  const sub = String(cmd[1] ?? "").toLowerCase();
  if ((name === "eval" || name === "eval_ro" || (name === "script" && sub === "load"))) {
    const at = name === "script" ? 2 : 1;
    const original = String(cmd[at] ?? "");
    const rewritten = forRedis(original);
    if (rewritten !== original) {
      scriptShas.set(await sha1(original), await sha1(rewritten));
      const out = [...cmd];
      out[at] = rewritten;
      return out;
    }
    return cmd;
  }
  if (name === "evalsha" || name === "evalsha_ro") {
    const mapped = scriptShas.get(String(cmd[1] ?? "").toLowerCase());
    return mapped ? [cmd[0], mapped, ...cmd.slice(2)] : cmd;
  }
  if (name === "script" && sub === "exists") {
    return [cmd[0], cmd[1], ...cmd.slice(2).map((h) => scriptShas.get(String(h).toLowerCase()) ?? h)];
  }
  return cmd;
}

/** SCRIPT LOAD answers the hash of the text Redis got; the client expects the hash of its own. */
function originalShaOf(redisSha: string): string {
  for (const [original, mapped] of scriptShas) if (mapped === redisSha) return original;
  return redisSha;
}

function isCommand(x: unknown): x is unknown[] {
  return Array.isArray(x) && x.length > 0 && typeof x[0] === "string";
}

async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const auth = req.headers.get("authorization") ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("_token");
  if (token !== TOKEN) return json({ error: "Unauthorized" }, 401);
  const base64 = (req.headers.get("upstash-encoding") ?? "").toLowerCase() === "base64";
  const path = url.pathname.replace(/\/+$/, "");

  let body: unknown = undefined;
  const text = req.method === "POST" ? await req.text() : "";
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      // Upstash's path form may carry the last argument as a raw POST body.
      body = text;
    }
  }

  try {
    if (path === "/pipeline" || path === "/multi-exec") {
      if (!Array.isArray(body) || body.length === 0 || !body.every(isCommand)) {
        return json({ error: "ERR invalid request body: expected an array of commands" }, 400);
      }
      const cmds = await Promise.all((body as unknown[][]).map(translateScripts));
      if (path === "/pipeline") {
        const replies = await pool.use((c) => c.send(cmds));
        return json(replies.map((r) => entry(r, base64)));
      }
      const replies = await pool.use((c) => c.send([["MULTI"], ...cmds, ["EXEC"]]));
      const queued = replies.slice(1, -1).find((r) => r instanceof RedisError) as RedisError | undefined;
      const exec = replies[replies.length - 1];
      if (exec instanceof RedisError) return json({ error: queued?.message ?? exec.message }, 400);
      if (exec === null) return json({ error: "ERR transaction aborted" }, 400);
      return json((exec as Reply[]).map((r) => entry(r, base64)));
    }
    let cmd: unknown[];
    if (path === "" || path === "/") {
      if (!isCommand(body)) return json({ error: "ERR invalid request body: expected a command array" }, 400);
      cmd = body;
    } else {
      cmd = path.slice(1).split("/").map(decodeURIComponent);
      for (const [k, v] of url.searchParams) if (k !== "_token") cmd.push(k, ...(v ? [v] : []));
      if (typeof body === "string" || (body !== undefined && !Array.isArray(body))) cmd.push(body);
    }
    const loadsScript = String(cmd[0]).toLowerCase() === "script" && String(cmd[1]).toLowerCase() === "load";
    const [reply] = await pool.use(async (c) => c.send([await translateScripts(cmd)]));
    if (reply instanceof RedisError) return json({ error: reply.message }, 400);
    if (loadsScript && reply instanceof BulkString) {
      const sha = originalShaOf(dec.decode(reply.bytes));
      return json({ result: base64 ? toBase64(enc.encode(sha)) : sha });
    }
    return json({ result: shape(reply, base64) });
  } catch (e) {
    // Redis unreachable or the connection dropped: the caller must see a failure, not a result.
    return json({ error: `ERR redis unavailable: ${(e as Error).message}` }, 503);
  }
}

Deno.serve({ hostname: "127.0.0.1", port: PORT, onListen: () => console.log(`upstash-rest on ${PORT}`) }, handle);
