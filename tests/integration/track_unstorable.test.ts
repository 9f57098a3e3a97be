// Strings PostgreSQL cannot store (NUL, an unpaired UTF-16 surrogate) in any stored field of any
// event, native or PostHog: that event is refused naming its field, its valid siblings are stored,
// nothing of it is stored. Generated corpora (seeded, so a failure can be replayed), not examples.
// And the typed client never blocks its queue on a refused event.
import { assert, assertEquals } from "../_support/assert.ts";
import { API_URL } from "../_support/env.ts";
import { createUser, sql } from "../_support/db.ts";
import { storedEvents, track, uuid, validEvent, validProperties } from "../_support/track.ts";
import { createTrackClient, RefusedEventsError } from "../../types/client.ts";
import type { EventType } from "../../types/events.ts";
import { rng } from "../_support/rng.ts";

const SEED = Number(Deno.env.get("CORPUS_SEED") ?? 1301);

/** What makes a string unstorable, inserted at a random place of a valid one. */
function unstorableStrings(r: () => number, n: number): string[] {
  const code = (lo: number, hi: number) => String.fromCharCode(lo + Math.floor(r() * (hi - lo + 1)));
  const poison = [
    () => "\u0000",
    () => code(0xd800, 0xdbff), // a high surrogate alone
    () => code(0xdc00, 0xdfff), // a low surrogate alone
    () => code(0xdc00, 0xdfff) + code(0xd800, 0xdbff), // a pair in the wrong order
    () => "\u0000".repeat(1 + Math.floor(r() * 3)) + code(0xd800, 0xdbff),
  ];
  const bases = ["whatsapp", "anon-7f3a", "mp4", "fire", "free", "sess 42", "ünïcødé", "🎧mix", ""];
  return Array.from({ length: n }, (_, i) => {
    const base = bases[Math.floor(r() * bases.length)];
    const at = Math.floor(r() * (base.length + 1));
    // Never split an existing surrogate pair (that would be a second, unintended defect).
    const cut = /[\udc00-\udfff]/.test(base[at] ?? "") ? at + 1 : at;
    return base.slice(0, cut) + poison[i % poison.length]() + base.slice(cut);
  });
}

/** Strings that look odd but PostgreSQL stores as sent: they must be accepted and kept exactly. */
const STORABLE_ODDITIES = ["tab\there", "\u0001ctrl", "emoji 🎧🔥", "\uffff", "bo\ufeffm", "𝄞 clef", "quote\"back\\slash"];

// Every stored string of the native format: [event type, path, setter].
type Field = { type: EventType; name: string; set: (e: Record<string, unknown>, v: string) => void };
const prop = (type: EventType, key: string): Field => ({
  type,
  name: `properties.${key}`,
  set: (e, v) => ((e.properties as Record<string, unknown>)[key] = v),
});
const NATIVE_FIELDS: Field[] = [
  { type: "mashup_liked", name: "anonymous_id", set: (e, v) => (e.anonymous_id = v) },
  { type: "mashup_played", name: "session_id", set: (e, v) => (e.session_id = v) },
  prop("mashup_played", "source"),
  prop("mashup_shared", "platform"),
  prop("mashup_exported", "platform"),
  prop("mashup_exported", "format"),
  prop("ai_reaction", "reaction"),
  prop("subscription_upgraded", "from"),
  prop("subscription_upgraded", "to"),
];

/** Which of these ids are stored anywhere (counted events and bot events). */
async function storedAnywhere(ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id::text from public.analytics_events where id = any(${ids}::uuid[])
    union all select id::text from public.analytics_bot_events where id = any(${ids}::uuid[])`;
  return rows.map((r) => r.id).sort();
}

Deno.test("native: every stored field with an unstorable string is refused by name; its siblings are stored", async () => {
  const r = rng(SEED);
  const bad = unstorableStrings(r, NATIVE_FIELDS.length * 5);
  const events: Record<string, unknown>[] = [];
  const expectedRejected: { index: number; field: string }[] = [];
  const valid: string[] = [];
  bad.forEach((value, i) => {
    // A valid sibling before each refused event, in a random order of types.
    const sibling = validEvent(NATIVE_FIELDS[Math.floor(r() * NATIVE_FIELDS.length)].type);
    events.push(sibling);
    valid.push(sibling.id);
    const field = NATIVE_FIELDS[i % NATIVE_FIELDS.length];
    const event = validEvent(field.type) as unknown as Record<string, unknown>;
    field.set(event, value);
    expectedRejected.push({ index: events.length, field: field.name });
    events.push(event);
  });
  const res = await track({ events });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals(res.body.accepted, valid.length);
  assertEquals(res.body.rejected.map((x) => x.index), expectedRejected.map((x) => x.index));
  res.body.rejected.forEach((x, i) => {
    const prefix = `events[${x.index}].${expectedRejected[i].field}: must not contain NUL`;
    assert(x.error.startsWith(prefix), `${JSON.stringify(x.error)} should start with ${prefix}`);
  });
  const allIds = events.map((e) => e.id as string);
  assertEquals(await storedAnywhere(allIds), [...valid].sort(), "exactly the valid events are stored");
});

Deno.test("native: storable oddities are accepted and stored exactly as sent", async () => {
  const events = STORABLE_ODDITIES.map((s) => validEvent("mashup_shared", { anonymous_id: `a ${s}` }));
  events.forEach((e, i) => ((e.properties as Record<string, unknown>).platform = STORABLE_ODDITIES[i]));
  const res = await track({ events });
  assertEquals([res.status, res.body.accepted, res.body.rejected], [200, events.length, []]);
  const rows = await storedEvents(events.map((e) => e.id));
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const e of events) {
    const row = byId.get(e.id)!;
    assertEquals([row.anonymous_id, row.properties.platform], [e.anonymous_id, (e.properties as { platform: string }).platform]);
  }
});

Deno.test("PostHog: distinct_id, $session_id, property values and $raw_user_agent with unstorable strings are refused by name", async () => {
  const r = rng(SEED + 1);
  const bad = unstorableStrings(r, 40);
  const ph = (type: EventType, props: Record<string, unknown>, distinctId = "ph-user") => ({
    event: type,
    uuid: uuid(),
    distinct_id: distinctId,
    properties: { ...validProperties(type), $session_id: "ph-session", ...props },
  });
  const fields: [string, (v: string) => ReturnType<typeof ph>][] = [
    ["distinct_id", (v) => ph("mashup_liked", {}, v)],
    ["properties.$session_id", (v) => ph("mashup_liked", { $session_id: v })],
    ["properties.platform", (v) => ph("mashup_shared", { platform: v })],
    ["properties.format", (v) => ph("mashup_exported", { format: v })],
    ["properties.reaction", (v) => ph("ai_reaction", { reaction: v })],
    ["properties.from", (v) => ph("subscription_upgraded", { from: v })],
    ["properties.source", (v) => ph("mashup_played", { source: v })],
    ["properties.$raw_user_agent", (v) => ph("mashup_liked", { $raw_user_agent: v })],
  ];
  const batch: ReturnType<typeof ph>[] = [];
  const expected: { index: number; field: string }[] = [];
  const valid: string[] = [];
  bad.forEach((value, i) => {
    const sibling = ph("mashup_liked", {});
    batch.push(sibling);
    valid.push(sibling.uuid);
    const [field, make] = fields[i % fields.length];
    expected.push({ index: batch.length, field });
    batch.push(make(value));
  });
  const res = await track({ batch }, { path: "/batch" });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals(res.body.accepted, valid.length);
  assertEquals(res.body.rejected.map((x) => x.index), expected.map((x) => x.index));
  res.body.rejected.forEach((x, i) => {
    const prefix = `events[${x.index}].${expected[i].field}: must not contain NUL`;
    assert(x.error.startsWith(prefix), `${JSON.stringify(x.error)} should start with ${prefix}`);
  });
  assertEquals(await storedAnywhere(batch.map((e) => e.uuid)), [...valid].sort());
});

Deno.test("a request of only unstorable events is a 400 naming each field; retrying it is answered the same", async () => {
  const events = unstorableStrings(rng(SEED + 2), 6).map((v) => validEvent("mashup_liked", { anonymous_id: v }));
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await track({ events });
    assertEquals(res.status, 400);
    assertEquals(res.body.rejected.map((x) => x.error.split(":")[0]), events.map((_, i) => `events[${i}].anonymous_id`));
  }
  assertEquals(await storedAnywhere(events.map((e) => e.id)), []);
});

Deno.test("the typed client reports and drops events it or the backend refuses, and keeps sending the rest", async () => {
  const refused: RefusedEventsError[] = [];
  const session = `sess-${uuid()}`;
  const client = createTrackClient({
    url: API_URL,
    anonymousId: "anon-client-refusals",
    sessionId: session,
    batchSize: 500,
    onError: (e) => {
      assert(e instanceof RefusedEventsError, `only refusals are reported: ${e.message}`);
      refused.push(e);
    },
  });
  const mashup = uuid();
  const before = client.trackLike(mashup);
  client.trackShare(mashup, "whats\u0000app");
  client.trackAILike(mashup, "fire\ud800");
  client.trackUpgrade("\udfff", "pro");
  const after = client.trackLike(mashup);
  assertEquals(client.pending, 2, "refused events are never queued");
  assertEquals(await client.flush(), [{ accepted: 2, duplicates: 0, rejected: [], ignored: 0 }]);
  assertEquals(client.pending, 0);
  assertEquals(refused.flatMap((e) => e.refused.map((x) => x.error.split(":")[0])), [
    "properties.platform",
    "properties.reaction",
    "properties.from",
  ]);
  assertEquals((await storedEvents([before, after])).length, 2);

  // Refused by the backend (nobody signed in and no anonymous or session id): dropped, reported.
  refused.length = 0;
  const nobody = createTrackClient({ url: API_URL, onError: (e) => refused.push(e as RefusedEventsError) });
  nobody.trackLike(mashup);
  nobody.trackLike(mashup);
  const [answer] = await nobody.flush();
  assertEquals([answer.accepted, answer.rejected.length, nobody.pending], [0, 2, 0]);
  assertEquals(refused[0].refused.length, 2);
  // And the next event is sent: the queue is not blocked.
  const later = createTrackClient({ url: API_URL, anonymousId: "a-later" });
  const id = later.trackLike(mashup);
  assertEquals((await later.flush())[0].accepted, 1);
  assertEquals((await storedEvents([id])).length, 1);
});

Deno.test("the typed client splits a batch the backend finds too large (413) instead of retrying it forever", async () => {
  const session = `sess-${uuid()}`;
  // Signed in, as an app's own listener would be: this is about the body size, and anonymous traffic
  // is rate limited per anonymous id (120 events, then 2/s), which would make 500 plays wait minutes.
  const listener = await createUser("big-batch");
  const client = createTrackClient({
    url: API_URL,
    accessToken: () => listener.token,
    sessionId: session,
    batchSize: 500,
  });
  // 500 plays with 2 KiB referrers: a body over the function's 1 MiB limit.
  const source = `https://example.com/${"p".repeat(2000)}`;
  // The 500th event starts the flush; flush() waits for it.
  for (let i = 0; i < 500; i++) client.trackMashupPlay(uuid(), { source, autoPlay: false });
  await client.flush();
  assertEquals(client.pending, 0);
  const [{ count }] = await sql<{ count: number }[]>`
    select count(*)::int from public.analytics_events where session_id = ${session}`;
  assertEquals(count, 500);
});

Deno.test("unstorable strings in keys the catalog does not name are dropped with those keys; the event is stored", async () => {
  const bad = unstorableStrings(rng(SEED + 3), 10);
  const native = bad.map((v) => {
    const e = validEvent("mashup_liked") as unknown as Record<string, unknown>;
    (e.properties as Record<string, unknown>)[`extra${v}`] = { nested: [v, { deeper: v }] };
    e.context = { note: v };
    return e;
  });
  const res = await track({ events: native });
  assertEquals([res.status, res.body.accepted, res.body.rejected], [200, native.length, []]);
  const rows = await storedEvents(native.map((e) => e.id as string));
  assertEquals(rows.map((row) => Object.keys(row.properties)), native.map(() => ["mashup_id"]));

  const posthog = bad.map((v) => ({
    event: "mashup_liked",
    uuid: uuid(),
    distinct_id: "ph-extra",
    properties: { mashup_id: uuid(), $set: { name: v }, $current_url: `https://x/${v}`, note: v },
  }));
  const ph = await track({ batch: posthog }, { path: "/batch" });
  assertEquals([ph.status, ph.body.accepted, ph.body.rejected], [200, posthog.length, []]);
  const phRows = await storedEvents(posthog.map((e) => e.uuid));
  assertEquals(phRows.map((row) => Object.keys(row.properties)), posthog.map(() => ["mashup_id"]));
});
