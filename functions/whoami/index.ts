// whoami: the caller's identity as the database sees it (verify_jwt = false: checked here).
// Proves the whole identity path: gateway -> JWT / API key check -> PostgREST as the caller -> RLS.
import { preflight } from "../_shared/cors.ts";
import { json, jsonError } from "../_shared/http.ts";
import { AuthError, type Caller, callerFrom, refusedByPostgrest } from "../_shared/auth.ts";
import { asAnon, asCaller, asService } from "../_shared/db.ts";

Deno.serve(async (req) => {
  const pre = preflight(req);
  if (pre) return pre;
  if (req.method !== "GET" && req.method !== "POST") return jsonError(405, "method not allowed", "method");

  let caller: Caller;
  try {
    caller = await callerFrom(req);
  } catch (e) {
    if (e instanceof AuthError) return jsonError(401, `authorization: ${e.message}`, "authorization");
    throw e;
  }
  if (caller.kind !== "user" && !caller.token && !caller.apiKey) {
    return jsonError(401, "authorization: missing bearer token or API key", "authorization");
  }

  const db = caller.kind === "service" ? asService() : caller.token ? asCaller(caller.token) : asAnon();
  const { data, error } = await db.rpc("whoami");
  if (error && refusedByPostgrest(error)) {
    return jsonError(401, `authorization: ${error.message}`, "authorization");
  }
  if (error) {
    console.error("whoami rpc failed", error);
    return jsonError(500, "internal error");
  }

  return json(data, 200, { "Cache-Control": "no-store" });
});
