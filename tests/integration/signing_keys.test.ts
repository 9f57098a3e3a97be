// A hosted project of today: user tokens signed with asymmetric JWT signing keys (ES256, `kid`,
// public keys at /auth/v1/.well-known/jwks.json), the new API keys (sb_publishable_..., sb_secret_...),
// and the legacy HS256 secret still honoured. Every door is checked: PostgREST (an RPC) and each
// Edge Function (track, whoami, analytics, realtime-sync), through the gateway like any client.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, DEMO_ID, DEMO_TOKEN, ENV, PUBLISHABLE_KEY, SECRET_KEY, SERVICE_KEY } from "../_support/env.ts";
import { storedEvents, validEvent } from "../_support/track.ts";

const DEMO = { email: "demo@mashups.local", password: "demo-password-123" };
const noSession = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } };
const JWKS_URL = `${API_URL}/auth/v1/.well-known/jwks.json`;
const PERIOD = { start: "2026-01-01", end: "2026-12-31", tz: "UTC", limit: "5" };

type Jwks = { keys: (JWK & { kid: string })[] };
const jwks = async (): Promise<Jwks> => (await fetch(JWKS_URL)).json();

/** A fresh session through the auth stand-in, with supabase-js holding only the publishable key. */
async function signIn(): Promise<{ sb: SupabaseClient; token: string; refresh: string }> {
  const sb = createClient(API_URL, PUBLISHABLE_KEY, noSession);
  const { data, error } = await sb.auth.signInWithPassword(DEMO);
  assertEquals(error, null);
  return { sb, token: data.session!.access_token, refresh: data.session!.refresh_token };
}

/** What a signed-in creator does with supabase-js: an RPC and each function. */
async function everyDoorAsCreator(sb: SupabaseClient) {
  const { data: who, error } = await sb.rpc("whoami");
  assertEquals(error, null);
  assertEquals((who as { user_id: string }).user_id, DEMO_ID);

  const fnWho = await sb.functions.invoke("whoami", { method: "GET" });
  assertEquals(fnWho.error, null);
  assertEquals((fnWho.data as { user_id: string; role: string }).user_id, DEMO_ID);

  // The analytics function answers what the RPC answers, for the same creator and period.
  const qs = new URLSearchParams(PERIOD).toString();
  const fnDash = await sb.functions.invoke(`analytics/dashboard?${qs}`, { method: "GET" });
  assertEquals(fnDash.error, null);
  const { data: rpcDash, error: e2 } = await sb.rpc("get_creator_dashboard", {
    p_start: PERIOD.start,
    p_end: PERIOD.end,
    p_tz: PERIOD.tz,
    p_limit: Number(PERIOD.limit),
  });
  assertEquals(e2, null);
  assertEquals(fnDash.data, rpcDash);

  // track: the stored event carries the user id of the verified token, nothing else.
  const event = validEvent("mashup_liked");
  const fnTrack = await sb.functions.invoke("track", { body: event });
  assertEquals(fnTrack.error, null);
  assertEquals((fnTrack.data as { accepted: number }).accepted, 1);
  const [stored] = await storedEvents([event.id]);
  assertEquals(stored.user_id, DEMO_ID);

  // realtime-sync is the service role's: a creator is refused.
  const sync = await sb.functions.invoke("realtime-sync", { body: {} });
  assertEquals(sync.response?.status, 403);
}

/** Status of each door for a bearer token, with the publishable key as apikey. */
async function statuses(token: string): Promise<Record<string, number>> {
  const headers = { apikey: PUBLISHABLE_KEY, Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const doors: Record<string, () => Promise<Response>> = {
    "rest rpc": () => fetch(`${API_URL}/rest/v1/rpc/whoami`, { method: "POST", headers, body: "{}" }),
    "rest table": () => fetch(`${API_URL}/rest/v1/mashups?select=id&limit=1`, { headers }),
    whoami: () => fetch(`${API_URL}/functions/v1/whoami`, { headers }),
    analytics: () => fetch(`${API_URL}/functions/v1/analytics/dashboard`, { headers }),
    track: () =>
      fetch(`${API_URL}/functions/v1/track`, { method: "POST", headers, body: JSON.stringify(validEvent("mashup_liked")) }),
    "realtime-sync": () => fetch(`${API_URL}/functions/v1/realtime-sync`, { method: "POST", headers, body: "{}" }),
  };
  const out: Record<string, number> = {};
  for (const [name, call] of Object.entries(doors)) {
    const res = await call();
    out[name] = res.status;
    await res.body?.cancel();
  }
  return out;
}
const ALL_401 = { "rest rpc": 401, "rest table": 401, whoami: 401, analytics: 401, track: 401, "realtime-sync": 401 };
const CREATOR_OK = { "rest rpc": 200, "rest table": 200, whoami: 200, analytics: 200, track: 200, "realtime-sync": 403 };

const b64url = (v: unknown) =>
  btoa(typeof v === "string" ? v : JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const creatorClaims = () => {
  const now = Math.floor(Date.now() / 1000);
  return { sub: DEMO_ID, role: "authenticated", aud: "authenticated", email: DEMO.email, iat: now, exp: now + 600 };
};
const hs256 = (secret: string, header: Record<string, unknown> = {}) =>
  new SignJWT(creatorClaims()).setProtectedHeader({ alg: "HS256", typ: "JWT", ...header })
    .sign(new TextEncoder().encode(secret));

Deno.test("signing keys: supabase-js with the publishable key and an ES256 session reaches an RPC and every function", async () => {
  const { sb, token, refresh } = await signIn();
  const header = decodeProtectedHeader(token);
  assertEquals(header.alg, "ES256");
  const published = await jwks();
  assert(published.keys.some((k) => k.kid === header.kid && k.kty === "EC" && k.crv === "P-256"), "kid is in the JWKS");
  assert(published.keys.every((k) => !("d" in k)), "the JWKS holds public keys only");
  // Refresh tokens are opaque, as GoTrue's: not a JWT anyone could take for an access token.
  assert(refresh.split(".").length !== 3 && refresh.length >= 16, `opaque refresh token: ${refresh}`);
  await everyDoorAsCreator(sb);
  assertEquals(await statuses(token), CREATOR_OK);
});

Deno.test("signing keys: a legacy HS256 token (the project's legacy secret) still reaches an RPC and every function", async () => {
  assertEquals(decodeProtectedHeader(DEMO_TOKEN).alg, "HS256");
  const sb = createClient(API_URL, PUBLISHABLE_KEY, { ...noSession, accessToken: () => Promise.resolve(DEMO_TOKEN) });
  await everyDoorAsCreator(sb);
  assertEquals(await statuses(DEMO_TOKEN), CREATOR_OK);
});

Deno.test("signing keys: realtime-sync runs for the secret key (as pg_net calls it) and a service-role JWT, no one else", async () => {
  // supabase-js with the secret key (it sends the key as apikey and as the bearer).
  const admin = createClient(API_URL, SECRET_KEY, noSession);
  const ok = await admin.functions.invoke("realtime-sync", { body: {} });
  assertEquals(ok.error, null);
  assertEquals(typeof (ok.data as { sync: { counters: number } }).sync.counters, "number");

  const call = async (headers: Record<string, string>) => {
    const res = await fetch(`${API_URL}/functions/v1/realtime-sync`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: "{}",
    });
    return { status: res.status, body: await res.json() };
  };
  // pg_net's request: the secret key in the apikey header only.
  assertEquals((await call({ apikey: SECRET_KEY })).status, 200);
  assertEquals((await call({ Authorization: `Bearer ${SERVICE_KEY}` })).status, 200);

  const { token } = await signIn();
  const refused = [
    await call({ apikey: PUBLISHABLE_KEY }),
    await call({ apikey: PUBLISHABLE_KEY, Authorization: `Bearer ${PUBLISHABLE_KEY}` }),
    await call({ apikey: PUBLISHABLE_KEY, Authorization: `Bearer ${token}` }),
    await call({ apikey: SECRET_KEY, Authorization: `Bearer ${token}` }), // the token names the caller
    await call({ apikey: PUBLISHABLE_KEY, Authorization: `Bearer ${DEMO_TOKEN}` }),
  ];
  assertEquals(refused.map((r) => r.status), [403, 403, 403, 403, 403]);
  assertEquals(refused[0].body.field, "authorization");
  // A key that is not the project's, or none at all.
  const wrongKey = await call({ apikey: SECRET_KEY.slice(0, -1) + (SECRET_KEY.endsWith("x") ? "y" : "x") });
  assertEquals([wrongKey.status, wrongKey.body.field], [401, "authorization"]);
  assertEquals((await call({})).status, 401);
});

Deno.test("signing keys: forged tokens get 401 at PostgREST and at every function", async () => {
  const { refresh } = await signIn();
  const current = (await jwks()).keys[0];
  const { kty, crv, x, y } = current;
  const publicJwk = { kty, crv, x, y };
  const spki = await exportSPKI(await importJWK({ ...publicJwk, alg: "ES256" } as JWK, "ES256") as CryptoKey);
  const stranger = await generateKeyPair("ES256");
  const creator = creatorClaims();
  const forged: Record<string, string> = {
    "HS256 with the publishable key as secret": await hs256(PUBLISHABLE_KEY),
    "HS256 with the public JWK as secret": await hs256(JSON.stringify(publicJwk), { kid: current.kid }),
    "HS256 with the public JWK (as published) as secret": await hs256(JSON.stringify(current), { kid: current.kid }),
    "HS256 with the public key's PEM as secret": await hs256(spki, { kid: current.kid }),
    "alg none naming the JWKS key": `${b64url({ alg: "none", typ: "JWT", kid: current.kid })}.${b64url(creator)}.`,
    "ES256 by a stranger's key claiming the project's kid": await new SignJWT(creator)
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: current.kid }).sign(stranger.privateKey),
    "ES256 by a stranger's key and kid": await new SignJWT(creator)
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: "stranger" }).sign(stranger.privateKey),
    "RS256 naming the EC key": `${b64url({ alg: "RS256", typ: "JWT", kid: current.kid })}.${b64url(creator)}.${
      b64url("x".repeat(256))
    }`,
    "HS256 with the wrong secret": await hs256("not-the-projects-secret-but-long-enough-0123456789"),
    "a refresh token used as an access token": refresh,
  };
  for (const [what, token] of Object.entries(forged)) {
    assertEquals(await statuses(token), ALL_401, what);
  }
});

Deno.test("signing keys: every door reads a token's time claims as PostgREST does (30 s of clock skew)", async () => {
  // PostgREST refuses when now > exp + 30, now < nbf - 30 or now < iat - 30. A door that judged
  // otherwise answered a 500 (a function whose query PostgREST then refused) or honoured a token the
  // database would not (track). Margins of 15 and 90 s keep the verdicts clear of the boundary.
  const token = (claims: Record<string, number>) =>
    new SignJWT({ ...creatorClaims(), ...claims }).setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(ENV.SUPABASE_JWT_SECRET));
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Record<string, number>, Record<string, number>][] = [
    ["issued 15 s ahead", { iat: now + 15, exp: now + 600 }, CREATOR_OK],
    ["issued 90 s ahead", { iat: now + 90, exp: now + 600 }, ALL_401],
    ["expired 15 s ago", { iat: now - 600, exp: now - 15 }, CREATOR_OK],
    ["expired 90 s ago", { iat: now - 600, exp: now - 90 }, ALL_401],
    ["valid from 15 s ahead", { iat: now, nbf: now + 15, exp: now + 600 }, CREATOR_OK],
    ["valid from 90 s ahead", { iat: now, nbf: now + 90, exp: now + 600 }, ALL_401],
  ];
  for (const [what, claims, expected] of cases) {
    assertEquals(await statuses(await token(claims)), expected, what);
  }
});

Deno.test({
  name: "signing keys: after rotation the old key works until it is revoked; then its tokens get 401 everywhere",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const admin = (action: string, body: unknown, key = SECRET_KEY) =>
      fetch(`${API_URL}/auth/v1/admin/signing-keys/${action}`, {
        method: "POST",
        headers: { apikey: key, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const old = await signIn();
    const oldKid = decodeProtectedHeader(old.token).kid!;

    const denied = await admin("rotate", {}, PUBLISHABLE_KEY);
    assertEquals(denied.status, 403);
    await denied.body?.cancel();

    const rotated = await admin("rotate", {});
    assertEquals(rotated.status, 200);
    const { current: newKid, previous } = await rotated.json();
    assertEquals(previous, oldKid);
    assert(newKid !== oldKid);
    assertEquals((await jwks()).keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
    // Previously used: still published, its tokens still good.
    assertEquals(await statuses(old.token), CREATOR_OK);

    const fresh = await signIn();
    assertEquals(decodeProtectedHeader(fresh.token).kid, newKid);

    const revoked = await admin("revoke", { kid: oldKid });
    assertEquals(revoked.status, 200);
    await revoked.body?.cancel();
    assertEquals((await jwks()).keys.map((k) => k.kid), [newKid]);
    const current = await admin("revoke", { kid: newKid });
    assertEquals(current.status, 422, "the key in use cannot be revoked");
    await current.body?.cancel();

    // The functions trust a fetched JWKS for JWKS_CACHE_SECONDS; PostgREST reloads on notice.
    await new Promise((r) => setTimeout(r, (Number(ENV.JWKS_CACHE_SECONDS) + 1) * 1000));
    assertEquals(await statuses(old.token), ALL_401);
    // The new key's tokens (an unknown kid to a verifier that cached the old set) are accepted.
    assertEquals(await statuses(fresh.token), CREATOR_OK);
    await everyDoorAsCreator(fresh.sb);
  },
});

Deno.test("signing keys: a project-signed token whose sub is not a user id gets 401 at every function, never a 500", async () => {
  const token = await new SignJWT({ ...creatorClaims(), sub: "not-a-uuid" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(ENV.SUPABASE_JWT_SECRET));
  const s = await statuses(token);
  assertEquals(
    { whoami: s.whoami, analytics: s.analytics, track: s.track, "realtime-sync": s["realtime-sync"] },
    { whoami: 401, analytics: 401, track: 401, "realtime-sync": 401 },
  );
});

Deno.test("signing keys: a credential sent but unreadable or invalid is a 401 at every function, never dropped for anonymous", async () => {
  const forgedJwt = await hs256("not-the-projects-secret-but-long-enough-0123456789");
  const cases: Record<string, Record<string, string>> = {
    "Bearer <token> extra": { apikey: PUBLISHABLE_KEY, Authorization: `Bearer ${DEMO_TOKEN} extra` },
    "Token <token>": { apikey: PUBLISHABLE_KEY, Authorization: `Token ${DEMO_TOKEN}` },
    "a bare token": { apikey: PUBLISHABLE_KEY, Authorization: DEMO_TOKEN },
    "a publishable bearer beside a forged JWT as apikey": { apikey: forgedJwt, Authorization: `Bearer ${PUBLISHABLE_KEY}` },
    "a valid token beside an unknown sb_ key": { apikey: "sb_publishable_not-this-projects", Authorization: `Bearer ${DEMO_TOKEN}` },
  };
  for (const [what, headers] of Object.entries(cases)) {
    const event = validEvent("mashup_liked");
    const doors = {
      whoami: fetch(`${API_URL}/functions/v1/whoami`, { headers }),
      analytics: fetch(`${API_URL}/functions/v1/analytics/dashboard`, { headers }),
      track: fetch(`${API_URL}/functions/v1/track`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify(event),
      }),
    };
    for (const [door, pending] of Object.entries(doors)) {
      const res = await pending;
      const body = await res.json();
      assertEquals([res.status, res.headers.get("content-type")?.startsWith("application/json")], [401, true], `${what} at ${door}`);
      assert(typeof body.error === "string", `${what} at ${door}: ${JSON.stringify(body)}`);
    }
    assertEquals(await storedEvents([event.id]), [], `${what}: nothing stored`);
  }
});
