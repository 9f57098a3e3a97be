// Bad dashboard parameters, generated, through both doors: the analytics function answers a JSON
// 400 naming `start` / `end` / `tz` / `id`, the RPC (PostgREST) a JSON 400 whose hint and message
// name `p_start` / `p_end` / `p_tz` / `p_mashup_id`; the two doors accept and refuse the same zones.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL, ANON_KEY, userClient } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";

const creator = await createUser("params");
const rpc = userClient(creator.token);

function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(Deno.env.get("CORPUS_SEED") ?? 1302);
const r = rng(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pad = (n: number, w = 2) => String(n).padStart(w, "0");
const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];

async function fn(path: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${API_URL}/functions/v1/analytics${path}`, {
    headers: { Authorization: `Bearer ${creator.token}` },
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path}: ${res.status} is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body, headers: res.headers };
}

/** A refused function call: JSON 400 naming the field, in `field` and at the start of `error`. */
function assertRefused(res: { status: number; body: Record<string, unknown> }, field: string, what: string) {
  assertEquals([res.status, res.body.field], [400, field], `${what}: ${JSON.stringify(res.body)}`);
  assert(String(res.body.error).startsWith(`${field} `), `${what}: "${res.body.error}" starts with ${field}`);
}

/** A refused RPC: PostgREST's JSON 400 with code 22023, the parameter as hint and message start. */
function assertRpcRefused(
  r: { status: number; error: { code?: string; hint?: string | null; message: string } | null },
  param: string,
  what: string,
) {
  assertEquals([r.status, r.error?.code, r.error?.hint], [400, "22023", param], `${what}: ${JSON.stringify(r.error)}`);
  assert(r.error!.message.startsWith(`${param} `), `${what}: "${r.error!.message}" starts with ${param}`);
}

// --- path segments (issue 13 item 2) --------------------------------------------------------------

/** Percent-encoded bytes that are not UTF-8: overlong forms, lone continuation bytes, truncated
 * sequences, encoded surrogates, bytes that never occur in UTF-8. */
function undecodableSegments(n: number): string[] {
  const hex = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  const cont = () => hex(int(0x80, 0xbf));
  const kinds = [
    () => hex(int(0xc0, 0xc1)) + cont(), // overlong 2-byte (%C0%80)
    () => hex(int(0x80, 0xbf)), // a continuation byte alone
    () => hex(int(0xe0, 0xef)) + cont(), // 3-byte sequence cut short (%E2%82)
    () => hex(int(0xf0, 0xf4)) + cont() + cont(), // 4-byte sequence cut short
    () => hex(0xed) + hex(int(0xa0, 0xbf)) + cont(), // a UTF-16 surrogate encoded in UTF-8
    () => hex(int(0xf5, 0xff)), // never in UTF-8
    () => hex(int(0xc2, 0xdf)) + hex(int(0x00, 0x7f)), // lead byte without its continuation
  ];
  return Array.from({ length: n }, (_, i) => {
    const prefix = pick(["", "abc", "1111", "%41"]);
    return prefix + kinds[i % kinds.length]() + pick(["", "x", "%41"]);
  });
}

Deno.test({
  name: "an undecodable /mashups/:id segment is a JSON 400 naming id, with CORS",
  sanitizeResources: false,
  fn: async () => {
    for (const segment of ["%C0%80", "%E2%82", ...undecodableSegments(49)]) {
      const res = await fn(`/mashups/${segment}?start=2026-03-01&end=2026-03-15`);
      assertRefused(res, "id", segment);
      assertEquals(res.headers.get("access-control-allow-origin"), "*", segment);
      assertEquals(res.headers.get("content-type"), "application/json", segment);
    }
  },
});

// --- dates (items 3 and 5) -------------------------------------------------------------------------

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS_IN = (y: number, m: number) => [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];

/** Dates no API accepts: year 0, days past the month's end, month or day 0 or too large, other forms. */
function badDates(n: number): string[] {
  const kinds = [
    () => `0000-${pad(int(1, 12))}-${pad(int(1, 28))}`,
    () => {
      let y = int(1, 9999);
      while (isLeap(y)) y++;
      return `${pad(y, 4)}-02-29`;
    },
    () => {
      const y = int(1, 9999), m = pick([4, 6, 9, 11]);
      return `${pad(y, 4)}-${pad(m)}-31`;
    },
    () => `${pad(int(1, 9999), 4)}-${pick(["00", "13", pad(int(14, 99))])}-${pad(int(1, 28))}`,
    () => `${pad(int(1, 9999), 4)}-${pad(int(1, 12))}-${pick(["00", "32", pad(int(33, 99))])}`,
    () => pick(["yesterday", "2026-3-1", "26-03-01", "2026/03/01", "20260301", "+02026-03-01", "-0001-01-01", "2026-03-01T00:00"]),
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]());
}

/** Valid dates across the whole accepted range, 0001-01-01 .. 9999-12-31. */
function goodDates(n: number): string[] {
  return ["0001-01-01", "9999-11-30", "2000-02-29", ...Array.from({ length: n }, () => {
    const y = int(1, 9998), m = int(1, 12);
    return `${pad(y, 4)}-${pad(m)}-${pad(int(1, DAYS_IN(y, m)))}`;
  })];
}

Deno.test({
  name: "dates outside the calendar or PostgreSQL's range: 400 naming start/end (function) and p_start/p_end (RPC)",
  sanitizeResources: false,
  fn: async () => {
    for (const date of badDates(60)) {
      assertRefused(await fn(`/dashboard?start=${encodeURIComponent(date)}&end=2026-03-01`), "start", date);
      assertRefused(await fn(`/dashboard?start=2026-02-01&end=${encodeURIComponent(date)}`), "end", date);
      assertRefused(await fn(`/dashboard?start=${encodeURIComponent(date)}`), "start", `${date} alone`);
      assertRpcRefused(await rpc.rpc("get_creator_dashboard", { p_start: date, p_end: "2026-03-01" }), "p_start", date);
      assertRpcRefused(await rpc.rpc("get_creator_dashboard", { p_start: "2026-02-01", p_end: date }), "p_end", date);
      assertRpcRefused(
        await rpc.rpc("get_mashup_analytics", { p_mashup_id: crypto.randomUUID(), p_start: date, p_end: "2026-03-01" }),
        "p_start",
        date,
      );
      assertRpcRefused(
        await rpc.rpc("get_creator_dashboard_with_comparison", { p_start: "2026-02-01", p_end: date, p_compare: "previous" }),
        "p_end",
        `${date} (comparison)`,
      );
      assertRpcRefused(
        await rpc.rpc("get_mashup_analytics_with_comparison", {
          p_mashup_id: crypto.randomUUID(), p_start: date, p_end: "2026-03-01", p_compare: "previous",
        }),
        "p_start",
        `${date} (mashup comparison)`,
      );
    }
    // Not a string at all, or missing: still the parameter's 400.
    for (const value of [20260301, true, null, { y: 2026 }]) {
      assertRpcRefused(await rpc.rpc("get_creator_dashboard", { p_start: value as never, p_end: "2026-03-01" }), "p_start", String(value));
    }
    assertRpcRefused(await rpc.rpc("get_creator_dashboard", {}), "p_start", "no parameters");
  },
});

Deno.test({
  name: "every real date in 0001..9999 is accepted by both doors, with the same period",
  sanitizeResources: false,
  fn: async () => {
    for (const start of goodDates(25)) {
      const end = new Date(Date.parse(`${start}T00:00:00Z`) + 31 * 86_400_000).toISOString().slice(0, 10);
      const viaFn = await fn(`/dashboard?start=${start}&end=${end}`);
      assertEquals([viaFn.status, viaFn.body.period], [200, { start, end }], start);
      const viaRpc = await rpc.rpc("get_creator_dashboard", { p_start: start, p_end: end });
      assertEquals([viaRpc.status, (viaRpc.data as { period: unknown }).period], [200, { start, end }], start);
    }
  },
});

// --- time zones (item 4) ---------------------------------------------------------------------------

const zoneNames = (await sql<{ name: string }[]>`select name from dashboard.time_zone_names order by name`)
  .map((z) => z.name);

/** Zone strings that are not IANA names: offsets, POSIX rules, bare abbreviations, paths, junk. */
async function badZones(n: number): Promise<string[]> {
  const abbreviations = (await sql<{ abbrev: string }[]>`
    select distinct abbrev from pg_catalog.pg_timezone_abbrevs a
    where not exists (select 1 from dashboard.time_zone_names z where z.lower_name = lower(a.abbrev))
    order by 1`).map((a) => a.abbrev);
  const letters = () => Array.from({ length: int(3, 5) }, () => String.fromCharCode(int(65, 90))).join("");
  const sign = () => pick(["+", "-"]);
  const kinds = [
    () => `${sign()}${pad(int(0, 14))}:${pick(["00", "15", "30", "45"])}`, // +05:30
    () => `${sign()}${pad(int(0, 14))}${pick(["00", "30", "45"])}`, // +0530
    () => `${sign()}${pad(int(0, 14))}`, // -05
    () => `${letters()}${sign()}${int(0, 12)}`, // XYZ+5
    () => `${letters()}${sign()}${int(0, 12)}:${pick(["00", "30"])}${letters()}`, // POSIX with DST
    () => pick(abbreviations), // PST, CEST: abbreviations PostgreSQL reads as fixed offsets
    () => `${pick(zoneNames)}${pick(["/x", " ", "+1", "\\"])}`, // a real name spoiled
    () => pick(["Mars/Olympus_Mons", "../../etc/passwd", "posix/Europe/Berlin", "right/UTC", "Factory", "localtime", "posixrules", "UTC+3", "GMT+5", " UTC"]),
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]());
}

Deno.test({
  name: "time zones: function and RPC refuse the same non-IANA zones with the same 400 (tz / p_tz)",
  sanitizeResources: false,
  fn: async () => {
    const zones = ["+05:30", "XYZ+5", "ABC-5", ...await badZones(80)];
    for (const tz of zones) {
      const viaFn = await fn(`/dashboard?start=2026-03-01&end=2026-03-15&tz=${encodeURIComponent(tz)}`);
      assertRefused(viaFn, "tz", tz);
      const viaRpc = await rpc.rpc("get_creator_dashboard", { p_start: "2026-03-01", p_end: "2026-03-15", p_tz: tz });
      assertRpcRefused(viaRpc, "p_tz", tz);
      assertEquals(viaFn.body.error, viaRpc.error!.message.replace(/^p_/, ""), `${tz}: one rule, one message`);
      const mashupRpc = await rpc.rpc("get_mashup_analytics", {
        p_mashup_id: crypto.randomUUID(), p_start: "2026-03-01", p_end: "2026-03-15", p_tz: tz,
      });
      assertRpcRefused(mashupRpc, "p_tz", `${tz} (mashup)`);
      const compared = await rpc.rpc("get_creator_dashboard_with_comparison", {
        p_start: "2026-03-01", p_end: "2026-03-15", p_tz: tz, p_compare: "previous",
      });
      assertRpcRefused(compared, "p_tz", `${tz} (comparison)`);
      assertRefused(await fn(`/dashboard?compare=previous&tz=${encodeURIComponent(tz)}`), "tz", `${tz} (compare=previous)`);
    }
    assertRpcRefused(
      await rpc.rpc("get_creator_dashboard", { p_start: "2026-03-01", p_end: "2026-03-15", p_tz: null as never }),
      "p_tz",
      "null",
    );
  },
});

Deno.test({
  name: "time zones: IANA names (any case) and UTC are accepted by both doors with the same answer",
  sanitizeResources: false,
  fn: async () => {
    const sample = ["UTC", "Etc/GMT+5", "Asia/Kathmandu", "America/St_Johns", ...Array.from({ length: 30 }, () => pick(zoneNames))];
    for (const name of sample) {
      const tz = r() < 0.3 ? name.toLowerCase() : name;
      const viaFn = await fn(`/dashboard?start=2026-03-01&end=2026-03-15&tz=${encodeURIComponent(tz)}`);
      assertEquals(viaFn.status, 200, `${tz}: ${JSON.stringify(viaFn.body)}`);
      const viaRpc = await rpc.rpc("get_creator_dashboard", { p_start: "2026-03-01", p_end: "2026-03-15", p_tz: tz });
      assertEquals(viaRpc.status, 200, `${tz}: ${JSON.stringify(viaRpc.error)}`);
      assertEquals(viaFn.body, viaRpc.data as Record<string, unknown>, tz);
    }
    // The accepted list is PostgreSQL's IANA database, every name of which JavaScript knows too.
    assert(zoneNames.length > 300, `${zoneNames.length} zone names`);
  },
});

Deno.test({
  name: "RPC p_limit and p_mashup_id: a 400 naming the parameter, never a cast error naming the value",
  sanitizeResources: false,
  fn: async () => {
    for (const limit of [0, 101, -1, 1.5, "ten", "", null, true, [5], { n: 5 }, "1e2", 1e10]) {
      assertRpcRefused(
        await rpc.rpc("get_creator_dashboard", { p_start: "2026-03-01", p_end: "2026-03-15", p_limit: limit as never }),
        "p_limit",
        JSON.stringify(limit),
      );
    }
    for (const ok of [1, 100, "7"]) {
      const res = await rpc.rpc("get_creator_dashboard", { p_start: "2026-03-01", p_end: "2026-03-15", p_limit: ok });
      assertEquals(res.status, 200, JSON.stringify(ok));
    }
    for (const id of ["not-a-uuid", "", "cccccccc-0000-4000-8000-00000000000", "zzzzzzzz-0000-4000-8000-000000000000", 42]) {
      assertRpcRefused(
        await rpc.rpc("get_mashup_analytics", { p_mashup_id: id as never, p_start: "2026-03-01", p_end: "2026-03-15" }),
        "p_mashup_id",
        String(id),
      );
    }
    // anon still may not call them at all
    const anon = await fetch(`${API_URL}/rest/v1/rpc/get_creator_dashboard`, {
      method: "POST",
      headers: { apikey: ANON_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ p_start: "2026-03-01", p_end: "2026-03-15" }),
    });
    assertEquals(anon.status, 401);
    await anon.body?.cancel();
  },
});
