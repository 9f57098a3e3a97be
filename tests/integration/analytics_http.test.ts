// The analytics function's HTTP promises (docs/api.md): caching headers per response kind, and an
// expired token refused with a 401 on every path, for the dashboard API and the track function.
import { assertEquals } from "../_support/assert.ts";
import { API_URL, DEMO_ID, DEMO_TOKEN, ENV } from "../_support/env.ts";
import { SignJWT } from "jose";

const get = (path: string, token?: string) =>
  fetch(`${API_URL}/functions/v1/analytics${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

async function headersOf(path: string, token = DEMO_TOKEN) {
  const res = await get(path, token);
  await res.body?.cancel();
  return { status: res.status, cache: res.headers.get("cache-control"), vary: res.headers.get("vary") };
}

Deno.test("caching: private max-age=60 for rollups, 5 for realtime, Vary: Authorization; errors no-store", async () => {
  const mashup = (await (await get("/dashboard", DEMO_TOKEN)).json()).topContent[0]?.mashupId;
  assertEquals(typeof mashup, "string", "the demo creator has a top mashup");
  assertEquals(await headersOf("/dashboard"), { status: 200, cache: "private, max-age=60", vary: "Authorization" });
  assertEquals(await headersOf(`/mashups/${mashup}`), { status: 200, cache: "private, max-age=60", vary: "Authorization" });
  assertEquals(await headersOf("/realtime"), { status: 200, cache: "private, max-age=5", vary: "Authorization" });
  for (const [path, status] of [["/dashboard?limit=0", 400], ["/mashups/00000000-0000-4000-8000-000000000000", 404]] as const) {
    const h = await headersOf(path);
    assertEquals([h.status, h.cache], [status, "no-store"], path);
  }
});

Deno.test("an expired token is a 401 on every analytics path and on track", async () => {
  const expired = await new SignJWT({ role: "authenticated", aud: "authenticated", email: "demo@mashups.local" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(DEMO_ID)
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(new TextEncoder().encode(ENV.SUPABASE_JWT_SECRET));
  for (const path of ["/dashboard", "/realtime", "/mashups/00000000-0000-4000-8000-000000000000"]) {
    const res = await get(path, expired);
    assertEquals(res.status, 401, path);
    await res.body?.cancel();
  }
  const track = await fetch(`${API_URL}/functions/v1/track`, {
    method: "POST",
    headers: { Authorization: `Bearer ${expired}`, "Content-Type": "application/json" },
    body: JSON.stringify({ type: "mashup_liked", session_id: "s", properties: { mashup_id: crypto.randomUUID() } }),
  });
  assertEquals([track.status, await track.json()], [401, {
    error: "authorization: invalid or expired JWT",
    field: "authorization",
  }]);
});
