// The track function's native format against the running stack: every event type accepted, every
// rule of every schema refused with its field named, exactly-once storage, identity, enrichment
// and whole-request errors. What was stored is read back as the service role.
import { assert, assertEquals } from "../_support/assert.ts";
import { DEMO_ID, DEMO_TOKEN, ENV, SERVICE_KEY } from "../_support/env.ts";
import {
  gzip,
  storedEvents,
  storedEventsWhere,
  tokenFor,
  track,
  TRACK_URL,
  UA,
  uuid,
  validEvent,
  validProperties,
} from "../_support/track.ts";
import { createTrackClient } from "../../types/client.ts";
import { EVENT_TYPES, type EventType } from "../../types/events.ts";
import { API_URL } from "../_support/env.ts";

Deno.test("the typed client's calls store every event type once, as sent", async () => {
  const session = `sess-${uuid()}`;
  const [mashup, creator, created] = [uuid(), uuid(), uuid()];
  const client = createTrackClient({
    url: API_URL,
    anonymousId: "anon-client",
    sessionId: session,
    batchSize: 500,
  });
  const playId = client.trackMashupPlay(mashup, { source: "https://t.co/AbC?amp=1", autoPlay: true });
  client.trackPlayProgress(mashup, playId, 30, 185);
  client.trackPlayEnd(mashup, playId, 92.5, 185);
  client.trackLike(mashup);
  client.trackShare(mashup, "whatsapp");
  client.trackExport(mashup, "tiktok", "mp4");
  client.trackMashupCreate(created, { trackCount: 4, duration: 185, usedAI: true });
  client.trackAILike(mashup, "fire");
  client.trackComment(mashup, true);
  client.trackFollow(creator);
  client.trackUpgrade("free", "pro");
  assertEquals(client.pending, 11);
  assertEquals(await client.close(), [{ accepted: 11, duplicates: 0, rejected: [], ignored: 0 }]);
  assertEquals(client.pending, 0);

  const rows = await storedEventsWhere("session_id", session);
  const byType = Object.fromEntries(rows.map((r) => [r.event_type, r.properties]));
  assertEquals(rows.length, 11);
  assertEquals(Object.keys(byType).sort(), [...EVENT_TYPES].sort(), "every catalog type arrived");
  assertEquals(byType, {
    mashup_played: { mashup_id: mashup, source: "twitter", auto_play: true, play_id: playId },
    mashup_play_progress: { mashup_id: mashup, play_id: playId, position_seconds: 30, duration_seconds: 185 },
    mashup_play_ended: { mashup_id: mashup, play_id: playId, position_seconds: 92.5, duration_seconds: 185 },
    mashup_liked: { mashup_id: mashup },
    mashup_shared: { mashup_id: mashup, platform: "whatsapp" },
    mashup_exported: { mashup_id: mashup, platform: "tiktok", format: "mp4" },
    mashup_created: { mashup_id: created, track_count: 4, duration: 185, used_ai: true },
    ai_reaction: { mashup_id: mashup, reaction: "fire" },
    comment_posted: { mashup_id: mashup, has_media: true },
    user_followed: { creator_id: creator },
    subscription_upgraded: { from: "free", to: "pro" },
  });
  for (const r of rows) {
    assertEquals([r.user_id, r.anonymous_id, r.listener_key, r.device], [
      null,
      "anon-client",
      "a:anon-client",
      "other",
    ]);
  }
});

Deno.test("one event (not a batch) of each type is accepted on its own", async () => {
  for (const type of EVENT_TYPES) {
    const event = validEvent(type);
    const res = await track(event);
    assertEquals(
      [res.status, res.body],
      [200, { accepted: 1, duplicates: 0, rejected: [], ignored: 0 }],
      type,
    );
    const [row] = await storedEvents([event.id]);
    assertEquals([row.event_type, row.properties], [type, event.properties]);
  }
});

// --- every rule of every schema ------------------------------------------------------------------

const MISSING = Symbol("missing");
type Rule = [value: unknown, message: string];
const expected = {
  string: "Invalid input: expected string, received undefined",
  number: "Invalid input: expected number, received undefined",
  boolean: "Invalid input: expected boolean, received undefined",
};
const RULES = {
  uuid: [[MISSING, expected.string], ["not-a-uuid", "Invalid UUID"], [
    5,
    "Invalid input: expected string, received number",
  ]],
  optionalUuid: [["not-a-uuid", "Invalid UUID"], [true, "Invalid input: expected string, received boolean"]],
  label: [
    [MISSING, expected.string],
    ["", "Too small: expected string to have >=1 characters"],
    ["   ", "Too small: expected string to have >=1 characters"],
    ["x".repeat(65), "Too big: expected string to have <=64 characters"],
    [7, "Invalid input: expected string, received number"],
  ],
  boolean: [[MISSING, expected.boolean], ["yes", "Invalid input: expected boolean, received string"]],
  source: [[12, "Invalid input: expected string, received number"], [
    "s".repeat(2049),
    "Too big: expected string to have <=2048 characters",
  ]],
  position: [
    [MISSING, expected.number],
    ["30", "Invalid input: expected number, received string"],
    [-1, "Too small: expected number to be >=0"],
    [186, "Too big: expected position_seconds to be <= duration_seconds"],
  ],
  playDuration: [
    [MISSING, expected.number],
    // Both are true of position 30 in a play of length 0, and both are named (# is the index).
    [
      0,
      "Too small: expected number to be >0; " +
      "events[#].properties.position_seconds: Too big: expected position_seconds to be <= duration_seconds",
    ],
    [86_401, "Too big: expected number to be <=86400"],
  ],
  trackCount: [
    [MISSING, expected.number],
    [1.5, "Invalid input: expected int, received number"],
    [0, "Too small: expected number to be >=1"],
    [1001, "Too big: expected number to be <=1000"],
  ],
  duration: [[MISSING, expected.number], [0, "Too small: expected number to be >0"], [
    86_401,
    "Too big: expected number to be <=86400",
  ]],
} satisfies Record<string, Rule[]>;

/** Which rule set checks each property of each type (the valid examples: validProperties). */
const PROPERTY_RULES: Record<EventType, Record<string, keyof typeof RULES>> = {
  mashup_played: { mashup_id: "uuid", source: "source", auto_play: "boolean", play_id: "optionalUuid" },
  mashup_play_progress: {
    mashup_id: "uuid",
    play_id: "uuid",
    position_seconds: "position",
    duration_seconds: "playDuration",
  },
  mashup_play_ended: {
    mashup_id: "uuid",
    play_id: "uuid",
    position_seconds: "position",
    duration_seconds: "playDuration",
  },
  mashup_liked: { mashup_id: "uuid" },
  mashup_shared: { mashup_id: "uuid", platform: "label" },
  mashup_exported: { mashup_id: "uuid", platform: "label", format: "label" },
  mashup_created: { mashup_id: "uuid", track_count: "trackCount", duration: "duration", used_ai: "boolean" },
  ai_reaction: { mashup_id: "uuid", reaction: "label" },
  comment_posted: { mashup_id: "uuid", has_media: "boolean" },
  user_followed: { creator_id: "uuid" },
  subscription_upgraded: { from: "label", to: "label" },
};

/** Rules of the fields every event carries, field -> [value, message]. */
const ENVELOPE_RULES: [field: string, value: unknown, message: string][] = [
  ["id", "not-a-uuid", "Invalid UUID"],
  ["id", 42, "Invalid input: expected string, received number"],
  ["timestamp", "yesterday", "Invalid ISO datetime"],
  ["timestamp", "2026-01-01T10:00:00", "Invalid ISO datetime"],
  ["session_id", "", "Too small: expected string to have >=1 characters"],
  ["session_id", "s".repeat(201), "Too big: expected string to have <=200 characters"],
  ["anonymous_id", 7, "Invalid input: expected string, received number"],
  ["anonymous_id", "a".repeat(201), "Too big: expected string to have <=200 characters"],
  ["properties", MISSING, "Invalid input: expected object, received undefined"],
  ["properties", [], "Invalid input: expected object, received array"],
];

const TYPE_LIST = EVENT_TYPES.map((t) => `"${t}"`).join("|");

Deno.test("every rule of every schema is refused with its field named; good events in the batch are stored", async () => {
  const events: unknown[] = [];
  const rejected: { index: number; error: string }[] = [];
  const good: string[] = [];
  const refuse = (event: unknown, error: string) => {
    rejected.push({ index: events.length, error: error.replaceAll("#", String(events.length)) });
    events.push(event);
  };
  const accept = (type: EventType) => {
    const e = validEvent(type);
    good.push(e.id);
    events.push(e);
  };

  refuse(
    { ...validEvent("mashup_liked"), type: undefined },
    `events[#].type: Invalid option: expected one of ${TYPE_LIST}`,
  );
  refuse(
    { ...validEvent("mashup_liked"), type: "mashup_paused" },
    `events[#].type: Invalid option: expected one of ${TYPE_LIST}`,
  );
  refuse("mashup_liked", "events[#]: Invalid input: expected object");
  refuse(null, "events[#]: Invalid input: expected object");
  for (const type of EVENT_TYPES) {
    // The catalog's properties are exactly the ones checked here.
    assertEquals(Object.keys(PROPERTY_RULES[type]).sort(), Object.keys(validProperties(type)).sort(), type);
    accept(type);
    for (const [field, value, message] of ENVELOPE_RULES) {
      const event: Record<string, unknown> = validEvent(type);
      if (value === MISSING) delete event[field];
      else event[field] = value;
      refuse(event, `events[#].${field}: ${message}`);
    }
    const { anonymous_id: _a, session_id: _s, ...nobody } = validEvent(type);
    refuse(
      nobody,
      "events[#].anonymous_id: Required: an event without a signed-in user needs anonymous_id or session_id",
    );
    for (const [property, rules] of Object.entries(PROPERTY_RULES[type])) {
      for (const [value, message] of RULES[rules] as Rule[]) {
        const event = validEvent(type);
        const properties = { ...event.properties } as Record<string, unknown>;
        if (value === MISSING) delete properties[property];
        else properties[property] = value;
        refuse({ ...event, properties }, `events[#].properties.${property}: ${message}`);
      }
    }
  }
  assert(
    events.length <= 500 && rejected.length > 200,
    `${events.length} events, ${rejected.length} refused`,
  );

  const res = await track({ events });
  assertEquals(res.status, 200);
  assertEquals(res.body.rejected, rejected);
  assertEquals([res.body.accepted, res.body.duplicates, res.body.ignored], [good.length, 0, 0]);
  assertEquals((await storedEvents(good)).map((r) => r.id), good, "the valid events of the batch are stored");
  const refusedIds = rejected.map((r) => (events[r.index] as { id?: unknown })?.id).filter((id) =>
    typeof id === "string" && /^[0-9a-f-]{36}$/.test(id)
  ) as string[];
  assertEquals(await storedEvents(refusedIds), [], "nothing invalid is stored");
});

Deno.test("several broken rules of one event are all named; a request with no valid event is a 400", async () => {
  const event = { type: "mashup_shared", session_id: "s", properties: { mashup_id: "x", platform: "" } };
  const res = await track({ events: [event, { type: "mashup_liked", session_id: "s", properties: {} }] });
  assertEquals(res.status, 400);
  assertEquals(res.body, {
    error: "no valid event in the request",
    field: "events",
    accepted: 0,
    duplicates: 0,
    ignored: 0,
    rejected: [
      {
        index: 0,
        error: "events[0].properties.mashup_id: Invalid UUID; " +
          "events[0].properties.platform: Too small: expected string to have >=1 characters",
      },
      { index: 1, error: `events[1].properties.mashup_id: ${expected.string}` },
    ],
  });
});

Deno.test("keys outside the catalog are dropped, never stored", async () => {
  const event = validEvent("mashup_liked", { email: "fan@example.com" });
  (event.properties as Record<string, unknown>).email = "fan@example.com";
  const res = await track(event);
  assertEquals(res.body.accepted, 1);
  const [row] = await storedEvents([event.id]);
  assertEquals(row.properties, { mashup_id: (event.properties as { mashup_id: string }).mashup_id });
  assert(!JSON.stringify(row).includes("fan@example.com"));
});

// --- exactly once --------------------------------------------------------------------------------

Deno.test("the same event id within a batch and across batches is stored once and reported as a duplicate", async () => {
  const a = validEvent("mashup_played");
  const b = validEvent("mashup_liked");
  const first = await track({
    events: [a, b, a, { ...a, properties: { ...a.properties, auto_play: true } }],
  });
  assertEquals(first.body, { accepted: 2, duplicates: 2, rejected: [], ignored: 0 });

  const retry = await track({ events: [b, a, validEvent("mashup_liked", { id: b.id })] });
  assertEquals(retry.body, { accepted: 0, duplicates: 3, rejected: [], ignored: 0 });

  const rows = await storedEvents([a.id, b.id]);
  assertEquals(rows.map((r) => r.id), [a.id, b.id]);
  assertEquals(rows[0].properties.auto_play, false, "the first occurrence is the one kept");
});

Deno.test("events without a client id get one each and are all stored", async () => {
  const session = `sess-${uuid()}`;
  const { id: _1, ...one } = validEvent("mashup_liked", { session_id: session });
  const res = await track({ events: [one, one] });
  assertEquals(res.body, { accepted: 2, duplicates: 0, rejected: [], ignored: 0 });
  assertEquals((await storedEventsWhere("session_id", session)).length, 2);
});

// --- identity ------------------------------------------------------------------------------------

Deno.test("signed in: the user comes from the verified token, and needs no anonymous or session id", async () => {
  const { anonymous_id: _a, session_id: _s, ...event } = validEvent("mashup_liked");
  const res = await track(event, { token: DEMO_TOKEN });
  assertEquals(res.body, { accepted: 1, duplicates: 0, rejected: [], ignored: 0 });
  const [row] = await storedEvents([event.id]);
  assertEquals([row.user_id, row.anonymous_id, row.session_id, row.listener_key], [
    DEMO_ID,
    null,
    null,
    `u:${DEMO_ID}`,
  ]);
});

Deno.test("anonymous: the listener is the anonymous id, else the session id", async () => {
  const withAnon = validEvent("mashup_liked", { anonymous_id: "anon-77", session_id: "sess-77" });
  const { anonymous_id: _a, ...withSession } = validEvent("mashup_liked", { session_id: "sess-78" });
  assertEquals((await track({ events: [withAnon, withSession] })).body.accepted, 2);
  const rows = await storedEvents([withAnon.id, withSession.id]);
  assertEquals(rows.map((r) => [r.user_id, r.listener_key]), [[null, "a:anon-77"], [null, "s:sess-78"]]);
});

Deno.test("a user id in the body never becomes the event's user", async () => {
  const asAnon = validEvent("mashup_liked", { user_id: DEMO_ID });
  (asAnon.properties as Record<string, unknown>).user_id = DEMO_ID;
  const asOther = validEvent("mashup_liked", { user_id: "22222222-2222-4222-8222-222222222222" });
  assertEquals((await track(asAnon)).body.accepted, 1);
  assertEquals((await track(asOther, { token: DEMO_TOKEN })).body.accepted, 1);
  const rows = await storedEvents([asAnon.id, asOther.id]);
  assertEquals(rows.map((r) => [r.user_id, r.listener_key]), [[null, `a:${asAnon.anonymous_id}`], [
    DEMO_ID,
    `u:${DEMO_ID}`,
  ]]);
  assertEquals(rows[0].properties.user_id, undefined);
});

Deno.test("an invalid token is a 401; the anon and service keys send anonymous events", async () => {
  const forged = await track(validEvent("mashup_liked"), { token: `${DEMO_TOKEN.slice(0, -4)}AAAA` });
  assertEquals([forged.status, forged.body], [401, {
    error: "authorization: invalid or expired JWT",
    field: "authorization",
  }]);
  const garbage = await track(validEvent("mashup_liked"), { token: "not-a-jwt" });
  assertEquals(garbage.status, 401);

  const viaAnonKey = validEvent("mashup_liked");
  assertEquals((await track(viaAnonKey, { token: ENV.SUPABASE_ANON_KEY })).body.accepted, 1);
  const viaService = validEvent("mashup_liked");
  assertEquals((await track(viaService, { token: SERVICE_KEY })).body.accepted, 1);
  const { anonymous_id: _a, session_id: _s, ...nobody } = validEvent("mashup_liked");
  const refused = await track(nobody, { token: SERVICE_KEY });
  assertEquals(
    refused.status,
    400,
    "the service role is not a user: it needs an anonymous or session id too",
  );
  assertEquals((await storedEvents([viaAnonKey.id, viaService.id])).map((r) => r.user_id), [null, null]);
});

Deno.test("a valid token for a user deleted since keeps the event, without the user", async () => {
  const event = validEvent("mashup_liked");
  const res = await track(event, { token: await tokenFor(uuid()) });
  assertEquals(res.body, { accepted: 1, duplicates: 0, rejected: [], ignored: 0 });
  const [row] = await storedEvents([event.id]);
  assertEquals([row.user_id, row.listener_key], [null, `a:${event.anonymous_id}`]);
});

// --- enrichment ----------------------------------------------------------------------------------

Deno.test("country from the edge header, device class from the User-Agent, no IP anywhere", async () => {
  const cases: [headers: Record<string, string>, country: string | null, device: string | null][] = [
    [{ "cf-ipcountry": "de", "User-Agent": UA.iphone }, "DE", "mobile"],
    [{ "cf-ipcountry": "XX", "User-Agent": UA.ipad }, null, "tablet"],
    [{ "cf-ipcountry": "T1", "User-Agent": UA.windowsChrome }, null, "desktop"],
    [{ "cf-ipcountry": "United States", "User-Agent": UA.smartTv }, null, "tv"],
    [{ "User-Agent": UA.playstation }, null, "console"],
    [{ "User-Agent": "MashupsApp/2.3 CFNetwork/1474 Darwin/23.0.0" }, null, "other"],
    [{ "User-Agent": "" }, null, null],
  ];
  const ids: string[] = [];
  for (const [headers, _country, _device] of cases) {
    const event = validEvent("mashup_liked");
    ids.push(event.id);
    // As hosted Supabase's edge forwards it, with the country it set (the local gateway would drop it).
    const res = await track(event, {
      headers: { "X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7", ...headers },
      behindEdge: true,
    });
    assertEquals(res.body.accepted, 1, JSON.stringify(headers));
  }
  const rows = await storedEvents(ids);
  assertEquals(rows.map((r) => [r.country, r.device]), cases.map(([, c, d]) => [c, d]));
  assert(!JSON.stringify(rows).includes("203.0.113.7"), "the IP address is stored nowhere");
});

Deno.test("the play source is normalised to one name per place", async () => {
  const cases: [unknown, string][] = [
    ["https://t.co/AbC123", "twitter"],
    ["https://x.com/someone/status/1", "twitter"],
    ["twitter.com", "twitter"],
    ["X", "twitter"],
    ["https://l.instagram.com/?u=https%3A%2F%2Fmashups.example", "instagram"],
    ["instagram", "instagram"],
    ["https://www.youtube.com/watch?v=abc", "youtube"],
    ["https://www.google.de/", "google"],
    ["https://blog.example.com/post?utm=1", "blog.example.com"],
    ["Newsletter May", "newsletter_may"],
    // Another scheme's "host" is no hostname: the whole value is cleaned as a label.
    ["javascript://alert(1)", "javascript_alert_1"],
    ["data://<img src=x onerror=alert(1)>", "data_img_src_x_onerror_alert_1"],
    ["https://bücher.example/", "xn--bcher-kva.example"],
    ["", "direct"],
    ["   ", "direct"],
    [null, "direct"],
    [undefined, "direct"],
  ];
  const events = cases.map(([source]) => {
    const e = validEvent("mashup_played");
    const properties = { ...e.properties } as Record<string, unknown>;
    if (source === undefined) delete properties.source;
    else properties.source = source;
    return { ...e, properties };
  });
  assertEquals((await track({ events })).body.accepted, cases.length);
  const rows = await storedEvents(events.map((e) => e.id));
  assertEquals(rows.map((r) => r.properties.source), cases.map(([, name]) => name));
});

Deno.test("client timestamps inside the window are kept; outside it the receive time is used", async () => {
  const now = Date.now();
  const iso = (offsetMs: number) => new Date(now + offsetMs).toISOString();
  const inPast = validEvent("mashup_liked", { timestamp: iso(-2 * 86_400_000) });
  // An hour ago, written in UTC+2.
  const withZone = validEvent("mashup_liked", {
    timestamp: iso(-3_600_000 + 2 * 3_600_000).replace("Z", "+02:00"),
  });
  const slightlyAhead = validEvent("mashup_liked", { timestamp: iso(60_000) });
  const tooOld = validEvent("mashup_liked", { timestamp: iso(-8 * 86_400_000) });
  const tooNew = validEvent("mashup_liked", { timestamp: iso(3_600_000) });
  const none = validEvent("mashup_liked");
  const events = [inPast, slightlyAhead, tooOld, tooNew, none, withZone];
  assertEquals((await track({ events })).body.accepted, events.length);

  const rows = await storedEvents(events.map((e) => e.id));
  const at = (i: number) => Date.parse(rows[i].timestamp);
  assertEquals(at(0), Date.parse(inPast.timestamp as string), "two days late: kept");
  assertEquals(
    at(1),
    Date.parse(slightlyAhead.timestamp as string),
    "a minute ahead: within the skew allowed",
  );
  for (const i of [2, 3, 4]) {
    assertEquals(rows[i].timestamp, rows[i].received_at, `event ${i} gets the receive time`);
  }
  assertEquals(
    rows[2].properties.client_timestamp,
    tooOld.timestamp,
    "the refused client time is kept for audit",
  );
  assertEquals(rows[3].properties.client_timestamp, tooNew.timestamp);
  assertEquals(rows[4].properties.client_timestamp, undefined);
  assertEquals(Date.parse(rows[5].timestamp), now - 3_600_000, "an offset other than Z is read as such");
});

Deno.test("a batch's sent_at corrects a device clock that is hours off", async () => {
  const deviceNow = Date.now() + 3 * 3_600_000; // the phone's clock is 3 hours fast
  const event = validEvent("mashup_liked", { timestamp: new Date(deviceNow - 10_000).toISOString() });
  const res = await track({ events: [event], sent_at: new Date(deviceNow).toISOString() });
  assertEquals(res.body.accepted, 1);
  const [row] = await storedEvents([event.id]);
  const lag = Date.parse(row.received_at) - Date.parse(row.timestamp);
  assert(lag > 9_000 && lag < 11_000, `stored 10 s before receipt, got ${lag} ms`);
  assertEquals(row.properties.client_timestamp, undefined);
});

// --- whole-request problems ----------------------------------------------------------------------

async function raw(init: RequestInit & { path?: string }) {
  const res = await fetch(`${TRACK_URL}${init.path ?? ""}`, init);
  return { status: res.status, body: await res.json(), headers: res.headers };
}
const jsonHeaders = { "Content-Type": "application/json" };

Deno.test("bad JSON, a bad shape, and empty batches are 400s naming the problem", async () => {
  assertEquals(
    await raw({ method: "POST", headers: jsonHeaders, body: "{nope" }).then((r) => [r.status, r.body]),
    [
      400,
      { error: "body: invalid JSON", field: "body" },
    ],
  );
  assertEquals((await raw({ method: "POST", headers: jsonHeaders, body: "[1,2]" })).body, {
    error: "body: expected one event object or { events: [...] }",
    field: "body",
  });
  assertEquals((await raw({ method: "POST", headers: jsonHeaders, body: '{"events":{}}' })).body, {
    error: "events: expected an array",
    field: "events",
  });
  const empty = await raw({ method: "POST", headers: jsonHeaders, body: '{"events":[]}' });
  assertEquals([empty.status, empty.body], [400, {
    error: "events: expected at least 1 event",
    field: "events",
  }]);
  const badSentAt = await raw({
    method: "POST",
    headers: jsonHeaders,
    body: JSON.stringify({ events: [validEvent("mashup_liked")], sent_at: "soon" }),
  });
  assertEquals([badSentAt.status, badSentAt.body], [400, {
    error: "sent_at: Invalid ISO datetime",
    field: "sent_at",
  }]);
  const notUtf8 = await raw({
    method: "POST",
    headers: jsonHeaders,
    body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
  });
  assertEquals(notUtf8.body, { error: "body: not valid UTF-8", field: "body" });
});

Deno.test("more than 500 events or 1 MiB is a 413; a gzip bomb too", async () => {
  const many = Array.from({ length: 501 }, () => validEvent("mashup_liked"));
  const tooMany = await track({ events: many });
  assertEquals([tooMany.status, tooMany.body], [413, {
    error: "events: 501 events, at most 500 per request",
    field: "events",
  }]);
  assertEquals(await storedEvents([many[0].id]), [], "nothing of a refused request is stored");

  const exactly500 = Array.from({ length: 500 }, () => validEvent("mashup_liked"));
  assertEquals((await track({ events: exactly500 })).body.accepted, 500);

  const big = JSON.stringify({ events: [validEvent("mashup_liked")], padding: "x".repeat(1024 * 1024) });
  const tooBig = await raw({ method: "POST", headers: jsonHeaders, body: big });
  assertEquals([tooBig.status, tooBig.body], [413, { error: "body: larger than 1 MiB", field: "body" }]);

  // Chunked, so no Content-Length warns the function: the limit holds while reading.
  const chunked = new Blob([big]).stream();
  const streamed = await raw({ method: "POST", headers: jsonHeaders, body: chunked });
  assertEquals([streamed.status, streamed.body], [413, { error: "body: larger than 1 MiB", field: "body" }]);

  const bomb = await gzip(`{"events":[],"padding":"${"0".repeat(3 * 1024 * 1024)}"}`);
  assert(bomb.length < 1024 * 1024);
  const inflated = await raw({
    method: "POST",
    headers: { ...jsonHeaders, "Content-Encoding": "gzip" },
    body: bomb,
  });
  assertEquals([inflated.status, inflated.body], [413, {
    error: "body: larger than 1 MiB after decompression",
    field: "body",
  }]);
});

Deno.test("a gzip-encoded native body is accepted; corrupt gzip is a 400", async () => {
  const event = validEvent("mashup_liked");
  const ok = await raw({
    method: "POST",
    headers: { ...jsonHeaders, "Content-Encoding": "gzip" },
    body: await gzip(JSON.stringify({ events: [event] })),
  });
  assertEquals([ok.status, ok.body], [200, { accepted: 1, duplicates: 0, rejected: [], ignored: 0 }]);
  const corrupt = await raw({
    method: "POST",
    headers: { ...jsonHeaders, "Content-Encoding": "gzip" },
    body: "not gzip",
  });
  assertEquals([corrupt.status, corrupt.body], [400, { error: "body: not valid gzip", field: "body" }]);
});

Deno.test("a wrong content type or encoding is a 415, a wrong method a 405, an unknown path a 404", async () => {
  const xml = await raw({ method: "POST", headers: { "Content-Type": "application/xml" }, body: "<event/>" });
  assertEquals([xml.status, xml.body], [415, {
    error: "content-type: expected application/json, got application/xml",
    field: "content-type",
  }]);
  const form = await raw({ method: "POST", body: new FormData() });
  assertEquals(form.status, 415);
  const brotli = await raw({
    method: "POST",
    headers: { ...jsonHeaders, "Content-Encoding": "br" },
    body: "{}",
  });
  assertEquals([brotli.status, brotli.body], [415, {
    error: "content-encoding: br is not supported (use gzip)",
    field: "content-encoding",
  }]);

  const get = await raw({ method: "GET" });
  assertEquals([get.status, get.body], [405, {
    error: "method: GET not allowed, use POST",
    field: "method",
  }]);
  assertEquals(get.headers.get("allow"), "POST, OPTIONS");
  const put = await raw({ method: "PUT", path: "/batch", headers: jsonHeaders, body: "{}" });
  assertEquals(put.status, 405);

  const unknown = await raw({ method: "POST", path: "/nowhere", headers: jsonHeaders, body: "{}" });
  assertEquals([unknown.status, unknown.body.field], [404, "path"]);
});

Deno.test("a browser's CORS preflight is answered, and every answer carries CORS headers", async () => {
  const pre = await fetch(TRACK_URL, {
    method: "OPTIONS",
    headers: {
      Origin: "https://mashups.example",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "content-type, authorization",
    },
  });
  await pre.body?.cancel();
  assertEquals(pre.status, 200);
  assertEquals(pre.headers.get("access-control-allow-origin"), "*");
  assert(pre.headers.get("access-control-allow-methods")!.includes("POST"));
  assert(pre.headers.get("access-control-allow-headers")!.includes("content-encoding"));
  const error = await raw({ method: "POST", headers: jsonHeaders, body: "{nope" });
  assertEquals(error.headers.get("access-control-allow-origin"), "*");
});

Deno.test("a time the database cannot read (year 0000, an offset past ±15:59) is refused for its event, never the batch", async () => {
  const good = validEvent("mashup_liked");
  const year0 = validEvent("mashup_liked", { timestamp: "0000-01-01T00:00:00Z" });
  const farOffset = validEvent("mashup_liked", { timestamp: "2027-06-01T00:00:00+20:00" });
  const westOffset = validEvent("mashup_liked", { timestamp: "2020-06-01T00:00:00-18:00" });
  const edge = validEvent("mashup_liked", { timestamp: "2026-06-01T00:00:00+15:59" }); // PostgreSQL reads it
  const res = await track({ events: [good, year0, farOffset, westOffset, edge] });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals([res.body.accepted, res.body.rejected.map((r) => [r.index, r.error.split(":")[0]])], [2, [
    [1, "events[1].timestamp"],
    [2, "events[2].timestamp"],
    [3, "events[3].timestamp"],
  ]]);
  assertEquals((await storedEvents([good.id, year0.id, farOffset.id, westOffset.id, edge.id])).map((r) => r.id).sort(), [
    good.id,
    edge.id,
  ].sort());

  // The batch's sent_at follows the same rule, and is an ISO time with a zone, not whatever Date.parse takes.
  for (const sent_at of ["1", "March 7", "2026-11-27 10:00", "0000-01-01T00:00:00Z", "2026-11-27T10:00:00+16:00"]) {
    const bad = await track({ events: [validEvent("mashup_liked")], sent_at });
    assertEquals([bad.status, bad.body.field], [400, "sent_at"], sent_at);
  }
});

Deno.test("a time whose UTC instant leaves the years 0001-9999 is refused for its event; the answer is never a 500", async () => {
  // 0001-01-01T00:00:00+00:01 is in 1 BC in UTC: the database answered it as a BC time JavaScript
  // cannot read, and the function failed with a 500 after the batch had committed, so every retry
  // stored the valid events again (an outside audit: one play counted three times).
  const good = validEvent("mashup_liked");
  const bc = validEvent("mashup_liked", { timestamp: "0001-01-01T00:00:00+00:01" });
  const bcFar = validEvent("mashup_liked", { timestamp: "0001-01-01T00:00:00+15:59" });
  const past9999 = validEvent("mashup_liked", { timestamp: "9999-12-31T23:59:59-00:01" });
  // Readable, but before the retention horizon: the database refuses it, named as the client sent it.
  const firstInstant = validEvent("mashup_liked", { timestamp: "0001-01-01T00:00:00Z" });
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await track({ events: [good, bc, bcFar, past9999, firstInstant] });
    assertEquals(res.status, 200, JSON.stringify(res.body));
    assertEquals(res.body.rejected.map((r) => [r.index, r.error.split(":")[0]]), [
      [1, "events[1].timestamp"],
      [2, "events[2].timestamp"],
      [3, "events[3].timestamp"],
      [4, "events[4].timestamp"],
    ]);
    assert(res.body.rejected[3].error.startsWith("events[4].timestamp: 0001-01-01T00:00:00Z is outside the months"), res.body.rejected[3].error);
    assertEquals([res.body.accepted, res.body.duplicates], attempt === 0 ? [1, 0] : [0, 1]);
  }
  const stored = await storedEvents([good.id, bc.id, bcFar.id, past9999.id, firstInstant.id]);
  assertEquals(stored.map((r) => r.id), [good.id], "the valid event stored once");

  // The service role keeps an event's own time at any age (history imports): corrected by sent_at,
  // a time may leave the years 0001-9999. Refused on its own, the batch's other events stored
  // (before: the database refused the whole batch, a 500 no retry could pass).
  const now = Date.now();
  for (const [timestamp, sent_at] of [
    ["0001-01-01T00:00:00Z", "9999-01-01T00:00:00Z"],
    ["0001-01-02T00:00:00Z", new Date(now + 2 * 86_400_000).toISOString()],
  ]) {
    const kept = validEvent("mashup_liked");
    const early = validEvent("mashup_liked", { timestamp });
    const res = await track({ events: [kept, early], sent_at }, { token: SERVICE_KEY });
    assertEquals(res.status, 200, JSON.stringify(res.body));
    assertEquals(res.body.accepted, 1, timestamp);
    assertEquals(res.body.rejected.length, 1);
    assert(/^events\[1\]\.timestamp: .*outside the years 0001 to 9999/.test(res.body.rejected[0].error), res.body.rejected[0].error);
    assertEquals((await storedEvents([kept.id, early.id])).map((r) => r.id), [kept.id]);
  }
});

Deno.test("the service role's own HTTP library is not a bot; a browserless anonymous client with it is, and so is an event's own bot agent", async () => {
  // A project's server sending events with its secret key from Python, Java or the JDK's client:
  // isbot calls those User-Agents bots, and their events were dropped as bot traffic.
  for (const userAgent of ["python-requests/2.31.0", "Java/17.0.2", "Apache-HttpClient/4.5.14 (Java/17.0.2)", "python-httpx/0.27.0"]) {
    const fromServer = validEvent("mashup_liked");
    const res = await track({ events: [fromServer] }, { token: SERVICE_KEY, headers: { "User-Agent": userAgent } });
    assertEquals(res.body, { accepted: 1, duplicates: 0, rejected: [], ignored: 0 }, userAgent);
    assertEquals((await storedEvents([fromServer.id])).length, 1, userAgent);
  }
  // The same library without the secret key is still bot traffic, counted nowhere.
  const anonymous = validEvent("mashup_liked");
  const refused = await track({ events: [anonymous] }, { headers: { "User-Agent": "python-requests/2.31.0" } });
  assertEquals(refused.body, { accepted: 0, duplicates: 0, rejected: [], ignored: 1 });
  assertEquals(await storedEvents([anonymous.id]), []);
  // A server forwarding a crawler's event (PostHog's $raw_user_agent): the event's own agent decides.
  const crawled = crypto.randomUUID();
  const forwarded = await track({
    batch: [{
      event: "mashup_liked",
      uuid: crawled,
      distinct_id: "forwarded-crawler",
      properties: { mashup_id: crypto.randomUUID(), $raw_user_agent: UA.googlebot },
    }],
  }, { token: SERVICE_KEY, path: "/batch", headers: { "User-Agent": "python-requests/2.31.0" } });
  assertEquals([forwarded.status, forwarded.body.ignored, forwarded.body.accepted], [200, 1, 0]);
  assertEquals(await storedEvents([crawled]), []);
});

Deno.test("a number JSON reads as Infinity (1e400) is refused as not finite, naming the field", async () => {
  const event = validEvent("mashup_play_progress");
  const body = JSON.stringify({ events: [event] }).replace(/"position_seconds":[0-9.]+/, '"position_seconds":1e400');
  const res = await track(undefined, { raw: body });
  assertEquals([res.status, res.body.rejected], [400, [{
    index: 0,
    error: "events[0].properties.position_seconds: Invalid number: must be finite",
  }]]);
  assertEquals(await storedEvents([event.id]), []);
});
