// The caller's identity from the request's JWT. The signature is checked here with the project's
// JWT secret (SUPABASE_JWT_SECRET), so a function with verify_jwt = false (track) still never
// trusts an unverified token; the user id comes only from a verified token, never from a body.
import { jwtVerify } from "jose";
import { env } from "./env.ts";

export type Caller =
  | { kind: "anon"; token: string | null }
  | { kind: "user"; token: string; userId: string }
  | { kind: "service"; token: string };

export class AuthError extends Error {}

let secret: Uint8Array | null = null;

/** Verifies the bearer token, if any. Throws AuthError for a present but invalid token. */
export async function callerFrom(req: Request): Promise<Caller> {
  const header = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return { kind: "anon", token: null };
  secret ??= new TextEncoder().encode(env("SUPABASE_JWT_SECRET"));
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(m[1], secret, { algorithms: ["HS256"] }));
  } catch {
    throw new AuthError("invalid or expired JWT");
  }
  const role = payload.role;
  if (role === "service_role") return { kind: "service", token: m[1] };
  if (role === "authenticated" && typeof payload.sub === "string" && payload.sub) {
    return { kind: "user", token: m[1], userId: payload.sub };
  }
  if (role === "anon") return { kind: "anon", token: m[1] };
  throw new AuthError(`unsupported JWT role ${String(role)}`);
}
