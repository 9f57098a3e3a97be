// functions/_shared/auth.ts against a JWKS endpoint of the test's own, so the cache can be watched:
// one fetch serves many tokens, a new key (unknown kid) is fetched again, a key gone from the set
// is refused once the set was fetched again, and HS256 is only the legacy secret's, when configured.
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";

const LEGACY = "jwks-test-legacy-secret-with-at-least-32-characters";

async function newKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } as JWK };
}
const claims = { sub: crypto.randomUUID(), role: "authenticated", aud: "authenticated" };
const es256 = (k: Awaited<ReturnType<typeof newKey>>) =>
  new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: k.kid }).setExpirationTime("10m").sign(k.privateKey);
const hs256 = (secret: string) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m")
    .sign(new TextEncoder().encode(secret));

const touched = new Map<string, string | undefined>();
/** A fresh instance of the module (its own cache) with this environment (kept until restoreEnv()). */
async function loadAuth(env: Record<string, string | undefined>, tag: string) {
  for (const [k, v] of Object.entries(env)) {
    if (!touched.has(k)) touched.set(k, Deno.env.get(k));
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
  return await import(`../../functions/_shared/auth.ts?${tag}`) as typeof import("../../functions/_shared/auth.ts");
}
function restoreEnv() {
  for (const [k, v] of touched) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  touched.clear();
}

Deno.test({
  name: "auth: the JWKS is cached, fetched again for an unknown kid, and a withdrawn key is refused after that",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const k1 = await newKey("k1");
    const k2 = await newKey("k2");
    let published: JWK[] = [k1.jwk];
    let fetches = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      if (new URL(req.url).pathname !== "/auth/v1/.well-known/jwks.json") return new Response(null, { status: 404 });
      fetches++;
      return Response.json({ keys: published });
    });
    try {
      const auth = await loadAuth({
        SUPABASE_URL: `http://127.0.0.1:${server.addr.port}`,
        JWKS_CACHE_SECONDS: "600",
        LEGACY_JWT_SECRET: LEGACY,
      }, "cache");
      const cooldown = () => new Promise((r) => setTimeout(r, auth.JWKS_REFETCH_COOLDOWN_MS + 100));

      const t1 = await es256(k1);
      for (let i = 0; i < 20; i++) assertEquals((await auth.verifyJwt(t1)).sub, claims.sub);
      assertEquals(fetches, 1, "one fetch for twenty tokens");

      // Rotation: k2 is published and starts signing; its first token has a kid the cache lacks.
      published = [k1.jwk, k2.jwk];
      await cooldown();
      const t2 = await es256(k2);
      assertEquals((await auth.verifyJwt(t2)).sub, claims.sub);
      assertEquals(fetches, 2, "an unknown kid fetched the set again");
      assertEquals((await auth.verifyJwt(t1)).sub, claims.sub, "the previous key still verifies while published");

      // k1 is withdrawn. Once the set is fetched again (here: a token naming an unknown kid), its tokens are refused.
      published = [k2.jwk];
      await cooldown();
      const stranger = await newKey("stranger");
      await assertRejects(async () => auth.verifyJwt(await es256(stranger)), auth.AuthError);
      assertEquals(fetches, 3);
      await assertRejects(() => auth.verifyJwt(t1), auth.AuthError, "invalid or expired JWT");
      assertEquals((await auth.verifyJwt(t2)).sub, claims.sub);

      // HS256: the legacy secret only; never a published key used as an HMAC secret.
      assertEquals((await auth.verifyJwt(await hs256(LEGACY))).sub, claims.sub);
      await assertRejects(async () => auth.verifyJwt(await hs256(JSON.stringify(k2.jwk))), auth.AuthError);
      // A token without exp is refused even when its signature is good.
      const noExp = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k2" }).sign(k2.privateKey);
      await assertRejects(() => auth.verifyJwt(noExp), auth.AuthError);

      // Without LEGACY_JWT_SECRET (a project past its legacy keys) HS256 is refused outright.
      const modern = await loadAuth({
        SUPABASE_URL: `http://127.0.0.1:${server.addr.port}`,
        LEGACY_JWT_SECRET: undefined,
      }, "no-legacy");
      await assertRejects(async () => modern.verifyJwt(await hs256(LEGACY)), modern.AuthError, "not accepted");
      assert((await modern.verifyJwt(t2)).sub === claims.sub);
    } finally {
      restoreEnv();
      await server.shutdown();
    }
  },
});
