// PostHog compatibility: the real posthog-node client pointed at the track function, and the
// other wire forms PostHog's clients use (JSON on /capture, `data=` base64 forms on /e, gzip-js on
// /i/v0/e, base64 and array bodies on /batch). What lands is read back as the service role.
import { PostHog } from "posthog-node";
import { assert, assertEquals } from "../_support/assert.ts";
import { DEMO_ID } from "../_support/env.ts";
import {
  gzip,
  storedBotEvents,
  storedEvents,
  storedEventsWhere,
  track,
  TRACK_URL,
  UA,
  uuid,
} from "../_support/track.ts";

function posthogClient(options: { disableCompression?: boolean } = {}) {
  return new PostHog("phc_local_project_token", {
    host: TRACK_URL,
    flushAt: 100,
    flushInterval: 0,
    disableGeoip: true,
    ...options,
  });
}

Deno.test("posthog-node (gzip, /batch/) events land with the catalog's type and properties", async () => {
  const distinctId = `ph-${uuid()}`;
  const [mashup, play, creator] = [uuid(), uuid(), uuid()];
  const likeId = uuid();
  const posthog = posthogClient();
  const errors: unknown[] = [];
  posthog.on("error", (e) => errors.push(e));

  // The plan's calls, verbatim in shape: camelCase properties as its client sends them.
  posthog.capture({
    distinctId,
    event: "mashup_played",
    properties: {
      mashup_id: mashup,
      source: "https://l.instagram.com/?u=x",
      autoPlay: true,
      playId: play,
      $session_id: "ph-session",
    },
  });
  posthog.capture({ distinctId, event: "ai_reaction", properties: { mashup_id: mashup, reaction: "fire" } });
  posthog.capture({ distinctId, event: "user_followed", properties: { creator_id: creator } });
  posthog.capture({ distinctId, event: "subscription_upgraded", properties: { from: "free", to: "studio" } });
  posthog.capture({ distinctId, event: "mashup_liked", properties: { mashup_id: mashup }, uuid: likeId });
  posthog.capture({ distinctId, event: "mashup_liked", properties: { mashup_id: mashup }, uuid: likeId }); // a retry
  // PostHog's own events: accepted and ignored.
  posthog.capture({
    distinctId,
    event: "$pageview",
    properties: { $current_url: "https://mashups.example/m/1" },
  });
  posthog.identify({ distinctId, properties: { email: "fan@example.com" } });
  // Outside the catalog: refused (the response says so; posthog-node does not surface it).
  posthog.capture({ distinctId, event: "mashup_paused", properties: { mashup_id: mashup } });
  await posthog.shutdown();
  assertEquals(errors, []);

  // By type: events captured within the same millisecond share a timestamp, so time order is not theirs.
  const rows = (await storedEventsWhere("anonymous_id", distinctId))
    .sort((a, b) => a.event_type.localeCompare(b.event_type));
  assertEquals(rows.map((r) => [r.event_type, r.properties]), [
    ["ai_reaction", { mashup_id: mashup, reaction: "fire" }],
    ["mashup_liked", { mashup_id: mashup }],
    ["mashup_played", { mashup_id: mashup, source: "instagram", auto_play: true, play_id: play }],
    ["subscription_upgraded", { from: "free", to: "studio" }],
    ["user_followed", { creator_id: creator }],
  ]);
  assertEquals(rows[2].session_id, "ph-session");
  assertEquals(rows[1].id, likeId, "PostHog's event uuid is the idempotency key");
  for (const r of rows) {
    assertEquals([r.user_id, r.listener_key, r.device], [null, `a:${distinctId}`, "other"]);
    assert(Date.now() - Date.parse(r.timestamp) < 60_000, "the capture time, corrected by sent_at, is kept");
  }
  assert(!JSON.stringify(rows).includes("fan@example.com"), "$identify's person properties are not stored");
});

Deno.test("posthog-node without compression, and with a real user's id as distinct_id: still anonymous", async () => {
  const mashup = uuid();
  const posthog = posthogClient({ disableCompression: true });
  const id = uuid();
  posthog.capture({
    distinctId: DEMO_ID,
    event: "comment_posted",
    properties: { mashupId: mashup, hasMedia: true },
    uuid: id,
  });
  await posthog.shutdown();
  const [row] = await storedEvents([id]);
  assertEquals([row.event_type, row.properties], ["comment_posted", { mashup_id: mashup, has_media: true }]);
  assertEquals([row.user_id, row.anonymous_id], [null, DEMO_ID], "a distinct_id is never a verified user");
});

function phEvent(event: string, properties: Record<string, unknown>, distinctId = "ph-wire") {
  return {
    event,
    properties: { distinct_id: distinctId, $lib: "web", ...properties },
    uuid: uuid(),
    timestamp: new Date().toISOString(),
  };
}
const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

Deno.test("every PostHog wire form: JSON, data= form, base64, gzip-js, arrays and batches", async () => {
  const mashup = uuid();
  const sent: { path: string; init: RequestInit; ids: string[] }[] = [];
  const add = (
    path: string,
    events: ReturnType<typeof phEvent>[],
    body: BodyInit,
    headers: Record<string, string>,
  ) =>
    sent.push({
      path,
      ids: events.map((e) => e.uuid),
      init: { method: "POST", body, headers: { "User-Agent": UA.iphone, ...headers } },
    });

  const single = phEvent("mashup_liked", { mashup_id: mashup });
  add("/capture/", [single], JSON.stringify({ api_key: "phc", ...single }), {
    "Content-Type": "application/json",
  });

  const legacy = [phEvent("mashup_shared", { mashup_id: mashup, platform: "twitter" })];
  add("/e/", legacy, `data=${encodeURIComponent(b64(JSON.stringify(legacy)))}&ver=1.0`, {
    "Content-Type": "application/x-www-form-urlencoded",
  });

  const unescaped = [phEvent("mashup_exported", { mashup_id: mashup, platform: "youtube", format: "wav?" })];
  const plusy = b64(JSON.stringify(unescaped)); // `+` left unescaped in the form: arrives as a space
  assert(plusy.includes("+") || plusy.includes("/"), "the base64 has characters a form mangles");
  add("/e", unescaped, `data=${plusy}`, { "Content-Type": "application/x-www-form-urlencoded" });

  const jsonForm = [phEvent("ai_reaction", { mashup_id: mashup, reaction: "love" })];
  add("/e/", jsonForm, `data=${encodeURIComponent(JSON.stringify(jsonForm))}`, {
    "Content-Type": "application/x-www-form-urlencoded",
  });

  const gzipped = [
    phEvent("mashup_played", { mashup_id: mashup, $referring_domain: "t.co", auto_play: false }),
  ];
  add("/i/v0/e/?compression=gzip-js&ver=1.200", gzipped, await gzip(JSON.stringify(gzipped)), {
    "Content-Type": "text/plain",
  });

  const base64Batch = [phEvent("mashup_liked", { mashup_id: mashup }), phEvent("$autocapture", {})];
  add("/batch/", base64Batch.slice(0, 1), b64(JSON.stringify({ api_key: "phc", batch: base64Batch })), {
    "Content-Type": "text/plain",
  });

  const beacon = [phEvent("comment_posted", { mashup_id: mashup, has_media: false })];
  add(
    "/e/?compression=gzip-js",
    beacon,
    `data=${encodeURIComponent(btoa(String.fromCharCode(...await gzip(JSON.stringify(beacon)))))}`,
    {
      "Content-Type": "application/x-www-form-urlencoded",
    },
  );

  for (const { path, init } of sent) {
    const res = await fetch(`${TRACK_URL}${path}`, init);
    const body = await res.json();
    assertEquals([res.status, body.accepted, body.rejected], [200, 1, []], path);
  }
  const rows = await storedEvents(sent.flatMap((s) => s.ids));
  assertEquals(rows.map((r) => [r.event_type, r.properties]), [
    ["mashup_liked", { mashup_id: mashup }],
    ["mashup_shared", { mashup_id: mashup, platform: "twitter" }],
    ["mashup_exported", { mashup_id: mashup, platform: "youtube", format: "wav?" }],
    ["ai_reaction", { mashup_id: mashup, reaction: "love" }],
    ["mashup_played", { mashup_id: mashup, source: "twitter", auto_play: false }],
    ["mashup_liked", { mashup_id: mashup }],
    ["comment_posted", { mashup_id: mashup, has_media: false }],
  ]);
  assert(rows.every((r) => r.anonymous_id === "ph-wire" && r.device === "mobile"));
});

Deno.test("PostHog: $ events are ignored, bad events named, a forwarded browser User-Agent judged", async () => {
  const mashup = uuid();
  const good = phEvent("mashup_liked", { mashup_id: mashup });
  const crawler = phEvent("mashup_liked", { mashup_id: mashup, $raw_user_agent: UA.googlebot });
  const res = await track([
    phEvent("$pageview", {}),
    good,
    phEvent("mashup_liked", { mashup_id: "nope" }),
    { event: "mashup_liked", properties: { mashup_id: mashup } },
    crawler,
  ], { path: "/batch", headers: { "User-Agent": "posthog-node/5.70.0" } });
  assertEquals([res.status, res.body], [200, {
    accepted: 1,
    duplicates: 0,
    ignored: 2,
    rejected: [
      { index: 2, error: "events[2].properties.mashup_id: Invalid UUID" },
      {
        index: 3,
        error:
          "events[3].distinct_id: Required: an event without a signed-in user needs distinct_id or properties.$session_id",
      },
    ],
  }]);
  assertEquals((await storedEvents([good.uuid, crawler.uuid])).map((r) => r.id), [good.uuid]);
  assertEquals((await storedBotEvents([crawler.uuid])).length, 1, "the crawler's event is kept apart");

  const dollarOnly = await track({ event: "$identify", distinct_id: "x", properties: {} }, {
    path: "/capture",
  });
  assertEquals([dollarOnly.status, dollarOnly.body], [200, {
    accepted: 0,
    duplicates: 0,
    rejected: [],
    ignored: 1,
  }]);
  const garbage = await fetch(`${TRACK_URL}/e/`, {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: "%%%not base64%%%",
  });
  assertEquals([garbage.status, await garbage.json()], [400, {
    error: "body: not JSON, base64 or gzip",
    field: "body",
  }]);
  const noData = await fetch(`${TRACK_URL}/e/`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "ver=1.0",
  });
  assertEquals([noData.status, await noData.json()], [400, {
    error: "data: missing form field",
    field: "data",
  }]);
});
