// The local stack's stand-in for Supabase Auth (GoTrue): just enough of its HTTP API for
// supabase-js's email+password sessions, so the dashboard page (and any client) can sign in as a
// demo user with `supabase.auth.signInWithPassword` against the local base URL. Hosted Supabase
// runs GoTrue itself; this file is never deployed.
//
//   POST /token?grant_type=password        {email, password}  -> session (GoTrue's JSON)
//   POST /token?grant_type=refresh_token   {refresh_token}    -> a fresh session
//   GET  /user                             Bearer access token -> the user
//   POST /logout[?scope=global|local]      Bearer access token -> 204, the session is ended
//   GET  /.well-known/jwks.json (and /jwks) the public signing keys (open, no API key needed)
//   POST /admin/signing-keys/rotate        service role: a new current key, the old one stays published
//   POST /admin/signing-keys/revoke {kid}  service role: a previously used key is withdrawn
//   DELETE /admin/users/{id}               service role: the account is deleted (auth.admin.deleteUser)
//   GET  /health, GET /settings
//
// As hosted GoTrue with JWT signing keys: access tokens are ES256 JWTs signed with the stand-in's own
// key (scripts/auth-keys.ts: generated on first start, kept under .stack/auth, `kid` in the header),
// with GoTrue's claims (sub, role, aud, email, session_id, exp, iat, ...). Tokens made with the
// project's legacy HS256 secret (the printed keys, the demo token) are still accepted. Refresh
// tokens are opaque random strings, rotated on every use (never JWTs, so no verifier takes one for
// an access token). Sessions live in memory and in .stack/auth/sessions.json, so a restart keeps them.
//
// Passwords are checked in the database against auth.users.encrypted_password (bcrypt, with
// pgcrypto's crypt(), exactly how the seed and GoTrue store them). After a rotation or revocation
// PostgREST re-reads its key set (NOTIFY pgrst, 'reload config').
import postgres from "postgres";
import { createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from "jose";
import { Keyring } from "./auth-keys.ts";

const PORT = Number(Deno.env.get("AUTH_PORT") ?? 54330);
const DB_URL = Deno.env.get("SUPABASE_DB_URL") ?? "";
const SECRET_TEXT = Deno.env.get("JWT_SECRET") ?? "";
const JWT_EXPIRY = Number(Deno.env.get("JWT_EXPIRY") ?? 3600);
const ISSUER = Deno.env.get("AUTH_ISSUER") ?? `http://127.0.0.1:${PORT}/auth/v1`;
const KEYS_DIR = Deno.env.get("AUTH_KEYS_DIR") ?? "";
// The project's secret API keys (sb_secret_...), which may call the admin endpoints.
const SECRET_API_KEYS = (Deno.env.get("SECRET_API_KEYS") ?? "").split(",").filter(Boolean);
const REFRESH_TTL_SECONDS = 30 * 86400;
if (!DB_URL || SECRET_TEXT.length < 32 || !KEYS_DIR) {
  console.error("auth-server: SUPABASE_DB_URL, JWT_SECRET (32+ chars) and AUTH_KEYS_DIR are required");
  Deno.exit(2);
}
const legacySecret = new TextEncoder().encode(SECRET_TEXT);
const sql = postgres(DB_URL, { max: 4, onnotice: () => {} });
const keyring = await new Keyring(KEYS_DIR, SECRET_TEXT).load();
let publicKeys = createLocalJWKSet(keyring.jwks());

/** Sessions ended by /logout (session_id -> until when to remember it, epoch seconds). */
const endedSessions = new Map<string, number>();

/** Live refresh tokens: opaque token -> its session. One per session; each use replaces it. */
type RefreshEntry = { sid: string; sub: string; exp: number };
const SESSIONS_FILE = `${KEYS_DIR}/sessions.json`;
const refreshTokens = new Map<string, RefreshEntry>(loadSessions());
function loadSessions(): [string, RefreshEntry][] {
  try {
    const now = Date.now() / 1000;
    const saved = JSON.parse(Deno.readTextFileSync(SESSIONS_FILE)) as { refresh: [string, RefreshEntry][]; ended: [string, number][] };
    for (const [sid, until] of saved.ended ?? []) if (until > now) endedSessions.set(sid, until);
    return (saved.refresh ?? []).filter(([, e]) => e.exp > now);
  } catch {
    return [];
  }
}
function saveSessions() {
  const body = JSON.stringify({ refresh: [...refreshTokens], ended: [...endedSessions] });
  Deno.writeTextFileSync(SESSIONS_FILE, body, { mode: 0o600 });
}
function newRefreshToken(): string {
  // GoTrue's refresh tokens are short random strings too; 16 random bytes, base64url.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An access token's claims when it verifies with a published key (ES256) or the legacy secret (HS256). */
async function verifyAccessToken(token: string): Promise<Record<string, unknown>> {
  const { alg } = decodeProtectedHeader(token);
  const { payload } = alg === "HS256"
    ? await jwtVerify(token, legacySecret, { algorithms: ["HS256"], requiredClaims: ["exp"] })
    : await jwtVerify(token, publicKeys, { algorithms: ["ES256"], requiredClaims: ["exp"] });
  return payload as Record<string, unknown>;
}

const cors: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type, x-supabase-api-version",
  "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
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
  const current = keyring.current();
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
    .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: current.kid })
    .setIssuer(ISSUER)
    .setSubject(u.id)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(await importJWK(current.private_jwk, "ES256"));
  const refreshToken = newRefreshToken();
  refreshTokens.set(refreshToken, { sid: sessionId, sub: u.id, exp: now + REFRESH_TTL_SECONDS });
  saveSessions();
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
  const entry = refreshTokens.get(token);
  // Used once: the token is replaced by the new session's.
  if (entry) {
    refreshTokens.delete(token);
    saveSessions();
  }
  if (entry && entry.exp > Date.now() / 1000 && !endedSessions.has(entry.sid)) {
    const rows = await sql<UserRow[]>`select ${USER_COLUMNS} from auth.users where id = ${entry.sub}`;
    if (rows.length > 0) return json(200, await session(rows[0], entry.sid));
  }
  return oauthError(400, "invalid_grant", "Invalid Refresh Token: Refresh Token Not Found", "refresh_token_not_found");
}

/** The caller's verified access-token claims, or an error response. */
async function bearer(req: Request): Promise<Record<string, unknown> | Response> {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  if (!m) return json(401, { code: 401, error_code: "no_authorization", msg: "This endpoint requires a Bearer token" });
  try {
    const payload = await verifyAccessToken(m[1]);
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
  if (typeof claims.session_id === "string") {
    endedSessions.set(claims.session_id, now + REFRESH_TTL_SECONDS);
    for (const [t, e] of refreshTokens) if (e.sid === claims.session_id) refreshTokens.delete(t);
    saveSessions();
  }
  return new Response(null, { status: 204, headers: cors });
}

/** Admin calls: the service role only (a secret API key, or a service-role JWT as GoTrue takes). */
async function isServiceRole(req: Request): Promise<boolean> {
  const apikey = req.headers.get("apikey") ?? "";
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1] ?? "";
  if (SECRET_API_KEYS.includes(apikey) && (!bearer || bearer === apikey)) return true;
  try {
    return (await verifyAccessToken(bearer)).role === "service_role";
  } catch {
    return false;
  }
}

/** After the key set changed: serve it, and have PostgREST re-read its copy. */
async function publishKeys() {
  publicKeys = createLocalJWKSet(keyring.jwks());
  await sql`select pg_notify('pgrst', 'reload config')`;
}

async function signingKeys(req: Request, action: string): Promise<Response> {
  if (!(await isServiceRole(req))) {
    return json(403, { code: 403, error_code: "not_admin", msg: "User not allowed" });
  }
  if (action === "rotate") {
    const previous = keyring.current().kid;
    const fresh = await keyring.rotate();
    await publishKeys();
    return json(200, { current: fresh.kid, previous, keys: keyring.jwks().keys });
  }
  const body = await readBody(req);
  const kid = typeof body.kid === "string" ? body.kid : "";
  try {
    if (!(await keyring.revoke(kid))) return json(404, { code: 404, error_code: "not_found", msg: `no signing key ${kid}` });
  } catch (e) {
    return json(422, { code: 422, error_code: "validation_failed", msg: (e as Error).message });
  }
  await publishKeys();
  return json(200, { revoked: kid, keys: keyring.jwks().keys });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * GoTrue's admin delete: the row goes from auth.users, as supabase_auth_admin (the role GoTrue
 * connects as, which has no rights on analytics tables: what the database does on its own, such as
 * erasing the account's analytics, happens with the rights its triggers have), and the account's
 * sessions end. Soft deletes (should_soft_delete) are not in this stand-in.
 */
async function deleteUser(req: Request, id: string): Promise<Response> {
  if (!(await isServiceRole(req))) {
    return json(403, { code: 403, error_code: "not_admin", msg: "User not allowed" });
  }
  if (!UUID.test(id)) return json(404, { code: 404, error_code: "user_not_found", msg: "User not found" });
  const body = await readBody(req);
  if (body.should_soft_delete === true) {
    return json(422, {
      code: 422,
      error_code: "validation_failed",
      msg: "should_soft_delete is not supported by the local auth stand-in",
    });
  }
  const rows = await sql.begin(async (tx) => {
    await tx`set local role supabase_auth_admin`;
    return await tx<UserRow[]>`delete from auth.users where id = ${id} returning ${USER_COLUMNS}`;
  });
  if (rows.length === 0) return json(404, { code: 404, error_code: "user_not_found", msg: "User not found" });
  for (const [t, e] of refreshTokens) if (e.sub === id) refreshTokens.delete(t);
  saveSessions();
  return json(200, userJson(rows[0]));
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
    if ((path === "/.well-known/jwks.json" || path === "/jwks") && req.method === "GET") {
      return new Response(JSON.stringify(keyring.jwks()), {
        headers: { ...cors, "Content-Type": "application/json", "Cache-Control": "public, max-age=60" },
      });
    }
    const admin = /^\/admin\/signing-keys\/(rotate|revoke)$/.exec(path);
    if (admin && req.method === "POST") return await signingKeys(req, admin[1]);
    const adminUser = /^\/admin\/users\/([^/]+)$/.exec(path);
    if (adminUser && req.method === "DELETE") return await deleteUser(req, adminUser[1]);
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
