// PostgREST's planned and estimated counts are refused to anon and signed-in users
// (20261128000400): they are the planner's estimates, from statistics gathered over every creator's
// rows, which RLS does not filter. An outside audit read another creator's play and follower counts
// through them (Content-Range: */963 where the rows and count=exact said 0). The rule, over every
// table and view a signed-in user may read through the Data API.
import { assert, assertEquals } from "../_support/assert.ts";
import { createUser, sql } from "../_support/db.ts";
import { API_URL, PUBLISHABLE_KEY, SECRET_KEY, userClient } from "../_support/env.ts";

const run = crypto.randomUUID().slice(0, 8);

// Every relation of the exposed schema that `authenticated` or `anon` may select from.
const readable = await sql<{ name: string }[]>`
  select c.relname as name from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind in ('r', 'v', 'm', 'p')
    and (has_table_privilege('authenticated', c.oid, 'select') or has_table_privilege('anon', c.oid, 'select'))
  order by 1`;

async function get(table: string, headers: [string, string][], token?: string, filter = "") {
  const h = new Headers({ apikey: PUBLISHABLE_KEY });
  if (token) h.set("Authorization", `Bearer ${token}`);
  for (const [k, v] of headers) h.append(k, v);
  const res = await fetch(`${API_URL}/rest/v1/${table}?select=*&limit=1${filter}`, { headers: h });
  return { status: res.status, range: res.headers.get("content-range"), body: await res.json() };
}

Deno.test("a signed-in user's or anon's count=planned / count=estimated is a 400 naming prefer, on every readable relation", async () => {
  assert(readable.length >= 10, `the exposed relations: ${readable.map((r) => r.name).join(", ")}`);
  const user = await createUser(`counts-${run}`);
  for (const { name } of readable) {
    for (const prefer of ["count=planned", "count=estimated", "return=representation, count=planned", "COUNT=Planned"]) {
      for (const token of [user.token, undefined]) {
        const r = await get(name, [["Prefer", prefer]], token);
        assertEquals(r.status, 400, `${name} ${prefer} ${token ? "user" : "anon"}: ${JSON.stringify(r.body)}`);
        assertEquals(r.body.hint, "prefer");
        assertEquals(r.range, null, "no count given");
      }
    }
    // count=exact counts what RLS lets through: allowed.
    const exact = await get(name, [["Prefer", "count=exact"]], user.token);
    assert(exact.status === 200 || exact.status === 206, `${name} count=exact: ${exact.status}`);
  }
});

// fetch() joins headers of one name into one; curl sends each as given, as any HTTP client may.
async function curl(url: string, headers: [string, string][]) {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-D", "-", url, ...headers.flatMap(([k, v]) => ["-H", `${k}: ${v}`])],
    stdout: "piped",
  }).output();
  const [head, body] = new TextDecoder().decode(out.stdout).split("\r\n\r\n");
  const status = Number(head.split(" ")[1]);
  const range = /^content-range: *(.*)$/im.exec(head)?.[1] ?? null;
  return { status, range, body: body ? JSON.parse(body) : null };
}

Deno.test("a second Prefer header does not carry a planned count past the check", async () => {
  const owner = await createUser(`counts-owner-${run}`);
  const other = await createUser(`counts-other-${run}`);
  const [{ id: mashup }] = await sql<{ id: string }[]>`insert into public.mashups (creator_id, title, duration_seconds)
    values (${owner.id}, 'counted mix', 120) returning id`;
  for (const headers of [
    [["Prefer", "count=planned"], ["Prefer", "return=minimal"]],
    [["Prefer", "return=minimal"], ["Prefer", "count=planned"]],
    [["Prefer", "return=minimal"], ["Prefer", "count=estimated"], ["Prefer", "tx=rollback"]],
  ] as [string, string][][]) {
    const r = await curl(`${API_URL}/rest/v1/mashups?select=*&id=eq.${mashup}`, [
      ["apikey", PUBLISHABLE_KEY],
      ["Authorization", `Bearer ${other.token}`],
      ...headers,
    ]);
    const total = r.range?.split("/")[1];
    assert(r.status === 400 || total === "*" || total === "0", `${JSON.stringify(headers)}: ${r.status} ${r.range}`);
    assertEquals(Array.isArray(r.body) ? r.body.length : 0, 0, "another creator's mashup is not readable");
  }
});

Deno.test("supabase-js: a planned count is refused with PostgREST's error; exact counts and the service role are unchanged", async () => {
  const user = await createUser(`counts-js-${run}`);
  const db = userClient(user.token);
  const planned = await db.from("mashup_daily_stats").select("*", { count: "planned", head: true });
  assertEquals(planned.status, 400);
  assertEquals(planned.count, null);
  const exact = await db.from("mashup_daily_stats").select("*", { count: "exact", head: true });
  assertEquals([exact.error, exact.count], [null, 0], "RLS: none of the user's own");
  // The service role reads every row: its estimate tells it nothing it may not read.
  const res = await fetch(`${API_URL}/rest/v1/mashup_daily_stats?select=mashup_id&limit=1`, {
    headers: { apikey: SECRET_KEY, Prefer: "count=planned" },
  });
  await res.body?.cancel();
  assert(res.status === 200 || res.status === 206, `service role: ${res.status}`);
});
