// The request side of the track function: which wire format a path speaks, reading the body
// within the limits, and decoding it (gzip, PostHog's `data=` form and base64) into JSON.
// Whole-request problems throw RequestError with the status and the JSON error to answer.
import { isoTime, MAX_BATCH_EVENTS, MAX_BODY_BYTES } from "../../types/events.ts";

export class RequestError extends Error {
  constructor(readonly status: number, message: string, readonly field: string) {
    super(message);
  }
}

export type WireFormat = "native" | "posthog";

/**
 * The function sees its own name first (`/track/...`), locally and on hosted Supabase.
 * `/track` speaks the native format; PostHog's clients post to `/capture`, `/batch`, `/e` and
 * `/i/v0/e` under the host they are given (`${SUPABASE_URL}/functions/v1/track`).
 */
export function wireFormatOf(pathname: string): WireFormat | null {
  const rest = pathname.replace(/^\/track(?=\/|$)/, "").replace(/\/+$/, "");
  if (rest === "") return "native";
  if (["/capture", "/batch", "/e", "/i/v0/e", "/track"].includes(rest)) return "posthog";
  return null;
}

const MIB = `${MAX_BODY_BYTES / 1024 / 1024} MiB`;

/** The body's bytes, refusing more than MAX_BODY_BYTES without keeping more than that in memory. */
export async function readBody(req: Request): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  return await collect(req.body, MAX_BODY_BYTES, "body: larger than " + MIB, DRAIN_BYTES);
}

// Past the limit, the rest of an upload is read and dropped (up to 16 MiB; the gateway caps bodies
// anyway) before answering 413: closing the connection mid-upload makes clients report a reset
// instead of the 413. Inflated gzip is never drained: that would be inflating the bomb.
const DRAIN_BYTES = 16 * 1024 * 1024;

async function collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: string,
  drainBytes = 0,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      while (size <= limit + drainBytes) {
        const rest = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (rest.done) break;
        size += rest.value.byteLength;
      }
      await reader.cancel().catch(() => {});
      throw new RequestError(413, tooLarge, "body");
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Inflates a gzip body; the inflated size has the same limit, so a zip bomb is a 413. */
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  try {
    return await collect(stream, MAX_BODY_BYTES, `body: larger than ${MIB} after decompression`);
  } catch (e) {
    if (e instanceof RequestError) throw e;
    throw new RequestError(400, "body: not valid gzip", "body");
  }
}

/** Applies Content-Encoding (gzip only; PostHog's `compression=gzip-js` is recognised by its magic bytes). */
async function decodeContentEncoding(req: Request, bytes: Uint8Array): Promise<Uint8Array> {
  const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding === "gzip" || encoding === "x-gzip") return await gunzip(bytes);
  if (encoding !== "identity" && encoding !== "") {
    throw new RequestError(
      415,
      `content-encoding: ${encoding} is not supported (use gzip)`,
      "content-encoding",
    );
  }
  return bytes;
}

function mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

const decoder = new TextDecoder("utf-8", { fatal: true });
function utf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new RequestError(400, "body: not valid UTF-8", "body");
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError(400, "body: invalid JSON", "body");
  }
}

/** The native body: JSON (optionally gzip-encoded), sent as application/json or text/plain (sendBeacon). */
export async function nativeBody(req: Request): Promise<unknown> {
  const type = mediaType(req);
  if (type !== "application/json" && type !== "text/plain") {
    throw new RequestError(
      415,
      `content-type: expected application/json, got ${type || "none"}`,
      "content-type",
    );
  }
  const bytes = await decodeContentEncoding(req, await readBody(req));
  return parseJson(utf8(bytes));
}

const POSTHOG_TYPES = [
  "",
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
];

/**
 * A PostHog body, in any form its clients send: JSON; gzip (Content-Encoding, or
 * `?compression=gzip-js` with a raw gzip body); a `data=` form field holding JSON or base64
 * (of JSON or of gzip); or a bare base64 body.
 */
export async function postHogBody(req: Request): Promise<unknown> {
  const type = mediaType(req);
  if (!POSTHOG_TYPES.includes(type)) {
    throw new RequestError(
      415,
      `content-type: expected application/json, text/plain or ` +
        `application/x-www-form-urlencoded, got ${type}`,
      "content-type",
    );
  }
  let bytes = await decodeContentEncoding(req, await readBody(req));
  if (isGzip(bytes)) bytes = await gunzip(bytes);
  let text = utf8(bytes).trim();
  if (type === "application/x-www-form-urlencoded" || text.startsWith("data=")) {
    const data = new URLSearchParams(text).get("data");
    if (data === null) throw new RequestError(400, "data: missing form field", "data");
    text = data.trim();
  }
  if (text.startsWith("{") || text.startsWith("[")) return parseJson(text);
  return parseJson(utf8(await fromBase64(text)));
}

async function fromBase64(text: string): Promise<Uint8Array> {
  // A `+` of base64 arrives as a space when a form encoder left it unescaped; `-_` is the URL alphabet.
  const normalised = text.replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(normalised), (c) => c.charCodeAt(0));
  } catch {
    throw new RequestError(400, "body: not JSON, base64 or gzip", "body");
  }
  return isGzip(bytes) ? await gunzip(bytes) : bytes;
}

/** One batch, whatever the wire format: the raw events and the client's clock at send time. */
export type RawBatch = { events: unknown[]; sentAt: Date | null };

/** The batch as a native body holds it: one event, or `{ events: [...], sent_at? }`. */
export function nativeBatch(body: unknown): RawBatch {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RequestError(400, "body: expected one event object or { events: [...] }", "body");
  }
  if (!("events" in body)) return { events: [body], sentAt: null };
  const { events, sent_at } = body as { events: unknown; sent_at?: unknown };
  return { events: checkedEvents(events, "events"), sentAt: sentAtOf(sent_at) };
}

export function checkedEvents(events: unknown, field: string): unknown[] {
  if (!Array.isArray(events)) throw new RequestError(400, `${field}: expected an array`, field);
  if (events.length === 0) throw new RequestError(400, `${field}: expected at least 1 event`, field);
  if (events.length > MAX_BATCH_EVENTS) {
    throw new RequestError(
      413,
      `${field}: ${events.length} events, at most ${MAX_BATCH_EVENTS} per request`,
      field,
    );
  }
  return events;
}

/** The batch's sent_at: an ISO-8601 time with a zone, as the events' own timestamps. (Date.parse
 * alone took "1" or "March 7" for a clock and moved every event of the batch by it.) */
export function sentAtOf(value: unknown): Date | null {
  if (value === undefined || value === null) return null;
  const checked = isoTime().safeParse(value);
  if (!checked.success) throw new RequestError(400, `sent_at: ${checked.error.issues[0].message}`, "sent_at");
  return new Date(Date.parse(checked.data));
}
