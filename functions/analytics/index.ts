// analytics: the plan's three dashboard responses (verify_jwt = false: the caller is checked here).
//   GET /analytics/dashboard          ?start&end&tz&limit  -> the creator's dashboard
//   GET /analytics/mashups/:id        ?start&end&tz        -> one mashup's analytics
//   GET /analytics/realtime                                -> live listeners from Redis
// Both period responses also take compare=previous (adds `comparison`: the previous period) and
// format=csv&table=NAME (one table of the same response as a CSV download; see csv.ts).
// Parse the query, authorize from the JWT, call one RPC as the caller (so RLS decides what the
// caller may see, exactly as a direct RPC call would), shape the plan's JSON.
import { corsHeaders, preflight } from "../_shared/cors.ts";
import { internalError, json, jsonError } from "../_shared/http.ts";
import { AuthError, type Caller, callerFrom, refusedByPostgrest } from "../_shared/auth.ts";
import { asCaller, asService } from "../_shared/db.ts";
import { databaseUnavailable, databaseUnavailableResponse } from "../_shared/unavailable.ts";
import { parsePeriodQuery, type PeriodQuery } from "./params.ts";
import { CSV_TABLES, csvTable, toCsv } from "./csv.ts";
import { readRealtimeFor } from "./realtime.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Rollups are folded in every 5 minutes: a minute of private caching loses nothing.
const CACHE_ROLLUPS = { "Cache-Control": "private, max-age=60", Vary: "Authorization" };
const CACHE_REALTIME = { "Cache-Control": "private, max-age=5", Vary: "Authorization" };
const NOT_FOUND = () => jsonError(404, "mashup not found", "id");

Deno.serve({ onError: internalError }, async (req) => {
  const pre = preflight(req);
  if (pre) return pre;
  if (req.method !== "GET") return jsonError(405, "only GET is supported", "method");

  // parse
  const url = new URL(req.url);
  const path = url.pathname.replace(/^.*?\/analytics(?=\/|$)/, "").replace(/\/+$/, "");
  const route = path === "/dashboard"
    ? { kind: "dashboard" as const }
    : path === "/realtime"
    ? { kind: "realtime" as const }
    : path.startsWith("/mashups/")
    ? { kind: "mashup" as const, id: decodedSegment(path.slice("/mashups/".length)) }
    : null;
  if (!route) return jsonError(404, `no such endpoint: ${safePath(path) || "/"}`, "path");
  if (route.kind === "mashup" && route.id === null) {
    return jsonError(400, "id must be a UUID (the path segment is not valid percent-encoded UTF-8)", "id");
  }

  // authorize
  let caller: Caller;
  try {
    caller = await callerFrom(req);
  } catch (e) {
    if (e instanceof AuthError) return jsonError(401, `authorization: ${e.message}`, "authorization");
    throw e;
  }
  if (caller.kind === "anon") return jsonError(401, "authorization: sign in, a user or service-role JWT is required", "authorization");

  // query + shape
  if (route.kind === "realtime") {
    try {
      const body = await readRealtimeFor(caller);
      return json(body, 200, body.stale ? { "Cache-Control": "no-store", Vary: "Authorization" } : CACHE_REALTIME);
    } catch (e) {
      console.error("realtime from Redis and Postgres failed", e);
      return jsonError(503, "live numbers are unavailable (Redis and the database failed); retry shortly");
    }
  }

  const q = parsePeriodQuery(url.searchParams);
  if ("error" in q) return jsonError(400, q.error, q.field);
  if (q.format === "csv" && !csvTable(route.kind, q.table)) {
    return jsonError(400, `table must be one of ${CSV_TABLES[route.kind].join(", ")}`, "table");
  }
  if (q.format === "json" && q.table !== undefined) return jsonError(400, "table needs format=csv", "table");
  const db = caller.kind === "service" ? asService() : asCaller(caller.token);
  // compare=previous: the same response plus `comparison`, from the wrapper function of the same RPC.
  const compared = q.compare ? { p_compare: q.compare } : {};
  const suffix = q.compare ? "_with_comparison" : "";

  if (route.kind === "dashboard") {
    const { data, error, status } = await db.rpc(`get_creator_dashboard${suffix}`, {
      p_start: q.start,
      p_end: q.end,
      p_tz: q.tz,
      p_limit: q.limit,
      ...compared,
    });
    if (error) return rpcError(error, status);
    return shaped("dashboard", data, q);
  }

  if (!UUID.test(route.id!)) return jsonError(400, "id must be a UUID", "id");
  const { data, error, status } = await db.rpc(`get_mashup_analytics${suffix}`, {
    p_mashup_id: route.id,
    p_start: q.start,
    p_end: q.end,
    p_tz: q.tz,
    ...compared,
  });
  if (error) return rpcError(error, status);
  if (data === null) return NOT_FOUND();
  return shaped("mashup", data, q);
});

/** A path segment percent-decoded, or null when its bytes are not UTF-8 (`%C0%80`, `%E2%82`). */
function decodedSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** The path as it may be echoed in an error: decoded when it can be. */
function safePath(path: string): string {
  return decodedSegment(path) ?? path;
}

// The RPCs name their parameters (p_start, p_tz, p_mashup_id); the endpoint's are start, tz, id.
const QUERY_FIELD: Record<string, string> = { p_mashup_id: "id" };
const queryField = (p: string) => QUERY_FIELD[p] ?? p.replace(/^p_/, "");

/** The JSON response, or the asked-for table of it as a CSV download. */
function shaped(kind: "dashboard" | "mashup", data: Record<string, unknown>, q: PeriodQuery): Response {
  if (q.format === "json") return json(data, 200, CACHE_ROLLUPS);
  const name = kind === "dashboard" ? "dashboard" : `mashup-${(data.mashup as { id: string }).id}`;
  const filename = `${name}-${q.table}-${q.start}-${q.end}${q.compare ? "-compared" : ""}.csv`;
  return new Response(toCsv(kind, q.table!, data), {
    status: 200,
    headers: {
      ...corsHeaders,
      ...CACHE_ROLLUPS,
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${filename}"`,
      // The page reads the file name from a cross-origin fetch.
      "Access-Control-Expose-Headers": "Content-Disposition",
    },
  });
}

/** SQL errors the dashboard functions raise on purpose map to the same 4xx the edge gives; a database
 * that cannot answer is a 503 to retry; anything else is a 500. */
function rpcError(error: { code?: string; message: string; hint?: string | null }, status: number): Response {
  if (databaseUnavailable(error, status)) {
    console.error("analytics: the database is unavailable", status, error);
    return databaseUnavailableResponse("the database is unavailable; retry shortly");
  }
  if (error.code === "P0002") return NOT_FOUND();
  if (error.code === "22023" && error.hint) {
    const field = queryField(error.hint);
    return jsonError(400, error.message.replace(/\bp_[a-z_]+/g, queryField), field);
  }
  if (error.code === "22023") return jsonError(400, error.message);
  if (error.code === "42501") return jsonError(403, error.message, "authorization");
  if (refusedByPostgrest(error)) return jsonError(401, `authorization: ${error.message}`, "authorization");
  console.error("analytics rpc failed", error);
  return jsonError(500, "internal error");
}
