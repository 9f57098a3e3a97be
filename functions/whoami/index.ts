// whoami: the caller's identity as the database sees it (verify_jwt = true).
// Proves the whole identity path: gateway -> JWT check -> PostgREST as the caller -> RLS.
import { preflight } from "../_shared/cors.ts";
import { json, jsonError } from "../_shared/http.ts";
import { AuthError, callerFrom } from "../_shared/auth.ts";
import { asCaller } from "../_shared/db.ts";

Deno.serve(async (req) => {
  const pre = preflight(req);
  if (pre) return pre;
  if (req.method !== "GET" && req.method !== "POST") return jsonError(405, "method not allowed", "method");

  let token: string | null;
  try {
    token = (await callerFrom(req)).token;
  } catch (e) {
    if (e instanceof AuthError) return jsonError(401, e.message, "authorization");
    throw e;
  }
  if (!token) return jsonError(401, "missing bearer token", "authorization");

  const { data, error } = await asCaller(token).rpc("whoami");
  if (error) return jsonError(500, error.message);

  return json(data, 200, { "Cache-Control": "no-store" });
});
