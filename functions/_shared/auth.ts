// The caller's identity, checked here in every function (none relies on verify_jwt, which hosted
// Supabase no longer applies with JWT signing keys; see "Securing Edge Functions").
//
// Credentials, as hosted Supabase's gateway passes them:
//   Authorization: Bearer <JWT>   a user's (or a legacy anon/service_role key's) token. Verified
//     - against the project's JWKS (<SUPABASE_URL>/auth/v1/.well-known/jwks.json): fetched, cached,
//       fetched again when a token names an unknown `kid`; only the asymmetric algorithms, and only
//       with a key of that type, so an `alg` outside the key's own never verifies;
//     - or, for legacy projects, with the HS256 secret when LEGACY_JWT_SECRET is set (a secret name
//       the CLI accepts: it refuses every name starting with SUPABASE_).
//   apikey: sb_secret_... / sb_publishable_...   the new API keys, which are not JWTs: compared with
//     the project's keys (SUPABASE_SECRET_KEYS / SUPABASE_PUBLISHABLE_KEYS, JSON objects Supabase
//     injects into every function). supabase-js without a session also sends the key as the bearer.
// The user id comes only from a verified token, never from a body.
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from "jose";
import { env } from "./env.ts";

/** token: the JWT to forward to PostgREST, when the caller sent one; apiKey: the sb_ key it sent instead. */
export type Caller =
  | { kind: "anon"; token: string | null; apiKey?: string }
  | { kind: "user"; token: string; userId: string }
  | { kind: "service"; token: string | null; apiKey?: string };

export class AuthError extends Error {}

/** Asymmetric algorithms of Supabase's JWT signing keys. HS256 is only ever the legacy secret. */
const SIGNING_KEY_ALGS = ["ES256", "RS256", "EdDSA"];

/** After a fetch, a token with an unknown kid fetches the JWKS again only once this has passed. */
export const JWKS_REFETCH_COOLDOWN_MS = 5_000;

let jwks: ReturnType<typeof createRemoteJWKSet> | null = null;
function projectJwks() {
  // JWKS_CACHE_SECONDS bounds how long a revoked key is still honoured (hosted's JWKS is cached
  // for minutes at the edge too); the local stack sets it short. A new key (unknown kid) is picked
  // up at once, at most one fetch per cooldown, so forged kids cannot flood the auth server.
  const maxAge = Number(Deno.env.get("JWKS_CACHE_SECONDS") ?? 600) * 1000;
  jwks ??= createRemoteJWKSet(new URL(`${env("SUPABASE_URL")}/auth/v1/.well-known/jwks.json`), {
    cacheMaxAge: maxAge,
    cooldownDuration: Math.min(maxAge, JWKS_REFETCH_COOLDOWN_MS),
    timeoutDuration: 5_000,
  });
  return jwks;
}

const legacySecretText = Deno.env.get("LEGACY_JWT_SECRET") ?? "";
const legacySecret = legacySecretText ? new TextEncoder().encode(legacySecretText) : null;

/** The values of a key dictionary Supabase injects (`{"default": "sb_secret_..."}`). */
function keyValues(name: string): string[] {
  const raw = Deno.env.get(name);
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw);
    return Object.values(parsed).filter((v): v is string => typeof v === "string" && v.length > 0);
  } catch {
    return [raw];
  }
}
export const secretApiKeys = () => keyValues("SUPABASE_SECRET_KEYS");
export const publishableApiKeys = () => keyValues("SUPABASE_PUBLISHABLE_KEYS");

/** PostgREST's allowance for clocks that disagree, in seconds (`allowedSkewSeconds` in its Auth.hs):
 * it refuses a token when now > exp + 30, now < nbf - 30 or now < iat - 30. The functions apply the
 * same three rules, so a token either passes both or neither: one PostgREST refuses would otherwise
 * pass here and fail at the query (a 500 instead of a 401), or be honoured by `track`, which does not
 * go through PostgREST. */
export const CLOCK_SKEW_SECONDS = 30;

/** The time claims PostgREST checks and jose does not: a token issued in the future. */
function refuseIssuedInFuture(payload: JWTPayload): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat === "number" && now < payload.iat - CLOCK_SKEW_SECONDS) {
    throw new AuthError("invalid JWT: issued in the future (iat)");
  }
  return payload;
}

/** The claims of a token signed by a published signing key or by the legacy secret; throws otherwise. */
export async function verifyJwt(token: string): Promise<JWTPayload> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new AuthError("invalid JWT: not a signed token");
  }
  try {
    if (alg === "HS256") {
      if (!legacySecret) throw new AuthError("invalid JWT: HS256 tokens are not accepted by this project");
      const options = { algorithms: ["HS256"], requiredClaims: ["exp"], clockTolerance: CLOCK_SKEW_SECONDS };
      return refuseIssuedInFuture((await jwtVerify(token, legacySecret, options)).payload);
    }
    if (alg && SIGNING_KEY_ALGS.includes(alg)) {
      const options = {
        algorithms: SIGNING_KEY_ALGS,
        requiredClaims: ["exp"],
        clockTolerance: CLOCK_SKEW_SECONDS,
      };
      return refuseIssuedInFuture((await jwtVerify(token, projectJwks(), options)).payload);
    }
  } catch (e) {
    if (e instanceof AuthError) throw e;
    throw new AuthError("invalid or expired JWT");
  }
  throw new AuthError(`invalid JWT: algorithm ${String(alg)} is not accepted`);
}

/** PostgREST refused the token the function forwarded (its PGRST30x codes: invalid, expired or
 * issued in the future, by its own clock and JWKS). The function answers that as any refused token,
 * 401, not as a failed query: the two can disagree for the seconds a revoked key stays cached. */
export function refusedByPostgrest(error: { code?: string }): boolean {
  return /^PGRST30\d$/.test(error.code ?? "");
}

/** An sb_ API key: the role it stands for, or an AuthError for a key that is not this project's. */
function apiKeyCaller(key: string): Caller {
  if (secretApiKeys().includes(key)) return { kind: "service", token: null, apiKey: key };
  if (publishableApiKeys().includes(key)) return { kind: "anon", token: null, apiKey: key };
  throw new AuthError("invalid API key");
}

/** Verifies the request's credentials, if any. Throws AuthError for present but invalid ones. */
export async function callerFrom(req: Request): Promise<Caller> {
  const authorization = (req.headers.get("authorization") ?? "").trim();
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] ?? null;
  // A credential the caller sent but that cannot be read is refused, never dropped: the caller would
  // silently become anonymous (an outside audit: "Bearer <token> extra", "Token <token>").
  if (authorization && !bearer) throw new AuthError("the Authorization header must be `Bearer <token>`");
  const apikey = req.headers.get("apikey")?.trim() || null;
  // An API key sent beside a token must be valid too, as the platform's gateway requires.
  if (apikey && bearer && apikey !== bearer) {
    if (apikey.startsWith("sb_")) apiKeyCaller(apikey);
    else await verifyJwt(apikey);
  }
  if (bearer && !bearer.startsWith("sb_")) return await callerFromJwt(bearer);
  // No token: the API key decides (a bearer sb_ key is the API key sent the old way).
  const key = bearer ?? (apikey?.startsWith("sb_") ? apikey : null);
  if (key) return apiKeyCaller(key);
  // A legacy client may send its legacy JWT key in apikey alone, as the gateway then forwards it.
  if (apikey) return await callerFromJwt(apikey);
  return { kind: "anon", token: null };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function callerFromJwt(token: string): Promise<Caller> {
  const payload = await verifyJwt(token);
  const role = payload.role;
  if (role === "service_role") return { kind: "service", token };
  if (role === "authenticated") {
    // The user id is a uuid (auth.users.id); any other subject would fail in the database as a 500.
    if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) throw new AuthError("invalid JWT: sub is not a user id");
    return { kind: "user", token, userId: payload.sub.toLowerCase() };
  }
  if (role === "anon") return { kind: "anon", token };
  throw new AuthError(`unsupported JWT role ${String(role)}`);
}
