// The local stack's stand-in for Supabase Auth (GoTrue): just enough of its HTTP API for
// supabase-js's email+password sessions, so the dashboard page (and any client) can sign in as a
// demo user with `supabase.auth.signInWithPassword` against the local base URL. Hosted Supabase
// runs GoTrue itself; this file is never deployed.
//
//   POST /token?grant_type=password        {email, password}  -> session (GoTrue's JSON)
//   POST /token?grant_type=refresh_token   {refresh_token}    -> a fresh session
//   GET  /user                             Bearer access token -> the user
//   POST /logout[?scope=global|local]      Bearer access token -> 204, the session is ended
//   GET  /health, GET /settings
//
// Passwords are checked in the database against auth.users.encrypted_password (bcrypt, with
// pgcrypto's crypt(), exactly how the seed and GoTrue store them). Access tokens are HS256 JWTs
// signed with the project's JWT secret, with GoTrue's claims (sub, role, aud, email, session_id,
// exp, iat, ...), so PostgREST and the Edge Functions accept them like real ones. Refresh tokens
// are stateless (signed with the same secret); ended sessions are remembered in memory only, so a
// restart of this process forgets sign-outs (tokens still expire after JWT_EXPIRY seconds).
import postgres from "postgres";
import { jwtVerify, SignJWT } from "jose";

const PORT = Number(Deno.env.get("AUTH_PORT") ?? 54330);
const DB_URL = Deno.env.get("SUPABASE_DB_URL") ?? "";
const SECRET_TEXT = Deno.env.get("JWT_SECRET") ?? "";
const JWT_EXPIRY = Number(Deno.env.get("JWT_EXPIRY") ?? 3600);
const ISSUER = Deno.env.get("AUTH_ISSUER") ?? `http://127.0.0.1:${PORT}/auth/v1`;
if (!DB_URL || SECRET_TEXT.length < 32) {
  console.error("auth-server: SUPABASE_DB_URL and JWT_SECRET (32+ chars) are required");
  Deno.exit(2);
}
const secret = new TextEncoder().encode(SECRET_TEXT);
const sql = postgres(DB_URL, { max: 4, onnotice: () => {} });

/** Sessions ended by /logout (session_id -> until when to remember it, epoch seconds). */
const endedSessions = new Map<string, number>();

const cors: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type, x-supabase-api-version",
  "Access-Control-Allow-Methods": "GET, POST, PUT, OPTIONS",
};
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { ...cors, "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
/** GoTrue's OAuth-style error body, plus its newer error_code, which supabase-js reads as `code`. */
const oauthError = (status: number, error: string, description: string, code: string) =>
  json(status, { error, error_description: description, error_code: code });

type UserRow = {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  email_confirmed_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  is_anonymous: boolean;
};
const USER_COLUMNS = sql`id, aud, role, email, email_confirmed_at, last_sign_in_at, raw_app_meta_data,
  raw_user_meta_data, created_at, updated_at, is_anonymous`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);
function userJson(u: UserRow) {
  return {
    id: u.id,
    aud: u.aud ?? "authenticated",
    role: u.role ?? "authenticated",
    email: u.email ?? "",
    email_confirmed_at: iso(u.email_confirmed_at),
    phone: "",
    confirmed_at: iso(u.email_confirmed_at),
    last_sign_in_at: iso(u.last_sign_in_at),
    app_metadata: u.raw_app_meta_data ?? { provider: "email", providers: ["email"] },
    user_metadata: u.raw_user_meta_data ?? {},
    identities: [],
    created_at: iso(u.created_at),
    updated_at: iso(u.updated_at),
    is_anonymous: u.is_anonymous,
  };
}

async function session(u: UserRow, sessionId: string) {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + JWT_EXPIRY;
  const accessToken = await new SignJWT({
    aud: u.aud ?? "authenticated",
    role: u.role ?? "authenticated",
    email: u.email ?? "",
    phone: "",
    app_metadata: u.raw_app_meta_data ?? { provider: "email", providers: ["email"] },
    user_metadata: u.raw_user_meta_data ?? {},
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: sessionId,
    is_anonymous: u.is_anonymous,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setSubject(u.id)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(secret);
  const refreshToken = await new SignJWT({ sid: sessionId, typ: "refresh" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(u.id)
    .setIssuedAt(now)
    .setExpirationTime(now + 30 * 86400)
    .sign(secret);
  return {
    access_token: accessToken,
    token_type: "bearer",
    expires_in: JWT_EXPIRY,
    expires_at: exp,
    refresh_token: refreshToken,
    user: userJson(u),
  };
}

async function readBody(req: Request): Promise<Record<string, unknown>> {
  try {
    const body = await req.json();
    return body && typeof body === "object" ? body as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

async function passwordGrant(req: Request): Promise<Response> {
  const body = await readBody(req);
  const email = typeof body.email === "string" ? body.email.trim().toLowerCase() : "";
  const password = typeof body.password === "string" ? body.password : "";
  if (!email || !password) {
    return oauthError(400, "invalid_request", "An email address and a password are required", "validation_failed");
  }
  // crypt(password, stored hash) re-hashes with the stored salt: equal only for the right password.
  const rows = await sql<UserRow[]>`
    update auth.users set last_sign_in_at = now()
    where lower(email) = ${email}
      and encrypted_password is not null and encrypted_password <> ''
      and encrypted_password = extensions.crypt(${password}, encrypted_password)
    returning ${USER_COLUMNS}`;
  if (rows.length === 0) {
    return oauthError(400, "invalid_grant", "Invalid login credentials", "invalid_credentials");
  }
  return json(200, await session(rows[0], crypto.randomUUID()));
}

async function refreshGrant(req: Request): Promise<Response> {
  const body = await readBody(req);
  const token = typeof body.refresh_token === "string" ? body.refresh_token : "";
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"] });
    const sid = String(payload.sid ?? "");
    if (payload.typ !== "refresh" || !sid || endedSessions.has(sid)) throw new Error("ended");
    const rows = await sql<UserRow[]>`select ${USER_COLUMNS} from auth.users where id = ${String(payload.sub)}`;
    if (rows.length === 0) throw new Error("no user");
    return json(200, await session(rows[0], sid));
  } catch {
    return oauthError(400, "invalid_grant", "Invalid Refresh Token: Refresh Token Not Found", "refresh_token_not_found");
  }
}

/** The caller's verified access-token claims, or an error response. */
async function bearer(req: Request): Promise<Record<string, unknown> | Response> {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  if (!m) return json(401, { code: 401, error_code: "no_authorization", msg: "This endpoint requires a Bearer token" });
  try {
    const { payload } = await jwtVerify(m[1], secret, { algorithms: ["HS256"] });
    if (typeof payload.sub !== "string" || !payload.sub) throw new Error("no sub");
    if (typeof payload.session_id === "string" && endedSessions.has(payload.session_id)) {
      return json(403, { code: 403, error_code: "session_not_found", msg: "Session from session_id claim in JWT does not exist" });
    }
    return payload as Record<string, unknown>;
  } catch {
    return json(403, { code: 403, error_code: "bad_jwt", msg: "invalid JWT: unable to parse or verify signature" });
  }
}

async function getUser(req: Request): Promise<Response> {
  const claims = await bearer(req);
  if (claims instanceof Response) return claims;
  const rows = await sql<UserRow[]>`select ${USER_COLUMNS} from auth.users where id = ${String(claims.sub)}`;
  if (rows.length === 0) {
    return json(403, { code: 403, error_code: "user_not_found", msg: "User from sub claim in JWT does not exist" });
  }
  return json(200, userJson(rows[0]));
}

async function logout(req: Request): Promise<Response> {
  const claims = await bearer(req);
  if (claims instanceof Response) return claims.status === 403 ? new Response(null, { status: 204, headers: cors }) : claims;
  const now = Math.floor(Date.now() / 1000);
  for (const [sid, until] of endedSessions) if (until < now) endedSessions.delete(sid);
  if (typeof claims.session_id === "string") endedSessions.set(claims.session_id, now + 30 * 86400);
  return new Response(null, { status: 204, headers: cors });
}

Deno.serve({ hostname: "127.0.0.1", port: PORT, onListen: () => console.log(`auth stand-in on 127.0.0.1:${PORT}`) }, async (req) => {
  if (req.method === "OPTIONS") return new Response("ok", { headers: cors });
  const url = new URL(req.url);
  const path = url.pathname.replace(/^\/auth\/v1/, "").replace(/\/+$/, "") || "/";
  try {
    if (path === "/token" && req.method === "POST") {
      const grant = url.searchParams.get("grant_type");
      if (grant === "password") return await passwordGrant(req);
      if (grant === "refresh_token") return await refreshGrant(req);
      return oauthError(400, "unsupported_grant_type", `grant_type ${grant} is not supported here`, "validation_failed");
    }
    if (path === "/user" && req.method === "GET") return await getUser(req);
    if (path === "/logout" && req.method === "POST") return await logout(req);
    if (path === "/health") return json(200, { name: "GoTrue (local stand-in)", description: "scripts/auth-server.ts" });
    if (path === "/settings") {
      return json(200, { external: { email: true }, disable_signup: true, mailer_autoconfirm: true, phone_autoconfirm: false });
    }
    return json(404, { code: 404, error_code: "not_found", msg: `not supported by the local auth stand-in: ${req.method} ${path}` });
  } catch (e) {
    console.error("auth-server:", e);
    return json(500, { code: 500, error_code: "unexpected_failure", msg: "internal error" });
  }
});
