// The local functions runtime's proxy to a worker. Requests reach the worker unchanged: node:http
// sends exactly the client's headers, where fetch() would add its own User-Agent, Accept,
// Accept-Encoding and Accept-Language (a client that sent no User-Agent must stay "unknown device",
// not become `Deno/x`). bench/runtime_proxy.ts compares it with fetch().
import { Agent, request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are not forwarded.
const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
]);

// Connections to the workers are kept and reused, as fetch() does.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Proxies the request to a worker with the client's own headers (Host aside) and streams the answer back. */
export function forward(req: Request, port: number, path: string): Promise<Response> {
  const headers: [string, string][] = [];
  for (const [k, v] of req.headers) if (k !== "host" && !HOP_BY_HOP.has(k)) headers.push([k, v]);
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      { host: "127.0.0.1", port, path, method: req.method, headers: Object.fromEntries(headers), agent },
      (res) => {
        const answer = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const k = res.rawHeaders[i];
          if (!HOP_BY_HOP.has(k.toLowerCase())) answer.append(k, res.rawHeaders[i + 1]);
        }
        const status = res.statusCode ?? 502;
        const bodyless = req.method === "HEAD" || status === 204 || status === 304;
        if (bodyless) res.resume();
        resolve(
          new Response(bodyless ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>, {
            status,
            statusText: res.statusMessage,
            headers: answer,
          }),
        );
      },
    );
    out.on("error", reject);
    if (!req.body) {
      out.end();
      return;
    }
    Readable.fromWeb(req.body as NodeReadableStream<Uint8Array>).on("error", reject).pipe(out);
  });
}
