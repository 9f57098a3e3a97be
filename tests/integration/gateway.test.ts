// The gateway (nginx, scripts/nginx.conf.template) and the functions runtime behind it
// (scripts/edge-runtime.ts), as a client meets them:
//   - nginx's own errors are JSON naming what was wrong, never its HTML pages;
//   - requests reach the functions unchanged (no User-Agent added when the client sent none);
//   - a client's country header is dropped (only an edge that sets it is trusted);
//   - every response says nosniff and a Referrer-Policy; the page's source maps are not served.
import { request as httpRequest } from "node:http";
import { assert, assertEquals } from "../_support/assert.ts";
import { ANON_KEY, API_URL, DEMO_TOKEN } from "../_support/env.ts";
import { storedEvents, track, uuid, validEvent } from "../_support/track.ts";
import { rng } from "../_support/rng.ts";

const GATEWAY = new URL(API_URL);

const r = rng(Number(Deno.env.get("CORPUS_SEED") ?? 1303));
const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];

/** Sends raw bytes to the gateway and reads one answer (up to its Content-Length: after an error
 * nginx keeps reading what the client sends for a while before it closes). */
async function raw(bytes: string): Promise<{ status: number; headers: string; body: string }> {
  const conn = await Deno.connect({ hostname: GATEWAY.hostname, port: Number(GATEWAY.port) });
  try {
    await conn.write(new TextEncoder().encode(bytes));
  } catch { /* nginx may answer and close before reading everything */ }
  let text = "";
  const decoder = new TextDecoder();
  const buf = new Uint8Array(65536);
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: *(\d+)/i.exec(text);
    if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) break;
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  conn.close();
  const [head, ...rest] = text.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), headers: head.toLowerCase(), body: rest.join("\r\n\r\n") };
}

/** A JSON 4xx naming `field`, with the security headers. */
function assertJsonError(res: { status: number; headers: string; body: string }, status: number, field: string, what: string) {
  assertEquals(res.status, status, `${what}: ${res.headers.split("\r\n")[0]} ${res.body.slice(0, 120)}`);
  assert(res.headers.includes("content-type: application/json"), `${what}: JSON content type`);
  assert(res.headers.includes("x-content-type-options: nosniff"), `${what}: nosniff`);
  let body: { error?: string; field?: string };
  try {
    body = JSON.parse(res.body);
  } catch {
    throw new Error(`${what}: not JSON: ${res.body.slice(0, 200)}`);
  }
  assertEquals(body.field, field, what);
  assert(body.error?.startsWith(`${field}:`), `${what}: "${body.error}" names ${field}`);
}

const PATHS = ["/functions/v1/track", "/rest/v1/rpc/get_creator_dashboard", "/auth/v1/token", "/functions/v1/analytics/dashboard", "/"];
const host = `Host: ${GATEWAY.host}\r\n`;

Deno.test("nginx's own errors are JSON naming the field: body, url, headers, request, method", async () => {
  // Bodies over the gateway's 8 MiB, declared up front (nginx answers before reading them).
  for (let i = 0; i < 8; i++) {
    const size = int(8 * 1024 * 1024 + 1, 64 * 1024 * 1024);
    const res = await raw(`POST ${pick(PATHS)} HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: ${size}\r\n\r\n{"a":`);
    assertJsonError(res, 413, "body", `body of ${size} bytes`);
  }
  // Request lines over 16 KiB.
  for (let i = 0; i < 6; i++) {
    const path = `${pick(PATHS)}?q=${"a".repeat(int(17 * 1024, 64 * 1024))}`;
    assertJsonError(await raw(`GET ${path} HTTP/1.1\r\n${host}\r\n`), 414, "url", `url of ${path.length}`);
  }
  // A header over 16 KiB, or too many large ones.
  for (let i = 0; i < 6; i++) {
    const headers = i % 2 === 0
      ? `X-Big: ${"b".repeat(int(17 * 1024, 40 * 1024))}\r\n`
      : Array.from({ length: 5 }, (_, k) => `X-H${k}: ${"h".repeat(15 * 1024)}\r\n`).join("");
    assertJsonError(await raw(`GET ${pick(PATHS)} HTTP/1.1\r\n${host}${headers}\r\n`), 400, "headers", `headers #${i}`);
  }
  // Malformed requests.
  const malformed = [
    `GET / HTTP/1.1\r\n${host}Bad Header Line\r\n\r\n`,
    "GARBAGE\r\n\r\n",
    `GET / HTTP/1.1\r\n${host}${host}\r\n`, // two Host headers
    `POST /functions/v1/track HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 7\r\n\r\nabcde`,
    `GET /%zz/ HTTP/1.1\r\n${host}\r\n`.replace("%zz", "\x00"),
  ];
  for (const req of malformed) {
    assertJsonError(await raw(req), 400, "request", JSON.stringify(req.slice(0, 40)));
  }
  // A method nginx refuses itself (TRACE) on any path.
  for (const path of PATHS) {
    assertJsonError(await raw(`TRACE ${path} HTTP/1.1\r\n${host}\r\n`), 405, "method", `TRACE ${path}`);
  }
});

Deno.test("every kind of response carries X-Content-Type-Options: nosniff and a Referrer-Policy", async () => {
  const requests: [string, RequestInit][] = [
    ["/", {}],
    ["/index.html", {}],
    ["/app.js", {}],
    ["/config.json", {}],
    ["/no/such/page", {}],
    ["/rest/v1/", { headers: { apikey: ANON_KEY } }],
    ["/rest/v1/mashups?select=id&limit=1", { headers: { apikey: ANON_KEY } }],
    ["/rest/v1/mashups", { headers: { apikey: "wrong" } }],
    ["/rest/v1/rpc/get_creator_dashboard", { method: "POST", headers: { apikey: ANON_KEY, Authorization: `Bearer ${DEMO_TOKEN}`, "Content-Type": "application/json" }, body: "{}" }],
    ["/auth/v1/user", { headers: { apikey: "wrong" } }],
    ["/functions/v1/analytics/dashboard", {}],
    ["/functions/v1/analytics/dashboard?tz=XYZ%2B5", { headers: { Authorization: `Bearer ${DEMO_TOKEN}` } }],
    ["/functions/v1/analytics/dashboard", { headers: { Authorization: `Bearer ${DEMO_TOKEN}` } }],
    ["/functions/v1/track", { method: "OPTIONS", headers: { Origin: "https://example.com", "Access-Control-Request-Method": "POST" } }],
    ["/functions/v1/track", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }],
    ["/functions/v1/nope", {}],
    ["/app.js.map", {}],
  ];
  for (const [path, init] of requests) {
    const res = await fetch(`${API_URL}${path}`, init);
    await res.body?.cancel();
    assertEquals(res.headers.get("x-content-type-options"), "nosniff", `${init.method ?? "GET"} ${path} (${res.status})`);
    assertEquals(res.headers.get("referrer-policy"), "no-referrer", `${init.method ?? "GET"} ${path} (${res.status})`);
  }
});

Deno.test("the production page serves no source map", async () => {
  const page = await (await fetch(`${API_URL}/`)).text();
  const scripts = [...page.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  assert(scripts.length >= 2, `the page links its bundle: ${scripts}`);
  for (const file of scripts) {
    const body = await (await fetch(`${API_URL}/${file}`)).text();
    assert(!/sourceMappingURL/.test(body), `${file} names no source map`);
    const map = await fetch(`${API_URL}/${file}.map`);
    assertEquals([map.status, map.headers.get("content-type")], [404, "application/json"], `${file}.map`);
    await map.body?.cancel();
  }
  const dist = new URL("../../web/dist/", import.meta.url);
  const maps = [...Deno.readDirSync(dist)].filter((f) => f.name.endsWith(".map")).map((f) => f.name);
  assertEquals(maps, [], "web/dist holds no source map");
});

/** POSTs through the gateway with exactly these headers (node:http adds none of its own). */
function postExactly(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: GATEWAY.hostname, port: Number(GATEWAY.port), path, method: "POST", headers },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

Deno.test("a request without a User-Agent reaches the function without one: its plays are device unknown, not 'other'", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const event = validEvent(pick(["mashup_played", "mashup_liked", "mashup_shared"]));
    ids.push(event.id);
    const body = JSON.stringify(event);
    const res = await postExactly("/functions/v1/track", { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) }, body);
    assertEquals(res.status, 200, res.body);
  }
  const rows = await storedEvents(ids);
  assertEquals(rows.map((row) => row.device), ids.map(() => null));
});

Deno.test("a client's cf-ipcountry is dropped at the gateway; the country stays unknown", async () => {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const country = pick([...letters]) + pick([...letters]);
    const name = pick(["cf-ipcountry", "CF-IPCountry", "CF-IPCOUNTRY"]);
    const event = validEvent("mashup_liked", { anonymous_id: `geo-${uuid()}` });
    ids.push(event.id);
    const res = await track(event, { headers: { [name]: country } });
    assertEquals(res.status, 200);
  }
  const rows = await storedEvents(ids);
  assertEquals(rows.map((row) => row.country), ids.map(() => null));
});

Deno.test("the functions runtime's own refusals are JSON naming the field, with CORS", async () => {
  const cases: [string, Record<string, string>, number, string][] = [
    ["/functions/v1/no-such-function", {}, 404, "path"],
    [`/functions/v1/fn-${uuid()}/x`, {}, 404, "path"],
    ["/functions/v1/analytics/dashboard", {}, 401, "authorization"],
    ["/functions/v1/whoami", { Authorization: "Bearer not.a.jwt" }, 401, "authorization"],
    ["/functions/v1/analytics/realtime", { Authorization: `Bearer ${DEMO_TOKEN.slice(0, -4)}AAAA` }, 401, "authorization"],
  ];
  for (const [path, headers, status, field] of cases) {
    const res = await fetch(`${API_URL}${path}`, { headers });
    const body = await res.json();
    assertEquals([res.status, body.field], [status, field], `${path}: ${JSON.stringify(body)}`);
    assert(String(body.error).startsWith(`${field}:`), `${path}: ${body.error}`);
    assertEquals(res.headers.get("access-control-allow-origin"), "*", path);
  }
});

Deno.test("the Data API's OpenAPI document names the gateway, not PostgREST's own loopback port", async () => {
  const res = await fetch(`${API_URL}/rest/v1/`, { headers: { apikey: ANON_KEY } });
  assertEquals(res.status, 200);
  const doc = await res.json();
  const gateway = new URL(API_URL);
  assertEquals([doc.host, doc.basePath, doc.schemes], [gateway.host, "/rest/v1", [gateway.protocol.replace(":", "")]]);
});
