import { corsHeaders } from "./cors.ts";

/** A JSON response with CORS headers. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, "Content-Type": "application/json", ...headers },
  });
}

/** The one error shape every function uses: what went wrong, and where (the field) when known. */
export function jsonError(
  status: number,
  error: string,
  field?: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return json({ error, ...(field ? { field } : {}), ...extra }, status, { "Cache-Control": "no-store", ...headers });
}

/** Deno.serve's onError: an unexpected throw is logged and answered as JSON with CORS, never as
 * the runtime's plain-text 500. */
export function internalError(error: unknown): Response {
  console.error("unhandled error", error);
  return jsonError(500, "internal error");
}
