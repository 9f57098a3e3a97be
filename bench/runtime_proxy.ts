// bench/runtime_proxy.ts: the local functions runtime's proxy (scripts/forward.ts, node:http, which
// forwards headers unchanged) against the fetch() proxy it replaced (which added User-Agent and
// Accept headers), in the same run: one upstream standing in for a function worker, one proxy of
// each kind, requests alternating between them, as POSTs of a small (1 KiB) and a large (200 KiB,
// a 500-event batch) body.
//   node_modules/.bin/deno run --allow-net --config deno.json bench/runtime_proxy.ts [--requests 1000]
import { parseArgs } from "node:util";
import { forward } from "../scripts/forward.ts";

const { values } = parseArgs({ args: Deno.args, options: { requests: { type: "string", default: "1000" } } });
const N = Number(values.requests);

// The upstream reads the body, as the track function does, and answers a small JSON.
const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const body = await req.arrayBuffer();
  return new Response(JSON.stringify({ accepted: body.byteLength }), { headers: { "content-type": "application/json" } });
});
const upPort = upstream.addr.port;

const viaForward = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
  const url = new URL(req.url);
  return forward(req, upPort, url.pathname + url.search);
});
// The proxy as scripts/edge-runtime.ts had it before.
const viaFetch = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const url = new URL(req.url);
  const headers = new Headers(req.headers);
  headers.delete("host");
  const res = await fetch(`http://127.0.0.1:${upPort}${url.pathname}${url.search}`, {
    method: req.method,
    headers,
    body: req.body,
    redirect: "manual",
  });
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
});

const proxies = { "node:http (scripts/forward.ts)": viaForward.addr.port, "fetch() (before)": viaFetch.addr.port };
const bodies = { "1 KiB": "x".repeat(1024), "200 KiB": "x".repeat(200 * 1024) };
const times: Record<string, number[]> = {};
for (let i = 0; i < N + 20; i++) {
  for (const [size, body] of Object.entries(bodies)) {
    for (const [name, port] of Object.entries(proxies)) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/track`, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "bench" },
        body,
      });
      await res.arrayBuffer();
      if (i >= 20) (times[`${size} via ${name}`] ??= []).push(performance.now() - t0);
    }
  }
}
await Promise.all([upstream.shutdown(), viaForward.shutdown(), viaFetch.shutdown()]);

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)];
console.log(`[runtime proxy] ${N} requests per case, alternating; baseline: fetch() (before)`);
for (const size of Object.keys(bodies)) {
  const base = q(times[`${size} via fetch() (before)`], 0.5);
  for (const name of Object.keys(proxies)) {
    const xs = times[`${size} via ${name}`];
    console.log(`  ${size.padEnd(8)} ${name.padEnd(30)} p50 ${q(xs, 0.5).toFixed(3)} ms  p95 ${q(xs, 0.95).toFixed(3)} ms  (p50 ${(q(xs, 0.5) / base).toFixed(2)}x baseline)`);
  }
}
