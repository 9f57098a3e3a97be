// Mints the local stack's API keys and the demo creator's token, signed HS256 with the local JWT
// secret exactly as Supabase signs its keys (same claims: role, iss, iat, exp). Deterministic, so
// keys printed by one `npm start` stay valid across restarts.
// Usage: node scripts/keys.mjs <jwt-secret> <demo-creator-uuid> <demo-creator-email>
import { createHmac } from "node:crypto";

const [secret, demoId, demoEmail] = process.argv.slice(2);
if (!secret || !demoId) {
  console.error("usage: node scripts/keys.mjs <jwt-secret> <demo-creator-uuid> <email>");
  process.exit(2);
}

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
export function sign(payload) {
  const head = b64url({ alg: "HS256", typ: "JWT" });
  const body = b64url(payload);
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

// Fixed issue and expiry times (2026-01-01 .. 2036-01-01) keep the keys stable.
const iat = 1767225600;
const exp = 2082758400;
const anon = sign({ iss: "supabase-demo", role: "anon", iat, exp });
const service = sign({ iss: "supabase-demo", role: "service_role", iat, exp });
const demo = sign({
  iss: "http://127.0.0.1/auth/v1",
  sub: demoId,
  aud: "authenticated",
  role: "authenticated",
  email: demoEmail,
  app_metadata: { provider: "email", providers: ["email"] },
  user_metadata: {},
  aal: "aal1",
  session_id: "00000000-0000-4000-8000-000000000000",
  is_anonymous: false,
  iat,
  exp,
});
console.log(`SUPABASE_ANON_KEY=${anon}`);
console.log(`SUPABASE_SERVICE_ROLE_KEY=${service}`);
console.log(`DEMO_CREATOR_TOKEN=${demo}`);
