// The local stand-in for Supabase Auth (scripts/auth-server.ts behind the gateway's /auth/v1):
// supabase-js's email+password session works against it as against GoTrue, and the tokens it
// issues are accepted by PostgREST (RLS) and the Edge Functions.
import { createClient } from "@supabase/supabase-js";
import { assert, assertEquals } from "../_support/assert.ts";
import { ANON_KEY, API_URL, DEMO_ID } from "../_support/env.ts";

const DEMO = { email: "demo@mashups.local", password: "demo-password-123" };
const client = () =>
  createClient(API_URL, ANON_KEY, { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } });

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

Deno.test("auth stand-in: signInWithPassword returns GoTrue's session, usable for RLS reads and functions", async () => {
  const sb = client();
  const { data, error } = await sb.auth.signInWithPassword(DEMO);
  assertEquals(error, null);
  const s = data.session!;
  assertEquals(s.token_type, "bearer");
  assertEquals(s.expires_in, 3600);
  assert(Math.abs(s.expires_at! - (Date.now() / 1000 + 3600)) < 60, "expires_at is an epoch second an hour ahead");
  assert(s.refresh_token.length > 20, "a refresh token");
  assertEquals(s.user.id, DEMO_ID);
  assertEquals(s.user.email, DEMO.email);
  const c = claims(s.access_token);
  assertEquals([c.sub, c.role, c.aud, c.email], [DEMO_ID, "authenticated", "authenticated", DEMO.email]);
  assert(typeof c.session_id === "string" && typeof c.iat === "number" && typeof c.exp === "number");
  assertEquals((c.exp as number) - (c.iat as number), 3600);

  // The session's token reaches PostgREST as the creator (RLS: only their mashups) ...
  const { data: mashups, error: e2 } = await sb.from("mashups").select("creator_id");
  assertEquals(e2, null);
  assert(mashups!.length > 0 && mashups!.every((m) => m.creator_id === DEMO_ID));
  // ... and the Edge Functions (verify_jwt).
  const who = await sb.functions.invoke("whoami", { method: "GET" });
  assertEquals(who.error, null);
  assertEquals((who.data as { user_id: string }).user_id, DEMO_ID);

  const { data: u, error: e3 } = await sb.auth.getUser();
  assertEquals(e3, null);
  assertEquals(u.user!.id, DEMO_ID);

  // A refresh gives a new access token for the same session.
  const r = await sb.auth.refreshSession();
  assertEquals(r.error, null);
  assertEquals(claims(r.data.session!.access_token).session_id, c.session_id);

  // Sign-out ends the session: its tokens no longer work at /user, its refresh token is refused.
  const token = r.data.session!.access_token;
  const refresh = r.data.session!.refresh_token;
  assertEquals((await sb.auth.signOut()).error, null);
  const after = await fetch(`${API_URL}/auth/v1/user`, { headers: { apikey: ANON_KEY, Authorization: `Bearer ${token}` } });
  assertEquals(after.status, 403);
  assertEquals((await after.json()).error_code, "session_not_found");
  const again = await fetch(`${API_URL}/auth/v1/token?grant_type=refresh_token`, {
    method: "POST",
    headers: { apikey: ANON_KEY, "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refresh }),
  });
  assertEquals(again.status, 400);
  await again.body?.cancel();
});

Deno.test("auth stand-in: a wrong password or unknown email answers GoTrue's 400 invalid_grant", async () => {
  for (const body of [{ ...DEMO, password: "wrong-password" }, { email: "nobody@mashups.local", password: "x" }]) {
    const res = await fetch(`${API_URL}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { apikey: ANON_KEY, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    assertEquals(res.status, 400);
    const j = await res.json();
    assertEquals([j.error, j.error_description], ["invalid_grant", "Invalid login credentials"]);
  }
  const { data, error } = await client().auth.signInWithPassword({ ...DEMO, password: "wrong-password" });
  assertEquals(data.session, null);
  assertEquals(error?.status, 400);
  assertEquals(error?.message, "Invalid login credentials");
  assertEquals(error?.code, "invalid_credentials");
});

Deno.test("auth stand-in: the gateway wants the project's API key, as Kong does", async () => {
  const res = await fetch(`${API_URL}/auth/v1/token?grant_type=password`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(DEMO),
  });
  assertEquals(res.status, 401);
  // Like every other refusal, JSON naming the field (Kong's message and hint kept for clients that read them).
  const body = await res.json();
  assertEquals([body.field, body.message], ["apikey", "Invalid API key"]);
  // PostgREST behind the same gateway refuses a missing key alike.
  const rest = await fetch(`${API_URL}/rest/v1/mashups?select=id`);
  assertEquals(rest.status, 401);
  assertEquals((await rest.json()).field, "apikey");
});
