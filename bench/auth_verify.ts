// What verifying a caller costs in a function (functions/_shared/auth.ts), in process: an ES256 token
// against the project's JWKS (fetched once, then cached) compared with the baseline measured in
// the same run, a legacy HS256 token checked with the shared secret. Also counts JWKS fetches,
// which must stay at one for the whole run (the cache), plus one more for a token with an unknown kid.
//
//   node_modules/.bin/deno run -A --config deno.json bench/auth_verify.ts [tokens per round=500] [rounds=7]
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const perRound = Number(Deno.args[0] ?? 500);
const rounds = Number(Deno.args[1] ?? 7);
const SECRET = "bench-legacy-secret-with-at-least-32-characters";

// A JWKS endpoint like GoTrue's, on a free loopback port, counting how often it is fetched.
const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: "bench-key", alg: "ES256", use: "sig" };
let fetches = 0;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
  fetches++;
  return Response.json({ keys: [jwk] });
});
Deno.env.set("SUPABASE_URL", `http://127.0.0.1:${server.addr.port}`);
Deno.env.set("LEGACY_JWT_SECRET", SECRET);
const { verifyJwt } = await import("../functions/_shared/auth.ts");

const claims = { sub: crypto.randomUUID(), role: "authenticated", aud: "authenticated" };
const es256 = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "bench-key" })
  .setIssuedAt().setExpirationTime("1h").sign(privateKey);
const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" })
  .setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

async function round(token: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < perRound; i++) await verifyJwt(token);
  return ((performance.now() - t0) * 1000) / perRound; // µs per token
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await round(es256); // warm-up: the first call fetches the JWKS
await round(hs256);
const es: number[] = [];
const hs: number[] = [];
for (let r = 0; r < rounds; r++) {
  es.push(await round(es256));
  hs.push(await round(hs256));
}
const fetchesAfterRun = fetches;
// A new key appears (a rotation): its first token has an unknown kid and fetches the set again.
await new Promise((r) => setTimeout(r, 5_100)); // past the refetch cooldown
const stranger = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "unknown" })
  .setExpirationTime("1h").sign(privateKey);
await verifyJwt(stranger).catch(() => undefined);

console.log(`tokens per round ${perRound}, rounds ${rounds}; median µs per verification`);
console.log(`  ES256 via JWKS (cached):     ${median(es).toFixed(1)} µs`);
console.log(`  HS256 legacy secret (base):  ${median(hs).toFixed(1)} µs`);
console.log(`  ratio ES256 / HS256:         ${(median(es) / median(hs)).toFixed(1)}x`);
console.log(`  JWKS fetches for ${(rounds + 1) * perRound} ES256 verifications: ${fetchesAfterRun}; after one unknown kid: ${fetches}`);
await server.shutdown();
