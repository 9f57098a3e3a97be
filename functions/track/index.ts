// track: event ingestion (verify_jwt = false: PostHog clients and anonymous visitors send no JWT;
// a bearer token, when present, is verified here and is the only source of the user id).
//   POST /track                                  native JSON: one event or { events: [...] }
//   POST /track/{capture,batch,e,i/v0/e}         PostHog's capture wire format
// Answers { accepted, duplicates, rejected: [{ index, error }], ignored }; see docs/ingestion.md.
import { AuthError, callerFrom } from "../_shared/auth.ts";
import { preflight } from "../_shared/cors.ts";
import { directDb } from "../_shared/db.ts";
import { internalError, json, jsonError } from "../_shared/http.ts";
import { databaseUnavailable, databaseUnavailableResponse } from "../_shared/unavailable.ts";
import { countryFrom } from "./enrich.ts";
import { countRealtime, prepare, type Received, store } from "./ingest.ts";
import { fromPostHogEvent, postHogBatch } from "./posthog.ts";
import { answerPostHogEndpoint, badToken, postHogEndpointOf } from "./posthog_endpoints.ts";
import { nativeBatch, nativeBody, postHogBody, RequestError, wireFormatOf } from "./request.ts";
import { checkRateLimits } from "./rate_limit.ts";

Deno.serve({ onError: internalError }, async (req) => {
  const receivedAt = new Date();
  const timing = new ServerTiming();
  const pre = preflight(req);
  if (pre) return pre;
  const pathname = new URL(req.url).pathname;
  // posthog-js's config and flags requests: answered like a PostHog project without flags.
  const sideEndpoint = postHogEndpointOf(pathname.replace(/^\/track(?=\/|$)/, "").replace(/\/+$/, ""));
  if (sideEndpoint === "bad-token") return badToken();
  if (sideEndpoint) return await answerPostHogEndpoint(req, sideEndpoint);
  const format = wireFormatOf(pathname);
  if (!format) {
    return jsonError(404, "not found: POST to /track or to PostHog's /track/capture, /batch, /e", "path");
  }
  if (req.method !== "POST") {
    return json({ error: `method: ${req.method} not allowed, use POST`, field: "method" }, 405, {
      Allow: "POST, OPTIONS",
    });
  }

  // parse
  let caller;
  let received: Received[];
  let sentAt: Date | null;
  try {
    caller = await callerFrom(req);
    if (format === "native") {
      const batch = nativeBatch(await nativeBody(req));
      received = batch.events.map((input) => ({ ignored: false, input, userAgent: null }));
      sentAt = batch.sentAt;
    } else {
      const batch = postHogBatch(await postHogBody(req));
      received = batch.events.map(fromPostHogEvent);
      sentAt = batch.sentAt;
    }
  } catch (e) {
    if (e instanceof AuthError) return jsonError(401, `authorization: ${e.message}`, "authorization");
    if (e instanceof RequestError) return jsonError(e.status, e.message, e.field);
    throw e;
  }

  timing.mark("parse");

  // limit: anonymous traffic per client and per anonymous id (docs/ingestion.md, Rate limits)
  const refusal = await checkRateLimits(caller, req.headers, received);
  if (refusal) {
    const retry = refusal.retryAfterSeconds;
    return jsonError(refusal.status, refusal.error, refusal.field, retry ? { retry_after: retry } : {}, {
      // A browser on another origin reads Retry-After only when it is exposed.
      ...(retry ? { "Retry-After": String(retry), "Access-Control-Expose-Headers": "Retry-After" } : {}),
    });
  }
  timing.mark("limit");

  // authorize + enrich: identity from the verified token only, enrichment from the request
  const prepared = prepare(received, {
    caller,
    receivedAt,
    sentAt,
    country: countryFrom(req.headers),
    userAgent: req.headers.get("user-agent"),
  });

  timing.mark("validate");

  // query
  let outcome;
  try {
    outcome = await store(directDb(), prepared);
  } catch (e) {
    console.error(`[track] ${(e as Error).message}`);
    if (databaseUnavailable((e as Error).cause ?? e)) {
      return databaseUnavailableResponse("the database is unavailable; retry with the same event ids", "events");
    }
    return jsonError(500, "storing the events failed; retry with the same event ids", "events");
  }
  timing.mark("db");
  await countRealtime(outcome.fresh);
  timing.mark("redis");

  // shape: a request whose every event was refused is a 400; otherwise the per-event outcome
  const { response } = outcome;
  const nothingTaken = response.rejected.length > 0 &&
    response.accepted + response.duplicates + response.ignored === 0;
  if (nothingTaken) return json({ error: "no valid event in the request", field: "events", ...response }, 400, timing.header());
  return json(response, 200, { "Cache-Control": "no-store", ...timing.header() });
});

/** Where the time of a request went, as a Server-Timing header (browsers' dev tools show it; the bench reads it). */
class ServerTiming {
  private last = performance.now();
  private entries: string[] = [];
  mark(name: string) {
    const now = performance.now();
    this.entries.push(`${name};dur=${(now - this.last).toFixed(1)}`);
    this.last = now;
  }
  header(): Record<string, string> {
    return { "Server-Timing": this.entries.join(", ") };
  }
}
